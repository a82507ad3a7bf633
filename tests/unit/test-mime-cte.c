/* Unit tests for common/mime-cte: resumable transfer decoders. The decoded
 * bytes must not depend on where the input is split, how small the output
 * windows are, or whether the state went through save/load between calls;
 * base64 groups must decode exactly as OpenSSL's EVP_DecodeBlock (the
 * decoder used before), quoted-printable as the former one-pass decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>

#include "buf.h"
#include "hex.h"
#include "mime-cte.h"

/* Whole input, one call. */
static size_t whole(enum mime_cte cte, const unsigned char *in, size_t len, unsigned char *out, bool *nul_r)
{
	struct mime_cte_dec d;
	size_t got = 0;
	mime_cte_dec_init(&d, cte);
	size_t took = mime_cte_dec_run(&d, in, len, true, out, len + 1, &got);
	assert_int_equal(took, len);
	assert_true(mime_cte_dec_idle(&d));
	assert_true(got <= len); /* decoding never grows */
	*nul_r = d.nul;
	return got;
}

/* The input fed in pieces split at `split` (and then `step` bytes at a
 * time), output windows of `win` bytes, the state saved and loaded before
 * every call (as the back-end does between two RPCs). out NULL: count. */
static size_t windowed(enum mime_cte cte, const unsigned char *in, size_t len, size_t split, size_t step, size_t win,
		       unsigned char *out, bool *nul_r)
{
	unsigned char st[MIME_CTE_STATE_MAX];
	size_t st_len = 0, pos = 0, total = 0;
	bool nul = false;
	for (int guard = 0;; guard++) {
		assert_true(guard < 10000000);
		struct mime_cte_dec d;
		assert_int_equal(mime_cte_dec_load(&d, cte, st, st_len), 0);
		size_t end = pos < split ? split : pos + step;
		if (end > len)
			end = len;
		size_t got = 0;
		size_t took = mime_cte_dec_run(&d, in + pos, end - pos, end == len, out ? out + total : NULL, win, &got);
		assert_true(took <= end - pos && got <= win);
		nul = nul || d.nul;
		/* The NUL flag speaks of this window's bytes only (a partial's
		 * literal8 choice must not see a NUL just past its end). */
		if (out != NULL)
			assert_int_equal(d.nul, got > 0 && memchr(out + total, 0, got) != NULL);
		pos += took;
		total += got;
		st_len = mime_cte_dec_save(&d, st);
		assert_true(st_len <= MIME_CTE_STATE_MAX);
		if (pos == len && mime_cte_dec_idle(&d))
			break;
	}
	*nul_r = nul;
	return total;
}

static void check(enum mime_cte cte, const char *in, const char *want, size_t want_len)
{
	unsigned char out[1024];
	bool nul;
	size_t n = whole(cte, (const unsigned char *)in, strlen(in), out, &nul);
	assert_int_equal(n, want_len);
	assert_memory_equal(out, want, n);
	assert_int_equal(nul, memchr(want, 0, want_len) != NULL);
}

static void test_vectors(void **state)
{
	check(MIME_CTE_QP, "caf=C3=A9 =\r\nsoft", "caf\xc3\xa9 soft", 10);
	check(MIME_CTE_QP, "a=3db=\nc", "a=bc", 4);
	check(MIME_CTE_QP, "bad =ZZ end=", "bad =ZZ end=", 12);
	check(MIME_CTE_QP, "x= \t\r\ny=4", "xy=4", 4);
	check(MIME_CTE_QP, "==41=\rB= 41", "=AB= 41", 7);
	check(MIME_CTE_QP, "nul=00!", "nul\0!", 5);
	check(MIME_CTE_BASE64, "aGVs\r\nbG8=\r\n", "hello", 5);
	check(MIME_CTE_BASE64, "a G!V*s b\nG 8 =", "hello", 5);
	check(MIME_CTE_BASE64, "AAEC", "\0\1\2", 3);
	check(MIME_CTE_BASE64, "aGVsbA", "hel", 3); /* incomplete group dropped */
	check(MIME_CTE_IDENTITY, "as\tis=41", "as\tis=41", 8);
	/* "QQAA" is "A" NUL NUL: a 1-byte window delivers "A" and owes the NULs. */
	unsigned char out[8];
	bool nul;
	assert_int_equal(windowed(MIME_CTE_BASE64, (const unsigned char *)"QQAA", 4, 4, 1, 1, out, &nul), 3);
	assert_memory_equal(out, "A\0\0", 3);
	assert_int_equal(windowed(MIME_CTE_QP, (const unsigned char *)"x=00", 4, 2, 1, 1, out, &nul), 2);
	assert_int_equal(mime_cte_parse((const unsigned char *)"Base64", 6), MIME_CTE_BASE64);
	assert_int_equal(mime_cte_parse((const unsigned char *)"QUOTED-PRINTABLE", 16), MIME_CTE_QP);
	assert_int_equal(mime_cte_parse(NULL, 0), MIME_CTE_IDENTITY);
	assert_int_equal(mime_cte_parse((const unsigned char *)"8bit", 4), MIME_CTE_IDENTITY);
	assert_int_equal(mime_cte_parse((const unsigned char *)"x-uuencode", 10), MIME_CTE_UNKNOWN);
}

