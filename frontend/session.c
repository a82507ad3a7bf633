/*
 * session: IMAP protocol state of one connection and the command dispatcher.
 *
 * RFC 3501 section 3 states: not authenticated → authenticated → selected →
 * logout. The table below says, per command, in which states it is allowed;
 * session_run_command checks that and calls the handler (frontend/cmd-*.c).
 * Handlers finish with session_done(), now or from an RPC callback.
 *
 * All output goes through the writers here into the connection's output
 * buffer; the worker flushes it once per loop iteration.
 */
#include "session.h"
#include "recent.h"

#include "commands.h"
#include "condstore.h"
#include "conn.h"
#include "feed-sub.h"
#include "imap-quote.h"
#include "imap-seqset.h"
#include "imap-utf7.h"
#include "log.h"
#include "tls.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct cmd_def commands[] = {
	{"CAPABILITY", CMD_ANY, cmd_capability, NULL, 0},
	{"NOOP", CMD_ANY, cmd_noop, NULL, 0},
	{"LOGOUT", CMD_ANY, cmd_logout, NULL, 0},
	{"ID", CMD_ANY, cmd_id, NULL, 0},
	{"ENABLE", CMD_AUTH | CMD_SELECTED, cmd_enable, NULL, 0},
	{"STARTTLS", CMD_NOT_AUTH, cmd_starttls, NULL, 0},
	{"LOGIN", CMD_NOT_AUTH, cmd_login, NULL, 0},
	{"AUTHENTICATE", CMD_NOT_AUTH, cmd_authenticate, NULL, 0},
	{"CREATE", CMD_AUTH | CMD_SELECTED, cmd_create, NULL, 0},
	{"LIST", CMD_AUTH | CMD_SELECTED, cmd_list, NULL, 0},
	{"LSUB", CMD_AUTH | CMD_SELECTED, cmd_list, NULL, 0},
	{"DELETE", CMD_AUTH | CMD_SELECTED, cmd_delete, NULL, 0},
	{"RENAME", CMD_AUTH | CMD_SELECTED, cmd_rename, NULL, 0},
	{"SUBSCRIBE", CMD_AUTH | CMD_SELECTED, cmd_subscribe, NULL, 0},
	{"UNSUBSCRIBE", CMD_AUTH | CMD_SELECTED, cmd_subscribe, NULL, 0},
	{"STATUS", CMD_AUTH | CMD_SELECTED, cmd_status, NULL, 0},
	{"GETQUOTAROOT", CMD_AUTH | CMD_SELECTED, cmd_getquotaroot, NULL, 0},
	{"GETQUOTA", CMD_AUTH | CMD_SELECTED, cmd_getquota, NULL, 0},
	{"SETQUOTA", CMD_AUTH | CMD_SELECTED, cmd_setquota, NULL, 0},
	{"SELECT", CMD_AUTH | CMD_SELECTED, cmd_select, NULL, 0},
	{"EXAMINE", CMD_AUTH | CMD_SELECTED, cmd_select, NULL, 0},
	/* APPEND also takes a TEXT literal of a CATENATE list (depth 1). */
	{"APPEND", CMD_AUTH | CMD_SELECTED, cmd_append, cmd_append_literal, 1},
	{"NAMESPACE", CMD_AUTH | CMD_SELECTED, cmd_namespace, NULL, 0},
	{"SETACL", CMD_AUTH | CMD_SELECTED, cmd_setacl, NULL, 0},
	{"DELETEACL", CMD_AUTH | CMD_SELECTED, cmd_deleteacl, NULL, 0},
	{"GETACL", CMD_AUTH | CMD_SELECTED, cmd_getacl, NULL, 0},
	{"LISTRIGHTS", CMD_AUTH | CMD_SELECTED, cmd_listrights, NULL, 0},
	{"MYRIGHTS", CMD_AUTH | CMD_SELECTED, cmd_myrights, NULL, 0},
	{"CHECK", CMD_SELECTED, cmd_check, NULL, 0},
	{"IDLE", CMD_AUTH | CMD_SELECTED, cmd_idle, NULL, 0},
	{"NOTIFY", CMD_AUTH | CMD_SELECTED, cmd_notify, NULL, 0},
	{"UNSELECT", CMD_SELECTED, cmd_unselect, NULL, 0},
	{"FETCH", CMD_SELECTED, cmd_fetch, NULL, 0},
	{"STORE", CMD_SELECTED, cmd_store, NULL, 0},
	{"SEARCH", CMD_SELECTED, cmd_search, NULL, 0},
	{"SORT", CMD_SELECTED, cmd_sort, NULL, 0},
	{"THREAD", CMD_SELECTED, cmd_thread, NULL, 0},
	{"EXPUNGE", CMD_SELECTED, cmd_expunge, NULL, 0},
	{"CLOSE", CMD_SELECTED, cmd_close, NULL, 0},
	{"COPY", CMD_SELECTED, cmd_copy, NULL, 0},
	{"MOVE", CMD_SELECTED, cmd_copy, NULL, 0},
	{"UID", CMD_SELECTED, cmd_uid, NULL, 0},
};

