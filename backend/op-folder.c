/*
 * op-folder: folders of a user — create (missing parents are created too,
 * as Dovecot does), list, select/examine.
 *
 * A folder's identity is (owner, name, UIDVALIDITY); its id is a shard-wide
 * counter, and UIDVALIDITY comes from db_next_uidvalidity so DELETE+CREATE
 * of the same name always gets a new one.
 */
#include "ops.h"

#include "acl.h"

#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A folder-level event names its folder (when the notification log is read
 * the id may be gone, or point at the new name). */
static void folder_event(struct op_result *res, const char *user, uint64_t id, uint64_t modseq, uint32_t uidvalidity,
			 const char *name, const char *old_name, Cpm__ChangeKind kind)
{
	size_t before = res->n_events;
	op_event(res, user, id, modseq, kind, NULL, 0);
	if (res->n_events == before)
		return;
	Cpm__FeedEvent *e = res->events[before];
	e->uidvalidity = uidvalidity;
	e->folder_name = op_strdup(name);
	e->old_folder_name = op_strdup(old_name);
	if (e->folder_name == NULL || e->old_folder_name == NULL)
		res->events_lost = true;
}

/* The record of name's parent folder, or NULL (top level, or none). */
static Cpmdb__FolderRec *parent_folder(const struct op_ctx *ctx, MDB_txn *t, const char *user, const char *name)
{
	const char *slash = strrchr(name, '/');
	char *pname = slash != NULL ? strndup(name, (size_t)(slash - name)) : NULL;
	uint64_t pid;
	Cpmdb__FolderRec *pf = NULL;
	if (pname != NULL && db_lookup_folder(t, ctx->db, user, pname, &pid) == DB_OK &&
	    db_get_folder(t, ctx->db, pid, &pf) != DB_OK)
		pf = NULL;
	free(pname);
	return pf;
}

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
	/* A new folder starts with its parent's access control list, as in
	 * Dovecot: who shares a hierarchy shares what grows in it. */
	Cpmdb__FolderRec *parent = parent_folder(ctx, t, user, name);
	if (parent != NULL) {
		f.acl = parent->acl;
		f.n_acl = parent->n_acl;
	}
	if ((st = db_bind_folder(t, ctx->db, user, name, id)) == DB_OK)
		st = db_put_folder(t, ctx->db, id, &f);
	if (parent != NULL)
		cpmdb__folder_rec__free_unpacked(parent, NULL);
	if (st != DB_OK)
		return st;
	folder_event(res, user, id, 1, uv, name, NULL, CPM__CHANGE_KIND__C_FOLDER_CREATE);
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

/* RFC 4314 4: creating a folder needs k on its parent. The nearest folder
 * that exists above name decides (missing parents are created with it); at
 * the top of a hierarchy only the owner (or a trusted caller) creates. */
static bool may_create(const struct op_ctx *ctx, MDB_txn *t, const char *user, const char *name,
		       struct op_result *res)
{
	bool owner = acl_acts_as_owner(ctx->actor, user);
	char *tmp = op_strdup(name);
	if (tmp == NULL) {
		op_fail(res, CPM__STATUS__INTERNAL, "out of memory");
		return false;
	}
	/* The nearest folder above name that exists. */
	Cpmdb__FolderRec *pf = NULL;
	for (char *slash = strrchr(tmp, '/'); pf == NULL && slash != NULL; slash = strrchr(tmp, '/')) {
		pf = parent_folder(ctx, t, user, tmp);
		*slash = '\0';
	}
	free(tmp);
	bool found = pf != NULL;
	bool ok = found ? acl_require(ctx, pf, ACL_K, res) : owner;
	if (pf != NULL)
		cpmdb__folder_rec__free_unpacked(pf, NULL);
	if (!found && !ok)
		op_fail(res, CPM__STATUS__NOPERM, "Permission denied (only the owner creates top-level mailboxes)");
	return ok;
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
	if (!may_create(ctx, t, q->user, name, res)) {
		free(name);
		return;
	}
	uint64_t id = 0;
	uint32_t uv = 0;
	st = op_folder_create(ctx, t, q->user, name, &id, &uv, res);
	free(name);
	if (st == DB_OK && q->special_use != NULL && q->special_use[0] != '\0') {
		Cpmdb__FolderRec *f = NULL;
		st = db_get_folder(t, ctx->db, id, &f);
		if (st == DB_OK) {
			f->special_use = op_strdup(q->special_use); /* the record owns it now */
			st = f->special_use ? db_put_folder(t, ctx->db, id, f) : DB_FAIL;
			cpmdb__folder_rec__free_unpacked(f, NULL);
		}
	}
	if (st != DB_OK) {
		if (st == DB_EXISTS)
			op_fail(res, CPM__STATUS__EXISTS, "Mailbox already exists");
		else
			op_fail_db(res, st, "folder");
		return;
	}
	Cpm__FolderCreateResp *r = op_result_new(res, CPM__RESPONSE__RESULT_FOLDER_CREATE, &cpm__folder_create_resp__descriptor);
	if (r == NULL)
		return;
	r->folder_id = id;
	r->uidvalidity = uv;
}

