/*
 * tls: OpenSSL 3 driven through two memory BIOs per connection.
 *
 * Design. Each tls_conn owns an SSL object whose read BIO ("rbio") receives
 * the ciphertext the caller feeds us and whose write BIO ("wbio") collects
 * everything OpenSSL wants to send. Because a memory BIO never blocks on
 * write, OpenSSL only ever stops for one reason: it needs more input
 * (SSL_ERROR_WANT_READ). That keeps the state machine simple:
 *
 *   feed:  append ciphertext to rbio (in 64 KiB slices), then "drive":
 *          finish the handshake if it is not done yet, flush plaintext that
 *          was queued before it completed, send a queued close_notify, and
 *          read all the plaintext that is available into the caller's buffer.
 *   write: SSL_write into wbio (or queue until the handshake completes).
 *   take:  drain wbio into the caller's buffer.
 *
 * OpenSSL's error queue is per thread and shared by every connection of the
 * loop, so each call clears it first and a failure empties it into the
 * connection's own message.
 *
 * PSK. A server context loads its PSK table once (sorted, binary-searched).
 * TLS 1.2 uses the classic psk_server_callback; TLS 1.3 uses the
 * find-session callback, which wraps the key in an SSL_SESSION bound to
 * TLS_AES_128_GCM_SHA256 (a SHA-256 binder, what phones use). When PSKs are
 * configured the server lists its SHA-256 TLS 1.3 suites first so that an
 * external PSK is never skipped because a SHA-384 suite was chosen. The
 * identity that matched is remembered on the connection and reported only if
 * the finished handshake really was PSK-authenticated.
 */
#include "tls.h"

#include "hex.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define TLS_FEED_SLICE (64u * 1024)
#define TLS_READ_CHUNK (16u * 1024)
#define PSK_MAX_LINE 512
#define PSK_MAX_ENTRIES 1000000u
#define TLS_VERIFY_DEPTH 10

static const unsigned char tls13_aes128gcm_sha256[2] = {0x13, 0x01};

struct psk_entry {
	char *identity; /* NUL-terminated, length id_len */
	size_t id_len;
	unsigned char key[TLS_PSK_MAX_KEY];
	size_t key_len;
};

struct tls_ctx {
	SSL_CTX *ssl_ctx;
	bool server;
	bool verify_peer; /* client: the server certificate is verified */
	/* server PSK table, sorted by identity */
	struct psk_entry *psks;
	size_t psk_count;
	/* client PSK */
	char *client_psk_identity;
	unsigned char client_psk_key[TLS_PSK_MAX_KEY];
	size_t client_psk_key_len;
};

struct tls_conn {
	struct tls_ctx *ctx;
	SSL *ssl;
	BIO *rbio, *wbio; /* owned by ssl */
	bool handshake_done;
	bool failed;
	bool peer_closed;
	bool shutdown_wanted;
	bool shutdown_sent;
	struct buf queued; /* plaintext written before the handshake completed */
	char *psk_candidate; /* identity the server callback matched */
	/* filled when the handshake completes */
	const char *protocol, *cipher;
	char *peer_subject;
	bool peer_verified;
	char *psk_identity;
	char error[256];
};

/* ---- small helpers ---------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (err == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The most recent OpenSSL error as text (or fallback); empties the queue. */
static void openssl_reason(char *out, size_t outlen, const char *fallback)
{
	unsigned long e, last = 0;
	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last != 0)
		ERR_error_string_n(last, out, outlen);
	else
		snprintf(out, outlen, "%s", fallback);
}

static int parse_version(const char *s, int dflt, int *ver_r)
{
	if (s == NULL || *s == '\0')
		*ver_r = dflt;
	else if (strcmp(s, "TLSv1.2") == 0)
		*ver_r = TLS1_2_VERSION;
	else if (strcmp(s, "TLSv1.3") == 0)
		*ver_r = TLS1_3_VERSION;
	else
		return -1;
	return 0;
}

