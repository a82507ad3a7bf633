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
 * Other folders (INBOXES, PERSONAL, SUBSCRIBED, SUBTREE, MAILBOXES) are
 * followed through the user's notification log (backend/outlog.h): the
 * session watches the user's feed topic; on a hint it reads the log after
 * its cursor (OutbandReadReq, so order and completeness come from LMDB) and
 * answers MessageNew / MessageExpunge / FlagChange with one
 * "* STATUS name (MESSAGES UIDNEXT UNSEEN [HIGHESTMODSEQ])" per folder and
 * batch, MailboxName with "* LIST" (\NonExistent for a deleted folder,
 * ("OLDNAME" (old)) for a rename), SubscriptionChange with "* LIST" with or
 * without \Subscribed. NOTIFY SET STATUS first sends STATUS (with
 * UIDVALIDITY) for every other folder followed for message events.
 * Pushes run between commands, one step at a time (selected first), with
 * command input held; during IDLE, other folders' news is written at once.
 *
 * Deviations, documented: a push also carries flag changes when the
 * SELECTED group asked only for MessageNew/MessageExpunge (a flag change
 * alone does not start a push, though); changes made by the session itself
 * in other folders are reported too (the log does not say who made them).
 * MessageNew's fetch attributes are answered after the EXISTS with one
 * "* n FETCH (...)" per new message of the selected folder (cmd-fetch.c
 * fetch_untagged: no \Seen side effect).
 */
#include "commands.h"

#include "conn.h"
#include "feed-sub.h"
#include "notify-spec.h"
#include "rpc-client.h"

#include <stdlib.h>
#include <string.h>

#define NOTIFY_READ_PAGE 256

struct notify_state {
	struct session *s;
	struct notify_spec spec;
	unsigned sel_events;     /* events for the selected folder */
	bool sel_delayed;        /* SELECTED-DELAYED */
	bool others;             /* some group follows other folders: the user's log is read */
	bool watching;           /* registered on the user's feed topic */
	uint64_t log_id, cursor; /* position in the user's notification log */
	bool user_pending;       /* a hint came: read the log at the next chance */
	bool pushing;            /* a push holds the connection */
	bool idle_push;          /* the push runs inside IDLE (the connection is IDLE's) */
	char **subs;             /* subscribed folder names (SUBSCRIBED filter) */
	size_t n_subs;
	char **status_names;     /* folders that need a STATUS after this batch */
	size_t n_status;
};

static void free_names(char ***names, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*names)[i]);
	free(*names);
	*names = NULL;
	*n = 0;
}

void notify_state_free(struct notify_state **n)
{
	if (*n == NULL)
		return;
	struct notify_state *st = *n;
	if (st->watching)
		feed_sub_unwatch_user(st->s->w->feed, st->s->shard, st->s->user, st);
	notify_spec_free(&st->spec);
	free_names(&st->subs, &st->n_subs);
	free_names(&st->status_names, &st->n_status);
	free(st);
	*n = NULL;
}

static bool has_name(char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* Adds name to a set of names. -1 when out of memory (the set is unchanged). */
static int add_name(char ***names, size_t *n, const char *name)
{
	if (has_name(*names, *n, name))
		return 0;
	char **nn = realloc(*names, (*n + 1) * sizeof(char *));
	if (nn == NULL)
		return -1;
	*names = nn;
	if ((nn[*n] = strdup(name)) == NULL)
		return -1;
	(*n)++;
	return 0;
}

static void drop_name(char **names, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++) {
		if (strcmp(names[i], name) == 0) {
			free(names[i]);
			names[i] = names[--*n];
			return;
		}
	}
}

static unsigned folder_events(const struct notify_state *n, const char *name)
{
	return notify_spec_folder(&n->spec, name, has_name(n->subs, n->n_subs, name));
}

/* ---- pushes between commands -------------------------------------------------- */

static bool push_next(struct session *s);

/* One push step ended: the next one, or release the connection. */
static void try_push(struct session *s);