struct session *session_new(struct fe_worker *w, struct conn *c, bool tls_active, bool loopback)
{
	struct session *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->w = w;
	s->conn = c;
	s->id = ++w->conn_seq;
	s->state = SESSION_NOT_AUTH;
	s->tls_active = tls_active;
	s->loopback = loopback;
	s->secure_channel = tls_active || loopback || w->cfg->allow_plaintext_auth;
	s->refs = 1;
	return s;
}

static void session_free(struct session *s)
{
	if (s->cmd_state_free != NULL && s->cmd_state != NULL)
		s->cmd_state_free(s->cmd_state);
	session_unselect(s);
	notify_state_free(&s->notify);
	free(s->user);
	free(s->tag);
	free(s);
}

void session_ref(struct session *s)
{
	s->refs++;
}

void session_unref(struct session *s)
{
	if (--s->refs == 0)
		session_free(s);
}

bool session_closed(const struct session *s)
{
	return s->conn == NULL;
}

void session_close(struct session *s)
{
	s->conn = NULL;
	session_unref(s);
}

void session_set_peer_loopback(struct session *s, bool loopback)
{
	s->loopback = loopback;
	s->secure_channel = s->tls_active || loopback || s->w->cfg->allow_plaintext_auth;
}

struct buf *session_outbuf(struct session *s)
{
	static __thread struct buf sink; /* writes after close go nowhere */
	if (s->conn == NULL) {
		buf_reset(&sink);
		return &sink;
	}
	conn_mark_dirty(s->conn);
	return conn_outbuf(s->conn);
}

void session_flush(struct session *s)
{
	if (s->conn != NULL)
		conn_mark_dirty(s->conn);
}

bool session_output_full(struct session *s)
{
	return s->conn != NULL && conn_output_pending(s->conn) > CONN_MAX_BUFFERED;
}

void session_on_drain(struct session *s, void (*cb)(void *arg), void *arg)
{
	if (s->conn == NULL)
		cb(arg);
	else
		conn_on_drain(s->conn, cb, arg);
}

void session_write(struct session *s, const void *data, size_t len)
{
	if (s->conn != NULL)
		buf_append(session_outbuf(s), data, len);
}

void session_untagged(struct session *s, const char *fmt, ...)
{
	if (s->conn == NULL)
		return;
	struct buf *b = session_outbuf(s);
	buf_append_str(b, "* ");
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
	buf_append_str(b, "\r\n");
}

void session_tagged(struct session *s, const char *result, const char *fmt, ...)
{
	if (s->conn == NULL)
		return;
	struct buf *b = session_outbuf(s);
	buf_printf(b, "%s %s ", s->tag ? s->tag : "*", result);
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
	buf_append_str(b, "\r\n");
}

void session_continue(struct session *s, const char *text)
{
	if (s->conn == NULL)
		return;
	buf_printf(session_outbuf(s), "+ %s\r\n", text);
}

uint64_t session_rpc(struct session *s, size_t shard, Cpm__Request *req, unsigned timeout_ms, rpc_done_cb *cb,
		     void *arg)
{
	req->actor = s->user;
	return rpc_call(s->w->rpc, shard, req, timeout_ms, cb, arg);
}

