/*
 * Unit tests for frontend/tls: a client and a server tls_conn talk to each
 * other purely in memory. The certificates are made here with OpenSSL APIs
 * (EC P-256) and written to a temporary directory by the group setup:
 *   server.pem/.key  self-signed, CN=localhost, SAN DNS:localhost
 *   ca.pem/.key      a client CA
 *   client.pem/.key  CN=alice@example.com, signed by the client CA
 *   rogue.pem/.key   CN=mallory, self-signed (not under the CA)
 *   psk.txt          two PSK identities
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "frontend/tls.h"

#define PSK_PHONE_ID "tel:+15551234567"
#define PSK_PHONE_KEY "00112233445566778899aabbccddeeff"
#define PSK_ALICE_ID "alice@example.com"
#define PSK_ALICE_KEY "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static char tmpdir[64];

static const char *path(const char *name)
{
	static char bufs[8][128];
	static int next;
	char *p = bufs[next++ % 8];
	snprintf(p, 128, "%s/%s", tmpdir, name);
	return p;
}

static void write_file(const char *name, const char *text)
{
	FILE *f = fopen(path(name), "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* ---- certificate factory --------------------------------------------- */

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v;
	X509V3_set_ctx_nodb(&v);
	X509V3_set_ctx(&v, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ex = X509V3_EXT_nconf_nid(NULL, &v, nid, value);
	assert_non_null(ex);
	assert_int_equal(X509_add_ext(cert, ex, -1), 1);
	X509_EXTENSION_free(ex);
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, bool ca, const char *san,
		       const char *eku)
{
	static long serial = 1;
	X509 *x = X509_new();
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"cpm-test", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509 *signer = issuer != NULL ? issuer : x;
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(signer)), 1);
	add_ext(x, signer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	add_ext(x, signer, NID_key_usage, ca ? "critical,keyCertSign,cRLSign,digitalSignature" : "critical,digitalSignature");
	add_ext(x, signer, NID_subject_key_identifier, "hash");
	if (san != NULL)
		add_ext(x, signer, NID_subject_alt_name, san);
	if (eku != NULL)
		add_ext(x, signer, NID_ext_key_usage, eku);
	assert_true(X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0);
	return x;
}

