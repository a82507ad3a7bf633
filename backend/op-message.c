/*
 * op-message: messages of a folder — append, fetch, store (flags).
 *
 * Every change takes the folder's next MODSEQ in the same transaction (one
 * sequence per folder for appends, flag changes and, later, expunges) and
 * leaves a record in `changes`, from which CHANGEDSINCE/VANISHED will be
 * answered. Bodies are content-addressed and reference counted (db_blob_*),
 * so the same bytes are stored once.
 */
#include "ops.h"

#include "acl.h"

#include "binary-window.h"

#include "log.h"
#include "mime-parse.h"
#include "preview-source.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SYS_FLAGS_ALL                                                                                          \
	(CPM__SYS_FLAG__SEEN | CPM__SYS_FLAG__ANSWERED | CPM__SYS_FLAG__FLAGGED | CPM__SYS_FLAG__DELETED |       \
	 CPM__SYS_FLAG__DRAFT)

static bool keyword_ok(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > 250 || k[0] == '\\')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)k[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

static bool has_keyword(char *const *list, size_t n, const char *k)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(list[i], k) == 0)
			return true;
	return false;
}

/* Adds keywords the folder has not seen yet to its keyword list. */
static int folder_learn_keywords(Cpmdb__FolderRec *f, char *const *kw, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (has_keyword(f->keywords, f->n_keywords, kw[i]))
			continue;
		if (f->n_keywords >= OP_MAX_KEYWORDS)
			return -1;
		char **nk = realloc(f->keywords, (f->n_keywords + 1) * sizeof(char *));
		if (nk == NULL)
			return -1;
		f->keywords = nk;
		if ((f->keywords[f->n_keywords] = op_strdup(kw[i])) == NULL)
			return -1;
		f->n_keywords++;
	}
	return 0;
}

/* What APPEND and AppendBegin check alike: a size within limits, then the
 * folder (*f_r for the caller to free). False after answering the failure. */
static bool append_target(const struct op_ctx *ctx, MDB_txn *t, const char *user, const char *folder, uint64_t size,
			  uint64_t *fid_r, Cpmdb__FolderRec **f_r, struct op_result *res)
{
	if (size == 0) {
		op_fail(res, CPM__STATUS__INVALID, "empty message");
		return false;
	}
	if (size > ctx->cfg->max_literal) {
		op_fail(res, CPM__STATUS__INVALID, "message too large");
		return false;
	}
	return op_folder_named(ctx, t, user, folder, ACL_I, fid_r, f_r, res);
}


void op_append(const struct op_ctx *ctx, MDB_txn *t, const Cpm__AppendReq *q, struct op_result *res)
{
	const unsigned char *stored = q->stored_hash.len == 32 ? q->stored_hash.data : NULL;
	/* A body file written ahead (server.c) goes after the commit unless
	 * this APPEND ends up referencing it (a failure leaves no orphan). */
	if (stored != NULL)
		db_blob_forget_file(ctx->db, stored);
	/* A staged body (AppendBegin/AppendChunk): its file, sealed by the
	 * commit step on the thread pool (server.c), which set its hash. */
	bool staged = q->staging_id != 0;
	if (staged && (q->staged_path == NULL || q->staged_path[0] == '\0' || q->staged_hash.len != 32)) {
		op_fail(res, CPM__STATUS__INVALID, "staged message not ready");
		return;
	}
	uint64_t size = staged ? q->staged_size : q->body.len;
	for (size_t i = 0; i < q->n_keywords; i++) {
		if (!keyword_ok(q->keywords[i])) {
			op_fail(res, CPM__STATUS__INVALID, "invalid keyword");
			return;
		}
	}
	uint64_t fid = 0;
	Cpmdb__FolderRec *f = NULL;
	if (!append_target(ctx, t, q->user, q->folder, size, &fid, &f, res))
		return;
	enum db_status st;
	if (f->uidnext == 0 || f->uidnext == UINT32_MAX) {
		cpmdb__folder_rec__free_unpacked(f, NULL);
		op_fail(res, CPM__STATUS__INVALID, "mailbox UID space exhausted");
		return;
	}
	/* Flags the actor may not set are dropped (acl.h). */
	uint32_t rights = acl_rights_for(f, ctx->actor);
	uint32_t sys_flags = q->sys_flags & SYS_FLAGS_ALL & acl_flags_allowed(rights);
	size_t n_keywords = rights & ACL_W ? q->n_keywords : 0;
	if (folder_learn_keywords(f, q->keywords, n_keywords) < 0) {
		cpmdb__folder_rec__free_unpacked(f, NULL);
		op_fail(res, CPM__STATUS__INVALID, "too many keywords in this mailbox");
		return;
	}
	if ((st = op_quota_charge(ctx, t, q->user, (int64_t)size)) != DB_OK) {
		cpmdb__folder_rec__free_unpacked(f, NULL);
		op_fail_db(res, st, "message");
		return;
	}
	uint32_t uid = f->uidnext++;
	uint64_t modseq = ++f->highestmodseq;
	f->exists++;
	f->size += size;
	if (!(sys_flags & CPM__SYS_FLAG__SEEN))
		f->unseen++;
	unsigned char hash[32];
	Cpmdb__MsgRec m = CPMDB__MSG_REC__INIT;
	m.blob.data = hash;
	m.blob.len = 32;
	m.sys_flags = sys_flags;
	m.keywords = q->keywords;
	m.n_keywords = n_keywords;
	m.internaldate = q->internaldate;
	m.internaldate_tz = q->internaldate_tz;
	m.size = size;
	m.modseq = modseq;
	st = staged ? db_blob_ref_staged(t, ctx->db, q->staged_path, size, q->tree.data, q->tree.len, q->staged_hash.data,
					 hash)
		    : db_blob_ref(t, ctx->db, q->body.data, q->body.len, q->tree.data, q->tree.len, stored, hash);
	if (st != DB_OK ||
	    (st = db_put_msg(t, ctx->db, fid, uid, &m)) != DB_OK ||
	    (st = db_put_change(t, ctx->db, fid, modseq, uid, CPM__CHANGE_KIND__C_APPEND)) != DB_OK ||
	    (st = db_put_folder(t, ctx->db, fid, f)) != DB_OK) {
		cpmdb__folder_rec__free_unpacked(f, NULL);
		op_fail_db(res, st, "message");
		return;
	}
	Cpm__AppendResp *r = op_result_new(res, CPM__RESPONSE__RESULT_APPEND, &cpm__append_resp__descriptor);
	if (r == NULL) {
		cpmdb__folder_rec__free_unpacked(f, NULL);
		return;
	}
	r->uidvalidity = f->uidvalidity;
	r->uid = uid;
	r->modseq = modseq;
	op_event(res, q->user, fid, modseq, CPM__CHANGE_KIND__C_APPEND, &uid, 1);
	cpmdb__folder_rec__free_unpacked(f, NULL);
}

