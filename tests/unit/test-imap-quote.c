/* Unit tests for common/imap-quote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap-quote.h"

typedef int (*writer_fn)(struct buf *b, const char *s, size_t len);

/* Writes s[0 .. len) with fn after a prefix, checks the exact bytes. */
static void check_mem(writer_fn fn, const char *s, size_t len, const char *expect, size_t expect_len)
{
	struct buf b = {0};
	assert_int_equal(buf_append_str(&b, "X "), 0);
	assert_int_equal(fn(&b, s, len), 0);
	assert_int_equal(b.len, expect_len + 2);
	assert_memory_equal(b.data, "X ", 2);
	assert_memory_equal(b.data + 2, expect, expect_len);
	assert_int_equal(b.data[b.len], '\0');
	buf_free(&b);
}

static void check(writer_fn fn, const char *s, const char *expect)
{
	check_mem(fn, s, strlen(s), expect, strlen(expect));
}

static void test_is_atom(void **state)
{
	assert_true(imap_is_atom("INBOX", 5));
	assert_true(imap_is_atom("a", 1));
	assert_true(imap_is_atom("Default/tel:+4912345@x.y", 24));
	assert_true(imap_is_atom("#OMA.CPM", 8));
	assert_true(imap_is_atom("[x", 2));
	assert_true(imap_is_atom("a{b", 3) == false);
	assert_false(imap_is_atom("", 0));
	assert_false(imap_is_atom(NULL, 0));
	assert_false(imap_is_atom("a b", 3));
	assert_false(imap_is_atom("a(", 2));
	assert_false(imap_is_atom("a)", 2));
	assert_false(imap_is_atom("%", 1));
	assert_false(imap_is_atom("*", 1));
	assert_false(imap_is_atom("\"", 1));
	assert_false(imap_is_atom("\\Seen", 5));
	assert_false(imap_is_atom("a]", 2));
	assert_false(imap_is_atom("a\tb", 3));
	assert_false(imap_is_atom("a\x7f", 2));
	assert_false(imap_is_atom("caf\xc3\xa9", 5));
	assert_false(imap_is_atom("a\0b", 3));
	/* length, not NUL, bounds the check */
	assert_true(imap_is_atom("ab cd", 2));
}

static void test_astring(void **state)
{
	check(imap_write_astring, "INBOX", "INBOX");
	check(imap_write_astring, "NIL", "NIL");
	check(imap_write_astring, "Default/tel:+491701234567", "Default/tel:+491701234567");
	check(imap_write_astring, "", "\"\"");
	check(imap_write_astring, "My Folder", "\"My Folder\"");
	check(imap_write_astring, "a\"b", "\"a\\\"b\"");
	check(imap_write_astring, "a\\b", "\"a\\\\b\"");
	check(imap_write_astring, "\\Seen", "\"\\\\Seen\"");
	check(imap_write_astring, "50%", "\"50%\"");
	check(imap_write_astring, "x]", "\"x]\"");
	check(imap_write_astring, "a\r\nb", "{4}\r\na\r\nb");
	check(imap_write_astring, "caf\xc3\xa9", "{5}\r\ncaf\xc3\xa9");
	check(imap_write_astring, "tab\there", "\"tab\there\""); /* TAB may be quoted (Dovecot quotes it) */
	check_mem(imap_write_astring, "a\0b", 3, "{3}\r\na\0b", 8);
	check_mem(imap_write_astring, NULL, 0, "\"\"", 2);
}

static void test_quoted_or_literal(void **state)
{
	check(imap_write_quoted_or_literal, "INBOX", "\"INBOX\"");
	check(imap_write_quoted_or_literal, "", "\"\"");
	check(imap_write_quoted_or_literal, " ", "\" \"");
	check(imap_write_quoted_or_literal, "\"\\", "\"\\\"\\\\\"");
	check(imap_write_quoted_or_literal, "line\n", "{5}\r\nline\n");
	check(imap_write_quoted_or_literal, "\x7f", "{1}\r\n\x7f");
}

