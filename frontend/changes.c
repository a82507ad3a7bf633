/*
 * changes: the paged change-log walk behind NOOP/IDLE/NOTIFY sync, QRESYNC
 * and UID FETCH (VANISHED).
 *
 * Identical requests are shared: when a change reaches a folder that many
 * sessions of this worker watch, they all ask "what changed after MODSEQ n"
 * with the same n. The first one sends the ChangesReq; the others wait on
 * it and get the same answer (one RPC per worker, folder and MODSEQ, not
 * one per session). The in-flight requests are indexed by folder id in the
 * worker (fe_worker.changes_inflight).
 */
#include "changes.h"

#include "rpc-client.h"
#include "u64map.h"

#include <stdlib.h>
#include <string.h>

struct changes_ctx {
	struct session *s;
	uint64_t folder_id;
	uint32_t uidvalidity;
	uint64_t since;
	changes_page_fn *page;
	changes_done_fn *done;
	void *arg;
	struct changes_ctx *next_waiter;
};

/* One ChangesReq in flight and the walks waiting for its answer. */
struct inflight {
	struct fe_worker *w;
	size_t shard;
	char *user;
	uint64_t folder_id;
	uint32_t uidvalidity;
	uint64_t since;
	struct changes_ctx *waiters; /* in arrival order */
	struct changes_ctx **tail;
	struct inflight *next;       /* same folder id, other request */
};

static void on_changes(const Cpm__Response *resp, void *ctx);
static void walker_step(struct changes_ctx *c, const Cpm__Response *resp);

static bool same_request(const struct inflight *f, const struct changes_ctx *c)
{
	return f->shard == c->s->sel.shard && f->uidvalidity == c->uidvalidity && f->since == c->since &&
	       strcmp(f->user, c->s->sel.owner) == 0;
}

static void request(struct changes_ctx *c)
{
	struct session *s = c->s;
	struct fe_worker *w = s->w;
	struct inflight *head = u64map_get(&w->changes_inflight, c->folder_id);
	for (struct inflight *f = head; f != NULL; f = f->next) {
		if (same_request(f, c)) {
			c->next_waiter = NULL;
			*f->tail = c;
			f->tail = &c->next_waiter;
			return;
		}
	}
	struct inflight *f = calloc(1, sizeof(*f));
	char *user = f != NULL ? strdup(s->sel.owner) : NULL;
	if (f == NULL || user == NULL || u64map_put(&w->changes_inflight, c->folder_id, f) < 0) {
		free(f);
		free(user);
		Cpm__Response fail = CPM__RESPONSE__INIT;
		fail.status = CPM__STATUS__INTERNAL;
		walker_step(c, &fail);
		return;
	}
	f->w = w;
	f->shard = s->sel.shard;
	f->user = user;
	f->folder_id = c->folder_id;
	f->uidvalidity = c->uidvalidity;
	f->since = c->since;
	c->next_waiter = NULL;
	f->waiters = c;
	f->tail = &c->next_waiter;
	f->next = head;

	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__ChangesReq q = CPM__CHANGES_REQ__INIT;
	q.user = s->sel.owner;
	q.folder_id = c->folder_id;
	q.uidvalidity = c->uidvalidity;
	q.since_modseq = c->since;
	req.op_case = CPM__REQUEST__OP_CHANGES;
	req.changes = &q;
	session_rpc(s, s->sel.shard, &req, 0, on_changes, f);
}

/* Unlinks f from the worker's index. */
static void inflight_remove(struct inflight *f)
{
	struct u64map *m = &f->w->changes_inflight;
	struct inflight *head = u64map_get(m, f->folder_id);
	if (head == f) {
		/* Delete then insert the same key: the map cannot need to grow. */
		u64map_del(m, f->folder_id);
		if (f->next != NULL)
			u64map_put(m, f->folder_id, f->next);
		return;
	}
	for (struct inflight *p = head; p != NULL; p = p->next) {
		if (p->next == f) {
			p->next = f->next;
			return;
		}
	}
}

static void finish(struct changes_ctx *c, bool ok, const Cpm__Response *resp)
{
	struct session *s = c->s;
	c->done(s, ok, resp, c->arg);
	free(c);
	session_unref(s);
}

/* One walker gets an answer: hand the page on, ask for the next or end. */
static void walker_step(struct changes_ctx *c, const Cpm__Response *resp)
{
	struct session *s = c->s;
	if (session_closed(s) || s->state != SESSION_SELECTED || s->sel.folder_id != c->folder_id) {
		finish(c, false, resp);
		return;
	}
	if (resp->status != CPM__STATUS__OK || resp->result_case != CPM__RESPONSE__RESULT_CHANGES ||
	    resp->changes == NULL) {
		finish(c, false, resp);
		return;
	}
	const Cpm__ChangesResp *r = resp->changes;
	c->page(s, r, c->arg);
	if (r->next_modseq != 0 && r->next_modseq > c->since) {
		c->since = r->next_modseq;
		request(c);
		return;
	}
	finish(c, true, resp);
}

static void on_changes(const Cpm__Response *resp, void *ctx)
{
	struct inflight *f = ctx;
	/* Out of the index first: a waiter's next page may start a new request. */
	inflight_remove(f);
	struct changes_ctx *c = f->waiters;
	while (c != NULL) {
		struct changes_ctx *next = c->next_waiter;
		walker_step(c, resp);
		c = next;
	}
	free(f->user);
	free(f);
}

int changes_walk(struct session *s, uint64_t since, changes_page_fn *page, changes_done_fn *done, void *arg)
{
	struct changes_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -1;
	c->s = s;
	c->folder_id = s->sel.folder_id;
	c->uidvalidity = s->sel.uidvalidity;
	c->since = since;
	c->page = page;
	c->done = done;
	c->arg = arg;
	session_ref(s);
	request(c);
	return 0;
}
