/*
 * sync: bringing a session's view of its selected folder up to date.
 *
 * The view is the UID list the client knows (sequence numbers are indexes
 * into it) plus the folder's MODSEQ when the view was last synchronised.
 * The back-end's change log answers "what changed after MODSEQ n" with the
 * messages that exist now (with flags) and the UIDs expunged; the session
 * turns that into the untagged responses RFC 3501 prescribes: EXPUNGE for
 * UIDs the client knows that are gone, FETCH (FLAGS) for known messages
 * that changed, and EXISTS when new messages were added. A large backlog
 * comes in pages.
 */
#include "session.h"

#include "commands.h"

#include "fetch-flags.h"
#include "rpc-client.h"

#include <stdlib.h>
#include <string.h>

struct sync_ctx {
	struct session *s;
	void (*done)(struct session *s);
};

static void sync_request(struct sync_ctx *c);

/* Adds new UIDs in order (a UID below the view's last one, which only our
 * own APPEND can cause, is inserted where it belongs). Returns 1 if added. */
static int view_add(struct selected_folder *f, uint32_t uid)
{
	uint32_t *nu = realloc(f->uids, (f->count + 1) * sizeof(uint32_t));
	if (nu == NULL)
		return 0;
	f->uids = nu;
	size_t i = f->count;
	while (i > 0 && f->uids[i - 1] > uid)
		i--;
	memmove(&f->uids[i + 1], &f->uids[i], (f->count - i) * sizeof(uint32_t));
	f->uids[i] = uid;
	f->count++;
	if (uid >= f->uidnext)
		f->uidnext = uid + 1;
	return 1;
}

static void apply_changes(struct session *s, const Cpm__ChangesResp *r)
{
	session_report_expunged(s, r->expunged, r->n_expunged);
	bool grew = false;
	for (size_t i = 0; i < r->n_changed; i++) {
		const Cpm__MessageData *m = r->changed[i];
		uint32_t seq = session_seq_of_uid(s, m->uid);
		if (seq == 0) {
			/* Not known yet: new (the client fetches what it wants). */
			grew |= view_add(&s->sel, m->uid);
			continue;
		}
		struct buf *b = session_outbuf(s);
		buf_printf(b, "* %u FETCH (FLAGS ", seq);
		bool recent = s->sel.first_recent_uid != 0 && m->uid >= s->sel.first_recent_uid;
		fetch_flags_write(b, m->sys_flags, recent, m->keywords, m->n_keywords);
		buf_append_str(b, ")\r\n");
	}
	if (grew)
		session_untagged(s, "%u EXISTS", s->sel.count);
}

static void on_changes(const Cpm__Response *resp, void *ctx)
{
	struct sync_ctx *c = ctx;
	struct session *s = c->s;
	if (session_closed(s) || s->state != SESSION_SELECTED) {
		if (!session_closed(s))
			c->done(s);
		free(c);
		session_unref(s);
		return;
	}
	bool more = false;
	if (resp->status == CPM__STATUS__OK && resp->result_case == CPM__RESPONSE__RESULT_CHANGES) {
		const Cpm__ChangesResp *r = resp->changes;
		apply_changes(s, r);
		more = r->next_modseq != 0 && r->next_modseq > s->sel.highestmodseq;
		s->sel.highestmodseq = more ? r->next_modseq : r->highestmodseq;
	}
	/* A failed sync (shard down, folder gone) reports nothing: the next one catches up. */
	if (more) {
		sync_request(c); /* keeps the reference */
		return;
	}
	c->done(s);
	free(c);
	session_unref(s);
}

static void sync_request(struct sync_ctx *c)
{
	struct session *s = c->s;
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__ChangesReq q = CPM__CHANGES_REQ__INIT;
	q.user = s->user;
	q.folder_id = s->sel.folder_id;
	q.uidvalidity = s->sel.uidvalidity;
	q.since_modseq = s->sel.highestmodseq;
	req.op_case = CPM__REQUEST__OP_CHANGES;
	req.changes = &q;
	rpc_call(s->w->rpc, s->shard, &req, 0, on_changes, c);
}

void session_sync(struct session *s, void (*done)(struct session *s))
{
	struct sync_ctx *c = s->state == SESSION_SELECTED ? calloc(1, sizeof(*c)) : NULL;
	if (c == NULL) {
		done(s);
		return;
	}
	c->s = s;
	c->done = done;
	s->sel_changed = false;
	session_ref(s);
	sync_request(c);
}

void session_feed_event(void *session, const Cpm__FeedEvent *ev)
{
	struct session *s = session;
	if (session_closed(s))
		return; /* freed when its last callback returns; nothing to tell */
	s->sel_changed = true;
	if (s->idling && !s->syncing)
		idle_sync(s);
}
