/* Unit tests for backend/op-thread: ORDEREDSUBJECT and REFERENCES on
 * crafted messages (the expected answers are what Dovecot 2.3 gives for
 * the same messages; tests/integration/test_sort.py checks them end to
 * end). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backend/op-thread.h"

struct msg {
	uint32_t uid;
	int64_t date;
	const char *subject, *id, *irt, *refs;
};

static const struct msg set[] = {
	{1, 100, "Lunch plans", "<m1@example.org>", NULL, NULL},
	{2, 200, "Re: Lunch plans", "<m2@example.net>", "<m1@example.org>", "<m1@example.org>"},
	{3, 10000, "[list] report", "<m3@example.org>", NULL, NULL},
	{4, 300, "Fwd: Lunch plans", "<m4@example.com>", NULL, "<m1@example.org> <m2@example.net>"},
	{5, 500, "Re: ghost", "<m5@example.org>", NULL, "<gone@example.org>"},
	{6, 400, "Re: ghost", "<m6@example.org>", "<gone@example.org>", NULL},
	{7, 600, "report", "<m7@example.org>", NULL, NULL},
	{8, 700, "Re: report", "<m8@example.net>", NULL, NULL},
	{9, 20000, "Zebra (fwd)", "<m9@example.org>", NULL, NULL},
	{10, 800, "Re: Lunch plans", "<m10@example.org>", NULL, "<m1@example.org> <lost@example.org>"},
	{11, 900, "unrelated", "<m1@example.org>", NULL, NULL},
	{12, 100, "[fwd: zebra]", "<m12@example.org>", NULL, "<m9@example.org>"},
};

static size_t slen(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

static void add(struct thread_set *ts, const struct msg *m)
{
	assert_int_equal(thread_set_add_fields(ts, m->uid, m->date, (const unsigned char *)m->subject, slen(m->subject),
					       (const unsigned char *)m->id, slen(m->id), (const unsigned char *)m->irt,
					       slen(m->irt), (const unsigned char *)m->refs, slen(m->refs)),
			 0);
}

/* The IMAP form of node i's subtree (children found by parent index). */
static void render_node(char *out, Cpm__ThreadNode **n, size_t count, size_t i)
{
	size_t kids[256], nk = 0;
	for (size_t j = i + 1; j < count && nk < 256; j++)
		if (n[j]->parent == i + 1)
			kids[nk++] = j;
	if (n[i]->uid != 0)
		sprintf(out + strlen(out), "%u", n[i]->uid);
	if (nk == 1) {
		if (n[i]->uid != 0)
			strcat(out, " ");
		render_node(out, n, count, kids[0]);
	} else if (nk > 1) {
		if (n[i]->uid != 0)
			strcat(out, " ");
		for (size_t k = 0; k < nk; k++) {
			strcat(out, "(");
			render_node(out, n, count, kids[k]);
			strcat(out, ")");
		}
	}
}

static void run(Cpm__ThreadAlgorithm alg, const uint32_t *uids, size_t n, const char *want)
{
	struct thread_set ts;
	thread_set_init(&ts, alg);
	for (size_t i = 0; i < n; i++)
		add(&ts, &set[uids[i] - 1]);
	Cpm__ThreadNode **nodes;
	size_t count;
	assert_int_equal(thread_set_finish(&ts, &nodes, &count), 0);
	char out[4096] = "";
	for (size_t i = 0; i < count; i++) {
		if (nodes[i]->parent == 0) {
			strcat(out, "(");
			render_node(out, nodes, count, i);
			strcat(out, ")");
		}
	}
	if (strcmp(out, want) != 0)
		fail_msg("got %s, want %s", out, want);
	thread_nodes_free(nodes, count);
	thread_set_free(&ts);
}

