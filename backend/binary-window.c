/* binary-window: one decoded window of a large part. See binary-window.h. */
#include "binary-window.h"

#include "mime-cte.h"

#include <stdlib.h>
#include <string.h>

enum db_status op_binary_window(const struct op_ctx *ctx, MDB_txn *t, const unsigned char hash[32],
				const Cpm__FetchReq *q, struct op_result *res, Cpm__MessageData *d)
{
	struct mime_cte_dec dec;
	if (q->binary_cte > MIME_CTE_QP ||
	    mime_cte_dec_load(&dec, (enum mime_cte)q->binary_cte, q->binary_state.data, q->binary_state.len) < 0)
		return DB_INVALID;
	uint64_t size;
	bool in_file;
	enum db_status st = db_blob_stat(t, ctx->db, hash, &size, &in_file);
	if (st != DB_OK)
		return st;
	uint64_t off = q->body_offset < size ? q->body_offset : size;
	uint64_t end = off + (q->body_len < size - off ? q->body_len : size - off);
	uint64_t cap = q->binary_max > 0 ? q->binary_max : UINT64_MAX;
	if (!q->binary_discard && cap > OP_BINARY_OUT_MAX)
		cap = OP_BINARY_OUT_MAX;
	unsigned char *out = q->binary_discard ? NULL : malloc(cap > 0 ? (size_t)cap : 1);
	unsigned char *rbuf = malloc(OP_BINARY_READ);
	if ((!q->binary_discard && out == NULL) || rbuf == NULL) {
		free(out);
		free(rbuf);
		return DB_FAIL;
	}
	uint64_t pos = off, got_total = 0;
	while (got_total < cap && pos - off < OP_BINARY_IN_MAX) {
		/* A small window reads little: about what its bytes need
		 * (base64 takes 4 for 3), more only when that was not enough. */
		uint64_t need = cap - got_total < OP_BINARY_READ ? (cap - got_total) * 2 + 1024 : OP_BINARY_READ;
		if (need > OP_BINARY_READ)
			need = OP_BINARY_READ;
		size_t n = end - pos < need ? (size_t)(end - pos) : (size_t)need;
		size_t got = 0;
		if (n > 0 && ((st = db_blob_read(t, ctx->db, hash, pos, rbuf, n, &got)) != DB_OK || got != n)) {
			st = st != DB_OK ? st : DB_FAIL; /* the blob is shorter than its size */
			break;
		}
		bool final = pos + n == end;
		size_t produced = 0;
		size_t took = mime_cte_dec_run(&dec, rbuf, n, final, out != NULL ? out + got_total : NULL,
					       (size_t)(cap - got_total < SIZE_MAX ? cap - got_total : SIZE_MAX), &produced);
		got_total += produced;
		pos += took;
		if (took < n || final)
			break;
	}
	free(rbuf);
	unsigned char state[MIME_CTE_STATE_MAX];
	size_t state_len = mime_cte_dec_save(&dec, state);
	if (st == DB_OK && (d->binary_state.data = malloc(state_len ? state_len : 1)) == NULL)
		st = DB_FAIL;
	if (st == DB_OK && out != NULL && ctx->borrow_bodies && op_result_own(res, out) < 0)
		st = DB_FAIL;
	if (st != DB_OK) {
		free(out);
		return st;
	}
	memcpy(d->binary_state.data, state, state_len);
	d->binary_state.len = state_len;
	d->body.data = out;
	d->body.len = out != NULL ? (size_t)got_total : 0;
	d->binary_taken = pos - off;
	d->binary_count = got_total;
	d->binary_nul = dec.nul;
	d->binary_done = pos == end && mime_cte_dec_idle(&dec);
	return DB_OK;
}
