/*
 * worker: one simulated client of cpm-bench, a closed loop on one
 * connection (one operation in flight, the next sent when it completes), as
 * a phone or a mail client behaves. Every scenario is a small state machine
 * here:
 *
 *   connect -> greeting -> LOGIN -> scenario setup -> op, op, ... -> LOGOUT
 *
 *   login   op = connect + greeting + LOGIN + LOGOUT, then a new connection
 *   append  APPEND of a message from the size mix (own or shared folder)
 *   fetch   EXAMINE; UID FETCH <random uid> (FLAGS ENVELOPE BODYSTRUCTURE BODY[])
 *   search  EXAMINE; UID SEARCH by header (Conversation-ID), SUBJECT or BODY
 *   store   SELECT; UID STORE <random uid> +FLAGS/-FLAGS (\Flagged)
 *   mixed   SELECT; a client-like mix: FETCH of headers and flags, FETCH of a
 *           body, SEARCH, STORE, APPEND of a chat message, NOOP, re-SELECT,
 *           and EXPUNGE of what this worker appended (STORE \Deleted + UID
 *           EXPUNGE)
 *   idle    SELECT; IDLE. One extra writer connection appends at a fixed
 *           rate; an op is one "* n EXISTS" push seen by one idle session,
 *           its latency measured from the writer's APPEND
 *   resync  ENABLE QRESYNC; SELECT. Each op: k flag changes (UID STORE, not
 *           timed), then the timed SELECT (QRESYNC (uidvalidity modseq))
 *           from the modseq of the previous one
 *
 * Latency: from sending the op's first command to its last tagged OK. Only
 * ops that complete while the bench is measuring count. A NO/BAD or a
 * connection lost during the run counts one error; the worker reconnects
 * (after 100 ms) and goes on.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "buf.h"
#include "msggen.h"

enum wstate { W_CONNECTING, W_SETUP, W_RUNNING, W_IDLING, W_LOGOUT, W_DONE };

struct worker {
	struct bench *b;
	unsigned id;
	struct imapc_conn *c;
	uint64_t rng;
	enum wstate st;
	bool is_writer;
	bool expect_close;
	bool retry_pending;
	uv_timer_t timer;
	bool timer_on;
	uint64_t op_start, conn_start;
	char folder[300];
	struct buf msg;
	unsigned fetched;     /* FETCH responses during the op */
	uint64_t op_bytes;
	/* mixed: what this worker appended (to expunge) */
	uint32_t own[64];
	size_t n_own;
	/* resync */
	uint64_t uidvalidity, modseq, sel_modseq, sel_uidvalidity;
	bool flip;
	/* idle writer */
	uint32_t writer_base;
	bool writer_selected;
};

static void start_conn(struct worker *w);
static void next_op(struct worker *w);

static uint64_t now_ns(void)
{
	return uv_hrtime();
}

static uint32_t random_uid(struct worker *w)
{
	struct bench *b = w->b;
	return b->uids[rng_below(&w->rng, b->n_uids)];
}

/* ---- completion ----------------------------------------------------------- */

static void logout(struct worker *w);

static void op_done(struct worker *w)
{
	struct bench *b = w->b;
	if (b->measuring) {
		stats_add(&b->lat, now_ns() - w->op_start);
		b->ops++;
		b->bytes += w->op_bytes;
	}
	if (b->stopping)
		logout(w);
	else
		next_op(w);
}

static void op_failed(struct worker *w, const char *what, const struct imapc_resp *r)
{
	struct bench *b = w->b;
	if (b->measuring)
		bench_error(b, "%s: %s", what, r != NULL ? r->text : "connection closed");
	if (r == NULL)
		return; /* closed(): reconnects */
	if (b->stopping)
		logout(w);
	else
		next_op(w);
}

static bool ok(const struct imapc_resp *r)
{
	return r != NULL && r->status == IMAPC_OK;
}

/* ---- connection life -------------------------------------------------------- */

static void on_logout(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	(void)c;
	(void)r;
	(void)ctx;
}

static void logout(struct worker *w)
{
	if (w->c == NULL || w->st == W_LOGOUT)
		return;
	w->st = W_LOGOUT;
	w->expect_close = true;
	if (imapc_conn_cmdf(w->c, on_logout, w, "LOGOUT") < 0)
		imapc_conn_close(w->c, "logout");
}

