/*
 * copy-relay: COPY / MOVE to another user's folder on another shard
 * (copy-relay.h is the contract). One RPC is in flight at a time, and the
 * session is referenced while it is. The steps:
 *
 *  1. CHECK   AclReq(MYRIGHTS) on the destination's shard: the folder must
 *             exist (else NO [TRYCREATE]) and give the actor the i right
 *             (else NO [NOPERM]), before anything is read. A MOVE also
 *             needs t and e on the source (the selected folder's rights).
 *  2. READ    FetchReq pages on the source shard: FLAGS, INTERNALDATE, size
 *             and body of the UIDs of the ranges that exist, ascending. A
 *             body below the streaming threshold (append_stream_kb) is kept
 *             in memory, RELAY_INLINE_MAX in all; a larger one comes
 *             without its body (FetchReq.body_limit) and is staged, and so
 *             is one that would pass the bound (its body is dropped).
 *  3. STAGE   Each message to stage: AppendBeginReq on the destination
 *             (pending_bytes: all the other messages), then its body in
 *             windows of append_chunk_kb: FetchReq(body_offset, body_len)
 *             from the source, AppendChunkReq to the destination; one
 *             window in memory at a time.
 *  4. COMMIT  One MultiAppendReq with every message (inline body or
 *             staging id): the destination gets all of them or none.
 *  5. MOVE    ExpungeReq(moved) of the source UIDs copied.
 *  6. ANSWER  copy_answer() with a CopyResp built from the commit (COPYUID).
 *
 * A failure before the commit succeeded answers NO and aborts every
 * staging file (AppendAbortReq); a client gone meanwhile gets no answer
 * but the same clean-up. An empty set (or one whose messages are all gone)
 * answers "OK No messages found." after step 1.
 */
#include "copy-relay.h"

#include "commands.h"
#include "log.h"
#include "rpc-client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Messages relayed by one command at most (more: NO [LIMIT]). */
#define RELAY_MAX_MESSAGES 10000
/* Bytes of bodies held in memory at once at most (the others are staged). */
#define RELAY_INLINE_MAX (16u << 20)
/* Streaming threshold when append_stream_kb is 0 (APPEND never streams). */
#define RELAY_STREAM_DEFAULT (1u << 20)

struct relay_msg {
	uint32_t uid;
	uint32_t sys_flags;
	char **keywords;
	size_t n_keywords;
	int64_t date;
	int32_t tz;
	uint64_t size;
	uint8_t *body;       /* held in memory, or NULL: staged */
	uint64_t staging_id; /* staged: its staging file on the destination (0 = not begun) */
};

struct relay {
	struct session *s;
	bool move;
	const char *what;  /* "COPY" or "MOVE" */
	char *dest_name;   /* as the client gave it */
	char owner[USER_NAME_MAX + 1]; /* the destination's owner ... */
	size_t dest_shard;             /* ... its shard ... */
	char *dest_folder;             /* ... and the folder's name there */
	/* The source: the selected folder, as the command started. */
	char *src_owner;
	size_t src_shard;
	uint64_t folder_id;
	uint32_t uidvalidity;
	Cpm__UidRange *ranges;
	size_t n_ranges;
	uint64_t threshold; /* bodies this large or larger are staged */
	uint64_t chunk;     /* bytes per window */
	/* What was read. */
	struct relay_msg *msgs;
	size_t n_msgs, cap;
	uint64_t inline_bytes, total_bytes, staged_bytes;
	unsigned n_to_stage;
	/* Staging: the message being staged and its bytes the destination has. */
	size_t cur;
	uint64_t off;
	uint64_t window; /* bytes of the window in flight */
	/* The commit. */
	bool committed;  /* the staging files are consumed: nothing to abort */
	uint32_t dest_uidvalidity;
	uint32_t *dest_uids;
};

/* ---- lifetime ----------------------------------------------------------------- */

