/* binary-pieces: a BINARY answer planned as pieces, walked. See binary-pieces.h. */
#include "binary-pieces.h"

#include <stdlib.h>
#include <string.h>

void bp_init(struct bp_walk *w, struct mime_binary_piece *pieces, size_t n, bool size_only, bool partial,
	     uint32_t origin, uint32_t count, uint64_t chunk)
{
	memset(w, 0, sizeof(*w));
	w->p = pieces;
	w->n = n;
	w->size_only = size_only;
	w->w0 = partial && !size_only ? origin : 0;
	w->w1 = partial && !size_only ? (uint64_t)origin + count : UINT64_MAX;
	w->chunk = chunk > 0 ? chunk : 1;
	w->phase = BP_PH_COUNT;
}

void bp_clear(struct bp_walk *w)
{
	free(w->p);
	buf_free(&w->hdr);
	memset(w, 0, sizeof(*w));
}

static void next_piece(struct bp_cursor *c, uint64_t len)
{
	c->ps += len;
	c->i++;
	c->local = 0;
	c->started = false;
	c->state_len = 0;
}

/* The cursor is at the answer's offset w0: remember it for the output. */
static void mark_origin(struct bp_walk *w)
{
	if (!w->have_origin && w->cur.ps + w->cur.local == w->w0) {
		w->origin = w->cur;
		w->have_origin = true;
	}
}

static enum bp_step broken(struct bp_walk *w)
{
	w->phase = BP_PH_BROKEN;
	return BP_BROKEN;
}

static enum bp_step ask_read(struct bp_walk *w, struct bp_req *r)
{
	const struct mime_binary_piece *p = &w->p[w->cur.i];
	memset(r, 0, sizeof(*r));
	r->off = p->off;
	r->len = p->len;
	w->asked = BP_READ;
	return BP_READ;
}

static enum bp_step ask_window(struct bp_walk *w, struct bp_req *r, uint64_t max, bool discard, bool skip)
{
	const struct mime_binary_piece *p = &w->p[w->cur.i];
	memset(r, 0, sizeof(*r));
	r->off = w->cur.pos;
	r->len = p->off + p->len - w->cur.pos;
	r->cte = p->kind == MIME_PIECE_DECODE ? (enum mime_cte)p->cte : MIME_CTE_IDENTITY;
	r->state = w->cur.state;
	r->state_len = w->cur.state_len;
	r->max = max;
	r->discard = discard;
	w->asked = BP_WINDOW;
	w->asked_max = max;
	w->asked_discard = discard;
	w->asked_skip = skip;
	return BP_WINDOW;
}

static void start_window_piece(struct bp_cursor *c, const struct mime_binary_piece *p)
{
	if (c->started)
		return;
	c->started = true;
	c->pos = p->off + (p->kind == MIME_PIECE_COPY ? c->local : 0);
	c->state_len = 0;
	if (p->kind != MIME_PIECE_COPY)
		c->local = 0;
}

/* The counting pass's next step. */
static enum bp_step count_next(struct bp_walk *w, struct bp_req *r)
{
	for (;;) {
		struct bp_cursor *c = &w->cur;
		uint64_t at = c->ps + c->local;
		if (c->i == w->n || at >= w->w1) {
			w->lit = at > w->w0 ? (at < w->w1 ? at : w->w1) - w->w0 : 0;
			w->phase = BP_PH_COUNTED;
			return BP_COUNTED;
		}
		const struct mime_binary_piece *p = &w->p[c->i];
		if (p->kind == MIME_PIECE_HEADER)
			return ask_read(w, r);
		if (p->kind == MIME_PIECE_COPY) {
			uint64_t end = c->ps + p->len;
			bool overlaps = end > w->w0 && c->ps < w->w1;
			if (!c->started && w->w0 > c->ps && w->w0 < end)
				c->local = w->w0 - c->ps; /* the origin is inside: a copy seeks there */
			mark_origin(w);
			if (w->size_only || w->nul || !overlaps) {
				next_piece(c, p->len); /* its length is known, its NULs do not matter */
				continue;
			}
			start_window_piece(c, p);
			mark_origin(w);
			return ask_window(w, r, w->w1 == UINT64_MAX ? 0 : w->w1 - (c->ps + c->local), true, false);
		}
		/* A decoded piece: skipped (counted) up to the origin, then counted. */
		start_window_piece(c, p);
		uint64_t skip_to = w->w0 > c->ps ? w->w0 - c->ps : 0;
		if (c->local < skip_to)
			return ask_window(w, r, skip_to - c->local, true, true);
		mark_origin(w);
		return ask_window(w, r, w->w1 == UINT64_MAX ? 0 : w->w1 - (c->ps + c->local), true, false);
	}
}

