/*
 * op-folder: folders of a user — create (missing parents are created too,
 * as Dovecot does), list, select/examine.
 *
 * A folder's identity is (owner, name, UIDVALIDITY); its id is a shard-wide
 * counter, and UIDVALIDITY comes from db_next_uidvalidity so DELETE+CREATE
 * of the same name always gets a new one.
 */
#include "ops.h"

#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum db_status create_one(const struct op_ctx *ctx, MDB_txn *t, const char *user, const char *name,
				 uint64_t *id_r, uint32_t *uv_r, struct op_result *res)
{
	uint64_t id;
	uint32_t uv;
	enum db_status st = db_lookup_folder(t, ctx->db, user, name, &id);
	if (st == DB_OK)
		return DB_EXISTS;
	if (st != DB_NOTFOUND)
		return st;
	if ((st = db_next_folder_id(t, ctx->db, &id)) != DB_OK || (st = db_next_uidvalidity(t, ctx->db, &uv)) != DB_OK)
		return st;
	Cpmdb__FolderRec f = CPMDB__FOLDER_REC__INIT;
	f.owner = (char *)user;
	f.name = (char *)name;
	f.uidvalidity = uv;
	f.uidnext = 1;
	f.highestmodseq = 1;
	f.recent_uid = 1;
	f.created = (int64_t)time(NULL);
	if ((st = db_bind_folder(t, ctx->db, user, name, id)) != DB_OK ||
	    (st = db_put_folder(t, ctx->db, id, &f)) != DB_OK)
		return st;
	op_event(res, user, id, 1, CPM__CHANGE_KIND__C_FOLDER_CREATE, NULL, 0);
	*id_r = id;
	*uv_r = uv;
	return DB_OK;
}

