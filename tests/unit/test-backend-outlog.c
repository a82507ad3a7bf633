/*
 * Unit tests for the notification log (backend/outlog.c) and its read
 * operation (backend/op-outband.c) against a real LMDB environment: entries
 * per user in order, paging, event splitting, retention by count and age,
 * and the resync answers.
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

#include <unistd.h>

#include "backend/db.h"
#include "backend/ops.h"
#include "backend/outlog.h"
#include "config.h"

struct fx {
	char dir[64];
	struct db *db;
	struct cpm_config cfg;
	struct op_ctx ctx;
	uint64_t log_id;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	test_tmpdir_make(f->dir, sizeof(f->dir), "outlog");
	char err[256];
	f->db = db_open(f->dir, 64, err, sizeof(err));
	assert_non_null(f->db);
	f->ctx.db = f->db;
	f->ctx.cfg = &f->cfg;
	f->ctx.shard_id = "s1";
	assert_int_equal(outlog_init(f->db, &f->log_id), DB_OK);
	assert_true(f->log_id != 0);
	uint64_t again = 0;
	assert_int_equal(outlog_init(f->db, &again), DB_OK);
	assert_true(again == f->log_id); /* made once */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	db_close(&f->db);
	test_tmpdir_remove(f->dir);
	free(f);
	return 0;
}

/* Appends one event of user in its own committed transaction at time now. */
static void add(struct fx *f, const char *user, const char *folder, Cpm__ChangeKind kind, const uint32_t *uids,
		size_t n, uint64_t now)
{
	struct op_result res = {0};
	op_event(&res, user, 7, 3, kind, uids, n);
	res.events[0]->folder_name = strdup(folder);
	MDB_txn *t;
	assert_int_equal(mdb_txn_begin(f->db->env, NULL, 0, &t), 0);
	assert_int_equal(outlog_append(f->db, t, &res, now), DB_OK);
	assert_int_equal(mdb_txn_commit(t), 0);
	op_result_clear(&res);
}

static Cpm__Response *read_log(struct fx *f, const char *user, uint64_t after, uint64_t log_id, uint32_t max)
{
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__OutbandReadReq q = CPM__OUTBAND_READ_REQ__INIT;
	q.user = (char *)user;
	q.after = after;
	q.log_id = log_id;
	q.max = max;
	req.op_case = CPM__REQUEST__OP_OUTBAND_READ;
	req.outband_read = &q;
	struct op_result res = {0};
	MDB_txn *t;
	assert_int_equal(mdb_txn_begin(f->db->env, NULL, MDB_RDONLY, &t), 0);
	op_run(&f->ctx, t, &req, &res);
	mdb_txn_abort(t);
	assert_non_null(res.resp);
	return res.resp;
}

static void prune(struct fx *f, uint64_t now, size_t steps, size_t want)
{
	MDB_txn *t;
	size_t n = 99;
	assert_int_equal(mdb_txn_begin(f->db->env, NULL, 0, &t), 0);
	assert_int_equal(outlog_prune(f->db, t, &f->cfg, now, steps, &n), DB_OK);
	assert_int_equal(mdb_txn_commit(t), 0);
	assert_int_equal(n, want);
}

