/*
 * ops: dispatch of a request to its operation, and the helpers every
 * operation shares (failure responses, change events, folder names).
 */
#include "ops.h"

#include "acl.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool op_is_write(const Cpm__Request *req)
{
	switch (req->op_case) {
	case CPM__REQUEST__OP_USER_PUT:
	case CPM__REQUEST__OP_USER_DEL:
	case CPM__REQUEST__OP_FOLDER_CREATE:
	case CPM__REQUEST__OP_FOLDER_DELETE:
	case CPM__REQUEST__OP_FOLDER_RENAME:
	case CPM__REQUEST__OP_FOLDER_SUBSCRIBE:
	case CPM__REQUEST__OP_APPEND:
	case CPM__REQUEST__OP_STORE:
	case CPM__REQUEST__OP_EXPUNGE:
	case CPM__REQUEST__OP_COPY:
	case CPM__REQUEST__OP_QUOTA_SET:
	case CPM__REQUEST__OP_MULTI_APPEND:
	case CPM__REQUEST__OP_RECENT_CLAIM:
	case CPM__REQUEST__OP_SHARER:
		return true;
	case CPM__REQUEST__OP_ACL:
		return req->acl->action != CPM__ACL_ACTION__ACL_GET && req->acl->action != CPM__ACL_ACTION__ACL_MYRIGHTS;
	case CPM__REQUEST__OP_FOLDER_SELECT:
		return !req->folder_select->readonly; /* SELECT claims \Recent */
	default:
		return false;
	}
}

char *op_strdup(const char *s)
{
	return strdup(s ? s : "");
}

