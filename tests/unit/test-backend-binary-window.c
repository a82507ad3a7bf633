/*
 * Unit tests for backend/binary-window.c: one decoded window of a large
 * part per call, chained through the saved decoder state and the encoded
 * offset (as cmd-fetch.c chains FetchReq windows), over a body kept in a
 * file and over one kept in LMDB; the chained output equals one whole
 * decode; counting (binary_discard) gives the same size and NUL answer;
 * a hostile state or encoding is refused.
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
#include <unistd.h>

#include "backend/binary-window.h"
#include "backend/db.h"
#include "mime-cte.h"

#define RAW_LEN 700000

struct fx {
	char dir[64];
	struct db *db;
	unsigned char *raw, *enc;
	size_t enc_len;
	unsigned char h_file[32], h_inline[32];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	test_tmpdir_make(f->dir, sizeof(f->dir), "binwin");
	char err[256];
	f->db = db_open(f->dir, 64, err, sizeof(err));
	assert_non_null(f->db);
	f->raw = malloc(RAW_LEN);
	f->enc = malloc(RAW_LEN * 2);
	unsigned x = 12345;
	for (size_t i = 0; i < RAW_LEN; i++) {
		x = x * 1103515245u + 12345u;
		f->raw[i] = (unsigned char)(x >> 16);
	}
	/* "hdr" then base64 in 76-column lines with a stray "!" now and then. */
	memcpy(f->enc, "hdr\r\n\r\n", 7);
	f->enc_len = 7;
	for (size_t i = 0; i < RAW_LEN; i += 57) {
		int n = (int)(RAW_LEN - i < 57 ? RAW_LEN - i : 57);
		f->enc_len += (size_t)EVP_EncodeBlock(f->enc + f->enc_len, f->raw + i, n);
		if (i % 1000 == 0)
			f->enc[f->enc_len++] = '!';
		f->enc[f->enc_len++] = '\r';
		f->enc[f->enc_len++] = '\n';
	}
	MDB_txn *t;
	assert_int_equal(mdb_txn_begin(f->db->env, NULL, 0, &t), 0);
	f->db->blob_file_threshold = 1000;
	assert_int_equal(db_blob_ref(t, f->db, f->enc, f->enc_len, NULL, 0, NULL, f->h_file), DB_OK);
	f->db->blob_file_threshold = 0; /* never: the same bytes + 1 stay in LMDB */
	f->enc[f->enc_len] = '\n';
	assert_int_equal(db_blob_ref(t, f->db, f->enc, f->enc_len + 1, NULL, 0, NULL, f->h_inline), DB_OK);
	assert_int_equal(mdb_txn_commit(t), 0);
	db_blob_after_commit(f->db);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	db_close(&f->db);
	test_tmpdir_remove(f->dir);
	free(f->raw);
	free(f->enc);
	free(f);
	return 0;
}

/* Chains windows over enc[7 .. end) of blob h: windows of win decoded bytes
 * (0: the back-end's own bound), counting only when out is NULL. */
static size_t chain(struct fx *f, const unsigned char *h, uint64_t end, uint64_t win, unsigned char *out, bool *nul_r,
		    int *windows_r)
{
	struct op_ctx ctx = {.db = f->db};
	struct op_result res = {0};
	MDB_txn *t;
	assert_int_equal(mdb_txn_begin(f->db->env, NULL, MDB_RDONLY, &t), 0);
	uint64_t pos = 7, total = 0;
	unsigned char st[MIME_CTE_STATE_MAX];
	size_t st_len = 0;
	*nul_r = false;
	*windows_r = 0;
	for (;;) {
		Cpm__FetchReq q = CPM__FETCH_REQ__INIT;
		q.body_offset = pos;
		q.body_len = end - pos;
		q.binary_cte = MIME_CTE_BASE64;
		q.binary_state.data = st;
		q.binary_state.len = st_len;
		q.binary_max = win;
		q.binary_discard = out == NULL;
		Cpm__MessageData d = CPM__MESSAGE_DATA__INIT;
		assert_int_equal(op_binary_window(&ctx, t, h, &q, &res, &d), DB_OK);
		assert_true(d.binary_count <= (win ? win : (out ? OP_BINARY_OUT_MAX : UINT64_MAX)));
		assert_int_equal(d.body.len, out ? d.binary_count : 0);
		assert_true(d.binary_taken <= OP_BINARY_IN_MAX && d.binary_state.len <= MIME_CTE_STATE_MAX);
		if (out != NULL && d.body.len > 0)
			memcpy(out + total, d.body.data, d.body.len);
		total += d.binary_count;
		pos += d.binary_taken;
		*nul_r = *nul_r || d.binary_nul;
		memcpy(st, d.binary_state.data, d.binary_state.len);
		st_len = d.binary_state.len;
		bool done = d.binary_done;
		free(d.body.data);
		free(d.binary_state.data);
		(*windows_r)++;
		assert_true(*windows_r < 1000000);
		if (done)
			break;
	}
	assert_int_equal(pos, end);
	mdb_txn_abort(t);
	return (size_t)total;
}