static void worker_finished(struct worker *w)
{
	struct bench *b = w->b;
	if (w->st == W_DONE)
		return;
	w->st = W_DONE;
	if (b->live_workers > 0 && --b->live_workers == 0) {
		uv_timer_stop(&b->hard_timer);
		uv_timer_stop(&b->sample_timer);
		uv_timer_stop(&b->stop_timer);
	}
	if (w->timer_on)
		uv_timer_stop(&w->timer);
}

static void on_retry(uv_timer_t *t)
{
	struct worker *w = t->data;
	w->retry_pending = false;
	if (w->b->stopping)
		worker_finished(w);
	else
		start_conn(w);
}

static void on_closed(struct imapc_conn *c, const char *reason, void *ctx)
{
	struct worker *w = ctx;
	struct bench *b = w->b;
	(void)c;
	w->c = NULL;
	bool expected = w->expect_close;
	w->expect_close = false;
	if (!expected && b->measuring && !b->stopping)
		bench_error(b, "connection %u lost: %s", w->id, reason);
	if (b->stopping || w->st == W_DONE || (expected && w->st == W_LOGOUT)) {
		worker_finished(w);
		return;
	}
	if (b->o.scenario == SC_LOGIN && expected) {
		start_conn(w);
		return;
	}
	if (!expected && !b->measuring && !b->stopping && w->st != W_RUNNING && w->st != W_IDLING) {
		/* Failed before the run started (setup of the scenario). */
		bench_error(b, "connection %u failed during setup: %s", w->id, reason);
	}
	w->retry_pending = true;
	w->timer.data = w;
	uv_timer_start(&w->timer, on_retry, 100, 0);
}

/* ---- untagged responses ----------------------------------------------------- */

static void on_untagged(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct worker *w = ctx;
	struct bench *b = w->b;
	(void)c;
	if (imapc_resp_is(r, "FETCH")) {
		w->fetched++;
		w->op_bytes += r->literal_bytes;
		return;
	}
	if (r->status == IMAPC_OK) {
		uint64_t v;
		if (imapc_find_number(r->rest, strlen(r->rest), "HIGHESTMODSEQ", &v) == 0)
			w->sel_modseq = v;
		if (imapc_find_number(r->rest, strlen(r->rest), "UIDVALIDITY", &v) == 0)
			w->sel_uidvalidity = v;
		return;
	}
	if (r->has_number && imapc_resp_is(r, "EXISTS")) {
		if (w->is_writer && !w->writer_selected) {
			w->writer_base = r->number;
			return;
		}
		if (w->st != W_IDLING || b->o.scenario != SC_IDLE || w->is_writer)
			return;
		if (r->number <= b->push_base)
			return;
		size_t idx = r->number - b->push_base - 1;
		if (idx < b->push_cap && b->push_sent_ns[idx] != 0) {
			b->idle_pushes_seen++;
			if (b->measuring) {
				stats_add(&b->lat, now_ns() - b->push_sent_ns[idx]);
				b->ops++;
			}
		}
	}
}

/* ---- scenario operations ------------------------------------------------------ */

static void on_op(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct worker *w = ctx;
	(void)c;
	if (!ok(r))
		return op_failed(w, "command failed", r);
	op_done(w);
}

static void on_fetch(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct worker *w = ctx;
	(void)c;
	if (!ok(r))
		return op_failed(w, "UID FETCH failed", r);
	if (w->fetched == 0)
		return op_failed(w, "UID FETCH returned no message", r);
	op_done(w);
}

static void on_append(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct worker *w = ctx;
	(void)c;
	if (!ok(r))
		return op_failed(w, "APPEND failed", r);
	if (w->b->o.scenario == SC_MIXED) {
		uint64_t uid;
		const char *code;
		size_t len;
		/* [APPENDUID uidvalidity uid] */
		if (imapc_resp_code(r, &code, &len) && len > 10 && strncasecmp(code, "APPENDUID ", 10) == 0) {
			const char *sp = memchr(code + 10, ' ', len - 10);
			if (sp != NULL && (uid = strtoull(sp + 1, NULL, 10)) > 0 && w->n_own < 64)
				w->own[w->n_own++] = (uint32_t)uid;
		}
	}
	op_done(w);
}