/* Decodes hex into out (cap bytes). Returns the byte count or -1. */
static long hex_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
	if (n % 2 != 0 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hex_digit((unsigned char)s[i]), lo = hex_digit((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

static bool valid_identity(const char *s, size_t n)
{
	if (n == 0 || n > TLS_PSK_MAX_IDENTITY)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static int psk_cmp(const void *a, const void *b)
{
	const struct psk_entry *x = a, *y = b;
	size_t n = x->id_len < y->id_len ? x->id_len : y->id_len;
	int c = memcmp(x->identity, y->identity, n);
	if (c != 0)
		return c;
	return x->id_len < y->id_len ? -1 : x->id_len > y->id_len;
}

static const struct psk_entry *psk_lookup(const struct tls_ctx *ctx, const void *id, size_t id_len)
{
	if (ctx->psk_count == 0 || id_len == 0 || id_len > TLS_PSK_MAX_IDENTITY)
		return NULL;
	struct psk_entry key = {.identity = (char *)id, .id_len = id_len};
	return bsearch(&key, ctx->psks, ctx->psk_count, sizeof(*ctx->psks), psk_cmp);
}

static void psk_table_free(struct tls_ctx *ctx)
{
	for (size_t i = 0; i < ctx->psk_count; i++) {
		free(ctx->psks[i].identity);
		OPENSSL_cleanse(ctx->psks[i].key, sizeof(ctx->psks[i].key));
	}
	free(ctx->psks);
	ctx->psks = NULL;
	ctx->psk_count = 0;
}

static int psk_table_load(struct tls_ctx *ctx, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		set_err(err, errlen, "psk_file %s: %s", path, strerror(errno));
		return -1;
	}
	char line[PSK_MAX_LINE + 2];
	size_t lineno = 0, cap = 0;
	int rc = -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		size_t n = strlen(line);
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		else if (!feof(f)) {
			set_err(err, errlen, "psk_file %s:%zu: line too long", path, lineno);
			goto out;
		}
		while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		char *colon = strrchr(line, ':');
		if (colon == NULL) {
			set_err(err, errlen, "psk_file %s:%zu: expected identity:hexkey", path, lineno);
			goto out;
		}
		size_t id_len = (size_t)(colon - line);
		if (!valid_identity(line, id_len)) {
			set_err(err, errlen, "psk_file %s:%zu: identity must be 1..%d printable ASCII bytes",
				path, lineno, TLS_PSK_MAX_IDENTITY);
			goto out;
		}
		if (ctx->psk_count >= PSK_MAX_ENTRIES) {
			set_err(err, errlen, "psk_file %s: more than %u entries", path, PSK_MAX_ENTRIES);
			goto out;
		}
		if (ctx->psk_count == cap) {
			size_t ncap = cap == 0 ? 16 : cap * 2;
			struct psk_entry *p = realloc(ctx->psks, ncap * sizeof(*p));
			if (p == NULL) {
				set_err(err, errlen, "out of memory");
				goto out;
			}
			ctx->psks = p;
			cap = ncap;
		}
		struct psk_entry *e = &ctx->psks[ctx->psk_count];
		memset(e, 0, sizeof(*e));
		const char *hex = colon + 1;
		long klen = hex_decode(hex, strlen(hex), e->key, sizeof(e->key));
		if (klen < TLS_PSK_MIN_KEY) {
			OPENSSL_cleanse(e->key, sizeof(e->key));
			set_err(err, errlen, "psk_file %s:%zu: key must be %d..%d bytes of hex", path, lineno,
				TLS_PSK_MIN_KEY, TLS_PSK_MAX_KEY);
			goto out;
		}
		e->key_len = (size_t)klen;
		e->identity = strndup(line, id_len);
		if (e->identity == NULL) {
			OPENSSL_cleanse(e->key, sizeof(e->key));
			set_err(err, errlen, "out of memory");
			goto out;
		}
		e->id_len = id_len;
		ctx->psk_count++;
	}
	if (ferror(f)) {
		set_err(err, errlen, "psk_file %s: read error", path);
		goto out;
	}
	if (ctx->psk_count == 0) {
		set_err(err, errlen, "psk_file %s: no entries", path);
		goto out;
	}
	qsort(ctx->psks, ctx->psk_count, sizeof(*ctx->psks), psk_cmp);
	for (size_t i = 1; i < ctx->psk_count; i++) {
		if (psk_cmp(&ctx->psks[i - 1], &ctx->psks[i]) == 0) {
			set_err(err, errlen, "psk_file %s: duplicate identity", path);
			goto out;
		}
	}
	rc = 0;
out:
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	return rc;
}

static struct tls_conn *conn_of(SSL *ssl)
{
	return SSL_get_app_data(ssl);
}

static SSL_SESSION *psk_session(SSL *ssl, const unsigned char *key, size_t key_len)
{
	const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, tls13_aes128gcm_sha256);
	if (cipher == NULL)
		return NULL;
	SSL_SESSION *sess = SSL_SESSION_new();
	if (sess == NULL)
		return NULL;
	if (!SSL_SESSION_set1_master_key(sess, key, key_len) || !SSL_SESSION_set_cipher(sess, cipher) ||
	    !SSL_SESSION_set_protocol_version(sess, TLS1_3_VERSION)) {
		SSL_SESSION_free(sess);
		return NULL;
	}
	return sess;
}

static void remember_candidate(struct tls_conn *c, const struct psk_entry *e)
{
	free(c->psk_candidate);
	c->psk_candidate = strdup(e->identity); /* NULL on OOM: reported as "no PSK" */
}

/* ---- server callbacks ------------------------------------------------- */

static unsigned int server_psk_cb(SSL *ssl, const char *identity, unsigned char *psk, unsigned int max_psk_len)
{
	struct tls_conn *c = conn_of(ssl);
	if (c == NULL || identity == NULL)
		return 0;
	const struct psk_entry *e = psk_lookup(c->ctx, identity, strnlen(identity, TLS_PSK_MAX_IDENTITY + 1));
	if (e == NULL || e->key_len > max_psk_len)
		return 0;
	memcpy(psk, e->key, e->key_len);
	remember_candidate(c, e);
	return (unsigned int)e->key_len;
}

static int server_find_session_cb(SSL *ssl, const unsigned char *identity, size_t identity_len, SSL_SESSION **sess)
{
	*sess = NULL;
	struct tls_conn *c = conn_of(ssl);
	if (c == NULL)
		return 1;
	const struct psk_entry *e = psk_lookup(c->ctx, identity, identity_len);
	if (e == NULL)
		return 1; /* unknown identity: not an error, fall back to certificates */
	*sess = psk_session(ssl, e->key, e->key_len);
	if (*sess == NULL)
		return 0;
	remember_candidate(c, e);
	return 1;
}

/* Client certificates are requested, not required: accept the handshake
   whatever the verification says; the result is read back afterwards. */
static int accept_any_client_cert(int preverify_ok, X509_STORE_CTX *x509_ctx)
{
	return 1;
}

/* ---- client callbacks ------------------------------------------------- */

static unsigned int client_psk_cb(SSL *ssl, const char *hint, char *identity, unsigned int max_identity_len,
				  unsigned char *psk, unsigned int max_psk_len)
{
	struct tls_conn *c = conn_of(ssl);
	if (c == NULL || c->ctx->client_psk_identity == NULL)
		return 0;
	size_t n = strlen(c->ctx->client_psk_identity);
	if (n + 1 > max_identity_len || c->ctx->client_psk_key_len > max_psk_len)
		return 0;
	memcpy(identity, c->ctx->client_psk_identity, n + 1);
	memcpy(psk, c->ctx->client_psk_key, c->ctx->client_psk_key_len);
	return (unsigned int)c->ctx->client_psk_key_len;
}

static int client_use_session_cb(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen,
				 SSL_SESSION **sess)
{
	*sess = NULL;
	struct tls_conn *c = conn_of(ssl);
	if (c == NULL || c->ctx->client_psk_identity == NULL)
		return 1;
	SSL_SESSION *s = psk_session(ssl, c->ctx->client_psk_key, c->ctx->client_psk_key_len);
	if (s == NULL)
		return 0;
	if (md != NULL && md != SSL_CIPHER_get_handshake_digest(SSL_SESSION_get0_cipher(s))) {
		SSL_SESSION_free(s); /* after a HelloRetryRequest with another hash: offer nothing */
		return 1;
	}
	*id = (const unsigned char *)c->ctx->client_psk_identity;
	*idlen = strlen(c->ctx->client_psk_identity);
	*sess = s;
	return 1;
}

/* ---- contexts ----------------------------------------------------------- */

static SSL_CTX *ctx_common(const SSL_METHOD *method, const char *min_version, const char *max_version,
			   const char *ciphers, char *err, size_t errlen)
{
	int minv, maxv;
	if (parse_version(min_version, TLS1_2_VERSION, &minv) < 0) {
		set_err(err, errlen, "min_version must be TLSv1.2 or TLSv1.3");
		return NULL;
	}
	if (parse_version(max_version, 0, &maxv) < 0) {
		set_err(err, errlen, "max_version must be TLSv1.2 or TLSv1.3");
		return NULL;
	}
	if (maxv != 0 && maxv < minv) {
		set_err(err, errlen, "max_version is below min_version");
		return NULL;
	}
	SSL_CTX *sc = SSL_CTX_new(method);
	if (sc == NULL) {
		openssl_reason(err, errlen, "SSL_CTX_new failed");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(sc, minv);
	SSL_CTX_set_max_proto_version(sc, maxv);
	SSL_CTX_set_options(sc, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(sc, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				     SSL_MODE_RELEASE_BUFFERS);
	if (!SSL_CTX_set_cipher_list(sc, ciphers != NULL ? ciphers
							 : "HIGH:!aNULL:!eNULL:!kRSA:!kRSAPSK:!kSRP:!3DES:"
							   "!CAMELLIA:!ARIA:!SEED:!IDEA:!MD5:!RC4")) {
		openssl_reason(err, errlen, "invalid cipher list");
		SSL_CTX_free(sc);
		return NULL;
	}
	return sc;
}

static int load_cert_key(SSL_CTX *sc, const char *cert, const char *key, char *err, size_t errlen)
{
	if (key == NULL) {
		set_err(err, errlen, "cert_file given without key_file");
		return -1;
	}
	if (SSL_CTX_use_certificate_chain_file(sc, cert) != 1) {
		char why[160];
		openssl_reason(why, sizeof(why), "unreadable");
		set_err(err, errlen, "cert_file %s: %s", cert, why);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(sc, key, SSL_FILETYPE_PEM) != 1) {
		char why[160];
		openssl_reason(why, sizeof(why), "unreadable");
		set_err(err, errlen, "key_file %s: %s", key, why);
		return -1;
	}
	if (SSL_CTX_check_private_key(sc) != 1) {
		ERR_clear_error();
		set_err(err, errlen, "key_file %s does not match cert_file %s", key, cert);
		return -1;
	}
	return 0;
}

struct tls_ctx *tls_ctx_new_server(const struct tls_server_config *cfg, char *err, size_t errlen)
{
	set_err(err, errlen, "%s", "");
	ERR_clear_error();
	if (cfg == NULL || (cfg->cert_file == NULL && cfg->psk_file == NULL)) {
		set_err(err, errlen, "a server needs cert_file or psk_file");
		return NULL;
	}
	struct tls_ctx *ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	ctx->server = true;
	ctx->ssl_ctx = ctx_common(TLS_server_method(), cfg->min_version, NULL, cfg->ciphers, err, errlen);
	if (ctx->ssl_ctx == NULL)
		goto fail;
	SSL_CTX *sc = ctx->ssl_ctx;
	SSL_CTX_set_app_data(sc, ctx);
	SSL_CTX_set_options(sc, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA | SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(sc, 0);
	SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
	static const unsigned char sid_ctx[] = "cpm-frontend";
	SSL_CTX_set_session_id_context(sc, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_set_dh_auto(sc, 1);

	if (cfg->cert_file != NULL && load_cert_key(sc, cfg->cert_file, cfg->key_file, err, errlen) < 0)
		goto fail;
	if (cfg->client_ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(sc, cfg->client_ca_file, NULL) != 1) {
			char why[160];
			openssl_reason(why, sizeof(why), "unreadable");
			set_err(err, errlen, "client_ca_file %s: %s", cfg->client_ca_file, why);
			goto fail;
		}
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->client_ca_file);
		if (names == NULL) {
			ERR_clear_error();
			set_err(err, errlen, "client_ca_file %s: no certificates", cfg->client_ca_file);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(sc, names);
		SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, accept_any_client_cert);
		SSL_CTX_set_verify_depth(sc, TLS_VERIFY_DEPTH);
	}
	if (cfg->psk_file != NULL) {
		if (psk_table_load(ctx, cfg->psk_file, err, errlen) < 0)
			goto fail;
		SSL_CTX_set_psk_server_callback(sc, server_psk_cb);
		SSL_CTX_set_psk_find_session_callback(sc, server_find_session_cb);
		if (!SSL_CTX_set_ciphersuites(sc, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:"
						  "TLS_AES_256_GCM_SHA384")) {
			openssl_reason(err, errlen, "cannot set TLS 1.3 suites");
			goto fail;
		}
	}
	ERR_clear_error();
	return ctx;
fail:
	ERR_clear_error();
	tls_ctx_free(&ctx);
	return NULL;
}

struct tls_ctx *tls_ctx_new_client(const struct tls_client_config *cfg, char *err, size_t errlen)
{
	static const struct tls_client_config none = {0};
	set_err(err, errlen, "%s", "");
	ERR_clear_error();
	if (cfg == NULL)
		cfg = &none;
	struct tls_ctx *ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	ctx->ssl_ctx = ctx_common(TLS_client_method(), cfg->min_version, cfg->max_version, cfg->ciphers, err, errlen);
	if (ctx->ssl_ctx == NULL)
		goto fail;
	SSL_CTX *sc = ctx->ssl_ctx;
	SSL_CTX_set_app_data(sc, ctx);
	SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
	if (cfg->ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(sc, cfg->ca_file, NULL) != 1) {
			char why[160];
			openssl_reason(why, sizeof(why), "unreadable");
			set_err(err, errlen, "ca_file %s: %s", cfg->ca_file, why);
			goto fail;
		}
		SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, NULL);
		SSL_CTX_set_verify_depth(sc, TLS_VERIFY_DEPTH);
		ctx->verify_peer = true;
	} else {
		SSL_CTX_set_verify(sc, SSL_VERIFY_NONE, NULL);
	}
	if (cfg->cert_file != NULL && load_cert_key(sc, cfg->cert_file, cfg->key_file, err, errlen) < 0)
		goto fail;
	if (cfg->psk_identity != NULL || cfg->psk_key_hex != NULL) {
		if (cfg->psk_identity == NULL || cfg->psk_key_hex == NULL) {
			set_err(err, errlen, "psk_identity and psk_key_hex go together");
			goto fail;
		}
		if (!valid_identity(cfg->psk_identity, strlen(cfg->psk_identity))) {
			set_err(err, errlen, "psk_identity must be 1..%d printable ASCII bytes", TLS_PSK_MAX_IDENTITY);
			goto fail;
		}
		long klen = hex_decode(cfg->psk_key_hex, strlen(cfg->psk_key_hex), ctx->client_psk_key,
				       sizeof(ctx->client_psk_key));
		if (klen < TLS_PSK_MIN_KEY) {
			set_err(err, errlen, "psk_key_hex must be %d..%d bytes of hex", TLS_PSK_MIN_KEY,
				TLS_PSK_MAX_KEY);
			goto fail;
		}
		ctx->client_psk_key_len = (size_t)klen;
		ctx->client_psk_identity = strdup(cfg->psk_identity);
		if (ctx->client_psk_identity == NULL) {
			set_err(err, errlen, "out of memory");
			goto fail;
		}
		SSL_CTX_set_psk_client_callback(sc, client_psk_cb);
		SSL_CTX_set_psk_use_session_callback(sc, client_use_session_cb);
	}
	ERR_clear_error();
	return ctx;
fail:
	ERR_clear_error();
	tls_ctx_free(&ctx);
	return NULL;
}

void tls_ctx_free(struct tls_ctx **ctxp)
{
	struct tls_ctx *ctx = *ctxp;
	if (ctx == NULL)
		return;
	*ctxp = NULL;
	SSL_CTX_free(ctx->ssl_ctx);
	psk_table_free(ctx);
	free(ctx->client_psk_identity);
	OPENSSL_cleanse(ctx->client_psk_key, sizeof(ctx->client_psk_key));
	free(ctx);
}

/* ---- connections -------------------------------------------------------- */

static int conn_fail(struct tls_conn *c, const char *fallback)
{
	c->failed = true;
	openssl_reason(c->error, sizeof(c->error), fallback);
	return -1;
}

struct tls_conn *tls_conn_new(struct tls_ctx *ctx, const char *sni)
{
	ERR_clear_error();
	struct tls_conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->ctx = ctx;
	c->ssl = SSL_new(ctx->ssl_ctx);
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (c->ssl == NULL || c->rbio == NULL || c->wbio == NULL) {
		BIO_free(c->rbio);
		BIO_free(c->wbio);
		SSL_free(c->ssl);
		free(c);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_bio(c->ssl, c->rbio, c->wbio); /* ssl owns both now */
	SSL_set_app_data(c->ssl, c);
	if (ctx->server) {
		SSL_set_accept_state(c->ssl);
		return c;
	}
	SSL_set_connect_state(c->ssl);
	if (sni != NULL && *sni != '\0') {
		unsigned char addr[16];
		bool is_ip = inet_pton(AF_INET, sni, addr) == 1 || inet_pton(AF_INET6, sni, addr) == 1;
		int ok = 1;
		if (!is_ip) /* RFC 6066: no IP literals in server_name */
			ok = SSL_set_tlsext_host_name(c->ssl, sni);
		if (ok && ctx->verify_peer) {
			if (is_ip)
				ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), sni);
			else
				ok = SSL_set1_host(c->ssl, sni);
		}
		if (!ok) {
			conn_fail(c, "invalid server name");
			return c; /* the error is reported by the first feed/write */
		}
	}
	int r = SSL_do_handshake(c->ssl); /* writes the ClientHello */
	if (r != 1 && SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ)
		conn_fail(c, "cannot start the handshake");
	ERR_clear_error();
	return c;
}