static void test_quoted_length_limit(void **state)
{
	char s[IMAP_QUOTE_MAX_QUOTED + 2];
	memset(s, 'a', sizeof(s));
	char expect[IMAP_QUOTE_MAX_QUOTED + 64];

	/* exactly the limit: quoted (an atom for astring) */
	expect[0] = '"';
	memset(expect + 1, 'a', IMAP_QUOTE_MAX_QUOTED);
	expect[IMAP_QUOTE_MAX_QUOTED + 1] = '"';
	check_mem(imap_write_quoted_or_literal, s, IMAP_QUOTE_MAX_QUOTED, expect, IMAP_QUOTE_MAX_QUOTED + 2);
	check_mem(imap_write_astring, s, IMAP_QUOTE_MAX_QUOTED + 1, s, IMAP_QUOTE_MAX_QUOTED + 1);
	s[5] = ' ';
	expect[6] = ' ';
	check_mem(imap_write_astring, s, IMAP_QUOTE_MAX_QUOTED, expect, IMAP_QUOTE_MAX_QUOTED + 2);

	/* one more, with a space so it is no atom: literal */
	int n = snprintf(expect, sizeof(expect), "{%d}\r\n", IMAP_QUOTE_MAX_QUOTED + 1);
	memcpy(expect + n, s, IMAP_QUOTE_MAX_QUOTED + 1);
	check_mem(imap_write_astring, s, IMAP_QUOTE_MAX_QUOTED + 1, expect, (size_t)n + IMAP_QUOTE_MAX_QUOTED + 1);
	check_mem(imap_write_quoted_or_literal, s, IMAP_QUOTE_MAX_QUOTED + 1, expect,
		  (size_t)n + IMAP_QUOTE_MAX_QUOTED + 1);
	assert_memory_equal(expect, "{1025}\r\n", 8);
}

static void test_nstring(void **state)
{
	struct buf b = {0};
	assert_int_equal(imap_write_nstring(&b, NULL, 0), 0);
	assert_int_equal(buf_append_byte(&b, ' '), 0);
	assert_int_equal(imap_write_nstring(&b, "NIL", 3), 0);
	assert_int_equal(buf_append_byte(&b, ' '), 0);
	assert_int_equal(imap_write_nstring(&b, "", 0), 0);
	assert_int_equal(buf_append_byte(&b, ' '), 0);
	assert_int_equal(imap_write_nstring(&b, "x\ny", 3), 0);
	assert_string_equal((char *)b.data, "NIL \"NIL\" \"\" {3}\r\nx\ny");
	buf_free(&b);
}

static void test_literal(void **state)
{
	check(imap_write_literal, "", "{0}\r\n");
	check(imap_write_literal, "INBOX", "{5}\r\nINBOX");
	check_mem(imap_write_literal, "\0\r\n\xff", 4, "{4}\r\n\0\r\n\xff", 9);
	/* only len bytes are taken */
	check_mem(imap_write_literal, "abcdef", 3, "{3}\r\nabc", 8);
}

static void test_appends_to_existing(void **state)
{
	struct buf b = {0};
	assert_int_equal(buf_append_str(&b, "* LIST () \"/\" "), 0);
	assert_int_equal(imap_write_astring(&b, "Sent Items", 10), 0);
	assert_int_equal(buf_append_str(&b, "\r\n"), 0);
	assert_string_equal((char *)b.data, "* LIST () \"/\" \"Sent Items\"\r\n");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_atom),
		cmocka_unit_test(test_astring),
		cmocka_unit_test(test_quoted_or_literal),
		cmocka_unit_test(test_quoted_length_limit),
		cmocka_unit_test(test_nstring),
		cmocka_unit_test(test_literal),
		cmocka_unit_test(test_appends_to_existing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