/* The soft break's blank run is bounded; one blank more keeps the "=". */
static void test_qp_blank_run(void **state)
{
	unsigned char in[MIME_CTE_QP_BLANKS_MAX + 8], out[sizeof(in)];
	bool nul;
	in[0] = 'a';
	in[1] = '=';
	memset(in + 2, ' ', MIME_CTE_QP_BLANKS_MAX);
	memcpy(in + 2 + MIME_CTE_QP_BLANKS_MAX, "\r\nb", 3);
	size_t len = 5 + MIME_CTE_QP_BLANKS_MAX;
	assert_int_equal(whole(MIME_CTE_QP, in, len, out, &nul), 2);
	assert_memory_equal(out, "ab", 2);
	memmove(in + 3, in + 2, len - 2);
	in[2] = '\t';
	assert_int_equal(whole(MIME_CTE_QP, in, len + 1, out, &nul), len + 1);
	assert_memory_equal(out, in, len + 1);
}

/* Every group of 4 characters of the base64 alphabet and "=" decodes as
 * EVP_DecodeBlock does (minus the "=" padding, as before). */
static void test_base64_groups_match_openssl(void **state)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
	unsigned char g[4], a[4], b[4];
	size_t n = strlen(alpha);
	for (size_t i = 0; i < n * n * n * n; i++) {
		size_t k = i;
		for (int j = 0; j < 4; j++, k /= n)
			g[j] = (unsigned char)alpha[k % n];
		int got = EVP_DecodeBlock(a, g, 4);
		assert_int_equal(got, 3);
		size_t pad = g[3] == '=' ? (g[2] == '=' ? 2 : 1) : 0;
		bool nul;
		size_t m = whole(MIME_CTE_BASE64, g, 4, b, &nul);
		if (m != 3 - pad || memcmp(a, b, m) != 0)
			fail_msg("group %.4s", (const char *)g);
	}
}

/* The former one-pass quoted-printable decoder (no blank bound). */
static size_t qp_model(const unsigned char *p, size_t len, unsigned char *out)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '=') {
			out[n++] = p[i];
			continue;
		}
		size_t j = i + 1;
		while (j < len && (p[j] == ' ' || p[j] == '\t'))
			j++;
		if (j < len && (p[j] == '\r' || p[j] == '\n')) {
			if (p[j] == '\r' && j + 1 < len && p[j + 1] == '\n')
				j++;
			i = j;
			continue;
		}
		int hi = i + 2 < len ? hex_digit(p[i + 1]) : -1, lo = i + 2 < len ? hex_digit(p[i + 2]) : -1;
		if (hi >= 0 && lo >= 0) {
			out[n++] = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else {
			out[n++] = '=';
		}
	}
	return n;
}

static unsigned long long rng = 0x9e3779b97f4a7c15ull;
static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static void random_input(enum mime_cte cte, unsigned char *p, size_t len)
{
	static const char qp[] = "==== \t\r\n0123456789abcdefABCDEFGxyz\0";
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n !*\0\x80";
	for (size_t i = 0; i < len; i++) {
		if (cte == MIME_CTE_QP)
			p[i] = (unsigned char)qp[rnd(sizeof(qp) - 1)];
		else if (cte == MIME_CTE_BASE64)
			p[i] = (unsigned char)b64[rnd(sizeof(b64) - 1)];
		else
			p[i] = (unsigned char)rnd(256);
	}
}