static void push_step_done(struct session *s)
{
	struct notify_state *n = s->notify;
	if (session_closed(s))
		return;
	session_flush(s);
	if (n != NULL && n->idle_push) {
		/* STATUS and LIST may come at any time; IDLE keeps the connection. */
		n->idle_push = n->pushing = false;
		try_push(s);
		return;
	}
	if (n != NULL && push_next(s))
		return;
	if (n != NULL)
		n->pushing = false;
	if (s->conn != NULL)
		conn_command_done(s->conn);
}

void notify_collect_new(struct session *s)
{
	struct notify_state *n = s->notify;
	s->collect_new = n != NULL && n->spec.n_fetch_atts > 0 && (n->sel_events & NE_MESSAGE_NEW);
}

static void fetched_new(struct session *s)
{
	free(s->pushed_new);
	s->pushed_new = NULL;
	s->n_pushed_new = 0;
}

static void after_fetch_new(struct session *s)
{
	fetched_new(s);
	if (s->notify_fetch_then != NULL) {
		void (*then)(struct session *) = s->notify_fetch_then;
		s->notify_fetch_then = NULL;
		then(s);
	}
}

bool notify_fetch_new(struct session *s, void (*then)(struct session *s))
{
	struct notify_state *n = s->notify;
	s->collect_new = false;
	if (n == NULL || s->n_pushed_new == 0 || session_closed(s)) {
		fetched_new(s);
		return false;
	}
	s->notify_fetch_then = then;
	if (fetch_untagged(s, n->spec.fetch_atts, n->spec.n_fetch_atts, s->pushed_new, s->n_pushed_new,
			   after_fetch_new) == 0)
		return true;
	s->notify_fetch_then = NULL;
	fetched_new(s);
	return false;
}

static void selected_done(struct session *s)
{
	s->syncing = false;
	s->defer_expunge = false;
	/* MessageNew (fetch-att): the new messages' FETCH after their EXISTS. */
	if (!notify_fetch_new(s, push_step_done))
		push_step_done(s);
}

static void read_log(struct session *s);

/* Starts the next push step with the connection held; false when there is
 * nothing to do. The selected folder goes first. */
static bool push_next(struct session *s)
{
	struct notify_state *n = s->notify;
	if (n->sel_events != 0 && s->state == SESSION_SELECTED && !s->syncing && !s->idling && s->sel_changed) {
		s->syncing = true;
		s->defer_expunge = n->sel_delayed;
		notify_collect_new(s);
		session_sync(s, selected_done);
		return true;
	}
	if (n->others && n->user_pending) {
		n->user_pending = false;
		read_log(s);
		return true;
	}
	return false;
}

/* Something may be worth pushing: push now if no command runs. */
static void try_push(struct session *s)
{
	struct notify_state *n = s->notify;
	if (n == NULL || n->pushing || s->conn == NULL)
		return;
	if (s->idling) {
		/* The selected folder is IDLE's; other folders' news can come now. */
		if (n->others && n->user_pending) {
			n->pushing = n->idle_push = true;
			n->user_pending = false;
			read_log(s);
		}
		return;
	}
	if (s->cmd != NULL)
		return;
	if (!conn_hold(s->conn))
		return;
	n->pushing = true;
	if (!push_next(s)) {
		n->pushing = false;
		conn_command_done(s->conn);
	}
}

void notify_push_selected(struct session *s, const Cpm__FeedEvent *ev)
{
	if (s->notify == NULL)
		return;
	if (ev != NULL && ev->kind == CPM__CHANGE_KIND__C_FLAGS && !(s->notify->sel_events & NE_FLAG_CHANGE))
		return;
	try_push(s);
}

bool notify_push_after_command(struct session *s)
{
	struct notify_state *n = s->notify;
	if (n == NULL || n->pushing)
		return false;
	n->pushing = true;
	if (push_next(s))
		return true;
	n->pushing = false;
	return false;
}

