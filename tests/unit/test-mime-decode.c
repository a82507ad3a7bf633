/* Unit tests for common/mime-decode: transfer decoding and charsets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mime-decode.h"

static void check(const char *body, const char *enc, const char *cs, const char *want)
{
	struct buf out = {0};
	assert_int_equal(mime_decode_text(&out, (const unsigned char *)body, strlen(body), enc, enc ? strlen(enc) : 0,
					  cs, cs ? strlen(cs) : 0, 1 << 20),
			 0);
	assert_int_equal(out.len, strlen(want));
	assert_memory_equal(out.data, want, out.len);
	buf_free(&out);
}

static void test_quoted_printable(void **state)
{
	check("caf=C3=A9 =\r\nsoft", "quoted-printable", "utf-8", "caf\xc3\xa9 soft");
	check("a=3Db=\nc", "Quoted-Printable", NULL, "a=bc");
	check("bad =ZZ end=", "quoted-printable", NULL, "bad =ZZ end=");
	check("caf=E9", "quoted-printable", "ISO-8859-1", "caf\xc3\xa9");
}

static void test_base64(void **state)
{
	check("SGVsbG8sIFdvcmxkIQ==", "base64", NULL, "Hello, World!");
	check("SGVs\r\nbG8s IFdv\tcmxk\r\nIQ==\r\n", "BASE64", NULL, "Hello, World!");
	check("SGVsbG8*&^%", "base64", NULL, "Hel"); /* garbage skipped, the partial group dropped */
	check("", "base64", NULL, "");
}

static void test_charsets(void **state)
{
	check("K\xf6ln", NULL, "iso-8859-1", "K\xc3\xb6ln");
	check("plain", "7bit", "us-ascii", "plain");
	check("unchanged \xff", NULL, "x-no-such-charset", "unchanged \xff");
	/* An invalid sequence in the source charset is kept, the rest converted. */
	check("a\xff" "b", NULL, "utf-8", "a\xff" "b");
}

static void test_bounded(void **state)
{
	struct buf out = {0};
	char big[5000];
	memset(big, 'x', sizeof(big));
	assert_int_equal(mime_decode_text(&out, (const unsigned char *)big, sizeof(big), NULL, 0, NULL, 0, 100), 0);
	assert_int_equal(out.len, 100);
	buf_free(&out);
}

static void words(const char *in, const char *want)
{
	struct buf out = {0};
	assert_int_equal(mime_decode_words(&out, (const unsigned char *)in, strlen(in), 1 << 16), 0);
	assert_int_equal(out.len, strlen(want));
	assert_memory_equal(out.data, want, out.len);
	buf_free(&out);
}

static void test_encoded_words(void **state)
{
	words("=?UTF-8?B?R3LDvMOfZQ==?=", "Gr\xc3\xbc\xc3\x9f" "e");
	words("=?iso-8859-1?q?caf=E9_cr=E8me?=", "caf\xc3\xa9 cr\xc3\xa8me");
	words("Re: =?utf-8?q?a?= =?utf-8?q?b?= end", "Re: ab end");
	words("=?utf-8*en?Q?x?=", "x");
	words("not =?encoded", "not =?encoded");
	words("=?utf-8?X?bad?=", "=?utf-8?X?bad?=");
	words("=?utf-8?q?has space?=", "=?utf-8?q?has space?=");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quoted_printable),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_charsets),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_encoded_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
