/* Unit tests for client/imapc-resp (the client's response parser). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/imapc-resp.h"

static struct imapc_resp_parser *new_parser(bool keep)
{
	struct imapc_resp_parser *p =
		imapc_resp_parser_new(&(struct imapc_resp_limits){.keep_literals = keep, .max_text = 200,
								  .max_literal = 100, .max_literals = 3});
	assert_non_null(p);
	return p;
}

/* Feeds all of s at once; expects exactly one response that uses all bytes. */
static const struct imapc_resp *one(struct imapc_resp_parser *p, const char *s)
{
	size_t used;
	const struct imapc_resp *r;
	assert_int_equal(imapc_resp_feed(p, s, strlen(s), &used, &r), IMAPC_RESP_READY);
	assert_int_equal(used, strlen(s));
	assert_non_null(r);
	return r;
}

static void test_kinds(void **state)
{
	(void)state;
	struct imapc_resp_parser *p = new_parser(true);
	const struct imapc_resp *r = one(p, "* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n");
	assert_int_equal(r->kind, IMAPC_UNTAGGED);
	assert_int_equal(r->status, IMAPC_OK);
	assert_false(r->has_number);
	assert_string_equal(r->rest, "[CAPABILITY IMAP4rev1 LITERAL+] ready");
	const char *code;
	size_t len;
	assert_true(imapc_resp_code(r, &code, &len));
	assert_int_equal(len, strlen("CAPABILITY IMAP4rev1 LITERAL+"));
	assert_memory_equal(code, "CAPABILITY IMAP4rev1 LITERAL+", len);

	r = one(p, "* 12 EXISTS\r\n");
	assert_int_equal(r->kind, IMAPC_UNTAGGED);
	assert_true(r->has_number);
	assert_int_equal(r->number, 12);
	assert_true(imapc_resp_is(r, "exists"));
	assert_int_equal(r->status, IMAPC_NONE);
	assert_string_equal(r->rest, "");

	r = one(p, "A7 NO [TRYCREATE] no such folder\n"); /* bare LF */
	assert_int_equal(r->kind, IMAPC_TAGGED);
	assert_int_equal(r->tag_len, 2);
	assert_memory_equal(r->tag, "A7", 2);
	assert_int_equal(r->status, IMAPC_NO);
	assert_string_equal(r->rest, "[TRYCREATE] no such folder");
	assert_string_equal(r->text, "A7 NO [TRYCREATE] no such folder");

	r = one(p, "+ idling\r\n");
	assert_int_equal(r->kind, IMAPC_CONTINUATION);
	assert_string_equal(r->rest, "idling");
	r = one(p, "+\r\n");
	assert_int_equal(r->kind, IMAPC_CONTINUATION);
	assert_string_equal(r->rest, "");

	r = one(p, "* SEARCH 1 2 3\r\n");
	assert_true(imapc_resp_is(r, "SEARCH"));
	assert_string_equal(r->rest, "1 2 3");
	r = one(p, "* BYE shutting down\r\n");
	assert_int_equal(r->status, IMAPC_BYE);
	imapc_resp_parser_free(&p);
	assert_null(p);
}

static void test_literals_kept(void **state)
{
	(void)state;
	struct imapc_resp_parser *p = new_parser(true);
	static const char s[] = "* 1 FETCH (UID 5 BODY[] {5}\r\nab\r\nc BODY[1] ~{3}\r\nx\0y)\r\nA1 OK done\r\n";
	size_t total = sizeof(s) - 1;
	size_t used;
	const struct imapc_resp *r;
	assert_int_equal(imapc_resp_feed(p, s, total, &used, &r), IMAPC_RESP_READY);
	assert_int_equal(used, total - strlen("A1 OK done\r\n"));
	assert_int_equal(r->number, 1);
	assert_true(imapc_resp_is(r, "FETCH"));
	assert_string_equal(r->text, "* 1 FETCH (UID 5 BODY[] {5} BODY[1] ~{3})");
	assert_int_equal(r->n_literals, 2);
	assert_int_equal(r->literals[0].len, 5);
	assert_memory_equal(r->literals[0].data, "ab\r\nc", 5);
	assert_false(r->literals[0].binary);
	assert_int_equal(r->literals[0].text_off, strlen("* 1 FETCH (UID 5 BODY[] {5}"));
	assert_int_equal(r->literals[1].len, 3);
	assert_memory_equal(r->literals[1].data, "x\0y", 3);
	assert_true(r->literals[1].binary);
	assert_int_equal(r->literal_bytes, 8);
	uint64_t uid;
	assert_int_equal(imapc_find_number(r->text, r->text_len, "UID", &uid), 0);
	assert_int_equal(uid, 5);
	/* The rest: the tagged response. */
	size_t used2;
	assert_int_equal(imapc_resp_feed(p, s + used, total - used, &used2, &r), IMAPC_RESP_READY);
	assert_int_equal(used + used2, total);
	assert_int_equal(r->kind, IMAPC_TAGGED);
	assert_int_equal(r->n_literals, 0);
	imapc_resp_parser_free(&p);
}

