/*
 * op-user: accounts on this shard — user_get (the SCRAM secret for
 * authentication), user_put (create with the default folders, or change the
 * secret), user_del (the user, every folder, every message reference),
 * user_list.
 */
#include "ops.h"

#include "log.h"

#include "user-name.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void op_user_get(const struct op_ctx *ctx, MDB_txn *t, const Cpm__UserGetReq *q, struct op_result *res)
{
	Cpmdb__UserRec *u = NULL;
	enum db_status st = db_get_user(t, ctx->db, q->user, &u);
	if (st != DB_OK) {
		op_fail_db(res, st, "user");
		return;
	}
	Cpm__UserGetResp *r = op_result_new(res, CPM__RESPONSE__RESULT_USER_GET, &cpm__user_get_resp__descriptor);
	if (r == NULL) {
		cpmdb__user_rec__free_unpacked(u, NULL);
		return;
	}
	r->user = op_strdup(q->user);
	r->scram_secret = op_strdup(u->scram_secret);
	cpmdb__user_rec__free_unpacked(u, NULL);
}

void op_user_put(const struct op_ctx *ctx, MDB_txn *t, const Cpm__UserPutReq *q, struct op_result *res)
{
	if (!user_name_valid(q->user) || q->scram_secret == NULL || q->scram_secret[0] == '\0') {
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
	if (exists) {
		/* A new secret keeps the account's accounting and quota. */
		rec.storage_used = old->storage_used;
		rec.quota_bytes = old->quota_bytes;
		rec.quota_set = old->quota_set;
	}
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

void op_user_del(const struct op_ctx *ctx, MDB_txn *t, const Cpm__UserDelReq *q, struct op_result *res)
{
	struct db *db = ctx->db;
	MDB_val uk = {strlen(q->user), q->user};
	int rc = mdb_del(t, db->users, &uk, NULL);
	if (rc != 0) {
		op_fail_db(res, db_from_mdb(rc, "user"), "user");
		return;
	}
	struct op_folder_list all = {0};
	enum db_status st = op_folder_collect(ctx, t, q->user, "", &all);
	for (size_t i = 0; st == DB_OK && i < all.n; i++)
		st = op_folder_drop(ctx, t, q->user, all.names[i], all.ids[i], res);
	/* Subscriptions and sharer hints go with the user. */
	MDB_dbi lists[] = {db->subs, db->sharers};
	for (size_t k = 0; st == DB_OK && k < sizeof(lists) / sizeof(lists[0]); k++) {
		struct op_folder_list names = {0};
		st = op_names_collect(t, lists[k], q->user, &names);
		for (size_t i = 0; st == DB_OK && i < names.n; i++)
			st = db_name_set(t, db, lists[k], q->user, names.names[i], false);
		op_folder_list_free(&names);
	}
	size_t n = all.n;
	op_folder_list_free(&all);
	if (st != DB_OK) {
		op_fail_db(res, st, "folder");
		return;
	}
	log_info("event=user_del user=%s folders=%zu", log_quote(q->user, strlen(q->user)), n);
}

void op_user_list(const struct op_ctx *ctx, MDB_txn *t, const Cpm__UserListReq *q, struct op_result *res)
{
	Cpm__UserListResp *r = op_result_new(res, CPM__RESPONSE__RESULT_USER_LIST, &cpm__user_list_resp__descriptor);
	if (r == NULL)
		return;
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

/* ---- QUOTA -------------------------------------------------------------------- */

static uint64_t quota_limit(const struct op_ctx *ctx, const Cpmdb__UserRec *u)
{
	return u->quota_set ? u->quota_bytes : ctx->cfg->default_quota_mb << 20;
}

enum db_status op_quota_charge(const struct op_ctx *ctx, MDB_txn *t, const char *user, int64_t delta)
{
	Cpmdb__UserRec *u = NULL;
	enum db_status st = db_get_user(t, ctx->db, user, &u);
	if (st != DB_OK)
		return st;
	uint64_t limit = quota_limit(ctx, u);
	if (delta > 0 && limit != 0 && u->storage_used + (uint64_t)delta > limit) {
		cpmdb__user_rec__free_unpacked(u, NULL);
		return DB_OVERQUOTA;
	}
	if (delta < 0)
		u->storage_used = u->storage_used >= (uint64_t)-delta ? u->storage_used - (uint64_t)-delta : 0;
	else
		u->storage_used += (uint64_t)delta;
	st = db_put_user(t, ctx->db, user, u);
	cpmdb__user_rec__free_unpacked(u, NULL);
	return st;
}

enum db_status op_quota_check(const struct op_ctx *ctx, MDB_txn *t, const char *user, uint64_t bytes)
{
	Cpmdb__UserRec *u = NULL;
	enum db_status st = db_get_user(t, ctx->db, user, &u);
	if (st != DB_OK)
		return st;
	uint64_t limit = quota_limit(ctx, u);
	bool over = limit != 0 && (bytes > limit || u->storage_used > limit - bytes);
	cpmdb__user_rec__free_unpacked(u, NULL);
	return over ? DB_OVERQUOTA : DB_OK;
}

void op_quota_get(const struct op_ctx *ctx, MDB_txn *t, const Cpm__QuotaGetReq *q, struct op_result *res)
{
	Cpmdb__UserRec *u = NULL;
	enum db_status st = db_get_user(t, ctx->db, q->user, &u);
	if (st != DB_OK) {
		op_fail_db(res, st, "user");
		return;
	}
	Cpm__QuotaGetResp *r = op_result_new(res, CPM__RESPONSE__RESULT_QUOTA_GET, &cpm__quota_get_resp__descriptor);
	if (r == NULL) {
		cpmdb__user_rec__free_unpacked(u, NULL);
		return;
	}
	r->used = u->storage_used;
	r->limit = quota_limit(ctx, u);
	cpmdb__user_rec__free_unpacked(u, NULL);
}

void op_quota_set(const struct op_ctx *ctx, MDB_txn *t, const Cpm__QuotaSetReq *q, struct op_result *res)
{
	Cpmdb__UserRec *u = NULL;
	enum db_status st = db_get_user(t, ctx->db, q->user, &u);
	if (st == DB_OK) {
		u->quota_bytes = q->limit;
		u->quota_set = true;
		st = db_put_user(t, ctx->db, q->user, u);
		cpmdb__user_rec__free_unpacked(u, NULL);
	}
	if (st != DB_OK)
		op_fail_db(res, st, "user");
}