void session_tagged_rpc_error(struct session *s, const Cpm__Response *resp, const char *what)
{
	const char *err = resp->error && resp->error[0] ? resp->error : "failed";
	switch (resp->status) {
	case CPM__STATUS__UNAVAILABLE:
		session_tagged(s, "NO", "[UNAVAILABLE] %s: storage temporarily unavailable, try again", what);
		break;
	case CPM__STATUS__NONEXISTENT:
	case CPM__STATUS__NOTFOUND:
		session_tagged(s, "NO", "[NONEXISTENT] %s: %s", what, err);
		break;
	case CPM__STATUS__EXISTS:
		session_tagged(s, "NO", "[ALREADYEXISTS] %s: %s", what, err);
		break;
	case CPM__STATUS__OVERQUOTA:
		session_tagged(s, "NO", "[OVERQUOTA] %s: %s", what, err);
		break;
	case CPM__STATUS__INVALID:
		session_tagged(s, "NO", "[CANNOT] %s: %s", what, err);
		break;
	case CPM__STATUS__UIDVALIDITY_CHANGED:
		session_tagged(s, "NO", "%s: mailbox was deleted or recreated", what);
		break;
	case CPM__STATUS__NOPERM:
		session_tagged(s, "NO", "[NOPERM] %s: %s", what, err);
		break;
	default:
		session_tagged(s, "NO", "[SERVERBUG] %s: internal error", what);
		log_error("event=rpc_error what=%s status=%d error=%s", what, (int)resp->status,
			  log_quote(err, strlen(err)));
		break;
	}
}

void session_write_capabilities(struct session *s, struct buf *b)
{
	buf_append_str(b, "IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE ESEARCH WITHIN CHILDREN LIST-EXTENDED LIST-STATUS STATUS=SIZE QUOTA QUOTA=RES-STORAGE MULTIAPPEND CATENATE URL-PARTIAL SPECIAL-USE CREATE-SPECIAL-USE CONDSTORE QRESYNC BINARY PREVIEW NOTIFY ACL RIGHTS=texk");
	buf_append_str(b, " SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES");
	if (s->state == SESSION_NOT_AUTH) {
		if (!s->tls_active && s->w->tls != NULL)
			buf_append_str(b, " STARTTLS");
		buf_append_str(b, " AUTH=SCRAM-SHA-256");
		if (s->secure_channel)
			buf_append_str(b, " AUTH=PLAIN");
		else
			buf_append_str(b, " LOGINDISABLED");
	}
}

void session_greet(struct session *s)
{
	struct buf *b = session_outbuf(s);
	buf_append_str(b, "* OK [CAPABILITY ");
	session_write_capabilities(s, b);
	buf_printf(b, "] %s ready.\r\n", s->w->cfg->hostname);
}

void session_disconnect(struct session *s, const char *reason)
{
	if (s->conn != NULL)
		conn_close(s->conn, reason);
}

void session_expect_line(struct session *s, session_line_cb *cb, size_t max_len)
{
	s->line_cb = cb;
	if (s->conn != NULL)
		conn_expect_line(s->conn, max_len);
}

void session_raw_line(struct session *s, const char *line, size_t len)
{
	session_line_cb *cb = s->line_cb;
	s->line_cb = NULL;
	if (cb != NULL)
		cb(s, line, len);
}

void session_done(struct session *s)
{
	if (s->cmd_state_free != NULL && s->cmd_state != NULL)
		s->cmd_state_free(s->cmd_state);
	s->cmd_state = NULL;
	s->cmd_state_free = NULL;
	s->literal_cb = NULL;
	s->literal_cmd = false;
	s->cmd = NULL;
	free(s->tag);
	s->tag = NULL;
	/* NOTIFY: what changed while the command ran goes out now, before the
	 * next command is read. */
	if (s->conn != NULL && !notify_push_after_command(s))
		conn_command_done(s->conn);
}

static const struct cmd_def *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