void op_fail(struct op_result *res, Cpm__Status st, const char *fmt, ...)
{
	char text[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	res->resp->status = st;
	if (res->resp->error != NULL && res->resp->error != protobuf_c_empty_string)
		free(res->resp->error);
	res->resp->error = op_strdup(text);
	/* A failed operation answers no result. */
	if (res->resp->result_case != CPM__RESPONSE__RESULT__NOT_SET) {
		Cpm__Response tmp = CPM__RESPONSE__INIT;
		tmp.result_case = res->resp->result_case;
		tmp.user_get = res->resp->user_get; /* union: any member frees the right one */
		res->resp->result_case = CPM__RESPONSE__RESULT__NOT_SET;
		res->resp->user_get = NULL;
		protobuf_c_message_free_unpacked((ProtobufCMessage *)tmp.user_get, NULL);
	}
}

void *op_result_new(struct op_result *res, Cpm__Response__ResultCase which, const ProtobufCMessageDescriptor *desc)
{
	ProtobufCMessage *m = malloc(desc->sizeof_message);
	if (m == NULL) {
		op_fail(res, CPM__STATUS__INTERNAL, "out of memory");
		return NULL;
	}
	protobuf_c_message_init(desc, m);
	res->resp->result_case = which;
	res->resp->user_get = (Cpm__UserGetResp *)m; /* a union of pointers: any member installs it */
	return m;
}

void op_fail_folder(struct op_result *res, enum db_status st)
{
	if (st == DB_NOTFOUND)
		op_fail(res, CPM__STATUS__NONEXISTENT, "Mailbox doesn't exist");
	else
		op_fail_db(res, st, "folder");
}

bool op_folder_by_id(const struct op_ctx *ctx, MDB_txn *t, uint64_t id, uint32_t uidvalidity, const char *user,
		     uint32_t need, Cpmdb__FolderRec **f_r, struct op_result *res)
{
	enum db_status st = db_get_folder(t, ctx->db, id, f_r);
	if (st == DB_OK && ((*f_r)->uidvalidity != uidvalidity || strcmp((*f_r)->owner, user) != 0)) {
		cpmdb__folder_rec__free_unpacked(*f_r, NULL);
		*f_r = NULL;
		st = DB_NOTFOUND;
	}
	if (st == DB_NOTFOUND)
		op_fail(res, CPM__STATUS__UIDVALIDITY_CHANGED, "mailbox was deleted or recreated");
	else if (st != DB_OK)
		op_fail_db(res, st, "folder");
	if (st == DB_OK && !acl_require(ctx, *f_r, need, res)) {
		cpmdb__folder_rec__free_unpacked(*f_r, NULL);
		*f_r = NULL;
		return false;
	}
	return st == DB_OK;
}

enum db_status op_folder_by_name(const struct op_ctx *ctx, MDB_txn *t, const char *user, const char *name,
				 uint64_t *id_r, Cpmdb__FolderRec **f_r)
{
	char *n = op_strdup(name);
	enum db_status st = n && op_folder_name_ok(n) ? db_lookup_folder(t, ctx->db, user, n, id_r) : DB_NOTFOUND;
	free(n);
	return st == DB_OK ? db_get_folder(t, ctx->db, *id_r, f_r) : st;
}

bool op_folder_named(const struct op_ctx *ctx, MDB_txn *t, const char *user, const char *name, uint32_t need,
		     uint64_t *id_r, Cpmdb__FolderRec **f_r, struct op_result *res)
{
	enum db_status st = op_folder_by_name(ctx, t, user, name, id_r, f_r);
	if (st != DB_OK) {
		op_fail_folder(res, st);
		return false;
	}
	if (!acl_require(ctx, *f_r, need, res)) {
		cpmdb__folder_rec__free_unpacked(*f_r, NULL);
		*f_r = NULL;
		return false;
	}
	return true;
}

void op_fail_db(struct op_result *res, enum db_status st, const char *what)
{
	switch (st) {
	case DB_NOTFOUND:
		op_fail(res, CPM__STATUS__NOTFOUND, "%s not found", what);
		break;
	case DB_EXISTS:
		op_fail(res, CPM__STATUS__EXISTS, "%s already exists", what);
		break;
	case DB_INVALID:
		op_fail(res, CPM__STATUS__INVALID, "invalid %s", what);
		break;
	case DB_FULL:
		op_fail(res, CPM__STATUS__INTERNAL, "%s: storage full", what);
		break;
	case DB_OVERQUOTA:
		op_fail(res, CPM__STATUS__OVERQUOTA, "Quota exceeded");
		break;
	default:
		op_fail(res, CPM__STATUS__INTERNAL, "%s: storage error", what);
		break;
	}
}

void op_event(struct op_result *res, const char *user, uint64_t folder_id, uint64_t modseq, Cpm__ChangeKind kind,
	      const uint32_t *uids, size_t n_uids)
{
	Cpm__FeedEvent **ne = realloc(res->events, (res->n_events + 1) * sizeof(*ne));
	Cpm__FeedEvent *e = ne != NULL ? malloc(sizeof(*e)) : NULL;
	if (ne != NULL)
		res->events = ne;
	if (e == NULL) {
		res->events_lost = true;
		return;
	}
	cpm__feed_event__init(e);
	e->user = op_strdup(user);
	e->folder_id = folder_id;
	e->modseq = modseq;
	e->kind = kind;
	if (n_uids > 0 && (e->uids = malloc(n_uids * sizeof(uint32_t))) != NULL) {
		memcpy(e->uids, uids, n_uids * sizeof(uint32_t));
		e->n_uids = n_uids;
	}
	if (e->user == NULL || (n_uids > 0 && e->uids == NULL))
		res->events_lost = true;
	res->events[res->n_events++] = e;
}

bool op_folder_name_ok(char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > OP_FOLDER_NAME_MAX || name[0] == '/' || name[n - 1] == '/')
		return false;
	if (strncasecmp(name, "INBOX", 5) == 0 && (name[5] == '\0' || name[5] == '/'))
		memcpy(name, "INBOX", 5);
	const unsigned char *p = (const unsigned char *)name;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		if (c < 0x20 || c == 0x7f || c == '*' || c == '%')
			return false;
		if (c == '/' && p[i + 1] == '/')
			return false;
		if (c >= 0x80) {
			/* Well-formed UTF-8, shortest form, no surrogates. */
			size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
			if (len == 0 || c > 0xf4 || i + len > n)
				return false;
			uint32_t cp = c & (0x3f >> (len - 1));
			for (size_t k = 1; k < len; k++) {
				if ((p[i + k] & 0xc0) != 0x80)
					return false;
				cp = cp << 6 | (p[i + k] & 0x3f);
			}
			if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
			    (cp >= 0xd800 && cp <= 0xdfff))
				return false;
			i += len - 1;
		}
	}
	return true;
}

