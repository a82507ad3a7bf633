/*
 * cmd-fetch: FETCH and UID FETCH (RFC 3501 6.4.5, 6.4.8), and the UID
 * command's dispatch on its sub-command.
 *
 * Served items: see fetch-items.h (MODSEQ and ANNOTATION are a BAD until
 * they land, never a silent pretence). BINARY[part] (RFC 3516) of a small
 * message is decoded here from the whole message and its stored MIME tree
 * (mime-binary.h), of a large one window by window (steps 5 and 6 below);
 * PREVIEW (RFC 8970) is made here (preview.h) from the tree and the first
 * bytes of the chosen part that the back-end sends (F_PREVIEW), never from
 * the whole message.
 *
 * Path of one command:
 *   1. Parse the set and the items. Sequence numbers are resolved against
 *      the session's view (s->sel.uids): "*" is the last message, a number
 *      outside 1..count is a BAD. UID sets resolve "*" to the highest UID in
 *      the view and may name UIDs that do not exist (ignored). Either way
 *      the set becomes sorted, disjoint UID ranges clipped to the view.
 *   2. If a non-PEEK body item is asked on a read-write selection, the
 *      messages lacking \Seen must get it (RFC 3501: BODY[] sets \Seen), and
 *      their FETCH responses must then carry FLAGS. So, before fetching:
 *        SCAN   FetchReq(F_FLAGS) over the ranges: collect UIDs without \Seen
 *        STORE  StoreReq(ADD \Seen) for exactly those UIDs (in chunks)
 *      The SCAN moves only flags, so no message body is ever held across
 *      RPCs.
 *   3. FETCH  FetchReq(items) page by page (FetchResp.more_from_uid), each
 *      page written out as it arrives; only UIDs in the session's view are
 *      reported, numbered by the view.
 *   4. LARGE  When body items are asked, pages carry bodies up to
 *      FETCH_STREAM_MIN only (FetchReq.body_limit); a larger message comes
 *      without its body (but with its tree) as its page's last message.
 *      Its response is opened with the other items, then each body item is
 *      written as a literal whose bytes are asked for in FETCH_CHUNK ranges
 *      (FetchReq.body_offset/body_len), the next one only once the client
 *      has drained the output (stream_next); a header filter reads the
 *      header range and filters it. Neither process holds the whole message.
 *   5. BINARY of a large message, leaf part (ST_BINARY): the part's
 *      encoded range and Content-Transfer-Encoding come from the tree
 *      (mime_binary_locate); the back-end decodes windows of it
 *      (FetchReq.binary_*, backend/binary-window.h) and answers the encoded
 *      bytes consumed and the decoder state (common/mime-cte.h), which the
 *      next request hands back, so nothing is decoded twice. A part up to
 *      FETCH_BINARY_ONE encoded is one window (BIN_ONE). A larger one:
 *      BIN_SKIP counts decoded bytes up to a partial's origin and keeps the
 *      state there; BIN_COUNT counts from it (binary_discard: nothing is
 *      sent) the answer's length and whether it holds a NUL, which gives
 *      BINARY.SIZE, or BINARY's "{n}" / "~{n}" before a byte is written;
 *      BIN_OUT then decodes again from the origin in FETCH_CHUNK windows as
 *      the client drains. An unknown encoding leaves the item out
 *      ([UNKNOWN-CTE]) before anything is asked.
 *   6. BINARY[] and BINARY of a multipart / message/rfc822 part of a large
 *      message (ST_PIECES: every leaf inside decoded, its header's
 *      Content-Transfer-Encoding rewritten, as a small message's answer):
 *      the answer is planned from the tree as pieces (mime_binary_plan:
 *      stored ranges copied, leaf headers rewritten, leaf bodies decoded)
 *      and walked by binary-pieces.h: a counting pass (discarding windows
 *      for decoded pieces and for copied ranges whose NULs matter, header
 *      ranges read and rewritten; a piece before a partial's origin only
 *      for its length, nothing after its end) gives BINARY.SIZE, or the
 *      literal's length and the literal8 choice, and the cursor at the
 *      partial's origin; the output pass goes on from that cursor piece by
 *      piece, in FETCH_CHUNK windows as the client drains. A header to
 *      rewrite is read in one range (so memory follows the longest leaf
 *      header, never the message); one longer than FETCH_REWRITE_MAX (only
 *      a malformed message has one) makes the item ST_WHOLE: the message
 *      read whole and answered as a small one. BINARY[TEXT], [n.TEXT],
 *      [n.MIME] and [HEADER] of a large message are ST_PIECES too, their
 *      plans cuts of BINARY[] / BINARY[n]'s (mime_binary_section_plan);
 *      BINARY's HEADER.FIELDS(.NOT) is BODY's (ST_FILTER).
 *   \Seen is set by steps 1-2 as for BODY[] (BINARY too).
 *
 * One context per command lives across the RPCs; the session is referenced
 * while an RPC is in flight, and a callback that finds the client gone frees
 * the context and drops its reference without writing.
 *
 * Response layout: "* seq FETCH (UID u FLAGS (...) INTERNALDATE "..."
 * RFC822.SIZE n BODY[]<o> {n}\r\n<bytes>)". Literals carry the stored bytes
 * unchanged (8-bit and NUL included). BINARY answers a literal8 ~{n} when
 * the decoded bytes hold a NUL, else a plain literal (RFC 3516 4.3: "the
 * server SHOULD return the data in a <string> instead of a <literal8>"
 * when there is no NUL; a large part learns it in BIN_COUNT); a part
 * whose Content-Transfer-Encoding is unknown loses its BINARY items and the
 * command ends NO [UNKNOWN-CTE] (the other items are still answered).
 */
#include "commands.h"
#include "recent.h"

#include "binary-pieces.h"
#include "changes.h"
#include "condstore.h"
#include "fetch-flags.h"
#include "fetch-items.h"
#include "imap-bodystructure.h"
#include "imap-date.h"
#include "imap-quote.h"
#include "imap-seqset.h"
#include "log.h"
#include "mime-binary.h"
#include "mime-cte.h"
#include "preview.h"
#include "rpc-client.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Messages per FetchResp page when bodies are asked (0 = back-end default otherwise). */
#define FETCH_BODY_PAGE 16
/* A body larger than this is written in chunks of FETCH_CHUNK, each asked
 * for when the client has taken the previous ones (bounded memory). */
#define FETCH_STREAM_MIN (1u << 20)
#define FETCH_CHUNK (256u << 10)
/* A BINARY part whose encoded bytes are at most this is decoded in one
 * window (the back-end's OP_BINARY_OUT_MAX; decoding never grows). */
#define FETCH_BINARY_ONE (1u << 20)
/* A header filtered for HEADER.FIELDS(.NOT) is read in one piece of at
 * most this (a longer one is filtered as far as this). */
#define FETCH_FILTER_MAX (1u << 20)
/* A leaf header that BINARY[] / BINARY of a multipart rewrites is read in
 * one range of at most this (the back-end's OP_FETCH_MAX_BYTES, the most a
 * range read answers); only a malformed message has a longer one. */
#define FETCH_REWRITE_MAX (16u << 20)
/* UID ranges per StoreReq when setting \Seen. */
#define STORE_MAX_RANGES 4096
/* Bytes of a client's item shown in an error text. */
#define ITEM_TEXT_MAX 64

_Static_assert(FETCH_FLAG_SEEN == CPM__SYS_FLAG__SEEN, "fetch-flags bits must equal proto SysFlag");

enum fetch_phase { PHASE_SCAN, PHASE_STORE, PHASE_FETCH };

/* How a body item of a streamed (large) message is answered. */
enum stream_kind {
	ST_RANGE,  /* bytes of the message, read in FETCH_CHUNK ranges */
	ST_FILTER, /* HEADER.FIELDS(.NOT): the header read whole, then filtered */
	ST_BINARY, /* BINARY of a leaf part: decoded in windows (bin_*) */
	ST_PIECES, /* BINARY of a multipart / the whole message: piece by piece (binary-pieces.h) */
	ST_WHOLE,  /* as ST_PIECES when a header to rewrite is too long: the message read whole */
	ST_SKIP,   /* left out: unknown Content-Transfer-Encoding */
};

/* The decoding of one ST_BINARY item: a part whose encoded bytes fit one
 * window is decoded at once (BIN_ONE); a larger one is skipped to the
 * partial's origin (BIN_SKIP), counted (BIN_COUNT: the literal's length
 * and whether a NUL makes it a literal8), then written (BIN_OUT). */
