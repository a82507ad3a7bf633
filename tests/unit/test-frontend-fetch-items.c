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
	assert_false(fetch_items_need_tree(&fi));

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
	assert_true(fi.items[0].peek);
	assert_false(fi.items[0].partial);
	assert_int_equal(fi.items[0].name, FETCH_BODY);
	assert_false(fetch_items_sets_seen(&fi));
	/* BODY[] merges with BODY.PEEK[]: the result sets \Seen */
	assert_int_equal(add(&fi, "body[]"), FETCH_ITEM_OK);
	assert_int_equal(fi.n_body, 1);
	assert_false(fi.items[0].peek);
	assert_true(fetch_items_sets_seen(&fi));

	assert_int_equal(add(&fi, "BODY.PEEK[]<0.100>"), FETCH_ITEM_OK);
	assert_int_equal(fi.n_body, 2);
	assert_true(fi.items[1].partial);
	assert_int_equal(fi.items[1].origin, 0);
	assert_int_equal(fi.items[1].count, 100);
	assert_true(fi.items[1].peek);

	assert_int_equal(add(&fi, "RFC822"), FETCH_ITEM_OK);
	assert_int_equal(fi.n_body, 3);
	assert_int_equal(fi.items[2].name, FETCH_RFC822);
	assert_false(fi.items[2].peek);

	assert_int_equal(add(&fi, "BODY[]<4294967295.4294967295>"), FETCH_ITEM_OK);
	assert_int_equal(fi.items[3].origin, 4294967295u);
	assert_int_equal(fi.items[3].count, 4294967295u);
	fetch_items_clear(&fi);
	assert_int_equal(fi.n_body, 0);
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
	assert_int_equal(add(&fi, "BODY[HEADER.FIELDS]"), FETCH_ITEM_INVALID);
	assert_int_equal(add(&fi, "BODY[0]"), FETCH_ITEM_INVALID);
	assert_int_equal(add(&fi, "BODY[BOGUS]"), FETCH_ITEM_INVALID);
	assert_int_equal(fi.n_body, 0);
}

static void test_unsupported(void **state)
{
	struct fetch_items fi = {0};
	const char *u[] = {"ANNOTATION"};
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		assert_int_equal(add(&fi, u[i]), FETCH_ITEM_UNSUPPORTED);
	assert_int_equal(add(&fi, "FOO"), FETCH_ITEM_INVALID);
	assert_int_equal(add(&fi, "UIDX"), FETCH_ITEM_INVALID);
	assert_int_equal(fetch_items_add(&fi, "UID", 2), FETCH_ITEM_INVALID);
	assert_int_equal(add(&fi, ""), FETCH_ITEM_INVALID);
	assert_false(fi.uid || fi.flags || fi.internaldate || fi.size || fi.modseq);
	assert_int_equal(fi.n_body, 0);
	assert_int_equal(add(&fi, "modseq"), FETCH_ITEM_OK);
	assert_true(fi.modseq);
}