/* feed_user_cb: the user's notification log grew. */
static void on_user_hint(void *watcher, const char *user)
{
	struct notify_state *n = watcher;
	n->user_pending = true;
	try_push(n->s);
}

/* ---- STATUS of other folders ------------------------------------------------------- */

/* HIGHESTMODSEQ goes with CONDSTORE enabled, or when the folder's events
 * include FlagChange (a flag change moves only it), as Dovecot does. */
static void write_status(struct session *s, const Cpm__FolderInfo *fi, bool uidvalidity)
{
	struct buf *b = session_outbuf(s);
	buf_append_str(b, "* STATUS ");
	write_mailbox(b, fi->name);
	buf_printf(b, " (MESSAGES %u UIDNEXT %u", fi->exists, fi->uidnext);
	if (uidvalidity)
		buf_printf(b, " UIDVALIDITY %u", fi->uidvalidity);
	buf_printf(b, " UNSEEN %u", fi->unseen);
	if (s->condstore || (s->notify != NULL && (folder_events(s->notify, fi->name) & NE_FLAG_CHANGE)))
		buf_printf(b, " HIGHESTMODSEQ %llu", (unsigned long long)fi->highestmodseq);
	buf_append_str(b, ")\r\n");
}

/* A FolderListReq and what to do with its answer. */
struct folders_ctx {
	struct session *s;
	bool initial; /* NOTIFY SET: learn subscriptions; STATUS of every followed folder with STATUS */
	void (*done)(struct session *s, bool ok, void *arg);
	void *arg;
};

static void on_folders(const Cpm__Response *resp, void *ctx)
{
	struct folders_ctx *c = ctx;
	struct session *s = c->s;
	struct notify_state *n = s->notify;
	bool ok = resp->status == CPM__STATUS__OK && resp->result_case == CPM__RESPONSE__RESULT_FOLDER_LIST;
	if (!session_closed(s) && n != NULL && ok) {
		const Cpm__FolderListResp *r = resp->folder_list;
		for (size_t i = 0; c->initial && i < r->n_folders; i++)
			if (r->folders[i]->subscribed)
				add_name(&n->subs, &n->n_subs, r->folders[i]->name);
		for (size_t i = 0; i < r->n_folders; i++) {
			const Cpm__FolderInfo *fi = r->folders[i];
			bool selected = s->state == SESSION_SELECTED && fi->folder_id == s->sel.folder_id;
			bool want = c->initial ? n->spec.status && !selected &&
							 (folder_events(n, fi->name) & (NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE))
					       : has_name(n->status_names, n->n_status, fi->name);
			if (want)
				write_status(s, fi, c->initial);
		}
	}
	if (n != NULL)
		free_names(&n->status_names, &n->n_status);
	c->done(s, ok, c->arg);
	free(c);
	session_unref(s);
}

/* 0, or -1 when out of memory (done is not called then). */
static int list_folders(struct session *s, bool initial, void (*done)(struct session *s, bool ok, void *arg),
			void *arg)
{
	struct folders_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -1;
	c->s = s;
	c->initial = initial;
	c->done = done;
	c->arg = arg;
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FolderListReq q = CPM__FOLDER_LIST_REQ__INIT;
	q.user = s->user;
	req.op_case = CPM__REQUEST__OP_FOLDER_LIST;
	req.folder_list = &q;
	session_ref(s);
	session_rpc(s, s->shard, &req, 0, on_folders, c);
	return 0;
}

/* ---- other folders: the user's notification log ---------------------------------- */

struct read_ctx {
	struct session *s;
	unsigned gen;  /* s->notify_gen when started: a NOTIFY since then makes it stale */
	bool from_now; /* NOTIFY SET: only learn the log's head */
	void (*done)(struct session *s, bool ok, void *arg); /* NULL: a push step */
	void *arg;
};

static void on_log(const Cpm__Response *resp, void *ctx);