enum bin_phase { BIN_START, BIN_ONE, BIN_SKIP, BIN_COUNT, BIN_OUT };

struct fetch_ctx {
	struct session *s;
	struct fetch_items items;
	uint32_t wire_items;   /* FetchItem bits of the FETCH phase */
	enum fetch_phase phase;

	Cpm__UidRange *ranges; /* the UIDs to fetch: ascending, disjoint, clipped to the view */
	size_t n_ranges;
	size_t pos;            /* paging cursor: ranges[pos], from UID from_uid on */
	uint32_t from_uid;

	bool unknown_cte;      /* some BINARY item could not be decoded: end NO [UNKNOWN-CTE] */
	uint32_t gone_from;    /* FETCH phase: view UIDs from here on not yet answered or found gone */
	bool expunge_issued;   /* a message of the view is gone (another session's EXPUNGE): end OK [EXPUNGEISSUED] */
	uint32_t *seen;        /* UIDs whose \Seen this command sets, ascending */
	size_t n_seen, cap_seen;
	size_t store_pos;      /* next seen[] index to store */

	uint64_t changedsince; /* CHANGEDSINCE modifier (RFC 7162), 0 = none */
	bool vanished;         /* VANISHED modifier: report expunges since changedsince first */
	bool set_seen;         /* a SCAN/STORE phase sets \Seen before the FETCH phase */
	uint32_t *gone;        /* VANISHED: scratch for one page of UIDs */
	struct imap_seqset vset; /* VANISHED: the UID set as asked ("*" = any UID), not clipped to the view */
	void (*untagged_done)(struct session *s); /* fetch_untagged: no tagged answer; call this at the end */

	/* A large body written chunk by chunk (FetchReq.body_limit): the
	 * message's response is open, its body items are these ranges. */
	struct {
		uint32_t uid;
		unsigned item, n;      /* current body item, how many */
		uint64_t off[FETCH_MAX_BODY_ITEMS], len[FETCH_MAX_BODY_ITEMS];
		uint8_t kind[FETCH_MAX_BODY_ITEMS]; /* enum stream_kind */
		uint8_t cte[FETCH_MAX_BODY_ITEMS];  /* ST_BINARY: enum mime_cte of the range */
		uint8_t *tree;         /* ST_PIECES: the message's serialised tree (owned), planned from per item */
		size_t tree_len;
		uint64_t size;         /* the message's size */
		uint64_t done;         /* bytes of item written */
		bool head;             /* item's name and literal length written */
		bool wrote;            /* an item precedes the next one (separator) */
		int more;              /* the page's paging result, resumed after */
	} st;
	/* ST_BINARY: the current item's decoding (binary-window.h). */
	struct {
		enum bin_phase phase;
		uint64_t pos;          /* encoded offset the decoder state belongs to */
		unsigned char state[MIME_CTE_STATE_MAX];
		size_t state_len;
		uint64_t left;         /* BIN_SKIP: decoded bytes still to skip */
		uint64_t start_pos;    /* the cursor at the partial's origin */
		unsigned char start_state[MIME_CTE_STATE_MAX];
		size_t start_state_len;
		uint64_t lit;          /* BIN_COUNT: the answer's length so far */
		bool nul;              /* BIN_COUNT: a NUL in it */
		uint64_t asked;        /* binary_max of the window in flight (0 = none) */
		bool long_way;         /* BIN_ONE found more than one window: phases from the start */
	} bin;
	/* ST_PIECES: the current item's walk (started when st.head is set). */
	struct bp_walk pw;
};

/* Frees the open message's tree copy and the walk of its item. */
static void st_clear(struct fetch_ctx *c)
{
	free(c->st.tree);
	c->st.tree = NULL;
	c->st.tree_len = 0;
	bp_clear(&c->pw);
}

static void fetch_ctx_free(struct fetch_ctx *c)
{
	st_clear(c);
	fetch_items_clear(&c->items);
	free(c->ranges);
	free(c->seen);
	free(c->gone);
	imap_seqset_free(&c->vset);
	free(c);
}

/* Ends the command (when still connected), frees the context, drops the ref. */
static void fetch_finish(struct fetch_ctx *c)
{
	struct session *s = c->s;
	if (!session_closed(s)) {
		if (c->untagged_done != NULL)
			c->untagged_done(s);
		else
			session_done(s);
	}
	fetch_ctx_free(c);
	session_unref(s);
}

/* The tagged answer of a FETCH command (nothing for fetch_untagged). */
static void fetch_answer(struct fetch_ctx *c, const char *result, const char *text)
{
	if (c->untagged_done == NULL)
		session_tagged(c->s, result, "%s", text);
}

static void fetch_answer_rpc_error(struct fetch_ctx *c, const Cpm__Response *resp)
{
	if (c->untagged_done == NULL)
		session_tagged_rpc_error(c->s, resp, "FETCH");
}

/* ---- parsing ----------------------------------------------------------------- */

