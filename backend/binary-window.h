/*
 * binary-window: one window of FETCH BINARY of a large part (RFC 3516), so
 * that neither process ever holds the part or its decoded bytes whole.
 *
 * The front-end knows the part (it has the stored MIME tree): it asks for
 * the encoded bytes body[body_offset .. body_offset + body_len) -- what is
 * left of the part's body -- to be decoded with binary_cte from the
 * decoder state binary_state (common/mime-cte.h; empty at the part's
 * start). The window reads the blob in OP_BINARY_READ pieces (pread of a
 * body file, or a copy out of the LMDB value), at most OP_BINARY_IN_MAX
 * encoded bytes, and stops when binary_max decoded bytes are delivered (at
 * most OP_BINARY_OUT_MAX when they are sent). The answer says how many
 * encoded bytes were consumed (binary_taken), the decoder state to resume
 * from, how many bytes were decoded, whether one was NUL, and whether the
 * part is finished. With binary_discard the bytes are only counted: that
 * is how BINARY.SIZE, the literal8 choice and a partial's origin are found.
 * Each window costs O(its own bytes): nothing is decoded twice.
 *
 * op_binary_window fills d (its body is malloc'd, listed in res->owned when
 * the answer is borrowed) and returns DB_OK, DB_INVALID for a bad request
 * (unknown binary_cte, a state that does not load), or the blob's error.
 */
#ifndef CPM_BACKEND_BINARY_WINDOW_H
#define CPM_BACKEND_BINARY_WINDOW_H

#include "ops.h"

#define OP_BINARY_READ (256u << 10)
#define OP_BINARY_IN_MAX (8u << 20)
#define OP_BINARY_OUT_MAX (1u << 20)

enum db_status op_binary_window(const struct op_ctx *ctx, MDB_txn *t, const unsigned char hash[32],
				const Cpm__FetchReq *q, struct op_result *res, Cpm__MessageData *d);

#endif
