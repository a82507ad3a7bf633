/* Unit tests for common/scram-secret. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <gsasl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "scram-secret.h"

/* RFC 7677 section 3 example exchange (user "user", password "pencil"). */
static const unsigned char rfc_salt[16] = {0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
					   0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81};
static const char rfc_salt_b64[] = "W22ZaJ0SNY7soEsUEjb6gQ==";
static const char rfc_auth_message[] =
	"n=user,r=rOprNGfwEbeRWgbNEkqO,"
	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
static const char rfc_client_proof_b64[] = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
static const char rfc_server_signature_b64[] = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
/* Derived from the above (Python hashlib), checked against the proof below. */
static const char rfc_stored_key_hex[] = "586e5df283e6dceb5c3e791d8b8528ec191e664045ce971792e2e6b5bb13e2a6";
static const char rfc_server_key_hex[] = "c1f3cbc1c13a9d35a14c0990eed97629ea225863e566a4314ab99f3f00e5d9d5";
static const char rfc_encoded[] = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
				  "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
				  "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";

static void b64_to_32(const char *b64, unsigned char out[32])
{
	unsigned char tmp[48];
	int n = EVP_DecodeBlock(tmp, (const unsigned char *)b64, (int)strlen(b64));
	assert_int_equal(n, 33); /* 44 chars with one '=' -> 33 incl. the pad byte */
	memcpy(out, tmp, 32);
}

static void test_rfc7677_known_answer(void **state)
{
	struct scram_secret s;
	memset(&s, 0xaa, sizeof(s));
	assert_int_equal(scram_secret_derive("pencil", 4096, rfc_salt, sizeof(rfc_salt), &s), 0);
	assert_int_equal(s.iterations, 4096);
	assert_int_equal(s.salt_len, 16);
	assert_memory_equal(s.salt, rfc_salt, 16);

	char hex[2 * SCRAM_KEY_LEN + 1];
	scram_secret_hex(s.stored_key, SCRAM_KEY_LEN, hex);
	assert_string_equal(hex, rfc_stored_key_hex);
	scram_secret_hex(s.server_key, SCRAM_KEY_LEN, hex);
	assert_string_equal(hex, rfc_server_key_hex);

	/* The RFC's proof, checked the way a SCRAM server checks it:
	 * ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage),
	 * H(ClientKey) must equal StoredKey; and our ServerSignature
	 * HMAC(ServerKey, AuthMessage) must equal the RFC's "v=". */
	unsigned char proof[32], sig[32], client_key[32], h[32], expect_v[32];
	unsigned int len = 0;
	b64_to_32(rfc_client_proof_b64, proof);
	b64_to_32(rfc_server_signature_b64, expect_v);
	assert_non_null(HMAC(EVP_sha256(), s.stored_key, 32, (const unsigned char *)rfc_auth_message,
			     strlen(rfc_auth_message), sig, &len));
	assert_int_equal(len, 32);
	for (int i = 0; i < 32; i++)
		client_key[i] = proof[i] ^ sig[i];
	SHA256(client_key, 32, h);
	assert_memory_equal(h, s.stored_key, 32);
	assert_non_null(HMAC(EVP_sha256(), s.server_key, 32, (const unsigned char *)rfc_auth_message,
			     strlen(rfc_auth_message), sig, &len));
	assert_memory_equal(sig, expect_v, 32);

	/* Encoded form. */
	struct buf b = {0};
	assert_int_equal(scram_secret_encode(&s, &b), 0);
	assert_string_equal((const char *)b.data, rfc_encoded);
	buf_reset(&b);
	assert_int_equal(scram_secret_base64(s.salt, s.salt_len, &b), 0);
	assert_string_equal((const char *)b.data, rfc_salt_b64);
	buf_reset(&b);
	assert_int_equal(scram_secret_base64(s.stored_key, SCRAM_KEY_LEN, &b), 0);
	assert_string_equal((const char *)b.data, "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=");
	assert_int_equal(scram_secret_base64(s.salt, SCRAM_MAX_SALT_LEN + 1, &b), -1);
	assert_string_equal((const char *)b.data, "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=");
	buf_free(&b);

	assert_true(scram_secret_verify_password(&s, "pencil"));
	assert_false(scram_secret_verify_password(&s, "Pencil"));
	assert_false(scram_secret_verify_password(&s, "pencil "));
	assert_false(scram_secret_verify_password(&s, ""));
	assert_false(scram_secret_verify_password(&s, NULL));
}