static void test_order_paging_split(void **state)
{
	struct fx *f = *state;
	uint32_t u[3] = {1, 2, 3};
	add(f, "alice", "INBOX", CPM__CHANGE_KIND__C_APPEND, u, 1, 1000);
	add(f, "bob", "INBOX", CPM__CHANGE_KIND__C_APPEND, u, 1, 1000);
	add(f, "alice", "Work", CPM__CHANGE_KIND__C_FLAGS, u, 3, 1000);
	add(f, "alic", "INBOX", CPM__CHANGE_KIND__C_EXPUNGE, u, 1, 1000); /* a prefix of alice: not hers */

	Cpm__Response *r = read_log(f, "alice", 0, 0, 0);
	assert_int_equal(r->status, CPM__STATUS__OK);
	Cpm__OutbandReadResp *o = r->outband_read;
	assert_true(o->log_id == f->log_id);
	assert_int_equal(o->head, 4);
	assert_int_equal(o->n_entries, 2);
	assert_false(o->more);
	assert_false(o->resync_needed);
	assert_int_equal(o->entries[0]->seq, 1);
	assert_string_equal(o->entries[0]->folder_name, "INBOX");
	assert_int_equal(o->entries[0]->kind, CPM__CHANGE_KIND__C_APPEND);
	assert_int_equal(o->entries[1]->seq, 3);
	assert_string_equal(o->entries[1]->folder_name, "Work");
	assert_int_equal(o->entries[1]->n_uids, 3);
	assert_int_equal(o->entries[1]->uids[2], 3);
	assert_int_equal(o->entries[1]->modseq, 3);
	assert_int_equal(o->entries[1]->time_ms, 1000);
	cpm__response__free_unpacked(r, NULL);

	r = read_log(f, "alice", 0, f->log_id, 1); /* one per page */
	assert_int_equal(r->outband_read->n_entries, 1);
	assert_true(r->outband_read->more);
	cpm__response__free_unpacked(r, NULL);
	r = read_log(f, "alice", 1, f->log_id, 1);
	assert_int_equal(r->outband_read->n_entries, 1);
	assert_int_equal(r->outband_read->entries[0]->seq, 3);
	assert_false(r->outband_read->more);
	cpm__response__free_unpacked(r, NULL);
	r = read_log(f, "alice", 3, f->log_id, 0);
	assert_int_equal(r->outband_read->n_entries, 0);
	cpm__response__free_unpacked(r, NULL);

	/* An event with more UIDs than an entry holds becomes several entries. */
	uint32_t *many = calloc(OUTLOG_MAX_UIDS + 5, sizeof(uint32_t));
	for (uint32_t i = 0; i < OUTLOG_MAX_UIDS + 5; i++)
		many[i] = i + 1;
	add(f, "carol", "INBOX", CPM__CHANGE_KIND__C_EXPUNGE, many, OUTLOG_MAX_UIDS + 5, 1000);
	free(many);
	r = read_log(f, "carol", 0, 0, 0);
	assert_int_equal(r->outband_read->n_entries, 2);
	assert_int_equal(r->outband_read->entries[0]->n_uids, OUTLOG_MAX_UIDS);
	assert_int_equal(r->outband_read->entries[1]->n_uids, 5);
	assert_int_equal(r->outband_read->entries[1]->uids[4], OUTLOG_MAX_UIDS + 5);
	cpm__response__free_unpacked(r, NULL);

	/* Hostile input. */
	r = read_log(f, "", 0, 0, 0);
	assert_int_equal(r->status, CPM__STATUS__INVALID);
	cpm__response__free_unpacked(r, NULL);
}

static void test_retention_and_resync(void **state)
{
	struct fx *f = *state;
	uint32_t u = 1;
	for (int i = 0; i < 10; i++)
		add(f, i % 2 ? "alice" : "bob", "INBOX", CPM__CHANGE_KIND__C_APPEND, &u, 1, 1000 + (uint64_t)i * 1000);
	/* No limits: nothing goes. */
	prune(f, 1000000, 100, 0);
	/* At most 6 entries: the 4 oldest go, in steps. */
	f->cfg.outband_retention_max = 6;
	prune(f, 20000, 3, 3);
	prune(f, 20000, 100, 1);
	prune(f, 20000, 100, 0);
	Cpm__Response *r = read_log(f, "alice", 0, f->log_id, 0);
	assert_true(r->outband_read->resync_needed);
	assert_string_equal(r->outband_read->resync_reason, "the cursor is older than the retained log");
	assert_int_equal(r->outband_read->head, 10);
	assert_int_equal(r->outband_read->n_entries, 0);
	cpm__response__free_unpacked(r, NULL);
	r = read_log(f, "alice", 4, f->log_id, 0); /* exactly at the watermark: complete */
	assert_false(r->outband_read->resync_needed);
	assert_int_equal(r->outband_read->n_entries, 3); /* seqs 6, 8, 10 */
	assert_int_equal(r->outband_read->entries[0]->seq, 6);
	cpm__response__free_unpacked(r, NULL);
	/* By age: entries older than 3 s at t = 10.5 s (times 5..10 s remain: 8, 9, 10 are young). */
	f->cfg.outband_retention_max = 0;
	f->cfg.outband_retention_s = 3;
	prune(f, 10500, 100, 3);
	r = read_log(f, "bob", 6, f->log_id, 0);
	assert_true(r->outband_read->resync_needed);
	cpm__response__free_unpacked(r, NULL);
	r = read_log(f, "bob", 7, f->log_id, 0);
	assert_false(r->outband_read->resync_needed);
	assert_int_equal(r->outband_read->n_entries, 1); /* seq 9 */
	cpm__response__free_unpacked(r, NULL);
	/* Cursors of another log or from the future. */
	r = read_log(f, "bob", 9, f->log_id + 1, 0);
	assert_string_equal(r->outband_read->resync_reason, "the cursor belongs to another log");
	cpm__response__free_unpacked(r, NULL);
	r = read_log(f, "bob", 11, f->log_id, 0);
	assert_string_equal(r->outband_read->resync_reason, "the cursor is ahead of the log");
	cpm__response__free_unpacked(r, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_paging_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_and_resync, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