static void send_read(struct read_ctx *c)
{
	struct session *s = c->s;
	struct notify_state *n = s->notify;
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__OutbandReadReq q = CPM__OUTBAND_READ_REQ__INIT;
	q.user = s->user;
	q.after = n->cursor;
	q.log_id = n->log_id;
	q.max = NOTIFY_READ_PAGE;
	q.from_now = c->from_now;
	req.op_case = CPM__REQUEST__OP_OUTBAND_READ;
	req.outband_read = &q;
	session_ref(s);
	session_rpc(s, s->shard, &req, 0, on_log, c);
}

static void read_finish(struct session *s, bool ok, void *arg)
{
	struct read_ctx *c = arg;
	if (c->gen != s->notify_gen) {
		/* NOTIFY changed meanwhile (possible only for a push inside IDLE):
		 * this read belongs to a specification that is gone. */
		free(c);
		return;
	}
	if (c->done != NULL)
		c->done(s, ok, c->arg);
	else
		push_step_done(s);
	free(c);
}

static int read_start(struct session *s, bool from_now, void (*done)(struct session *s, bool ok, void *arg),
		      void *arg)
{
	struct read_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -1;
	c->s = s;
	c->gen = s->notify_gen;
	c->from_now = from_now;
	c->done = done;
	c->arg = arg;
	send_read(c);
	return 0;
}

static void read_log(struct session *s)
{
	if (read_start(s, false, NULL, NULL) < 0)
		push_step_done(s);
}

static void write_list(struct session *s, const char *attrs, const char *name, const char *old)
{
	struct buf *b = session_outbuf(s);
	buf_printf(b, "* LIST (%s) \"/\" ", attrs);
	write_mailbox(b, name);
	if (old != NULL) {
		buf_append_str(b, " (\"OLDNAME\" (");
		write_mailbox(b, old);
		buf_append_str(b, "))");
	}
	buf_append_str(b, "\r\n");
}

/* One log entry: LIST lines now; folders that need a STATUS collected for the batch. */
static void handle_entry(struct session *s, const Cpm__OutbandEntry *e)
{
	struct notify_state *n = s->notify;
	const char *name = e->folder_name != NULL ? e->folder_name : "";
	if (name[0] == '\0')
		return;
	switch (e->kind) {
	case CPM__CHANGE_KIND__C_APPEND:
	case CPM__CHANGE_KIND__C_EXPUNGE:
	case CPM__CHANGE_KIND__C_FLAGS: {
		if (s->state == SESSION_SELECTED && e->folder_id == s->sel.folder_id)
			return; /* the selected folder reports itself */
		unsigned want = e->kind == CPM__CHANGE_KIND__C_APPEND	 ? NE_MESSAGE_NEW
				: e->kind == CPM__CHANGE_KIND__C_EXPUNGE ? NE_MESSAGE_EXPUNGE
									  : NE_FLAG_CHANGE;
		if (folder_events(n, name) & want)
			add_name(&n->status_names, &n->n_status, name);
		return;
	}
	case CPM__CHANGE_KIND__C_FOLDER_CREATE:
		if (folder_events(n, name) & NE_MAILBOX_NAME)
			write_list(s, "", name, NULL);
		return;
	case CPM__CHANGE_KIND__C_FOLDER_DELETE:
		if (folder_events(n, name) & NE_MAILBOX_NAME)
			write_list(s, "\\NonExistent", name, NULL);
		drop_name(n->status_names, &n->n_status, name);
		return;
	case CPM__CHANGE_KIND__C_FOLDER_RENAME: {
		const char *old = e->old_folder_name != NULL && e->old_folder_name[0] ? e->old_folder_name : NULL;
		if ((folder_events(n, name) | (old != NULL ? folder_events(n, old) : 0)) & NE_MAILBOX_NAME)
			write_list(s, "", name, old);
		return;
	}
	case CPM__CHANGE_KIND__C_FOLDER_SUBSCRIBE:
	case CPM__CHANGE_KIND__C_FOLDER_UNSUBSCRIBE: {
		bool sub = e->kind == CPM__CHANGE_KIND__C_FOLDER_SUBSCRIBE;
		if (sub)
			add_name(&n->subs, &n->n_subs, name);
		else
			drop_name(n->subs, &n->n_subs, name);
		if (folder_events(n, name) & NE_SUBSCRIPTION_CHANGE)
			write_list(s, sub ? "\\Subscribed" : "", name, NULL);
		return;
	}
	default:
		return;
	}
}