void session_run_command(struct session *s, const struct imap_command *cmd)
{
	s->cmd = cmd;
	free(s->tag);
	s->tag = strdup(cmd->tag);
	if (s->tag == NULL) {
		session_disconnect(s, "out of memory");
		return;
	}
	const struct cmd_def *def = find_command(cmd->name);
	if (def == NULL) {
		session_tagged(s, "BAD", "Unknown command %s", log_quote(cmd->name, strlen(cmd->name)));
		session_done(s);
		return;
	}
	unsigned bit = s->state == SESSION_NOT_AUTH ? CMD_NOT_AUTH
		       : s->state == SESSION_AUTH   ? CMD_AUTH
		       : s->state == SESSION_SELECTED ? CMD_SELECTED
						      : 0;
	if ((def->states & bit) == 0) {
		const char *why = s->state == SESSION_NOT_AUTH ? "log in first"
				  : s->state == SESSION_AUTH   ? (def->states & CMD_SELECTED ? "no mailbox selected"
										    : "already authenticated")
							       : "not allowed now";
		session_tagged(s, "BAD", "%s not allowed in this state: %s", def->name, why);
		session_done(s);
		return;
	}
	def->handler(s, cmd);
}

void session_parse_error(struct session *s, const struct imap_parse_error *e)
{
	const char *msg = e->message ? e->message : "Syntax error";
	if (e->fatal) {
		session_untagged(s, "BYE %s", msg);
	} else {
		struct buf *b = session_outbuf(s);
		if (e->tag != NULL && imap_is_atom(e->tag, strlen(e->tag)))
			buf_printf(b, "%s BAD %s\r\n", e->tag, msg);
		else
			buf_printf(b, "* BAD %s\r\n", msg);
	}
	/* The command a handler took at a large literal ends here (its
	 * cmd_state frees what it staged). */
	if (s->literal_cmd)
		session_done(s);
}

/* ---- large literals (imap-parser.h "Streaming") --------------------------- */

void session_literal(struct session *s, const struct imap_command *partial, const struct imap_literal_info *li)
{
	free(s->tag);
	s->tag = strdup(partial->tag);
	if (s->tag == NULL) {
		session_disconnect(s, "out of memory");
		return;
	}
	const struct cmd_def *def = find_command(partial->name);
	unsigned bit = s->state == SESSION_AUTH ? CMD_AUTH : s->state == SESSION_SELECTED ? CMD_SELECTED : 0;
	if (s->state == SESSION_NOT_AUTH) {
		/* Nobody needs megabytes before logging in. */
		session_tagged(s, "BAD", "[TOOBIG] Literal too big before authentication");
		session_literal_skip(s);
		session_done(s);
		return;
	}
	if (def != NULL && def->literal != NULL && (def->states & bit) != 0 && li->depth <= def->literal_depth) {
		s->literal_cmd = true;
		def->literal(s, partial, li);
		return;
	}
	if (s->conn == NULL || conn_literal_buffer(s->conn) < 0) {
		session_tagged(s, "BAD", "[TOOBIG] Command too big");
		session_literal_skip(s);
		session_done(s);
		return;
	}
	if (li->sync)
		session_continue(s, "OK");
	conn_command_done(s->conn);
}

void session_literal_data(struct session *s, const struct imap_literal_chunk *ch)
{
	if (s->literal_cb != NULL) {
		s->literal_cb(s, ch);
		return;
	}
	session_literal_skip(s); /* nobody asked for it */
	if (s->conn != NULL)
		conn_command_done(s->conn);
}

void session_literal_stream(struct session *s, session_literal_data_cb *cb)
{
	if (s->conn == NULL)
		return;
	s->literal_cb = cb;
	if (conn_literal_stream(s->conn))
		session_continue(s, "Ready for literal data");
	conn_command_done(s->conn);
}

void session_literal_resume(struct session *s)
{
	if (s->conn != NULL)
		conn_command_done(s->conn);
}

void session_literal_skip(struct session *s)
{
	s->literal_cb = NULL;
	if (s->conn != NULL)
		conn_skip_command(s->conn);
}

/* ---- selected folder ------------------------------------------------------ */

void session_select(struct session *s, const char *name, const char *owner, size_t shard,
		    const Cpm__FolderSelectResp *r, bool readonly)
{
	session_unselect(s);
	struct selected_folder *f = &s->sel;
	f->name = strdup(name);
	f->owner = strdup(owner);
	f->shard = shard;
	f->rights = r->rights;
	f->folder_id = r->info ? r->info->folder_id : 0;
	f->uidvalidity = r->info ? r->info->uidvalidity : 0;
	f->uidnext = r->info ? r->info->uidnext : 0;
	f->readonly = readonly;
	f->highestmodseq = r->info ? r->info->highestmodseq : 0;
	s->sel_changed = false;
	if (s->w->feed != NULL && f->folder_id != 0)
		feed_sub_watch(s->w->feed, f->shard, f->folder_id, s);
	f->count = (uint32_t)r->n_uids;
	f->uids = NULL;
	if (r->n_uids > 0) {
		f->uids = malloc(r->n_uids * sizeof(uint32_t));
		if (f->uids == NULL)
			f->count = 0;
		else
			memcpy(f->uids, r->uids, r->n_uids * sizeof(uint32_t));
	}
	recent_open(f, r->first_recent_uid);
	s->state = SESSION_SELECTED;
}