void op_append_begin(const struct op_ctx *ctx, MDB_txn *t, const Cpm__AppendBeginReq *q, struct op_result *res)
{
	uint64_t fid = 0;
	Cpmdb__FolderRec *f = NULL;
	/* open_size: the size is checked by the commit; here at least a byte */
	uint64_t size = q->open_size ? 1 : q->size;
	if (!append_target(ctx, t, q->user, q->folder, size, &fid, &f, res))
		return;
	cpmdb__folder_rec__free_unpacked(f, NULL);
	enum db_status st;
	uint64_t want = size + (q->pending_bytes < UINT64_MAX - size ? q->pending_bytes : 0);
	if ((st = op_quota_check(ctx, t, q->user, want)) != DB_OK) {
		op_fail_db(res, st, "user");
		return;
	}
	/* staging_id: set by server.c once its file exists */
	(void)op_result_new(res, CPM__RESPONSE__RESULT_APPEND_BEGIN, &cpm__append_begin_resp__descriptor);
}

/* The body (or the range q asks for) of m into d: pointing into the map
 * when ctx->borrow_bodies and the bytes are an LMDB value, else copied
 * (a range, or a body kept in a file: read with pread, never mapped whole);
 * a copy in a borrowed answer is listed in res->owned. A body above
 * q->body_limit is left out (d->body_omitted). With q->binary_cte, a
 * decoded window of a part instead (binary-window.h). */
static enum db_status message_body(const struct op_ctx *ctx, MDB_txn *t, const Cpmdb__MsgRec *m,
				   const Cpm__FetchReq *q, struct op_result *res, Cpm__MessageData *d)
{
	if (q != NULL && q->binary_cte != 0)
		return op_binary_window(ctx, t, m->blob.data, q, res, d);
	uint64_t size;
	bool in_file;
	enum db_status st = db_blob_stat(t, ctx->db, m->blob.data, &size, &in_file);
	if (st != DB_OK)
		return st;
	uint64_t off = 0, len = size;
	if (q != NULL && q->body_len > 0) {
		off = q->body_offset < size ? q->body_offset : size;
		len = size - off < q->body_len ? size - off : q->body_len;
		if (len > OP_FETCH_MAX_BYTES)
			len = OP_FETCH_MAX_BYTES;
	} else if (q != NULL && q->body_limit > 0 && size > q->body_limit) {
		d->body_omitted = true;
		return DB_OK;
	}
	if (!in_file && off == 0 && len == size) {
		const unsigned char *body;
		size_t blen;
		if ((st = db_blob_get(t, ctx->db, m->blob.data, &body, &blen, NULL)) != DB_OK)
			return st;
		if (ctx->borrow_bodies) {
			d->body.data = (uint8_t *)body; /* packed before the read txn ends (server.c) */
			d->body.len = blen;
			return DB_OK;
		}
	}
	size_t got = 0;
	unsigned char *copy = malloc(len ? (size_t)len : 1);
	if (copy == NULL)
		return DB_FAIL;
	if ((st = db_blob_read(t, ctx->db, m->blob.data, off, copy, (size_t)len, &got)) != DB_OK ||
	    (ctx->borrow_bodies && op_result_own(res, copy) < 0)) {
		free(copy);
		return st != DB_OK ? st : DB_FAIL;
	}
	d->body.data = copy;
	d->body.len = got;
	return DB_OK;
}

/* A MessageData with what items asks for (bodies: message_body; q and res
 * may be NULL when no body is asked). */
