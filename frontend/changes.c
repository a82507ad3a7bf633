/*
 * changes: the paged change-log walk behind NOOP/IDLE sync, QRESYNC and
 * UID FETCH (VANISHED).
 */
#include "changes.h"

#include "rpc-client.h"

#include <stdlib.h>

struct changes_ctx {
	struct session *s;
	uint64_t folder_id;
	uint32_t uidvalidity;
	uint64_t since;
	changes_page_fn *page;
	changes_done_fn *done;
	void *arg;
};

static void on_changes(const Cpm__Response *resp, void *ctx);

static void request(struct changes_ctx *c)
{
	struct session *s = c->s;
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__ChangesReq q = CPM__CHANGES_REQ__INIT;
	q.user = s->user;
	q.folder_id = c->folder_id;
	q.uidvalidity = c->uidvalidity;
	q.since_modseq = c->since;
	req.op_case = CPM__REQUEST__OP_CHANGES;
	req.changes = &q;
	rpc_call(s->w->rpc, s->shard, &req, 0, on_changes, c);
}

static void finish(struct changes_ctx *c, bool ok, const Cpm__Response *resp)
{
	struct session *s = c->s;
	c->done(s, ok, resp, c->arg);
	free(c);
	session_unref(s);
}

static void on_changes(const Cpm__Response *resp, void *ctx)
{
	struct changes_ctx *c = ctx;
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
