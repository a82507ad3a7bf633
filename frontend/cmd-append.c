/*
 * cmd-append: APPEND (RFC 3501 6.3.11) with APPENDUID (RFC 4315).
 *
 *   APPEND mailbox [(flags)] ["dd-Mon-yyyy hh:mm:ss +zzzz"] {literal}
 *
 * The parser has already received the whole literal (size-checked against
 * the configured maximum before the "+" continuation), so the handler only
 * validates the arguments and makes one AppendReq to the user's shard. The
 * back-end acknowledges only after its commit is durable, and dedupes by
 * request id, so a resent request never stores the message twice.
 *
 * Flags: \Seen \Answered \Flagged \Deleted \Draft (any case) and keywords
 * (atoms without "\"); \Recent and unknown \Flags are a BAD, as Dovecot
 * does. Keywords are deduplicated case-insensitively and bounded in number
 * and length. The date-time defaults to now in UTC.
 *
 * When the target is the selected folder, the new UID joins the session's
 * view at once (UIDs only grow, so it goes at the end) and the client gets
 * "* n EXISTS" before the tagged OK, as RFC 3501 asks of a server that
 * knows about the new message.
 *
 * Not yet (later issues): MULTIAPPEND (several messages), CATENATE, and
 * BINARY's literal8; they get a BAD instead of being half-done.
 */
#include "commands.h"

#include "fetch-flags.h"
#include "imap-date.h"
#include "imap-utf7.h"
#include "log.h"
#include "rpc-client.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Longest name shown in a human-readable response text. */
#define NAME_TEXT_MAX 200

_Static_assert(FETCH_FLAG_SEEN == CPM__SYS_FLAG__SEEN && FETCH_FLAG_ANSWERED == CPM__SYS_FLAG__ANSWERED &&
		       FETCH_FLAG_FLAGGED == CPM__SYS_FLAG__FLAGGED && FETCH_FLAG_DELETED == CPM__SYS_FLAG__DELETED &&
		       FETCH_FLAG_DRAFT == CPM__SYS_FLAG__DRAFT,
	       "fetch-flags bits must equal proto SysFlag");

struct append_ctx {
	struct session *s;
	struct buf name; /* UTF-8 folder name */
};

/* What the parsed arguments say. Pointers go into the command's args,
 * which stay valid until session_done. */
struct append_args {
	const struct imap_arg *mailbox;
	struct flag_set flags;
	time_t date;
	int tz;
	const struct imap_arg *message;
};

static void append_ctx_free(struct append_ctx *c)
{
	buf_free(&c->name);
	free(c);
}

/* name as the client spells it (modified UTF-7, printable ASCII), shortened. */
static void name_text(const char *utf8, char out[NAME_TEXT_MAX + 4])
{
	struct buf enc = {0};
	size_t n = 0;
	if (imap_utf8_to_mutf7(utf8, strlen(utf8), &enc) == 0 && enc.data != NULL) {
		for (size_t i = 0; i < enc.len && n < NAME_TEXT_MAX; i++) {
			unsigned char ch = enc.data[i];
			out[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
		}
		if (enc.len > NAME_TEXT_MAX) {
			memcpy(out + n, "...", 3);
			n += 3;
		}
	}
	out[n] = '\0';
	buf_free(&enc);
}

/* Validates the syntax. NULL on success, else the BAD text. */
static const char *parse_args(const struct imap_command *cmd, struct append_args *a)
{
	unsigned i = 1;
	if (cmd->nargs < 2)
		return "APPEND needs a mailbox and a message";
	a->mailbox = &cmd->args[0];
	if (arg_astring(a->mailbox) == NULL)
		return "Invalid mailbox name argument";
	if (cmd->args[i].type == IMAP_ARG_LIST) {
		const char *err = fetch_flags_parse_list(cmd->args[i].list, cmd->args[i].list_count, &a->flags);
		if (err != NULL)
			return err;
		i++;
	}
	a->date = time(NULL);
	a->tz = 0;
	if (i + 1 < cmd->nargs && cmd->args[i].type == IMAP_ARG_QUOTED) {
		time_t t;
		int tz;
		if (imap_datetime_parse(cmd->args[i].str, cmd->args[i].len, &t, &tz) < 0)
			return "Invalid date-time";
		a->date = t;
		a->tz = tz;
		i++;
	}
	if (i >= cmd->nargs)
		return "APPEND: missing message literal";
	const struct imap_arg *m = &cmd->args[i];
	if (m->type == IMAP_ARG_ATOM && m->len == 8 && strncasecmp(m->str, "CATENATE", 8) == 0)
		return "CATENATE is not supported";
	if (m->type != IMAP_ARG_LITERAL)
		return "APPEND: the message must be a literal";
	if (m->literal8)
		return "APPEND: literal8 (BINARY) is not supported";
	a->message = m;
	if (i + 1 != cmd->nargs)
		return "APPEND: one message per command (MULTIAPPEND is not supported)";
	return NULL;
}

/* Adds uid to the session's view of the selected folder, keeping it sorted.
 * Returns the new message's sequence number, or 0 when it was not added. */
static uint32_t view_add_uid(struct selected_folder *f, uint32_t uid)
{
	if (uid == 0 || f->count == UINT32_MAX)
		return 0;
	size_t lo = 0, hi = f->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < f->count && f->uids[lo] == uid)
		return 0; /* already known */
	uint32_t *p = reallocarray(f->uids, (size_t)f->count + 1, sizeof(*p));
	if (p == NULL)
		return 0;
	memmove(p + lo + 1, p + lo, (f->count - lo) * sizeof(*p));
	p[lo] = uid;
	f->uids = p;
	f->count++;
	if (f->uidnext <= uid && uid < UINT32_MAX)
		f->uidnext = uid + 1;
	return (uint32_t)lo + 1;
}