/* Messages from the folder's \\Recent watermark on (usually none: one seek). */
static uint32_t count_recent(const struct op_ctx *ctx, MDB_txn *t, uint64_t id, const Cpmdb__FolderRec *f)
{
	uint32_t n = 0;
	MDB_cursor *c = NULL;
	if (f->recent_uid >= f->uidnext || mdb_cursor_open(t, ctx->db->msgs, &c) != 0)
		return 0;
	unsigned char k0[12];
	db_key_msg(k0, id, f->recent_uid);
	MDB_val k = {12, k0}, v;
	int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size == 12 && db_get_u64(k.mv_data) == id) {
		n++;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	return n;
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
	i->unseen = f->unseen;
	i->size = f->size;
	i->special_use = op_strdup(f->special_use);
	return i;
}

/* ---- folder name lists ---------------------------------------------------- */

static int collect_name(void *ctx, const char *name, size_t len, const MDB_val *v)
{
	struct op_folder_list *l = ctx;
	if (l->max != 0 && l->n >= l->max)
		return 1;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		char **nn = realloc(l->names, nc * sizeof(char *));
		if (nn != NULL)
			l->names = nn;
		uint64_t *ni = nn ? realloc(l->ids, nc * sizeof(uint64_t)) : NULL;
		if (ni == NULL) {
			l->failed = true;
			return -1;
		}
		l->ids = ni;
		l->cap = nc;
	}
	char *n = strndup(name, len);
	if (n == NULL) {
		l->failed = true;
		return -1;
	}
	l->names[l->n] = n;
	l->ids[l->n] = v->mv_size == 8 ? db_get_u64(v->mv_data) : 0;
	l->n++;
	return 0;
}

static enum db_status collect(MDB_txn *t, MDB_dbi dbi, const char *user, const char *prefix,
			      struct op_folder_list *out)
{
	enum db_status st = db_each_name(t, dbi, user, prefix, collect_name, out);
	return st == DB_OK && out->failed ? DB_FAIL : st;
}

enum db_status op_folder_collect(const struct op_ctx *ctx, MDB_txn *t, const char *user, const char *prefix,
				 struct op_folder_list *out)
{
	return collect(t, ctx->db->folders, user, prefix, out);
}

enum db_status op_names_collect(MDB_txn *t, MDB_dbi dbi, const char *user, struct op_folder_list *out)
{
	return collect(t, dbi, user, "", out);
}

void op_folder_list_free(struct op_folder_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l->ids);
	memset(l, 0, sizeof(*l));
}

static bool is_subscribed(const struct op_ctx *ctx, MDB_txn *t, const char *user, const char *name)
{
	size_t ul = strlen(user), nl = strlen(name);
	unsigned char *k = malloc(ul + 1 + nl);
	if (k == NULL)
		return false;
	memcpy(k, user, ul);
	k[ul] = 0;
	memcpy(k + ul + 1, name, nl);
	MDB_val kv = {ul + 1 + nl, k}, v;
	bool on = mdb_get(t, ctx->db->subs, &kv, &v) == 0;
	free(k);
	return on;
}

