/*
 * tmpdir: a fresh temporary directory per unit test, and its removal.
 * Include after <cmocka.h> (failures are cmocka assertions).
 *
 *   char dir[64];
 *   test_tmpdir_make(dir, sizeof(dir), "blobmap"); // /tmp/cpm-test-blobmap-<random>
 *   ...
 *   test_tmpdir_remove(dir);                        // the directory and all in it
 */
#ifndef CPM_TESTS_TMPDIR_H
#define CPM_TESTS_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static inline void test_tmpdir_make(char *dir, size_t size, const char *name)
{
	int n = snprintf(dir, size, "/tmp/cpm-test-%s-XXXXXX", name); /* mkdtemp fills the X's */
	assert_true(n > 0 && (size_t)n < size);
	assert_non_null(mkdtemp(dir));
}

static inline int test_tmpdir_unlink(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void test_tmpdir_remove(const char *dir)
{
	assert_int_equal(nftw(dir, test_tmpdir_unlink, 16, FTW_DEPTH | FTW_PHYS), 0);
}

#endif