static void save(const char *base, X509 *x, EVP_PKEY *key)
{
	char name[64];
	snprintf(name, sizeof(name), "%s.pem", base);
	FILE *f = fopen(path(name), "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, x), 1);
	fclose(f);
	snprintf(name, sizeof(name), "%s.key", base);
	f = fopen(path(name), "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
}

static const char *const tmp_files[] = {
	"server.pem", "server.key", "ca.pem", "ca.key", "client.pem", "client.key", "rogue.pem", "rogue.key",
	"psk.txt", "bad.txt",
};

static int group_setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cpm-tls-test.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	EVP_PKEY *skey = EVP_EC_gen("P-256"), *cakey = EVP_EC_gen("P-256"), *ckey = EVP_EC_gen("P-256"),
		 *rkey = EVP_EC_gen("P-256");
	assert_non_null(skey);
	assert_non_null(cakey);
	assert_non_null(ckey);
	assert_non_null(rkey);
	X509 *server = make_cert(skey, "localhost", NULL, NULL, false, "DNS:localhost,IP:127.0.0.1", "serverAuth");
	X509 *ca = make_cert(cakey, "cpm test client CA", NULL, NULL, true, NULL, NULL);
	X509 *client = make_cert(ckey, "alice@example.com", ca, cakey, false, NULL, "clientAuth");
	X509 *rogue = make_cert(rkey, "mallory", NULL, NULL, false, NULL, "clientAuth");
	save("server", server, skey);
	save("ca", ca, cakey);
	save("client", client, ckey);
	save("rogue", rogue, rkey);
	X509_free(server);
	X509_free(ca);
	X509_free(client);
	X509_free(rogue);
	EVP_PKEY_free(skey);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(ckey);
	EVP_PKEY_free(rkey);
	write_file("psk.txt", "# phones\n\n" PSK_PHONE_ID ":" PSK_PHONE_KEY "\r\n" PSK_ALICE_ID ":" PSK_ALICE_KEY "\n");
	return 0;
}

static int group_teardown(void **state)
{
	for (size_t i = 0; i < sizeof(tmp_files) / sizeof(tmp_files[0]); i++)
		unlink(path(tmp_files[i]));
	rmdir(tmpdir);
	return 0;
}

/* ---- harness ------------------------------------------------------------ */

struct pair {
	struct tls_ctx *sctx, *cctx;
	struct tls_conn *srv, *cli;
	struct buf srv_plain, cli_plain; /* what each side decrypted */
};

static struct tls_ctx *server_ctx(const struct tls_server_config *cfg)
{
	char err[256];
	struct tls_ctx *ctx = tls_ctx_new_server(cfg, err, sizeof(err));
	if (ctx == NULL)
		fail_msg("server ctx: %s", err);
	return ctx;
}

static struct tls_ctx *client_ctx(const struct tls_client_config *cfg)
{
	char err[256];
	struct tls_ctx *ctx = tls_ctx_new_client(cfg, err, sizeof(err));
	if (ctx == NULL)
		fail_msg("client ctx: %s", err);
	return ctx;
}

static void pair_open(struct pair *p, const struct tls_server_config *scfg, const struct tls_client_config *ccfg,
		      const char *sni)
{
	memset(p, 0, sizeof(*p));
	p->sctx = server_ctx(scfg);
	p->cctx = client_ctx(ccfg);
	p->srv = tls_conn_new(p->sctx, NULL);
	p->cli = tls_conn_new(p->cctx, sni);
	assert_non_null(p->srv);
	assert_non_null(p->cli);
}

static void pair_close(struct pair *p)
{
	tls_conn_free(&p->srv);
	tls_conn_free(&p->cli);
	assert_null(p->srv);
	assert_null(p->cli);
	tls_ctx_free(&p->sctx);
	tls_ctx_free(&p->cctx);
	assert_null(p->sctx);
	buf_free(&p->srv_plain);
	buf_free(&p->cli_plain);
}

/* Moves bytes from one side to the other (step bytes per feed, 0 = all at
   once). Returns 1 if something moved, 0 if nothing, -1 if the receiver failed. */
static int move(struct tls_conn *from, struct tls_conn *to, struct buf *to_plain, size_t step)
{
	struct buf wire = {0};
	assert_int_equal(tls_conn_take_output(from, &wire), 0);
	assert_int_equal(tls_conn_output_pending(from), 0);
	int rc = wire.len > 0;
	size_t chunk = step == 0 ? wire.len : step;
	for (size_t off = 0; off < wire.len && rc > 0; off += chunk) {
		size_t n = wire.len - off < chunk ? wire.len - off : chunk;
		if (tls_conn_feed(to, wire.data + off, n, to_plain) < 0)
			rc = -1;
	}
	buf_free(&wire);
	return rc;
}

/* Shuttles until quiet. 0 ok, -1 client failed, -2 server failed. */
static int pump_step(struct pair *p, size_t step)
{
	for (int round = 0; round < 10000; round++) {
		int a = move(p->cli, p->srv, &p->srv_plain, step);
		if (a < 0) {
			move(p->srv, p->cli, &p->cli_plain, 0); /* deliver the alert */
			return -2;
		}
		int b = move(p->srv, p->cli, &p->cli_plain, step);
		if (b < 0) {
			move(p->cli, p->srv, &p->srv_plain, 0);
			return -1;
		}
		if (a == 0 && b == 0)
			return 0;
	}
	fail_msg("pump did not settle");
	return 0;
}

static int pump(struct pair *p)
{
	return pump_step(p, 0);
}

static const struct tls_server_config plain_server = {.cert_file = NULL};

static struct tls_server_config server_cfg(void)
{
	struct tls_server_config c = plain_server;
	c.cert_file = path("server.pem");
	c.key_file = path("server.key");
	return c;
}

/* ---- tests --------------------------------------------------------------- */

static void test_handshake(void **state)
{
	struct tls_server_config s = server_cfg();
	struct tls_client_config c = {.ca_file = path("server.pem")};
	struct pair p;
	pair_open(&p, &s, &c, "localhost");
	assert_false(tls_conn_handshake_done(p.cli));
	assert_null(tls_conn_protocol(p.cli));
	assert_true(tls_conn_output_pending(p.cli) > 0); /* the ClientHello */
	assert_int_equal(tls_conn_output_pending(p.srv), 0);
	assert_int_equal(pump(&p), 0);
	assert_true(tls_conn_handshake_done(p.cli));
	assert_true(tls_conn_handshake_done(p.srv));
	assert_string_equal(tls_conn_protocol(p.cli), "TLSv1.3");
	assert_string_equal(tls_conn_protocol(p.srv), "TLSv1.3");
	assert_string_equal(tls_conn_cipher(p.cli), tls_conn_cipher(p.srv));
	assert_string_equal(tls_conn_error(p.srv), "");
	/* client side: the server certificate was verified */
	assert_true(tls_conn_peer_verified(p.cli));
	assert_string_equal(tls_conn_peer_subject(p.cli), "CN=localhost,O=cpm-test");
	/* server side: no client certificate, no PSK, the SNI seen */
	assert_null(tls_conn_peer_subject(p.srv));
	assert_false(tls_conn_peer_verified(p.srv));
	assert_null(tls_conn_psk_identity(p.srv));
	assert_null(tls_conn_psk_identity(p.cli));
	assert_string_equal(tls_conn_sni(p.srv), "localhost");
	assert_null(tls_conn_sni(p.cli));
	assert_int_equal(p.srv_plain.len, 0);
	assert_int_equal(p.cli_plain.len, 0);
	pair_close(&p);
}

static void test_handshake_byte_by_byte(void **state)
{
	struct tls_server_config s = server_cfg();
	struct tls_client_config c = {.ca_file = path("server.pem")};
	struct pair p;
	pair_open(&p, &s, &c, "localhost");
	assert_int_equal(tls_conn_write(p.srv, "* OK hi\r\n", 9), 0);
	assert_int_equal(pump_step(&p, 1), 0);
	assert_true(tls_conn_handshake_done(p.cli));
	assert_true(tls_conn_handshake_done(p.srv));
	assert_int_equal(p.cli_plain.len, 9);
	assert_memory_equal(p.cli_plain.data, "* OK hi\r\n", 9);
	pair_close(&p);
}

static void test_tls12(void **state)
{
	struct tls_server_config s = server_cfg();
	struct tls_client_config c = {.ca_file = path("server.pem"), .max_version = "TLSv1.2"};
	struct pair p;
	pair_open(&p, &s, &c, "localhost");
	assert_int_equal(pump(&p), 0);
	assert_string_equal(tls_conn_protocol(p.srv), "TLSv1.2");
	assert_string_equal(tls_conn_protocol(p.cli), "TLSv1.2");
	assert_string_equal(tls_conn_cipher(p.srv), tls_conn_cipher(p.cli));
	assert_null(tls_conn_psk_identity(p.srv));
	assert_int_equal(tls_conn_write(p.cli, "a1 NOOP\r\n", 9), 0);
	assert_int_equal(pump(&p), 0);
	assert_int_equal(p.srv_plain.len, 9);
	assert_memory_equal(p.srv_plain.data, "a1 NOOP\r\n", 9);
	pair_close(&p);
}

static void test_version_floor(void **state)
{
	struct tls_server_config s = server_cfg();
	s.min_version = "TLSv1.3";
	struct tls_client_config c = {.max_version = "TLSv1.2"};
	struct pair p;
	pair_open(&p, &s, &c, NULL);
	assert_int_equal(pump(&p), -2);
	assert_false(tls_conn_handshake_done(p.srv));
	assert_false(tls_conn_handshake_done(p.cli));
	assert_true(strlen(tls_conn_error(p.srv)) > 0);
	/* after a fatal error, every feed fails */
	struct buf out = {0};
	assert_int_equal(tls_conn_feed(p.srv, "x", 1, &out), -1);
	assert_int_equal(tls_conn_write(p.srv, "x", 1), -1);
	assert_int_equal(out.len, 0);
	pair_close(&p);
}

static void fill_pattern(unsigned char *d, size_t n, uint32_t seed)
{
	uint32_t x = seed;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		d[i] = (unsigned char)(x >> 16);
	}
}

