/* Unit tests for frontend/fetch-items (FETCH item parsing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "frontend/fetch-items.h"

static enum fetch_item_result add(struct fetch_items *fi, const char *s)
{
	return fetch_items_add(fi, s, strlen(s));
}

static void test_simple(void **state)
{
	struct fetch_items fi = {0};
	assert_int_equal(add(&fi, "UID"), FETCH_ITEM_OK);
	assert_true(fi.uid);
	assert_false(fi.flags);
	assert_int_equal(add(&fi, "flags"), FETCH_ITEM_OK);
	assert_true(fi.flags);
	assert_int_equal(add(&fi, "InternalDate"), FETCH_ITEM_OK);
	assert_true(fi.internaldate);
	assert_false(fi.size);
	assert_int_equal(add(&fi, "RFC822.SIZE"), FETCH_ITEM_OK);
	assert_true(fi.size);
	assert_int_equal(fi.n_body, 0);
	assert_false(fetch_items_sets_seen(&fi));

	struct fetch_items fast = {0};
	assert_int_equal(add(&fast, "FAST"), FETCH_ITEM_OK);
	assert_true(fast.flags && fast.internaldate && fast.size);
	assert_false(fast.uid);
	assert_int_equal(fast.n_body, 0);
}

static void test_body(void **state)
{
	struct fetch_items fi = {0};
	assert_int_equal(add(&fi, "BODY.PEEK[]"), FETCH_ITEM_OK);
	assert_int_equal(fi.n_body, 1);
	assert_true(fi.body[0].peek);
	assert_false(fi.body[0].partial);
	assert_false(fi.body[0].rfc822);
	assert_false(fetch_items_sets_seen(&fi));
	/* BODY[] merges with BODY.PEEK[]: the result sets \Seen */
	assert_int_equal(add(&fi, "body[]"), FETCH_ITEM_OK);
	assert_int_equal(fi.n_body, 1);
	assert_false(fi.body[0].peek);
	assert_true(fetch_items_sets_seen(&fi));

	assert_int_equal(add(&fi, "BODY.PEEK[]<0.100>"), FETCH_ITEM_OK);
	assert_int_equal(fi.n_body, 2);
	assert_true(fi.body[1].partial);
	assert_int_equal(fi.body[1].origin, 0);
	assert_int_equal(fi.body[1].count, 100);
	assert_true(fi.body[1].peek);

	assert_int_equal(add(&fi, "RFC822"), FETCH_ITEM_OK);
	assert_int_equal(fi.n_body, 3);
	assert_true(fi.body[2].rfc822);
	assert_false(fi.body[2].peek);

	assert_int_equal(add(&fi, "BODY[]<4294967295.4294967295>"), FETCH_ITEM_OK);
	assert_int_equal(fi.body[3].origin, 4294967295u);
	assert_int_equal(fi.body[3].count, 4294967295u);
}

static void test_body_bad(void **state)
{
	struct fetch_items fi = {0};
	assert_int_equal(add(&fi, "BODY[]<0.0>"), FETCH_ITEM_INVALID);
	assert_int_equal(add(&fi, "BODY[]<0>"), FETCH_ITEM_INVALID);
	assert_int_equal(add(&fi, "BODY[]<0.>"), FETCH_ITEM_INVALID);
	assert_int_equal(add(&fi, "BODY[]<.5>"), FETCH_ITEM_INVALID);
	assert_int_equal(add(&fi, "BODY[]<0.5"), FETCH_ITEM_INVALID);
	assert_int_equal(add(&fi, "BODY[]<0.5>x"), FETCH_ITEM_INVALID);
	assert_int_equal(add(&fi, "BODY[]x"), FETCH_ITEM_INVALID);
	assert_int_equal(add(&fi, "BODY[]<4294967296.1>"), FETCH_ITEM_INVALID);
	assert_int_equal(add(&fi, "BODY["), FETCH_ITEM_INVALID);
	assert_int_equal(add(&fi, "BODY.PEEK"), FETCH_ITEM_INVALID);
	assert_int_equal(add(&fi, "BODY[]<-1.5>"), FETCH_ITEM_INVALID);
	assert_int_equal(fi.n_body, 0);
}

static void test_unsupported(void **state)
{
	struct fetch_items fi = {0};
	const char *u[] = {"ENVELOPE", "BODYSTRUCTURE", "BODY", "BODY[HEADER]", "BODY.PEEK[TEXT]",
			   "BODY[HEADER.FIELDS (From To)]", "BODY[1]<0.10>", "RFC822.HEADER", "RFC822.TEXT",
			   "ALL", "FULL", "BINARY[]", "BINARY.PEEK[1]", "BINARY.SIZE[]", "MODSEQ"};
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		assert_int_equal(add(&fi, u[i]), FETCH_ITEM_UNSUPPORTED);
	assert_int_equal(add(&fi, "FOO"), FETCH_ITEM_INVALID);
	assert_int_equal(add(&fi, "UIDX"), FETCH_ITEM_INVALID);
	assert_int_equal(fetch_items_add(&fi, "UID", 2), FETCH_ITEM_INVALID);
	assert_int_equal(add(&fi, ""), FETCH_ITEM_INVALID);
	assert_false(fi.uid || fi.flags || fi.internaldate || fi.size);
	assert_int_equal(fi.n_body, 0);
}

static void test_too_many(void **state)
{
	struct fetch_items fi = {0};
	char item[64];
	for (unsigned i = 0; i < FETCH_MAX_BODY_ITEMS; i++) {
		snprintf(item, sizeof(item), "BODY[]<%u.10>", i * 10);
		assert_int_equal(add(&fi, item), FETCH_ITEM_OK);
	}
	assert_int_equal(add(&fi, "BODY[]<0.10>"), FETCH_ITEM_OK); /* duplicate: merged */
	assert_int_equal(add(&fi, "BODY[]<999.10>"), FETCH_ITEM_TOO_MANY);
	assert_int_equal(fi.n_body, FETCH_MAX_BODY_ITEMS);
}

static void test_names_and_slices(void **state)
{
	struct buf b = {0};
	struct fetch_body_item whole = {0}, part = {.partial = true, .origin = 10, .count = 5}, r = {.rfc822 = true};
	fetch_items_write_body_name(&b, &whole);
	buf_append_byte(&b, ' ');
	fetch_items_write_body_name(&b, &part);
	buf_append_byte(&b, ' ');
	fetch_items_write_body_name(&b, &r);
	assert_string_equal((char *)b.data, "BODY[] BODY[]<10> RFC822");
	buf_free(&b);

	size_t start, len;
	fetch_items_body_slice(&whole, 44, &start, &len);
	assert_int_equal(start, 0);
	assert_int_equal(len, 44);
	fetch_items_body_slice(&part, 44, &start, &len);
	assert_int_equal(start, 10);
	assert_int_equal(len, 5);
	fetch_items_body_slice(&part, 12, &start, &len);
	assert_int_equal(start, 10);
	assert_int_equal(len, 2);
	fetch_items_body_slice(&part, 10, &start, &len);
	assert_int_equal(start, 10);
	assert_int_equal(len, 0);
	fetch_items_body_slice(&part, 3, &start, &len);
	assert_int_equal(start, 3);
	assert_int_equal(len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),      cmocka_unit_test(test_body),
		cmocka_unit_test(test_body_bad),    cmocka_unit_test(test_unsupported),
		cmocka_unit_test(test_too_many),    cmocka_unit_test(test_names_and_slices),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