static void relay_free(struct relay *r)
{
	for (size_t i = 0; i < r->n_msgs; i++) {
		struct relay_msg *m = &r->msgs[i];
		if (!r->committed && m->staging_id != 0)
			append_staging_abort(r->s, r->dest_shard, r->owner, m->staging_id);
		for (size_t k = 0; k < m->n_keywords; k++)
			free(m->keywords[k]);
		free(m->keywords);
		free(m->body);
	}
	free(r->msgs);
	free(r->dest_uids);
	free(r->ranges);
	free(r->src_owner);
	free(r->dest_folder);
	free(r->dest_name);
	free(r);
}

/* The command is answered: clean up and end it. */
static void finish(struct relay *r)
{
	struct session *s = r->s;
	relay_free(r);
	session_done(s);
}

static void fail(struct relay *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct relay *r, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	session_tagged(r->s, "NO", "%s", text);
	finish(r);
}

/* A failure on the destination: copy_answer maps it (NONEXISTENT is
 * [TRYCREATE]) and ends the command. */
static void dest_failed(struct relay *r, const Cpm__Response *resp)
{
	struct session *s = r->s;
	copy_answer(s, r->dest_name, r->move, resp);
	relay_free(r);
}

/* A failure on the source (reading it). */
static void src_failed(struct relay *r, const Cpm__Response *resp)
{
	session_tagged_rpc_error(r->s, resp, r->what);
	finish(r);
}

static void bad_response(struct relay *r, const char *step)
{
	log_error("event=bad_rpc_response cmd=%s what=relay_%s", r->what, step);
	fail(r, "[SERVERBUG] %s: bad back-end response", r->what);
}

/* The entry of every RPC callback: false (all freed) when the client is
 * gone. Drops the reference taken for the RPC. */
static bool still_here(struct relay *r)
{
	struct session *s = r->s;
	bool closed = session_closed(s);
	if (closed)
		relay_free(r);
	session_unref(s);
	return !closed;
}

static void relay_send(struct relay *r, size_t shard, Cpm__Request *req, unsigned timeout_ms, rpc_done_cb *cb)
{
	session_ref(r->s);
	session_rpc(r->s, shard, req, timeout_ms, cb, r);
}

/* ---- 6. answer, 5. move ----------------------------------------------------- */

static void answer(struct relay *r)
{
	uint32_t *src = malloc(r->n_msgs * sizeof(*src));
	if (src == NULL) {
		fail(r, "[SERVERBUG] Out of memory");
		return;
	}
	for (size_t i = 0; i < r->n_msgs; i++)
		src[i] = r->msgs[i].uid;
	Cpm__Response resp = CPM__RESPONSE__INIT;
	Cpm__CopyResp cr = CPM__COPY_RESP__INIT;
	cr.dest_uidvalidity = r->dest_uidvalidity;
	cr.src_uids = src;
	cr.n_src_uids = r->n_msgs;
	cr.dest_uids = r->dest_uids;
	cr.n_dest_uids = r->n_msgs;
	resp.status = CPM__STATUS__OK;
	resp.result_case = CPM__RESPONSE__RESULT_COPY;
	resp.copy = &cr;
	copy_answer(r->s, r->dest_name, r->move, &resp);
	free(src);
	relay_free(r);
}

static void on_expunge(const Cpm__Response *resp, void *ctx)
{
	struct relay *r = ctx;
	if (!still_here(r))
		return;
	if (resp->status == CPM__STATUS__OK) {
		answer(r);
		return;
	}
	const char *why = resp->error != NULL && resp->error[0] ? resp->error
			  : resp->status == CPM__STATUS__UNAVAILABLE ? "storage temporarily unavailable"
								      : "failed";
	fail(r, "[CANNOT] MOVE: copied but the originals could not be removed: %s", why);
}

/* The sources copied, as ascending disjoint ranges (malloc'd). */
static Cpm__UidRange *copied_ranges(const struct relay *r, size_t *n_r)
{
	Cpm__UidRange *out = malloc(r->n_msgs * sizeof(*out));
	size_t n = 0;
	for (size_t i = 0; out != NULL && i < r->n_msgs; i++) {
		uint32_t uid = r->msgs[i].uid;
		if (n > 0 && out[n - 1].last + 1 == uid) {
			out[n - 1].last = uid;
			continue;
		}
		cpm__uid_range__init(&out[n]);
		out[n].first = out[n].last = uid;
		n++;
	}
	*n_r = n;
	return out;
}