static void test_data_both_ways(void **state)
{
	struct tls_server_config s = server_cfg();
	struct tls_client_config c = {.ca_file = path("server.pem")};
	struct pair p;
	pair_open(&p, &s, &c, "localhost");
	/* queued before the handshake on both sides */
	assert_int_equal(tls_conn_write(p.srv, "* OK cpm ready\r\n", 16), 0);
	assert_int_equal(tls_conn_write(p.cli, "a1 CAPABILITY\r\n", 15), 0);
	assert_int_equal(tls_conn_write(p.cli, "", 0), 0);
	assert_int_equal(pump(&p), 0);
	assert_int_equal(p.cli_plain.len, 16);
	assert_memory_equal(p.cli_plain.data, "* OK cpm ready\r\n", 16);
	assert_int_equal(p.srv_plain.len, 15);
	assert_memory_equal(p.srv_plain.data, "a1 CAPABILITY\r\n", 15);
	buf_reset(&p.cli_plain);
	buf_reset(&p.srv_plain);

	/* 1 MiB of binary data (with NULs) each way */
	size_t n = 1024 * 1024;
	unsigned char *up = malloc(n), *down = malloc(n);
	assert_non_null(up);
	assert_non_null(down);
	fill_pattern(up, n, 1);
	fill_pattern(down, n, 2);
	up[0] = 0;
	down[n - 1] = 0;
	assert_int_equal(tls_conn_write(p.cli, up, n), 0);
	assert_int_equal(tls_conn_write(p.srv, down, n), 0);
	assert_int_equal(pump(&p), 0);
	assert_int_equal(p.srv_plain.len, n);
	assert_int_equal(p.cli_plain.len, n);
	assert_memory_equal(p.srv_plain.data, up, n);
	assert_memory_equal(p.cli_plain.data, down, n);
	buf_reset(&p.cli_plain);
	buf_reset(&p.srv_plain);

	/* many small writes, delivered in 7-byte slices */
	struct buf expect = {0};
	for (int i = 0; i < 500; i++) {
		char line[32];
		int len = snprintf(line, sizeof(line), "* %d EXISTS\r\n", i);
		assert_int_equal(tls_conn_write(p.srv, line, (size_t)len), 0);
		assert_int_equal(buf_append(&expect, line, (size_t)len), 0);
	}
	assert_int_equal(pump_step(&p, 7), 0);
	assert_int_equal(p.cli_plain.len, expect.len);
	assert_memory_equal(p.cli_plain.data, expect.data, expect.len);
	buf_free(&expect);
	free(up);
	free(down);
	pair_close(&p);
}

