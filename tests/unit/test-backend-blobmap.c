/*
 * Unit tests for the shared body-file mappings (backend/blobmap.c): a file
 * is mapped once and found again, the bounds evict the least recently used
 * unheld mapping, a held one is never evicted (a reader then gets a mapping
 * of its own), forgetting a held file unmaps it at the last release, an
 * empty file and a missing one, and readers on several threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/unit/tmpdir.h"

#include <pthread.h>

#include "backend/blobfile.h"
#include "backend/blobmap.h"

struct fx {
	char dir[64];
	unsigned char hash[4][32];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	test_tmpdir_make(f->dir, sizeof(f->dir), "blobmap");
	unsigned char body[1000];
	for (int i = 0; i < 4; i++) {
		memset(f->hash[i], 0, 32);
		f->hash[i][0] = (unsigned char)(0x10 + i); /* names only: the map does not verify content */
		f->hash[i][31] = 0x5a;
		memset(body, 'a' + i, sizeof(body));
		assert_int_equal(blobfile_write(f->dir, f->hash[i], body, i == 3 ? 0 : 100u * (unsigned)(i + 1)), 0);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	test_tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static void test_mapped_once_and_found_again(void **state)
{
	struct fx *f = *state;
	struct blobmap *m = blobmap_new(f->dir, 8, 1 << 20);
	const unsigned char *p1, *p2;
	size_t l1, l2;
	void *h1, *h2;
	assert_int_equal(blobmap_get(m, f->hash[0], &p1, &l1, &h1), 0);
	assert_int_equal(l1, 100);
	assert_int_equal(p1[0], 'a');
	blobmap_release(m, h1);
	assert_int_equal(blobmap_get(m, f->hash[0], &p2, &l2, &h2), 0);
	assert_ptr_equal(p1, p2); /* the same mapping, kept between reads */
	blobmap_release(m, h2);
	unsigned n;
	size_t bytes;
	blobmap_stats(m, &n, &bytes);
	assert_int_equal(n, 1);
	assert_int_equal(bytes, 100);
	/* an empty file: length 0, a usable pointer */
	assert_int_equal(blobmap_get(m, f->hash[3], &p1, &l1, &h1), 0);
	assert_int_equal(l1, 0);
	assert_non_null(p1);
	blobmap_release(m, h1);
	/* a missing file */
	unsigned char none[32] = {0x77};
	assert_int_equal(blobmap_get(m, none, &p1, &l1, &h1), -1);
	blobmap_free(m);
}

static void test_bounds_evict_lru_never_held(void **state)
{
	struct fx *f = *state;
	struct blobmap *m = blobmap_new(f->dir, 2, 1 << 20); /* two files at most */
	const unsigned char *p[3];
	size_t l;
	void *h[3];
	assert_int_equal(blobmap_get(m, f->hash[0], &p[0], &l, &h[0]), 0);
	assert_int_equal(blobmap_get(m, f->hash[1], &p[1], &l, &h[1]), 0);
	/* both held: a third reader gets a mapping of its own, the cache keeps two */
	assert_int_equal(blobmap_get(m, f->hash[2], &p[2], &l, &h[2]), 0);
	assert_int_equal(p[2][0], 'c');
	unsigned n;
	size_t bytes;
	blobmap_stats(m, &n, &bytes);
	assert_int_equal(n, 2);
	assert_int_equal(bytes, 300);
	blobmap_release(m, h[2]);
	/* 0 used before 1: once unheld, 0 is the one evicted */
	blobmap_release(m, h[0]);
	blobmap_release(m, h[1]);
	assert_int_equal(blobmap_get(m, f->hash[2], &p[2], &l, &h[2]), 0);
	blobmap_release(m, h[2]);
	blobmap_stats(m, &n, &bytes);
	assert_int_equal(n, 2);
	assert_int_equal(bytes, 500); /* files 1 and 2 */
	const unsigned char *again;
	void *ha;
	assert_int_equal(blobmap_get(m, f->hash[1], &again, &l, &ha), 0);
	assert_ptr_equal(again, p[1]);
	blobmap_release(m, ha);
	/* the byte bound too */
	struct blobmap *small = blobmap_new(f->dir, 8, 250);
	assert_int_equal(blobmap_get(small, f->hash[0], &p[0], &l, &h[0]), 0);
	blobmap_release(small, h[0]);
	assert_int_equal(blobmap_get(small, f->hash[1], &p[1], &l, &h[1]), 0);
	blobmap_release(small, h[1]);
	blobmap_stats(small, &n, &bytes);
	assert_int_equal(n, 1);
	assert_int_equal(bytes, 200);
	blobmap_free(small);
	blobmap_free(m);
}

static void test_forget_held_unmaps_at_release(void **state)
{
	struct fx *f = *state;
	struct blobmap *m = blobmap_new(f->dir, 8, 1 << 20);
	const unsigned char *p, *p2;
	size_t l;
	void *h, *h2;
	assert_int_equal(blobmap_get(m, f->hash[1], &p, &l, &h), 0);
	blobmap_forget(m, f->hash[1]);
	assert_int_equal(p[l - 1], 'b'); /* still readable by its holder */
	/* a new reader does not get the forgotten mapping */
	assert_int_equal(blobmap_get(m, f->hash[1], &p2, &l, &h2), 0);
	assert_ptr_not_equal(p2, p);
	blobmap_release(m, h);
	unsigned n;
	size_t bytes;
	blobmap_stats(m, &n, &bytes);
	assert_int_equal(n, 1); /* only the new one */
	blobmap_release(m, h2);
	blobmap_forget(m, f->hash[1]); /* unheld: unmapped at once */
	blobmap_stats(m, &n, &bytes);
	assert_int_equal(n, 0);
	assert_int_equal(bytes, 0);
	blobmap_forget(m, f->hash[2]); /* never mapped: nothing */
	blobmap_free(m);
}

struct reader_arg {
	struct blobmap *m;
	const struct fx *f;
	int bad;
};

static void *reader(void *arg)
{
	struct reader_arg *a = arg;
	for (int i = 0; i < 2000; i++) {
		int k = i % 3;
		const unsigned char *p;
		size_t l;
		void *h;
		if (blobmap_get(a->m, a->f->hash[k], &p, &l, &h) < 0 || l != 100u * (unsigned)(k + 1) ||
		    p[l - 1] != 'a' + k)
			a->bad++;
		else
			blobmap_release(a->m, h);
		if (i % 97 == 0)
			blobmap_forget(a->m, a->f->hash[k]);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct fx *f = *state;
	struct blobmap *m = blobmap_new(f->dir, 2, 1 << 20);
	pthread_t t[4];
	struct reader_arg a[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (struct reader_arg){m, f, 0};
		assert_int_equal(pthread_create(&t[i], NULL, reader, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(a[i].bad, 0);
	}
	unsigned n;
	size_t bytes;
	blobmap_stats(m, &n, &bytes);
	assert_true(n <= 2);
	blobmap_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mapped_once_and_found_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounds_evict_lru_never_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_held_unmaps_at_release, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
