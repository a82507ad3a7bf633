/*
 * Unit tests for the back-end's storage and operations (backend/db.c,
 * backend/op-*.c, backend/writer.c) against a real LMDB environment in a
 * temporary directory.
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
#include "backend/writer.h"
#include "config.h"

struct fx {
	char dir[64];
	struct db *db;
	struct cpm_config cfg;
	char *folders[2];
	struct op_ctx ctx;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	test_tmpdir_make(f->dir, sizeof(f->dir), "ops");
	char err[256];
	f->db = db_open(f->dir, 64, err, sizeof(err));
	assert_non_null(f->db);
	f->folders[0] = "INBOX";
	f->folders[1] = "Default";
	f->cfg.default_folders = f->folders;
	f->cfg.n_default_folders = 2;
	f->cfg.max_literal = 1 << 20;
	f->ctx.db = f->db;
	f->ctx.cfg = &f->cfg;
	f->ctx.shard_id = "s1";
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

/* Runs one request in its own write transaction (committed only if OK). */
static void run(struct fx *f, Cpm__Request *req, struct op_result *res)
{
	MDB_txn *t;
	assert_int_equal(mdb_txn_begin(f->db->env, NULL, 0, &t), 0);
	op_run(&f->ctx, t, req, res);
	assert_non_null(res->resp);
	if (res->resp->status == CPM__STATUS__OK)
		assert_int_equal(mdb_txn_commit(t), 0);
	else
		mdb_txn_abort(t);
}

static Cpm__Status user_put(struct fx *f, const char *user, bool create_only)
{
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__UserPutReq q = CPM__USER_PUT_REQ__INIT;
	q.user = (char *)user;
	q.scram_secret = "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy";
	q.create_only = create_only;
	req.op_case = CPM__REQUEST__OP_USER_PUT;
	req.user_put = &q;
	struct op_result res = {0};
	run(f, &req, &res);
	Cpm__Status st = res.resp->status;
	op_result_clear(&res);
	return st;
}

static Cpm__Status folder_create(struct fx *f, const char *user, const char *name)
{
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FolderCreateReq q = CPM__FOLDER_CREATE_REQ__INIT;
	q.user = (char *)user;
	q.name = (char *)name;
	req.op_case = CPM__REQUEST__OP_FOLDER_CREATE;
	req.folder_create = &q;
	struct op_result res = {0};
	run(f, &req, &res);
	Cpm__Status st = res.resp->status;
	op_result_clear(&res);
	return st;
}

/* Folder names of user, joined by ",". */
static void folder_names(struct fx *f, const char *user, char *out, size_t outlen)
{
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FolderListReq q = CPM__FOLDER_LIST_REQ__INIT;
	q.user = (char *)user;
	req.op_case = CPM__REQUEST__OP_FOLDER_LIST;
	req.folder_list = &q;
	struct op_result res = {0};
	run(f, &req, &res);
	assert_int_equal(res.resp->status, CPM__STATUS__OK);
	out[0] = '\0';
	for (size_t i = 0; i < res.resp->folder_list->n_folders; i++) {
		if (i)
			strncat(out, ",", outlen - strlen(out) - 1);
		strncat(out, res.resp->folder_list->folders[i]->name, outlen - strlen(out) - 1);
	}
	op_result_clear(&res);
}

static Cpm__Response *select_folder(struct fx *f, const char *user, const char *name, bool readonly,
				    struct op_result *res)
{
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FolderSelectReq q = CPM__FOLDER_SELECT_REQ__INIT;
	q.user = (char *)user;
	q.name = (char *)name;
	q.readonly = readonly;
	req.op_case = CPM__REQUEST__OP_FOLDER_SELECT;
	req.folder_select = &q;
	run(f, &req, res);
	return res->resp;
}

static uint32_t append(struct fx *f, const char *user, const char *folder, const char *body, uint32_t flags,
		       uint64_t *modseq_r)
{
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__AppendReq q = CPM__APPEND_REQ__INIT;
	q.user = (char *)user;
	q.folder = (char *)folder;
	q.body.data = (uint8_t *)body;
	q.body.len = strlen(body);
	q.sys_flags = flags;
	q.internaldate = 1700000000;
	req.op_case = CPM__REQUEST__OP_APPEND;
	req.append = &q;
	struct op_result res = {0};
	run(f, &req, &res);
	uint32_t uid = 0;
	if (res.resp->status == CPM__STATUS__OK) {
		uid = res.resp->append->uid;
		if (modseq_r)
			*modseq_r = res.resp->append->modseq;
		assert_int_equal(res.n_events, 1);
		assert_int_equal(res.events[0]->kind, CPM__CHANGE_KIND__C_APPEND);
	}
	op_result_clear(&res);
	return uid;
}