/* Independent derivation with OpenSSL primitives only. */
static void openssl_derive(const char *pw, unsigned iter, const unsigned char *salt, size_t salt_len,
			   unsigned char stored[32], unsigned char server[32])
{
	unsigned char salted[32], ck[32];
	unsigned int len;
	assert_int_equal(PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, (int)salt_len, (int)iter, EVP_sha256(), 32,
					   salted),
			 1);
	assert_non_null(HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Client Key", 10, ck, &len));
	SHA256(ck, 32, stored);
	assert_non_null(HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Server Key", 10, server, &len));
}

static void test_cross_check_openssl(void **state)
{
	const struct {
		const char *pw;
		unsigned iter;
		size_t salt_len;
	} cases[] = {
		{"pencil", 4096, 16}, {"x", 1, 1}, {"correct horse battery staple", 1000, 64}, {"p\xc3\xa4ss", 2, 7},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned char salt[64];
		for (size_t k = 0; k < sizeof(salt); k++)
			salt[k] = (unsigned char)(k * 37 + i);
		struct scram_secret s;
		unsigned char stored[32], server[32];
		assert_int_equal(scram_secret_derive(cases[i].pw, cases[i].iter, salt, cases[i].salt_len, &s), 0);
		openssl_derive(cases[i].pw, cases[i].iter, salt, cases[i].salt_len, stored, server);
		assert_memory_equal(s.stored_key, stored, 32);
		assert_memory_equal(s.server_key, server, 32);
	}
}

static void test_from_password(void **state)
{
	struct scram_secret a, b;
	assert_int_equal(scram_secret_from_password("s3cret", SCRAM_DEFAULT_ITERATIONS, &a), 0);
	assert_int_equal(scram_secret_from_password("s3cret", SCRAM_DEFAULT_ITERATIONS, &b), 0);
	assert_int_equal(a.iterations, SCRAM_DEFAULT_ITERATIONS);
	assert_int_equal(a.salt_len, SCRAM_SALT_LEN);
	/* fresh salts, so different keys */
	assert_memory_not_equal(a.salt, b.salt, SCRAM_SALT_LEN);
	assert_memory_not_equal(a.stored_key, b.stored_key, SCRAM_KEY_LEN);
	assert_true(scram_secret_verify_password(&a, "s3cret"));
	assert_true(scram_secret_verify_password(&b, "s3cret"));
	assert_false(scram_secret_verify_password(&a, "s3creT"));

	/* bounds */
	struct scram_secret untouched;
	memset(&untouched, 0x5c, sizeof(untouched));
	struct scram_secret c = untouched;
	assert_int_equal(scram_secret_from_password("pw", 0, &c), -1);
	assert_int_equal(scram_secret_from_password("pw", SCRAM_MAX_ITERATIONS + 1, &c), -1);
	assert_int_equal(scram_secret_from_password("", 1, &c), -1);
	assert_int_equal(scram_secret_from_password(NULL, 1, &c), -1);
	char *longpw = malloc(SCRAM_MAX_PASSWORD_LEN + 2);
	assert_non_null(longpw);
	memset(longpw, 'a', SCRAM_MAX_PASSWORD_LEN + 1);
	longpw[SCRAM_MAX_PASSWORD_LEN + 1] = '\0';
	assert_int_equal(scram_secret_from_password(longpw, 1, &c), -1);
	assert_memory_equal(&c, &untouched, sizeof(c));
	longpw[SCRAM_MAX_PASSWORD_LEN] = '\0';
	assert_int_equal(scram_secret_from_password(longpw, 1, &c), 0);
	assert_true(scram_secret_verify_password(&c, longpw));
	free(longpw);

	unsigned char salt[SCRAM_MAX_SALT_LEN + 1] = {0};
	assert_int_equal(scram_secret_derive("pw", 1, salt, 0, &c), -1);
	assert_int_equal(scram_secret_derive("pw", 1, salt, SCRAM_MAX_SALT_LEN + 1, &c), -1);
	assert_int_equal(scram_secret_derive("pw", 1, NULL, 4, &c), -1);
	assert_int_equal(scram_secret_derive("pw", 1, salt, SCRAM_MAX_SALT_LEN, &c), 0);

	/* A secret with a corrupted iteration count or salt never verifies. */
	c = a;
	c.iterations = 0;
	assert_false(scram_secret_verify_password(&c, "s3cret"));
	c = a;
	c.salt_len = SCRAM_MAX_SALT_LEN + 1;
	assert_false(scram_secret_verify_password(&c, "s3cret"));
	c = a;
	c.iterations++;
	assert_false(scram_secret_verify_password(&c, "s3cret"));
	/* every byte of StoredKey is compared: tamper with each one */
	for (size_t k = 0; k < SCRAM_KEY_LEN; k++) {
		c = a;
		c.stored_key[k] ^= 0x01;
		assert_false(scram_secret_verify_password(&c, "s3cret"));
	}
	c = a;
	assert_true(scram_secret_verify_password(&c, "s3cret"));
}

/* SASLprep is applied (by libgsasl) before PBKDF2. */
static void test_saslprep(void **state)
{
	struct scram_secret s;
	assert_int_equal(scram_secret_derive("a b", 2, (const unsigned char *)"salt", 4, &s), 0);
	/* U+00A0 NO-BREAK SPACE maps to U+0020 */
	assert_true(scram_secret_verify_password(&s, "a\xc2\xa0"
						     "b"));
	/* U+00AD SOFT HYPHEN maps to nothing */
	assert_true(scram_secret_verify_password(&s, "a \xc2\xad"
						     "b"));
	/* prohibited: ASCII control character */
	assert_int_equal(scram_secret_derive("a\x07"
					     "b",
					     2, (const unsigned char *)"salt", 4, &s),
			 -1);
	assert_false(scram_secret_verify_password(&s, "a\x07"
						      "b"));
	/* invalid UTF-8 is refused rather than hashed */
	assert_int_equal(scram_secret_derive("a\xff", 2, (const unsigned char *)"salt", 4, &s), -1);
}

static void test_encode_decode(void **state)
{
	struct scram_secret s, d;
	struct buf b = {0};
	assert_int_equal(scram_secret_decode(rfc_encoded, strlen(rfc_encoded), &d), 0);
	assert_int_equal(d.iterations, 4096);
	assert_int_equal(d.salt_len, 16);
	assert_memory_equal(d.salt, rfc_salt, 16);
	assert_true(scram_secret_verify_password(&d, "pencil"));
	assert_false(scram_secret_verify_password(&d, "pencio"));

	/* round trips over salt lengths 1..64 (all padding cases) */
	for (size_t sl = 1; sl <= SCRAM_MAX_SALT_LEN; sl++) {
		unsigned char salt[SCRAM_MAX_SALT_LEN];
		for (size_t k = 0; k < sl; k++)
			salt[k] = (unsigned char)(0xff - k * 3);
		assert_int_equal(scram_secret_derive("pw", (unsigned)sl, salt, sl, &s), 0);
		buf_reset(&b);
		assert_int_equal(scram_secret_encode(&s, &b), 0);
		memset(&d, 0, sizeof(d));
		assert_int_equal(scram_secret_decode((const char *)b.data, b.len, &d), 0);
		assert_int_equal(d.iterations, s.iterations);
		assert_int_equal(d.salt_len, sl);
		assert_memory_equal(d.salt, salt, sl);
		assert_memory_equal(d.stored_key, s.stored_key, SCRAM_KEY_LEN);
		assert_memory_equal(d.server_key, s.server_key, SCRAM_KEY_LEN);
	}
	/* the maximum iteration count round-trips */
	s.iterations = SCRAM_MAX_ITERATIONS;
	buf_reset(&b);
	assert_int_equal(scram_secret_encode(&s, &b), 0);
	assert_int_equal(scram_secret_decode((const char *)b.data, b.len, &d), 0);
	assert_int_equal(d.iterations, SCRAM_MAX_ITERATIONS);

	/* encode refuses an invalid struct and leaves out alone */
	buf_reset(&b);
	assert_int_equal(buf_append_str(&b, "keep"), 0);
	s.iterations = 0;
	assert_int_equal(scram_secret_encode(&s, &b), -1);
	s.iterations = 1;
	s.salt_len = 0;
	assert_int_equal(scram_secret_encode(&s, &b), -1);
	s.salt_len = SCRAM_MAX_SALT_LEN + 1;
	assert_int_equal(scram_secret_encode(&s, &b), -1);
	assert_string_equal((const char *)b.data, "keep");
	buf_free(&b);
}

#define K1 "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
#define K2 "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="

static void test_decode_rejects(void **state)
{
	const char *bad[] = {
		"",
		"SCRAM-SHA-256$",
		"SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" K1 ":" K2,
		"scram-sha-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" K1 ":" K2,
		"{SCRAM-SHA-256}4096:W22ZaJ0SNY7soEsUEjb6gQ==$" K1 ":" K2,
		" SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" K1 ":" K2,
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" K1 ":" K2 " ",
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" K1 ":" K2 ":",
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" K1 ":" K2 "$",
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" K1 ":",
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" K1,
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$:" K2,
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==",
		"SCRAM-SHA-256$4096:$" K1 ":" K2,			     /* empty salt */
		"SCRAM-SHA-256$:W22ZaJ0SNY7soEsUEjb6gQ==$" K1 ":" K2,	     /* no iterations */
		"SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==$" K1 ":" K2,	     /* zero */
		"SCRAM-SHA-256$04096:W22ZaJ0SNY7soEsUEjb6gQ==$" K1 ":" K2,   /* leading zero */
		"SCRAM-SHA-256$1000001:W22ZaJ0SNY7soEsUEjb6gQ==$" K1 ":" K2, /* too many */
		"SCRAM-SHA-256$99999999999999999999:W22ZaJ0SNY7soEsUEjb6gQ==$" K1 ":" K2,
		"SCRAM-SHA-256$-1:W22ZaJ0SNY7soEsUEjb6gQ==$" K1 ":" K2,
		"SCRAM-SHA-256$+4096:W22ZaJ0SNY7soEsUEjb6gQ==$" K1 ":" K2,
		"SCRAM-SHA-256$40 96:W22ZaJ0SNY7soEsUEjb6gQ==$" K1 ":" K2,
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ=$" K1 ":" K2,     /* bad length */
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ$" K1 ":" K2,	     /* unpadded */
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gR==$" K1 ":" K2,    /* non-zero pad bits */
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7s\noEsUEjb6gQ==$" K1 ":" K2,  /* whitespace */
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsU=jb6gQ==$" K1 ":" K2,    /* '=' inside */
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6g===$" K1 ":" K2,    /* three '=' */
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" K1 ":" K1 "AAAA", /* long key */
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$AAAA:" K2,	     /* short key */
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" K1 ":" K2 "AAAA",
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" K1 ":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dV=",
		"SCRAM-SHA-256$4096:W22Z_J0SNY7soEsUEjb6gQ==$" K1 ":" K2, /* base64url */
		"SCRAM-SHA-256$4096$W22ZaJ0SNY7soEsUEjb6gQ==$" K1 ":" K2,
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==:" K1 ":" K2,
		/* 66-byte salt */
		"SCRAM-SHA-256$1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA$" K1
		":" K2,
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct scram_secret d;
		memset(&d, 0x33, sizeof(d));
		struct scram_secret before = d;
		if (scram_secret_decode(bad[i], strlen(bad[i]), &d) != -1)
			fail_msg("accepted case %zu: \"%s\"", i, bad[i]);
		assert_memory_equal(&d, &before, sizeof(d));
	}
	/* embedded NUL, truncated length, over-long input */
	struct scram_secret d;
	char tmp[sizeof(rfc_encoded)];
	memcpy(tmp, rfc_encoded, sizeof(rfc_encoded));
	tmp[30] = '\0';
	assert_int_equal(scram_secret_decode(tmp, sizeof(rfc_encoded) - 1, &d), -1);
	assert_int_equal(scram_secret_decode(rfc_encoded, strlen(rfc_encoded) - 1, &d), -1);
	assert_int_equal(scram_secret_decode(rfc_encoded, strlen(rfc_encoded), &d), 0);
	char *huge = malloc(SCRAM_SECRET_MAX_ENCODED + 10);
	assert_non_null(huge);
	memset(huge, 'A', SCRAM_SECRET_MAX_ENCODED + 10);
	memcpy(huge, rfc_encoded, strlen(rfc_encoded));
	assert_int_equal(scram_secret_decode(huge, SCRAM_SECRET_MAX_ENCODED + 10, &d), -1);
	free(huge);
	/* 64-byte salt is the maximum and is accepted */
	const char *max_salt = "SCRAM-SHA-256$1:"
			       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==$" K1
			       ":" K2;
	assert_int_equal(scram_secret_decode(max_salt, strlen(max_salt), &d), 0);
	assert_int_equal(d.salt_len, 64);
}

static void test_hex(void **state)
{
	const unsigned char in[] = {0x00, 0x01, 0xab, 0xcd, 0xef, 0xff, 0x10};
	char out[2 * sizeof(in) + 1];
	memset(out, 'x', sizeof(out));
	scram_secret_hex(in, sizeof(in), out);
	assert_string_equal(out, "0001abcdefff10");
	scram_secret_hex(in, 0, out);
	assert_string_equal(out, "");
}

/* End to end: libgsasl's SCRAM-SHA-256 server, fed only our stored secret
 * (base64 salt and keys), authenticates libgsasl's client that knows the
 * password, and refuses a wrong one. */
struct sasl_test {
	const struct scram_secret *secret;
	const char *password;
	bool hex_keys; /* give the server hex keys, as gsasl.h documents */
};

static int set_b64(Gsasl_session *sctx, Gsasl_property prop, const unsigned char *in, size_t len)
{
	struct buf b = {0};
	int rc = GSASL_MALLOC_ERROR;
	if (scram_secret_base64(in, len, &b) == 0)
		rc = gsasl_property_set(sctx, prop, (const char *)b.data);
	buf_free(&b);
	return rc;
}

static int sasl_cb(Gsasl *ctx, Gsasl_session *sctx, Gsasl_property prop)
{
	struct sasl_test *t = gsasl_callback_hook_get(ctx);
	char hex[2 * SCRAM_KEY_LEN + 1], num[16];
	int rc = GSASL_NO_CALLBACK;
	switch (prop) {
	case GSASL_AUTHID:
		rc = gsasl_property_set(sctx, prop, "user");
		break;
	case GSASL_PASSWORD:
		/* only the client asks: the server must do with the secret */
		rc = gsasl_property_set(sctx, prop, t->password);
		break;
	case GSASL_SCRAM_ITER:
		snprintf(num, sizeof(num), "%u", t->secret->iterations);
		rc = gsasl_property_set(sctx, prop, num);
		break;
	case GSASL_SCRAM_SALT:
		rc = set_b64(sctx, prop, t->secret->salt, t->secret->salt_len);
		break;
	case GSASL_SCRAM_STOREDKEY:
	case GSASL_SCRAM_SERVERKEY: {
		const unsigned char *key =
			prop == GSASL_SCRAM_STOREDKEY ? t->secret->stored_key : t->secret->server_key;
		if (t->hex_keys) {
			scram_secret_hex(key, SCRAM_KEY_LEN, hex);
			rc = gsasl_property_set(sctx, prop, hex);
		} else {
			rc = set_b64(sctx, prop, key, SCRAM_KEY_LEN);
		}
		break;
	}
	default:
		break;
	}
	return rc;
}

static int run_exchange(const struct scram_secret *secret, const char *password, bool hex_keys)
{
	Gsasl *sctx_client = NULL, *sctx_server = NULL;
	Gsasl_session *client = NULL, *server = NULL;
	struct sasl_test tc = {secret, password, false}, ts = {secret, NULL, hex_keys};
	assert_int_equal(gsasl_init(&sctx_client), GSASL_OK);
	assert_int_equal(gsasl_init(&sctx_server), GSASL_OK);
	gsasl_callback_hook_set(sctx_client, &tc);
	gsasl_callback_hook_set(sctx_server, &ts);
	gsasl_callback_set(sctx_client, sasl_cb);
	gsasl_callback_set(sctx_server, sasl_cb);
	assert_int_equal(gsasl_client_start(sctx_client, "SCRAM-SHA-256", &client), GSASL_OK);
	assert_int_equal(gsasl_server_start(sctx_server, "SCRAM-SHA-256", &server), GSASL_OK);

	char *c_out = NULL, *s_out = NULL;
	size_t c_len = 0, s_len = 0;
	int crc = GSASL_NEEDS_MORE, src = GSASL_NEEDS_MORE;
	const char *in = NULL;
	size_t in_len = 0;
	for (int round = 0; round < 5; round++) {
		crc = gsasl_step(client, in, in_len, &c_out, &c_len);
		if (crc != GSASL_OK && crc != GSASL_NEEDS_MORE)
			break;
		gsasl_free(s_out);
		s_out = NULL;
		src = gsasl_step(server, c_out, c_len, &s_out, &s_len);
		gsasl_free(c_out);
		c_out = NULL;
		if (src != GSASL_NEEDS_MORE)
			break;
		in = s_out;
		in_len = s_len;
	}
	if (src == GSASL_OK && crc == GSASL_NEEDS_MORE) /* client checks the server's "v=" */
		crc = gsasl_step(client, s_out, s_len, &c_out, &c_len);
	gsasl_free(c_out);
	gsasl_free(s_out);
	gsasl_finish(client);
	gsasl_finish(server);
	gsasl_done(sctx_client);
	gsasl_done(sctx_server);
	return src == GSASL_OK && crc == GSASL_OK ? 0 : -1;
}

static void test_gsasl_exchange(void **state)
{
	struct scram_secret s;
	assert_int_equal(scram_secret_from_password("hunter2", 1024, &s), 0);
	assert_int_equal(run_exchange(&s, "hunter2", false), 0);
	assert_int_equal(run_exchange(&s, "hunter3", false), -1);
	/* Pins the libgsasl 2.2.0 behaviour documented in scram-secret.h: hex
	 * keys are refused even with the right password. If this starts
	 * passing, libgsasl changed and the front-end callback must follow. */
	assert_int_equal(run_exchange(&s, "hunter2", true), -1);
	/* a secret that went through the text form works the same */
	struct buf b = {0};
	struct scram_secret d;
	assert_int_equal(scram_secret_encode(&s, &b), 0);
	assert_int_equal(scram_secret_decode((const char *)b.data, b.len, &d), 0);
	assert_int_equal(run_exchange(&d, "hunter2", false), 0);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7677_known_answer), cmocka_unit_test(test_cross_check_openssl),
		cmocka_unit_test(test_from_password),	      cmocka_unit_test(test_saslprep),
		cmocka_unit_test(test_encode_decode),	      cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_hex),		      cmocka_unit_test(test_gsasl_exchange),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