void session_unselect(struct session *s)
{
	free(s->deferred);
	s->deferred = NULL;
	s->n_deferred = 0;
	free(s->pushed_new);
	s->pushed_new = NULL;
	s->n_pushed_new = 0;
	if (s->sel.folder_id != 0 && s->w->feed != NULL)
		feed_sub_unwatch(s->w->feed, s->sel.shard, s->sel.folder_id, s);
	free(s->sel.name);
	free(s->sel.owner);
	free(s->sel.uids);
	recent_free(&s->sel);
	memset(&s->sel, 0, sizeof(s->sel));
	if (s->state == SESSION_SELECTED)
		s->state = SESSION_AUTH;
}

bool uid_ranges_contain(const Cpm__UidRange *ranges, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ranges[mid].last < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && ranges[lo].first <= uid;
}

size_t view_lower_bound(const struct selected_folder *f, uint32_t uid)
{
	size_t lo = 0, hi = f->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint32_t session_seq_of_uid(const struct session *s, uint32_t uid)
{
	size_t i = view_lower_bound(&s->sel, uid);
	return (i < s->sel.count && s->sel.uids[i] == uid) ? (uint32_t)i + 1 : 0;
}

uint32_t session_view_remove(struct session *s, uint32_t uid)
{
	uint32_t seq = session_seq_of_uid(s, uid);
	if (seq == 0)
		return 0;
	memmove(&s->sel.uids[seq - 1], &s->sel.uids[seq], (s->sel.count - seq) * sizeof(uint32_t));
	s->sel.count--;
	return seq;
}

Cpm__UidRange **session_range_ptrs(Cpm__UidRange *ranges, size_t n)
{
	Cpm__UidRange **p = n ? calloc(n, sizeof(*p)) : NULL;
	for (size_t i = 0; p != NULL && i < n; i++)
		p[i] = &ranges[i];
	return p;
}

void session_report_expunged(struct session *s, const uint32_t *uids, size_t n)
{
	if (s->defer_expunge) {
		notify_defer_expunged(s, uids, n);
		return;
	}
	if (s->n_deferred > 0) {
		/* First what a SELECTED-DELAYED push kept back. */
		uint32_t *d = s->deferred;
		size_t nd = s->n_deferred;
		s->deferred = NULL;
		s->n_deferred = 0;
		session_report_expunged(s, d, nd);
		free(d);
	}
	if (s->qresync) {
		uint32_t *gone = n ? malloc(n * sizeof(uint32_t)) : NULL;
		size_t n_gone = 0;
		for (size_t i = 0; i < n; i++) {
			if (session_view_remove(s, uids[i]) == 0)
				continue;
			if (gone != NULL)
				gone[n_gone++] = uids[i];
			else
				session_untagged(s, "VANISHED %u", uids[i]); /* out of memory: one by one */
		}
		condstore_write_vanished(s, false, gone, n_gone);
		free(gone);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t seq = session_view_remove(s, uids[i]);
		if (seq != 0)
			session_untagged(s, "%u EXPUNGE", seq);
	}
}

int session_write_set(struct session *s, const struct imap_arg *a, bool uid_mode, const char *done_text,
		      Cpm__UidRange **ranges_r, size_t *n_r)
{
	if (s->sel.readonly)
		session_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
	else if (session_uid_ranges(s, a, uid_mode, ranges_r, n_r) == 0 && *n_r == 0)
		session_tagged(s, "OK", "%s", done_text);
	else if (*n_r > 0)
		return 1;
	session_done(s);
	return 0;
}

static int uid_ranges(struct session *s, const struct imap_arg *a, bool uid_mode, bool clip, Cpm__UidRange **ranges_r,
		      size_t *n_r);

int session_uid_ranges(struct session *s, const struct imap_arg *a, bool uid_mode, Cpm__UidRange **ranges_r,
		       size_t *n_r)
{
	return uid_ranges(s, a, uid_mode, false, ranges_r, n_r);
}

int session_search_ranges(struct session *s, const struct imap_arg *a, bool uid_mode, Cpm__UidRange **ranges_r,
			  size_t *n_r)
{
	return uid_ranges(s, a, uid_mode, true, ranges_r, n_r);
}

static int uid_ranges(struct session *s, const struct imap_arg *a, bool uid_mode, bool clip, Cpm__UidRange **ranges_r,
		      size_t *n_r)
{
	*ranges_r = NULL;
	*n_r = 0;
	struct imap_seqset set;
	if (a->type != IMAP_ARG_ATOM || a->str == NULL || imap_seqset_parse(a->str, a->len, &set) < 0) {
		session_tagged(s, "BAD", "Invalid messageset");
		return -1;
	}
	const struct selected_folder *f = &s->sel;
	uint32_t star = uid_mode ? (f->count > 0 ? f->uids[f->count - 1] : 0) : f->count;
	int rc = 0;
	if (imap_seqset_resolve(&set, star) < 0) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		rc = -1;
	} else if (!uid_mode && !clip && set.count > 0 && set.ranges[set.count - 1].hi > f->count) {
		session_tagged(s, "BAD", "Invalid messageset");
		rc = -1;
	} else if (set.count > 0 && (*ranges_r = calloc(set.count, sizeof(**ranges_r))) == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		rc = -1;
	}
	for (size_t i = 0; rc == 0 && i < set.count; i++) {
		uint32_t first, last;
		if (uid_mode) {
			size_t lo = view_lower_bound(f, set.ranges[i].lo);
			if (lo >= f->count || f->uids[lo] > set.ranges[i].hi)
				continue; /* no UID of the view in this range */
			size_t hi = view_lower_bound(f, set.ranges[i].hi);
			if (hi >= f->count || f->uids[hi] > set.ranges[i].hi)
				hi--; /* hi > lo here: f->uids[lo] <= set.ranges[i].hi */
			first = f->uids[lo];
			last = f->uids[hi];
		} else {
			if (set.ranges[i].lo > f->count)
				continue; /* clip: past the last message, matches nothing */
			first = f->uids[set.ranges[i].lo - 1];
			last = f->uids[(set.ranges[i].hi > f->count ? f->count : set.ranges[i].hi) - 1];
		}
		Cpm__UidRange init = CPM__UID_RANGE__INIT;
		init.first = first;
		init.last = last;
		(*ranges_r)[(*n_r)++] = init;
	}
	imap_seqset_free(&set);
	if (rc == 0 && *n_r == 0) {
		free(*ranges_r);
		*ranges_r = NULL;
	}
	return rc;
}

