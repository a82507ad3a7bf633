/*
 * scram-secret: stored credentials. cpm-store never stores passwords, only
 * SCRAM-SHA-256 secrets (RFC 5802, RFC 7677): the salt, the iteration count,
 * StoredKey = H(HMAC(SaltedPassword, "Client Key")) and
 * ServerKey = HMAC(SaltedPassword, "Server Key"), where SaltedPassword =
 * PBKDF2-HMAC-SHA-256(SASLprep(password), salt, iterations). With these the
 * server can run SCRAM-SHA-256 (through GNU SASL) and can check PLAIN/LOGIN
 * passwords, but a stolen database does not reveal the passwords.
 *
 * The textual form, for the user database and config files (RFC 5803):
 *
 *   SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
 *
 * Derivation goes through libgsasl's gsasl_scram_secrets_from_password, which
 * applies SASLprep to the password first (as SCRAM clients do), so a password
 * that SASLprep rejects (e.g. with prohibited control characters) can neither
 * be set nor verified.
 *
 * BLOCKING: scram_secret_from_password, scram_secret_derive and
 * scram_secret_verify_password run `iterations` HMAC-SHA-256 rounds
 * (milliseconds at the default). Callers on an event loop MUST run them in a
 * thread pool (uv_queue_work), never on the loop thread.
 *
 * Conventions: int functions return 0 on success, -1 on any failure (bad
 * argument, malformed input, crypto or memory failure); on failure the output
 * struct is left untouched and nothing is allocated. The struct is plain data
 * (no pointers): copy it freely. Key material held on the stack during
 * derivation is wiped before returning.
 */
#ifndef CPM_SCRAM_SECRET_H
#define CPM_SCRAM_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define SCRAM_DEFAULT_ITERATIONS 4096
#define SCRAM_MIN_ITERATIONS 1
#define SCRAM_MAX_ITERATIONS 1000000
#define SCRAM_SALT_LEN 16	   /* what scram_secret_from_password generates */
#define SCRAM_MAX_SALT_LEN 64	   /* what decode/derive accept */
#define SCRAM_KEY_LEN 32	   /* SHA-256 */
#define SCRAM_MAX_PASSWORD_LEN 1024 /* bytes, before SASLprep */
#define SCRAM_SECRET_MAX_ENCODED 512 /* longest string decode looks at */

struct scram_secret {
	unsigned iterations;
	unsigned char salt[SCRAM_MAX_SALT_LEN];
	size_t salt_len;
	unsigned char stored_key[SCRAM_KEY_LEN];
	unsigned char server_key[SCRAM_KEY_LEN];
};

/* New secret for password (NUL-terminated UTF-8, 1..SCRAM_MAX_PASSWORD_LEN
 * bytes) with a fresh random SCRAM_SALT_LEN-byte salt (RAND_bytes) and
 * iterations in SCRAM_MIN_ITERATIONS..SCRAM_MAX_ITERATIONS. */
int scram_secret_from_password(const char *password, unsigned iterations, struct scram_secret *s_r);

/* The same with a given salt (1..SCRAM_MAX_SALT_LEN bytes): for tests and for
 * re-deriving a secret whose salt is known. */
int scram_secret_derive(const char *password, unsigned iterations, const unsigned char *salt, size_t salt_len,
			struct scram_secret *s_r);

/* PLAIN / LOGIN: derives with s's salt and iterations and compares the
 * StoredKey in constant time. False on mismatch and on any error (invalid
 * secret, empty or over-long password, SASLprep failure). */
bool scram_secret_verify_password(const struct scram_secret *s, const char *password);

/* Appends the RFC 5803 form to out. -1 if s is invalid (iterations or
 * salt_len out of range) or out of memory; out is then unchanged. */
int scram_secret_encode(const struct scram_secret *s, struct buf *out);

/* Parses the RFC 5803 form, strictly: exact "SCRAM-SHA-256$" prefix,
 * decimal iterations without leading zeros in range, canonical padded
 * base64 (no whitespace, zero padding bits), a 1..64-byte salt, 32-byte keys,
 * nothing after; at most SCRAM_SECRET_MAX_ENCODED bytes. */
int scram_secret_decode(const char *s, size_t len, struct scram_secret *s_r);

/* Lower-case hex of in[0 .. len): writes 2 * len characters and a NUL, so
 * out must hold 2 * len + 1 bytes.
 * NOTE: gsasl.h documents GSASL_SCRAM_STOREDKEY / GSASL_SCRAM_SERVERKEY as
 * hex, but libgsasl 2.2.0's SCRAM server base64-decodes them: hex keys make
 * every SCRAM login fail with GSASL_AUTHENTICATION_ERROR (pinned by
 * test_gsasl_exchange). Feed the server callback with scram_secret_base64. */
void scram_secret_hex(const unsigned char *in, size_t len, char *out);

/* Appends the standard padded base64 of in[0 .. len), len <= 64. This is the
 * form libgsasl's SCRAM server wants for GSASL_SCRAM_SALT (s->salt),
 * GSASL_SCRAM_STOREDKEY and GSASL_SCRAM_SERVERKEY (GSASL_SCRAM_ITER is the
 * decimal iteration count). -1 if len > 64 or out of memory (out unchanged). */
int scram_secret_base64(const unsigned char *in, size_t len, struct buf *out);

#endif
