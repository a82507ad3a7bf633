/* Unit tests for common/unicode-casemap: i;unicode-casemap (RFC 5051) matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "unicode-casemap.h"

static int contains_len(const char *hay, size_t hl, const char *needle)
{
	uint32_t *n = NULL;
	size_t nn = 0;
	assert_int_equal(ucm_fold((const unsigned char *)needle, strlen(needle), &n, &nn), 0);
	int rc = ucm_contains(n, nn, (const unsigned char *)hay, hl);
	free(n);
	return rc;
}

static int contains(const char *hay, const char *needle)
{
	return contains_len(hay, strlen(hay), needle);
}

static void test_fold(void **state)
{
	uint32_t *n = NULL;
	size_t nn = 0;
	/* "é" titlecased is "É", NFKD gives E + U+0301; "ﬁ" has no simple
	 * titlecase, NFKD makes it "fi" (lower case, as the RFC's order says and
	 * Dovecot answers); final sigma is Σ */
	assert_int_equal(ucm_fold((const unsigned char *)"\xc3\xa9\xef\xac\x81\xcf\x82", 7, &n, &nn), 0);
	assert_int_equal(nn, 5);
	assert_int_equal(n[0], 'E');
	assert_int_equal(n[1], 0x301);
	assert_int_equal(n[2], 'f');
	assert_int_equal(n[3], 'i');
	assert_int_equal(n[4], 0x3a3);
	free(n);
	/* ß has no simple titlecase mapping: it stays itself */
	assert_int_equal(ucm_fold((const unsigned char *)"\xc3\x9f", 2, &n, &nn), 0);
	assert_int_equal(nn, 1);
	assert_int_equal(n[0], 0xdf);
	free(n);
	/* an invalid byte stands for itself */
	assert_int_equal(ucm_fold((const unsigned char *)"a\xff", 2, &n, &nn), 0);
	assert_int_equal(nn, 2);
	assert_int_equal(n[1], UCM_INVALID_BASE + 0xff);
	free(n);
	assert_int_equal(ucm_fold((const unsigned char *)"", 0, &n, &nn), 0);
	assert_int_equal(nn, 0);
	free(n);
}

static void test_ascii(void **state)
{
	assert_int_equal(contains("Hello World", "WORLD"), 1);
	assert_int_equal(contains("Hello World", "o w"), 1);
	assert_int_equal(contains("Hello World", "worlds"), 0);
	assert_int_equal(contains("anything", ""), 1);
	assert_int_equal(contains("", "x"), 0);
	assert_int_equal(contains("aaaaab", "aaab"), 1); /* KMP fallback */
	assert_int_equal(contains("abababac", "ababac"), 1);
}

static void test_unicode(void **state)
{
	/* Greek: sigma forms and tonos */
	assert_int_equal(contains("\xce\xa3\xce\x8a\xce\xa3\xce\xa5\xce\xa6\xce\x9f\xce\xa3",   /* ΣΊΣΥΦΟΣ */
				  "\xcf\x83\xce\xaf\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf\x82"), /* σίσυφος */
			 1);
	/* Cyrillic */
	assert_int_equal(contains("\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2", "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2"), 1);
	/* precomposed and decomposed accents are the same */
	assert_int_equal(contains("caf\xc3\xa9", "CAFE\xcc\x81"), 1);
	assert_int_equal(contains("cafe\xcc\x81", "caf\xc3\x89"), 1);
	/* the accent is a separate mark: "cafe" is a substring of "café" */
	assert_int_equal(contains("caf\xc3\xa9", "cafe"), 1);
	assert_int_equal(contains("cafe", "caf\xc3\xa9"), 0);
	/* RFC 5051 does not map ß to SS */
	assert_int_equal(contains("stra\xc3\x9f" "e", "STRASSE"), 0);
	assert_int_equal(contains("STRA\xc3\x9f" "E", "stra\xc3\x9f" "e"), 1);
	/* compatibility forms: ligature (titlecased before NFKD, so only "fi"
	 * spelt the same way matches, as in Dovecot), fullwidth */
	assert_int_equal(contains("\xef\xac\x81le", "FILE"), 0);
	assert_int_equal(contains("\xef\xac\x81le", "\xef\xac\x81LE"), 1);
	/* titlecase digraphs: DŽ, Dž and dž are one */
	assert_int_equal(contains("\xc7\x86" "emal", "\xc7\x84" "EMAL"), 1);
	assert_int_equal(contains("\xc7\x86" "emal", "dzemal"), 0);
	assert_int_equal(contains("\xef\xbc\xa1\xef\xbc\xa2", "ab"), 1);
}

