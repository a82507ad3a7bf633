/*
 * cmd-idle: IDLE (RFC 2177). The client waits; the server reports changes
 * of the selected folder as they happen — pushed by the back-ends' change
 * feed (feed-sub.c), read from the change log (sync.c) — until the client
 * sends DONE. In the authenticated state IDLE only waits for DONE.
 *
 * A sync in flight when DONE arrives is finished first: its EXPUNGE
 * responses must come while the command is still in progress (RFC 3501
 * 7.4.1), so the tagged OK waits for it.
 */
#include "commands.h"

#include <strings.h>

static void idle_finish(struct session *s)
{
	s->idle_done_pending = false;
	if (s->idle_bad)
		session_tagged(s, "BAD", "Expected DONE");
	else
		session_tagged(s, "OK", "Idle completed.");
	s->idle_bad = false;
	session_done(s);
}

static void idle_synced(struct session *s);

/* After the sync: NOTIFY MessageNew's FETCH of new messages, if asked. */
static void idle_sync_done(struct session *s)
{
	if (!notify_fetch_new(s, idle_synced))
		idle_synced(s);
}

static void idle_synced(struct session *s)
{
	s->syncing = false;
	session_flush(s);
	if (!s->idling) {
		if (s->idle_done_pending)
			idle_finish(s);
		return;
	}
	if (s->sel_changed)
		idle_sync(s); /* more came while we asked */
}

void idle_sync(struct session *s)
{
	if (s->state != SESSION_SELECTED || s->syncing)
		return;
	s->syncing = true;
	notify_collect_new(s);
	session_sync(s, idle_sync_done);
}

static void idle_line(struct session *s, const char *line, size_t len)
{
	s->idling = false;
	s->idle_bad = line == NULL || len != 4 || strncasecmp(line, "DONE", 4) != 0;
	if (s->syncing)
		s->idle_done_pending = true;
	else
		idle_finish(s);
}

void cmd_idle(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		session_tagged(s, "BAD", "IDLE takes no arguments");
		session_done(s);
		return;
	}
	session_continue(s, "idling");
	s->idling = true;
	session_expect_line(s, idle_line, 64);
	/* Report at once what changed since the last command. */
	idle_sync(s);
}