void tls_conn_free(struct tls_conn **cp)
{
	struct tls_conn *c = *cp;
	if (c == NULL)
		return;
	*cp = NULL;
	SSL_free(c->ssl);
	buf_free(&c->queued);
	free(c->psk_candidate);
	free(c->peer_subject);
	free(c->psk_identity);
	free(c);
}

static char *name_to_string(const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (b == NULL)
		return NULL;
	char *s = NULL;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
		char *p;
		long n = BIO_get_mem_data(b, &p);
		if (n >= 0 && (s = malloc((size_t)n + 1)) != NULL) {
			memcpy(s, p, (size_t)n);
			s[n] = '\0';
		}
	}
	BIO_free(b);
	return s;
}

static void on_handshake_done(struct tls_conn *c)
{
	c->handshake_done = true;
	c->protocol = SSL_get_version(c->ssl);
	const SSL_CIPHER *cipher = SSL_get_current_cipher(c->ssl);
	c->cipher = cipher != NULL ? SSL_CIPHER_get_name(cipher) : "";
	X509 *peer = SSL_get0_peer_certificate(c->ssl);
	if (peer != NULL) {
		c->peer_subject = name_to_string(X509_get_subject_name(peer));
		c->peer_verified = SSL_get_verify_result(c->ssl) == X509_V_OK;
	}
	bool psk_used;
	if (SSL_version(c->ssl) >= TLS1_3_VERSION)
		psk_used = SSL_session_reused(c->ssl) == 1; /* no tickets: only an external PSK resumes */
	else
		psk_used = cipher != NULL && SSL_CIPHER_get_auth_nid(cipher) == NID_auth_psk;
	if (psk_used) {
		const char *id = c->ctx->server ? c->psk_candidate : c->ctx->client_psk_identity;
		if (id != NULL)
			c->psk_identity = strdup(id);
	}
	free(c->psk_candidate);
	c->psk_candidate = NULL;
}