/* ---- argument helpers ----------------------------------------------------- */

const char *arg_astring(const struct imap_arg *a)
{
	if (a == NULL)
		return NULL;
	/* NIL is an atom, so an astring too (RFC 3501 9: "NIL" is a mailbox or a search string). */
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_QUOTED && a->type != IMAP_ARG_LITERAL && a->type != IMAP_ARG_NIL)
		return NULL;
	if (memchr(a->str, '\0', a->len) != NULL)
		return NULL;
	return a->str;
}

int arg_mailbox(const struct imap_arg *a, struct buf *out)
{
	const char *name = arg_astring(a);
	buf_reset(out);
	if (name == NULL)
		return -1;
	if (imap_mutf7_to_utf8(name, strlen(name), out) < 0)
		return -1;
	/* "INBOX" in any case, as a whole name or as the first component. */
	if (out->len >= 5 && strncasecmp((char *)out->data, "INBOX", 5) == 0 &&
	    (out->len == 5 || out->data[5] == '/'))
		memcpy(out->data, "INBOX", 5);
	return 0;
}

void write_mailbox(struct buf *b, const char *utf8_name)
{
	struct buf enc;
	buf_init(&enc);
	if (imap_utf8_to_mutf7(utf8_name, strlen(utf8_name), &enc) < 0)
		imap_write_astring(b, utf8_name, strlen(utf8_name));
	else
		imap_write_astring(b, (const char *)enc.data, enc.len);
	buf_free(&enc);
}