static void remove_sources(struct relay *r)
{
	size_t n = 0;
	Cpm__UidRange *ranges = copied_ranges(r, &n);
	Cpm__UidRange **ptrs = ranges != NULL ? session_range_ptrs(ranges, n) : NULL;
	if (ptrs == NULL) {
		free(ranges);
		fail(r, "[CANNOT] MOVE: copied but the originals could not be removed: out of memory");
		return;
	}
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__ExpungeReq q = CPM__EXPUNGE_REQ__INIT;
	q.user = r->src_owner;
	q.folder_id = r->folder_id;
	q.uidvalidity = r->uidvalidity;
	q.uids = ptrs;
	q.n_uids = n;
	q.moved = true;
	req.op_case = CPM__REQUEST__OP_EXPUNGE;
	req.expunge = &q;
	relay_send(r, r->src_shard, &req, 0, on_expunge);
	free(ptrs);
	free(ranges);
}

/* ---- 4. commit ----------------------------------------------------------------- */

static void on_commit(const Cpm__Response *resp, void *ctx)
{
	struct relay *r = ctx;
	bool ok = resp->status == CPM__STATUS__OK;
	if (ok) /* even when the client is gone: the files are consumed */
		r->committed = true;
	if (!still_here(r))
		return;
	if (!ok) {
		dest_failed(r, resp);
		return;
	}
	const Cpm__AppendResp *a = resp->result_case == CPM__RESPONSE__RESULT_APPEND ? resp->append : NULL;
	if (a == NULL || a->n_uids != r->n_msgs) {
		bad_response(r, "commit");
		return;
	}
	r->dest_uidvalidity = a->uidvalidity;
	r->dest_uids = malloc(r->n_msgs * sizeof(*r->dest_uids));
	if (r->dest_uids == NULL) {
		fail(r, "[SERVERBUG] Out of memory");
		return;
	}
	memcpy(r->dest_uids, a->uids, r->n_msgs * sizeof(*r->dest_uids));
	if (r->move)
		remove_sources(r);
	else
		answer(r);
}

static void commit(struct relay *r)
{
	Cpm__AppendReq *reqs = calloc(r->n_msgs, sizeof(*reqs));
	Cpm__AppendReq **ptrs = calloc(r->n_msgs, sizeof(*ptrs));
	if (reqs == NULL || ptrs == NULL) {
		free(reqs);
		free(ptrs);
		fail(r, "[SERVERBUG] Out of memory");
		return;
	}
	for (size_t i = 0; i < r->n_msgs; i++) {
		const struct relay_msg *m = &r->msgs[i];
		Cpm__AppendReq *ap = &reqs[i];
		cpm__append_req__init(ap);
		ap->user = r->owner;
		ap->folder = r->dest_folder;
		ap->sys_flags = m->sys_flags;
		ap->keywords = m->keywords;
		ap->n_keywords = m->n_keywords;
		ap->internaldate = m->date;
		ap->internaldate_tz = m->tz;
		ap->staging_id = m->staging_id;
		if (m->body != NULL) {
			ap->body.data = m->body;
			ap->body.len = m->size;
		}
		ptrs[i] = ap;
	}
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__MultiAppendReq q = CPM__MULTI_APPEND_REQ__INIT;
	q.messages = ptrs;
	q.n_messages = r->n_msgs;
	req.op_case = CPM__REQUEST__OP_MULTI_APPEND;
	req.multi_append = &q;
	relay_send(r, r->dest_shard, &req, append_commit_timeout(r->s, r->staged_bytes), on_commit);
	free(reqs);
	free(ptrs);
}

/* ---- 3. stage ------------------------------------------------------------------ */

static void stage_next(struct relay *r);
static void fetch_window(struct relay *r);

static void on_chunk(const Cpm__Response *resp, void *ctx)
{
	struct relay *r = ctx;
	if (!still_here(r))
		return;
	if (resp->status == CPM__STATUS__NOTFOUND) {
		fail(r, "%s: the staged copy was dropped by the destination; try again", r->what);
		return;
	}
	if (resp->status != CPM__STATUS__OK) {
		dest_failed(r, resp);
		return;
	}
	if (resp->result_case != CPM__RESPONSE__RESULT_APPEND_CHUNK || resp->append_chunk == NULL ||
	    resp->append_chunk->filled != r->off + r->window) {
		bad_response(r, "chunk");
		return;
	}
	r->off += r->window;
	if (r->off < r->msgs[r->cur].size) {
		fetch_window(r);
	} else {
		r->cur++;
		stage_next(r);
	}
}