/* Encrypts as much of c->queued as OpenSSL takes. */
static int flush_queued(struct tls_conn *c)
{
	while (c->queued.len > 0) {
		size_t done = 0;
		int r = SSL_write_ex(c->ssl, c->queued.data, c->queued.len, &done);
		if (r == 1) {
			buf_consume(&c->queued, done);
			continue;
		}
		int e = SSL_get_error(c->ssl, 0);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return 0;
		return conn_fail(c, "write failed");
	}
	buf_free(&c->queued);
	if (c->shutdown_wanted && !c->shutdown_sent) {
		c->shutdown_sent = true;
		SSL_shutdown(c->ssl); /* 0: close_notify queued; the peer's comes later */
		ERR_clear_error();
	}
	return 0;
}

static int drive(struct tls_conn *c, struct buf *plain_out)
{
	if (!c->handshake_done) {
		int r = SSL_do_handshake(c->ssl);
		if (r != 1) {
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return 0;
			return conn_fail(c, "handshake failed");
		}
		on_handshake_done(c);
		if (flush_queued(c) < 0)
			return -1;
	}
	while (!c->peer_closed) {
		if (buf_reserve(plain_out, TLS_READ_CHUNK) < 0) {
			c->failed = true;
			snprintf(c->error, sizeof(c->error), "out of memory");
			return -1;
		}
		size_t got = 0;
		int r = SSL_read_ex(c->ssl, plain_out->data + plain_out->len, TLS_READ_CHUNK, &got);
		if (r == 1) {
			plain_out->len += got;
			plain_out->data[plain_out->len] = '\0';
			continue;
		}
		int e = SSL_get_error(c->ssl, 0);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			break;
		if (e == SSL_ERROR_ZERO_RETURN) {
			c->peer_closed = true;
			break;
		}
		return conn_fail(c, "read failed");
	}
	/* A key update or similar may have made room for queued plaintext. */
	return c->queued.len > 0 ? flush_queued(c) : 0;
}

