/*
 * outlog: the shard's durable notification log, for outband notifications
 * (specification 5.4.2, docs/outband.md).
 *
 * Every change event an operation records (op_event) is also written to
 * this log by the writer, in the same write transaction as the change: a
 * committed change always has its entry and an aborted one never does. A
 * subscriber (through a front-end's outband endpoint) reads a user's entries
 * after a cursor, so after a disconnect it resumes without missing or
 * repeating anything. The PUB feed only says "look again".
 *
 *   outlog  user 0x00 seq (u64 BE)  → OutlogRec (proto/store.proto)
 *   outseq  seq (u64 BE)            → time_ms (u64 BE) user
 *           (the same entries in shard order: what pruning walks)
 *   meta    "outlog_seq"    → u64: the last sequence number given out (the head)
 *           "outlog_pruned" → u64: every entry up to here may be gone
 *           "outlog_id"     → u64: random id of this log, made once
 *
 * seq is shard-wide and strictly ascending, so one number orders all of a
 * user's changes across folders. An event with more than OUTLOG_MAX_UIDS
 * UIDs becomes several entries (bounded entry size).
 *
 * Retention: entries older than outband_retention_s or beyond
 * outband_retention_max per shard are pruned by the writer, at most
 * OUTLOG_PRUNE_STEP per batch, oldest first. A cursor at or after
 * "outlog_pruned" is complete; an older one gets resync_needed.
 *
 * Functions return enum db_status (DB_FAIL logs the LMDB error).
 */
#ifndef CPM_BACKEND_OUTLOG_H
#define CPM_BACKEND_OUTLOG_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "ops.h"

#define OUTLOG_MAX_UIDS 10000
#define OUTLOG_PRUNE_STEP 256
#define OUTLOG_READ_MAX 1000      /* entries per OutbandReadResp */
#define OUTLOG_READ_BYTES (1u << 20)

struct outlog_state {
	uint64_t log_id;
	uint64_t head;   /* last seq given out (0: empty log) */
	uint64_t pruned; /* entries <= pruned may have been removed */
};

/* Makes the log's id when the environment has none (own write transaction;
 * call before the writer starts). */
enum db_status outlog_init(struct db *db, uint64_t *log_id_r);
/* Appends res's events (an OK operation's) inside the writer's transaction. */
enum db_status outlog_append(struct db *db, MDB_txn *t, const struct op_result *res, uint64_t now_ms);
/* Removes at most max_steps of the oldest entries that are past retention;
 * *pruned_r says how many went. */
enum db_status outlog_prune(struct db *db, MDB_txn *t, const struct cpm_config *cfg, uint64_t now_ms,
			    size_t max_steps, size_t *pruned_r);
enum db_status outlog_state(struct db *db, MDB_txn *t, struct outlog_state *st_r);
/* Key of (user, seq): out must hold strlen(user) + 9 bytes. Returns its length. */
size_t outlog_key(unsigned char *out, const char *user, uint64_t seq);

#endif
