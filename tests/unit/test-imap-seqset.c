/* Unit tests for common/imap-seqset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap-seqset.h"

/* Parses in, checks success and the written form. */
static void check_roundtrip(const char *in, const char *expect)
{
	struct imap_seqset set;
	struct buf b = {0};
	int rc = imap_seqset_parse(in, strlen(in), &set);
	if (rc != 0)
		fail_msg("parse failed for \"%s\"", in);
	assert_int_equal(imap_seqset_write(&b, &set), 0);
	assert_string_equal((const char *)b.data, expect);
	buf_free(&b);
	imap_seqset_free(&set);
}

static void check_bad(const char *in)
{
	struct imap_seqset set;
	if (imap_seqset_parse(in, strlen(in), &set) != -1)
		fail_msg("parse accepted \"%s\"", in);
	assert_int_equal(set.count, 0);
	assert_null(set.ranges);
	assert_false(set.star);
}

static void test_parse_normalises(void **state)
{
	check_roundtrip("1", "1");
	check_roundtrip("1,3:5,7:*", "1,3:5,7:*");
	check_roundtrip("*", "*");
	check_roundtrip("*:*", "*");
	check_roundtrip("5:2", "2:5");
	check_roundtrip("3,2,1", "1:3");
	check_roundtrip("1:3,4:6", "1:6");
	check_roundtrip("10:20,15:25,1,2", "1:2,10:25");
	check_roundtrip("9,7,5", "5,7,9");
	check_roundtrip("4294967295", "4294967295");
	check_roundtrip("4294967294:4294967295,1", "1,4294967294:4294967295");
	check_roundtrip("*:9,3:*", "3:*,9:*");
	check_roundtrip("4:*,*,4", "4,4:*");
	check_roundtrip("1:4294967295", "1:4294967295");
}