/* The pure-ASCII fast path answers as the full folding does: checked
 * against a reference (fold both sides, search the code points). */
static int reference_contains(const char *needle, const char *hay)
{
	uint32_t *n = NULL, *h = NULL;
	size_t nn = 0, hn = 0;
	assert_int_equal(ucm_fold((const unsigned char *)needle, strlen(needle), &n, &nn), 0);
	assert_int_equal(ucm_fold((const unsigned char *)hay, strlen(hay), &h, &hn), 0);
	int found = nn == 0;
	for (size_t i = 0; !found && i + nn <= hn; i++)
		found = memcmp(h + i, n, nn * sizeof(uint32_t)) == 0;
	free(n);
	free(h);
	return found;
}

static void test_ascii_fast_path_matches_folding(void **state)
{
	static const char alphabet[] = "aAbBzZ09 -_\t\r\n[]";
	unsigned seed = 12345;
	for (int round = 0; round < 3000; round++) {
		char hay[64], needle[6];
		size_t hl = (size_t)(rand_r(&seed) % 40), nl = (size_t)(rand_r(&seed) % 5);
		for (size_t i = 0; i < hl; i++)
			hay[i] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		hay[hl] = '\0';
		for (size_t i = 0; i < nl; i++)
			needle[i] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		needle[nl] = '\0';
		uint32_t *n = NULL;
		size_t nn = 0;
		assert_int_equal(ucm_fold((const unsigned char *)needle, nl, &n, &nn), 0);
		assert_int_equal(ucm_contains(n, nn, (const unsigned char *)hay, hl), reference_contains(needle, hay));
		free(n);
	}
	/* Non-ASCII needles against ASCII text: only an ASCII canonical form can match. */
	uint32_t *n = NULL;
	size_t nn = 0;
	assert_int_equal(ucm_fold((const unsigned char *)"\xef\xbc\xa6ile", 6, &n, &nn), 0); /* fullwidth F: FILE */
	assert_int_equal(ucm_contains(n, nn, (const unsigned char *)"a Profile", 9), 1);
	free(n);
	assert_int_equal(ucm_fold((const unsigned char *)"\xef\xac\x81le", 5, &n, &nn), 0); /* ligature: fiLE */
	assert_int_equal(ucm_contains(n, nn, (const unsigned char *)"a Profile", 9), reference_contains("\xef\xac\x81le", "a Profile"));
	free(n);
	assert_int_equal(ucm_fold((const unsigned char *)"caf\xc3\xa9", 5, &n, &nn), 0);
	assert_int_equal(ucm_contains(n, nn, (const unsigned char *)"cafe", 4), 0);
	free(n);
}

/* The word-at-a-time ASCII scan: hits across 8-byte words, first
 * characters whose case pair is not a letter pair ('@' and '`', '[' and
 * '{'), and non-ASCII text (a fullwidth letter folds to ASCII, so it must
 * still be found) before, after and inside the hit. */
