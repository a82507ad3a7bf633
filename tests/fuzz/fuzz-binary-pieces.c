/*
 * libFuzzer harness for frontend/binary-pieces (a BINARY answer planned as
 * pieces, walked against the back-end's replies, which are untrusted).
 *
 *   make fuzz
 *   build/fuzz/fuzz-binary-pieces -max_len=4096 -max_total_time=300
 *
 * The input: 4 control bytes (section: a part path and TEXT / MIME /
 * HEADER, partial origin and count, how the back-end lies), then a message. The walk runs against a model of the
 * back-end's decoded windows (backend/binary-window.c's loop, tiny
 * windows) that, when told to, answers one window with a perturbed
 * field. An honest walk must end with exactly the whole-message answer
 * (mime_binary_section_fetch, for a part path mime_binary_fetch, with the
 * partial applied) and its literal8 choice; a
 * lying one may break (BP_BROKEN) but never loops, overruns a buffer or
 * gives more bytes than it announced.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/binary-pieces.h"
#include "mime-parse.h"

/* The modules binary-pieces.c links with (the Makefile compiles only
 * frontend/binary-pieces.c and common/buf.c with this file). */
#include "../../common/mime-binary.c"
#include "../../common/mime-cte.c"
#include "../../common/mime-decode.c"
#include "../../common/mime-parse.c"
#include "../../common/mime-header.c"
#include "../../common/imap-envelope.c"
#include "../../common/imap-quote.c"

static void fuzz_window(const unsigned char *msg, size_t len, const struct bp_req *r, unsigned lie,
			struct bp_window *win, unsigned char *out, unsigned char *state)
{
	struct mime_cte_dec dec;
	memset(win, 0, sizeof(*win));
	if (r->off + r->len > len || mime_cte_dec_load(&dec, r->cte, r->state, r->state_len) < 0)
		abort(); /* the walk asked for something outside its plan */
	uint64_t end = r->off + r->len, pos = r->off, got = 0;
	uint64_t cap = r->max > 0 ? r->max : UINT64_MAX;
	if (!r->discard && cap > 5)
		cap = 5;
	while (got < cap && pos - r->off < 13) {
		size_t n = end - pos < 6 ? (size_t)(end - pos) : 6, produced = 0;
		bool final = pos + n == end;
		size_t took = mime_cte_dec_run(&dec, msg + pos, n, final, r->discard ? NULL : out + got,
					       (size_t)(cap - got), &produced);
		got += produced;
		pos += took;
		if (took < n || final)
			break;
	}
	win->taken = pos - r->off;
	win->count = got;
	win->state_len = mime_cte_dec_save(&dec, state);
	win->state = state;
	win->nul = dec.nul;
	win->done = pos == end && mime_cte_dec_idle(&dec);
	win->body = r->discard ? NULL : out;
	win->body_len = r->discard ? 0 : (size_t)got;
	switch (lie) {
	case 1: win->taken += 1 + r->len; break;
	case 2: win->count += 1; break;
	case 3: win->done = !win->done; break;
	case 4: win->taken = win->count = 0; win->done = false; break;
	case 5: win->state_len = MIME_CTE_STATE_MAX + 1; break;
	case 6: if (win->body_len > 0) win->body_len--; break;
	default: break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	uint32_t path[2] = {data[0] & 3, (data[0] >> 2) & 3};
	size_t plen = data[0] >> 6 > 2 ? 2 : data[0] >> 6;
	bool partial = data[1] != 0;
	uint32_t origin = data[1] & 0x7f, count = data[2] + 1u;
	unsigned lie_at = data[3] >> 3, lie = data[3] & 7;
	const unsigned char *msg = data + 4;
	size_t len = size - 4;
	struct mime_tree *tree = NULL;
	if (mime_parse(msg, len, &tree) < 0)
		return 0;
	/* bits 4-5: the section text (a part path, TEXT, MIME, HEADER) */
	static const enum mime_section_text texts[] = {MIME_SECTION_BODY, MIME_SECTION_TEXT, MIME_SECTION_MIME,
						       MIME_SECTION_HEADER};
	struct mime_section sec = {.path = path, .path_len = plen, .text = texts[(data[0] >> 4) & 3]};
	if (sec.text == MIME_SECTION_MIME && plen == 0)
		sec.text = MIME_SECTION_BODY; /* no such section */
	struct buf whole = {0};
	int frc = mime_binary_section_fetch(&whole, msg, len, tree, &sec);
	if (sec.text == MIME_SECTION_BODY) {
		/* a part path: the plan against the whole-message path */
		struct buf direct = {0};
		int drc = mime_binary_fetch(&direct, msg, len, tree, path, plen);
		if (drc != frc || (drc == MIME_BINARY_OK && (direct.len != whole.len ||
							     (direct.len > 0 && memcmp(direct.data, whole.data, direct.len)))))
			abort();
		buf_free(&direct);
	}
	struct mime_binary_piece *pc = NULL;
	size_t n = 0;
	int prc = mime_binary_section_plan(tree, &sec, len, &pc, &n);
	if (prc != frc && frc != MIME_BINARY_NOMEM && prc != MIME_BINARY_NOMEM)
		abort();
	if (prc == MIME_BINARY_OK && frc == MIME_BINARY_OK) {
		struct bp_walk w;
		struct buf out = {0};
		bp_init(&w, pc, n, false, partial, origin, count, 3);
		pc = NULL;
		unsigned char wbuf[16], state[MIME_CTE_STATE_MAX];
		unsigned step = 0;
		bool lied = false, done = false;
		for (; step < 1000000; step++) {
			struct bp_req r;
			const unsigned char *o = NULL;
			size_t ol = 0;
			enum bp_step st = bp_next(&w, &r);
			if (st == BP_COUNTED) {
				bp_output(&w);
				continue;
			}
			if (st == BP_DONE)
				done = true;
			if (st == BP_DONE || st == BP_BROKEN)
				break;
			if (st == BP_READ) {
				if (r.off + r.len > len)
					abort();
				if (bp_feed_read(&w, msg + r.off, (size_t)r.len, &o, &ol) < 0)
					continue;
			} else {
				struct bp_window win;
				unsigned l = step == lie_at ? lie : 0;
				lied = lied || l != 0;
				fuzz_window(msg, len, &r, l, &win, wbuf, state);
				if (bp_feed_window(&w, &win, &o, &ol) < 0)
					continue;
			}
			if (ol > 0)
				buf_append(&out, o, ol);
			if (out.len > w.lit && w.phase != BP_PH_COUNT)
				abort(); /* more than announced */
		}
		if (step == 1000000)
			abort(); /* no end */
		if (!lied) {
			size_t start = 0, want = whole.len;
			if (partial) {
				start = origin < want ? origin : want;
				want -= start;
				if (want > count)
					want = count;
			}
			if (!done || out.len != want || (want > 0 && memcmp(out.data, whole.data + start, want) != 0) ||
			    w.nul != (want > 0 && memchr(whole.data + start, '\0', want) != NULL))
				abort();
		}
		buf_free(&out);
		bp_clear(&w);
	}
	free(pc);
	buf_free(&whole);
	mime_tree_free(&tree);
	return 0;
}
