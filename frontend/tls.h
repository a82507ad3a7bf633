/*
 * tls: a TLS engine over memory BIOs (OpenSSL 3). It never touches a socket.
 *
 * The connection code reads ciphertext from the socket and hands it to
 * tls_conn_feed(), which decrypts what it can and appends the plaintext to a
 * caller buffer. Plaintext to send goes in through tls_conn_write(); the
 * resulting records (and handshake messages, alerts, close_notify) are
 * collected with tls_conn_take_output() and written to the socket by the
 * caller. After every feed/write/shutdown the caller should take the output
 * and send it: the engine never sends anything by itself.
 *
 * Contract:
 *  - Functions returning int return 0 on success and -1 on a fatal error.
 *    After a fatal error on a connection, tls_conn_error() says why, every
 *    later feed/write returns -1, and the caller should take the remaining
 *    output (it may hold an alert for the peer), send it and close.
 *  - Constructors return NULL on failure. tls_ctx_new_* write a reason into
 *    err (always NUL-terminated when errlen > 0); tls_conn_new fails only on
 *    memory exhaustion.
 *  - Ownership: a tls_ctx is shared by many connections and must outlive
 *    them. Destroy functions take a pointer to the pointer, accept NULL and
 *    set it to NULL. Strings returned by getters belong to the connection and
 *    stay valid until tls_conn_free(); peer-supplied strings (SNI, subject,
 *    PSK identity) are hostile: pass them through log_quote() before logging.
 *  - Plaintext written before the handshake completes is queued (at most
 *    TLS_MAX_QUEUED_PLAINTEXT bytes) and encrypted as soon as it completes, so
 *    a server can write its greeting right after accepting.
 *  - tls_conn_feed processes input in bounded chunks: the OpenSSL input BIO
 *    never holds more than about 64 KiB plus one partial record.
 *  - A tls_ctx and its connections belong to one thread (one libuv loop).
 *  - STARTTLS: plaintext the peer pipelined before the TLS handshake must be
 *    discarded by the caller (command injection, CVE-2011-0411).
 *
 * Server policy: TLS 1.2 minimum by default; no renegotiation; no session
 * tickets or session cache (front-ends are stateless and each process would
 * have its own ticket key, so resumption would rarely hit; phones reconnect
 * cheaply with TLS-PSK instead); client certificates are requested, never
 * required, and the verification result is reported, not enforced.
 *
 * PSK file (server): one "identity:hexkey" per line; the identity is split at
 * the LAST ':' (identities such as "tel:+15551234567" contain colons); blank
 * lines and lines starting with '#' are ignored; the identity is 1..128
 * printable ASCII bytes, the key 16..48 bytes (32..96 hex digits; 48 is the
 * largest key OpenSSL accepts for a TLS 1.3 external PSK). The same key serves
 * TLS 1.2 PSK cipher suites and TLS 1.3 external PSK (SHA-256 binder,
 * psk_dhe_ke when the client asks for it).
 */
#ifndef CPM_FRONTEND_TLS_H
#define CPM_FRONTEND_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define TLS_MAX_QUEUED_PLAINTEXT (4u * 1024 * 1024)
#define TLS_PSK_MAX_IDENTITY 128
#define TLS_PSK_MIN_KEY 16
#define TLS_PSK_MAX_KEY 48

struct tls_ctx;
struct tls_conn;

struct tls_server_config {
	const char *cert_file;      /* PEM certificate chain; NULL only for a PSK-only server */
	const char *key_file;       /* PEM private key (required with cert_file) */
	const char *client_ca_file; /* optional: request client certificates, verify against it */
	const char *psk_file;       /* optional: "identity:hexkey" lines, see above */
	const char *min_version;    /* NULL or "TLSv1.2" (default), "TLSv1.3" */
	const char *ciphers;        /* optional OpenSSL cipher list for TLS <= 1.2 */
};

struct tls_client_config {
	const char *ca_file;        /* NULL: the server certificate is not verified */
	const char *cert_file;      /* optional client certificate chain (PEM) */
	const char *key_file;       /* its key (required with cert_file) */
	const char *psk_identity;   /* optional TLS-PSK identity ... */
	const char *psk_key_hex;    /* ... and its key in hex (16..48 bytes) */
	const char *min_version;    /* NULL/"TLSv1.2" or "TLSv1.3" */
	const char *max_version;    /* NULL (highest) or "TLSv1.2"/"TLSv1.3" */
	const char *ciphers;        /* optional cipher list for TLS <= 1.2 (e.g. "PSK" to insist on PSK) */
};

struct tls_ctx *tls_ctx_new_server(const struct tls_server_config *cfg, char *err, size_t errlen);
struct tls_ctx *tls_ctx_new_client(const struct tls_client_config *cfg, char *err, size_t errlen);
void tls_ctx_free(struct tls_ctx **ctx);

/* A connection in the role of its context. On a client context, sni (or
   NULL) is sent as server name and, when the context verifies, is the name
   (or IP literal) the server certificate must match; the ClientHello is
   ready in the output as soon as this returns. On a server context sni is
   ignored. */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx, const char *sni);
void tls_conn_free(struct tls_conn **conn);

/* Network bytes in; decrypted plaintext is appended to plain_out. 0 / -1. */
int tls_conn_feed(struct tls_conn *conn, const void *cipher, size_t len, struct buf *plain_out);
/* Plaintext out: encrypted into the pending output (queued before the
   handshake completes). 0 / -1 (also after tls_conn_shutdown). */
int tls_conn_write(struct tls_conn *conn, const void *plain, size_t len);
/* Moves all pending network bytes into cipher_out (appended). 0 / -1 (out of memory). */
int tls_conn_take_output(struct tls_conn *conn, struct buf *cipher_out);
/* Bytes tls_conn_take_output would move now. */
size_t tls_conn_output_pending(const struct tls_conn *conn);
/* Queues close_notify (after the handshake and any queued plaintext). Idempotent. */
void tls_conn_shutdown(struct tls_conn *conn);

bool tls_conn_handshake_done(const struct tls_conn *conn);
/* The peer sent close_notify: no more plaintext will come. */
bool tls_conn_peer_closed(const struct tls_conn *conn);
/* Reason of the last fatal error, "" if none. */
const char *tls_conn_error(const struct tls_conn *conn);

/* After the handshake (NULL before): */
const char *tls_conn_protocol(const struct tls_conn *conn); /* "TLSv1.3" ... */
const char *tls_conn_cipher(const struct tls_conn *conn);
/* Peer certificate subject as an RFC 2253 string (non-ASCII escaped), or NULL. */
const char *tls_conn_peer_subject(const struct tls_conn *conn);
/* A peer certificate was presented and verified against the configured CA. */
bool tls_conn_peer_verified(const struct tls_conn *conn);
/* The PSK identity when the handshake was authenticated by a PSK, else NULL. */
const char *tls_conn_psk_identity(const struct tls_conn *conn);
/* Server side: the server name the client asked for, or NULL. */
const char *tls_conn_sni(const struct tls_conn *conn);

#endif