static void on_window(const Cpm__Response *resp, void *ctx)
{
	struct relay *r = ctx;
	if (!still_here(r))
		return;
	if (resp->status != CPM__STATUS__OK) {
		src_failed(r, resp);
		return;
	}
	const struct relay_msg *m = &r->msgs[r->cur];
	const Cpm__FetchResp *f = resp->result_case == CPM__RESPONSE__RESULT_FETCH ? resp->fetch : NULL;
	const Cpm__MessageData *d = NULL;
	for (size_t i = 0; f != NULL && i < f->n_messages && d == NULL; i++)
		if (f->messages[i] != NULL && f->messages[i]->uid == m->uid)
			d = f->messages[i];
	if (f != NULL && d == NULL) {
		fail(r, "%s: Some of the requested messages no longer exist", r->what);
		return;
	}
	if (d == NULL || d->body.len == 0 || d->body.len > m->size - r->off) {
		bad_response(r, "window");
		return;
	}
	r->window = d->body.len;
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__AppendChunkReq q = CPM__APPEND_CHUNK_REQ__INIT;
	q.user = r->owner;
	q.staging_id = m->staging_id;
	q.offset = r->off;
	q.data = d->body; /* packed by the call: the response may go */
	req.op_case = CPM__REQUEST__OP_APPEND_CHUNK;
	req.append_chunk = &q;
	relay_send(r, r->dest_shard, &req, 0, on_chunk);
}

/* The next window of the message being staged, from the source. */
static void fetch_window(struct relay *r)
{
	const struct relay_msg *m = &r->msgs[r->cur];
	Cpm__UidRange one = CPM__UID_RANGE__INIT, *one_p = &one;
	one.first = one.last = m->uid;
	uint64_t left = m->size - r->off;
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FetchReq q = CPM__FETCH_REQ__INIT;
	q.user = r->src_owner;
	q.folder_id = r->folder_id;
	q.uidvalidity = r->uidvalidity;
	q.uids = &one_p;
	q.n_uids = 1;
	q.items = CPM__FETCH_ITEM__F_BODY;
	q.max_messages = 1;
	q.body_offset = r->off;
	q.body_len = left < r->chunk ? left : r->chunk;
	req.op_case = CPM__REQUEST__OP_FETCH;
	req.fetch = &q;
	relay_send(r, r->src_shard, &req, 0, on_window);
}

static void on_begin(const Cpm__Response *resp, void *ctx)
{
	struct relay *r = ctx;
	bool ok = resp->status == CPM__STATUS__OK && resp->result_case == CPM__RESPONSE__RESULT_APPEND_BEGIN &&
		  resp->append_begin != NULL && resp->append_begin->staging_id != 0;
	if (ok) /* kept even when the client is gone: relay_free aborts it */
		r->msgs[r->cur].staging_id = resp->append_begin->staging_id;
	if (!still_here(r))
		return;
	if (resp->status != CPM__STATUS__OK)
		dest_failed(r, resp);
	else if (!ok)
		bad_response(r, "begin");
	else {
		r->off = 0;
		fetch_window(r);
	}
}

/* Stages the next message without a body in memory; commits after the last. */
static void stage_next(struct relay *r)
{
	while (r->cur < r->n_msgs && r->msgs[r->cur].body != NULL)
		r->cur++;
	if (r->cur == r->n_msgs) {
		commit(r);
		return;
	}
	const struct relay_msg *m = &r->msgs[r->cur];
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__AppendBeginReq q = CPM__APPEND_BEGIN_REQ__INIT;
	q.user = r->owner;
	q.folder = r->dest_folder;
	q.size = m->size;
	q.pending_bytes = r->total_bytes - m->size;
	req.op_case = CPM__REQUEST__OP_APPEND_BEGIN;
	req.append_begin = &q;
	relay_send(r, r->dest_shard, &req, 0, on_begin);
}

