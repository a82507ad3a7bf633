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
#include "recent.h"

#include "commands.h"

#include "changes.h"
#include "condstore.h"

#include <stdlib.h>
#include <string.h>

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

static void apply_changes(struct session *s, const Cpm__ChangesResp *r, void *arg)
{
	session_report_expunged(s, r->expunged, r->n_expunged);
	bool grew = false;
	for (size_t i = 0; i < r->n_changed; i++) {
		const Cpm__MessageData *m = r->changed[i];
		uint32_t seq = session_seq_of_uid(s, m->uid);
		if (seq == 0) {
			/* Not known yet: new (the client fetches what it wants). */
			bool added = view_add(&s->sel, m->uid);
			grew |= added;
			if (added && s->collect_new) {
				uint32_t *nu = realloc(s->pushed_new, (s->n_pushed_new + 1) * sizeof(uint32_t));
				if (nu != NULL) {
					s->pushed_new = nu;
					s->pushed_new[s->n_pushed_new++] = m->uid;
				}
			}
			continue;
		}
		condstore_write_fetch(s, seq, m, false, true);
	}
	if (grew)
		session_untagged(s, "%u EXISTS", s->sel.count);
	if (r->recent_uid > s->sel.folder_recent_uid)
		s->sel.folder_recent_uid = r->recent_uid;
	/* The view now reflects the log up to this page. */
	uint64_t upto = r->next_modseq != 0 ? r->next_modseq : r->highestmodseq;
	if (upto > s->sel.highestmodseq)
		s->sel.highestmodseq = upto;
}

/* A failed sync (shard down, folder gone) reports nothing: the next one catches up. */
static void sync_done(struct session *s, bool ok, const Cpm__Response *last, void *arg)
{
	void (*done)(struct session *s) = (void (*)(struct session *))arg;
	if (!session_closed(s))
		recent_claim(s, done);
}

void session_sync(struct session *s, void (*done)(struct session *s))
{
	if (s->state != SESSION_SELECTED) {
		done(s);
		return;
	}
	s->sel_changed = false;
	if (changes_walk(s, s->sel.highestmodseq, apply_changes, sync_done, (void *)done) < 0)
		done(s);
}

void session_feed_event(void *session, const Cpm__FeedEvent *ev)
{
	struct session *s = session;
	if (session_closed(s))
		return; /* freed when its last callback returns; nothing to tell */
	s->sel_changed = true;
	if (s->idling && !s->syncing)
		idle_sync(s);
	else if (!s->idling)
		notify_push_selected(s, ev);
}
