/*
 * binary-pieces: FETCH BINARY[section] / BINARY.SIZE[section] of a large
 * message answered piece by piece, in bounded memory on both processes.
 *
 * The answer of a multipart, a message/rfc822 part or the whole message
 * (every leaf decoded, its Content-Transfer-Encoding field rewritten) is
 * planned from the stored MIME tree as pieces (mime_binary_plan,
 * common/mime-binary.h): stored ranges copied as they are, leaf headers
 * rewritten, leaf bodies decoded. This module walks that plan; it does no
 * I/O itself. The caller (frontend/cmd-fetch.c) asks bp_next what to
 * fetch, fetches it from the back-end and feeds the reply back:
 *  - BP_READ: the stored bytes [req.off, + req.len) (a header, at most as
 *    long as the caller allowed when it checked the plan): bp_feed_read;
 *  - BP_WINDOW: one decoded window of a piece (FetchReq.binary_*,
 *    backend/binary-window.h): encoded bytes from req.off, req.len of them
 *    left in the piece, decoder state req.state, at most req.max decoded
 *    bytes (0: no limit), req.discard when only counted: bp_feed_window.
 *    A COPY piece is a window with the identity "decoder", so the back-end
 *    counts its NULs without sending it.
 *
 * Two passes, as for a large leaf (cmd-fetch.c's BIN_*):
 *  1. Counting: the answer's length and whether the bytes the client gets
 *     hold a NUL (literal8 or literal, RFC 3516 4.3), within a partial's
 *     window <origin.count> only. Decoded pieces are counted with
 *     discarding windows (nothing travels but the counts); a COPY piece is
 *     asked only when its NULs matter (BINARY, not BINARY.SIZE, and no NUL
 *     found yet), a piece before the partial's origin only for its length;
 *     counting stops at the partial's end. The cursor at the origin (piece,
 *     decoded offset, encoded offset, decoder state) is kept. Then
 *     bp_next says BP_COUNTED: w->lit and w->nul are the answer's length
 *     and NUL presence.
 *  2. Output (bp_output, BINARY only): from the origin cursor, piece by
 *     piece, windows of at most the caller's chunk; each feed returns the
 *     bytes to write next. BP_DONE when w->lit bytes were given.
 *
 * Every reply is checked against what was asked (lengths, counts, progress,
 * the pieces' ends); a broken promise makes the feed return -1 and bp_next
 * BP_BROKEN, never a loop: the caller ends the connection, the literal's
 * length having been promised.
 *
 * Memory: the plan (at most 3 pieces per MIME part plus one) and one
 * rewritten header; decoded bytes are never held here (the caller writes
 * each window's body as it comes).
 */
#ifndef CPM_BINARY_PIECES_H
#define CPM_BINARY_PIECES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "mime-binary.h"
#include "mime-cte.h"

enum bp_step { BP_READ, BP_WINDOW, BP_COUNTED, BP_DONE, BP_BROKEN };

struct bp_req {
	uint64_t off, len;
	enum mime_cte cte; /* BP_WINDOW */
	const unsigned char *state;
	size_t state_len;
	uint64_t max;
	bool discard;
};

/* What the back-end answered for a BP_WINDOW (cpm.MessageData binary_*). */
struct bp_window {
	uint64_t taken, count;
	const unsigned char *state;
	size_t state_len;
	bool nul, done;
	const unsigned char *body;
	size_t body_len;
};

struct bp_cursor {
	size_t i;        /* piece */
	uint64_t ps;     /* the answer's offset where piece i starts */
	uint64_t local;  /* output bytes of piece i before the cursor */
	bool started;    /* a window piece: pos and state are set */
	uint64_t pos;    /* encoded offset the state belongs to */
	unsigned char state[MIME_CTE_STATE_MAX];
	size_t state_len;
};

enum bp_phase { BP_PH_COUNT, BP_PH_COUNTED, BP_PH_OUT, BP_PH_DONE, BP_PH_BROKEN };

struct bp_walk {
	struct mime_binary_piece *p; /* owned */
	size_t n;
	bool size_only;  /* BINARY.SIZE: the length alone */
	uint64_t w0, w1; /* the partial's window of the answer [w0, w1) */
	uint64_t chunk;  /* output window size */
	enum bp_phase phase;
	struct bp_cursor cur, origin;
	bool have_origin;
	enum bp_step asked; /* BP_READ or BP_WINDOW in flight */
	uint64_t asked_max;
	bool asked_discard, asked_skip;
	struct buf hdr;  /* the rewritten header of the last BP_READ */
	uint64_t lit;    /* after counting: the answer's length */
	bool nul;        /* after counting: a NUL in it */
	uint64_t done;   /* output: bytes given */
};

/* Starts a walk over pieces[0 .. n) (taken over: freed by bp_clear).
 * size_only for BINARY.SIZE; partial/origin/count as the item says;
 * chunk (> 0): the most decoded bytes asked per output window. */
void bp_init(struct bp_walk *w, struct mime_binary_piece *pieces, size_t n, bool size_only, bool partial,
	     uint32_t origin, uint32_t count, uint64_t chunk);
void bp_clear(struct bp_walk *w);

/* What to do next; *r is filled for BP_READ and BP_WINDOW (r->state
 * points into w: send it before the next call). */
enum bp_step bp_next(struct bp_walk *w, struct bp_req *r);

/* After BP_COUNTED, for BINARY with w->lit > 0: the output pass. */
void bp_output(struct bp_walk *w);

/* Feeds the answer of a BP_READ / BP_WINDOW. 0 and, in the output pass,
 * *out_r / *out_len_r the bytes to write now (they point into w or into
 * the fed window's body: valid until the next call); -1 when the reply
 * breaks a promise (bp_next then says BP_BROKEN). */
int bp_feed_read(struct bp_walk *w, const unsigned char *h, size_t len, const unsigned char **out_r,
		 size_t *out_len_r);
int bp_feed_window(struct bp_walk *w, const struct bp_window *win, const unsigned char **out_r, size_t *out_len_r);

#endif