static const uint32_t all[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static void test_references(void **state)
{
	run(CPM__THREAD_ALGORITHM__THREAD_REFERENCES, all, 12, "(1 (2 4)(10))((6)(5))((7 8)(3))(11)(9 12)");
	static const uint32_t not1[] = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	run(CPM__THREAD_ALGORITHM__THREAD_REFERENCES, not1, 11, "((6)(5))((7 8)(3))(11 (2 4)(10))(9 12)");
	static const uint32_t from4[] = {4, 5, 6, 7, 8, 9, 10, 11, 12};
	run(CPM__THREAD_ALGORITHM__THREAD_REFERENCES, from4, 9, "((6)(5))(7 8)(11 (4)(10))(9 12)");
	static const uint32_t one[] = {5};
	run(CPM__THREAD_ALGORITHM__THREAD_REFERENCES, one, 1, "(5)");
}

static void test_ordered_subject(void **state)
{
	run(CPM__THREAD_ALGORITHM__THREAD_ORDEREDSUBJECT, all, 12, "(1 (2)(4)(10))(12 9)(6 5)(7 (8)(3))(11)");
	static const uint32_t two[] = {7, 8};
	run(CPM__THREAD_ALGORITHM__THREAD_ORDEREDSUBJECT, two, 2, "(7 8)");
}

static void test_empty(void **state)
{
	struct thread_set ts;
	thread_set_init(&ts, CPM__THREAD_ALGORITHM__THREAD_REFERENCES);
	Cpm__ThreadNode **nodes = (Cpm__ThreadNode **)1;
	size_t count = 9;
	assert_int_equal(thread_set_finish(&ts, &nodes, &count), 0);
	assert_null(nodes);
	assert_int_equal(count, 0);
	thread_set_free(&ts);
}

static Cpm__ThreadNode **thread_of(const struct msg *m, size_t n, size_t *count_r)
{
	struct thread_set ts;
	thread_set_init(&ts, CPM__THREAD_ALGORITHM__THREAD_REFERENCES);
	for (size_t i = 0; i < n; i++)
		add(&ts, &m[i]);
	Cpm__ThreadNode **nodes;
	assert_int_equal(thread_set_finish(&ts, &nodes, count_r), 0);
	thread_set_free(&ts);
	return nodes;
}

static void test_ids(void **state)
{
	/* Quoting and white space do not make ids differ; a loop is not made;
	 * a reference without '@' is no id. */
	static const struct msg m[] = {
		{1, 1, "a", "<\"x y\"@h>", NULL, "<b@h>"},
		{2, 2, "b", "<b@h>", NULL, "<xy@h>"},
		{3, 3, "c", "<c@h>", NULL, "<x\\y@ h>"},
		{4, 4, "d", "<d@h>", NULL, "<nothing> (<c@h>) junk"},
		{5, 5, "e", "no id", "<d@h> <c@h>", ""},
	};
	size_t count;
	Cpm__ThreadNode **nodes = thread_of(m, 5, &count);
	/* 1 is linked under b (2); 2's link to 1 would be a loop: 2 is the root.
	 * 3 refers to 1 ("x\y@ h" normalises to xy@h). 4 has no usable
	 * reference (the comment is skipped); 5 uses In-Reply-To's first id. */
	assert_int_equal(count, 5);
	assert_int_equal(nodes[0]->uid, 2);
	assert_int_equal(nodes[0]->parent, 0);
	assert_int_equal(nodes[1]->uid, 1);
	assert_int_equal(nodes[1]->parent, 1);
	assert_int_equal(nodes[2]->uid, 3);
	assert_int_equal(nodes[2]->parent, 2);
	assert_int_equal(nodes[3]->uid, 4);
	assert_int_equal(nodes[3]->parent, 0);
	assert_int_equal(nodes[4]->uid, 5);
	assert_int_equal(nodes[4]->parent, 4);
	thread_nodes_free(nodes, count);
}

static void test_deep_chain(void **state)
{
	/* 20000 messages each replying to the previous: no recursion, one thread. */
	size_t n = 20000;
	struct msg *m = calloc(n, sizeof(*m));
	char (*ids)[32] = calloc(n, 32);
	assert_non_null(m);
	assert_non_null(ids);
	for (size_t i = 0; i < n; i++) {
		snprintf(ids[i], 32, "<%zu@deep>", i);
		m[i] = (struct msg){(uint32_t)i + 1, (int64_t)i, "deep", ids[i], NULL, i ? ids[i - 1] : NULL};
	}
	size_t count;
	Cpm__ThreadNode **nodes = thread_of(m, n, &count);
	assert_int_equal(count, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(nodes[i]->uid, i + 1);
		assert_int_equal(nodes[i]->parent, i);
	}
	thread_nodes_free(nodes, count);
	free(ids);
	free(m);
}

static void test_many_refs(void **state)
{
	/* 1000 references: only the last THREAD_MAX_REFS are kept, the parent
	 * is still the last one. */
	char *refs = malloc(1000 * 16);
	assert_non_null(refs);
	refs[0] = '\0';
	for (int i = 0; i < 1000; i++)
		sprintf(refs + strlen(refs), "<r%d@x> ", i);
	const struct msg m[] = {{1, 1, "p", "<r999@x>", NULL, NULL}, {2, 2, "c", "<c@x>", NULL, refs}};
	size_t count;
	Cpm__ThreadNode **nodes = thread_of(m, 2, &count);
	assert_int_equal(count, 2);
	assert_int_equal(nodes[0]->uid, 1);
	assert_int_equal(nodes[1]->uid, 2);
	assert_int_equal(nodes[1]->parent, 1);
	thread_nodes_free(nodes, count);
	free(refs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_references), cmocka_unit_test(test_ordered_subject), cmocka_unit_test(test_empty),
		cmocka_unit_test(test_ids),	   cmocka_unit_test(test_deep_chain),	   cmocka_unit_test(test_many_refs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