static void test_shutdown(void **state)
{
	struct tls_server_config s = server_cfg();
	struct tls_client_config c = {0};
	struct pair p;
	pair_open(&p, &s, &c, NULL);
	assert_int_equal(pump(&p), 0);
	assert_false(tls_conn_peer_verified(p.cli)); /* no CA configured: nothing verified */
	assert_int_equal(tls_conn_write(p.cli, "a9 LOGOUT\r\n", 11), 0);
	tls_conn_shutdown(p.cli);
	tls_conn_shutdown(p.cli); /* idempotent */
	assert_int_equal(tls_conn_write(p.cli, "more", 4), -1);
	assert_string_equal(tls_conn_error(p.cli), "write after shutdown");
	assert_int_equal(pump(&p), 0);
	assert_int_equal(p.srv_plain.len, 11);
	assert_memory_equal(p.srv_plain.data, "a9 LOGOUT\r\n", 11);
	assert_true(tls_conn_peer_closed(p.srv));
	assert_false(tls_conn_peer_closed(p.cli));
	/* the server may still answer, then closes too */
	assert_int_equal(tls_conn_write(p.srv, "* BYE\r\n", 7), 0);
	tls_conn_shutdown(p.srv);
	assert_int_equal(pump(&p), 0);
	assert_int_equal(p.cli_plain.len, 7);
	assert_memory_equal(p.cli_plain.data, "* BYE\r\n", 7);
	assert_true(tls_conn_peer_closed(p.cli));
	pair_close(&p);
}