static void test_ascii_scan_words(void **state)
{
	static const char *const pieces[] = {"a", "B", "@", "`", "[", "{", " ", "\r\n", "\xc3\xa9", "\xef\xbd\x81"};
	unsigned seed = 777;
	for (int round = 0; round < 4000; round++) {
		char hay[160] = "", needle[16] = "";
		size_t hp = (size_t)(rand_r(&seed) % 40), np = 1 + (size_t)(rand_r(&seed) % 4);
		for (size_t i = 0; i < hp; i++)
			strcat(hay, pieces[rand_r(&seed) % (sizeof(pieces) / sizeof(*pieces))]);
		for (size_t i = 0; i < np; i++)
			strcat(needle, pieces[rand_r(&seed) % 8]);
		uint32_t *n = NULL;
		size_t nn = 0;
		assert_int_equal(ucm_fold((const unsigned char *)needle, strlen(needle), &n, &nn), 0);
		assert_int_equal(ucm_contains(n, nn, (const unsigned char *)hay, strlen(hay)), reference_contains(needle, hay));
		free(n);
	}
	assert_int_equal(contains("0123456789abcdef the word \xc3\xa9", "THE WORD"), 1);
	assert_int_equal(contains("\xc3\xa9 0123456789abcdef the word", "THE WORD"), 1);
	assert_int_equal(contains("0123456789abcdef th\xef\xbd\x85 word", "THE WORD"), 1); /* fullwidth e */
	assert_int_equal(contains("0123456789abcdef `x@y", "@Y"), 1);
	assert_int_equal(contains("0123456789abcdef `x@y", "`X@"), 1);
	assert_int_equal(contains("0123456789abcdef `x@y", "@X"), 0);
	assert_int_equal(contains("0123456789abcdef{[{[", "[{["), 1);
	assert_int_equal(contains("0123456789abcdef{{{{", "[["), 0);
}

static void test_invalid_utf8(void **state)
{
	assert_int_equal(contains("bad \xff\xfe bytes", "BYTES"), 1);
	assert_int_equal(contains("bad \xff\xfe bytes", "\xff\xfe"), 1);
	assert_int_equal(contains("bad \xff bytes", "\xef\xbf\xbd"), 0); /* not U+FFFD */
	assert_int_equal(contains("cut \xe2\x82", "cut"), 1);
	assert_int_equal(contains_len("nul\0inside", 10, "INSIDE"), 1);
}

static void test_chunks(void **state)
{
	/* matches across chunk boundaries, in a text many chunks long */
	size_t len = UCM_CHUNK * 10 + 7;
	char *h = malloc(len + 1);
	assert_non_null(h);
	for (size_t i = 0; i < len; i++)
		h[i] = 'a' + (char)(i % 3);
	h[len] = '\0';
	for (size_t at = UCM_CHUNK - 70; at < UCM_CHUNK + 5; at++) {
		char save[4];
		memcpy(save, h + at, 4);
		memcpy(h + at, "\xc3\xa9XY", 4);
		assert_int_equal(contains(h, "E\xcc\x81xy"), 1);
		memcpy(h + at, save, 4);
	}
	assert_int_equal(contains(h, "E\xcc\x81xy"), 0);
	/* a long run of combining marks is cut anyway */
	char *marks = malloc(2 * UCM_CHUNK * 3 + 1);
	assert_non_null(marks);
	for (size_t i = 0; i < 2 * UCM_CHUNK; i++)
		memcpy(marks + 2 * i, "\xcc\x81", 2);
	assert_int_equal(contains_len(marks, 4 * UCM_CHUNK, "x"), 0);
	free(marks);
	free(h);
	/* needles are bounded */
	uint32_t *n = NULL;
	size_t nn;
	char *big = calloc(UCM_NEEDLE_MAX + 1, 1);
	assert_non_null(big);
	assert_int_equal(ucm_fold((const unsigned char *)big, UCM_NEEDLE_MAX + 1, &n, &nn), -1);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold),	      cmocka_unit_test(test_ascii),  cmocka_unit_test(test_unicode),
		cmocka_unit_test(test_invalid_utf8), cmocka_unit_test(test_chunks),
		cmocka_unit_test(test_ascii_fast_path_matches_folding), cmocka_unit_test(test_ascii_scan_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