static enum bp_step out_next(struct bp_walk *w, struct bp_req *r)
{
	if (w->done == w->lit) {
		w->phase = BP_PH_DONE;
		return BP_DONE;
	}
	struct bp_cursor *c = &w->cur;
	if (c->i == w->n)
		return broken(w); /* fewer bytes than counted */
	const struct mime_binary_piece *p = &w->p[c->i];
	if (p->kind == MIME_PIECE_HEADER)
		return ask_read(w, r);
	start_window_piece(c, p);
	uint64_t left = w->lit - w->done;
	return ask_window(w, r, left < w->chunk ? left : w->chunk, false, false);
}

enum bp_step bp_next(struct bp_walk *w, struct bp_req *r)
{
	switch (w->phase) {
	case BP_PH_COUNT:
		return count_next(w, r);
	case BP_PH_COUNTED:
		return BP_COUNTED;
	case BP_PH_OUT:
		return out_next(w, r);
	case BP_PH_DONE:
		return BP_DONE;
	case BP_PH_BROKEN:
	default:
		return BP_BROKEN;
	}
}

void bp_output(struct bp_walk *w)
{
	if (w->phase != BP_PH_COUNTED)
		return;
	w->phase = BP_PH_OUT;
	w->done = 0;
	if (w->lit == 0 || !w->have_origin) {
		w->phase = w->lit == 0 ? BP_PH_DONE : BP_PH_BROKEN;
		return;
	}
	w->cur = w->origin;
}

int bp_feed_read(struct bp_walk *w, const unsigned char *h, size_t len, const unsigned char **out_r,
		 size_t *out_len_r)
{
	*out_r = NULL;
	*out_len_r = 0;
	if ((w->phase != BP_PH_COUNT && w->phase != BP_PH_OUT) || w->asked != BP_READ || w->cur.i >= w->n ||
	    len != w->p[w->cur.i].len) {
		w->phase = BP_PH_BROKEN;
		return -1;
	}
	w->asked = BP_DONE;
	buf_reset(&w->hdr);
	if (mime_binary_rewrite_header(&w->hdr, h, len) < 0) {
		w->phase = BP_PH_BROKEN; /* out of memory: the promised length cannot be kept */
		return -1;
	}
	struct bp_cursor *c = &w->cur;
	uint64_t hl = w->hdr.len;
	if (w->phase == BP_PH_COUNT) {
		/* The part of it inside the partial's window decides the NUL. */
		uint64_t a = w->w0 > c->ps ? w->w0 - c->ps : 0;
		uint64_t b = w->w1 - c->ps < hl ? w->w1 - c->ps : hl;
		if (!w->size_only && a < b && memchr(w->hdr.data + a, '\0', (size_t)(b - a)) != NULL)
			w->nul = true;
		if (w->w0 >= c->ps && w->w0 < c->ps + hl) {
			c->local = w->w0 - c->ps;
			mark_origin(w);
		}
		next_piece(c, hl);
		return 0;
	}
	if (c->local > hl) {
		w->phase = BP_PH_BROKEN; /* shorter than when it was counted */
		return -1;
	}
	uint64_t n = hl - c->local, left = w->lit - w->done;
	if (n > left)
		n = left;
	*out_r = w->hdr.data != NULL ? w->hdr.data + c->local : NULL;
	*out_len_r = (size_t)n;
	w->done += n;
	next_piece(c, hl);
	return 0;
}

int bp_feed_window(struct bp_walk *w, const struct bp_window *win, const unsigned char **out_r, size_t *out_len_r)
{
	*out_r = NULL;
	*out_len_r = 0;
	struct bp_cursor *c = &w->cur;
	if ((w->phase != BP_PH_COUNT && w->phase != BP_PH_OUT) || w->asked != BP_WINDOW || c->i >= w->n) {
		w->phase = BP_PH_BROKEN;
		return -1;
	}
	const struct mime_binary_piece *p = &w->p[c->i];
	uint64_t end = p->off + p->len;
	/* Everything the back-end says is checked: a window that breaks a
	 * promise (or makes no progress) is the end, never a loop. */
	if (win->taken > end - c->pos || win->state_len > MIME_CTE_STATE_MAX ||
	    (w->asked_max > 0 && win->count > w->asked_max) ||
	    win->body_len != (w->asked_discard ? 0 : win->count) || (win->body_len > 0 && win->body == NULL) ||
	    (win->taken == 0 && win->count == 0 && !win->done) || (win->done && c->pos + win->taken != end) ||
	    (p->kind == MIME_PIECE_COPY && win->count != win->taken)) {
		w->phase = BP_PH_BROKEN;
		return -1;
	}
	w->asked = BP_DONE;
	c->pos += win->taken;
	if (win->state_len > 0)
		memcpy(c->state, win->state, win->state_len);
	c->state_len = win->state_len;
	c->local += win->count;
	if (w->phase == BP_PH_COUNT) {
		if (!w->asked_skip && !w->size_only && win->nul)
			w->nul = true;
	} else {
		*out_r = win->body;
		*out_len_r = win->body_len;
		w->done += win->count;
	}
	if (win->done)
		next_piece(c, c->local);
	return 0;
}