static void test_shutdown_before_handshake(void **state)
{
	struct tls_server_config s = server_cfg();
	struct tls_client_config c = {0};
	struct pair p;
	pair_open(&p, &s, &c, NULL);
	assert_int_equal(tls_conn_write(p.srv, "* BYE busy\r\n", 12), 0);
	tls_conn_shutdown(p.srv);
	assert_int_equal(pump(&p), 0);
	assert_true(tls_conn_handshake_done(p.cli));
	assert_int_equal(p.cli_plain.len, 12);
	assert_memory_equal(p.cli_plain.data, "* BYE busy\r\n", 12);
	assert_true(tls_conn_peer_closed(p.cli));
	pair_close(&p);
}

static void test_garbage(void **state)
{
	struct tls_ctx *sctx = server_ctx(&(struct tls_server_config){.cert_file = path("server.pem"),
								       .key_file = path("server.key")});
	struct tls_ctx *cctx = client_ctx(&(struct tls_client_config){0});
	struct buf plain = {0}, out = {0};

	/* plaintext IMAP/HTTP on the TLS port */
	struct tls_conn *srv = tls_conn_new(sctx, NULL);
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(tls_conn_feed(srv, http, sizeof(http) - 1, &plain), -1);
	assert_true(strlen(tls_conn_error(srv)) > 0);
	assert_int_equal(tls_conn_feed(srv, "\x16", 1, &plain), -1);
	assert_int_equal(tls_conn_take_output(srv, &out), 0); /* an alert, possibly */
	assert_false(tls_conn_handshake_done(srv));
	assert_int_equal(plain.len, 0);
	tls_conn_free(&srv);

	/* a handshake record with a garbage body */
	unsigned char rec[5 + 64] = {0x16, 0x03, 0x01, 0x00, 0x40};
	fill_pattern(rec + 5, 64, 7);
	srv = tls_conn_new(sctx, NULL);
	assert_int_equal(tls_conn_feed(srv, rec, sizeof(rec), &plain), -1);
	tls_conn_free(&srv);

	/* a client receiving garbage instead of a ServerHello */
	struct tls_conn *cli = tls_conn_new(cctx, NULL);
	assert_int_equal(tls_conn_feed(cli, rec, sizeof(rec), &plain), -1);
	assert_true(strlen(tls_conn_error(cli)) > 0);
	tls_conn_free(&cli);

	/* random bytes of many sizes: an error or a wait, never a crash */
	unsigned char junk[3000];
	for (uint32_t i = 0; i < 200; i++) {
		fill_pattern(junk, sizeof(junk), i + 100);
		if (i % 2 == 0)
			junk[0] = 0x16; /* sometimes look like a handshake */
		srv = tls_conn_new(sctx, NULL);
		int rc = tls_conn_feed(srv, junk, 1 + (i * 37) % sizeof(junk), &plain);
		assert_true(rc == 0 || rc == -1);
		assert_false(tls_conn_handshake_done(srv));
		tls_conn_free(&srv);
	}
	assert_int_equal(plain.len, 0);
	buf_free(&plain);
	buf_free(&out);
	tls_ctx_free(&sctx);
	tls_ctx_free(&cctx);
}

static void test_tampered_record(void **state)
{
	struct tls_server_config s = server_cfg();
	struct tls_client_config c = {0};
	struct pair p;
	pair_open(&p, &s, &c, NULL);
	assert_int_equal(pump(&p), 0);
	assert_int_equal(tls_conn_write(p.cli, "a1 LOGIN alice secret\r\n", 23), 0);
	struct buf wire = {0};
	assert_int_equal(tls_conn_take_output(p.cli, &wire), 0);
	assert_true(wire.len > 10);
	wire.data[wire.len / 2] ^= 0x01;
	assert_int_equal(tls_conn_feed(p.srv, wire.data, wire.len, &p.srv_plain), -1);
	assert_int_equal(p.srv_plain.len, 0);
	assert_true(strlen(tls_conn_error(p.srv)) > 0);
	buf_free(&wire);
	pair_close(&p);

	/* an application record header claiming 65535 bytes */
	pair_open(&p, &s, &c, NULL);
	assert_int_equal(pump(&p), 0);
	assert_int_equal(tls_conn_feed(p.srv, "\x17\x03\x03\xff\xff", 5, &p.srv_plain), -1);
	pair_close(&p);
}

