/*
 * Unit tests for body files (backend/blobfile.c) and the file-backed blobs
 * of backend/db.c: layout, durable write and idempotence, ranges, the
 * reference count and marker in LMDB, removal only after the commit that
 * drops the last reference (and not when it is referenced again), and the
 * start-up sweep of orphans and temporary files.
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

#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/blobfile.h"
#include "backend/db.h"

#define BODY_LEN 300000

struct fx {
	char dir[64];
	struct db *db;
	unsigned char *body;
	unsigned char hash[32];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	test_tmpdir_make(f->dir, sizeof(f->dir), "blobfile");
	char err[256];
	f->db = db_open(f->dir, 64, err, sizeof(err));
	assert_non_null(f->db);
	f->db->blob_file_threshold = 1000;
	f->body = malloc(BODY_LEN);
	for (size_t i = 0; i < BODY_LEN; i++)
		f->body[i] = (unsigned char)(i * 7 + i / 251);
	unsigned int hl = 32;
	assert_int_equal(EVP_Digest(f->body, BODY_LEN, f->hash, &hl, EVP_sha256(), NULL), 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	db_close(&f->db);
	test_tmpdir_remove(f->dir);
	free(f->body);
	free(f);
	return 0;
}

static bool file_there(struct fx *f)
{
	char path[BLOBFILE_PATH_MAX];
	struct stat st;
	assert_int_equal(blobfile_path(f->dir, f->hash, path, sizeof(path)), 0);
	return stat(path, &st) == 0 && st.st_size == BODY_LEN;
}

static void test_layout_write_read(void **state)
{
	struct fx *f = *state;
	char path[BLOBFILE_PATH_MAX], want[BLOBFILE_PATH_MAX];
	unsigned char h[32] = {0xab, 0xcd, 0x01};
	assert_int_equal(blobfile_path("/d", h, path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "/d/blobs/ab/cd/abcd01%058d", 0);
	assert_string_equal(path, want);
	assert_int_equal(blobfile_path("/d", h, path, 20), -1);

	assert_int_equal(blobfile_exists(f->dir, f->hash, BODY_LEN), 0);
	assert_int_equal(blobfile_write(f->dir, f->hash, f->body, BODY_LEN), 0);
	assert_int_equal(blobfile_exists(f->dir, f->hash, BODY_LEN), 1);
	assert_int_equal(blobfile_exists(f->dir, f->hash, BODY_LEN - 1), 0);
	assert_int_equal(blobfile_write(f->dir, f->hash, f->body, BODY_LEN), 0); /* already there */
	unsigned char out[100];
	size_t got;
	assert_int_equal(blobfile_read(f->dir, f->hash, 1234, out, sizeof(out), &got), 0);
	assert_int_equal(got, sizeof(out));
	assert_memory_equal(out, f->body + 1234, sizeof(out));
	assert_int_equal(blobfile_read(f->dir, f->hash, BODY_LEN - 10, out, sizeof(out), &got), 0);
	assert_int_equal(got, 10); /* short at the end only */
	const unsigned char *p;
	size_t len;
	assert_int_equal(blobfile_map(f->dir, f->hash, &p, &len), 0);
	assert_int_equal(len, BODY_LEN);
	assert_memory_equal(p, f->body, BODY_LEN);
	blobfile_unmap(p, len);
	assert_int_equal(blobfile_unlink(f->dir, f->hash), 0);
	assert_int_equal(blobfile_unlink(f->dir, f->hash), 0); /* ENOENT is fine */
	assert_int_equal(blobfile_read(f->dir, f->hash, 0, out, 1, &got), -1);
}

static MDB_txn *wtxn(struct fx *f)
{
	MDB_txn *t = NULL;
	assert_int_equal(mdb_txn_begin(f->db->env, NULL, 0, &t), 0);
	return t;
}

static void commit(struct fx *f, MDB_txn *t)
{
	assert_int_equal(mdb_txn_commit(t), 0);
	db_blob_after_commit(f->db);
}