void op_run(const struct op_ctx *shared_ctx, MDB_txn *txn, const Cpm__Request *req, struct op_result *res)
{
	struct op_ctx this_ctx = *shared_ctx;
	this_ctx.actor = req->actor;
	const struct op_ctx *ctx = &this_ctx;
	res->resp = malloc(sizeof(*res->resp));
	res->events = NULL;
	res->n_events = 0;
	res->events_lost = false;
	if (res->resp == NULL)
		return;
	cpm__response__init(res->resp);
	switch (req->op_case) {
	case CPM__REQUEST__OP_USER_GET:
		op_user_get(ctx, txn, req->user_get, res);
		break;
	case CPM__REQUEST__OP_USER_PUT:
		op_user_put(ctx, txn, req->user_put, res);
		break;
	case CPM__REQUEST__OP_USER_DEL:
		op_user_del(ctx, txn, req->user_del, res);
		break;
	case CPM__REQUEST__OP_USER_LIST:
		op_user_list(ctx, txn, req->user_list, res);
		break;
	case CPM__REQUEST__OP_FOLDER_CREATE:
		op_folder_create_req(ctx, txn, req->folder_create, res);
		break;
	case CPM__REQUEST__OP_FOLDER_LIST:
		op_folder_list(ctx, txn, req->folder_list, res);
		break;
	case CPM__REQUEST__OP_FOLDER_SELECT:
		op_folder_select(ctx, txn, req->folder_select, res);
		break;
	case CPM__REQUEST__OP_FOLDER_DELETE:
		op_folder_delete(ctx, txn, req->folder_delete, res);
		break;
	case CPM__REQUEST__OP_FOLDER_RENAME:
		op_folder_rename(ctx, txn, req->folder_rename, res);
		break;
	case CPM__REQUEST__OP_FOLDER_SUBSCRIBE:
		op_folder_subscribe(ctx, txn, req->folder_subscribe, res);
		break;
	case CPM__REQUEST__OP_FOLDER_STATUS:
		op_folder_status(ctx, txn, req->folder_status, res);
		break;
	case CPM__REQUEST__OP_SUBSCRIPTION_LIST:
		op_subscription_list(ctx, txn, req->subscription_list, res);
		break;
	case CPM__REQUEST__OP_APPEND:
		op_append(ctx, txn, req->append, res);
		break;
	case CPM__REQUEST__OP_FETCH:
		op_fetch(ctx, txn, req->fetch, res);
		break;
	case CPM__REQUEST__OP_STORE:
		op_store(ctx, txn, req->store, res);
		break;
	case CPM__REQUEST__OP_EXPUNGE:
		op_expunge(ctx, txn, req->expunge, res);
		break;
	case CPM__REQUEST__OP_COPY:
		op_copy(ctx, txn, req->copy, res);
		break;
	case CPM__REQUEST__OP_CHANGES:
		op_changes(ctx, txn, req->changes, res);
		break;
	case CPM__REQUEST__OP_SEARCH:
		op_search(ctx, txn, req->search, res);
		break;
	case CPM__REQUEST__OP_QUOTA_GET:
		op_quota_get(ctx, txn, req->quota_get, res);
		break;
	case CPM__REQUEST__OP_QUOTA_SET:
		op_quota_set(ctx, txn, req->quota_set, res);
		break;
	case CPM__REQUEST__OP_APPEND_BEGIN:
		op_append_begin(ctx, txn, req->append_begin, res);
		break;
	case CPM__REQUEST__OP_MULTI_APPEND:
		op_multi_append(ctx, txn, req->multi_append, res);
		break;
	case CPM__REQUEST__OP_RECENT_CLAIM:
		op_recent_claim(ctx, txn, req->recent_claim, res);
		break;
	case CPM__REQUEST__OP_OUTBAND_READ:
		op_outband_read(ctx, txn, req->outband_read, res);
		break;
	case CPM__REQUEST__OP_ACL:
		op_acl(ctx, txn, req->acl, res);
		break;
	case CPM__REQUEST__OP_SHARER:
		op_sharer(ctx, txn, req->sharer, res);
		break;
	case CPM__REQUEST__OP_PING: {
		Cpm__PingResp *p = op_result_new(res, CPM__RESPONSE__RESULT_PING, &cpm__ping_resp__descriptor);
		if (p == NULL)
			break;
		p->shard = op_strdup(ctx->shard_id);
		p->started_ms = ctx->started_ms;
		break;
	}
	default:
		op_fail(res, CPM__STATUS__INVALID, "unknown operation %d", (int)req->op_case);
		break;
	}
}

void op_result_error(struct op_result *res, Cpm__Status st, const char *msg)
{
	if (res->resp == NULL) {
		res->resp = malloc(sizeof(*res->resp));
		if (res->resp == NULL)
			return;
		cpm__response__init(res->resp);
	}
	op_fail(res, st, "%s", msg);
}

int op_result_own(struct op_result *res, void *p)
{
	if (res->n_owned == res->cap_owned) {
		size_t nc = res->cap_owned ? res->cap_owned * 2 : 8;
		void **na = reallocarray(res->owned, nc, sizeof(void *));
		if (na == NULL)
			return -1;
		res->owned = na;
		res->cap_owned = nc;
	}
	res->owned[res->n_owned++] = p;
	return 0;
}

void op_result_clear(struct op_result *res)
{
	if (res->borrowed && res->resp != NULL && res->resp->result_case == CPM__RESPONSE__RESULT_FETCH &&
	    res->resp->fetch != NULL) {
		/* Those bytes are the map's, not ours. */
		for (size_t i = 0; i < res->resp->fetch->n_messages; i++) {
			res->resp->fetch->messages[i]->body.data = NULL;
			res->resp->fetch->messages[i]->body.len = 0;
		}
	}
	res->borrowed = false;
	if (res->resp != NULL)
		cpm__response__free_unpacked(res->resp, NULL);
	for (size_t i = 0; i < res->n_owned; i++)
		free(res->owned[i]);
	free(res->owned);
	res->owned = NULL;
	res->n_owned = res->cap_owned = 0;
	for (size_t i = 0; i < res->n_events; i++)
		cpm__feed_event__free_unpacked(res->events[i], NULL);
	free(res->events);
	res->resp = NULL;
	res->events = NULL;
	res->n_events = 0;
}