/* Base64 with line breaks and garbage, quoted-printable and identity input:
 * split at every position, with output windows of 1, 2, 3, 5 and 64 bytes,
 * decoding or only counting: always the bytes of one whole call. */
static void test_every_split(void **state)
{
	enum mime_cte ctes[] = {MIME_CTE_BASE64, MIME_CTE_QP, MIME_CTE_IDENTITY};
	size_t wins[] = {1, 2, 3, 5, 64, SIZE_MAX};
	unsigned char in[200], ref[200], out[200], model[200];
	for (int round = 0; round < 12; round++) {
		for (size_t c = 0; c < 3; c++) {
			size_t len = 1 + rnd(120);
			random_input(ctes[c], in, len);
			bool ref_nul, nul;
			size_t n = whole(ctes[c], in, len, ref, &ref_nul);
			assert_int_equal(ref_nul, n > 0 && memchr(ref, 0, n) != NULL);
			if (ctes[c] == MIME_CTE_QP) {
				size_t m = qp_model(in, len, model);
				assert_int_equal(m, n);
				assert_memory_equal(model, ref, n);
			}
			for (size_t split = 0; split <= len; split++) {
				for (size_t w = 0; w < sizeof(wins) / sizeof(wins[0]); w++) {
					size_t step = 1 + (split + w) % 17;
					memset(out, 0xAA, sizeof(out));
					size_t m = windowed(ctes[c], in, len, split, step, wins[w], out, &nul);
					assert_int_equal(m, n);
					assert_memory_equal(out, ref, n);
					assert_int_equal(nul, ref_nul);
					assert_int_equal(windowed(ctes[c], in, len, split, step, wins[w], NULL, &nul), n);
					assert_int_equal(nul, ref_nul);
				}
			}
		}
	}
}

/* A 1 MB base64 body in 64 KiB reads: the output of one call. */
static void test_large_base64(void **state)
{
	size_t raw_len = 1 << 20;
	unsigned char *raw = malloc(raw_len), *enc = malloc(raw_len * 2), *out = malloc(raw_len);
	assert_non_null(raw);
	assert_non_null(enc);
	assert_non_null(out);
	for (size_t i = 0; i < raw_len; i++)
		raw[i] = (unsigned char)rnd(256);
	size_t el = 0;
	for (size_t i = 0; i < raw_len; i += 57) {
		size_t n = raw_len - i < 57 ? raw_len - i : 57;
		el += (size_t)EVP_EncodeBlock(enc + el, raw + i, (int)n);
		enc[el++] = '\r';
		enc[el++] = '\n';
	}
	bool nul;
	assert_int_equal(windowed(MIME_CTE_BASE64, enc, el, 0, 65536, 256 << 10, out, &nul), raw_len);
	assert_memory_equal(out, raw, raw_len);
	free(raw);
	free(enc);
	free(out);
}

/* Saved states are untrusted: anything either loads as a valid state or is refused. */
static void test_load_hostile(void **state)
{
	unsigned char st[MIME_CTE_STATE_MAX + 8], out[512];
	struct mime_cte_dec d;
	assert_int_equal(mime_cte_dec_load(&d, MIME_CTE_UNKNOWN, NULL, 0), -1);
	assert_int_equal(mime_cte_dec_load(&d, MIME_CTE_QP, NULL, 0), 0);
	assert_true(mime_cte_dec_idle(&d));
	for (int i = 0; i < 200000; i++) {
		size_t len = rnd(sizeof(st));
		for (size_t k = 0; k < len; k++)
			st[k] = (unsigned char)(k < 4 ? rnd(5) : rnd(4) == 0 ? rnd(256) : (unsigned)(unsigned char)"= \t4"[rnd(4)]);
		if (len > 4 && rnd(2) == 0) {
			st[3] = (unsigned char)rnd(len - 4);
			if (4 + (size_t)st[3] < len)
				st[4 + st[3]] = (unsigned char)(len - 5 - st[3]);
		}
		enum mime_cte cte = (enum mime_cte)(1 + rnd(4));
		if (mime_cte_dec_load(&d, cte, st, len) < 0)
			continue;
		size_t got;
		mime_cte_dec_run(&d, (const unsigned char *)"=41 x\r\n", 7, true, out, sizeof(out), &got);
		assert_true(mime_cte_dec_idle(&d));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_qp_blank_run),
		cmocka_unit_test(test_base64_groups_match_openssl),
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_large_base64),
		cmocka_unit_test(test_load_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