int tls_conn_feed(struct tls_conn *c, const void *cipher, size_t len, struct buf *plain_out)
{
	if (c->failed)
		return -1;
	ERR_clear_error();
	const unsigned char *p = cipher;
	do {
		size_t n = len < TLS_FEED_SLICE ? len : TLS_FEED_SLICE, written = 0;
		if (n > 0 && (BIO_write_ex(c->rbio, p, n, &written) != 1 || written != n))
			return conn_fail(c, "out of memory");
		p += n;
		len -= n;
		if (drive(c, plain_out) < 0)
			return -1;
	} while (len > 0);
	return 0;
}

int tls_conn_write(struct tls_conn *c, const void *plain, size_t len)
{
	if (c->failed)
		return -1;
	if (c->shutdown_wanted) {
		snprintf(c->error, sizeof(c->error), "write after shutdown");
		return -1;
	}
	if (len == 0)
		return 0;
	ERR_clear_error();
	if (!c->handshake_done || c->queued.len > 0) {
		if (!c->handshake_done && len > TLS_MAX_QUEUED_PLAINTEXT - c->queued.len) {
			snprintf(c->error, sizeof(c->error), "too much plaintext queued before the handshake");
			c->failed = true;
			return -1;
		}
		if (buf_append(&c->queued, plain, len) < 0) {
			snprintf(c->error, sizeof(c->error), "out of memory");
			c->failed = true;
			return -1;
		}
		return c->handshake_done ? flush_queued(c) : 0;
	}
	const unsigned char *p = plain;
	while (len > 0) {
		size_t done = 0;
		int r = SSL_write_ex(c->ssl, p, len, &done);
		if (r == 1) {
			p += done;
			len -= done;
			continue;
		}
		int e = SSL_get_error(c->ssl, 0);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			return conn_fail(c, "write failed");
		if (buf_append(&c->queued, p, len) < 0) {
			snprintf(c->error, sizeof(c->error), "out of memory");
			c->failed = true;
			return -1;
		}
		break;
	}
	return 0;
}

