/*
 * Unit tests for backend/staging.c: the file half (create, offset writes,
 * the commit step's fsync + SHA-256 + MIME tree + link into the
 * content-addressed place, a size mismatch refused, the start-up sweep)
 * and the registry half (bounds per user, ownership, drop while busy, the
 * idle deadline), plus db_blob_ref_staged: a staged body becomes a
 * reference-counted file, identical bytes share it, and a body at or below
 * the threshold is read into LMDB.
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
#include "backend/staging.h"
#include "mime-parse.h"

static const char MSG_HEAD[] = "Subject: staged\r\nMIME-Version: 1.0\r\n"
			       "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
			       "Content-Type: text/plain\r\n\r\nhello\r\n--b\r\n"
			       "Content-Type: application/octet-stream\r\n\r\n";

/* A multipart message of about n bytes (n > 1 KiB). */
static unsigned char *message(size_t n)
{
	unsigned char *m = malloc(n);
	size_t h = sizeof(MSG_HEAD) - 1;
	memcpy(m, MSG_HEAD, h);
	for (size_t i = h; i < n - 9; i++)
		m[i] = (unsigned char)('a' + i % 26);
	memcpy(m + n - 9, "\r\n--b--\r\n", 9);
	return m;
}

static void mkdirs(char *dir)
{
	test_tmpdir_make(dir, 64, "staging");
}

static void rm_rf(const char *dir)
{
	test_tmpdir_remove(dir);
}