static void test_client_cert_verified(void **state)
{
	struct tls_server_config s = server_cfg();
	s.client_ca_file = path("ca.pem");
	struct tls_client_config c = {.ca_file = path("server.pem"), .cert_file = path("client.pem"),
				      .key_file = path("client.key")};
	struct pair p;
	pair_open(&p, &s, &c, "localhost");
	assert_int_equal(pump(&p), 0);
	assert_true(tls_conn_handshake_done(p.srv));
	assert_string_equal(tls_conn_peer_subject(p.srv), "CN=alice@example.com,O=cpm-test");
	assert_true(tls_conn_peer_verified(p.srv));
	assert_null(tls_conn_psk_identity(p.srv));
	pair_close(&p);

	/* TLS 1.2 as well */
	c.max_version = "TLSv1.2";
	pair_open(&p, &s, &c, "localhost");
	assert_int_equal(pump(&p), 0);
	assert_string_equal(tls_conn_protocol(p.srv), "TLSv1.2");
	assert_string_equal(tls_conn_peer_subject(p.srv), "CN=alice@example.com,O=cpm-test");
	assert_true(tls_conn_peer_verified(p.srv));
	pair_close(&p);
}

static void test_client_cert_optional_and_untrusted(void **state)
{
	struct tls_server_config s = server_cfg();
	s.client_ca_file = path("ca.pem");
	/* no client certificate: requested, not required */
	struct tls_client_config c = {.ca_file = path("server.pem")};
	struct pair p;
	pair_open(&p, &s, &c, "localhost");
	assert_int_equal(pump(&p), 0);
	assert_true(tls_conn_handshake_done(p.srv));
	assert_null(tls_conn_peer_subject(p.srv));
	assert_false(tls_conn_peer_verified(p.srv));
	pair_close(&p);

	/* a self-signed certificate outside the CA: reported, not verified */
	c.cert_file = path("rogue.pem");
	c.key_file = path("rogue.key");
	pair_open(&p, &s, &c, "localhost");
	assert_int_equal(pump(&p), 0);
	assert_true(tls_conn_handshake_done(p.srv));
	assert_string_equal(tls_conn_peer_subject(p.srv), "CN=mallory,O=cpm-test");
	assert_false(tls_conn_peer_verified(p.srv));
	pair_close(&p);
}

static void test_server_verification_failures(void **state)
{
	struct tls_server_config s = server_cfg();
	/* wrong name */
	struct tls_client_config c = {.ca_file = path("server.pem")};
	struct pair p;
	pair_open(&p, &s, &c, "evil.example");
	assert_int_equal(pump(&p), -1);
	assert_false(tls_conn_handshake_done(p.cli));
	pair_close(&p);
	/* IP literal matches the SAN IP (and sends no SNI) */
	pair_open(&p, &s, &c, "127.0.0.1");
	assert_int_equal(pump(&p), 0);
	assert_true(tls_conn_peer_verified(p.cli));
	assert_null(tls_conn_sni(p.srv));
	pair_close(&p);
	/* wrong trust anchor */
	c.ca_file = path("ca.pem");
	pair_open(&p, &s, &c, "localhost");
	assert_int_equal(pump(&p), -1);
	assert_false(tls_conn_handshake_done(p.cli));
	assert_true(strlen(tls_conn_error(p.cli)) > 0);
	pair_close(&p);
}

