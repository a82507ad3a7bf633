/*
 * op-outband: OutbandReadReq, a user's entries of the notification log
 * (outlog.h) after a cursor, for a front-end's outband endpoint
 * (frontend/outband.c).
 *
 * Runs in a read transaction: head, the pruning watermark and the entries
 * come from one snapshot, so "no more entries up to head" is exact and the
 * caller may move its cursor to head. A cursor that cannot be continued
 * (older than the retained log, from another log, or ahead of this one) is
 * answered resync_needed, never with a silent gap.
 */
#include "ops.h"

#include "log.h"
#include "outlog.h"

#include "user-name.h"

#include <stdlib.h>
#include <string.h>

static Cpm__OutbandEntry *entry_from(uint64_t seq, const Cpmdb__OutlogRec *rec)
{
	Cpm__OutbandEntry *e = malloc(sizeof(*e));
	if (e == NULL)
		return NULL;
	cpm__outband_entry__init(e);
	e->seq = seq;
	e->folder_id = rec->folder_id;
	e->uidvalidity = rec->uidvalidity;
	e->modseq = rec->modseq;
	e->kind = (Cpm__ChangeKind)rec->kind;
	e->time_ms = rec->time_ms;
	e->folder_name = op_strdup(rec->folder_name);
	e->old_folder_name = op_strdup(rec->old_folder_name);
	if (rec->n_uids > 0 && (e->uids = malloc(rec->n_uids * sizeof(uint32_t))) != NULL) {
		memcpy(e->uids, rec->uids, rec->n_uids * sizeof(uint32_t));
		e->n_uids = rec->n_uids;
	}
	if (e->folder_name == NULL || e->old_folder_name == NULL || (rec->n_uids > 0 && e->uids == NULL)) {
		cpm__outband_entry__free_unpacked(e, NULL);
		return NULL;
	}
	return e;
}

/* Appends the user's entries after q->after to r; false on a storage or memory error. */
static bool read_entries(const struct op_ctx *ctx, MDB_txn *t, const Cpm__OutbandReadReq *q, Cpm__OutbandReadResp *r,
			 struct op_result *res)
{
	size_t max = q->max == 0 || q->max > OUTLOG_READ_MAX ? OUTLOG_READ_MAX : q->max;
	size_t ul = strlen(q->user), bytes = 0;
	unsigned char key[DB_MAX_KEY + 1];
	size_t kl = outlog_key(key, q->user, q->after + 1);
	if ((r->entries = calloc(max, sizeof(*r->entries))) == NULL) {
		op_fail(res, CPM__STATUS__INTERNAL, "out of memory");
		return false;
	}
	MDB_cursor *c = NULL;
	int rc = mdb_cursor_open(t, ctx->db->outlog, &c);
	MDB_val k = {kl, key}, v;
	if (rc == 0)
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size == ul + 9 && memcmp(k.mv_data, key, ul + 1) == 0) {
		if (r->n_entries == max || bytes >= OUTLOG_READ_BYTES) {
			r->more = true;
			break;
		}
		const unsigned char *p = v.mv_data;
		Cpmdb__OutlogRec *rec = v.mv_size >= 1 && p[0] == DB_RECORD_VERSION
						? cpmdb__outlog_rec__unpack(NULL, v.mv_size - 1, p + 1)
						: NULL;
		if (rec == NULL) {
			log_error("event=db_corrupt what=outlog");
			rc = MDB_CORRUPTED;
			break;
		}
		Cpm__OutbandEntry *e = entry_from(db_get_u64((const unsigned char *)k.mv_data + ul + 1), rec);
		cpmdb__outlog_rec__free_unpacked(rec, NULL);
		if (e == NULL) {
			if (c != NULL)
				mdb_cursor_close(c);
			op_fail(res, CPM__STATUS__INTERNAL, "out of memory");
			return false;
		}
		r->entries[r->n_entries++] = e;
		bytes += v.mv_size;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	if (c != NULL)
		mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		op_fail_db(res, db_from_mdb(rc, "outlog_read"), "notification log");
		return false;
	}
	return true;
}

void op_outband_read(const struct op_ctx *ctx, MDB_txn *t, const Cpm__OutbandReadReq *q, struct op_result *res)
{
	if (!user_name_valid(q->user)) {
		op_fail(res, CPM__STATUS__INVALID, "invalid user name");
		return;
	}
	struct outlog_state st;
	enum db_status dst = outlog_state(ctx->db, t, &st);
	if (dst != DB_OK) {
		op_fail_db(res, dst, "notification log");
		return;
	}
	Cpm__OutbandReadResp *r = op_result_new(res, CPM__RESPONSE__RESULT_OUTBAND_READ, &cpm__outband_read_resp__descriptor);
	if (r == NULL)
		return;
	r->log_id = st.log_id;
	r->head = st.head;
	const char *why = NULL;
	if (q->from_now)
		return;
	if (q->log_id != 0 && q->log_id != st.log_id)
		why = "the cursor belongs to another log";
	else if (q->after > st.head)
		why = "the cursor is ahead of the log";
	else if (q->after < st.pruned)
		why = "the cursor is older than the retained log";
	if (why != NULL) {
		r->resync_needed = true;
		r->resync_reason = op_strdup(why);
		return;
	}
	read_entries(ctx, t, q, r, res);
}