size_t tls_conn_output_pending(const struct tls_conn *c)
{
	return BIO_ctrl_pending(c->wbio);
}

int tls_conn_take_output(struct tls_conn *c, struct buf *cipher_out)
{
	size_t n = BIO_ctrl_pending(c->wbio);
	if (n == 0)
		return 0;
	if (buf_reserve(cipher_out, n) < 0)
		return -1;
	size_t got = 0;
	if (BIO_read_ex(c->wbio, cipher_out->data + cipher_out->len, n, &got) != 1) {
		ERR_clear_error();
		return -1;
	}
	cipher_out->len += got;
	cipher_out->data[cipher_out->len] = '\0';
	return 0;
}

void tls_conn_shutdown(struct tls_conn *c)
{
	if (c->shutdown_wanted)
		return;
	c->shutdown_wanted = true;
	if (c->handshake_done && !c->failed && c->queued.len == 0) {
		ERR_clear_error();
		c->shutdown_sent = true;
		SSL_shutdown(c->ssl);
		ERR_clear_error();
	}
}

bool tls_conn_handshake_done(const struct tls_conn *c)
{
	return c->handshake_done;
}

bool tls_conn_peer_closed(const struct tls_conn *c)
{
	return c->peer_closed;
}

const char *tls_conn_error(const struct tls_conn *c)
{
	return c->error;
}

const char *tls_conn_protocol(const struct tls_conn *c)
{
	return c->handshake_done ? c->protocol : NULL;
}

const char *tls_conn_cipher(const struct tls_conn *c)
{
	return c->handshake_done ? c->cipher : NULL;
}

const char *tls_conn_peer_subject(const struct tls_conn *c)
{
	return c->peer_subject;
}

bool tls_conn_peer_verified(const struct tls_conn *c)
{
	return c->peer_verified;
}

const char *tls_conn_psk_identity(const struct tls_conn *c)
{
	return c->psk_identity;
}

const char *tls_conn_sni(const struct tls_conn *c)
{
	if (!c->ctx->server)
		return NULL;
	return SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
}