static void test_psk_tls13(void **state)
{
	struct tls_server_config s = server_cfg();
	s.psk_file = path("psk.txt");
	struct tls_client_config c = {.psk_identity = PSK_PHONE_ID, .psk_key_hex = PSK_PHONE_KEY};
	struct pair p;
	pair_open(&p, &s, &c, NULL);
	assert_int_equal(tls_conn_write(p.cli, "a1 NOOP\r\n", 9), 0);
	assert_int_equal(pump(&p), 0);
	assert_string_equal(tls_conn_protocol(p.srv), "TLSv1.3");
	assert_string_equal(tls_conn_psk_identity(p.srv), PSK_PHONE_ID);
	assert_string_equal(tls_conn_psk_identity(p.cli), PSK_PHONE_ID);
	assert_null(tls_conn_peer_subject(p.cli)); /* PSK: no server certificate sent */
	assert_int_equal(p.srv_plain.len, 9);
	assert_memory_equal(p.srv_plain.data, "a1 NOOP\r\n", 9);
	pair_close(&p);

	/* the other identity, with a 32-byte key, on a PSK-only server */
	struct tls_server_config only = {.psk_file = path("psk.txt")};
	c.psk_identity = PSK_ALICE_ID;
	c.psk_key_hex = PSK_ALICE_KEY;
	pair_open(&p, &only, &c, NULL);
	assert_int_equal(pump(&p), 0);
	assert_string_equal(tls_conn_psk_identity(p.srv), PSK_ALICE_ID);
	pair_close(&p);
}

static void test_psk_tls12(void **state)
{
	struct tls_server_config s = server_cfg();
	s.psk_file = path("psk.txt");
	struct tls_client_config c = {.psk_identity = PSK_PHONE_ID, .psk_key_hex = PSK_PHONE_KEY,
				      .max_version = "TLSv1.2", .ciphers = "PSK"};
	struct pair p;
	pair_open(&p, &s, &c, NULL);
	assert_int_equal(pump(&p), 0);
	assert_string_equal(tls_conn_protocol(p.srv), "TLSv1.2");
	assert_non_null(strstr(tls_conn_cipher(p.srv), "PSK"));
	assert_string_equal(tls_conn_psk_identity(p.srv), PSK_PHONE_ID);
	assert_string_equal(tls_conn_psk_identity(p.cli), PSK_PHONE_ID);
	assert_int_equal(tls_conn_write(p.srv, "* OK\r\n", 6), 0);
	assert_int_equal(pump(&p), 0);
	assert_int_equal(p.cli_plain.len, 6);
	assert_memory_equal(p.cli_plain.data, "* OK\r\n", 6);
	pair_close(&p);

	/* unknown identity: TLS 1.2 PSK-only client fails */
	c.psk_identity = "tel:+19999999999";
	pair_open(&p, &s, &c, NULL);
	assert_true(pump(&p) < 0);
	assert_false(tls_conn_handshake_done(p.srv));
	pair_close(&p);

	/* wrong key: fails */
	c.psk_identity = PSK_PHONE_ID;
	c.psk_key_hex = "ffffffffffffffffffffffffffffffff";
	pair_open(&p, &s, &c, NULL);
	assert_true(pump(&p) < 0);
	assert_false(tls_conn_handshake_done(p.srv));
	pair_close(&p);
}

static void test_psk_tls13_failures(void **state)
{
	struct tls_server_config s = server_cfg();
	s.psk_file = path("psk.txt");
	/* wrong key: the binder does not verify */
	struct tls_client_config c = {.psk_identity = PSK_PHONE_ID, .psk_key_hex = "ffffffffffffffffffffffffffffffff"};
	struct pair p;
	pair_open(&p, &s, &c, NULL);
	assert_true(pump(&p) < 0);
	assert_false(tls_conn_handshake_done(p.srv));
	pair_close(&p);

	/* unknown identity: falls back to the certificate, no PSK identity reported */
	c.psk_identity = "tel:+19999999999";
	pair_open(&p, &s, &c, NULL);
	assert_int_equal(pump(&p), 0);
	assert_true(tls_conn_handshake_done(p.srv));
	assert_null(tls_conn_psk_identity(p.srv));
	assert_null(tls_conn_psk_identity(p.cli));
	assert_string_equal(tls_conn_peer_subject(p.cli), "CN=localhost,O=cpm-test");
	pair_close(&p);
}