static Cpm__MessageData *message_data(const struct op_ctx *ctx, MDB_txn *t, uint32_t uid, const Cpmdb__MsgRec *m,
				      uint32_t items, const Cpm__FetchReq *q, struct op_result *res,
				      enum db_status *st_r)
{
	Cpm__MessageData *d = malloc(sizeof(*d));
	if (d == NULL) {
		*st_r = DB_FAIL;
		return NULL;
	}
	cpm__message_data__init(d);
	d->uid = uid;
	d->modseq = m->modseq;
	if (items & CPM__FETCH_ITEM__F_FLAGS) {
		d->sys_flags = m->sys_flags;
		if (m->n_keywords > 0 && (d->keywords = calloc(m->n_keywords, sizeof(char *))) != NULL) {
			for (size_t i = 0; i < m->n_keywords; i++)
				d->keywords[i] = op_strdup(m->keywords[i]);
			d->n_keywords = m->n_keywords;
		}
	}
	if (items & CPM__FETCH_ITEM__F_INTERNALDATE) {
		d->internaldate = m->internaldate;
		d->internaldate_tz = m->internaldate_tz;
	}
	if (items & (CPM__FETCH_ITEM__F_SIZE | CPM__FETCH_ITEM__F_BODY))
		d->size = m->size;
	if ((items & CPM__FETCH_ITEM__F_TREE) && m->blob.len == 32) {
		const unsigned char *p;
		size_t len;
		struct buf made = {0};
		if (db_parsed_get(t, ctx->db, m->blob.data, &p, &len) != DB_OK) {
			/* Stored before trees were kept (or could not be made then):
			 * parse now, from the map, without storing (this is a read). */
			const unsigned char *body;
			size_t blen;
			struct mime_tree *tree = NULL;
			p = NULL;
			if (db_blob_get(t, ctx->db, m->blob.data, &body, &blen, NULL) == DB_OK &&
			    mime_parse(body, blen, &tree) == 0 && mime_tree_serialize(tree, &made) == 0) {
				p = made.data;
				len = made.len;
			}
			mime_tree_free(&tree);
		}
		if (p != NULL && (d->tree.data = malloc(len ? len : 1)) != NULL) {
			memcpy(d->tree.data, p, len);
			d->tree.len = len;
		}
		buf_free(&made);
	}
	if ((items & CPM__FETCH_ITEM__F_PREVIEW) && m->blob.len == 32 && op_preview_source(t, ctx->db, m->blob.data, d) < 0) {
		*st_r = DB_FAIL;
		cpm__message_data__free_unpacked(d, NULL);
		return NULL;
	}
	if ((items & CPM__FETCH_ITEM__F_BODY) && m->blob.len == 32 &&
	    (*st_r = message_body(ctx, t, m, q, res, d)) != DB_OK) {
		cpm__message_data__free_unpacked(d, NULL);
		return NULL;
	}
	*st_r = DB_OK;
	return d;
}

static int add_message(Cpm__MessageData ***arr, size_t *n, size_t *cap, Cpm__MessageData *d)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		Cpm__MessageData **na = realloc(*arr, nc * sizeof(*na));
		if (na == NULL)
			return -1;
		*arr = na;
		*cap = nc;
	}
	(*arr)[(*n)++] = d;
	return 0;
}

void op_fetch(const struct op_ctx *ctx, MDB_txn *t, const Cpm__FetchReq *q, struct op_result *res)
{
	Cpmdb__FolderRec *f = NULL;
	if (!op_folder_by_id(ctx, t, q->folder_id, q->uidvalidity, q->user, ACL_R, &f, res))
		return;
	cpmdb__folder_rec__free_unpacked(f, NULL);
	Cpm__FetchResp *r = op_result_new(res, CPM__RESPONSE__RESULT_FETCH, &cpm__fetch_resp__descriptor);
	if (r == NULL)
		return;
	res->borrowed = ctx->borrow_bodies && (q->items & CPM__FETCH_ITEM__F_BODY);
	uint32_t max_msgs = q->max_messages && q->max_messages < OP_FETCH_MAX_MESSAGES ? q->max_messages
										 : OP_FETCH_MAX_MESSAGES;
	size_t cap = 0, bytes = 0;
	bool page_full = false;
	MDB_cursor *c = NULL;
	int rc = mdb_cursor_open(t, ctx->db->msgs, &c);
	enum db_status st = DB_OK;
	/* Ranges are walked over existing keys only: 1:4294967295 on an empty folder costs one seek. */
	for (size_t i = 0; rc == 0 && st == DB_OK && i < q->n_uids && r->more_from_uid == 0; i++) {
		uint32_t lo = q->uids[i]->first, hi = q->uids[i]->last;
		if (lo > hi)
			continue;
		unsigned char k0[12];
		db_key_msg(k0, q->folder_id, lo);
		MDB_val k = {12, k0}, v;
		int crc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		while (crc == 0 && k.mv_size == 12 && db_get_u64(k.mv_data) == q->folder_id) {
			uint32_t uid = db_get_u32((const unsigned char *)k.mv_data + 8);
			if (uid > hi)
				break;
			if (r->n_messages >= max_msgs || bytes >= OP_FETCH_MAX_BYTES || page_full) {
				r->more_from_uid = uid;
				break;
			}
			Cpmdb__MsgRec *m = db_decode_msg(&v);
			if (m == NULL) {
				st = DB_FAIL;
				break;
			}
			if (q->changedsince != 0 && m->modseq <= q->changedsince) {
				/* CHANGEDSINCE: unchanged messages are not part of the answer. */
				cpmdb__msg_rec__free_unpacked(m, NULL);
				crc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
				continue;
			}
			Cpm__MessageData *d = message_data(ctx, t, uid, m, q->items, q, res, &st);
			cpmdb__msg_rec__free_unpacked(m, NULL);
			if (d == NULL)
				break;
			if (d->body_omitted && r->n_messages > 0) {
				/* A large body is its page's last (and only) message. */
				cpm__message_data__free_unpacked(d, NULL);
				r->more_from_uid = uid;
				break;
			}
			page_full = d->body_omitted;
			bytes += d->body.len + d->preview_src.len;
			if (add_message(&r->messages, &r->n_messages, &cap, d) < 0) {
				cpm__message_data__free_unpacked(d, NULL);
				st = DB_FAIL;
				break;
			}
			crc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		}
		if (crc != 0 && crc != MDB_NOTFOUND)
			rc = crc;
		/* Continue the next range only if this one was finished. */
		if (r->more_from_uid != 0 && i + 1 < q->n_uids)
			break;
	}
	if (c != NULL)
		mdb_cursor_close(c);
	if (rc != 0)
		op_fail_db(res, db_from_mdb(rc, "msgs"), "messages");
	else if (st != DB_OK)
		op_fail_db(res, st, "messages");
}