static void test_parse_rejects(void **state)
{
	const char *bad[] = {
		"", ",", "1,", ",1", "1,,2", "0", "0:5", "5:0", "01", "4294967296", "99999999999",
		"1:", ":1", "1:2:3", "a", "1 ", " 1", "1-5", "**", "*1", "1*", "-1", "1,2,",
		"+1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_bad(bad[i]);
	/* Embedded NUL inside the given length. */
	struct imap_seqset set;
	assert_int_equal(imap_seqset_parse("1\0002", 3, &set), -1);
	/* Length is honoured: only "12" of "123" is parsed. */
	assert_int_equal(imap_seqset_parse("123", 2, &set), 0);
	assert_int_equal(set.count, 1);
	assert_int_equal(set.ranges[0].lo, 12);
	imap_seqset_free(&set);
}

static void test_parse_term_limit(void **state)
{
	struct buf b = {0};
	/* Exactly the limit: descending, non-adjacent values (worst case for a
	 * naive insert). */
	for (unsigned i = IMAP_SEQSET_MAX_PARSE_RANGES; i >= 1; i--)
		assert_int_equal(buf_printf(&b, "%s%u", i == IMAP_SEQSET_MAX_PARSE_RANGES ? "" : ",", i * 2), 0);
	struct imap_seqset set;
	assert_int_equal(imap_seqset_parse((const char *)b.data, b.len, &set), 0);
	assert_int_equal(set.count, IMAP_SEQSET_MAX_PARSE_RANGES);
	assert_int_equal(set.ranges[0].lo, 2);
	assert_int_equal(set.ranges[IMAP_SEQSET_MAX_PARSE_RANGES - 1].hi, 2 * IMAP_SEQSET_MAX_PARSE_RANGES);
	assert_int_equal(imap_seqset_count(&set), IMAP_SEQSET_MAX_PARSE_RANGES);
	imap_seqset_free(&set);
	/* One term more is refused, even though it is "*". */
	assert_int_equal(buf_append_str(&b, ",*"), 0);
	assert_int_equal(imap_seqset_parse((const char *)b.data, b.len, &set), -1);
	buf_free(&b);
}

static void test_resolve(void **state)
{
	struct imap_seqset set;
	struct buf b = {0};

	/* 5:* in a mailbox of 3 messages is 3:5. */
	assert_int_equal(imap_seqset_parse("5:*", 3, &set), 0);
	assert_true(set.star);
	assert_int_equal(imap_seqset_resolve(&set, 3), 0);
	assert_false(set.star);
	assert_int_equal(imap_seqset_write(&b, &set), 0);
	assert_string_equal((const char *)b.data, "3:5");
	imap_seqset_free(&set);
	buf_reset(&b);

	/* 1,3:5,7:* with * = 10 */
	assert_int_equal(imap_seqset_parse("1,3:5,7:*", 9, &set), 0);
	assert_int_equal(imap_seqset_resolve(&set, 10), 0);
	assert_int_equal(imap_seqset_write(&b, &set), 0);
	assert_string_equal((const char *)b.data, "1,3:5,7:10");
	assert_int_equal(imap_seqset_count(&set), 1 + 3 + 4);
	imap_seqset_free(&set);
	buf_reset(&b);

	/* Two n:* terms with * between them cover the hull. */
	assert_int_equal(imap_seqset_parse("2:*,9:*", 7, &set), 0);
	assert_int_equal(imap_seqset_resolve(&set, 5), 0);
	assert_int_equal(imap_seqset_write(&b, &set), 0);
	assert_string_equal((const char *)b.data, "2:9");
	imap_seqset_free(&set);
	buf_reset(&b);

	/* Bare * merges with an adjacent range. */
	assert_int_equal(imap_seqset_parse("1:4,*", 5, &set), 0);
	assert_int_equal(imap_seqset_resolve(&set, 5), 0);
	assert_int_equal(imap_seqset_write(&b, &set), 0);
	assert_string_equal((const char *)b.data, "1:5");
	imap_seqset_free(&set);
	buf_reset(&b);

	/* Empty mailbox: * terms vanish. */
	assert_int_equal(imap_seqset_parse("1:*,7", 5, &set), 0);
	assert_int_equal(imap_seqset_resolve(&set, 0), 0);
	assert_int_equal(imap_seqset_write(&b, &set), 0);
	assert_string_equal((const char *)b.data, "7");
	imap_seqset_free(&set);
	buf_reset(&b);

	/* * = 4294967295 */
	assert_int_equal(imap_seqset_parse("*", 1, &set), 0);
	assert_int_equal(imap_seqset_resolve(&set, UINT32_MAX), 0);
	assert_int_equal(imap_seqset_write(&b, &set), 0);
	assert_string_equal((const char *)b.data, "4294967295");
	imap_seqset_free(&set);
	buf_reset(&b);

	/* No star: resolve is a no-op. */
	assert_int_equal(imap_seqset_parse("3", 1, &set), 0);
	assert_int_equal(imap_seqset_resolve(&set, 100), 0);
	assert_int_equal(imap_seqset_write(&b, &set), 0);
	assert_string_equal((const char *)b.data, "3");
	imap_seqset_free(&set);
	buf_free(&b);
}

static void test_contains(void **state)
{
	struct imap_seqset set;
	assert_int_equal(imap_seqset_parse("1,3:5,7,100:200,4294967295", 26, &set), 0);
	const uint32_t yes[] = {1, 3, 4, 5, 7, 100, 150, 200, 4294967295u};
	const uint32_t no[] = {0, 2, 6, 8, 99, 201, 4294967294u};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(imap_seqset_contains(&set, yes[i]));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(imap_seqset_contains(&set, no[i]));
	imap_seqset_free(&set);

	/* Unresolved: only values certainly covered. */
	assert_int_equal(imap_seqset_parse("4:*,8:*", 7, &set), 0);
	assert_false(imap_seqset_contains(&set, 3));
	assert_true(imap_seqset_contains(&set, 4));
	assert_true(imap_seqset_contains(&set, 8));
	assert_false(imap_seqset_contains(&set, 9));
	assert_int_equal(imap_seqset_resolve(&set, 20), 0);
	assert_true(imap_seqset_contains(&set, 20));
	assert_false(imap_seqset_contains(&set, 21));
	imap_seqset_free(&set);

	/* The empty set contains nothing. */
	imap_seqset_init(&set);
	assert_false(imap_seqset_contains(&set, 1));
	assert_int_equal(imap_seqset_count(&set), 0);
}

static void test_count_large(void **state)
{
	struct imap_seqset set;
	assert_int_equal(imap_seqset_parse("1:4294967295", 12, &set), 0);
	assert_true(imap_seqset_count(&set) == 4294967295ull);
	imap_seqset_free(&set);
	assert_int_equal(imap_seqset_parse("1:*", 3, &set), 0);
	assert_int_equal(imap_seqset_count(&set), 0); /* unresolved * not counted */
	assert_int_equal(imap_seqset_resolve(&set, 42), 0);
	assert_int_equal(imap_seqset_count(&set), 42);
	imap_seqset_free(&set);
}

static void test_builder(void **state)
{
	struct imap_seqset set;
	struct buf b = {0};
	imap_seqset_init(&set);

	/* Ascending appends, as for COPYUID. */
	const uint32_t uids[] = {10, 11, 12, 14, 20, 21};
	for (size_t i = 0; i < sizeof(uids) / sizeof(uids[0]); i++)
		assert_int_equal(imap_seqset_add(&set, uids[i]), 0);
	assert_int_equal(imap_seqset_write(&b, &set), 0);
	assert_string_equal((const char *)b.data, "10:12,14,20:21");
	buf_reset(&b);

	/* Out of order: fill the gap at 13 (joins two ranges), duplicates. */
	assert_int_equal(imap_seqset_add(&set, 13), 0);
	assert_int_equal(imap_seqset_add(&set, 13), 0);
	assert_int_equal(imap_seqset_add(&set, 11), 0);
	assert_int_equal(imap_seqset_write(&b, &set), 0);
	assert_string_equal((const char *)b.data, "10:14,20:21");
	buf_reset(&b);

	/* Insert at the front, and a range that swallows several. */
	assert_int_equal(imap_seqset_add(&set, 1), 0);
	assert_int_equal(imap_seqset_add(&set, 5), 0);
	assert_int_equal(imap_seqset_add(&set, 30), 0);
	assert_int_equal(imap_seqset_write(&b, &set), 0);
	assert_string_equal((const char *)b.data, "1,5,10:14,20:21,30");
	buf_reset(&b);
	assert_int_equal(imap_seqset_add_range(&set, 22, 4), 0);
	assert_int_equal(imap_seqset_write(&b, &set), 0);
	assert_string_equal((const char *)b.data, "1,4:22,30");
	assert_int_equal(set.count, 3);
	buf_reset(&b);

	/* Adjacent at both sides, and the top of the number space. */
	assert_int_equal(imap_seqset_add_range(&set, 2, 3), 0);
	assert_int_equal(imap_seqset_add_range(&set, 4294967295u, 4294967294u), 0);
	assert_int_equal(imap_seqset_add(&set, 4294967293u), 0);
	assert_int_equal(imap_seqset_write(&b, &set), 0);
	assert_string_equal((const char *)b.data, "1:22,30,4294967293:4294967295");
	buf_reset(&b);

	/* 0 is not a valid value. */
	assert_int_equal(imap_seqset_add(&set, 0), -1);
	assert_int_equal(imap_seqset_add_range(&set, 0, 5), -1);
	assert_int_equal(imap_seqset_write(&b, &set), 0);
	assert_string_equal((const char *)b.data, "1:22,30,4294967293:4294967295");

	imap_seqset_free(&set);
	assert_int_equal(set.count, 0);
	assert_null(set.ranges);
	buf_free(&b);
}

/* Random inserts against a bitmap model. */
static void test_builder_model(void **state)
{
	enum { N = 512 };
	unsigned char model[N + 2] = {0};
	struct imap_seqset set;
	imap_seqset_init(&set);
	srand(12345);
	for (int i = 0; i < 400; i++) {
		uint32_t a = (uint32_t)(rand() % N) + 1, b = a + (uint32_t)(rand() % 4);
		if (b > N)
			b = N;
		assert_int_equal(imap_seqset_add_range(&set, a, b), 0);
		for (uint32_t v = a; v <= b; v++)
			model[v] = 1;
		/* invariants: sorted, disjoint, non-adjacent */
		for (size_t k = 0; k < set.count; k++) {
			assert_true(set.ranges[k].lo <= set.ranges[k].hi);
			if (k > 0)
				assert_true((uint64_t)set.ranges[k - 1].hi + 1 < set.ranges[k].lo);
		}
	}
	uint64_t expect = 0;
	for (uint32_t v = 1; v <= N + 1; v++) {
		expect += model[v];
		assert_int_equal(imap_seqset_contains(&set, v), model[v] != 0);
	}
	assert_int_equal(imap_seqset_count(&set), expect);
	imap_seqset_free(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_normalises), cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_parse_term_limit), cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_contains),	 cmocka_unit_test(test_count_large),
		cmocka_unit_test(test_builder),		 cmocka_unit_test(test_builder_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
