/* Unit tests for common/preview: RFC 8970 preview text (Dovecot 2.3's answers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "preview.h"

/* The preview of a whole message, as the front-end makes it. */
static void check_msg(const char *msg, const char *want)
{
	struct mime_tree *tree = NULL;
	size_t len = strlen(msg);
	assert_int_equal(mime_parse((const unsigned char *)msg, len, &tree), 0);
	struct buf out = {0};
	uint32_t idx;
	if (preview_choose_part(tree, &idx)) {
		const struct mime_part *p = &tree->parts[idx];
		size_t n = p->body_len < PREVIEW_SOURCE_MAX ? p->body_len : PREVIEW_SOURCE_MAX;
		assert_int_equal(preview_make(&out, tree, idx, (const unsigned char *)msg + p->body_off, n,
					      n < p->body_len),
				 0);
	}
	assert_int_equal(out.len, strlen(want));
	if (out.len > 0)
		assert_memory_equal(out.data, want, out.len);
	buf_free(&out);
	mime_tree_free(&tree);
}

static void check_text(const char *text, bool html, const char *want)
{
	struct buf out = {0};
	assert_int_equal(preview_from_text(&out, (const unsigned char *)text, strlen(text), html, false), 0);
	assert_int_equal(out.len, strlen(want));
	if (out.len > 0)
		assert_memory_equal(out.data, want, out.len);
	buf_free(&out);
}

static void test_plain(void **state)
{
	check_msg("From: a@b\r\nSubject: p\r\n\r\n  Hi there,\r\n\r\n> quoted line\r\nThis is  a   test.\r\n-- \r\nsig\r\n",
		  "Hi there, This is a test. -- sig");
	check_msg("From: a@b\n\nline one\nline two\n", "line one line two");
	check_msg("From: a@b\r\nSubject: e\r\n\r\n", "");
	check_text(">top quote\r\nOn Mon wrote:\r\n >not quote\r\n\t tab\there \xc2\xa0nbsp\r\n>> deep\r\nend\r\n", false,
		   "On Mon wrote: >not quote tab here \xc2\xa0nbsp end");
	/* NUL and controls dropped, invalid UTF-8 one U+FFFD per run */
	check_text("nul\0here", false, "nul");
	check_text("ctl\x01\x7fhere", false, "ctlhere");
	check_text("bad \xff\xfe bytes \xe2\x82", false, "bad \xef\xbf\xbd bytes \xef\xbf\xbd");
}

static void test_length(void **state)
{
	char long_text[420] = "";
	for (int i = 0; i < 40; i++)
		strcat(long_text, "abcdefghi ");
	char want[210] = "";
	for (int i = 0; i < 20; i++)
		strcat(want, i ? " abcdefghi" : "abcdefghi");
	check_text(long_text, false, want); /* 200 characters, the trailing space dropped */

	char xs[206];
	memset(xs, 'x', 205);
	xs[205] = '\0';
	check_text(xs, false, xs + 5);

	/* characters, not bytes: 150 e-acute, a space, 49 of U+4E2D */
	char u[1200] = "", uw[1200] = "";
	for (int i = 0; i < 150; i++)
		strcat(u, "\xc3\xa9");
	strcat(u, " ");
	strcpy(uw, u);
	for (int i = 0; i < 100; i++)
		strcat(u, "\xe4\xb8\xad");
	for (int i = 0; i < 49; i++)
		strcat(uw, "\xe4\xb8\xad");
	check_text(u, false, uw);

	/* a character cut by the end of a truncated source is dropped */
	struct buf out = {0};
	assert_int_equal(preview_from_text(&out, (const unsigned char *)"ab\xe4\xb8", 4, false, true), 0);
	assert_int_equal(out.len, 2);
	buf_free(&out);
}

static void test_html(void **state)
{
	check_msg("From: a@b\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n"
		  "<html><head><style>p {color:red}</style><title>T</title></head><body><p>Hello&nbsp;&amp;  "
		  "<b>w\xf6rld</b></p>\r\n\r\n<p>second   para &lt;x&gt; &#228; &eacute;</p><script>var "
		  "x=1;</script>end</body></html>\r\n",
		  "T Hello\xc2\xa0& w\xc3\xb6rld second para <x> \xc3\xa4 end");
	check_text("<!-- comment <b>x</b> --><div>A<br>B</div><blockquote>quoted <blockquote>deeper</blockquote> "
		   "still</blockquote><p>C &quot;q&quot; &#x263A; &bogus;</p><STYLE type=x>y</STYLE>Z<img alt='a>b'>",
		   true, "A B C \"q\" \xe2\x98\xba Z");
	check_text("a < b &amp c <3", true, "a < b &amp c <3");
	check_text("&#0; &#xD800; &#99999999;", true, "\xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd");
	check_text("<script>never closed", true, "");
}

static void test_part_choice(void **state)
{
	/* the first text part, whatever its subtype or disposition */
	check_msg("From: a@b\r\nContent-Type: multipart/mixed; boundary=Q\r\n\r\n--Q\r\nContent-Type: text/html\r\n\r\n"
		  "<p>html first</p>\r\n--Q\r\nContent-Type: text/plain\r\n\r\nplain second\r\n--Q--\r\n",
		  "html first");
	check_msg("From: a@b\r\nContent-Type: multipart/mixed; boundary=ZZ\r\n\r\n--ZZ\r\nContent-Type: image/png\r\n"
		  "Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--ZZ\r\nContent-Type: text/plain\r\n"
		  "Content-Disposition: attachment\r\n\r\nafter image\r\n--ZZ--\r\n",
		  "after image");
	/* nothing inside an attached message, nothing in non-text types */
	check_msg("From: a@b\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d\r\nSubject: in\r\n\r\ninner text\r\n", "");
	check_msg("From: a@b\r\nContent-Type: application/octet-stream\r\n\r\nbinary\r\n", "");
	/* decoded and converted */
	check_msg("From: a@b\r\nContent-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: base64\r\n\r\n"
		  "8NLJ18XUIM3J0g==\r\n",
		  "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\xbc\xd0\xb8\xd1\x80");
	check_msg("From: a@b\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
		  "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
		  "Hello=20w=C3=B6rld=\r\n soft break\r\nline2\r\n--XX--\r\n",
		  "Hello w\xc3\xb6rld soft break line2");
}

static void test_bounded_source(void **state)
{
	/* A huge text part: only PREVIEW_SOURCE_MAX bytes are ever looked at. */
	size_t n = PREVIEW_SOURCE_MAX * 4;
	char *msg = malloc(n + 64);
	assert_non_null(msg);
	strcpy(msg, "From: a@b\r\n\r\n");
	size_t h = strlen(msg);
	memset(msg + h, '>', n); /* all one quoted line */
	msg[h + n] = '\0';
	check_msg(msg, "");
	free(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),	    cmocka_unit_test(test_length),
		cmocka_unit_test(test_html),	    cmocka_unit_test(test_part_choice),
		cmocka_unit_test(test_bounded_source),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