/* Appends uid to a growing array. 0, or -1 when out of memory. */
static int push_uid(uint32_t **a, size_t *n, size_t *cap, uint32_t uid)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		uint32_t *na = reallocarray(*a, ncap, sizeof(uint32_t));
		if (na == NULL)
			return -1;
		*a = na;
		*cap = ncap;
	}
	(*a)[(*n)++] = uid;
	return 0;
}

/* The UIDs of folder_id that exist within ranges (all of them when
 * n_ranges is 0), ascending. Collected before any write: a cursor walk and
 * puts into the same database do not mix. Returns 0 or an LMDB/errno code. */
static int collect_uids(const struct op_ctx *ctx, MDB_txn *t, uint64_t folder_id, Cpm__UidRange *const *ranges,
			size_t n_ranges, uint32_t **uids_r, size_t *n_r)
{
	static const Cpm__UidRange all = {PROTOBUF_C_MESSAGE_INIT(&cpm__uid_range__descriptor), 1, UINT32_MAX};
	const Cpm__UidRange *const all_p[1] = {&all};
	if (n_ranges == 0) {
		ranges = (Cpm__UidRange *const *)all_p;
		n_ranges = 1;
	}
	uint32_t *uids = NULL;
	size_t n = 0, cap = 0;
	MDB_cursor *c = NULL;
	int rc = mdb_cursor_open(t, ctx->db->msgs, &c);
	for (size_t i = 0; rc == 0 && i < n_ranges; i++) {
		uint32_t lo = ranges[i]->first, hi = ranges[i]->last;
		if (lo > hi)
			continue;
		unsigned char k0[12];
		db_key_msg(k0, folder_id, lo);
		MDB_val k = {12, k0}, v;
		int crc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		while (crc == 0 && k.mv_size == 12 && db_get_u64(k.mv_data) == folder_id) {
			uint32_t uid = db_get_u32((const unsigned char *)k.mv_data + 8);
			if (uid > hi)
				break;
			if (push_uid(&uids, &n, &cap, uid) < 0) {
				crc = ENOMEM;
				break;
			}
			crc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		}
		if (crc != 0 && crc != MDB_NOTFOUND)
			rc = crc;
	}
	if (c != NULL)
		mdb_cursor_close(c);
	if (rc != 0) {
		free(uids);
		return rc;
	}
	*uids_r = uids;
	*n_r = n;
	return 0;
}

