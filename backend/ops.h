/*
 * ops: the back-end's operations, one per cpm.Request op (proto/cpm.proto).
 *
 * A reader who knows IMAP finds a command's whole path in one hop:
 * frontend/cmd-<family>.c → proto/cpm.proto → backend/op-<family>.c.
 *
 * op_run executes one request inside the transaction it is given: a read
 * transaction for reads, a nested write transaction (inside the writer's
 * group-commit transaction) for writes; op_is_write says which. It always
 * fills res->resp. For a write whose status is not OK, the caller aborts the
 * nested transaction, so a failed operation leaves no trace. Change events
 * (res->events) are published only after the group commit is durable.
 * Everything in res is heap-allocated and freed with op_result_clear.
 */
#ifndef CPM_BACKEND_OPS_H
#define CPM_BACKEND_OPS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "db.h"
#include "proto/cpm.pb-c.h"

#define OP_FETCH_MAX_BYTES (16u << 20) /* bodies per FetchResp page */
#define OP_FETCH_MAX_MESSAGES 5000     /* messages per FetchResp page */
#define OP_FOLDER_NAME_MAX 1000
#define OP_MAX_KEYWORDS 256            /* per folder */
#define OP_CHANGES_PAGE 10000          /* change-log entries per ChangesResp */

struct op_ctx {
	struct db *db;
	const struct cpm_config *cfg;
	const char *shard_id;
	uint64_t started_ms;
	/* Reads only: FETCH bodies point into the LMDB map instead of being
	 * copied; they are valid until the transaction ends, so the caller packs
	 * the response before ending it (server.c); op_result_clear never frees
	 * them (res->borrowed). */
	bool borrow_bodies;
	/* The request's actor (Request.actor; NULL or "": a trusted caller):
	 * set by op_run for each request; rights are checked with acl.h. */
	const char *actor;
};

struct op_result {
	bool borrowed; /* message bodies in resp point into the map (op_ctx.borrow_bodies) */
	Cpm__Response *resp;
	Cpm__FeedEvent **events;
	size_t n_events;
	bool events_lost; /* an event could not be recorded (out of memory): the writer fails the
			     operation, since the notification log (outlog.h) must not miss it */
	void **owned;     /* borrowed answers: bodies copied anyway (ranges, files), freed by clear */
	size_t n_owned, cap_owned;
};

bool op_is_write(const Cpm__Request *req);
void op_run(const struct op_ctx *ctx, MDB_txn *txn, const Cpm__Request *req, struct op_result *res);
void op_result_clear(struct op_result *res);
/* res takes p (freed by op_result_clear). 0, or -1 when out of memory (p is then the caller's). */
int op_result_own(struct op_result *res, void *p);
/* A failure result without running anything (allocates res->resp if needed). */
void op_result_error(struct op_result *res, Cpm__Status st, const char *msg);

/* The operation's result: a new, initialised message of desc installed in
 * res as `which` (freed with the response, or by a later op_fail). NULL
 * after answering INTERNAL when memory is short. */
void *op_result_new(struct op_result *res, Cpm__Response__ResultCase which, const ProtobufCMessageDescriptor *desc);

