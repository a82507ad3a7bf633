/* Unit tests for common/u64map: against a reference array under random churn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "u64map.h"

static void test_basic(void **state)
{
	struct u64map m;
	u64map_init(&m);
	assert_null(u64map_get(&m, 5));
	assert_int_equal(u64map_put(&m, 5, (void *)50), 0);
	assert_int_equal(u64map_put(&m, 0, (void *)1), -1);
	assert_ptr_equal(u64map_get(&m, 5), (void *)50);
	assert_int_equal(u64map_put(&m, 5, (void *)51), 0);
	assert_int_equal(m.count, 1);
	assert_ptr_equal(u64map_del(&m, 5), (void *)51);
	assert_null(u64map_del(&m, 5));
	assert_int_equal(m.count, 0);
	u64map_free(&m);
}

static void test_churn(void **state)
{
	enum { N = 4000 };
	static uintptr_t ref[N];
	struct u64map m;
	u64map_init(&m);
	srand(1234);
	for (int round = 0; round < 200000; round++) {
		int k = rand() % N;
		uint64_t key = (uint64_t)k * 7919 + 1;
		if (rand() % 3 == 0) {
			void *v = u64map_del(&m, key);
			assert_ptr_equal(v, (void *)ref[k]);
			ref[k] = 0;
		} else {
			uintptr_t v = (uintptr_t)round + 1;
			assert_int_equal(u64map_put(&m, key, (void *)v), 0);
			ref[k] = v;
		}
	}
	size_t live = 0;
	for (int k = 0; k < N; k++) {
		assert_ptr_equal(u64map_get(&m, (uint64_t)k * 7919 + 1), (void *)ref[k]);
		live += ref[k] != 0;
	}
	assert_int_equal(m.count, live);
	u64map_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_churn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