void op_store(const struct op_ctx *ctx, MDB_txn *t, const Cpm__StoreReq *q, struct op_result *res)
{
	for (size_t i = 0; i < q->n_keywords; i++) {
		if (!keyword_ok(q->keywords[i])) {
			op_fail(res, CPM__STATUS__INVALID, "invalid keyword");
			return;
		}
	}
	Cpmdb__FolderRec *f = NULL;
	if (!op_folder_by_id(ctx, t, q->folder_id, q->uidvalidity, q->user, ACL_R, &f, res))
		return;
	/* Flags the actor may not store stay as they are (acl.h). */
	uint32_t rights = acl_rights_for(f, ctx->actor);
	uint32_t allowed = acl_flags_allowed(rights);
	bool kw_allowed = rights & ACL_W;
	size_t kw_before = f->n_keywords;
	if (kw_allowed && q->mode != CPM__STORE_MODE__STORE_REMOVE &&
	    folder_learn_keywords(f, q->keywords, q->n_keywords) < 0) {
		cpmdb__folder_rec__free_unpacked(f, NULL);
		op_fail(res, CPM__STATUS__INVALID, "too many keywords in this mailbox");
		return;
	}
	Cpm__StoreResp *r = op_result_new(res, CPM__RESPONSE__RESULT_STORE, &cpm__store_resp__descriptor);
	if (r == NULL) {
		cpmdb__folder_rec__free_unpacked(f, NULL);
		return;
	}
	uint32_t *changed = NULL;
	size_t n_changed = 0, cap = 0, changed_cap = 0, modified_cap = 0;
	uint32_t flags = q->sys_flags & SYS_FLAGS_ALL;
	uint32_t *uids = NULL;
	size_t n_uids = 0;
	int rc = collect_uids(ctx, t, q->folder_id, q->uids, q->n_uids, &uids, &n_uids);
	enum db_status st = DB_OK;
	for (size_t i = 0; rc == 0 && st == DB_OK && i < n_uids; i++) {
		Cpmdb__MsgRec *m = NULL;
		st = db_get_msg(t, ctx->db, q->folder_id, uids[i], &m);
		if (st != DB_OK)
			break;
		if (q->has_unchangedsince && m->modseq > q->unchangedsince) {
			/* RFC 7162 3.1.3: changed since the client looked: leave it, report it. */
			cpmdb__msg_rec__free_unpacked(m, NULL);
			if (push_uid(&r->modified, &r->n_modified, &modified_cap, uids[i]) < 0)
				st = DB_FAIL;
			continue;
		}
		uint32_t nf = q->mode == CPM__STORE_MODE__STORE_ADD	 ? (m->sys_flags | flags)
			      : q->mode == CPM__STORE_MODE__STORE_REMOVE ? (m->sys_flags & ~flags)
									 : flags;
		nf = (nf & allowed) | (m->sys_flags & ~allowed);
		/* New keyword list. */
		char **nk = calloc(m->n_keywords + q->n_keywords + 1, sizeof(char *));
		size_t nn = 0;
		if (nk == NULL) {
			cpmdb__msg_rec__free_unpacked(m, NULL);
			st = DB_FAIL;
			break;
		}
		if (q->mode != CPM__STORE_MODE__STORE_REPLACE || !kw_allowed)
			for (size_t j = 0; j < m->n_keywords; j++)
				if (q->mode == CPM__STORE_MODE__STORE_ADD || !kw_allowed ||
				    !has_keyword(q->keywords, q->n_keywords, m->keywords[j]))
					nk[nn++] = m->keywords[j];
		if (q->mode != CPM__STORE_MODE__STORE_REMOVE && kw_allowed)
			for (size_t j = 0; j < q->n_keywords; j++)
				if (!has_keyword(nk, nn, q->keywords[j]))
					nk[nn++] = q->keywords[j];
		bool kw_changed = nn != m->n_keywords;
		for (size_t j = 0; !kw_changed && j < nn; j++)
			kw_changed = !has_keyword(m->keywords, m->n_keywords, nk[j]);
		if (nf != m->sys_flags || kw_changed) {
			uint64_t modseq = ++f->highestmodseq;
			bool was_seen = m->sys_flags & CPM__SYS_FLAG__SEEN, now_seen = nf & CPM__SYS_FLAG__SEEN;
			if (was_seen && !now_seen)
				f->unseen++;
			else if (!was_seen && now_seen && f->unseen > 0)
				f->unseen--;
			char **old_kw = m->keywords;
			size_t old_n = m->n_keywords;
			m->sys_flags = nf;
			m->keywords = nk;
			m->n_keywords = nn;
			m->modseq = modseq;
			st = db_put_msg(t, ctx->db, q->folder_id, uids[i], m);
			if (st == DB_OK)
				st = db_put_change(t, ctx->db, q->folder_id, modseq, uids[i], CPM__CHANGE_KIND__C_FLAGS);
			m->keywords = old_kw;
			m->n_keywords = old_n;
			if (st == DB_OK && push_uid(&changed, &n_changed, &changed_cap, uids[i]) < 0)
				st = DB_FAIL;
			m->sys_flags = nf;
			Cpmdb__MsgRec view = *m;
			view.keywords = nk;
			view.n_keywords = nn;
			Cpm__MessageData *d = st == DB_OK ? message_data(ctx, t, uids[i], &view, CPM__FETCH_ITEM__F_FLAGS, NULL, NULL, &st)
							  : NULL;
			if (d != NULL && add_message(&r->messages, &r->n_messages, &cap, d) < 0) {
				cpm__message_data__free_unpacked(d, NULL);
				st = DB_FAIL;
			}
		}
		/* A message whose flags stay as they were is not reported (as Dovecot). */
		free(nk);
		cpmdb__msg_rec__free_unpacked(m, NULL);
	}
	free(uids);
	if (rc == 0 && st == DB_OK && (n_changed > 0 || f->n_keywords != kw_before))
		st = db_put_folder(t, ctx->db, q->folder_id, f);
	if (rc == 0 && st == DB_OK && f->n_keywords != kw_before) {
		/* New keywords: the session announces the folder's FLAGS again (RFC 3501 7.2.6). */
		r->folder_keywords = calloc(f->n_keywords, sizeof(char *));
		for (size_t j = 0; r->folder_keywords != NULL && j < f->n_keywords; j++)
			if ((r->folder_keywords[r->n_folder_keywords] = op_strdup(f->keywords[j])) != NULL)
				r->n_folder_keywords++;
	}
	if (rc == ENOMEM)
		op_fail(res, CPM__STATUS__INTERNAL, "out of memory");
	else if (rc != 0)
		op_fail_db(res, db_from_mdb(rc, "msgs"), "messages");
	else if (st != DB_OK)
		op_fail_db(res, st, "messages");
	else if (n_changed > 0)
		op_event(res, q->user, q->folder_id, f->highestmodseq, CPM__CHANGE_KIND__C_FLAGS, changed, n_changed);
	free(changed);
	cpmdb__folder_rec__free_unpacked(f, NULL);
}