static int send_append(struct worker *w, const char *folder, enum msg_kind kind, imapc_done_cb *cb)
{
	buf_reset(&w->msg);
	uint64_t i = rng_next(&w->rng) % 1000000000u;
	if (msggen_message(&w->msg, w->b->o.seed + 1, i, kind) < 0)
		return -1;
	char prefix[400];
	snprintf(prefix, sizeof(prefix), "APPEND \"%s\"", folder);
	w->op_bytes = w->msg.len;
	return imapc_conn_cmd_literal(w->c, cb, w, prefix, w->msg.data, w->msg.len, "");
}

static void search_op(struct worker *w)
{
	uint64_t k = rng_below(&w->rng, 3);
	uint64_t n = rng_next(&w->rng);
	if (k == 0)
		imapc_conn_cmdf(w->c, on_op, w, "UID SEARCH HEADER Conversation-ID conv-%llu",
				(unsigned long long)(n % 50));
	else if (k == 1)
		imapc_conn_cmdf(w->c, on_op, w, "UID SEARCH SUBJECT %s", msggen_word(n));
	else
		imapc_conn_cmdf(w->c, on_op, w, "UID SEARCH BODY kw%llu", (unsigned long long)(n % 100));
}

static void on_expunged(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct worker *w = ctx;
	(void)c;
	if (!ok(r))
		return op_failed(w, "UID EXPUNGE failed", r);
	w->n_own = 0;
	op_done(w);
}

static void on_deleted(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	(void)c;
	(void)ctx;
	(void)r; /* the pipelined UID EXPUNGE reports */
}

static void expunge_own(struct worker *w)
{
	struct buf set = {0};
	for (size_t i = 0; i < w->n_own; i++)
		buf_printf(&set, "%s%u", i ? "," : "", w->own[i]);
	imapc_conn_cmdf(w->c, on_deleted, w, "UID STORE %s +FLAGS.SILENT (\\Deleted)", (const char *)set.data);
	imapc_conn_cmdf(w->c, on_expunged, w, "UID EXPUNGE %s", (const char *)set.data);
	buf_free(&set);
}

static void mixed_op(struct worker *w)
{
	uint64_t r = rng_below(&w->rng, 100);
	uint32_t uid = random_uid(w);
	const char *f = w->b->o.folder;
	if (r < 25)
		imapc_conn_cmdf(w->c, on_fetch, w, "UID FETCH %u:%u (UID FLAGS ENVELOPE)", uid, uid + 19);
	else if (r < 40)
		imapc_conn_cmdf(w->c, on_fetch, w, "UID FETCH %u (BODY.PEEK[])", uid);
	else if (r < 50)
		search_op(w);
	else if (r < 65)
		imapc_conn_cmdf(w->c, on_op, w, "UID STORE %u %cFLAGS (\\Seen)", uid, (r & 1) ? '+' : '-');
	else if (r < 80)
		send_append(w, f, MSG_CHAT, on_append);
	else if (r < 90)
		imapc_conn_cmdf(w->c, on_op, w, "NOOP");
	else if (r < 95)
		imapc_conn_cmdf(w->c, on_op, w, "SELECT \"%s\"", f);
	else if (w->n_own > 0)
		expunge_own(w);
	else
		imapc_conn_cmdf(w->c, on_op, w, "NOOP");
}

static void on_resync_select(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct worker *w = ctx;
	(void)c;
	if (!ok(r))
		return op_failed(w, "SELECT (QRESYNC) failed", r);
	if (w->sel_modseq > 0)
		w->modseq = w->sel_modseq;
	op_done(w);
}

static void on_resync_changes(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct worker *w = ctx;
	if (!ok(r))
		return op_failed(w, "UID STORE (changes) failed", r);
	/* The timed part: the resynchronising SELECT. */
	w->op_start = now_ns();
	w->fetched = 0;
	w->op_bytes = 0;
	imapc_conn_cmdf(c, on_resync_select, w, "SELECT \"%s\" (QRESYNC (%llu %llu))", w->b->o.folder,
			(unsigned long long)w->uidvalidity, (unsigned long long)w->modseq);
}

