/*
 * scram-secret: SCRAM-SHA-256 stored credentials. See scram-secret.h.
 *
 * Key derivation is delegated to libgsasl, the library that also runs the
 * SCRAM exchange in the front-end: deriving the stored keys with the same code
 * (including its SASLprep) guarantees that a secret made here is accepted by
 * the SASL mechanism. OpenSSL supplies the salt (RAND_bytes), the
 * constant-time compare and the wiping of key material.
 *
 * Base64 decoding is hand-written because the stored form must be canonical:
 * OpenSSL's decoders skip whitespace and accept non-zero padding bits, so the
 * same secret could be spelled several ways.
 */
#include "scram-secret.h"

#include <stdint.h>
#include <string.h>

#include <gsasl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define SCRAM_PREFIX "SCRAM-SHA-256$"

static bool iterations_ok(unsigned iterations)
{
	return iterations >= SCRAM_MIN_ITERATIONS && iterations <= SCRAM_MAX_ITERATIONS;
}

static bool password_ok(const char *password)
{
	if (password == NULL)
		return false;
	size_t len = strnlen(password, SCRAM_MAX_PASSWORD_LEN + 1);
	return len > 0 && len <= SCRAM_MAX_PASSWORD_LEN;
}

int scram_secret_derive(const char *password, unsigned iterations, const unsigned char *salt, size_t salt_len,
			struct scram_secret *s_r)
{
	if (!password_ok(password) || !iterations_ok(iterations) || salt == NULL || salt_len == 0 ||
	    salt_len > SCRAM_MAX_SALT_LEN)
		return -1;
	char salted[GSASL_HASH_MAX_SIZE], client_key[GSASL_HASH_MAX_SIZE];
	char server_key[GSASL_HASH_MAX_SIZE], stored_key[GSASL_HASH_MAX_SIZE];
	int rc = gsasl_scram_secrets_from_password(GSASL_HASH_SHA256, password, iterations, (const char *)salt,
						   salt_len, salted, client_key, server_key, stored_key);
	if (rc == GSASL_OK) {
		struct scram_secret s;
		memset(&s, 0, sizeof(s));
		s.iterations = iterations;
		memcpy(s.salt, salt, salt_len);
		s.salt_len = salt_len;
		memcpy(s.stored_key, stored_key, SCRAM_KEY_LEN);
		memcpy(s.server_key, server_key, SCRAM_KEY_LEN);
		*s_r = s;
		OPENSSL_cleanse(&s, sizeof(s));
	}
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(client_key, sizeof(client_key));
	OPENSSL_cleanse(server_key, sizeof(server_key));
	OPENSSL_cleanse(stored_key, sizeof(stored_key));
	return rc == GSASL_OK ? 0 : -1;
}

int scram_secret_from_password(const char *password, unsigned iterations, struct scram_secret *s_r)
{
	unsigned char salt[SCRAM_SALT_LEN];
	if (RAND_bytes(salt, (int)sizeof(salt)) != 1)
		return -1;
	return scram_secret_derive(password, iterations, salt, sizeof(salt), s_r);
}

bool scram_secret_verify_password(const struct scram_secret *s, const char *password)
{
	if (s == NULL || s->salt_len == 0 || s->salt_len > SCRAM_MAX_SALT_LEN)
		return false;
	struct scram_secret derived;
	if (scram_secret_derive(password, s->iterations, s->salt, s->salt_len, &derived) < 0)
		return false;
	bool ok = CRYPTO_memcmp(derived.stored_key, s->stored_key, SCRAM_KEY_LEN) == 0;
	OPENSSL_cleanse(&derived, sizeof(derived));
	return ok;
}

void scram_secret_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

/* Appends standard padded base64 of in (len <= SCRAM_MAX_SALT_LEN). */
static int b64_append(struct buf *out, const unsigned char *in, size_t len)
{
	unsigned char tmp[4 * ((SCRAM_MAX_SALT_LEN + 2) / 3) + 1];
	if (len > SCRAM_MAX_SALT_LEN)
		return -1;
	int n = EVP_EncodeBlock(tmp, in, (int)len);
	if (n < 0)
		return -1;
	return buf_append(out, tmp, (size_t)n);
}