static void test_binary_and_preview(void **state)
{
	struct fetch_items fi = {0};
	assert_int_equal(add(&fi, "BINARY.PEEK[1.2]<0.5>"), FETCH_ITEM_OK);
	assert_int_equal(add(&fi, "binary.size[]"), FETCH_ITEM_OK);
	assert_int_equal(add(&fi, "BINARY[3]"), FETCH_ITEM_OK);
	assert_int_equal(add(&fi, "BINARY.PEEK[3]"), FETCH_ITEM_OK); /* merged with BINARY[3] */
	assert_int_equal(fi.n_body, 3);
	assert_true(fi.items[0].peek && fi.items[1].peek && !fi.items[2].peek);
	assert_true(fetch_items_sets_seen(&fi));
	assert_true(fetch_items_need_tree(&fi) && fetch_items_need_body(&fi));
	struct buf b = {0};
	for (unsigned i = 0; i < fi.n_body; i++) {
		fetch_items_write_body_name(&b, &fi.items[i]);
		buf_append_byte(&b, '|');
	}
	assert_string_equal((char *)b.data, "BINARY[1.2]<0>|BINARY.SIZE[]|BINARY[3]|");
	buf_free(&b);
	/* every section BODY takes (as Dovecot), canonical names */
	const char *good[] = {"BINARY[header]", "BINARY.PEEK[1.MIME]", "BINARY.SIZE[text]",
			      "BINARY.PEEK[2.HEADER.FIELDS (Subject)]<0.4>", "BINARY[3.text]<1.2>"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(add(&fi, good[i]), FETCH_ITEM_OK);
	assert_int_equal(fi.n_body, 8);
	for (unsigned i = 3; i < fi.n_body; i++) {
		fetch_items_write_body_name(&b, &fi.items[i]);
		buf_append_byte(&b, '|');
	}
	assert_string_equal((char *)b.data, "BINARY[HEADER]|BINARY[1.MIME]|BINARY.SIZE[TEXT]|"
					    "BINARY[2.HEADER.FIELDS (SUBJECT)]<0>|BINARY[3.TEXT]<1>|");
	buf_free(&b);
	/* sections BODY refuses too; no partial on BINARY.SIZE */
	const char *bad[] = {"BINARY[1.2.X]", "BINARY[MIME]", "BINARY[HEADER.FIELDS]", "BINARY.SIZE[1]<0.1>",
			     "BINARY[0]", "BINARY[1]<0.0>", "BINARY[", "BINARY", "BINARY.SIZE", "PREVIEW[]"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(add(&fi, bad[i]), FETCH_ITEM_INVALID);
	assert_int_equal(fi.n_body, 8);
	fetch_items_clear(&fi);

	assert_int_equal(add(&fi, "preview"), FETCH_ITEM_OK);
	assert_true(fi.preview && !fi.preview_lazy);
	assert_true(fetch_items_need_tree(&fi));
	assert_false(fetch_items_sets_seen(&fi) || fetch_items_need_body(&fi));
	const char *mods[] = {"lazy", "BOGUS"};
	size_t lens[] = {4, 5};
	assert_int_equal(fetch_items_add_preview_mods(&fi, mods, lens, 1), FETCH_ITEM_OK);
	assert_true(fi.preview_lazy);
	assert_int_equal(fetch_items_add_preview_mods(&fi, mods, lens, 2), FETCH_ITEM_INVALID);
	assert_int_equal(fetch_items_add_preview_mods(&fi, mods, lens, 0), FETCH_ITEM_INVALID);
	fetch_items_clear(&fi);
}

static void test_structure_and_sections(void **state)
{
	struct fetch_items fi = {0};
	assert_int_equal(add(&fi, "ALL"), FETCH_ITEM_OK);
	assert_true(fi.flags && fi.internaldate && fi.size && fi.envelope && !fi.body);
	assert_int_equal(add(&fi, "FULL"), FETCH_ITEM_OK);
	assert_true(fi.body);
	assert_int_equal(add(&fi, "BODYSTRUCTURE"), FETCH_ITEM_OK);
	assert_true(fi.bodystructure);
	assert_true(fetch_items_need_tree(&fi));
	assert_false(fetch_items_need_body(&fi));
	assert_int_equal(add(&fi, "RFC822.HEADER"), FETCH_ITEM_OK);
	assert_int_equal(add(&fi, "RFC822.TEXT"), FETCH_ITEM_OK);
	assert_int_equal(add(&fi, "BODY.PEEK[header.fields (From \"To\")]<0.10>"), FETCH_ITEM_OK);
	assert_int_equal(add(&fi, "BODY[1.2.MIME]"), FETCH_ITEM_OK);
	assert_int_equal(fi.n_body, 4);
	assert_true(fi.items[0].peek);                 /* RFC822.HEADER does not set \Seen */
	assert_false(fi.items[1].peek);                /* RFC822.TEXT does */
	struct buf b = {0};
	for (unsigned i = 0; i < fi.n_body; i++) {
		fetch_items_write_body_name(&b, &fi.items[i]);
		buf_append_byte(&b, '|');
	}
	assert_string_equal((char *)b.data,
			    "RFC822.HEADER|RFC822.TEXT|BODY[HEADER.FIELDS (FROM \"TO\")]<0>|BODY[1.2.MIME]|");
	buf_free(&b);
	fetch_items_clear(&fi);
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
	fetch_items_clear(&fi);
}

static void test_names_and_bytes(void **state)
{
	struct fetch_items fi = {0};
	assert_int_equal(add(&fi, "BODY[]"), FETCH_ITEM_OK);
	assert_int_equal(add(&fi, "BODY[]<10.5>"), FETCH_ITEM_OK);
	assert_int_equal(add(&fi, "RFC822"), FETCH_ITEM_OK);
	assert_int_equal(add(&fi, "BODY[TEXT]<2.100>"), FETCH_ITEM_OK);
	struct buf b = {0};
	for (unsigned i = 0; i < fi.n_body; i++) {
		fetch_items_write_body_name(&b, &fi.items[i]);
		buf_append_byte(&b, ' ');
	}
	assert_string_equal((char *)b.data, "BODY[] BODY[]<10> RFC822 BODY[TEXT]<2> ");
	buf_free(&b);

	static const char msg[] = "Subject: x\r\n\r\n0123456789abcdef";
	size_t len = sizeof(msg) - 1;
	struct mime_tree *tree = NULL;
	assert_int_equal(mime_parse((const unsigned char *)msg, len, &tree), 0);
	struct buf out = {0};
	assert_int_equal(fetch_items_body_bytes(&out, &fi.items[0], (const unsigned char *)msg, len, tree), 0);
	assert_int_equal(out.len, len);
	buf_reset(&out);
	assert_int_equal(fetch_items_body_bytes(&out, &fi.items[1], (const unsigned char *)msg, len, tree), 0);
	assert_int_equal(out.len, 5);
	assert_memory_equal(out.data, msg + 10, 5);
	buf_reset(&out);
	assert_int_equal(fetch_items_body_bytes(&out, &fi.items[3], (const unsigned char *)msg, len, tree), 0);
	assert_string_equal((char *)out.data, "23456789abcdef");
	/* A partial beyond the end is empty. */
	struct fetch_items far = {0};
	assert_int_equal(add(&far, "BODY[]<1000.5>"), FETCH_ITEM_OK);
	buf_reset(&out);
	assert_int_equal(fetch_items_body_bytes(&out, &far.items[0], (const unsigned char *)msg, len, tree), 0);
	assert_int_equal(out.len, 0);
	buf_free(&out);
	mime_tree_free(&tree);
	fetch_items_clear(&far);
	fetch_items_clear(&fi);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),      cmocka_unit_test(test_body),
		cmocka_unit_test(test_body_bad),    cmocka_unit_test(test_unsupported),
		cmocka_unit_test(test_too_many),    cmocka_unit_test(test_names_and_bytes),
		cmocka_unit_test(test_binary_and_preview),
		cmocka_unit_test(test_structure_and_sections),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