static void resync_op(struct worker *w)
{
	struct bench *b = w->b;
	unsigned k = b->o.changes ? b->o.changes : 1;
	if (k > b->n_uids)
		k = (unsigned)b->n_uids;
	size_t start = rng_below(&w->rng, b->n_uids - k + 1);
	struct buf set = {0};
	for (unsigned i = 0; i < k; i++)
		buf_printf(&set, "%s%u", i ? "," : "", b->uids[start + i]);
	w->flip = !w->flip;
	imapc_conn_cmdf(w->c, on_resync_changes, w, "UID STORE %s %cFLAGS.SILENT (\\Flagged)", (const char *)set.data,
			w->flip ? '+' : '-');
	buf_free(&set);
}

static void writer_append(struct worker *w);

static void on_writer_timer(uv_timer_t *t)
{
	struct worker *w = t->data;
	if (w->b->stopping || w->c == NULL || w->st != W_RUNNING)
		return;
	writer_append(w);
}

static void on_writer_append(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct worker *w = ctx;
	(void)c;
	if (!ok(r) && w->b->measuring)
		bench_error(w->b, "writer APPEND failed: %s", r ? r->text : "connection closed");
}

static void writer_append(struct worker *w)
{
	struct bench *b = w->b;
	if (!b->measuring)
		return;
	/* The n-th append since the writer's SELECT makes EXISTS base + n. */
	static const size_t grow = 4096;
	size_t idx = b->push_n;
	if (idx == b->push_cap) {
		uint64_t *n = realloc(b->push_sent_ns, (b->push_cap + grow) * sizeof(*n));
		if (n == NULL)
			return;
		memset(n + b->push_cap, 0, grow * sizeof(*n));
		b->push_sent_ns = n;
		b->push_cap += grow;
	}
	b->push_sent_ns[idx] = now_ns();
	b->push_n++;
	b->idle_pushes_expected += b->idle_sessions_ready;
	send_append(w, b->o.folder, MSG_CHAT, on_writer_append);
}

static void on_login_logout(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct worker *w = ctx;
	struct bench *b = w->b;
	(void)c;
	if (!ok(r)) {
		if (r != NULL && b->measuring)
			bench_error(b, "LOGOUT failed: %s", r->text);
		return;
	}
	if (b->measuring) {
		stats_add(&b->lat, now_ns() - w->op_start);
		b->ops++;
	}
}

static void next_op(struct worker *w)
{
	struct bench *b = w->b;
	if (w->c == NULL)
		return;
	w->st = W_RUNNING;
	w->op_start = now_ns();
	w->fetched = 0;
	w->op_bytes = 0;
	switch (b->o.scenario) {
	case SC_LOGIN:
		/* The op began with the connection (start_conn) and ends with
		   LOGOUT's OK; closed() then starts the next connection. */
		w->expect_close = true;
		w->op_start = w->conn_start;
		imapc_conn_cmdf(w->c, on_login_logout, w, "LOGOUT");
		break;
	case SC_APPEND: {
		uint64_t r = rng_below(&w->rng, 100);
		send_append(w, w->folder, r < 80 ? MSG_CHAT : r < 98 ? MSG_MAIL : MSG_MEDIA, on_append);
		break;
	}
	case SC_FETCH:
		imapc_conn_cmdf(w->c, on_fetch, w, "UID FETCH %u (FLAGS ENVELOPE BODYSTRUCTURE BODY[])",
				random_uid(w));
		break;
	case SC_SEARCH:
		search_op(w);
		break;
	case SC_STORE:
		imapc_conn_cmdf(w->c, on_op, w, "UID STORE %u %cFLAGS (\\Flagged)", random_uid(w),
				rng_below(&w->rng, 2) ? '+' : '-');
		break;
	case SC_MIXED:
		mixed_op(w);
		break;
	case SC_RESYNC:
		resync_op(w);
		break;
	case SC_IDLE:
	case SC_COUNT:
		break;
	}
}

/* ---- per-scenario setup after LOGIN -------------------------------------------- */

