/* Unit tests for common/base-subject: RFC 5256 section 2.1 base subjects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "base-subject.h"

static void check(const char *in, const char *want, bool want_reply)
{
	struct buf out = {0};
	bool reply = !want_reply;
	assert_int_equal(base_subject(&out, (const unsigned char *)in, strlen(in), 1 << 16, &reply), 0);
	if (out.len != strlen(want) || memcmp(out.data ? (const char *)out.data : "", want, out.len) != 0)
		fail_msg("base_subject(\"%s\") = \"%.*s\", want \"%s\"", in, (int)out.len,
			 out.data ? (const char *)out.data : "", want);
	if (reply != want_reply)
		fail_msg("base_subject(\"%s\"): reply %d, want %d", in, reply, want_reply);
	buf_free(&out);
}

static void test_plain(void **state)
{
	check("hello", "hello", false);
	check("", "", false);
	check("  hello \t  world  ", "hello world", false);
	check("hello\r\n world", "hello world", false);
	check("hello\r\n\tworld\r\n", "hello world", false);
	check("Rex: hello", "Rex: hello", false);
	check("Re hello", "Re hello", false);
	check("Fwdx: a", "Fwdx: a", false);
	check("Reply: a", "Reply: a", false);
	check("hello (fwd) world", "hello (fwd) world", false);
}

static void test_refwd(void **state)
{
	check("Re: hello", "hello", true);
	check("RE: Re: re: hello", "hello", true);
	check("Fwd: hello", "hello", true);
	check("FW: hello", "hello", true);
	check("fw[foo]: hello", "hello", true);
	check("Re [2]: hello", "hello", true);
	check("Re : hello", "hello", true);
	check("Re:hello", "hello", true);
	check("Re:", "", true);
	check("Re: Fwd: Re:  ", "", true);
	check("[a]Re:[b]Fwd: x", "x", true);
	check("[list] Re: hello", "hello", true);
	check("[a] [b] Re: hello", "hello", true);
	check("Re[2] hello", "Re[2] hello", false);
}

static void test_blobs(void **state)
{
	check("[list] hello", "hello", false);
	check("[list]", "[list]", false);
	check("[list]  ", "[list]", false);
	check("[a] [b]", "[b]", false);
	check("[a][b] c", "c", false);
	check("[a", "[a", false);
	check("[a[b] c", "[a[b] c", false);
	check("[] x", "x", false);
	check("x [a]", "x [a]", false);
}

static void test_trailers_and_fwd(void **state)
{
	check("hello (fwd)", "hello", true);
	check("hello (FWD) (fwd)  ", "hello", true);
	check("hello(fwd)", "hello", true);
	check("[Fwd: hello]", "hello", true);
	check("[FWD: Re: [list] hello (fwd)]", "hello", true);
	check("Re: [fwd: x]", "x", true);
	check("[fwd: [fwd: x]]", "x", true);
	check("[fwd: x] y", "y", false); /* "[fwd: x]" is a blob here: step (4) */
	check("[fwd:]", "", true);
}

static void test_encoded_words(void **state)
{
	check("=?utf-8?q?Re=3A_caf=C3=A9?=", "caf\xc3\xa9", true);
	check("=?iso-8859-1?q?Gr=FC=DFe?=", "Gr\xc3\xbc\xc3\x9f" "e", false);
	check("Re: =?utf-8?b?w6l0w6k=?= =?utf-8?b?IGNoYXVk?=", "\xc3\xa9t\xc3\xa9 chaud", true);
	check("=?utf-8?q?_spaced_?=", "spaced", false);
}

static void test_bounds(void **state)
{
	/* Output bound. */
	struct buf out = {0};
	assert_int_equal(base_subject(&out, (const unsigned char *)"Re: abcdef", 10, 3, NULL), 0);
	assert_int_equal(out.len, 3);
	assert_memory_equal(out.data, "abc", 3);
	buf_free(&out);

	/* A long blob chain is linear, not quadratic: 20000 blobs and a word. */
	size_t n = 20000;
	char *s = malloc(3 * n + 2);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + 3 * i, "[a]", 3);
	memcpy(s + 3 * n, "x", 2);
	clock_t t0 = clock();
	assert_int_equal(base_subject(&out, (const unsigned char *)s, strlen(s), 1 << 16, NULL), 0);
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
	assert_int_equal(out.len, 1);
	assert_memory_equal(out.data, "x", 1);
	buf_free(&out);
	/* Only blobs: the last one stays. */
	s[3 * n] = '\0';
	assert_int_equal(base_subject(&out, (const unsigned char *)s, strlen(s), 1 << 16, NULL), 0);
	assert_int_equal(out.len, 3);
	buf_free(&out);
	/* Input beyond BASE_SUBJECT_MAX_IN is not looked at. */
	size_t big = BASE_SUBJECT_MAX_IN + 100;
	char *l = malloc(big);
	assert_non_null(l);
	memset(l, 'y', big);
	assert_int_equal(base_subject(&out, (const unsigned char *)l, big, big, NULL), 0);
	assert_int_equal(out.len, BASE_SUBJECT_MAX_IN);
	buf_free(&out);
	free(l);
	free(s);
	/* NUL and 8-bit bytes are data. */
	assert_int_equal(base_subject(&out, (const unsigned char *)"a\0b\xff", 4, 100, NULL), 0);
	assert_int_equal(out.len, 4);
	buf_free(&out);
}

static void test_cmp(void **state)
{
	const unsigned char *a = (const unsigned char *)"Hello", *b = (const unsigned char *)"hELLO";
	assert_int_equal(base_subject_cmp(a, 5, b, 5), 0);
	assert_true(base_subject_cmp(a, 4, b, 5) < 0);
	assert_true(base_subject_cmp((const unsigned char *)"abc", 3, (const unsigned char *)"ABD", 3) < 0);
	/* Only a-z fold: '_' (0x5F) sorts after 'Z' but before folded 'a'. */
	assert_true(base_subject_cmp((const unsigned char *)"_", 1, (const unsigned char *)"a", 1) > 0);
	assert_true(base_subject_cmp((const unsigned char *)"\xc3", 1, (const unsigned char *)"z", 1) > 0);
	assert_int_equal(base_subject_cmp(NULL, 0, NULL, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),	       cmocka_unit_test(test_refwd),
		cmocka_unit_test(test_blobs),	       cmocka_unit_test(test_trailers_and_fwd),
		cmocka_unit_test(test_encoded_words), cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_cmp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
