/*
 * Unit tests for common/acl-rights.c: RFC 4314 letters ↔ bits — every
 * standard letter, the obsolete c (k x) and d (t e) in and out, the print
 * order (Dovecot's), an empty set, and an unknown letter refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "acl-rights.h"

static uint32_t parse_ok(const char *s)
{
	uint32_t bits = 0xdeadbeef;
	char bad = 0;
	assert_int_equal(acl_rights_parse(s, strlen(s), &bits, &bad), 0);
	return bits;
}

static void test_letters(void **state)
{
	(void)state;
	assert_int_equal(parse_ok(""), 0);
	assert_int_equal(parse_ok("l"), ACL_L);
	assert_int_equal(parse_ok("lrwstipekxa"), ACL_ALL);
	assert_int_equal(parse_ok("axkepitswrl"), ACL_ALL);
	assert_int_equal(parse_ok("c"), ACL_K | ACL_X);
	assert_int_equal(parse_ok("d"), ACL_T | ACL_E);
	assert_int_equal(parse_ok("lrr"), ACL_L | ACL_R);
}

static void test_unknown_letter(void **state)
{
	(void)state;
	uint32_t bits = 7;
	char bad = 0;
	assert_int_equal(acl_rights_parse("lrz", 3, &bits, &bad), -1);
	assert_int_equal(bad, 'z');
	assert_int_equal(acl_rights_parse("L", 1, &bits, &bad), -1);
	assert_int_equal(bad, 'L');
	/* A NUL inside the length is not a letter either. */
	assert_int_equal(acl_rights_parse("l\0r", 3, &bits, &bad), -1);
	assert_int_equal(bits, 7);
}

static void test_format(void **state)
{
	(void)state;
	char out[ACL_RIGHTS_BUFSZ];
	acl_rights_format(ACL_ALL, out);
	assert_string_equal(out, "lrwstipekxacd");
	acl_rights_format(0, out);
	assert_string_equal(out, "");
	acl_rights_format(ACL_L | ACL_R | ACL_I, out);
	assert_string_equal(out, "lri");
	acl_rights_format(ACL_K, out);
	assert_string_equal(out, "kc");
	acl_rights_format(ACL_E, out);
	assert_string_equal(out, "ed");
	acl_rights_format(ACL_A | ACL_L, out);
	assert_string_equal(out, "la");
	/* Bits above the standard rights print nothing. */
	acl_rights_format(ACL_L | (1u << 20), out);
	assert_string_equal(out, "l");
}

static void test_round_trip(void **state)
{
	(void)state;
	char out[ACL_RIGHTS_BUFSZ];
	for (uint32_t bits = 0; bits <= ACL_ALL; bits++) {
		acl_rights_format(bits, out);
		assert_int_equal(parse_ok(out), bits | ((bits & (ACL_K | ACL_X)) ? ACL_K | ACL_X : 0) |
							((bits & (ACL_T | ACL_E)) ? ACL_T | ACL_E : 0));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_letters),
		cmocka_unit_test(test_unknown_letter),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