static void on_idle_done(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct worker *w = ctx;
	(void)c;
	if (!ok(r) && w->b->measuring)
		bench_error(w->b, "IDLE ended with: %s", r ? r->text : "connection closed");
	if (r != NULL)
		logout(w);
}

static void on_idle_cont(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct worker *w = ctx;
	struct bench *b = w->b;
	(void)c;
	(void)r;
	if (w->st == W_IDLING)
		return;
	w->st = W_IDLING;
	if (++b->idle_sessions_ready == b->o.connections)
		bench_idle_ready(b);
}

static void on_setup_done(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct worker *w = ctx;
	struct bench *b = w->b;
	if (!ok(r)) {
		if (r != NULL)
			bench_error(b, "connection %u setup failed: %s", w->id, r->text);
		if (r != NULL)
			imapc_conn_close(c, "setup failed");
		return;
	}
	if (b->o.scenario == SC_RESYNC) {
		w->uidvalidity = w->sel_uidvalidity;
		w->modseq = w->sel_modseq;
	}
	if (w->is_writer) {
		w->writer_selected = true;
		b->push_base = w->writer_base;
		w->st = W_RUNNING;
		w->timer.data = w;
		uint64_t ms = b->o.idle_rate > 0 ? (uint64_t)(1000.0 / b->o.idle_rate) : 100;
		uv_timer_start(&w->timer, on_writer_timer, ms ? ms : 1, ms ? ms : 1);
		w->timer_on = true;
		return;
	}
	if (b->o.scenario == SC_IDLE) {
		if (b->stopping)
			return logout(w);
		imapc_conn_cmd_cont(c, on_idle_done, on_idle_cont, w, "IDLE", 4);
		return;
	}
	if (b->stopping)
		return logout(w);
	next_op(w);
}

static void on_create_then_go(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct worker *w = ctx;
	(void)c;
	if (r == NULL)
		return;
	/* NO [ALREADYEXISTS] is fine: APPEND reports a missing folder. */
	if (w->b->stopping)
		return logout(w);
	next_op(w);
}

static void on_enable(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct worker *w = ctx;
	if (!ok(r))
		return on_setup_done(c, r, ctx);
	w->sel_modseq = 0;
	imapc_conn_cmdf(c, on_setup_done, w, "SELECT \"%s\"", w->b->o.folder);
}

static void on_login(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct worker *w = ctx;
	struct bench *b = w->b;
	if (!ok(r)) {
		if (r != NULL) {
			bench_error(b, "LOGIN failed: %s", r->text);
			imapc_conn_close(c, "login failed");
		}
		return;
	}
	w->st = W_SETUP;
	if (w->is_writer) {
		imapc_conn_cmdf(c, on_setup_done, w, "SELECT \"%s\"", b->o.folder);
		return;
	}
	switch (b->o.scenario) {
	case SC_LOGIN:
		next_op(w);
		break;
	case SC_APPEND:
		if (b->o.shared_folder)
			snprintf(w->folder, sizeof(w->folder), "%s-append", b->o.folder);
		else
			snprintf(w->folder, sizeof(w->folder), "%s-append-%u", b->o.folder, w->id);
		imapc_conn_cmdf(c, on_create_then_go, w, "CREATE \"%s\"", w->folder);
		break;
	case SC_FETCH:
	case SC_SEARCH:
		imapc_conn_cmdf(c, on_setup_done, w, "EXAMINE \"%s\"", b->o.folder);
		break;
	case SC_STORE:
	case SC_MIXED:
	case SC_IDLE:
		imapc_conn_cmdf(c, on_setup_done, w, "SELECT \"%s\"", b->o.folder);
		break;
	case SC_RESYNC:
		imapc_conn_cmdf(c, on_enable, w, "ENABLE QRESYNC");
		break;
	case SC_COUNT:
		break;
	}
}

static void on_ready(struct imapc_conn *c, const struct imapc_resp *g, void *ctx)
{
	struct worker *w = ctx;
	(void)g;
	char user[256];
	bench_user(w->b, w->id, user, sizeof(user));
	imapc_conn_cmdf(c, on_login, w, "LOGIN \"%s\" \"%s\"", user, w->b->o.password);
}