/* Strict, canonical base64 of s[0 .. len) into out (at most max bytes):
 * OpenSSL decodes, and re-encoding must give back exactly the input, which
 * refuses stray characters, misplaced padding and non-zero spare bits. */
static int b64_decode_strict(const char *s, size_t len, unsigned char *out, size_t max, size_t *out_len_r)
{
	if (len == 0 || len % 4 != 0 || len > 4 * ((SCRAM_MAX_SALT_LEN + 2) / 3) + 4)
		return -1;
	unsigned char tmp[4 * ((SCRAM_MAX_SALT_LEN + 2) / 3) + 8];
	int n = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)len);
	if (n < 0)
		return -1;
	size_t pad = s[len - 1] == '=' ? (s[len - 2] == '=' ? 2 : 1) : 0;
	size_t got = (size_t)n - pad; /* EVP_DecodeBlock counts the padding as zero bytes */
	if (got > max)
		return -1;
	unsigned char check[sizeof(tmp) + 4];
	if (EVP_EncodeBlock(check, tmp, (int)got) != (int)len || memcmp(check, s, len) != 0)
		return -1;
	memcpy(out, tmp, got);
	*out_len_r = got;
	return 0;
}

int scram_secret_base64(const unsigned char *in, size_t len, struct buf *out)
{
	return b64_append(out, in, len);
}

int scram_secret_encode(const struct scram_secret *s, struct buf *out)
{
	if (!iterations_ok(s->iterations) || s->salt_len == 0 || s->salt_len > SCRAM_MAX_SALT_LEN)
		return -1;
	size_t start = out->len;
	if (buf_printf(out, SCRAM_PREFIX "%u:", s->iterations) < 0 || b64_append(out, s->salt, s->salt_len) < 0 ||
	    buf_append_byte(out, '$') < 0 || b64_append(out, s->stored_key, SCRAM_KEY_LEN) < 0 ||
	    buf_append_byte(out, ':') < 0 || b64_append(out, s->server_key, SCRAM_KEY_LEN) < 0) {
		buf_truncate(out, start);
		return -1;
	}
	return 0;
}

/* Returns the index of the first c in s[from .. len), or len. */
static size_t find_char(const char *s, size_t from, size_t len, char c)
{
	while (from < len && s[from] != c)
		from++;
	return from;
}

int scram_secret_decode(const char *s, size_t len, struct scram_secret *s_r)
{
	const size_t plen = sizeof(SCRAM_PREFIX) - 1;
	if (s == NULL || len > SCRAM_SECRET_MAX_ENCODED || len < plen || memcmp(s, SCRAM_PREFIX, plen) != 0)
		return -1;
	struct scram_secret out;
	memset(&out, 0, sizeof(out));

	/* iterations: nz-number, at most 7 digits (1000000) */
	size_t pos = plen, colon = find_char(s, pos, len, ':');
	if (colon == len || colon == pos || colon - pos > 7 || s[pos] == '0')
		return -1;
	unsigned long iter = 0;
	for (size_t i = pos; i < colon; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		iter = iter * 10 + (unsigned long)(s[i] - '0');
	}
	if (iter < SCRAM_MIN_ITERATIONS || iter > SCRAM_MAX_ITERATIONS)
		return -1;
	out.iterations = (unsigned)iter;

	/* salt up to '$' */
	pos = colon + 1;
	size_t dollar = find_char(s, pos, len, '$');
	if (dollar == len || b64_decode_strict(s + pos, dollar - pos, out.salt, SCRAM_MAX_SALT_LEN, &out.salt_len) < 0)
		return -1;

	/* StoredKey up to ':', ServerKey to the end */
	pos = dollar + 1;
	colon = find_char(s, pos, len, ':');
	size_t n = 0;
	if (colon == len || b64_decode_strict(s + pos, colon - pos, out.stored_key, SCRAM_KEY_LEN, &n) < 0 ||
	    n != SCRAM_KEY_LEN)
		return -1;
	pos = colon + 1;
	if (b64_decode_strict(s + pos, len - pos, out.server_key, SCRAM_KEY_LEN, &n) < 0 || n != SCRAM_KEY_LEN)
		return -1;
	*s_r = out;
	return 0;
}
