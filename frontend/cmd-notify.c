/*
 * cmd-notify: NOTIFY (RFC 5465).
 *
 * NOTIFY SET replaces the session's event specification (notify-spec.h);
 * NOTIFY NONE drops it. For the selected folder (SELECTED,
 * SELECTED-DELAYED) the change feed's hints are turned into the usual
 * untagged EXISTS / FETCH / EXPUNGE (or VANISHED) at once whenever no
 * command is running — read from the change log exactly like NOOP does
 * (sync.c), with command input held meanwhile so sequence numbers never
 * move under a command. With SELECTED-DELAYED, expunges are kept back and
 * reported at the next command that allows EXPUNGE responses (NOOP, CHECK,
 * IDLE, EXPUNGE, MOVE). Changes seen while a command runs are reported
 * right after its tagged response.
 *
 * Deviation, documented: a push also carries flag changes when the SELECTED
 * group asked only for MessageNew/MessageExpunge (a flag change alone does
 * not start a push, though).
 */
#include "commands.h"

#include "conn.h"
#include "notify-spec.h"

#include <stdlib.h>
#include <string.h>

struct notify_state {
	struct notify_spec spec;
	unsigned sel_events;   /* events for the selected folder */
	bool sel_delayed;      /* SELECTED-DELAYED */
};

void notify_state_free(struct notify_state **n)
{
	if (*n == NULL)
		return;
	notify_spec_free(&(*n)->spec);
	free(*n);
	*n = NULL;
}

/* ---- the selected folder ------------------------------------------------------ */

static void push_done(struct session *s)
{
	s->syncing = false;
	s->defer_expunge = false;
	session_flush(s);
	if (s->conn != NULL)
		conn_command_done(s->conn);
}

/* Starts a push with the connection held; false when there is nothing to do. */
static bool push_start(struct session *s)
{
	if (s->notify == NULL || s->notify->sel_events == 0 || s->state != SESSION_SELECTED || s->syncing ||
	    s->idling || !s->sel_changed)
		return false;
	s->syncing = true;
	s->defer_expunge = s->notify->sel_delayed;
	session_sync(s, push_done);
	return true;
}

void notify_push_selected(struct session *s, const Cpm__FeedEvent *ev)
{
	if (s->notify == NULL || s->cmd != NULL || s->conn == NULL)
		return;
	if (ev != NULL && ev->kind == CPM__CHANGE_KIND__C_FLAGS && !(s->notify->sel_events & NE_FLAG_CHANGE))
		return;
	if (!conn_hold(s->conn))
		return;
	if (!push_start(s))
		conn_command_done(s->conn);
}

bool notify_push_after_command(struct session *s)
{
	return push_start(s);
}

void notify_defer_expunged(struct session *s, const uint32_t *uids, size_t n)
{
	if (n == 0)
		return;
	uint32_t *d = realloc(s->deferred, (s->n_deferred + n) * sizeof(uint32_t));
	if (d == NULL) {
		/* Cannot keep them: report now rather than lose them. */
		s->defer_expunge = false;
		session_report_expunged(s, uids, n);
		s->defer_expunge = true;
		return;
	}
	s->deferred = d;
	/* Merge two ascending lists in place from the back. */
	size_t i = s->n_deferred, j = n, k = s->n_deferred + n;
	while (j > 0) {
		if (i > 0 && d[i - 1] > uids[j - 1])
			d[--k] = d[--i];
		else
			d[--k] = uids[--j];
	}
	s->n_deferred += n;
	size_t w = 0;
	for (size_t r = 0; r < s->n_deferred; r++)
		if (w == 0 || d[w - 1] != d[r])
			d[w++] = d[r];
	s->n_deferred = w;
}

/* ---- the command ---------------------------------------------------------------- */

void cmd_notify(struct session *s, const struct imap_command *cmd)
{
	struct notify_state *n = calloc(1, sizeof(*n));
	if (n == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		session_done(s);
		return;
	}
	const char *err = NULL;
	switch (notify_spec_parse(cmd->args, cmd->nargs, arg_mailbox, &n->spec, &err)) {
	case NOTIFY_OK:
		break;
	case NOTIFY_BADEVENT: {
		struct buf text = {0};
		notify_spec_write_supported(&text);
		session_tagged(s, "NO", "[BADEVENT %.*s] Unsupported NOTIFY event", (int)text.len,
			       (const char *)text.data);
		buf_free(&text);
		notify_state_free(&n);
		session_done(s);
		return;
	}
	case NOTIFY_NOMEM:
		err = "[SERVERBUG] Out of memory";
		/* fall through */
	case NOTIFY_BAD:
	default:
		session_tagged(s, err != NULL && err[0] == '[' ? "NO" : "BAD", "%s", err ? err : "Invalid NOTIFY");
		notify_state_free(&n);
		session_done(s);
		return;
	}
	notify_state_free(&s->notify);
	if (n->spec.none) {
		notify_state_free(&n);
	} else {
		n->sel_events = notify_spec_selected(&n->spec, &n->sel_delayed);
		s->notify = n;
	}
	session_tagged(s, "OK", "NOTIFY completed.");
	session_done(s);
}