static size_t count_entries(struct fx *f, MDB_dbi dbi)
{
	MDB_txn *t;
	MDB_stat st;
	assert_int_equal(mdb_txn_begin(f->db->env, NULL, MDB_RDONLY, &t), 0);
	assert_int_equal(mdb_stat(t, dbi, &st), 0);
	mdb_txn_abort(t);
	return st.ms_entries;
}

static void test_users(void **state)
{
	struct fx *f = *state;
	assert_int_equal(user_put(f, "alice", true), CPM__STATUS__OK);
	assert_int_equal(user_put(f, "alice", true), CPM__STATUS__EXISTS);
	assert_int_equal(user_put(f, "bad name", true), CPM__STATUS__INVALID);
	assert_int_equal(user_put(f, "tel:+491701234567", true), CPM__STATUS__OK);
	char names[256];
	folder_names(f, "alice", names, sizeof(names));
	assert_string_equal(names, "Default,INBOX");

	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__UserGetReq g = CPM__USER_GET_REQ__INIT;
	g.user = "alice";
	req.op_case = CPM__REQUEST__OP_USER_GET;
	req.user_get = &g;
	struct op_result res = {0};
	run(f, &req, &res);
	assert_int_equal(res.resp->status, CPM__STATUS__OK);
	assert_string_equal(res.resp->user_get->scram_secret, "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy");
	op_result_clear(&res);
	g.user = "nobody";
	run(f, &req, &res);
	assert_int_equal(res.resp->status, CPM__STATUS__NOTFOUND);
	op_result_clear(&res);

	Cpm__UserListReq l = CPM__USER_LIST_REQ__INIT;
	req.op_case = CPM__REQUEST__OP_USER_LIST;
	req.user_list = &l;
	run(f, &req, &res);
	assert_int_equal(res.resp->user_list->n_users, 2);
	assert_string_equal(res.resp->user_list->users[0], "alice");
	assert_string_equal(res.resp->user_list->users[1], "tel:+491701234567");
	op_result_clear(&res);

	Cpm__UserDelReq d = CPM__USER_DEL_REQ__INIT;
	d.user = "alice";
	req.op_case = CPM__REQUEST__OP_USER_DEL;
	req.user_del = &d;
	run(f, &req, &res);
	assert_int_equal(res.resp->status, CPM__STATUS__OK);
	op_result_clear(&res);
	run(f, &req, &res);
	assert_int_equal(res.resp->status, CPM__STATUS__NOTFOUND);
	op_result_clear(&res);
	/* Only the other user's two folders are left. */
	assert_int_equal(count_entries(f, f->db->folders), 2);
}

static void test_folders(void **state)
{
	struct fx *f = *state;
	assert_int_equal(folder_create(f, "alice", "x"), CPM__STATUS__NOTFOUND); /* no such user */
	user_put(f, "alice", true);
	assert_int_equal(folder_create(f, "alice", "Default/tel:+123/contrib@x"), CPM__STATUS__OK);
	assert_int_equal(folder_create(f, "alice", "Default/tel:+123"), CPM__STATUS__EXISTS);
	assert_int_equal(folder_create(f, "alice", "inbox"), CPM__STATUS__EXISTS);
	assert_int_equal(folder_create(f, "alice", "inBox/sub"), CPM__STATUS__OK);
	assert_int_equal(folder_create(f, "alice", "a//b"), CPM__STATUS__INVALID);
	assert_int_equal(folder_create(f, "alice", "/a"), CPM__STATUS__INVALID);
	assert_int_equal(folder_create(f, "alice", "a*"), CPM__STATUS__INVALID);
	assert_int_equal(folder_create(f, "alice", "bad\xff"), CPM__STATUS__INVALID);
	assert_int_equal(folder_create(f, "alice", "\xe5\x8f\xb0\xe5\x8c\x97"), CPM__STATUS__OK);
	char names[512];
	folder_names(f, "alice", names, sizeof(names));
	assert_string_equal(names, "Default,Default/tel:+123,Default/tel:+123/contrib@x,INBOX,INBOX/sub,"
				   "\xe5\x8f\xb0\xe5\x8c\x97");
}

