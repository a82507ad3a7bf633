/* Unit tests for frontend/list-match (LIST wildcard matching). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frontend/list-match.h"

static bool match(const char *pattern, const char *name)
{
	struct list_match *m = list_match_new(pattern, strlen(pattern), '/');
	assert_non_null(m);
	bool r = list_match_name(m, name, strlen(name));
	list_match_free(&m);
	assert_null(m);
	return r;
}

static void test_literal(void **state)
{
	assert_true(match("Default", "Default"));
	assert_false(match("Default", "default"));
	assert_false(match("Default", "Defaul"));
	assert_false(match("Default", "Default/x"));
	assert_true(match("", ""));
	assert_false(match("", "a"));
	assert_true(match("a/b", "a/b"));
}

static void test_star(void **state)
{
	assert_true(match("*", ""));
	assert_true(match("*", "INBOX"));
	assert_true(match("*", "a/b/c"));
	assert_true(match("a*", "a"));
	assert_true(match("a*", "a/b/c"));
	assert_false(match("a*", "ba"));
	assert_true(match("*c", "a/b/c"));
	assert_true(match("a*c", "abc"));
	assert_true(match("a*c", "a/c"));
	assert_false(match("a*c", "a/cd"));
	assert_true(match("a*b*c", "axxbyyc"));
	assert_true(match("a*b*c", "abbbc"));
	assert_false(match("a*b*c", "acb"));
	assert_true(match("**", "x/y"));
}

static void test_percent(void **state)
{
	assert_true(match("%", "INBOX"));
	assert_true(match("%", ""));
	assert_false(match("%", "a/b"));
	assert_true(match("a/%", "a/b"));
	assert_false(match("a/%", "a/b/c"));
	assert_false(match("a/%", "a"));
	assert_true(match("a/%", "a/"));
	assert_true(match("%/%", "a/b"));
	assert_false(match("%/%", "a/b/c"));
	assert_true(match("%/b", "xyz/b"));
	assert_true(match("%%", "abc"));
	assert_false(match("%%", "a/c"));
	/* "%*" and "*%" are "*" */
	assert_true(match("%*", "a/b"));
	assert_true(match("*%", "a/b"));
	assert_true(match("a%*c", "a/x/c"));
	assert_true(match("*/%", "a/b/c"));
	assert_false(match("*/%", "abc"));
}

static void test_inbox_case(void **state)
{
	assert_true(match("inbox", "INBOX"));
	assert_true(match("InBoX", "INBOX"));
	assert_true(match("inb%", "INBOX"));
	assert_true(match("inbox/*", "INBOX/Sent"));
	assert_true(match("INBOX/Sent", "INBOX/Sent"));
	/* only the INBOX part is case-insensitive */
	assert_false(match("inbox/sent", "INBOX/Sent"));
	/* other names stay case-sensitive, even when they start with inbox */
	assert_false(match("inboxes", "INBOXES"));
	assert_false(match("default", "Default"));
}

static void test_bytes(void **state)
{
	/* UTF-8 and special characters are plain bytes */
	assert_true(match("Caf\xc3\xa9/%", "Caf\xc3\xa9/tel:+331"));
	assert_true(match("Default/tel:+*", "Default/tel:+33612345678"));
	struct list_match *m = list_match_new("a%", 2, '/');
	assert_non_null(m);
	assert_true(list_match_name(m, "a\0b", 3));
	list_match_free(&m);
}

static void test_long_patterns(void **state)
{
	/* 1024 bytes is allowed, 1025 is refused */
	char *p = malloc(LIST_MATCH_MAX_PATTERN + 2);
	assert_non_null(p);
	memset(p, 'x', LIST_MATCH_MAX_PATTERN + 1);
	p[LIST_MATCH_MAX_PATTERN + 1] = '\0';
	assert_null(list_match_new(p, LIST_MATCH_MAX_PATTERN + 1, '/'));
	struct list_match *m = list_match_new(p, LIST_MATCH_MAX_PATTERN, '/');
	assert_non_null(m);
	assert_true(list_match_name(m, p, LIST_MATCH_MAX_PATTERN));
	assert_false(list_match_name(m, p, LIST_MATCH_MAX_PATTERN - 1));
	list_match_free(&m);

	/* Alternating wildcards: a backtracking matcher would explode here. */
	for (size_t i = 0; i < LIST_MATCH_MAX_PATTERN; i++)
		p[i] = i % 2 ? '*' : 'a';
	m = list_match_new(p, LIST_MATCH_MAX_PATTERN, '/');
	assert_non_null(m);
	char name[600];
	memset(name, 'a', sizeof(name));
	assert_true(list_match_name(m, name, 512));
	assert_false(list_match_name(m, name, 511));
	/* 511 a's among 600 bytes: one short */
	memset(name + 511, 'b', sizeof(name) - 511);
	assert_false(list_match_name(m, name, 600));
	/* trailing '*' swallows the rest once 512 a's are seen */
	name[511] = 'a';
	assert_true(list_match_name(m, name, 600));
	list_match_free(&m);

	/* a match that crosses word boundaries of the state bitset */
	for (size_t i = 0; i < 200; i++)
		p[i] = (char)('a' + i % 26);
	p[200] = '%';
	m = list_match_new(p, 201, '/');
	assert_true(list_match_name(m, p, 200));
	assert_false(list_match_name(m, p, 199));
	list_match_free(&m);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal),     cmocka_unit_test(test_star),
		cmocka_unit_test(test_percent),     cmocka_unit_test(test_inbox_case),
		cmocka_unit_test(test_bytes),       cmocka_unit_test(test_long_patterns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
