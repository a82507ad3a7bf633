/* Unit tests for common/shard-map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "shard-map.h"

#define NUSERS 30000

static void user_name(unsigned i, char *out, size_t size)
{
	snprintf(out, size, "user%u@example.net", i);
}

/* Expected values computed independently (Python hashlib). */
static void test_known_answers(void **state)
{
	uint64_t w = 0;
	assert_int_equal(shard_map_weight("be1", 3, "alice", 5, &w), 0);
	assert_true(w == 0x9b982697b3bd4f27ull);

	const char *ids[] = {"be1", "be2", "be3"};
	struct shard_map *m = shard_map_new(ids, 3);
	assert_non_null(m);
	const struct {
		const char *user;
		const char *shard;
	} cases[] = {
		{"alice", "be1"},	 {"bob", "be1"},	  {"carol", "be1"},
		{"dave", "be2"},	 {"erin", "be3"},	  {"+15551234567", "be2"},
		{"sip:+4930123@ims.example.net", "be2"}, {"", "be3"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t k = shard_map_pick(m, cases[i].user, strlen(cases[i].user));
		assert_true(k < 3);
		assert_string_equal(shard_map_id(m, k), cases[i].shard);
	}
	/* user_len is honoured: "alicexyz" cut to 5 bytes is "alice". */
	assert_string_equal(shard_map_id(m, shard_map_pick(m, "alicexyz", 5)), "be1");
	assert_int_equal(shard_map_count(m), 3);
	assert_null(shard_map_id(m, 3));
	shard_map_free(&m);
	assert_null(m);
	shard_map_free(&m); /* NULL is fine */
}

static void test_order_independent(void **state)
{
	const char *a[] = {"shard-a", "shard-b", "shard-c", "shard-d"};
	const char *b[] = {"shard-d", "shard-b", "shard-a", "shard-c"};
	struct shard_map *ma = shard_map_new(a, 4), *mb = shard_map_new(b, 4);
	struct shard_map *ma2 = shard_map_new(a, 4);
	assert_non_null(ma);
	assert_non_null(mb);
	assert_non_null(ma2);
	char user[64];
	for (unsigned i = 0; i < 5000; i++) {
		user_name(i, user, sizeof(user));
		size_t ka = shard_map_pick(ma, user, strlen(user));
		size_t kb = shard_map_pick(mb, user, strlen(user));
		assert_true(ka < 4 && kb < 4);
		assert_string_equal(shard_map_id(ma, ka), shard_map_id(mb, kb));
		/* deterministic: a second map and a second call agree */
		assert_int_equal(shard_map_pick(ma2, user, strlen(user)), ka);
		assert_int_equal(shard_map_pick(ma, user, strlen(user)), ka);
	}
	shard_map_free(&ma);
	shard_map_free(&mb);
	shard_map_free(&ma2);
}

static void test_even_spread(void **state)
{
	const char *ids[] = {"be-0", "be-1", "be-2"};
	struct shard_map *m = shard_map_new(ids, 3);
	assert_non_null(m);
	unsigned counts[3] = {0, 0, 0};
	char user[64];
	for (unsigned i = 0; i < NUSERS; i++) {
		user_name(i, user, sizeof(user));
		size_t k = shard_map_pick(m, user, strlen(user));
		assert_true(k < 3);
		counts[k]++;
	}
	for (int k = 0; k < 3; k++) {
		/* within +/-10% of a third: 9000 .. 11000 */
		if (counts[k] < 9000 || counts[k] > 11000)
			fail_msg("shard %d got %u of %u users", k, counts[k], NUSERS);
	}
	assert_int_equal(counts[0] + counts[1] + counts[2], NUSERS);
	shard_map_free(&m);
}

static void test_minimal_movement(void **state)
{
	const char *three[] = {"be-0", "be-1", "be-2"};
	const char *two[] = {"be-0", "be-2"};
	struct shard_map *m3 = shard_map_new(three, 3), *m2 = shard_map_new(two, 2);
	assert_non_null(m3);
	assert_non_null(m2);
	unsigned moved = 0, stayed = 0;
	char user[64];
	for (unsigned i = 0; i < NUSERS; i++) {
		user_name(i, user, sizeof(user));
		const char *before = shard_map_id(m3, shard_map_pick(m3, user, strlen(user)));
		const char *after = shard_map_id(m2, shard_map_pick(m2, user, strlen(user)));
		assert_non_null(before);
		assert_non_null(after);
		if (strcmp(before, "be-1") == 0) {
			moved++;
		} else {
			assert_string_equal(before, after);
			stayed++;
		}
	}
	/* Those on the removed shard went somewhere else, and they were about a
	 * third of all users. */
	assert_true(moved > 9000 && moved < 11000);
	assert_int_equal(moved + stayed, NUSERS);
	shard_map_free(&m3);
	shard_map_free(&m2);
}

static void test_single_shard(void **state)
{
	const char *ids[] = {"only"};
	struct shard_map *m = shard_map_new(ids, 1);
	assert_non_null(m);
	assert_int_equal(shard_map_pick(m, "x", 1), 0);
	assert_int_equal(shard_map_pick(m, NULL, 0), 0);
	shard_map_free(&m);
}

static void test_rejects(void **state)
{
	const char *dup[] = {"a", "b", "a"};
	const char *empty[] = {"a", ""};
	const char *null_id[] = {"a", NULL};
	assert_null(shard_map_new(dup, 3));
	assert_null(shard_map_new(empty, 2));
	assert_null(shard_map_new(null_id, 2));
	assert_null(shard_map_new(dup, 0));
	assert_null(shard_map_new(NULL, 1));
	assert_null(shard_map_new(dup, SHARD_MAP_MAX_SHARDS + 1));

	char longid[SHARD_MAP_MAX_ID_LEN + 2];
	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	const char *too_long[] = {longid};
	assert_null(shard_map_new(too_long, 1));
	longid[SHARD_MAP_MAX_ID_LEN] = '\0'; /* exactly the limit is fine */
	struct shard_map *m = shard_map_new(too_long, 1);
	assert_non_null(m);
	assert_int_equal(strlen(shard_map_id(m, 0)), SHARD_MAP_MAX_ID_LEN);
	shard_map_free(&m);

	/* The map keeps its own copy of the ids. */
	char mutable_id[] = "be-9";
	const char *ids[] = {mutable_id, "be-8"};
	m = shard_map_new(ids, 2);
	assert_non_null(m);
	mutable_id[0] = 'X';
	assert_string_equal(shard_map_id(m, 0), "be-9");
	shard_map_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers), cmocka_unit_test(test_order_independent),
		cmocka_unit_test(test_even_spread),   cmocka_unit_test(test_minimal_movement),
		cmocka_unit_test(test_single_shard),  cmocka_unit_test(test_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