/* ---- shared by op-*.c -------------------------------------------------- */
/* Sets status and a formatted error text on res->resp. */
void op_fail(struct op_result *res, Cpm__Status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The folder of a FETCH/STORE/SEARCH... by id, checked against the
 * UIDVALIDITY and owner the session knows, and for the actor's rights
 * need (acl.h); on failure res says UIDVALIDITY_CHANGED (or the storage
 * error, or the denial) and false is returned. The caller frees *f_r
 * (cpmdb__folder_rec__free_unpacked). */
bool op_folder_by_id(const struct op_ctx *ctx, MDB_txn *t, uint64_t id, uint32_t uidvalidity, const char *user,
		     uint32_t need, Cpmdb__FolderRec **f_r, struct op_result *res);
/* The folder user/name (normalised, checked) and its record: DB_NOTFOUND
 * for an invalid or missing name. The caller frees *f_r. */
enum db_status op_folder_by_name(const struct op_ctx *ctx, MDB_txn *t, const char *user, const char *name,
				 uint64_t *id_r, Cpmdb__FolderRec **f_r);
/* The same, and the actor must hold need on it (acl.h): false after
 * failing res (NONEXISTENT, NOPERM or the storage error). */
bool op_folder_named(const struct op_ctx *ctx, MDB_txn *t, const char *user, const char *name, uint32_t need,
		     uint64_t *id_r, Cpmdb__FolderRec **f_r, struct op_result *res);
/* A folder lookup failed: NONEXISTENT when it is not there, else as op_fail_db. */
void op_fail_folder(struct op_result *res, enum db_status st);
/* Maps a db status (not OK) to a response. */
void op_fail_db(struct op_result *res, enum db_status st, const char *what);
/* Records a change event for publication after commit; uids may be NULL. */
void op_event(struct op_result *res, const char *user, uint64_t folder_id, uint64_t modseq, Cpm__ChangeKind kind,
	      const uint32_t *uids, size_t n_uids);
char *op_strdup(const char *s);
/* Normalises a folder name in place (INBOX in any case → "INBOX") and checks it. */
bool op_folder_name_ok(char *name);
/* Creates folder user/name (and any missing parents). DB_EXISTS if it is there. */
enum db_status op_folder_create(const struct op_ctx *ctx, MDB_txn *t, const char *user, const char *name,
				uint64_t *id_r, uint32_t *uidvalidity_r, struct op_result *res);

/* Names and ids of a user's folders under prefix ("" = all), in name order. */
struct op_folder_list {
	char **names;
	uint64_t *ids;
	size_t n, cap;
	size_t max;  /* stop after this many names (0: all) */
	bool failed; /* out of memory while collecting */
};
/* Sharer hints a user's FolderListResp carries at most (LIST asks as many
 * owners: frontend/shared-folders.h). */
#define OP_SHARERS_MAX 64
enum db_status op_folder_collect(const struct op_ctx *ctx, MDB_txn *t, const char *user, const char *prefix,
				 struct op_folder_list *out);
/* Every name of user in dbi (subs: subscriptions, sharers: see db.h). */
enum db_status op_names_collect(MDB_txn *t, MDB_dbi dbi, const char *user, struct op_folder_list *out);
void op_folder_list_free(struct op_folder_list *l);
/* Removes folder name (id) of user with its messages (blob references
 * released), change log and info; publishes C_FOLDER_DELETE. */
enum db_status op_folder_drop(const struct op_ctx *ctx, MDB_txn *t, const char *user, const char *name, uint64_t id,
			      struct op_result *res);

void op_user_get(const struct op_ctx *ctx, MDB_txn *t, const Cpm__UserGetReq *q, struct op_result *res);
void op_user_put(const struct op_ctx *ctx, MDB_txn *t, const Cpm__UserPutReq *q, struct op_result *res);
void op_user_del(const struct op_ctx *ctx, MDB_txn *t, const Cpm__UserDelReq *q, struct op_result *res);
void op_user_list(const struct op_ctx *ctx, MDB_txn *t, const Cpm__UserListReq *q, struct op_result *res);
void op_folder_create_req(const struct op_ctx *ctx, MDB_txn *t, const Cpm__FolderCreateReq *q, struct op_result *res);
void op_folder_list(const struct op_ctx *ctx, MDB_txn *t, const Cpm__FolderListReq *q, struct op_result *res);
void op_folder_select(const struct op_ctx *ctx, MDB_txn *t, const Cpm__FolderSelectReq *q, struct op_result *res);
/* Claims the folder's unclaimed \Recent messages below upto_uid for the caller. */
void op_recent_claim(const struct op_ctx *ctx, MDB_txn *t, const Cpm__RecentClaimReq *q, struct op_result *res);
void op_folder_delete(const struct op_ctx *ctx, MDB_txn *t, const Cpm__FolderDeleteReq *q, struct op_result *res);
void op_folder_rename(const struct op_ctx *ctx, MDB_txn *t, const Cpm__FolderRenameReq *q, struct op_result *res);
void op_folder_subscribe(const struct op_ctx *ctx, MDB_txn *t, const Cpm__FolderSubscribeReq *q,
			 struct op_result *res);
void op_folder_status(const struct op_ctx *ctx, MDB_txn *t, const Cpm__FolderStatusReq *q, struct op_result *res);
void op_subscription_list(const struct op_ctx *ctx, MDB_txn *t, const Cpm__SubscriptionListReq *q,
			  struct op_result *res);
void op_append(const struct op_ctx *ctx, MDB_txn *t, const Cpm__AppendReq *q, struct op_result *res);
/* AppendBegin's checks (a read): folder exists, size within the message
 * limit, size + pending_bytes within the quota. The staging file is the
 * server's (server.c, staging.h). */
void op_append_begin(const struct op_ctx *ctx, MDB_txn *t, const Cpm__AppendBeginReq *q, struct op_result *res);
void op_multi_append(const struct op_ctx *ctx, MDB_txn *t, const Cpm__MultiAppendReq *q, struct op_result *res);
void op_fetch(const struct op_ctx *ctx, MDB_txn *t, const Cpm__FetchReq *q, struct op_result *res);
void op_store(const struct op_ctx *ctx, MDB_txn *t, const Cpm__StoreReq *q, struct op_result *res);
void op_expunge(const struct op_ctx *ctx, MDB_txn *t, const Cpm__ExpungeReq *q, struct op_result *res);
void op_copy(const struct op_ctx *ctx, MDB_txn *t, const Cpm__CopyReq *q, struct op_result *res);
/* Adds delta octets to user's storage; DB_OVERQUOTA (nothing changed) when a
 * positive delta would pass the quota. */
enum db_status op_quota_charge(const struct op_ctx *ctx, MDB_txn *t, const char *user, int64_t delta);
/* DB_OVERQUOTA when bytes more octets would pass user's quota (a read). */
enum db_status op_quota_check(const struct op_ctx *ctx, MDB_txn *t, const char *user, uint64_t bytes);
void op_quota_get(const struct op_ctx *ctx, MDB_txn *t, const Cpm__QuotaGetReq *q, struct op_result *res);
void op_quota_set(const struct op_ctx *ctx, MDB_txn *t, const Cpm__QuotaSetReq *q, struct op_result *res);
void op_search(const struct op_ctx *ctx, MDB_txn *t, const Cpm__SearchReq *q, struct op_result *res);
void op_changes(const struct op_ctx *ctx, MDB_txn *t, const Cpm__ChangesReq *q, struct op_result *res);
/* RFC 4314: GETACL, MYRIGHTS, SETACL, DELETEACL on one folder (op-acl.c). */
void op_acl(const struct op_ctx *ctx, MDB_txn *t, const Cpm__AclReq *q, struct op_result *res);
/* Records that q->owner shares folders with q->user (op-acl.c). */
void op_sharer(const struct op_ctx *ctx, MDB_txn *t, const Cpm__SharerReq *q, struct op_result *res);
void op_outband_read(const struct op_ctx *ctx, MDB_txn *t, const Cpm__OutbandReadReq *q, struct op_result *res);

#endif