/* ---- 2. read ------------------------------------------------------------------- */

static void fetch_page(struct relay *r, uint32_t from);

/* Keeps what m says of a message: 0, or -1 after answering. */
static int add_message(struct relay *r, const Cpm__MessageData *d)
{
	if (r->n_msgs == RELAY_MAX_MESSAGES) {
		fail(r, "[LIMIT] %s: more than %u messages to another user's mailbox at once", r->what,
		     RELAY_MAX_MESSAGES);
		return -1;
	}
	if (r->n_msgs == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 64;
		struct relay_msg *na = realloc(r->msgs, nc * sizeof(*na));
		if (na == NULL) {
			fail(r, "[SERVERBUG] Out of memory");
			return -1;
		}
		r->msgs = na;
		r->cap = nc;
	}
	struct relay_msg *m = &r->msgs[r->n_msgs++];
	memset(m, 0, sizeof(*m));
	m->uid = d->uid;
	m->sys_flags = d->sys_flags;
	m->date = d->internaldate;
	m->tz = d->internaldate_tz;
	m->size = d->size;
	r->total_bytes += d->size;
	bool oom = false;
	if (d->n_keywords > 0 && (m->keywords = calloc(d->n_keywords, sizeof(char *))) == NULL)
		oom = true;
	for (size_t k = 0; !oom && k < d->n_keywords; k++) {
		if ((m->keywords[k] = strdup(d->keywords[k])) == NULL)
			oom = true;
		else
			m->n_keywords++;
	}
	bool keep = !d->body_omitted && d->body.len == d->size && d->size < r->threshold &&
		    d->size <= RELAY_INLINE_MAX - r->inline_bytes;
	if (!oom && keep && d->size > 0) {
		if ((m->body = malloc(d->size)) == NULL)
			oom = true;
		else
			memcpy(m->body, d->body.data, d->size);
	}
	if (oom) {
		fail(r, "[SERVERBUG] Out of memory");
		return -1;
	}
	if (m->body != NULL) {
		r->inline_bytes += d->size;
		return 0;
	}
	r->staged_bytes += d->size;
	unsigned max = r->s->w->cfg->append_staging_max;
	if (++r->n_to_stage > max) {
		fail(r, "[LIMIT] %s: more than %u large messages to another user's mailbox at once", r->what, max);
		return -1;
	}
	return 0;
}

static void on_page(const Cpm__Response *resp, void *ctx)
{
	struct relay *r = ctx;
	if (!still_here(r))
		return;
	if (resp->status != CPM__STATUS__OK) {
		src_failed(r, resp);
		return;
	}
	const Cpm__FetchResp *f = resp->result_case == CPM__RESPONSE__RESULT_FETCH ? resp->fetch : NULL;
	if (f == NULL) {
		bad_response(r, "fetch");
		return;
	}
	for (size_t i = 0; i < f->n_messages; i++) {
		const Cpm__MessageData *d = f->messages[i];
		if (d == NULL || (r->n_msgs > 0 && d->uid <= r->msgs[r->n_msgs - 1].uid)) {
			bad_response(r, "fetch_order");
			return;
		}
		if (add_message(r, d) < 0)
			return;
	}
	if (f->more_from_uid != 0) {
		fetch_page(r, f->more_from_uid);
	} else if (r->n_msgs == 0) {
		session_tagged(r->s, "OK", "No messages found.");
		finish(r);
	} else {
		stage_next(r);
	}
}