static void on_log(const Cpm__Response *resp, void *ctx)
{
	struct read_ctx *c = ctx;
	struct session *s = c->s;
	struct notify_state *n = s->notify;
	bool ok = resp->status == CPM__STATUS__OK && resp->result_case == CPM__RESPONSE__RESULT_OUTBAND_READ &&
		  resp->outband_read != NULL;
	if (session_closed(s) || n == NULL || !ok || c->gen != s->notify_gen) {
		read_finish(s, false, c); /* a failed read: the next hint tries again */
		session_unref(s);
		return;
	}
	const Cpm__OutbandReadResp *r = resp->outband_read;
	if (c->from_now || r->resync_needed) {
		/* Start (again) at the head: a pruned log costs the notifications in between. */
		n->log_id = r->log_id;
		n->cursor = r->head;
		read_finish(s, true, c);
		session_unref(s);
		return;
	}
	for (size_t i = 0; i < r->n_entries; i++) {
		handle_entry(s, r->entries[i]);
		if (r->entries[i]->seq > n->cursor)
			n->cursor = r->entries[i]->seq;
	}
	if (r->more && r->n_entries > 0)
		send_read(c);
	else if (n->n_status == 0 || list_folders(s, false, read_finish, c) < 0)
		read_finish(s, true, c);
	session_unref(s);
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

static void set_finish(struct session *s, bool ok, void *arg)
{
	if (session_closed(s))
		return;
	if (!ok) {
		notify_state_free(&s->notify);
		session_tagged(s, "NO", "[UNAVAILABLE] NOTIFY: the mailbox store did not answer, try again");
	} else {
		session_tagged(s, "OK", "NOTIFY completed.");
	}
	session_done(s);
}

static void set_listed_head(struct session *s, bool ok, void *arg)
{
	if (session_closed(s))
		return;
	if (!ok || list_folders(s, true, set_finish, NULL) < 0)
		set_finish(s, false, NULL);
}

void cmd_notify(struct session *s, const struct imap_command *cmd)
{
	struct notify_state *n = calloc(1, sizeof(*n));
	if (n == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		session_done(s);
		return;
	}
	n->s = s;
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
	if (fetch_items_valid(n->spec.fetch_atts, n->spec.n_fetch_atts) < 0) {
		session_tagged(s, "BAD", "Invalid MessageNew fetch attribute");
		notify_state_free(&n);
		session_done(s);
		return;
	}
	notify_state_free(&s->notify);
	s->notify_gen++;
	if (n->spec.none) {
		notify_state_free(&n);
		session_tagged(s, "OK", "NOTIFY completed.");
		session_done(s);
		return;
	}
	n->sel_events = notify_spec_selected(&n->spec, &n->sel_delayed);
	n->others = n->spec.status;
	for (size_t i = 0; i < n->spec.n_groups; i++)
		if (n->spec.groups[i].events != 0 && n->spec.groups[i].filter != NF_SELECTED &&
		    n->spec.groups[i].filter != NF_SELECTED_DELAYED)
			n->others = true;
	s->notify = n;
	if (!n->others) {
		session_tagged(s, "OK", "NOTIFY completed.");
		session_done(s);
		return;
	}
	/* Watch the user's topic before reading the log's head, then learn the
	 * subscriptions (and send the STATUS of SET (STATUS)). */
	n->watching = feed_sub_watch_user(s->w->feed, s->shard, s->user, on_user_hint, n) == 0;
	if (!n->watching || read_start(s, true, set_listed_head, NULL) < 0) {
		notify_state_free(&s->notify);
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		session_done(s);
	}
}