/* Sharer hints: one per owner, at most OP_SHARERS_MAX in the user's own
 * FolderListResp, none in another user's view of it; a user's deletion
 * drops its hints. */
static void test_sharer_hints(void **state)
{
	struct fx *f = *state;
	user_put(f, "bob", true);
	char owner[32];
	for (int i = 0; i < OP_SHARERS_MAX + 6; i++) {
		Cpm__Request req = CPM__REQUEST__INIT;
		Cpm__SharerReq q = CPM__SHARER_REQ__INIT;
		snprintf(owner, sizeof(owner), "owner%03d", i);
		q.user = "bob";
		q.owner = owner;
		req.op_case = CPM__REQUEST__OP_SHARER;
		req.sharer = &q;
		struct op_result res = {0};
		run(f, &req, &res);
		assert_int_equal(res.resp->status, CPM__STATUS__OK);
		op_result_clear(&res);
	}
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FolderListReq q = CPM__FOLDER_LIST_REQ__INIT;
	q.user = "bob";
	req.op_case = CPM__REQUEST__OP_FOLDER_LIST;
	req.folder_list = &q;
	struct op_result res = {0};
	run(f, &req, &res);
	assert_int_equal(res.resp->folder_list->n_sharers, OP_SHARERS_MAX);
	assert_string_equal(res.resp->folder_list->sharers[0], "owner000");
	op_result_clear(&res);
	req.actor = "carol"; /* bob's folders as another user sees them */
	run(f, &req, &res);
	assert_int_equal(res.resp->status, CPM__STATUS__OK);
	assert_int_equal(res.resp->folder_list->n_sharers, 0);
	assert_int_equal(res.resp->folder_list->n_folders, 0); /* no l right on any */
	op_result_clear(&res);
	assert_int_equal(count_entries(f, f->db->sharers), OP_SHARERS_MAX + 6);
	Cpm__Request del = CPM__REQUEST__INIT;
	Cpm__UserDelReq d = CPM__USER_DEL_REQ__INIT;
	d.user = "bob";
	del.op_case = CPM__REQUEST__OP_USER_DEL;
	del.user_del = &d;
	run(f, &del, &res);
	assert_int_equal(res.resp->status, CPM__STATUS__OK);
	op_result_clear(&res);
	assert_int_equal(count_entries(f, f->db->sharers), 0);
}