static void test_refcount_and_unlink_after_commit(void **state)
{
	struct fx *f = *state;
	unsigned char h[32];
	MDB_txn *t = wtxn(f);
	/* The file is written before the commit (here by db_blob_ref itself). */
	assert_int_equal(db_blob_ref(t, f->db, f->body, BODY_LEN, NULL, 0, NULL, h), DB_OK);
	assert_memory_equal(h, f->hash, 32);
	assert_true(file_there(f));
	assert_int_equal(db_blob_addref(t, f->db, h), DB_OK); /* COPY */
	commit(f, t);

	t = wtxn(f);
	uint64_t size = 0;
	bool in_file = false;
	assert_int_equal(db_blob_stat(t, f->db, h, &size, &in_file), DB_OK);
	assert_true(in_file);
	assert_int_equal(size, BODY_LEN);
	const unsigned char *body;
	size_t len;
	uint64_t refs;
	assert_int_equal(db_blob_get(t, f->db, h, &body, &len, &refs), DB_OK);
	assert_int_equal(len, BODY_LEN);
	assert_int_equal(refs, 2);
	assert_memory_equal(body, f->body, BODY_LEN);
	unsigned char out[64];
	size_t got;
	assert_int_equal(db_blob_read(t, f->db, h, 5000, out, sizeof(out), &got), DB_OK);
	assert_int_equal(got, sizeof(out));
	assert_memory_equal(out, f->body + 5000, sizeof(out));
	assert_int_equal(db_blob_unref(t, f->db, h), DB_OK);
	commit(f, t);
	assert_true(file_there(f));

	/* The last reference dropped: the file stays until the commit. */
	t = wtxn(f);
	assert_int_equal(db_blob_unref(t, f->db, h), DB_OK);
	assert_true(file_there(f));
	commit(f, t);
	assert_false(file_there(f));

	/* Dropped, then referenced again before the commit: the file stays
	 * (re-written by db_blob_ref when it had gone). */
	t = wtxn(f);
	assert_int_equal(db_blob_ref(t, f->db, f->body, BODY_LEN, NULL, 0, f->hash, h), DB_OK);
	commit(f, t);
	t = wtxn(f);
	assert_int_equal(db_blob_unref(t, f->db, h), DB_OK);
	assert_int_equal(db_blob_ref(t, f->db, f->body, BODY_LEN, NULL, 0, f->hash, h), DB_OK);
	commit(f, t);
	assert_true(file_there(f));

	/* A rolled-back drop keeps the file. */
	t = wtxn(f);
	assert_int_equal(db_blob_unref(t, f->db, h), DB_OK);
	mdb_txn_abort(t);
	db_blob_after_commit(f->db);
	assert_true(file_there(f));

	/* A file written ahead for an APPEND that failed goes after the commit. */
	unsigned char other[32];
	memset(other, 0x42, sizeof(other));
	assert_int_equal(blobfile_write(f->dir, other, f->body, 10), 0);
	db_blob_forget_file(f->db, other);
	db_blob_after_commit(f->db);
	assert_int_equal(blobfile_exists(f->dir, other, 10), 0);

	/* Small bodies stay in LMDB. */
	t = wtxn(f);
	assert_int_equal(db_blob_ref(t, f->db, f->body, 999, NULL, 0, NULL, h), DB_OK);
	assert_int_equal(db_blob_stat(t, f->db, h, &size, &in_file), DB_OK);
	assert_false(in_file);
	assert_int_equal(size, 999);
	assert_int_equal(blobfile_exists(f->dir, h, 999), 0);
	commit(f, t);
}

static void test_sweep(void **state)
{
	struct fx *f = *state;
	unsigned char h[32], orphan[32];
	MDB_txn *t = wtxn(f);
	assert_int_equal(db_blob_ref(t, f->db, f->body, BODY_LEN, NULL, 0, NULL, h), DB_OK);
	commit(f, t);
	memset(orphan, 0x11, sizeof(orphan));
	assert_int_equal(blobfile_write(f->dir, orphan, f->body, 2000), 0);
	char tmp[BLOBFILE_PATH_MAX + 32], path[BLOBFILE_PATH_MAX];
	assert_int_equal(blobfile_path(f->dir, h, path, sizeof(path)), 0);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *fp = fopen(tmp, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(db_blob_sweep(f->db), DB_OK);
	assert_true(file_there(f));
	assert_int_equal(blobfile_exists(f->dir, orphan, 2000), 0);
	assert_int_equal(access(tmp, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layout_write_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refcount_and_unlink_after_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