/* The messages of the ranges from UID from on. */
static void fetch_page(struct relay *r, uint32_t from)
{
	Cpm__UidRange *rest = malloc(r->n_ranges * sizeof(*rest));
	size_t n = 0;
	for (size_t i = 0; rest != NULL && i < r->n_ranges; i++) {
		if (r->ranges[i].last < from)
			continue;
		rest[n] = r->ranges[i];
		if (rest[n].first < from)
			rest[n].first = from;
		n++;
	}
	Cpm__UidRange **ptrs = rest != NULL ? session_range_ptrs(rest, n) : NULL;
	if (ptrs == NULL && n > 0) {
		free(rest);
		fail(r, "[SERVERBUG] Out of memory");
		return;
	}
	if (n == 0) { /* cannot happen: more_from_uid is within the ranges */
		free(rest);
		bad_response(r, "fetch_from");
		return;
	}
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FetchReq q = CPM__FETCH_REQ__INIT;
	q.user = r->src_owner;
	q.folder_id = r->folder_id;
	q.uidvalidity = r->uidvalidity;
	q.uids = ptrs;
	q.n_uids = n;
	q.items = CPM__FETCH_ITEM__F_FLAGS | CPM__FETCH_ITEM__F_INTERNALDATE | CPM__FETCH_ITEM__F_SIZE |
		  CPM__FETCH_ITEM__F_BODY;
	q.body_limit = r->threshold - 1;
	req.op_case = CPM__REQUEST__OP_FETCH;
	req.fetch = &q;
	relay_send(r, r->src_shard, &req, 0, on_page);
	free(ptrs);
	free(rest);
}

/* ---- 1. check ------------------------------------------------------------------ */

static void on_rights(const Cpm__Response *resp, void *ctx)
{
	struct relay *r = ctx;
	if (!still_here(r))
		return;
	if (resp->status != CPM__STATUS__OK) {
		dest_failed(r, resp);
		return;
	}
	if (resp->result_case != CPM__RESPONSE__RESULT_ACL || resp->acl == NULL) {
		bad_response(r, "rights");
		return;
	}
	if (!(resp->acl->myrights & ACL_I)) {
		fail(r, "[NOPERM] %s: Permission denied (the i right is missing)", r->what);
		return;
	}
	if (r->n_ranges == 0) {
		session_tagged(r->s, "OK", "No messages found.");
		finish(r);
		return;
	}
	fetch_page(r, r->ranges[0].first);
}

static void check_dest(struct relay *r)
{
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__AclReq q = CPM__ACL_REQ__INIT;
	q.user = r->owner;
	q.name = r->dest_folder;
	q.action = CPM__ACL_ACTION__ACL_MYRIGHTS;
	req.op_case = CPM__REQUEST__OP_ACL;
	req.acl = &q;
	relay_send(r, r->dest_shard, &req, 0, on_rights);
}

void copy_relay_start(struct session *s, const Cpm__UidRange *ranges, size_t n, const struct mailbox_ref *dest,
		      const char *dest_name, bool move)
{
	const struct cpm_config *cfg = s->w->cfg;
	struct relay *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		session_done(s);
		return;
	}
	r->s = s;
	r->move = move;
	r->what = move ? "MOVE" : "COPY";
	r->dest_shard = dest->shard;
	snprintf(r->owner, sizeof(r->owner), "%s", dest->owner);
	r->dest_folder = strdup(dest->name);
	r->dest_name = strdup(dest_name);
	r->src_owner = strdup(s->sel.owner);
	r->src_shard = s->sel.shard;
	r->folder_id = s->sel.folder_id;
	r->uidvalidity = s->sel.uidvalidity;
	r->n_ranges = n;
	if (n > 0 && (r->ranges = malloc(n * sizeof(*r->ranges))) != NULL)
		memcpy(r->ranges, ranges, n * sizeof(*r->ranges));
	if (r->dest_folder == NULL || r->dest_name == NULL || r->src_owner == NULL || (n > 0 && r->ranges == NULL)) {
		fail(r, "[SERVERBUG] Out of memory");
		return;
	}
	uint64_t stream = cfg->append_stream_kb ? (uint64_t)cfg->append_stream_kb << 10 : RELAY_STREAM_DEFAULT;
	r->threshold = stream < RELAY_INLINE_MAX ? stream : RELAY_INLINE_MAX;
	r->chunk = cfg->append_chunk_kb ? (uint64_t)cfg->append_chunk_kb << 10 : RELAY_STREAM_DEFAULT;
	/* A MOVE must be able to remove what it copied, or it would leave copies. */
	if (move && (s->sel.rights & (ACL_T | ACL_E)) != (ACL_T | ACL_E)) {
		fail(r, "[NOPERM] MOVE: Permission denied (the t and e rights are needed on the source)");
		return;
	}
	check_dest(r);
}