/* Byte by byte gives the same result as all at once. */
static void test_byte_by_byte(void **state)
{
	(void)state;
	struct imapc_resp_parser *p = new_parser(false);
	const char *s = "* 3 FETCH (BODY[] {4}\r\n}\r\n{ FLAGS (\\Seen))\r\n";
	const struct imapc_resp *r = NULL;
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++) {
		size_t used;
		enum imapc_resp_result res = imapc_resp_feed(p, s + i, 1, &used, &r);
		assert_int_equal(used, 1);
		if (i + 1 < n)
			assert_int_equal(res, IMAPC_RESP_NEED_MORE);
		else
			assert_int_equal(res, IMAPC_RESP_READY);
	}
	assert_non_null(r);
	assert_string_equal(r->text, "* 3 FETCH (BODY[] {4} FLAGS (\\Seen))");
	assert_int_equal(r->n_literals, 1);
	assert_null(r->literals[0].data); /* not kept */
	assert_int_equal(r->literals[0].len, 4);
	imapc_resp_parser_free(&p);
}

static void expect_error(const char *s, const char *why)
{
	struct imapc_resp_parser *p = new_parser(true);
	size_t used;
	const struct imapc_resp *r;
	assert_int_equal(imapc_resp_feed(p, s, strlen(s), &used, &r), IMAPC_RESP_ERROR);
	assert_string_equal(imapc_resp_error(p), why);
	/* stays failed */
	assert_int_equal(imapc_resp_feed(p, "* OK\r\n", 6, &used, &r), IMAPC_RESP_ERROR);
	imapc_resp_parser_free(&p);
}

static void test_limits_and_garbage(void **state)
{
	(void)state;
	char longline[300];
	memset(longline, 'x', sizeof(longline));
	longline[0] = '*';
	longline[1] = ' ';
	longline[sizeof(longline) - 1] = '\0';
	expect_error(longline, "response text too long");
	expect_error("* 1 FETCH (BODY[] {101}\r\n", "literal too large");
	expect_error("* 1 FETCH (BODY[] {99999999999999999999999}\r\n", "literal too large");
	expect_error("* 1 X {1}\r\na {1}\r\nb {1}\r\nc {1}\r\n", "too many literals in one response");
	expect_error("\r\n", "empty response line");
	expect_error("A1\r\n", "tagged response without a status");
	expect_error("A1 FETCH x\r\n", "tagged response without OK/NO/BAD/BYE");
	expect_error("*FOO\r\n", "untagged response without a space after '*'");
	expect_error("* 99999999999 EXISTS\r\n", "message number out of range");
	expect_error("* 5\r\n", "number without a keyword");
	struct imapc_resp_parser *p = new_parser(true);
	size_t used;
	const struct imapc_resp *r;
	assert_int_equal(imapc_resp_feed(p, "* OK a\0b\r\n", 10, &used, &r), IMAPC_RESP_ERROR);
	assert_string_equal(imapc_resp_error(p), "NUL byte in response");
	imapc_resp_parser_free(&p);
}

static void test_find_number(void **state)
{
	(void)state;
	const char *s = "* 4 FETCH (XUID 9 UID 17 MODSEQ (12345678901))";
	uint64_t v;
	assert_int_equal(imapc_find_number(s, strlen(s), "UID", &v), 0);
	assert_int_equal(v, 17);
	assert_int_equal(imapc_find_number(s, strlen(s), "MODSEQ", &v), 0);
	assert_int_equal(v, 12345678901ull);
	assert_int_equal(imapc_find_number(s, strlen(s), "FLAGS", &v), -1);
	const char *o = "[HIGHESTMODSEQ 99999999999999999999999]";
	assert_int_equal(imapc_find_number(o, strlen(o), "HIGHESTMODSEQ", &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_literals_kept),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_limits_and_garbage),
		cmocka_unit_test(test_find_number),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