static void test_windows_equal_whole(void **state)
{
	struct fx *f = *state;
	unsigned char *out = malloc(RAW_LEN);
	const unsigned char *hashes[] = {f->h_file, f->h_inline};
	uint64_t wins[] = {0, 1000, 262144, 3};
	for (int h = 0; h < 2; h++) {
		for (int w = 0; w < 4; w++) {
			if (wins[w] == 3 && h == 0)
				continue; /* 230000 round trips: once is enough */
			bool nul;
			int windows;
			memset(out, 0, RAW_LEN);
			assert_int_equal(chain(f, hashes[h], f->enc_len, wins[w], out, &nul, &windows), RAW_LEN);
			assert_memory_equal(out, f->raw, RAW_LEN);
			assert_int_equal(nul, memchr(f->raw, 0, RAW_LEN) != NULL);
			if (wins[w] == 0)
				assert_int_equal(windows, 1); /* 700 KB decoded: one window */
		}
		bool nul;
		int windows;
		assert_int_equal(chain(f, hashes[h], f->enc_len, 0, NULL, &nul, &windows), RAW_LEN);
		assert_true(nul);
		assert_int_equal(chain(f, hashes[h], f->enc_len, 4096, NULL, &nul, &windows), RAW_LEN);
	}
	free(out);
}

static void test_hostile_requests(void **state)
{
	struct fx *f = *state;
	struct op_ctx ctx = {.db = f->db};
	struct op_result res = {0};
	MDB_txn *t;
	assert_int_equal(mdb_txn_begin(f->db->env, NULL, MDB_RDONLY, &t), 0);
	Cpm__FetchReq q = CPM__FETCH_REQ__INIT;
	Cpm__MessageData d = CPM__MESSAGE_DATA__INIT;
	q.body_offset = 7;
	q.body_len = 100;
	q.binary_cte = MIME_CTE_UNKNOWN;
	assert_int_equal(op_binary_window(&ctx, t, f->h_file, &q, &res, &d), DB_INVALID);
	q.binary_cte = 77;
	assert_int_equal(op_binary_window(&ctx, t, f->h_file, &q, &res, &d), DB_INVALID);
	unsigned char bad[] = {1, MIME_CTE_BASE64, 0, 3, 'A', '!', 'A', 0};
	q.binary_cte = MIME_CTE_BASE64;
	q.binary_state.data = bad;
	q.binary_state.len = sizeof(bad);
	assert_int_equal(op_binary_window(&ctx, t, f->h_file, &q, &res, &d), DB_INVALID);
	/* A range past the body's end is clamped: empty and done. */
	q.binary_state.len = 0;
	q.body_offset = UINT64_MAX - 5;
	q.body_len = UINT64_MAX;
	assert_int_equal(op_binary_window(&ctx, t, f->h_file, &q, &res, &d), DB_OK);
	assert_int_equal(d.binary_count, 0);
	assert_int_equal(d.binary_taken, 0);
	assert_true(d.binary_done);
	free(d.body.data);
	free(d.binary_state.data);
	mdb_txn_abort(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_windows_equal_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_requests, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
