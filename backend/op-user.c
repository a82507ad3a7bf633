/*
 * op-user: accounts on this shard — user_get (the SCRAM secret for
 * authentication), user_put (create with the default folders, or change the
 * secret), user_del (the user, every folder, every message reference),
 * user_list.
 */
#include "ops.h"

#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool user_name_ok(const char *u)
{
	size_t n = strlen(u);
	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] <= 0x20 || u[i] == 0x7f)
			return false;
	return true;
}

void op_user_get(const struct op_ctx *ctx, MDB_txn *t, const Cpm__UserGetReq *q, struct op_result *res)
{
	Cpmdb__UserRec *u = NULL;
	enum db_status st = db_get_user(t, ctx->db, q->user, &u);
	if (st != DB_OK) {
		op_fail_db(res, st, "user");
		return;
	}
	Cpm__UserGetResp *r = malloc(sizeof(*r));
	if (r == NULL) {
		cpmdb__user_rec__free_unpacked(u, NULL);
		op_fail(res, CPM__STATUS__INTERNAL, "out of memory");
		return;
	}
	cpm__user_get_resp__init(r);
	r->user = op_strdup(q->user);
	r->scram_secret = op_strdup(u->scram_secret);
	cpmdb__user_rec__free_unpacked(u, NULL);
	res->resp->result_case = CPM__RESPONSE__RESULT_USER_GET;
	res->resp->user_get = r;
}

void op_user_put(const struct op_ctx *ctx, MDB_txn *t, const Cpm__UserPutReq *q, struct op_result *res)
{
	if (!user_name_ok(q->user) || q->scram_secret == NULL || q->scram_secret[0] == '\0') {
		op_fail(res, CPM__STATUS__INVALID, "invalid user name or secret");
		return;
	}
	Cpmdb__UserRec *old = NULL;
	enum db_status st = db_get_user(t, ctx->db, q->user, &old);
	if (st != DB_OK && st != DB_NOTFOUND) {
		op_fail_db(res, st, "user");
		return;
	}
	bool exists = st == DB_OK;
	if (exists && q->create_only) {
		cpmdb__user_rec__free_unpacked(old, NULL);
		op_fail(res, CPM__STATUS__EXISTS, "user %s already exists", q->user);
		return;
	}
	if (!exists && q->update_only) {
		op_fail(res, CPM__STATUS__NOTFOUND, "no user %s", q->user);
		return;
	}
	Cpmdb__UserRec rec = CPMDB__USER_REC__INIT;
	rec.scram_secret = q->scram_secret;
	rec.created = exists ? old->created : (int64_t)time(NULL);
	if (old != NULL)
		cpmdb__user_rec__free_unpacked(old, NULL);
	st = db_put_user(t, ctx->db, q->user, &rec);
	if (st != DB_OK) {
		op_fail_db(res, st, "user");
		return;
	}
	if (!exists) {
		for (size_t i = 0; i < ctx->cfg->n_default_folders; i++) {
			char *name = op_strdup(ctx->cfg->default_folders[i]);
			uint64_t id;
			uint32_t uv;
			st = name && op_folder_name_ok(name) ? op_folder_create(ctx, t, q->user, name, &id, &uv, res)
							      : DB_INVALID;
			free(name);
			if (st != DB_OK && st != DB_EXISTS) {
				op_fail_db(res, st, "default folder");
				return;
			}
		}
	}
	log_info("event=user_put user=%s created=%s", log_quote(q->user, strlen(q->user)), exists ? "no" : "yes");
}