static void test_messages(void **state)
{
	struct fx *f = *state;
	user_put(f, "alice", true);
	struct op_result res = {0};
	Cpm__Response *r = select_folder(f, "alice", "INBOX", true, &res);
	assert_int_equal(r->status, CPM__STATUS__OK);
	assert_int_equal(r->folder_select->info->uidnext, 1);
	assert_int_equal(r->folder_select->n_uids, 0);
	uint64_t folder_id = r->folder_select->info->folder_id;
	uint32_t uidvalidity = r->folder_select->info->uidvalidity;
	op_result_clear(&res);

	uint64_t m1, m2, m3;
	assert_int_equal(append(f, "alice", "INBOX", "Subject: one\r\n\r\nbody\r\n", CPM__SYS_FLAG__SEEN, &m1), 1);
	assert_int_equal(append(f, "alice", "inbox", "Subject: two\r\n\r\nbody\r\n", 0, &m2), 2);
	assert_int_equal(append(f, "alice", "INBOX", "Subject: one\r\n\r\nbody\r\n", 0, &m3), 3);
	assert_true(m1 < m2 && m2 < m3);
	assert_int_equal(append(f, "alice", "Nope", "x", 0, NULL), 0);
	/* The same bytes twice are stored once. */
	assert_int_equal(count_entries(f, f->db->blobs), 2);

	/* SELECT claims \Recent once; EXAMINE does not. */
	r = select_folder(f, "alice", "INBOX", false, &res);
	assert_int_equal(r->folder_select->first_recent_uid, 1);
	assert_int_equal(r->folder_select->n_uids, 3);
	assert_int_equal(r->folder_select->unseen_seq, 2);
	assert_int_equal(r->folder_select->info->exists, 3);
	assert_int_equal(r->folder_select->info->uidnext, 4);
	op_result_clear(&res);
	r = select_folder(f, "alice", "INBOX", false, &res);
	assert_int_equal(r->folder_select->first_recent_uid, 0);
	op_result_clear(&res);

	/* FETCH 2:* with the whole UID space: one seek, two messages. */
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FetchReq q = CPM__FETCH_REQ__INIT;
	Cpm__UidRange range = CPM__UID_RANGE__INIT, *ranges[1] = {&range};
	range.first = 2;
	range.last = 4294967295u;
	q.user = "alice";
	q.folder_id = folder_id;
	q.uidvalidity = uidvalidity;
	q.uids = ranges;
	q.n_uids = 1;
	q.items = CPM__FETCH_ITEM__F_FLAGS | CPM__FETCH_ITEM__F_BODY | CPM__FETCH_ITEM__F_SIZE;
	req.op_case = CPM__REQUEST__OP_FETCH;
	req.fetch = &q;
	run(f, &req, &res);
	assert_int_equal(res.resp->status, CPM__STATUS__OK);
	assert_int_equal(res.resp->fetch->n_messages, 2);
	assert_int_equal(res.resp->fetch->messages[0]->uid, 2);
	assert_int_equal(res.resp->fetch->messages[1]->uid, 3);
	assert_int_equal(res.resp->fetch->messages[1]->body.len, strlen("Subject: one\r\n\r\nbody\r\n"));
	assert_memory_equal(res.resp->fetch->messages[1]->body.data, "Subject: one\r\n\r\nbody\r\n", 22);
	assert_int_equal(res.resp->fetch->more_from_uid, 0);
	op_result_clear(&res);
	/* Paging. */
	q.max_messages = 1;
	run(f, &req, &res);
	assert_int_equal(res.resp->fetch->n_messages, 1);
	assert_int_equal(res.resp->fetch->more_from_uid, 3);
	op_result_clear(&res);
	/* A stale UIDVALIDITY is refused. */
	q.uidvalidity = uidvalidity + 1;
	run(f, &req, &res);
	assert_int_equal(res.resp->status, CPM__STATUS__UIDVALIDITY_CHANGED);
	op_result_clear(&res);

	/* STORE +FLAGS \Seen on 1:3: only 2 and 3 change, each with a new modseq. */
	Cpm__StoreReq s = CPM__STORE_REQ__INIT;
	range.first = 1;
	range.last = 3;
	s.user = "alice";
	s.folder_id = folder_id;
	s.uidvalidity = uidvalidity;
	s.uids = ranges;
	s.n_uids = 1;
	s.mode = CPM__STORE_MODE__STORE_ADD;
	s.sys_flags = CPM__SYS_FLAG__SEEN;
	char *kw[] = {"$Important"};
	s.keywords = kw;
	s.n_keywords = 1;
	req.op_case = CPM__REQUEST__OP_STORE;
	req.store = &s;
	run(f, &req, &res);
	assert_int_equal(res.resp->status, CPM__STATUS__OK);
	assert_int_equal(res.resp->store->n_messages, 3);
	for (int i = 0; i < 3; i++) {
		assert_true(res.resp->store->messages[i]->sys_flags & CPM__SYS_FLAG__SEEN);
		assert_true(res.resp->store->messages[i]->modseq > m3);
		assert_int_equal(res.resp->store->messages[i]->n_keywords, 1);
	}
	assert_int_equal(res.n_events, 1);
	assert_int_equal(res.events[0]->n_uids, 3);
	op_result_clear(&res);
	/* The same STORE again changes nothing: no new modseq, no event. */
	run(f, &req, &res);
	assert_int_equal(res.n_events, 0);
	op_result_clear(&res);
	/* -FLAGS removes the keyword again. */
	s.mode = CPM__STORE_MODE__STORE_REMOVE;
	s.sys_flags = 0;
	run(f, &req, &res);
	assert_int_equal(res.resp->store->messages[0]->n_keywords, 0);
	op_result_clear(&res);
}