enum db_status op_folder_create(const struct op_ctx *ctx, MDB_txn *t, const char *user, const char *name,
				uint64_t *id_r, uint32_t *uidvalidity_r, struct op_result *res)
{
	/* Parents first: "a/b/c" creates "a" and "a/b" when missing. */
	char *tmp = op_strdup(name);
	if (tmp == NULL)
		return DB_FAIL;
	for (char *p = strchr(tmp, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		uint64_t pid;
		uint32_t puv;
		enum db_status st = create_one(ctx, t, user, tmp, &pid, &puv, res);
		*p = '/';
		if (st != DB_OK && st != DB_EXISTS) {
			free(tmp);
			return st;
		}
	}
	free(tmp);
	return create_one(ctx, t, user, name, id_r, uidvalidity_r, res);
}

static enum db_status user_exists(const struct op_ctx *ctx, MDB_txn *t, const char *user)
{
	MDB_val k = {strlen(user), (void *)user}, v;
	return db_from_mdb(mdb_get(t, ctx->db->users, &k, &v), "users");
}

void op_folder_create_req(const struct op_ctx *ctx, MDB_txn *t, const Cpm__FolderCreateReq *q, struct op_result *res)
{
	enum db_status st = user_exists(ctx, t, q->user);
	if (st != DB_OK) {
		op_fail_db(res, st, "user");
		return;
	}
	char *name = op_strdup(q->name);
	if (name == NULL || !op_folder_name_ok(name)) {
		free(name);
		op_fail(res, CPM__STATUS__INVALID, "invalid mailbox name");
		return;
	}
	uint64_t id = 0;
	uint32_t uv = 0;
	st = op_folder_create(ctx, t, q->user, name, &id, &uv, res);
	free(name);
	if (st != DB_OK) {
		if (st == DB_EXISTS)
			op_fail(res, CPM__STATUS__EXISTS, "Mailbox already exists");
		else
			op_fail_db(res, st, "folder");
		return;
	}
	Cpm__FolderCreateResp *r = malloc(sizeof(*r));
	if (r == NULL) {
		op_fail(res, CPM__STATUS__INTERNAL, "out of memory");
		return;
	}
	cpm__folder_create_resp__init(r);
	r->folder_id = id;
	r->uidvalidity = uv;
	res->resp->result_case = CPM__RESPONSE__RESULT_FOLDER_CREATE;
	res->resp->folder_create = r;
}

static Cpm__FolderInfo *folder_info(uint64_t id, const Cpmdb__FolderRec *f)
{
	Cpm__FolderInfo *i = malloc(sizeof(*i));
	if (i == NULL)
		return NULL;
	cpm__folder_info__init(i);
	i->name = op_strdup(f->name);
	i->folder_id = id;
	i->uidvalidity = f->uidvalidity;
	i->uidnext = f->uidnext;
	i->exists = f->exists;
	i->highestmodseq = f->highestmodseq;
	i->subscribed = f->subscribed;
	return i;
}

void op_folder_list(const struct op_ctx *ctx, MDB_txn *t, const Cpm__FolderListReq *q, struct op_result *res)
{
	enum db_status st = user_exists(ctx, t, q->user);
	if (st != DB_OK) {
		op_fail_db(res, st, "user");
		return;
	}
	Cpm__FolderListResp *r = malloc(sizeof(*r));
	if (r == NULL) {
		op_fail(res, CPM__STATUS__INTERNAL, "out of memory");
		return;
	}
	cpm__folder_list_resp__init(r);
	res->resp->result_case = CPM__RESPONSE__RESULT_FOLDER_LIST;
	res->resp->folder_list = r;
	size_t ul = strlen(q->user);
	unsigned char *prefix = malloc(ul + 1);
	MDB_cursor *c = NULL;
	int rc = prefix ? mdb_cursor_open(t, ctx->db->folders, &c) : ENOMEM;
	size_t cap = 0;
	if (rc == 0) {
		memcpy(prefix, q->user, ul);
		prefix[ul] = 0;
		MDB_val k = {ul + 1, prefix}, v;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		while (rc == 0 && k.mv_size > ul && memcmp(k.mv_data, prefix, ul + 1) == 0 && v.mv_size == 8) {
			uint64_t id = db_get_u64(v.mv_data);
			Cpmdb__FolderRec *f = NULL;
			if (db_get_folder(t, ctx->db, id, &f) == DB_OK) {
				if (r->n_folders == cap) {
					cap = cap ? cap * 2 : 16;
					Cpm__FolderInfo **nf = realloc(r->folders, cap * sizeof(*nf));
					if (nf == NULL) {
						cpmdb__folder_rec__free_unpacked(f, NULL);
						rc = ENOMEM;
						break;
					}
					r->folders = nf;
				}
				Cpm__FolderInfo *fi = folder_info(id, f);
				cpmdb__folder_rec__free_unpacked(f, NULL);
				if (fi == NULL) {
					rc = ENOMEM;
					break;
				}
				r->folders[r->n_folders++] = fi;
			}
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		}
	}
	if (c != NULL)
		mdb_cursor_close(c);
	free(prefix);
	if (rc == ENOMEM)
		op_fail(res, CPM__STATUS__INTERNAL, "out of memory");
	else if (rc != 0 && rc != MDB_NOTFOUND)
		op_fail_db(res, db_from_mdb(rc, "folders"), "folders");
}

void op_folder_select(const struct op_ctx *ctx, MDB_txn *t, const Cpm__FolderSelectReq *q, struct op_result *res)
{
	char *name = op_strdup(q->name);
	uint64_t id = 0;
	enum db_status st = name && op_folder_name_ok(name) ? db_lookup_folder(t, ctx->db, q->user, name, &id)
							   : DB_NOTFOUND;
	free(name);
	Cpmdb__FolderRec *f = NULL;
	if (st == DB_OK)
		st = db_get_folder(t, ctx->db, id, &f);
	if (st != DB_OK) {
		if (st == DB_NOTFOUND)
			op_fail(res, CPM__STATUS__NONEXISTENT, "Mailbox doesn't exist");
		else
			op_fail_db(res, st, "folder");
		return;
	}
	Cpm__FolderSelectResp *r = malloc(sizeof(*r));
	if (r == NULL) {
		cpmdb__folder_rec__free_unpacked(f, NULL);
		op_fail(res, CPM__STATUS__INTERNAL, "out of memory");
		return;
	}
	cpm__folder_select_resp__init(r);
	res->resp->result_case = CPM__RESPONSE__RESULT_FOLDER_SELECT;
	res->resp->folder_select = r;
	/* The sequence map and the first unseen message, from one cursor pass. */
	MDB_cursor *c = NULL;
	int rc = mdb_cursor_open(t, ctx->db->msgs, &c);
	size_t cap = 0;
	if (rc == 0) {
		unsigned char k0[12];
		db_key_msg(k0, id, 0);
		MDB_val k = {12, k0}, v;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		while (rc == 0 && k.mv_size == 12 && db_get_u64(k.mv_data) == id) {
			if (r->n_uids == cap) {
				cap = cap ? cap * 2 : 256;
				uint32_t *nu = realloc(r->uids, cap * sizeof(uint32_t));
				if (nu == NULL) {
					rc = ENOMEM;
					break;
				}
				r->uids = nu;
			}
			r->uids[r->n_uids++] = db_get_u32((const unsigned char *)k.mv_data + 8);
			if (r->unseen_seq == 0) {
				Cpmdb__MsgRec *m = db_decode_msg(&v);
				if (m != NULL && !(m->sys_flags & CPM__SYS_FLAG__SEEN))
					r->unseen_seq = (uint32_t)r->n_uids;
				if (m != NULL)
					cpmdb__msg_rec__free_unpacked(m, NULL);
			}
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		}
		mdb_cursor_close(c);
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		cpmdb__folder_rec__free_unpacked(f, NULL);
		if (rc == ENOMEM)
			op_fail(res, CPM__STATUS__INTERNAL, "out of memory");
		else
			op_fail_db(res, db_from_mdb(rc, "msgs"), "messages");
		return;
	}
	if (f->n_keywords > 0 && (r->keywords = calloc(f->n_keywords, sizeof(char *))) != NULL) {
		for (size_t i = 0; i < f->n_keywords; i++)
			r->keywords[i] = op_strdup(f->keywords[i]);
		r->n_keywords = f->n_keywords;
	}
	/* SELECT (not EXAMINE) claims the messages no session has seen as \Recent. */
	if (!q->readonly) {
		r->first_recent_uid = f->recent_uid < f->uidnext ? f->recent_uid : 0;
		if (f->recent_uid != f->uidnext) {
			f->recent_uid = f->uidnext;
			st = db_put_folder(t, ctx->db, id, f);
			if (st != DB_OK) {
				cpmdb__folder_rec__free_unpacked(f, NULL);
				op_fail_db(res, st, "folder");
				return;
			}
		}
	}
	r->info = folder_info(id, f);
	cpmdb__folder_rec__free_unpacked(f, NULL);
	if (r->info == NULL)
		op_fail(res, CPM__STATUS__INTERNAL, "out of memory");
}
