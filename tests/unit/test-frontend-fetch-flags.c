/* Unit tests for frontend/fetch-flags (flag lists of FETCH, SELECT, APPEND). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "frontend/fetch-flags.h"

static enum fetch_flag_kind parse(const char *s, uint32_t *bit)
{
	*bit = 0xdead;
	return fetch_flag_parse(s, strlen(s), bit);
}

static void test_parse_system(void **state)
{
	uint32_t bit;
	assert_int_equal(parse("\\Seen", &bit), FETCH_FLAG_KIND_SYSTEM);
	assert_int_equal(bit, FETCH_FLAG_SEEN);
	assert_int_equal(parse("\\SEEN", &bit), FETCH_FLAG_KIND_SYSTEM);
	assert_int_equal(bit, FETCH_FLAG_SEEN);
	assert_int_equal(parse("\\answered", &bit), FETCH_FLAG_KIND_SYSTEM);
	assert_int_equal(bit, FETCH_FLAG_ANSWERED);
	assert_int_equal(parse("\\Flagged", &bit), FETCH_FLAG_KIND_SYSTEM);
	assert_int_equal(bit, FETCH_FLAG_FLAGGED);
	assert_int_equal(parse("\\Deleted", &bit), FETCH_FLAG_KIND_SYSTEM);
	assert_int_equal(bit, FETCH_FLAG_DELETED);
	assert_int_equal(parse("\\Draft", &bit), FETCH_FLAG_KIND_SYSTEM);
	assert_int_equal(bit, FETCH_FLAG_DRAFT);
	assert_int_equal(parse("\\Recent", &bit), FETCH_FLAG_KIND_RECENT);
	assert_int_equal(parse("\\recent", &bit), FETCH_FLAG_KIND_RECENT);
	assert_int_equal(parse("\\Seenx", &bit), FETCH_FLAG_KIND_INVALID);
	assert_int_equal(parse("\\Foo", &bit), FETCH_FLAG_KIND_INVALID);
	assert_int_equal(parse("\\", &bit), FETCH_FLAG_KIND_INVALID);
	assert_int_equal(parse("\\*", &bit), FETCH_FLAG_KIND_INVALID);
	assert_int_equal(fetch_flag_parse("\\Seen", 4, &bit), FETCH_FLAG_KIND_INVALID);
}

static void test_parse_keyword(void **state)
{
	uint32_t bit;
	assert_int_equal(parse("$Forwarded", &bit), FETCH_FLAG_KIND_KEYWORD);
	assert_int_equal(parse("NonJunk", &bit), FETCH_FLAG_KIND_KEYWORD);
	assert_int_equal(parse("a.b-c_d:e+f@g", &bit), FETCH_FLAG_KIND_KEYWORD);
	assert_int_equal(parse("", &bit), FETCH_FLAG_KIND_INVALID);
	assert_int_equal(parse("a b", &bit), FETCH_FLAG_KIND_INVALID);
	assert_int_equal(parse("a]", &bit), FETCH_FLAG_KIND_INVALID);
	assert_int_equal(parse("a%", &bit), FETCH_FLAG_KIND_INVALID);
	assert_int_equal(parse("a*", &bit), FETCH_FLAG_KIND_INVALID);
	assert_int_equal(parse("a(", &bit), FETCH_FLAG_KIND_INVALID);
	assert_int_equal(parse("a{", &bit), FETCH_FLAG_KIND_INVALID);
	assert_int_equal(parse("a\"", &bit), FETCH_FLAG_KIND_INVALID);
	assert_int_equal(parse("a\r\n", &bit), FETCH_FLAG_KIND_INVALID);
	assert_int_equal(parse("caf\xc3\xa9", &bit), FETCH_FLAG_KIND_INVALID);
	assert_int_equal(fetch_flag_parse("a\0b", 3, &bit), FETCH_FLAG_KIND_INVALID);
	char kw[FETCH_FLAGS_MAX_KEYWORD_LEN + 2];
	memset(kw, 'k', sizeof(kw));
	assert_true(fetch_keyword_valid(kw, FETCH_FLAGS_MAX_KEYWORD_LEN));
	assert_false(fetch_keyword_valid(kw, FETCH_FLAGS_MAX_KEYWORD_LEN + 1));
}

static void check_write(uint32_t sys, bool recent, char *const *kw, size_t n, const char *want)
{
	struct buf b = {0};
	fetch_flags_write(&b, sys, recent, kw, n);
	assert_non_null(b.data);
	assert_string_equal((char *)b.data, want);
	buf_free(&b);
}

static void test_write(void **state)
{
	check_write(0, false, NULL, 0, "()");
	check_write(FETCH_FLAG_SEEN, false, NULL, 0, "(\\Seen)");
	check_write(FETCH_FLAG_ALL, true, NULL, 0, "(\\Seen \\Answered \\Flagged \\Deleted \\Draft \\Recent)");
	check_write(0, true, NULL, 0, "(\\Recent)");
	char *kw[] = {"$Forwarded", "bad kw", "", "bad\r\n* BYE", "Junk"};
	check_write(0, false, kw, 5, "($Forwarded Junk)");
	check_write(FETCH_FLAG_DRAFT | FETCH_FLAG_FLAGGED, false, kw, 1, "(\\Flagged \\Draft $Forwarded)");
	/* unknown bits are ignored */
	check_write(0x100, false, NULL, 0, "()");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_system),
		cmocka_unit_test(test_parse_keyword),
		cmocka_unit_test(test_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