/* The names of user in dbi (at most max; 0: all), handed to a response's string list. */
static enum db_status names_into(MDB_txn *t, MDB_dbi dbi, const char *user, size_t max, char ***names_r,
				 size_t *n_r)
{
	struct op_folder_list l = {.max = max};
	enum db_status st = collect(t, dbi, user, "", &l);
	if (st == DB_OK) {
		*names_r = l.names; /* ownership moves to the response */
		*n_r = l.n;
		l.names = NULL;
		l.n = 0;
	}
	op_folder_list_free(&l);
	return st;
}

void op_folder_list(const struct op_ctx *ctx, MDB_txn *t, const Cpm__FolderListReq *q, struct op_result *res)
{
	enum db_status st = user_exists(ctx, t, q->user);
	if (st != DB_OK) {
		op_fail_db(res, st, "user");
		return;
	}
	Cpm__FolderListResp *r = op_result_new(res, CPM__RESPONSE__RESULT_FOLDER_LIST, &cpm__folder_list_resp__descriptor);
	if (r == NULL)
		return;
	/* The user's own listing also carries subscription states, its sharers
	 * and, when asked, its subscriptions; another user's carries none. */
	bool own = acl_acts_as_owner(ctx->actor, q->user);
	struct op_folder_list all = {0};
	st = op_folder_collect(ctx, t, q->user, "", &all);
	if (st == DB_OK && all.n > 0 && (r->folders = calloc(all.n, sizeof(*r->folders))) == NULL)
		st = DB_FAIL;
	for (size_t i = 0; st == DB_OK && i < all.n; i++) {
		Cpmdb__FolderRec *f = NULL;
		if (db_get_folder(t, ctx->db, all.ids[i], &f) != DB_OK)
			continue; /* a name without info is skipped, never fatal for LIST */
		uint32_t rights = acl_rights_for(f, ctx->actor);
		if (!(rights & ACL_L)) {
			cpmdb__folder_rec__free_unpacked(f, NULL);
			continue; /* not visible to the actor (RFC 4314 4: LIST needs l) */
		}
		Cpm__FolderInfo *fi = folder_info(all.ids[i], f);
		if (fi != NULL) {
			fi->rights = rights;
			fi->recent = count_recent(ctx, t, all.ids[i], f);
		}
		cpmdb__folder_rec__free_unpacked(f, NULL);
		if (fi == NULL) {
			st = DB_FAIL;
			break;
		}
		fi->subscribed = own && is_subscribed(ctx, t, q->user, all.names[i]);
		r->folders[r->n_folders++] = fi;
	}
	op_folder_list_free(&all);
	if (st == DB_OK && own)
		st = names_into(t, ctx->db->sharers, q->user, OP_SHARERS_MAX, &r->sharers, &r->n_sharers);
	if (st == DB_OK && own && q->subscriptions)
		st = names_into(t, ctx->db->subs, q->user, 0, &r->subscriptions, &r->n_subscriptions);
	if (st != DB_OK)
		op_fail_db(res, st, "folders");
}