static void on_append(const Cpm__Response *resp, void *ctx)
{
	struct append_ctx *c = ctx;
	struct session *s = c->s;
	if (session_closed(s)) {
		append_ctx_free(c);
		session_unref(s);
		return;
	}
	const char *name = (const char *)c->name.data;
	if (resp->status == CPM__STATUS__OK && resp->result_case == CPM__RESPONSE__RESULT_APPEND &&
	    resp->append != NULL) {
		const Cpm__AppendResp *r = resp->append;
		struct selected_folder *f = &s->sel;
		if (s->state == SESSION_SELECTED && f->name != NULL && strcmp(f->name, name) == 0 &&
		    f->uidvalidity == r->uidvalidity) {
			if (view_add_uid(f, r->uid) > 0)
				session_untagged(s, "%u EXISTS", (unsigned)f->count);
		}
		session_tagged(s, "OK", "[APPENDUID %u %u] Append completed.", (unsigned)r->uidvalidity,
			       (unsigned)r->uid);
	} else if (resp->status == CPM__STATUS__OK) {
		log_error("event=bad_rpc_response cmd=APPEND");
		session_tagged(s, "NO", "[SERVERBUG] APPEND: bad back-end response");
	} else if (resp->status == CPM__STATUS__NONEXISTENT || resp->status == CPM__STATUS__NOTFOUND) {
		char text[NAME_TEXT_MAX + 4];
		name_text(name, text);
		session_tagged(s, "NO", "[TRYCREATE] Mailbox doesn't exist: %s", text);
	} else {
		session_tagged_rpc_error(s, resp, "APPEND");
	}
	append_ctx_free(c);
	session_done(s);
	session_unref(s);
}

void cmd_append(struct session *s, const struct imap_command *cmd)
{
	struct append_args a;
	memset(&a, 0, sizeof(a));
	const char *err = parse_args(cmd, &a);
	if (err != NULL) {
		session_tagged(s, "BAD", "%s", err);
		session_done(s);
		return;
	}
	struct append_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		session_done(s);
		return;
	}
	c->s = s;
	if (arg_mailbox(a.mailbox, &c->name) < 0 || c->name.len == 0) {
		session_tagged(s, "NO", "[CANNOT] Invalid mailbox name");
		append_ctx_free(c);
		session_done(s);
		return;
	}
	if (a.message->len == 0) {
		session_tagged(s, "NO", "Can't save an empty message");
		append_ctx_free(c);
		session_done(s);
		return;
	}

	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__AppendReq ap = CPM__APPEND_REQ__INIT;
	ap.user = s->user;
	ap.folder = (char *)c->name.data;
	ap.sys_flags = a.flags.sys;
	ap.keywords = a.flags.keywords;
	ap.n_keywords = a.flags.n_keywords;
	ap.internaldate = (int64_t)a.date;
	ap.internaldate_tz = a.tz;
	ap.body.data = (uint8_t *)a.message->str;
	ap.body.len = a.message->len;
	req.op_case = CPM__REQUEST__OP_APPEND;
	req.append = &ap;
	session_ref(s);
	rpc_call(s->w->rpc, s->shard, &req, 0, on_append, c);
}