static void test_files_and_seal(void **state)
{
	char dir[64];
	mkdirs(dir);
	size_t removed = 99;
	assert_int_equal(staging_sweep(dir, &removed), 0); /* creates blobs/staging */
	assert_int_equal(removed, 0);
	char path[256];
	snprintf(path, sizeof(path), "%s/blobs/staging/00000000000000ab", dir);
	assert_int_equal(staging_file_create(path), 0);
	assert_int_equal(staging_file_create(path), -1); /* exclusive */

	size_t n = 9u << 20; /* more than one MIME progress step, several hash windows */
	unsigned char *m = message(n);
	/* pieces out of order and one written twice: offset-addressed */
	assert_int_equal(staging_file_write(path, 4u << 20, m + (4u << 20), n - (4u << 20)), 0);
	assert_int_equal(staging_file_write(path, 0, m, 4u << 20), 0);
	assert_int_equal(staging_file_write(path, 1000, m + 1000, 5000), 0);

	unsigned char hash[32], want[32];
	unsigned int hl = 32;
	assert_int_equal(EVP_Digest(m, n, want, &hl, EVP_sha256(), NULL), 1);
	unsigned char *tree = NULL;
	size_t tree_len = 0;
	/* the wrong size is refused */
	assert_int_equal(staging_file_seal(path, n + 1, dir, true, hash, &tree, &tree_len), -1);
	assert_null(tree);
	assert_int_equal(staging_file_seal(path, n, dir, true, hash, &tree, &tree_len), 0);
	assert_memory_equal(hash, want, 32);
	assert_non_null(tree);
	struct mime_tree *t = NULL;
	assert_int_equal(mime_tree_deserialize(tree, tree_len, &t), 0);
	assert_int_equal(t->n_parts, 3);
	struct mime_tree *direct = NULL;
	assert_int_equal(mime_parse(m, n, &direct), 0);
	struct buf ser = {0};
	assert_int_equal(mime_tree_serialize(direct, &ser), 0);
	assert_int_equal(ser.len, tree_len);
	assert_memory_equal(ser.data, tree, tree_len); /* the same tree as a parse in memory */
	buf_free(&ser);
	mime_tree_free(&direct);
	mime_tree_free(&t);
	free(tree);
	/* linked: the content-addressed file is the same inode, the staging name stays */
	char bpath[BLOBFILE_PATH_MAX];
	assert_int_equal(blobfile_path(dir, hash, bpath, sizeof(bpath)), 0);
	struct stat a, b;
	assert_int_equal(stat(bpath, &a), 0);
	assert_int_equal(stat(path, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_nlink, 2);
	assert_int_equal(blobfile_exists(dir, hash, n), 1);
	/* linking again (same bytes) is harmless */
	assert_int_equal(blobfile_link(dir, hash, path, n), 0);
	/* the blob sweep leaves blobs/staging alone; the staging sweep empties it */
	assert_int_equal(staging_sweep(dir, &removed), 0);
	assert_int_equal(removed, 1);
	assert_int_equal(stat(path, &b), -1);
	assert_int_equal(blobfile_exists(dir, hash, n), 1);
	free(m);
	rm_rf(dir);
}

static void keep_cb(uv_timer_t *t)
{
	(void)t;
}

static void test_registry(void **state)
{
	char dir[64];
	mkdirs(dir);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct staging *st = staging_new(&loop, dir, 2, 200);
	assert_non_null(st);
	const char *why = NULL;
	struct staging_file *a = staging_add(st, "alice", "alice", 100, &why);
	struct staging_file *b = staging_add(st, "alice", "alice", 100, &why);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_not_equal(a->id, b->id);
	assert_null(staging_add(st, "alice", "alice", 100, &why)); /* per user */
	assert_non_null(why);
	struct staging_file *c = staging_add(st, "bob", "carol", 100, &why); /* carol sends it to bob */
	assert_non_null(c);
	assert_int_equal(staging_count(st), 3);
	/* ownership */
	assert_ptr_equal(staging_get(st, a->id, "alice", "alice"), a);
	assert_null(staging_get(st, a->id, "bob", "alice"));
	/* Only its sender may touch it. */
	assert_ptr_equal(staging_get(st, c->id, "bob", "carol"), c);
	assert_null(staging_get(st, c->id, "bob", "bob"));
	assert_null(staging_get(st, c->id, "bob", NULL));
	assert_ptr_equal(staging_get(st, c->id, NULL, NULL), c);
	/* created: open, then a drop while busy waits for the work */
	assert_true(staging_work_done(st, a));
	a->state = STAGING_OPEN;
	b->busy = true;
	staging_drop(st, b);
	assert_true(b->dropped);
	assert_int_equal(staging_count(st), 3);
	assert_false(staging_work_done(st, b)); /* removed now */
	assert_int_equal(staging_count(st), 2);
	/* idle deadline: a (open, idle) goes; c (still creating) stays */
	a->last_ms -= 1000;
	uint64_t c_id = c->id;
	/* The registry's timer does not keep a loop alive by itself (in the
	 * back-end the RPC sockets do): a ref'd handle stands in for them. */
	uv_timer_t keep;
	uv_timer_init(&loop, &keep);
	assert_int_equal(uv_timer_start(&keep, keep_cb, 100000, 0), 0);
	uv_run(&loop, UV_RUN_NOWAIT);
	for (int i = 0; i < 50 && staging_count(st) > 1; i++) {
		usleep(20000);
		uv_run(&loop, UV_RUN_NOWAIT);
	}
	assert_int_equal(staging_count(st), 1);
	assert_non_null(staging_get(st, c_id, "bob", "carol"));
	uv_close((uv_handle_t *)&keep, NULL);
	staging_close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	staging_free(&st);
	assert_null(st);
	assert_int_equal(uv_loop_close(&loop), 0);
	rm_rf(dir);
}

static void ref_staged(struct db *db, const char *src, const unsigned char *body, size_t n, unsigned char hash[32])
{
	unsigned int hl = 32;
	assert_int_equal(EVP_Digest(body, n, hash, &hl, EVP_sha256(), NULL), 1);
	MDB_txn *t = NULL;
	assert_int_equal(mdb_txn_begin(db->env, NULL, 0, &t), 0);
	unsigned char got[32];
	assert_int_equal(db_blob_ref_staged(t, db, src, n, NULL, 0, hash, got), DB_OK);
	assert_memory_equal(got, hash, 32);
	assert_int_equal(mdb_txn_commit(t), 0);
	db_blob_after_commit(db);
}

static void test_db_ref_staged(void **state)
{
	char dir[64], err[256];
	mkdirs(dir);
	struct db *db = db_open(dir, 64, err, sizeof(err));
	assert_non_null(db);
	db->blob_file_threshold = 100000;
	size_t removed;
	assert_int_equal(staging_sweep(dir, &removed), 0);
	char src[256];
	snprintf(src, sizeof(src), "%s/blobs/staging/0000000000000001", dir);
	size_t big = 300000, small = 50000;
	unsigned char *m = message(big);
	assert_int_equal(staging_file_create(src), 0);
	assert_int_equal(staging_file_write(src, 0, m, big), 0);
	/* above the threshold: a file (linked from the staging file here, as
	 * when the commit step's link was removed meanwhile) */
	unsigned char h1[32], h2[32];
	ref_staged(db, src, m, big, h1);
	assert_int_equal(blobfile_exists(dir, h1, big), 1);
	/* the same bytes again: one more reference, the same file */
	ref_staged(db, src, m, big, h1);
	MDB_txn *t = NULL;
	assert_int_equal(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &t), 0);
	uint64_t size = 0;
	bool in_file = false;
	assert_int_equal(db_blob_stat(t, db, h1, &size, &in_file), DB_OK);
	assert_int_equal(size, big);
	assert_true(in_file);
	const unsigned char *p;
	size_t len;
	uint64_t refs = 0;
	assert_int_equal(db_blob_get(t, db, h1, &p, &len, &refs), DB_OK);
	assert_int_equal(refs, 2);
	assert_int_equal(len, big);
	assert_memory_equal(p, m, big);
	mdb_txn_abort(t);
	db_blob_thread_release();
	/* at or below the threshold: read into LMDB, no file */
	unlink(src);
	assert_int_equal(staging_file_create(src), 0);
	assert_int_equal(staging_file_write(src, 0, m, small), 0);
	ref_staged(db, src, m, small, h2);
	assert_int_equal(blobfile_exists(dir, h2, small), 0);
	assert_int_equal(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &t), 0);
	assert_int_equal(db_blob_stat(t, db, h2, &size, &in_file), DB_OK);
	assert_false(in_file);
	assert_int_equal(db_blob_get(t, db, h2, &p, &len, NULL), DB_OK);
	assert_int_equal(len, small);
	assert_memory_equal(p, m, small);
	mdb_txn_abort(t);
	free(m);
	db_close(&db);
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_files_and_seal),
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_db_ref_staged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