static void start_conn(struct worker *w)
{
	static const struct imapc_callbacks cb = {.ready = on_ready, .untagged = on_untagged, .closed = on_closed};
	struct bench *b = w->b;
	w->st = W_CONNECTING;
	w->expect_close = false;
	w->writer_selected = false;
	w->conn_start = now_ns(); /* login: the op starts with the connection */
	w->c = imapc_conn_new(b->cl, &cb, w);
	if (w->c == NULL) {
		bench_error(b, "out of memory for connection %u", w->id);
		worker_finished(w);
		return;
	}
	if (imapc_conn_connect(w->c, (struct sockaddr *)&b->addr) < 0)
		imapc_conn_close(w->c, "cannot start connecting");
}

/* ---- the set of workers ----------------------------------------------------------- */

static struct worker *worker_new(struct bench *b, unsigned id)
{
	struct worker *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->b = b;
	w->id = id;
	w->rng = (b->o.seed + 1) * 0x9E3779B97F4A7C15ull + id * 0xD1B54A32D192ED03ull + 7;
	uv_timer_init(b->loop, &w->timer);
	w->timer.data = w;
	return w;
}

int workers_start(struct bench *b)
{
	unsigned n = b->o.connections + (b->o.scenario == SC_IDLE ? 1 : 0);
	b->workers = calloc(n, sizeof(*b->workers));
	if (b->workers == NULL)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		if ((b->workers[i] = worker_new(b, i)) == NULL)
			return -1;
		b->live_workers++;
	}
	if (b->o.scenario == SC_IDLE) {
		b->idle_writer = b->workers[n - 1];
		b->idle_writer->is_writer = true;
	}
	for (unsigned i = 0; i < b->o.connections; i++)
		start_conn(b->workers[i]);
	return 0;
}

void workers_idle_start_writer(struct bench *b)
{
	if (b->idle_writer != NULL && b->idle_writer->c == NULL && b->idle_writer->st != W_DONE)
		start_conn(b->idle_writer);
}

static void stop_worker(struct worker *w)
{
	if (w == NULL || w->st == W_DONE)
		return;
	if (w->c == NULL) {
		if (!w->retry_pending)
			worker_finished(w);
		return;
	}
	if (w->timer_on) {
		uv_timer_stop(&w->timer);
		w->timer_on = false;
	}
	if (w->st == W_IDLING) {
		imapc_conn_send_raw(w->c, "DONE\r\n", 6);
		return;
	}
	if (w->is_writer || w->st == W_CONNECTING || w->st == W_SETUP)
		logout(w);
	/* Running workers log out when their current op completes. */
}

void workers_stop_writer(struct bench *b)
{
	stop_worker(b->idle_writer);
}

void workers_stop(struct bench *b)
{
	unsigned n = b->o.connections + (b->o.scenario == SC_IDLE ? 1 : 0);
	for (unsigned i = 0; i < n; i++)
		stop_worker(b->workers[i]);
}

void workers_abort(struct bench *b)
{
	unsigned n = b->o.connections + (b->o.scenario == SC_IDLE ? 1 : 0);
	for (unsigned i = 0; i < n; i++) {
		struct worker *w = b->workers[i];
		if (w == NULL || w->st == W_DONE)
			continue;
		if (w->c != NULL) {
			w->expect_close = true;
			imapc_conn_close(w->c, "hard deadline");
		} else {
			uv_timer_stop(&w->timer);
			worker_finished(w);
		}
	}
}

static void on_timer_closed(uv_handle_t *h)
{
	struct worker *w = h->data;
	buf_free(&w->msg);
	free(w);
}

void workers_free(struct bench *b)
{
	if (b->workers == NULL)
		return;
	unsigned n = b->o.connections + (b->o.scenario == SC_IDLE ? 1 : 0);
	for (unsigned i = 0; i < n; i++) {
		struct worker *w = b->workers[i];
		if (w == NULL)
			continue;
		w->timer.data = w;
		uv_close((uv_handle_t *)&w->timer, on_timer_closed);
	}
	uv_run(b->loop, UV_RUN_DEFAULT);
	free(b->workers);
	b->workers = NULL;
}