/* Removes one folder's messages (releasing blobs), change log and info. */
static enum db_status drop_folder_content(const struct op_ctx *ctx, MDB_txn *t, uint64_t fid)
{
	struct db *db = ctx->db;
	MDB_cursor *c;
	unsigned char k[12];
	db_key_msg(k, fid, 0);
	int rc = mdb_cursor_open(t, db->msgs, &c);
	if (rc != 0)
		return db_from_mdb(rc, "msgs");
	MDB_val kv = {12, k}, v;
	enum db_status st = DB_OK;
	rc = mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE);
	while (rc == 0 && kv.mv_size == 12 && db_get_u64(kv.mv_data) == fid) {
		Cpmdb__MsgRec *m = db_decode_msg(&v);
		if (m != NULL && m->blob.len == 32)
			st = db_blob_unref(t, db, m->blob.data);
		if (m != NULL)
			cpmdb__msg_rec__free_unpacked(m, NULL);
		if (st != DB_OK && st != DB_NOTFOUND)
			break;
		st = DB_OK;
		rc = mdb_cursor_del(c, 0);
		if (rc == 0)
			rc = mdb_cursor_get(c, &kv, &v, MDB_NEXT); /* after a delete, NEXT yields the record that followed */
	}
	mdb_cursor_close(c);
	if (st != DB_OK)
		return st;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return db_from_mdb(rc, "msgs");
	rc = mdb_cursor_open(t, db->changes, &c);
	if (rc != 0)
		return db_from_mdb(rc, "changes");
	unsigned char ck[16];
	db_key_change(ck, fid, 0);
	kv.mv_size = 16;
	kv.mv_data = ck;
	rc = mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE);
	while (rc == 0 && kv.mv_size == 16 && db_get_u64(kv.mv_data) == fid) {
		rc = mdb_cursor_del(c, 0);
		if (rc == 0)
			rc = mdb_cursor_get(c, &kv, &v, MDB_NEXT); /* after a delete, NEXT yields the record that followed */
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return db_from_mdb(rc, "changes");
	unsigned char fk[8];
	db_key_u64(fk, fid);
	MDB_val fkv = {8, fk};
	rc = mdb_del(t, db->finfo, &fkv, NULL);
	return rc == MDB_NOTFOUND ? DB_OK : db_from_mdb(rc, "finfo");
}

void op_user_del(const struct op_ctx *ctx, MDB_txn *t, const Cpm__UserDelReq *q, struct op_result *res)
{
	struct db *db = ctx->db;
	MDB_val uk = {strlen(q->user), q->user};
	int rc = mdb_del(t, db->users, &uk, NULL);
	if (rc != 0) {
		op_fail_db(res, db_from_mdb(rc, "user"), "user");
		return;
	}
	size_t ul = strlen(q->user);
	MDB_cursor *c;
	rc = mdb_cursor_open(t, db->folders, &c);
	if (rc != 0) {
		op_fail_db(res, db_from_mdb(rc, "folders"), "folders");
		return;
	}
	unsigned char *prefix = malloc(ul + 1);
	if (prefix == NULL) {
		mdb_cursor_close(c);
		op_fail(res, CPM__STATUS__INTERNAL, "out of memory");
		return;
	}
	memcpy(prefix, q->user, ul);
	prefix[ul] = 0;
	MDB_val kv = {ul + 1, prefix}, v;
	enum db_status st = DB_OK;
	size_t n = 0;
	rc = mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE);
	while (rc == 0 && kv.mv_size > ul && memcmp(kv.mv_data, prefix, ul + 1) == 0) {
		if (v.mv_size == 8) {
			uint64_t fid = db_get_u64(v.mv_data);
			st = drop_folder_content(ctx, t, fid);
			if (st != DB_OK)
				break;
			op_event(res, q->user, fid, 0, CPM__CHANGE_KIND__C_FOLDER_DELETE, NULL, 0);
		}
		n++;
		rc = mdb_cursor_del(c, 0);
		if (rc == 0)
			rc = mdb_cursor_get(c, &kv, &v, MDB_NEXT); /* after a delete, NEXT yields the record that followed */
	}
	mdb_cursor_close(c);
	free(prefix);
	if (st != DB_OK) {
		op_fail_db(res, st, "folder");
		return;
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		op_fail_db(res, db_from_mdb(rc, "folders"), "folders");
		return;
	}
	log_info("event=user_del user=%s folders=%zu", log_quote(q->user, ul), n);
}

void op_user_list(const struct op_ctx *ctx, MDB_txn *t, const Cpm__UserListReq *q, struct op_result *res)
{
	Cpm__UserListResp *r = malloc(sizeof(*r));
	if (r == NULL) {
		op_fail(res, CPM__STATUS__INTERNAL, "out of memory");
		return;
	}
	cpm__user_list_resp__init(r);
	res->resp->result_case = CPM__RESPONSE__RESULT_USER_LIST;
	res->resp->user_list = r;
	MDB_cursor *c = NULL;
	int rc = mdb_cursor_open(t, ctx->db->users, &c);
	MDB_val k, v;
	size_t cap = 0;
	if (rc == 0)
		rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		if (r->n_users == cap) {
			cap = cap ? cap * 2 : 64;
			char **nu = realloc(r->users, cap * sizeof(char *));
			if (nu == NULL)
				break;
			r->users = nu;
		}
		char *name = strndup(k.mv_data, k.mv_size);
		if (name == NULL)
			break;
		r->users[r->n_users++] = name;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	if (c != NULL)
		mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		op_fail_db(res, db_from_mdb(rc, "users"), "users");
}