static void expect_server_error(const struct tls_server_config *cfg, const char *needle)
{
	char err[256] = "unset";
	struct tls_ctx *ctx = tls_ctx_new_server(cfg, err, sizeof(err));
	assert_null(ctx);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static void expect_psk_file_error(const char *content, const char *needle)
{
	write_file("bad.txt", content);
	struct tls_server_config s = {.psk_file = path("bad.txt")};
	expect_server_error(&s, needle);
}

static void test_config_errors(void **state)
{
	expect_server_error(&(struct tls_server_config){0}, "cert_file or psk_file");
	expect_server_error(NULL, "cert_file or psk_file");
	expect_server_error(&(struct tls_server_config){.cert_file = path("nope.pem"), .key_file = path("server.key")},
			    "cert_file");
	expect_server_error(&(struct tls_server_config){.cert_file = path("server.pem")}, "without key_file");
	expect_server_error(&(struct tls_server_config){.cert_file = path("server.pem"), .key_file = path("client.key")},
			    "mismatch");
	struct tls_server_config s = server_cfg();
	s.min_version = "SSLv3";
	expect_server_error(&s, "min_version");
	s = server_cfg();
	s.client_ca_file = path("missing-ca.pem");
	expect_server_error(&s, "client_ca_file");
	s = server_cfg();
	s.ciphers = "NO-SUCH-CIPHER";
	expect_server_error(&s, "cipher");
	s = server_cfg();
	s.psk_file = path("missing.txt");
	expect_server_error(&s, "psk_file");

	expect_psk_file_error("", "no entries");
	expect_psk_file_error("# only a comment\n", "no entries");
	expect_psk_file_error("nocolon\n", "identity:hexkey");
	expect_psk_file_error(":" PSK_PHONE_KEY "\n", "identity");
	expect_psk_file_error("bad id:" PSK_PHONE_KEY "\n", "identity");
	expect_psk_file_error("a:0011\n", "key must be");
	expect_psk_file_error("a:" PSK_PHONE_KEY "0\n", "key must be");  /* odd */
	expect_psk_file_error("a:" PSK_PHONE_KEY "zz\n", "key must be"); /* not hex */
	expect_psk_file_error("a:" PSK_ALICE_KEY PSK_ALICE_KEY "\n", "key must be"); /* 64 bytes */
	expect_psk_file_error("a:" PSK_PHONE_KEY "\nb:" PSK_PHONE_KEY "\na:" PSK_ALICE_KEY "\n", "duplicate");
	char longline[700];
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	expect_psk_file_error(longline, "too long");
	char longid[200];
	memset(longid, 'i', 129);
	snprintf(longid + 129, sizeof(longid) - 129, ":%s\n", PSK_PHONE_KEY);
	expect_psk_file_error(longid, "identity");

	char err[256];
	assert_null(tls_ctx_new_client(&(struct tls_client_config){.psk_identity = "x"}, err, sizeof(err)));
	assert_non_null(strstr(err, "go together"));
	assert_null(tls_ctx_new_client(&(struct tls_client_config){.psk_identity = "x", .psk_key_hex = "00"}, err,
				       sizeof(err)));
	assert_non_null(strstr(err, "psk_key_hex"));
	assert_null(tls_ctx_new_client(&(struct tls_client_config){.min_version = "TLSv1.3", .max_version = "TLSv1.2"},
				       err, sizeof(err)));
	assert_non_null(strstr(err, "below"));
	assert_null(tls_ctx_new_client(&(struct tls_client_config){.ca_file = path("missing.pem")}, err, sizeof(err)));
	assert_non_null(strstr(err, "ca_file"));
	struct tls_ctx *ctx = tls_ctx_new_client(NULL, err, sizeof(err));
	assert_non_null(ctx);
	assert_string_equal(err, "");
	tls_ctx_free(&ctx);
	assert_null(ctx);
	tls_ctx_free(&ctx); /* NULL is fine */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_handshake_byte_by_byte),
		cmocka_unit_test(test_tls12),
		cmocka_unit_test(test_version_floor),
		cmocka_unit_test(test_data_both_ways),
		cmocka_unit_test(test_shutdown),
		cmocka_unit_test(test_shutdown_before_handshake),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_tampered_record),
		cmocka_unit_test(test_client_cert_verified),
		cmocka_unit_test(test_client_cert_optional_and_untrusted),
		cmocka_unit_test(test_server_verification_failures),
		cmocka_unit_test(test_psk_tls13),
		cmocka_unit_test(test_psk_tls12),
		cmocka_unit_test(test_psk_tls13_failures),
		cmocka_unit_test(test_config_errors),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