/* Removes message uid of folder f (id fid): its record, its blob reference
 * (unless keep_blob: MOVE hands it over), and leaves an expunge tombstone in
 * the change log with the folder's next MODSEQ. */
static enum db_status remove_message(const struct op_ctx *ctx, MDB_txn *t, uint64_t fid, Cpmdb__FolderRec *f,
				     uint32_t uid, const Cpmdb__MsgRec *m, bool keep_blob)
{
	enum db_status st = DB_OK;
	if (!keep_blob && m->blob.len == 32)
		st = db_blob_unref(t, ctx->db, m->blob.data);
	if (st != DB_OK && st != DB_NOTFOUND)
		return st;
	unsigned char k[12];
	db_key_msg(k, fid, uid);
	MDB_val kv = {12, k};
	st = db_from_mdb(mdb_del(t, ctx->db->msgs, &kv, NULL), "msgs");
	if (st != DB_OK)
		return st;
	uint64_t modseq = ++f->highestmodseq;
	if (f->exists > 0)
		f->exists--;
	f->size = f->size >= m->size ? f->size - m->size : 0;
	if (!(m->sys_flags & CPM__SYS_FLAG__SEEN) && f->unseen > 0)
		f->unseen--;
	return db_put_change(t, ctx->db, fid, modseq, uid, CPM__CHANGE_KIND__C_EXPUNGE);
}

void op_expunge(const struct op_ctx *ctx, MDB_txn *t, const Cpm__ExpungeReq *q, struct op_result *res)
{
	Cpmdb__FolderRec *f = NULL;
	if (!op_folder_by_id(ctx, t, q->folder_id, q->uidvalidity, q->user, q->moved ? ACL_T | ACL_E : ACL_E, &f, res))
		return;
	Cpm__ExpungeResp *r = malloc(sizeof(*r));
	uint32_t *uids = NULL;
	size_t n = 0;
	int rc = r ? collect_uids(ctx, t, q->folder_id, q->uids, q->n_uids, &uids, &n) : ENOMEM;
	enum db_status st = DB_OK;
	uint64_t freed = 0;
	if (r != NULL) {
		cpm__expunge_resp__init(r);
		res->resp->result_case = CPM__RESPONSE__RESULT_EXPUNGE;
		res->resp->expunge = r;
		if (rc == 0 && n > 0 && (r->uids = malloc(n * sizeof(uint32_t))) == NULL)
			rc = ENOMEM;
	}
	for (size_t i = 0; rc == 0 && st == DB_OK && i < n; i++) {
		Cpmdb__MsgRec *m = NULL;
		st = db_get_msg(t, ctx->db, q->folder_id, uids[i], &m);
		if (st == DB_OK && (q->moved || (m->sys_flags & CPM__SYS_FLAG__DELETED))) {
			st = remove_message(ctx, t, q->folder_id, f, uids[i], m, false);
			if (st == DB_OK) {
				r->uids[r->n_uids++] = uids[i];
				freed += m->size;
			}
		}
		if (m != NULL)
			cpmdb__msg_rec__free_unpacked(m, NULL);
	}
	free(uids);
	if (rc == 0 && st == DB_OK && r->n_uids > 0)
		st = db_put_folder(t, ctx->db, q->folder_id, f);
	if (rc == 0 && st == DB_OK && freed > 0)
		st = op_quota_charge(ctx, t, q->user, -(int64_t)freed);
	if (rc != 0)
		op_fail(res, CPM__STATUS__INTERNAL, rc == ENOMEM ? "out of memory" : "storage error");
	else if (st != DB_OK)
		op_fail_db(res, st, "messages");
	else if (r->n_uids > 0) {
		r->modseq = f->highestmodseq;
		op_event(res, q->user, q->folder_id, f->highestmodseq, CPM__CHANGE_KIND__C_EXPUNGE, r->uids, r->n_uids);
	}
	cpmdb__folder_rec__free_unpacked(f, NULL);
}