static void item_text(const struct imap_arg *a, char out[ITEM_TEXT_MAX + 4])
{
	size_t n = 0;
	for (size_t i = 0; i < a->len && n < ITEM_TEXT_MAX; i++) {
		unsigned char ch = (unsigned char)a->str[i];
		out[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	if (a->len > ITEM_TEXT_MAX) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

/* Adds one item atom; on error writes the tagged BAD and returns -1. */
static int add_item(struct session *s, struct fetch_items *fi, const struct imap_arg *a)
{
	char text[ITEM_TEXT_MAX + 4];
	if (a->type != IMAP_ARG_ATOM || a->str == NULL) {
		session_tagged(s, "BAD", "Invalid fetch item");
		return -1;
	}
	switch (fetch_items_add(fi, a->str, a->len)) {
	case FETCH_ITEM_OK:
		return 0;
	case FETCH_ITEM_UNSUPPORTED:
		item_text(a, text);
		session_tagged(s, "BAD", "Unsupported fetch item: %s", text);
		return -1;
	case FETCH_ITEM_TOO_MANY:
		session_tagged(s, "BAD", "Too many body items in FETCH");
		return -1;
	case FETCH_ITEM_INVALID:
	default:
		item_text(a, text);
		session_tagged(s, "BAD", "Invalid fetch item: %s", text);
		return -1;
	}
}

/* PREVIEW's modifier list "(LAZY)" (RFC 8970); on error the tagged BAD, -1. */
static int add_preview_mods(struct session *s, struct fetch_items *fi, const struct imap_arg *list)
{
	const char *mods[8];
	size_t lens[8];
	unsigned n = list->list_count;
	if (n > 8)
		n = 0;
	for (unsigned i = 0; i < n; i++) {
		mods[i] = list->list[i].type == IMAP_ARG_ATOM ? list->list[i].str : NULL;
		lens[i] = list->list[i].len;
	}
	if (fetch_items_add_preview_mods(fi, mods, lens, n) != FETCH_ITEM_OK) {
		session_tagged(s, "BAD", "Invalid PREVIEW modifiers");
		return -1;
	}
	return 0;
}

static bool is_preview(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_ATOM && a->len == 7 && strncasecmp(a->str, "PREVIEW", 7) == 0;
}

/* The items are args[0], or args[0] args[1] for "PREVIEW (LAZY)" given
 * without parentheses around the items (then *used_r is 2). */
static int parse_items(struct session *s, const struct imap_arg *args, unsigned nargs, struct fetch_items *fi,
		       unsigned *used_r)
{
	const struct imap_arg *a = &args[0];
	*used_r = 1;
	if (a->type != IMAP_ARG_LIST) {
		if (add_item(s, fi, a) < 0)
			return -1;
		/* "PREVIEW (LAZY)"; a list of anything else is FETCH's modifiers. */
		if (nargs > 1 && is_preview(a) && args[1].type == IMAP_ARG_LIST && args[1].list_count > 0 &&
		    args[1].list[0].type == IMAP_ARG_ATOM && strcasecmp(args[1].list[0].str, "LAZY") == 0) {
			*used_r = 2;
			return add_preview_mods(s, fi, &args[1]);
		}
		return 0;
	}
	if (a->list_count == 0) {
		session_tagged(s, "BAD", "Empty fetch item list");
		return -1;
	}
	for (unsigned i = 0; i < a->list_count; i++) {
		if (add_item(s, fi, &a->list[i]) < 0)
			return -1;
		if (is_preview(&a->list[i]) && i + 1 < a->list_count && a->list[i + 1].type == IMAP_ARG_LIST &&
		    add_preview_mods(s, fi, &a->list[++i]) < 0)
			return -1;
	}
	return 0;
}

/* ---- the RPC steps -------------------------------------------------------------- */

static void on_fetch_page(const Cpm__Response *resp, void *ctx);
static void on_store(const Cpm__Response *resp, void *ctx);

/* Sends a FetchReq for what remains from the cursor. -1 when out of memory. */
static int send_fetch(struct fetch_ctx *c)
{
	struct session *s = c->s;
	size_t n = c->n_ranges - c->pos;
	Cpm__UidRange **ptrs = calloc(n, sizeof(*ptrs));
	if (ptrs == NULL)
		return -1;
	Cpm__UidRange first = c->ranges[c->pos];
	if (first.first < c->from_uid)
		first.first = c->from_uid;
	ptrs[0] = &first;
	for (size_t i = 1; i < n; i++)
		ptrs[i] = &c->ranges[c->pos + i];

	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FetchReq fr = CPM__FETCH_REQ__INIT;
	fr.user = s->sel.owner;
	fr.folder_id = s->sel.folder_id;
	fr.uidvalidity = s->sel.uidvalidity;
	fr.uids = ptrs;
	fr.n_uids = n;
	fr.changedsince = c->changedsince;
	if (c->phase == PHASE_SCAN) {
		fr.items = CPM__FETCH_ITEM__F_FLAGS;
	} else {
		fr.items = c->wire_items;
		fr.max_messages = (c->wire_items & CPM__FETCH_ITEM__F_BODY) ? FETCH_BODY_PAGE : 0;
		if ((c->wire_items & CPM__FETCH_ITEM__F_BODY) && fetch_items_streamable(&c->items))
			fr.body_limit = FETCH_STREAM_MIN;
	}
	req.op_case = CPM__REQUEST__OP_FETCH;
	req.fetch = &fr;
	session_rpc(s, s->sel.shard, &req, 0, on_fetch_page, c);
	free(ptrs);
	return 0;
}

/* Sends the next StoreReq(ADD \Seen) for seen[store_pos ..]. -1 when out of memory. */
static int send_store(struct fetch_ctx *c)
{
	struct session *s = c->s;
	Cpm__UidRange *ranges = calloc(STORE_MAX_RANGES, sizeof(*ranges));
	Cpm__UidRange **ptrs = calloc(STORE_MAX_RANGES, sizeof(*ptrs));
	if (ranges == NULL || ptrs == NULL) {
		free(ranges);
		free(ptrs);
		return -1;
	}
	size_t n = 0;
	while (c->store_pos < c->n_seen) {
		uint32_t uid = c->seen[c->store_pos];
		if (n > 0 && ranges[n - 1].last + 1 == uid) {
			ranges[n - 1].last = uid;
		} else {
			if (n == STORE_MAX_RANGES)
				break;
			Cpm__UidRange init = CPM__UID_RANGE__INIT;
			ranges[n] = init;
			ranges[n].first = ranges[n].last = uid;
			ptrs[n] = &ranges[n];
			n++;
		}
		c->store_pos++;
	}

	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__StoreReq st = CPM__STORE_REQ__INIT;
	st.user = s->sel.owner;
	st.folder_id = s->sel.folder_id;
	st.uidvalidity = s->sel.uidvalidity;
	st.uids = ptrs;
	st.n_uids = n;
	st.mode = CPM__STORE_MODE__STORE_ADD;
	st.sys_flags = CPM__SYS_FLAG__SEEN;
	req.op_case = CPM__REQUEST__OP_STORE;
	req.store = &st;
	session_rpc(s, s->sel.shard, &req, 0, on_store, c);
	free(ranges);
	free(ptrs);
	return 0;
}

/* Starts the FETCH phase from the first range. */
static int start_fetch_phase(struct fetch_ctx *c)
{
	c->gone_from = 0;
	c->phase = PHASE_FETCH;
	c->pos = 0;
	c->from_uid = 0;
	return send_fetch(c);
}

/* Moves the cursor to more_from_uid. 1: more to fetch, 0: done,
 * -1: the back-end made no progress (a bug; stop rather than loop). */
static int cursor_advance(struct fetch_ctx *c, uint32_t more)
{
	uint32_t cur = c->ranges[c->pos].first > c->from_uid ? c->ranges[c->pos].first : c->from_uid;
	if (more <= cur)
		return -1;
	while (c->pos < c->n_ranges && c->ranges[c->pos].last < more)
		c->pos++;
	if (c->pos == c->n_ranges)
		return 0;
	c->from_uid = more;
	return 1;
}

static int uid_cmp(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	return a < b ? -1 : a > b ? 1 : 0;
}

static bool seen_contains(const struct fetch_ctx *c, uint32_t uid)
{
	return c->n_seen > 0 && bsearch(&uid, c->seen, c->n_seen, sizeof(uint32_t), uid_cmp) != NULL;
}

static int seen_push(struct fetch_ctx *c, uint32_t uid)
{
	if (c->n_seen == c->cap_seen) {
		size_t ncap = c->cap_seen ? c->cap_seen * 2 : 64;
		uint32_t *p = reallocarray(c->seen, ncap, sizeof(*p));
		if (p == NULL)
			return -1;
		c->seen = p;
		c->cap_seen = ncap;
	}
	c->seen[c->n_seen++] = uid;
	return 0;
}

/* Sorts and dedupes seen[] (the back-end answers in UID order, but be sure). */
static void seen_normalise(struct fetch_ctx *c)
{
	if (c->n_seen < 2)
		return;
	qsort(c->seen, c->n_seen, sizeof(uint32_t), uid_cmp);
	size_t w = 1;
	for (size_t i = 1; i < c->n_seen; i++)
		if (c->seen[i] != c->seen[w - 1])
			c->seen[w++] = c->seen[i];
	c->n_seen = w;
}

/* Appends "PREVIEW <string>" for message m (tree: its MIME tree). */
static void write_preview(struct buf *b, const struct mime_tree *tree, const Cpm__MessageData *m)
{
	struct buf text = {0};
	uint32_t idx;
	if (tree != NULL && preview_choose_part(tree, &idx) && m->preview_src.data != NULL)
		preview_make(&text, tree, idx, m->preview_src.data, m->preview_src.len,
			     m->preview_src.len < tree->parts[idx].body_len);
	buf_append_str(b, "PREVIEW ");
	imap_write_quoted_or_literal(b, text.data != NULL ? (const char *)text.data : "", text.len);
	buf_free(&text);
}

/* Appends a body item's name and its answer p[0 .. n): BINARY.SIZE's
 * number, a literal8 for BINARY bytes holding a NUL, else a literal. */
static void write_body_answer(struct buf *b, const struct fetch_body_item *it, const unsigned char *p, size_t n)
{
	fetch_items_write_body_name(b, it);
	if (it->name == FETCH_BINARY_SIZE) {
		buf_printf(b, " %zu", n);
		return;
	}
	bool lit8 = it->name == FETCH_BINARY && n > 0 && memchr(p, '\0', n) != NULL;
	buf_printf(b, " %s{%zu}\r\n", lit8 ? "~" : "", n);
	if (n > 0)
		buf_append(b, p, n);
}

/* The kind of a BINARY item of a multipart / message/rfc822 part / the
 * whole message: ST_PIECES, planned when the item starts from a copy of
 * the message's serialised tree (one per message, however many items:
 * only the current item's plan is ever held); ST_WHOLE when that copy
 * does not fit in memory. */
static uint8_t pieces_kind(struct fetch_ctx *c, const Cpm__MessageData *m)
{
	if (c->st.tree == NULL && m->tree.len > 0) {
		c->st.tree = malloc(m->tree.len);
		if (c->st.tree == NULL)
			return ST_WHOLE;
		memcpy(c->st.tree, m->tree.data, m->tree.len);
		c->st.tree_len = m->tree.len;
	}
	c->st.size = m->size;
	return ST_PIECES;
}

/* Writes one "* n FETCH (...)". Returns true when a BINARY item had to be
 * left out (unknown Content-Transfer-Encoding). A message whose body was
 * left out (m->body_omitted) is only opened: its items up to the body
 * items are written and c->st holds the body ranges; *stream_r is then
 * true and stream_next writes the rest. */
static bool write_message(struct session *s, struct fetch_ctx *c, const Cpm__MessageData *m, bool *stream_r)
{
	uint32_t seq = session_seq_of_uid(s, m->uid);
	*stream_r = false;
	if (seq == 0)
		return false; /* not in this session's view */
	const struct fetch_items *fi = &c->items;
	bool flags = fi->flags || seen_contains(c, m->uid);
	bool unknown_cte = false;
	struct buf *b = session_outbuf(s);
	size_t line_start = b->len;
	const char *sep = "";

	buf_printf(b, "* %u FETCH (", (unsigned)seq);
	if (fi->uid) {
		buf_printf(b, "UID %u", (unsigned)m->uid);
		sep = " ";
	}
	if (flags) {
		bool recent = recent_has(&s->sel, m->uid);
		buf_printf(b, "%sFLAGS ", sep);
		fetch_flags_write(b, m->sys_flags & FETCH_FLAG_ALL, recent, m->keywords, m->n_keywords);
		sep = " ";
	}
	if (fi->modseq || c->changedsince != 0 || (s->condstore && flags && !fi->flags)) {
		buf_printf(b, "%sMODSEQ (%llu)", sep, (unsigned long long)m->modseq);
		sep = " ";
	}
	if (fi->internaldate) {
		char date[IMAP_DATETIME_SIZE];
		imap_datetime_format((time_t)m->internaldate, m->internaldate_tz, date);
		buf_printf(b, "%sINTERNALDATE \"%s\"", sep, date);
		sep = " ";
	}
	if (fi->size) {
		buf_printf(b, "%sRFC822.SIZE %llu", sep, (unsigned long long)m->size);
		sep = " ";
	}
	/* The MIME tree (computed once at APPEND) serves the structure items
	 * and body sections; an unreadable one answers with empty parts. */
	struct mime_tree *tree = NULL;
	if (m->tree.data != NULL && mime_tree_deserialize(m->tree.data, m->tree.len, &tree) < 0)
		tree = NULL;
	if (fi->envelope && tree != NULL) {
		buf_printf(b, "%sENVELOPE ", sep);
		imap_bodystructure_write_envelope(b, tree, 0);
		sep = " ";
	}
	if (fi->body && tree != NULL) {
		buf_printf(b, "%sBODY ", sep);
		imap_bodystructure_write(b, tree, 0, false);
		sep = " ";
	}
	if (fi->bodystructure && tree != NULL) {
		buf_printf(b, "%sBODYSTRUCTURE ", sep);
		imap_bodystructure_write(b, tree, 0, true);
		sep = " ";
	}
	struct buf part = {0};
	const unsigned char *msg = m->body.data != NULL ? m->body.data : (const unsigned char *)"";
	if (fi->preview) {
		buf_append_str(b, sep);
		write_preview(b, tree, m);
		sep = " ";
	}
	if (m->body_omitted) {
		st_clear(c);
		memset(&c->st, 0, sizeof(c->st));
		c->st.uid = m->uid;
		c->st.wrote = *sep != '\0';
		bool any = c->st.wrote;
		for (unsigned i = 0; i < fi->n_body; i++) {
			const struct fetch_body_item *it = &fi->items[i];
			bool filter = it->sec.text == MIME_SECTION_HEADER_FIELDS ||
				      it->sec.text == MIME_SECTION_HEADER_FIELDS_NOT;
			if (fetch_items_is_binary(it) && !filter && tree != NULL && it->sec.text != MIME_SECTION_BODY) {
				/* TEXT, MIME, HEADER: a cut of a plan (mime_binary_section_plan),
				 * made piece by piece; planned here for [UNKNOWN-CTE] only. */
				struct mime_binary_piece *pc = NULL;
				size_t pn = 0;
				int rc = mime_binary_section_plan(tree, &it->sec, m->size, &pc, &pn);
				free(pc);
				if (rc == MIME_BINARY_UNKNOWN_CTE) {
					c->st.kind[i] = ST_SKIP;
					unknown_cte = true;
					continue;
				}
				c->st.kind[i] = pieces_kind(c, m);
				any = true;
				continue;
			}
			if (fetch_items_is_binary(it) && !filter) {
				enum mime_binary_kind kind;
				enum mime_cte cte;
				int rc = tree == NULL ? MIME_BINARY_OK
						      : mime_binary_locate(tree, it->sec.path, it->sec.path_len, m->size, &kind,
									   &c->st.off[i], &c->st.len[i], &cte);
				if (tree == NULL) { /* unreadable tree: empty, as in write_message */
					kind = MIME_BINARY_LEAF;
					cte = MIME_CTE_IDENTITY;
					c->st.off[i] = c->st.len[i] = 0;
				}
				if (rc == MIME_BINARY_UNKNOWN_CTE) {
					c->st.kind[i] = ST_SKIP;
					unknown_cte = true;
					continue;
				}
				c->st.kind[i] = kind == MIME_BINARY_LEAF ? ST_BINARY : pieces_kind(c, m);
				c->st.cte[i] = (uint8_t)cte;
				any = true;
				continue;
			}
			int rc = fetch_items_body_range(it, tree, m->size, &c->st.off[i], &c->st.len[i]);
			if (rc < 0)
				c->st.off[i] = c->st.len[i] = 0; /* unreadable tree: empty, as in write_message */
			c->st.kind[i] = rc == FETCH_RANGE_FILTER ? ST_FILTER : ST_RANGE;
			any = true;
		}
		c->st.n = fi->n_body;
		mime_tree_free(&tree);
		if (!any) {
			buf_truncate(b, line_start); /* every item left out: no empty "FETCH ()" */
			return unknown_cte;
		}
		*stream_r = true;
		return unknown_cte;
	}
	for (unsigned i = 0; i < fi->n_body; i++) {
		const struct fetch_body_item *it = &fi->items[i];
		buf_reset(&part);
		if (fetch_items_body_bytes(&part, it, msg, m->body.data != NULL ? m->body.len : 0, tree) ==
		    FETCH_BYTES_UNKNOWN_CTE) {
			unknown_cte = true;
			continue;
		}
		buf_append_str(b, sep);
		write_body_answer(b, it, part.data, part.len);
		sep = " ";
	}
	buf_free(&part);
	mime_tree_free(&tree);
	if (*sep == '\0')
		buf_truncate(b, line_start); /* every item left out: no empty "FETCH ()" */
	else
		buf_append_str(b, ")\r\n");
	return unknown_cte;
}

static void resume_fetch(void *arg)
{
	struct fetch_ctx *c = arg;
	if (session_closed(c->s)) {
		fetch_finish(c);
		return;
	}
	if (send_fetch(c) < 0) {
		fetch_answer(c, "NO", "[SERVERBUG] Out of memory");
		fetch_finish(c);
	}
}

/* The start of every RPC callback of a FETCH: false (command finished) when
 * the client is gone or the back-end failed. */
static bool reply_usable(struct fetch_ctx *c, const Cpm__Response *resp)
{
	if (session_closed(c->s)) {
		fetch_finish(c);
		return false;
	}
	if (resp->status != CPM__STATUS__OK) {
		fetch_answer_rpc_error(c, resp);
		fetch_finish(c);
		return false;
	}
	return true;
}

static void after_page(struct fetch_ctx *c, int more);
static void stream_next(struct fetch_ctx *c);

/* Messages the session still shows but the back-end no longer has (another
 * session expunged them; this one has not been told yet, so their sequence
 * numbers stand): the asked view UIDs in [gone_from, upto) that no answer
 * covered. As Dovecot: a UID-only FETCH still answers them from the view;
 * otherwise they are left out and the command ends OK [EXPUNGEISSUED]
 * (RFC 2180 4.1.1, RFC 5530). CHANGEDSINCE leaves messages out on purpose,
 * and a NOTIFY fetch of new messages has nothing to report, so neither looks. */
static void account_gone(struct fetch_ctx *c, uint32_t upto)
{
	const struct selected_folder *f = &c->s->sel;
	if (c->changedsince != 0 || c->untagged_done != NULL || upto <= c->gone_from)
		return;
	const struct fetch_items *it = &c->items;
	bool uid_only = it->uid && !it->flags && !it->internaldate && !it->size && !it->envelope &&
			!it->bodystructure && !it->body && !it->modseq && !it->preview && it->n_body == 0;
	for (size_t i = view_lower_bound(f, c->gone_from); i < f->count && f->uids[i] < upto; i++) {
		if (!uid_ranges_contain(c->ranges, c->n_ranges, f->uids[i]))
			continue;
		if (uid_only)
			session_untagged(c->s, "%zu FETCH (UID %u)", i + 1, (unsigned)f->uids[i]);
		else
			c->expunge_issued = true;
	}
	c->gone_from = upto;
}

static void on_fetch_page(const Cpm__Response *resp, void *ctx)
{
	struct fetch_ctx *c = ctx;
	struct session *s = c->s;
	bool stream = false;
	if (!reply_usable(c, resp))
		return;
	if (resp->result_case != CPM__RESPONSE__RESULT_FETCH || resp->fetch == NULL) {
		log_error("event=bad_rpc_response cmd=FETCH");
		fetch_answer(c, "NO", "[SERVERBUG] FETCH: bad back-end response");
		fetch_finish(c);
		return;
	}
	const Cpm__FetchResp *r = resp->fetch;
	uint32_t resume = r->more_from_uid;
	for (size_t i = 0; i < r->n_messages; i++) {
		const Cpm__MessageData *m = r->messages[i];
		if (m == NULL)
			continue;
		if (c->phase == PHASE_SCAN) {
			if ((m->sys_flags & CPM__SYS_FLAG__SEEN) == 0 && session_seq_of_uid(s, m->uid) != 0 &&
			    seen_push(c, m->uid) < 0) {
				fetch_answer(c, "NO", "[SERVERBUG] Out of memory");
				fetch_finish(c);
				return;
			}
		} else {
			account_gone(c, m->uid);
			c->gone_from = m->uid + 1;
			if (write_message(s, c, m, &stream))
				c->unknown_cte = true;
			if (stream) {
				/* The page's last message (FetchReq.body_limit); should a
				 * back-end send more, they are asked for again after it. */
				if (i + 1 < r->n_messages && r->messages[i + 1] != NULL)
					resume = r->messages[i + 1]->uid;
				break;
			}
		}
	}

	int more = resume != 0 ? cursor_advance(c, resume) : 0;
	if (more < 0) {
		log_error("event=fetch_no_progress more_from_uid=%u", (unsigned)resume);
		fetch_answer(c, "NO", "[SERVERBUG] FETCH: back-end paging error");
		fetch_finish(c);
		return;
	}
	if (stream) {
		c->st.more = more;
		stream_next(c);
		return;
	}
	after_page(c, more);
}

/* What follows a page: the next page (when the client keeps up), the
 * SCAN → STORE → FETCH phase change, or the end of the command. */
static void after_page(struct fetch_ctx *c, int more)
{
	struct session *s = c->s;
	int rc;
	if (more > 0 && c->phase == PHASE_FETCH && session_output_full(s)) {
		/* The client reads slower than the store answers: fetch the next
		 * page when the output has drained (bounded memory). */
		session_on_drain(s, resume_fetch, c);
		return;
	} else if (more > 0) {
		session_flush(s);
		rc = send_fetch(c);
	} else if (c->phase == PHASE_SCAN) {
		seen_normalise(c);
		if (c->n_seen > 0) {
			c->phase = PHASE_STORE;
			c->store_pos = 0;
			rc = send_store(c);
		} else {
			rc = start_fetch_phase(c);
		}
	} else {
		account_gone(c, UINT32_MAX);
		if (c->unknown_cte)
			fetch_answer(c, "NO", "[UNKNOWN-CTE] Unknown Content-Transfer-Encoding");
		else if (c->expunge_issued)
			fetch_answer(c, "OK", "[EXPUNGEISSUED] Some messages were already expunged.");
		else
			fetch_answer(c, "OK", "Fetch completed.");
		fetch_finish(c);
		return;
	}
	if (rc < 0) {
		fetch_answer(c, "NO", "[SERVERBUG] Out of memory");
		fetch_finish(c);
	}
}

/* ---- large bodies, chunk by chunk ------------------------------------------------ */

static void on_stream_chunk(const Cpm__Response *resp, void *ctx);
static void on_binary_window(const Cpm__Response *resp, void *ctx);
static void on_binary_whole(const Cpm__Response *resp, void *ctx);
static void on_piece(const Cpm__Response *resp, void *ctx);

/* The separator before the next body item of the open message. */
static void item_sep(struct fetch_ctx *c, struct buf *b)
{
	if (c->st.wrote)
		buf_append_str(b, " ");
	c->st.wrote = true;
}

static void next_item(struct fetch_ctx *c)
{
	c->st.item++;
	c->st.done = 0;
	c->st.head = false;
	memset(&c->bin, 0, sizeof(c->bin));
	bp_clear(&c->pw);
}

/* The literal's length is promised (or the response is open): without the
 * bytes (expunged meanwhile, shard down) the only honest end is the
 * connection's. */
static void stream_broken(struct fetch_ctx *c)
{
	log_warn("event=fetch_stream_broken uid=%u", (unsigned)c->st.uid);
	session_disconnect(c->s, "message vanished while being fetched");
	fetch_finish(c);
}

/* Writes the current item, a HEADER.FIELDS(.NOT) of the header hdr, and
 * moves to the next item. */
static void write_filtered(struct fetch_ctx *c, const unsigned char *hdr, size_t len)
{
	struct buf *b = session_outbuf(c->s);
	struct buf f = {0};
	unsigned i = c->st.item;
	fetch_items_filter_header(&f, &c->items.items[i], hdr, len); /* out of memory: empty */
	item_sep(c, b);
	write_body_answer(b, &c->items.items[i], f.data, f.len); /* BINARY's: its size, or literal8 for a NUL */
	buf_free(&f);
	next_item(c);
}

static void stream_resume(void *arg)
{
	struct fetch_ctx *c = arg;
	if (session_closed(c->s)) {
		fetch_finish(c);
		return;
	}
	stream_next(c);
}

/* A FetchReq for the open message alone. */
static void stream_req(struct fetch_ctx *c, Cpm__FetchReq *fr, Cpm__UidRange *one, Cpm__UidRange **ptrs)
{
	struct session *s = c->s;
	one->first = one->last = c->st.uid;
	ptrs[0] = one;
	fr->user = s->sel.owner;
	fr->folder_id = s->sel.folder_id;
	fr->uidvalidity = s->sel.uidvalidity;
	fr->uids = ptrs;
	fr->n_uids = 1;
	fr->items = CPM__FETCH_ITEM__F_BODY;
}

/* Asks for the current ST_BINARY item's next window (BIN_START picks the
 * first phase). */
static void bin_send(struct fetch_ctx *c)
{
	unsigned i = c->st.item;
	const struct fetch_body_item *it = &c->items.items[i];
	if (c->bin.phase == BIN_START) {
		c->bin.pos = c->st.off[i];
		c->bin.state_len = 0;
		c->bin.left = it->partial ? it->origin : 0;
		c->bin.start_pos = c->bin.pos; /* BIN_COUNT's origin unless BIN_SKIP moves it */
		c->bin.start_state_len = 0;
		c->bin.phase = c->st.len[i] <= FETCH_BINARY_ONE && !c->bin.long_way ? BIN_ONE
			       : c->bin.left > 0			      ? BIN_SKIP
									      : BIN_COUNT;
	}
	uint64_t max = 0;
	bool discard = true;
	switch (c->bin.phase) {
	case BIN_ONE:
		max = FETCH_BINARY_ONE;
		discard = false;
		break;
	case BIN_SKIP:
		max = c->bin.left;
		break;
	case BIN_COUNT:
		max = it->partial ? it->count - c->bin.lit : 0;
		break;
	case BIN_OUT:
	default:
		max = c->bin.lit - c->st.done < FETCH_CHUNK ? c->bin.lit - c->st.done : FETCH_CHUNK;
		discard = false;
		break;
	}
	c->bin.asked = max;
	Cpm__UidRange one = CPM__UID_RANGE__INIT;
	Cpm__UidRange *ptrs[1];
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FetchReq fr = CPM__FETCH_REQ__INIT;
	stream_req(c, &fr, &one, ptrs);
	fr.body_offset = c->bin.pos;
	fr.body_len = c->st.off[i] + c->st.len[i] - c->bin.pos;
	fr.binary_cte = c->st.cte[i];
	fr.binary_state.data = c->bin.state;
	fr.binary_state.len = c->bin.state_len;
	fr.binary_max = max;
	fr.binary_discard = discard;
	req.op_case = CPM__REQUEST__OP_FETCH;
	req.fetch = &fr;
	session_flush(c->s);
	session_rpc(c->s, c->s->sel.shard, &req, 0, on_binary_window, c);
}

/* The current ST_PIECES item's next step: its walk started, counted
 * ("BINARY.SIZE[..] n", or BINARY's literal opened), the next read or
 * window asked for (true), or the item finished or turned ST_WHOLE (false:
 * go on). */
static bool pieces_step(struct fetch_ctx *c)
{
	unsigned i = c->st.item;
	const struct fetch_body_item *it = &c->items.items[i];
	if (!c->st.head) {
		/* The plan, from the tree (mime_binary_plan). A header to rewrite
		 * longer than one range read (only in a malformed message), or no
		 * memory: the message is read whole for this item (ST_WHOLE). */
		struct mime_tree *tree = NULL;
		struct mime_binary_piece *p = NULL;
		size_t n = 0;
		bool ok = c->st.tree != NULL && mime_tree_deserialize(c->st.tree, c->st.tree_len, &tree) == 0 &&
			  mime_binary_section_plan(tree, &it->sec, c->st.size, &p, &n) == MIME_BINARY_OK;
		mime_tree_free(&tree);
		for (size_t k = 0; ok && k < n; k++)
			ok = p[k].kind != MIME_PIECE_HEADER || p[k].len <= FETCH_REWRITE_MAX;
		if (!ok) {
			free(p);
			c->st.kind[i] = ST_WHOLE;
			return false;
		}
		bp_init(&c->pw, p, n, it->name == FETCH_BINARY_SIZE, it->partial, it->origin, it->count, FETCH_CHUNK);
		c->st.head = true;
	}
	struct bp_req r;
	for (;;) {
		switch (bp_next(&c->pw, &r)) {
		case BP_COUNTED: {
			struct buf *b = session_outbuf(c->s);
			item_sep(c, b);
			fetch_items_write_body_name(b, it);
			if (it->name == FETCH_BINARY_SIZE) {
				buf_printf(b, " %llu", (unsigned long long)c->pw.lit);
				next_item(c);
				return false;
			}
			buf_printf(b, " %s{%llu}\r\n", c->pw.nul ? "~" : "", (unsigned long long)c->pw.lit);
			bp_output(&c->pw);
			continue;
		}
		case BP_DONE:
			next_item(c);
			return false;
		case BP_BROKEN:
			stream_broken(c);
			return true;
		case BP_READ:
		case BP_WINDOW:
		default:
			break;
		}
		break;
	}
	Cpm__UidRange one = CPM__UID_RANGE__INIT;
	Cpm__UidRange *ptrs[1];
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FetchReq fr = CPM__FETCH_REQ__INIT;
	stream_req(c, &fr, &one, ptrs);
	fr.body_offset = r.off;
	fr.body_len = r.len;
	if (c->pw.asked == BP_WINDOW) {
		fr.binary_cte = r.cte;
		fr.binary_state.data = (uint8_t *)r.state;
		fr.binary_state.len = r.state_len;
		fr.binary_max = r.max;
		fr.binary_discard = r.discard;
	}
	req.op_case = CPM__REQUEST__OP_FETCH;
	req.fetch = &fr;
	session_flush(c->s);
	session_rpc(c->s, c->s->sel.shard, &req, 0, on_piece, c);
	return true;
}

/* Writes the open message's next body item header, asks for its next
 * chunk or window, or closes the message and goes on with the pages. */
static void stream_next(struct fetch_ctx *c)
{
	struct session *s = c->s;
	struct buf *b = session_outbuf(s);
	while (c->st.item < c->st.n) {
		unsigned i = c->st.item;
		if (c->st.kind[i] == ST_SKIP) {
			next_item(c);
			continue;
		}
		if (c->st.kind[i] == ST_BINARY) {
			bin_send(c);
			return;
		}
		if (c->st.kind[i] == ST_PIECES) {
			if (pieces_step(c))
				return;
			continue;
		}
		if (c->st.kind[i] == ST_WHOLE) {
			/* A multipart's BINARY rewrites every leaf inside: it is made
			 * from the whole message, as for a small one. */
			Cpm__UidRange one = CPM__UID_RANGE__INIT;
			Cpm__UidRange *ptrs[1];
			Cpm__Request req = CPM__REQUEST__INIT;
			Cpm__FetchReq fr = CPM__FETCH_REQ__INIT;
			stream_req(c, &fr, &one, ptrs);
			fr.items = CPM__FETCH_ITEM__F_BODY | CPM__FETCH_ITEM__F_TREE;
			req.op_case = CPM__REQUEST__OP_FETCH;
			req.fetch = &fr;
			session_flush(s);
			session_rpc(s, s->sel.shard, &req, 0, on_binary_whole, c);
			return;
		}
		if (c->st.kind[i] == ST_FILTER && c->st.len[i] > 0)
			break; /* its header is read, then written whole (on_stream_chunk) */
		if (c->st.kind[i] == ST_FILTER) {
			write_filtered(c, (const unsigned char *)"", 0);
			continue;
		}
		if (!c->st.head) {
			item_sep(c, b);
			fetch_items_write_body_name(b, &c->items.items[i]);
			buf_printf(b, " {%llu}\r\n", (unsigned long long)c->st.len[i]);
			c->st.head = true;
		}
		if (c->st.done < c->st.len[i])
			break;
		next_item(c);
	}
	if (c->st.item == c->st.n) {
		buf_append_str(b, ")\r\n");
		after_page(c, c->st.more);
		return;
	}
	unsigned i = c->st.item;
	uint64_t left = c->st.len[i] - c->st.done;
	uint64_t chunk = c->st.kind[i] == ST_FILTER ? FETCH_FILTER_MAX : FETCH_CHUNK;
	Cpm__UidRange one = CPM__UID_RANGE__INIT;
	Cpm__UidRange *ptrs[1];
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FetchReq fr = CPM__FETCH_REQ__INIT;
	stream_req(c, &fr, &one, ptrs);
	fr.body_offset = c->st.off[i] + c->st.done;
	fr.body_len = left < chunk ? left : chunk;
	req.op_case = CPM__REQUEST__OP_FETCH;
	req.fetch = &fr;
	session_flush(s);
	session_rpc(s, s->sel.shard, &req, 0, on_stream_chunk, c);
}

/* The one message of a streamed item's answer, or NULL. */
static const Cpm__MessageData *stream_reply(const struct fetch_ctx *c, const Cpm__Response *resp)
{
	const Cpm__MessageData *m = resp->status == CPM__STATUS__OK && resp->result_case == CPM__RESPONSE__RESULT_FETCH &&
						    resp->fetch != NULL && resp->fetch->n_messages == 1
					    ? resp->fetch->messages[0]
					    : NULL;
	return m != NULL && m->uid == c->st.uid ? m : NULL;
}

/* Goes on after a reply: at once, or when the client has drained. */
static void stream_continue(struct fetch_ctx *c)
{
	if (session_output_full(c->s)) {
		session_on_drain(c->s, stream_resume, c);
		return;
	}
	stream_next(c);
}

static void on_stream_chunk(const Cpm__Response *resp, void *ctx)
{
	struct fetch_ctx *c = ctx;
	struct session *s = c->s;
	if (session_closed(s)) {
		fetch_finish(c);
		return;
	}
	unsigned i = c->st.item;
	uint64_t left = c->st.len[i] - c->st.done;
	uint64_t chunk = c->st.kind[i] == ST_FILTER ? FETCH_FILTER_MAX : FETCH_CHUNK;
	uint64_t want = left < chunk ? left : chunk;
	const Cpm__MessageData *m = stream_reply(c, resp);
	if (m == NULL || m->body.len != want) {
		stream_broken(c);
		return;
	}
	if (c->st.kind[i] == ST_FILTER) {
		write_filtered(c, m->body.data, m->body.len);
	} else {
		session_write(s, m->body.data, m->body.len);
		c->st.done += m->body.len;
	}
	stream_continue(c);
}

/* The current item answered with p[0 .. n) (partial applied). */
static void write_item_answer(struct fetch_ctx *c, const unsigned char *p, size_t n)
{
	struct buf *b = session_outbuf(c->s);
	item_sep(c, b);
	write_body_answer(b, &c->items.items[c->st.item], p, n);
	next_item(c);
}

/* BIN_COUNT has the answer's length: BINARY.SIZE is written, BINARY's
 * literal opened (literal8 when a NUL occurs, RFC 3516 4.3) and its bytes
 * asked for from the origin (BIN_OUT). */
static void bin_counted(struct fetch_ctx *c)
{
	const struct fetch_body_item *it = &c->items.items[c->st.item];
	struct buf *b = session_outbuf(c->s);
	item_sep(c, b);
	fetch_items_write_body_name(b, it);
	if (it->name == FETCH_BINARY_SIZE) {
		buf_printf(b, " %llu", (unsigned long long)c->bin.lit);
		next_item(c);
		return;
	}
	buf_printf(b, " %s{%llu}\r\n", c->bin.nul ? "~" : "", (unsigned long long)c->bin.lit);
	if (c->bin.lit == 0) {
		next_item(c);
		return;
	}
	c->bin.phase = BIN_OUT;
	c->bin.pos = c->bin.start_pos;
	memcpy(c->bin.state, c->bin.start_state, c->bin.start_state_len);
	c->bin.state_len = c->bin.start_state_len;
	c->st.done = 0;
}

static void on_binary_window(const Cpm__Response *resp, void *ctx)
{
	struct fetch_ctx *c = ctx;
	if (session_closed(c->s)) {
		fetch_finish(c);
		return;
	}
	unsigned i = c->st.item;
	const struct fetch_body_item *it = &c->items.items[i];
	uint64_t end = c->st.off[i] + c->st.len[i];
	bool discard = c->bin.phase == BIN_SKIP || c->bin.phase == BIN_COUNT;
	const Cpm__MessageData *m = stream_reply(c, resp);
	/* Everything the back-end says is checked: a window that breaks a
	 * promise (or makes no progress) ends the connection, never a loop. */
	if (m == NULL || m->binary_taken > end - c->bin.pos || m->binary_state.len > MIME_CTE_STATE_MAX ||
	    (c->bin.asked > 0 && m->binary_count > c->bin.asked) || m->body.len != (discard ? 0 : m->binary_count) ||
	    (m->binary_taken == 0 && m->binary_count == 0 && !m->binary_done)) {
		stream_broken(c);
		return;
	}
	c->bin.pos += m->binary_taken;
	if (m->binary_state.len > 0)
		memcpy(c->bin.state, m->binary_state.data, m->binary_state.len);
	c->bin.state_len = m->binary_state.len;
	switch (c->bin.phase) {
	case BIN_ONE:
		if (!m->binary_done) {
			/* More than one window after all: the long way, from the start. */
			c->bin.phase = BIN_START;
			c->bin.long_way = true;
			break;
		} else {
			uint64_t n = m->body.len, start = 0;
			if (it->partial) {
				start = it->origin < n ? it->origin : n;
				n -= start;
				if (n > it->count)
					n = it->count;
			}
			write_item_answer(c, m->body.data != NULL ? m->body.data + start : NULL, (size_t)n);
		}
		break;
	case BIN_SKIP:
		c->bin.left -= m->binary_count;
		if (c->bin.left > 0 && !m->binary_done)
			break;
		c->bin.phase = BIN_COUNT;
		if (m->binary_done) { /* the part ends before the origin: empty */
			bin_counted(c);
			break;
		}
		c->bin.start_pos = c->bin.pos; /* the origin is reached */
		memcpy(c->bin.start_state, c->bin.state, c->bin.state_len);
		c->bin.start_state_len = c->bin.state_len;
		break;
	case BIN_COUNT:
		c->bin.lit += m->binary_count;
		c->bin.nul = c->bin.nul || m->binary_nul;
		if (m->binary_done || (it->partial && c->bin.lit >= it->count))
			bin_counted(c);
		break;
	case BIN_OUT:
	default:
		session_write(c->s, m->body.data, m->body.len);
		c->st.done += m->body.len;
		if (c->st.done == c->bin.lit) {
			next_item(c);
		} else if (m->binary_done) {
			stream_broken(c); /* fewer bytes than counted */
			return;
		}
		break;
	}
	stream_continue(c);
}

/* ST_PIECES: a header read or a window of the walk, fed to it; the bytes
 * it gives (output pass) are written. */
static void on_piece(const Cpm__Response *resp, void *ctx)
{
	struct fetch_ctx *c = ctx;
	if (session_closed(c->s)) {
		fetch_finish(c);
		return;
	}
	const Cpm__MessageData *m = stream_reply(c, resp);
	const unsigned char *out = NULL;
	size_t out_len = 0;
	int rc = -1;
	if (m != NULL && c->pw.asked == BP_READ) {
		rc = bp_feed_read(&c->pw, m->body.data, m->body.len, &out, &out_len);
	} else if (m != NULL && c->pw.asked == BP_WINDOW) {
		struct bp_window win = {.taken = m->binary_taken,
					.count = m->binary_count,
					.state = m->binary_state.data,
					.state_len = m->binary_state.len,
					.nul = m->binary_nul,
					.done = m->binary_done,
					.body = m->body.data,
					.body_len = m->body.len};
		rc = bp_feed_window(&c->pw, &win, &out, &out_len);
	}
	if (rc < 0) {
		stream_broken(c);
		return;
	}
	if (out_len > 0)
		session_write(c->s, out, out_len);
	stream_continue(c);
}

/* ST_WHOLE: the message, decoded as a small one is. */
static void on_binary_whole(const Cpm__Response *resp, void *ctx)
{
	struct fetch_ctx *c = ctx;
	if (session_closed(c->s)) {
		fetch_finish(c);
		return;
	}
	const Cpm__MessageData *m = stream_reply(c, resp);
	if (m == NULL || m->body_omitted) {
		stream_broken(c);
		return;
	}
	struct mime_tree *tree = NULL;
	if (m->tree.data != NULL && mime_tree_deserialize(m->tree.data, m->tree.len, &tree) < 0)
		tree = NULL;
	struct buf part = {0};
	const unsigned char *msg = m->body.data != NULL ? m->body.data : (const unsigned char *)"";
	int rc = fetch_items_body_bytes(&part, &c->items.items[c->st.item], msg, m->body.len, tree);
	mime_tree_free(&tree);
	if (rc == FETCH_BYTES_UNKNOWN_CTE) {
		c->unknown_cte = true;
		next_item(c);
	} else {
		write_item_answer(c, part.data, part.len); /* out of memory: empty */
	}
	buf_free(&part);
	stream_continue(c);
}

static void on_store(const Cpm__Response *resp, void *ctx)
{
	struct fetch_ctx *c = ctx;
	if (!reply_usable(c, resp))
		return;
	int rc = c->store_pos < c->n_seen ? send_store(c) : start_fetch_phase(c);
	if (rc < 0) {
		fetch_answer(c, "NO", "[SERVERBUG] Out of memory");
		fetch_finish(c);
	}
}

/* ---- CONDSTORE / QRESYNC modifiers ------------------------------------------------ */

/* "(CHANGEDSINCE n [VANISHED])" in any order. 0, or -1 after a tagged BAD. */
static int parse_modifiers(struct session *s, const struct imap_arg *l, const struct imap_arg *set, bool uid_mode,
			   struct fetch_ctx *c)
{
	if (l->type != IMAP_ARG_LIST || l->list_count == 0) {
		session_tagged(s, "BAD", "FETCH modifiers must be a non-empty list");
		return -1;
	}
	bool changedsince = false;
	for (unsigned i = 0; i < l->list_count; i++) {
		const struct imap_arg *a = &l->list[i];
		const char *name = a->type == IMAP_ARG_ATOM ? a->str : "";
		if (strcasecmp(name, "CHANGEDSINCE") == 0 && !changedsince && i + 1 < l->list_count) {
			const struct imap_arg *v = &l->list[++i];
			char *end = NULL;
			unsigned long long n = 0;
			if (v->type == IMAP_ARG_ATOM && v->str[0] >= '0' && v->str[0] <= '9' && v->len <= 19)
				n = strtoull(v->str, &end, 10);
			if (end == NULL || *end != '\0') {
				session_tagged(s, "BAD", "CHANGEDSINCE needs a mod-sequence value");
				return -1;
			}
			c->changedsince = n;
			changedsince = true;
		} else if (strcasecmp(name, "VANISHED") == 0 && uid_mode && s->qresync && !c->vanished) {
			c->vanished = true;
			if (imap_seqset_parse(set->str, set->len, &c->vset) < 0 ||
			    imap_seqset_resolve(&c->vset, UINT32_MAX) < 0) {
				fetch_answer(c, "NO", "[SERVERBUG] Out of memory");
				return -1;
			}
		} else {
			session_tagged(s, "BAD", "Unknown FETCH modifier");
			return -1;
		}
	}
	if (c->vanished && !changedsince) {
		session_tagged(s, "BAD", "VANISHED used without CHANGEDSINCE");
		return -1;
	}
	/* CHANGEDSINCE 0 selects every message (all MODSEQs are above 0). */
	return 0;
}

/* The SCAN/STORE phases when \Seen must be set, else the FETCH phase. */
static int start_phases(struct fetch_ctx *c)
{
	if (c->set_seen) {
		c->phase = PHASE_SCAN;
		return send_fetch(c);
	}
	return start_fetch_phase(c);
}

static void vanished_page(struct session *s, const Cpm__ChangesResp *r, void *arg)
{
	struct fetch_ctx *c = arg;
	uint32_t *gone = r->n_expunged ? realloc(c->gone, r->n_expunged * sizeof(uint32_t)) : NULL;
	if (gone != NULL)
		c->gone = gone;
	size_t n = 0;
	for (size_t i = 0; i < r->n_expunged; i++) {
		if (!imap_seqset_contains(&c->vset, r->expunged[i]))
			continue;
		if (gone != NULL)
			gone[n++] = r->expunged[i];
		else
			condstore_write_vanished(s, true, &r->expunged[i], 1);
	}
	condstore_write_vanished(s, true, gone, n);
}

static void vanished_done(struct session *s, bool ok, const Cpm__Response *last, void *arg)
{
	struct fetch_ctx *c = arg;
	if (session_closed(s)) {
		fetch_finish(c);
		return;
	}
	if (!ok) {
		if (last != NULL && last->status != CPM__STATUS__OK)
			fetch_answer_rpc_error(c, last);
		else
			fetch_answer(c, "NO", "[SERVERBUG] FETCH: bad back-end response");
		fetch_finish(c);
		return;
	}
	if (c->n_ranges == 0) {
		fetch_answer(c, "OK", "Fetch completed.");
		fetch_finish(c);
	} else if (start_phases(c) < 0) {
		fetch_answer(c, "NO", "[SERVERBUG] Out of memory");
		fetch_finish(c);
	}
}

/* What the back-end must send for c->items (and whether \Seen is set first). */
static void set_wire_items(struct fetch_ctx *c, bool set_seen)
{
	c->set_seen = set_seen;
	if (c->items.flags || set_seen)
		c->wire_items |= CPM__FETCH_ITEM__F_FLAGS;
	if (c->items.internaldate)
		c->wire_items |= CPM__FETCH_ITEM__F_INTERNALDATE;
	if (c->items.size)
		c->wire_items |= CPM__FETCH_ITEM__F_SIZE;
	if (fetch_items_need_body(&c->items))
		c->wire_items |= CPM__FETCH_ITEM__F_BODY;
	if (fetch_items_need_tree(&c->items))
		c->wire_items |= CPM__FETCH_ITEM__F_TREE;
	if (c->items.preview)
		c->wire_items |= CPM__FETCH_ITEM__F_PREVIEW;
}

/* ---- entry points -------------------------------------------------------------- */

int fetch_items_valid(char *const *atoms, size_t n)
{
	struct fetch_items fi = {0};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = fetch_items_add(&fi, atoms[i], strlen(atoms[i])) == FETCH_ITEM_OK ? 0 : -1;
	fetch_items_clear(&fi);
	return rc;
}

int fetch_untagged(struct session *s, char *const *atoms, size_t n_atoms, const uint32_t *uids, size_t n_uids,
		   void (*done)(struct session *s))
{
	if (n_uids == 0 || s->state != SESSION_SELECTED)
		return -1;
	struct fetch_ctx *c = calloc(1, sizeof(*c));
	Cpm__UidRange *ranges = c != NULL ? calloc(n_uids, sizeof(*ranges)) : NULL;
	if (ranges == NULL) {
		free(c);
		return -1;
	}
	c->s = s;
	c->ranges = ranges;
	c->untagged_done = done;
	for (size_t i = 0; i < n_atoms; i++) {
		if (fetch_items_add(&c->items, atoms[i], strlen(atoms[i])) != FETCH_ITEM_OK) {
			fetch_ctx_free(c);
			return -1;
		}
	}
	for (size_t i = 0; i < n_uids; i++) {
		if (c->n_ranges > 0 && c->ranges[c->n_ranges - 1].last + 1 == uids[i]) {
			c->ranges[c->n_ranges - 1].last = uids[i];
		} else {
			Cpm__UidRange init = CPM__UID_RANGE__INIT;
			init.first = init.last = uids[i];
			c->ranges[c->n_ranges++] = init;
		}
	}
	/* A notification never sets \Seen (the client did not ask to read). */
	set_wire_items(c, false);
	session_ref(s);
	if (start_phases(c) < 0) {
		fetch_finish(c);
		return 0; /* done() was called */
	}
	return 0;
}


static void fetch_start(struct session *s, const struct imap_arg *args, unsigned nargs, bool uid_mode)
{
	if (nargs < 2) {
		session_tagged(s, "BAD", "%s needs a sequence set and fetch items", uid_mode ? "UID FETCH" : "FETCH");
		session_done(s);
		return;
	}
	struct fetch_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		session_done(s);
		return;
	}
	c->s = s;
	unsigned used;
	if (parse_items(s, &args[1], nargs - 1, &c->items, &used) < 0) {
		fetch_ctx_free(c);
		session_done(s);
		return;
	}
	/* After the items, at most the modifier list (CHANGEDSINCE / VANISHED). */
	const struct imap_arg *mods = 2 + used == nargs ? &args[1 + used] : NULL;
	if (1 + used != nargs && mods == NULL) {
		session_tagged(s, "BAD", "%s needs a sequence set and fetch items", uid_mode ? "UID FETCH" : "FETCH");
		fetch_ctx_free(c);
		session_done(s);
		return;
	}
	if (uid_mode)
		c->items.uid = true;
	if (session_uid_ranges(s, &args[0], uid_mode, &c->ranges, &c->n_ranges) < 0 ||
	    (mods != NULL && parse_modifiers(s, mods, &args[0], uid_mode, c) < 0)) {
		fetch_ctx_free(c);
		session_done(s);
		return;
	}
	if (c->items.modseq || mods != NULL)
		condstore_enable(s);

	if (c->n_ranges == 0 && !c->vanished) {
		session_tagged(s, "OK", "Fetch completed.");
		fetch_ctx_free(c);
		session_done(s);
		return;
	}

	set_wire_items(c, fetch_items_sets_seen(&c->items) && !s->sel.readonly && (s->sel.rights & ACL_S));
	session_ref(s);
	int rc = c->vanished ? changes_walk(s, c->changedsince, vanished_page, vanished_done, c) : start_phases(c);
	if (rc < 0) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		fetch_finish(c);
	}
}

void cmd_fetch(struct session *s, const struct imap_command *cmd)
{
	fetch_start(s, cmd->args, cmd->nargs, false);
}

void cmd_uid(struct session *s, const struct imap_command *cmd)
{
	const struct imap_arg *sub = cmd->nargs > 0 ? &cmd->args[0] : NULL;
	const char *name = sub != NULL && sub->type == IMAP_ARG_ATOM ? sub->str : "";
	const struct imap_arg *rest = cmd->args + 1;
	unsigned n = cmd->nargs > 0 ? cmd->nargs - 1 : 0;
	if (strcasecmp(name, "FETCH") == 0)
		fetch_start(s, rest, n, true);
	else if (strcasecmp(name, "STORE") == 0)
		store_start(s, rest, n, true);
	else if (strcasecmp(name, "COPY") == 0)
		copy_start(s, rest, n, true, false);
	else if (strcasecmp(name, "MOVE") == 0)
		copy_start(s, rest, n, true, true);
	else if (strcasecmp(name, "EXPUNGE") == 0)
		uid_expunge_start(s, rest, n);
	else if (strcasecmp(name, "SEARCH") == 0)
		search_start(s, rest, n, true);
	else if (strcasecmp(name, "SORT") == 0)
		sort_start(s, rest, n, true);
	else if (strcasecmp(name, "THREAD") == 0)
		thread_start(s, rest, n, true);
	else {
		session_tagged(s, "BAD", "Unknown UID command");
		session_done(s);
	}
}