static void test_persistence_and_uidvalidity(void **state)
{
	struct fx *f = *state;
	user_put(f, "alice", true);
	append(f, "alice", "INBOX", "Subject: keep\r\n\r\n", 0, NULL);
	struct op_result res = {0};
	select_folder(f, "alice", "INBOX", true, &res);
	uint32_t uv1 = res.resp->folder_select->info->uidvalidity;
	op_result_clear(&res);
	/* Reopen: everything is still there. */
	db_close(&f->db);
	char err[256];
	f->db = db_open(f->dir, 64, err, sizeof(err));
	assert_non_null(f->db);
	f->ctx.db = f->db;
	select_folder(f, "alice", "INBOX", true, &res);
	assert_int_equal(res.resp->folder_select->n_uids, 1);
	assert_int_equal(res.resp->folder_select->info->uidvalidity, uv1);
	op_result_clear(&res);
	/* Delete and re-create: a new, larger UIDVALIDITY; no blob left behind. */
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__UserDelReq d = CPM__USER_DEL_REQ__INIT;
	d.user = "alice";
	req.op_case = CPM__REQUEST__OP_USER_DEL;
	req.user_del = &d;
	run(f, &req, &res);
	op_result_clear(&res);
	assert_int_equal(count_entries(f, f->db->blobs), 0);
	assert_int_equal(count_entries(f, f->db->msgs), 0);
	user_put(f, "alice", true);
	select_folder(f, "alice", "INBOX", true, &res);
	assert_true(res.resp->folder_select->info->uidvalidity > uv1);
	assert_int_equal(res.resp->folder_select->n_uids, 0);
	op_result_clear(&res);
}

/* Group commit: one batch, one failing job, the others committed. */
static unsigned done_count;
static Cpm__Status done_status[8];
static void on_done(struct writer_job *j, void *ctx)
{
	done_status[done_count++] = j->res.resp->status;
	op_result_clear(&j->res);
}

static void test_group_commit(void **state)
{
	struct fx *f = *state;
	user_put(f, "alice", true);
	uv_loop_t loop;
	uv_loop_init(&loop);
	char err[128];
	struct writer *w = writer_start(&loop, &f->ctx, on_done, NULL, err, sizeof(err));
	assert_non_null(w);
	Cpm__Request reqs[3];
	Cpm__FolderCreateReq qs[3];
	struct writer_job jobs[3];
	const char *names[3] = {"one", "INBOX", "two"}; /* INBOX exists: fails alone */
	for (int i = 0; i < 3; i++) {
		cpm__request__init(&reqs[i]);
		cpm__folder_create_req__init(&qs[i]);
		qs[i].user = "alice";
		qs[i].name = (char *)names[i];
		reqs[i].op_case = CPM__REQUEST__OP_FOLDER_CREATE;
		reqs[i].folder_create = &qs[i];
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].req = &reqs[i];
		writer_submit(w, &jobs[i]);
	}
	while (done_count < 3)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(done_status[0], CPM__STATUS__OK);
	assert_int_equal(done_status[1], CPM__STATUS__EXISTS);
	assert_int_equal(done_status[2], CPM__STATUS__OK);
	unsigned long batches, njobs;
	writer_stats(w, &batches, &njobs);
	assert_int_equal(njobs, 3);
	assert_true(batches >= 1 && batches <= 3);
	writer_stop(&w);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	char names_out[256];
	folder_names(f, "alice", names_out, sizeof(names_out));
	assert_string_equal(names_out, "Default,INBOX,one,two");
}

/* A write nobody waits for any more is not applied (a retry must not double it). */
static void test_expired_write_not_applied(void **state)
{
	struct fx *f = *state;
	user_put(f, "alice", true);
	uv_loop_t loop;
	uv_loop_init(&loop);
	char err[128];
	done_count = 0;
	struct writer *w = writer_start(&loop, &f->ctx, on_done, NULL, err, sizeof(err));
	assert_non_null(w);
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FolderCreateReq q = CPM__FOLDER_CREATE_REQ__INIT;
	q.user = "alice";
	q.name = "late";
	req.op_case = CPM__REQUEST__OP_FOLDER_CREATE;
	req.folder_create = &q;
	req.deadline_ms = 1000; /* 1970 */
	struct writer_job job;
	memset(&job, 0, sizeof(job));
	job.req = &req;
	writer_submit(w, &job);
	while (done_count < 1)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(done_status[0], CPM__STATUS__UNAVAILABLE);
	writer_stop(&w);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	char names_out[256];
	folder_names(f, "alice", names_out, sizeof(names_out));
	assert_string_equal(names_out, "Default,INBOX");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_folders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persistence_and_uidvalidity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sharer_hints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_write_not_applied, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