void op_copy(const struct op_ctx *ctx, MDB_txn *t, const Cpm__CopyReq *q, struct op_result *res)
{
	Cpmdb__FolderRec *src = NULL, *dst = NULL;
	uint64_t dst_id = 0;
	/* MOVE takes the messages away: the source needs t and e too. */
	if (!op_folder_by_id(ctx, t, q->folder_id, q->uidvalidity, q->user, q->move ? ACL_R | ACL_T | ACL_E : ACL_R, &src,
			     res))
		return;
	const char *dest_user = q->dest_user != NULL && q->dest_user[0] != '\0' ? q->dest_user : q->user;
	bool other_owner = strcmp(dest_user, q->user) != 0;
	if (!op_folder_named(ctx, t, dest_user, q->dest, ACL_I, &dst_id, &dst, res)) {
		cpmdb__folder_rec__free_unpacked(src, NULL);
		return;
	}
	enum db_status st = DB_OK;
	/* Flags the actor may not set in the destination are not copied (acl.h). */
	uint32_t dst_rights = acl_rights_for(dst, ctx->actor);
	uint32_t allowed = acl_flags_allowed(dst_rights);
	/* Copying within one folder updates one record. A MOVE within it gives
	 * the messages new UIDs and expunges the old ones, as Dovecot does. */
	bool same = dst_id == q->folder_id;
	Cpmdb__FolderRec *to = same ? src : dst;
	Cpm__CopyResp *r = malloc(sizeof(*r));
	uint32_t *uids = NULL;
	size_t n = 0;
	uint64_t copied = 0;
	int rc = r ? collect_uids(ctx, t, q->folder_id, q->uids, q->n_uids, &uids, &n) : ENOMEM;
	if (r != NULL) {
		cpm__copy_resp__init(r);
		res->resp->result_case = CPM__RESPONSE__RESULT_COPY;
		res->resp->copy = r;
		r->dest_uidvalidity = to->uidvalidity;
		if (rc == 0 && n > 0 &&
		    ((r->src_uids = malloc(n * sizeof(uint32_t))) == NULL ||
		     (r->dest_uids = malloc(n * sizeof(uint32_t))) == NULL))
			rc = ENOMEM;
	}
	if (rc == 0 && (uint64_t)to->uidnext + n >= UINT32_MAX)
		st = DB_INVALID;
	for (size_t i = 0; rc == 0 && st == DB_OK && i < n; i++) {
		Cpmdb__MsgRec *m = NULL;
		st = db_get_msg(t, ctx->db, q->folder_id, uids[i], &m);
		if (st != DB_OK)
			break;
		size_t n_kw = m->n_keywords;
		if (!(dst_rights & ACL_W))
			m->n_keywords = 0;
		if (folder_learn_keywords(to, m->keywords, m->n_keywords) < 0) {
			m->n_keywords = n_kw;
			cpmdb__msg_rec__free_unpacked(m, NULL);
			st = DB_INVALID;
			break;
		}
		uint32_t nuid = to->uidnext++;
		uint64_t modseq = ++to->highestmodseq;
		uint64_t old_modseq = m->modseq;
		uint32_t old_flags = m->sys_flags;
		m->modseq = modseq;
		m->sys_flags &= allowed;
		to->exists++;
		to->size += m->size;
		copied += m->size;
		if (!(m->sys_flags & CPM__SYS_FLAG__SEEN))
			to->unseen++;
		if (!q->move && m->blob.len == 32)
			st = db_blob_addref(t, ctx->db, m->blob.data);
		if (st == DB_OK)
			st = db_put_msg(t, ctx->db, dst_id, nuid, m);
		if (st == DB_OK)
			st = db_put_change(t, ctx->db, dst_id, modseq, nuid, CPM__CHANGE_KIND__C_APPEND);
		m->modseq = old_modseq;
		m->sys_flags = old_flags;
		m->n_keywords = n_kw;
		if (st == DB_OK && q->move)
			st = remove_message(ctx, t, q->folder_id, src, uids[i], m, true);
		cpmdb__msg_rec__free_unpacked(m, NULL);
		if (st == DB_OK) {
			r->src_uids[r->n_src_uids++] = uids[i];
			r->dest_uids[r->n_dest_uids++] = nuid;
		}
	}
	free(uids);
	/* The copies count against the destination's owner; a MOVE to another
	 * owner gives the source's owner the space back. */
	if (rc == 0 && st == DB_OK && n > 0 && (!q->move || other_owner))
		st = op_quota_charge(ctx, t, dest_user, (int64_t)copied);
	if (rc == 0 && st == DB_OK && n > 0 && q->move && other_owner)
		st = op_quota_charge(ctx, t, q->user, -(int64_t)copied);
	if (rc == 0 && st == DB_OK && n > 0) {
		st = db_put_folder(t, ctx->db, dst_id, to);
		if (st == DB_OK && !same)
			st = db_put_folder(t, ctx->db, q->folder_id, src);
	}
	if (rc != 0)
		op_fail(res, CPM__STATUS__INTERNAL, rc == ENOMEM ? "out of memory" : "storage error");
	else if (st == DB_INVALID)
		op_fail(res, CPM__STATUS__INVALID, "destination mailbox is full (UIDs or keywords)");
	else if (st == DB_OVERQUOTA)
		op_fail(res, CPM__STATUS__OVERQUOTA, "Quota exceeded");
	else if (st != DB_OK)
		op_fail_db(res, st, "messages");
	else if (n > 0) {
		op_event(res, dest_user, dst_id, to->highestmodseq, CPM__CHANGE_KIND__C_APPEND, r->dest_uids, r->n_dest_uids);
		if (q->move)
			op_event(res, q->user, q->folder_id, src->highestmodseq, CPM__CHANGE_KIND__C_EXPUNGE, r->src_uids,
				 r->n_src_uids);
	}
	cpmdb__folder_rec__free_unpacked(src, NULL);
	cpmdb__folder_rec__free_unpacked(dst, NULL);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void op_changes(const struct op_ctx *ctx, MDB_txn *t, const Cpm__ChangesReq *q, struct op_result *res)
{
	Cpmdb__FolderRec *f = NULL;
	if (!op_folder_by_id(ctx, t, q->folder_id, q->uidvalidity, q->user, ACL_R, &f, res))
		return;
	uint64_t highest = f->highestmodseq;
	uint32_t recent_uid = f->recent_uid;
	cpmdb__folder_rec__free_unpacked(f, NULL);
	Cpm__ChangesResp *r = op_result_new(res, CPM__RESPONSE__RESULT_CHANGES, &cpm__changes_resp__descriptor);
	if (r == NULL)
		return;
	r->highestmodseq = highest;
	r->recent_uid = recent_uid;
	uint32_t limit = q->max_changes && q->max_changes < OP_CHANGES_PAGE ? q->max_changes : OP_CHANGES_PAGE;
	/* The UIDs touched after since_modseq, in log order. */
	uint32_t *uids = NULL;
	size_t n = 0, cap = 0;
	MDB_cursor *c = NULL;
	int rc = mdb_cursor_open(t, ctx->db->changes, &c);
	if (rc == 0) {
		unsigned char k0[16];
		db_key_change(k0, q->folder_id, q->since_modseq + 1);
		MDB_val k = {16, k0}, v;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		while (rc == 0 && k.mv_size == 16 && db_get_u64(k.mv_data) == q->folder_id) {
			if (n >= limit) {
				r->next_modseq = db_get_u64((const unsigned char *)k.mv_data + 8) - 1;
				break;
			}
			const unsigned char *p = v.mv_data;
			Cpmdb__ChangeRec *ch = v.mv_size > 1 && p[0] == DB_RECORD_VERSION
						       ? cpmdb__change_rec__unpack(NULL, v.mv_size - 1, p + 1)
						       : NULL;
			if (ch != NULL && ch->uid != 0 && push_uid(&uids, &n, &cap, ch->uid) < 0) {
				cpmdb__change_rec__free_unpacked(ch, NULL);
				rc = ENOMEM;
				break;
			}
			if (ch != NULL)
				cpmdb__change_rec__free_unpacked(ch, NULL);
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		}
		mdb_cursor_close(c);
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		free(uids);
		op_fail(res, CPM__STATUS__INTERNAL, rc == ENOMEM ? "out of memory" : "storage error");
		return;
	}
	/* Each UID once; its present state decides: there (flags) or expunged. */
	if (n > 1)
		qsort(uids, n, sizeof(uint32_t), cmp_u32);
	size_t ccap = 0;
	enum db_status st = DB_OK;
	if (n > 0 && (r->expunged = malloc(n * sizeof(uint32_t))) == NULL)
		st = DB_FAIL;
	for (size_t i = 0; st == DB_OK && i < n; i++) {
		if (i > 0 && uids[i] == uids[i - 1])
			continue;
		Cpmdb__MsgRec *m = NULL;
		st = db_get_msg(t, ctx->db, q->folder_id, uids[i], &m);
		if (st == DB_NOTFOUND) {
			st = DB_OK;
			r->expunged[r->n_expunged++] = uids[i]; /* sized for every UID below */
			continue;
		}
		if (st != DB_OK)
			break;
		Cpm__MessageData *d = message_data(ctx, t, uids[i], m, CPM__FETCH_ITEM__F_FLAGS, NULL, NULL, &st);
		cpmdb__msg_rec__free_unpacked(m, NULL);
		if (d != NULL && add_message(&r->changed, &r->n_changed, &ccap, d) < 0) {
			cpm__message_data__free_unpacked(d, NULL);
			st = DB_FAIL;
		}
	}
	free(uids);
	if (st != DB_OK)
		op_fail_db(res, st, "changes");
}

void op_multi_append(const struct op_ctx *ctx, MDB_txn *t, const Cpm__MultiAppendReq *q, struct op_result *res)
{
	if (q->n_messages == 0) {
		op_fail(res, CPM__STATUS__INVALID, "no message");
		return;
	}
	Cpm__AppendResp *r = malloc(sizeof(*r));
	if (r != NULL) {
		cpm__append_resp__init(r);
		r->uids = malloc(q->n_messages * sizeof(uint32_t));
	}
	if (r == NULL || r->uids == NULL) {
		if (r != NULL)
			cpm__append_resp__free_unpacked(r, NULL);
		op_fail(res, CPM__STATUS__INTERNAL, "out of memory");
		return;
	}
	/* Each message as a single APPEND; the first failure fails them all
	 * (the writer then rolls back this operation's nested transaction). */
	for (size_t i = 0; i < q->n_messages; i++) {
		struct op_result one = {0};
		one.resp = malloc(sizeof(*one.resp));
		if (one.resp == NULL) {
			cpm__append_resp__free_unpacked(r, NULL);
			op_fail(res, CPM__STATUS__INTERNAL, "out of memory");
			return;
		}
		cpm__response__init(one.resp);
		op_append(ctx, t, q->messages[i], &one);
		if (one.resp->status != CPM__STATUS__OK) {
			res->resp->status = one.resp->status;
			res->resp->error = one.resp->error;
			one.resp->error = NULL;
			op_result_clear(&one);
			cpm__append_resp__free_unpacked(r, NULL);
			return;
		}
		r->uidvalidity = one.resp->append->uidvalidity;
		r->modseq = one.resp->append->modseq;
		if (i == 0)
			r->uid = one.resp->append->uid;
		r->uids[r->n_uids++] = one.resp->append->uid;
		/* Keep the change events for publication. */
		for (size_t e = 0; e < one.n_events; e++) {
			op_event(res, one.events[e]->user, one.events[e]->folder_id, one.events[e]->modseq,
				 one.events[e]->kind, one.events[e]->uids, one.events[e]->n_uids);
		}
		op_result_clear(&one);
	}
	res->resp->result_case = CPM__RESPONSE__RESULT_APPEND;
	res->resp->append = r;
}