void op_folder_select(const struct op_ctx *ctx, MDB_txn *t, const Cpm__FolderSelectReq *q, struct op_result *res)
{
	uint64_t id = 0;
	Cpmdb__FolderRec *f = NULL;
	if (!op_folder_named(ctx, t, q->user, q->name, ACL_R, &id, &f, res))
		return;
	Cpm__FolderSelectResp *r = op_result_new(res, CPM__RESPONSE__RESULT_FOLDER_SELECT, &cpm__folder_select_resp__descriptor);
	if (r == NULL) {
		cpmdb__folder_rec__free_unpacked(f, NULL);
		return;
	}
	r->rights = acl_rights_for(f, ctx->actor);
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
	/* SELECT claims the messages no session has seen as \Recent; EXAMINE
	 * shows them as \Recent too but leaves them for the next SELECT. */
	r->first_recent_uid = f->recent_uid < f->uidnext ? f->recent_uid : 0;
	if (!q->readonly) {
		if (f->recent_uid != f->uidnext) {
			f->recent_uid = f->uidnext;
			enum db_status st = db_put_folder(t, ctx->db, id, f);
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

void op_recent_claim(const struct op_ctx *ctx, MDB_txn *t, const Cpm__RecentClaimReq *q, struct op_result *res)
{
	Cpmdb__FolderRec *f;
	if (!op_folder_by_id(ctx, t, q->folder_id, q->uidvalidity, q->user, ACL_R, &f, res))
		return;
	Cpm__RecentClaimResp *r = op_result_new(res, CPM__RESPONSE__RESULT_RECENT_CLAIM, &cpm__recent_claim_resp__descriptor);
	if (r == NULL) {
		cpmdb__folder_rec__free_unpacked(f, NULL);
		return;
	}
	uint32_t upto = q->upto_uid < f->uidnext ? q->upto_uid : f->uidnext;
	r->first_uid = r->end_uid = f->recent_uid;
	if (f->recent_uid < upto) {
		r->end_uid = upto;
		f->recent_uid = upto;
		enum db_status st = db_put_folder(t, ctx->db, q->folder_id, f);
		if (st != DB_OK)
			op_fail_db(res, st, "folder");
	}
	cpmdb__folder_rec__free_unpacked(f, NULL);
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


enum db_status op_folder_drop(const struct op_ctx *ctx, MDB_txn *t, const char *user, const char *name, uint64_t id,
			      struct op_result *res)
{
	Cpmdb__FolderRec *f = NULL;
	uint32_t uv = db_get_folder(t, ctx->db, id, &f) == DB_OK ? f->uidvalidity : 0;
	if (f != NULL)
		cpmdb__folder_rec__free_unpacked(f, NULL);
	enum db_status st = drop_folder_content(ctx, t, id);
	if (st == DB_OK)
		st = db_unbind_folder(t, ctx->db, user, name);
	if (st == DB_OK)
		folder_event(res, user, id, 0, uv, name, NULL, CPM__CHANGE_KIND__C_FOLDER_DELETE);
	return st;
}

/* Looks a request's folder name up: normalised, valid and present. */
static enum db_status named_folder(const struct op_ctx *ctx, MDB_txn *t, const char *user, const char *raw,
				   char **name_r, uint64_t *id_r)
{
	char *name = op_strdup(raw);
	if (name == NULL)
		return DB_FAIL;
	if (!op_folder_name_ok(name)) {
		free(name);
		return DB_NOTFOUND;
	}
	enum db_status st = db_lookup_folder(t, ctx->db, user, name, id_r);
	if (st != DB_OK) {
		free(name);
		return st;
	}
	*name_r = name;
	return DB_OK;
}

/* Whether the actor holds need on folder id (else res is failed). */
static bool folder_allows(const struct op_ctx *ctx, MDB_txn *t, uint64_t id, uint32_t need, struct op_result *res)
{
	Cpmdb__FolderRec *f = NULL;
	enum db_status st = db_get_folder(t, ctx->db, id, &f);
	if (st != DB_OK) {
		op_fail_folder(res, st);
		return false;
	}
	bool ok = acl_require(ctx, f, need, res);
	cpmdb__folder_rec__free_unpacked(f, NULL);
	return ok;
}

void op_folder_delete(const struct op_ctx *ctx, MDB_txn *t, const Cpm__FolderDeleteReq *q, struct op_result *res)
{
	char *name = NULL;
	uint64_t id = 0;
	enum db_status st = named_folder(ctx, t, q->user, q->name, &name, &id);
	if (st != DB_OK) {
		op_fail_folder(res, st);
		return;
	}
	if (!folder_allows(ctx, t, id, ACL_X, res)) {
		free(name);
		return;
	}
	if (strcmp(name, "INBOX") == 0) {
		op_fail(res, CPM__STATUS__INVALID, "INBOX can't be deleted.");
		free(name);
		return;
	}
	/* Dovecot's rule: a folder with children is not deleted (it would have
	 * to become \Noselect); the client deletes the children first. */
	size_t nl = strlen(name);
	char *prefix = malloc(nl + 2);
	struct op_folder_list kids = {0};
	st = prefix ? DB_OK : DB_FAIL;
	if (st == DB_OK) {
		memcpy(prefix, name, nl);
		memcpy(prefix + nl, "/", 2);
		st = op_folder_collect(ctx, t, q->user, prefix, &kids);
	}
	if (st == DB_OK && kids.n > 0)
		op_fail(res, CPM__STATUS__EXISTS, "Mailbox has children, delete them first");
	else if (st == DB_OK && (st = op_folder_drop(ctx, t, q->user, name, id, res)) != DB_OK)
		op_fail_db(res, st, "folder");
	else if (st != DB_OK)
		op_fail_db(res, st, "folder");
	op_folder_list_free(&kids);
	free(prefix);
	free(name);
}

/* Binds folder id under a new name and records the name in its info. */
static enum db_status rebind(const struct op_ctx *ctx, MDB_txn *t, const char *user, const char *from,
			     const char *to, uint64_t id, struct op_result *res)
{
	Cpmdb__FolderRec *f = NULL;
	uint32_t uv = 0;
	enum db_status st = db_unbind_folder(t, ctx->db, user, from);
	if (st == DB_OK)
		st = db_bind_folder(t, ctx->db, user, to, id);
	if (st == DB_OK)
		st = db_get_folder(t, ctx->db, id, &f);
	if (st == DB_OK) {
		char *old = f->name;
		f->name = (char *)to;
		st = db_put_folder(t, ctx->db, id, f);
		f->name = old;
		uv = f->uidvalidity;
		cpmdb__folder_rec__free_unpacked(f, NULL);
	}
	if (st == DB_OK)
		folder_event(res, user, id, 0, uv, to, from, CPM__CHANGE_KIND__C_FOLDER_RENAME);
	return st;
}

void op_folder_rename(const struct op_ctx *ctx, MDB_txn *t, const Cpm__FolderRenameReq *q, struct op_result *res)
{
	char *from = NULL;
	uint64_t id = 0, other;
	enum db_status st = named_folder(ctx, t, q->user, q->from, &from, &id);
	if (st != DB_OK) {
		op_fail_folder(res, st);
		return;
	}
	if (!folder_allows(ctx, t, id, ACL_X, res)) {
		free(from);
		return;
	}
	char *to = op_strdup(q->to);
	size_t fl = strlen(from);
	if (to == NULL || !op_folder_name_ok(to)) {
		op_fail(res, CPM__STATUS__INVALID, "invalid mailbox name");
		goto out;
	}
	if (!may_create(ctx, t, q->user, to, res))
		goto out;
	if (db_lookup_folder(t, ctx->db, q->user, to, &other) == DB_OK) {
		op_fail(res, CPM__STATUS__EXISTS, "Mailbox already exists");
		goto out;
	}
	if (strncmp(to, from, fl) == 0 && to[fl] == '/') {
		op_fail(res, CPM__STATUS__INVALID, "Can't rename a mailbox under itself");
		goto out;
	}
	/* Parents of the new name first (they are not part of the move). */
	for (char *p = strchr(to, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		uint64_t pid;
		uint32_t puv;
		st = db_lookup_folder(t, ctx->db, q->user, to, &pid) == DB_OK ? DB_OK
									    : op_folder_create(ctx, t, q->user, to, &pid, &puv, res);
		*p = '/';
		if (st != DB_OK && st != DB_EXISTS) {
			op_fail_db(res, st, "folder");
			goto out;
		}
	}
	if (strcmp(from, "INBOX") == 0) {
		/* The INBOX's messages move to the new name; a new, empty INBOX takes its place. */
		uint64_t nid;
		uint32_t nuv;
		st = rebind(ctx, t, q->user, from, to, id, res);
		if (st == DB_OK)
			st = op_folder_create(ctx, t, q->user, "INBOX", &nid, &nuv, res);
		if (st != DB_OK)
			op_fail_db(res, st, "folder");
		goto out;
	}
	/* The folder and everything below it, keeping ids (so UIDVALIDITY and UIDs). */
	struct op_folder_list kids = {0};
	char *prefix = malloc(fl + 2);
	st = prefix ? DB_OK : DB_FAIL;
	if (st == DB_OK) {
		memcpy(prefix, from, fl);
		memcpy(prefix + fl, "/", 2);
		st = op_folder_collect(ctx, t, q->user, prefix, &kids);
	}
	if (st == DB_OK)
		st = rebind(ctx, t, q->user, from, to, id, res);
	for (size_t i = 0; st == DB_OK && i < kids.n; i++) {
		const char *rest = kids.names[i] + fl;
		size_t tl = strlen(to), rl = strlen(rest);
		char *nn = malloc(tl + rl + 1);
		if (nn == NULL) {
			st = DB_FAIL;
			break;
		}
		memcpy(nn, to, tl);
		memcpy(nn + tl, rest, rl + 1);
		if (strlen(nn) > OP_FOLDER_NAME_MAX)
			st = DB_INVALID;
		else
			st = rebind(ctx, t, q->user, kids.names[i], nn, kids.ids[i], res);
		free(nn);
	}
	if (st != DB_OK)
		op_fail_db(res, st, "folder");
	op_folder_list_free(&kids);
	free(prefix);
out:
	free(from);
	free(to);
}

void op_folder_subscribe(const struct op_ctx *ctx, MDB_txn *t, const Cpm__FolderSubscribeReq *q,
			 struct op_result *res)
{
	char *name = op_strdup(q->name);
	uint64_t id;
	enum db_status st = DB_OK;
	if (name == NULL || !op_folder_name_ok(name))
		st = DB_INVALID;
	else if (q->subscribe && !q->foreign)
		st = db_lookup_folder(t, ctx->db, q->user, name, &id);
	if (st == DB_OK)
		st = db_subscribe(t, ctx->db, q->user, name, q->subscribe);
	if (st == DB_OK) {
		Cpmdb__FolderRec *f = NULL;
		uint32_t uv = 0;
		if (db_lookup_folder(t, ctx->db, q->user, name, &id) != DB_OK)
			id = 0; /* UNSUBSCRIBE works on names that do not exist */
		else if (db_get_folder(t, ctx->db, id, &f) == DB_OK)
			uv = f->uidvalidity;
		if (f != NULL)
			cpmdb__folder_rec__free_unpacked(f, NULL);
		folder_event(res, q->user, id, 0, uv, name, NULL,
			     q->subscribe ? CPM__CHANGE_KIND__C_FOLDER_SUBSCRIBE : CPM__CHANGE_KIND__C_FOLDER_UNSUBSCRIBE);
	}
	if (st == DB_INVALID)
		op_fail(res, CPM__STATUS__INVALID, "invalid mailbox name");
	else if (st != DB_OK)
		op_fail_folder(res, st);
	free(name);
}

void op_folder_status(const struct op_ctx *ctx, MDB_txn *t, const Cpm__FolderStatusReq *q, struct op_result *res)
{
	uint64_t id = 0;
	Cpmdb__FolderRec *f = NULL;
	if (!op_folder_named(ctx, t, q->user, q->name, ACL_R, &id, &f, res))
		return;
	Cpm__FolderStatusResp *r = op_result_new(res, CPM__RESPONSE__RESULT_FOLDER_STATUS, &cpm__folder_status_resp__descriptor);
	if (r == NULL) {
		cpmdb__folder_rec__free_unpacked(f, NULL);
		return;
	}
	/* O(1): the counters are kept current by every change. */
	r->unseen = f->unseen;
	r->size = f->size;
	r->recent = count_recent(ctx, t, id, f);
	r->info = folder_info(id, f);
	if (r->info != NULL)
		r->info->recent = r->recent;
	cpmdb__folder_rec__free_unpacked(f, NULL);
	if (r->info == NULL)
		op_fail(res, CPM__STATUS__INTERNAL, "out of memory");
}

void op_subscription_list(const struct op_ctx *ctx, MDB_txn *t, const Cpm__SubscriptionListReq *q,
			  struct op_result *res)
{
	Cpm__SubscriptionListResp *r = op_result_new(res, CPM__RESPONSE__RESULT_SUBSCRIPTION_LIST, &cpm__subscription_list_resp__descriptor);
	if (r == NULL)
		return;
	enum db_status st = names_into(t, ctx->db->subs, q->user, 0, &r->names, &r->n_names);
	if (st != DB_OK)
		op_fail_db(res, st, "subscriptions");
}
