/*
 * cmd-append: APPEND (RFC 3501 6.3.11) with APPENDUID (RFC 4315), and
 * MULTIAPPEND (RFC 3502).
 *
 *   APPEND mailbox [(flags)] ["dd-Mon-yyyy hh:mm:ss +zzzz"] {literal}
 *                 [[(flags)] ["date"] {literal} ...]
 *
 * The parser has already received the whole literals (size-checked against
 * the configured maximum before the "+" continuation), so the handler only
 * validates the arguments and makes one AppendReq (or one MultiAppendReq:
 * all messages or none) to the user's shard. The back-end acknowledges only
 * after its commit is durable, and dedupes by request id, so a resent
 * request never stores a message twice.
 *
 * Flags: \Seen \Answered \Flagged \Deleted \Draft (any case) and keywords
 * (atoms without "\"); \Recent and unknown \Flags are a BAD, as Dovecot
 * does. Keywords are deduplicated case-insensitively and bounded in number
 * and length. The date-time defaults to now in UTC.
 *
 * When the target is the selected folder, the session syncs its view
 * (sync.c) before the tagged OK, so the client gets "* n EXISTS" with the
 * new messages in UID order, whoever else appended meanwhile.
 *
 * CATENATE (RFC 4469): a message may instead be
 *   CATENATE (TEXT {n}<bytes> URL "url" ...)
 * Those messages are built first, one after the other, by catenate.c
 * (which reads URL parts with FetchReq); only when every one is built is
 * the AppendReq / MultiAppendReq sent, so a failing part ([BADURL],
 * [TOOBIG]) appends nothing, whichever message of a MULTIAPPEND it is in.
 * Each built message is bounded by the literal limit, and all messages of
 * the command together by the command limit.
 *
 * BINARY (RFC 3516): the message may be a literal8 (~{n}), stored as sent
 * (FETCH BINARY decodes on the way out). RFC 3501's literal cannot carry
 * NUL (CHAR8), so a plain literal holding one is a BAD that names literal8.
 */
#include "commands.h"

#include "catenate.h"
#include "fetch-flags.h"
#include "imap-date.h"
#include "imap-seqset.h"
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

/* Messages in one MULTIAPPEND at most. */
#define APPEND_MAX_MESSAGES 1000
/* CATENATE URL parts in one command at most (each costs one or two RPCs). */
#define APPEND_MAX_URLS 1000

/* One message of the command. Pointers go into the command's args, which
 * stay valid until session_done. */
struct append_msg {
	struct flag_set flags;
	time_t date;
	int tz;
	const struct imap_arg *message; /* the literal, or NULL for CATENATE */
	const struct imap_arg *cat;     /* CATENATE's part list */
	struct buf built;               /* CATENATE: the message built from it */
};

struct append_ctx {
	struct session *s;
	struct buf name; /* UTF-8 folder name */
	char *tagline;   /* the tagged OK, written after the sync */
	struct append_msg *msgs;
	unsigned n_msgs;
	unsigned next;     /* next message to build (CATENATE) */
	size_t total;      /* bytes of the messages so far */
};

static void append_ctx_free(struct append_ctx *c)
{
	for (unsigned i = 0; c->msgs != NULL && i < c->n_msgs; i++)
		buf_free(&c->msgs[i].built);
	free(c->msgs);
	buf_free(&c->name);
	free(c->tagline);
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

/* Parses one message group at args[*i]. NULL on success, else the BAD text. */
static const char *parse_message(const struct imap_command *cmd, unsigned *i, struct append_msg *m,
				 unsigned *n_urls)
{
	if (*i < cmd->nargs && cmd->args[*i].type == IMAP_ARG_LIST) {
		const char *err = fetch_flags_parse_list(cmd->args[*i].list, cmd->args[*i].list_count, &m->flags);
		if (err != NULL)
			return err;
		(*i)++;
	}
	m->date = time(NULL);
	m->tz = 0;
	if (*i + 1 < cmd->nargs && cmd->args[*i].type == IMAP_ARG_QUOTED) {
		time_t t;
		int tz;
		if (imap_datetime_parse(cmd->args[*i].str, cmd->args[*i].len, &t, &tz) < 0)
			return "Invalid date-time";
		m->date = t;
		m->tz = tz;
		(*i)++;
	}
	if (*i >= cmd->nargs)
		return "APPEND: missing message literal";
	const struct imap_arg *a = &cmd->args[*i];
	if (a->type == IMAP_ARG_ATOM && a->len == 8 && strncasecmp(a->str, "CATENATE", 8) == 0) {
		unsigned urls;
		const char *err = catenate_check(*i + 1 < cmd->nargs ? &cmd->args[*i + 1] : NULL, &urls);
		if (err != NULL)
			return err;
		if (urls > APPEND_MAX_URLS - *n_urls)
			return "Too many CATENATE URLs in one APPEND";
		*n_urls += urls;
		m->cat = &cmd->args[*i + 1];
		*i += 2;
		return NULL;
	}
	if (a->type != IMAP_ARG_LITERAL)
		return "APPEND: the message must be a literal";
	if (!a->literal8 && memchr(a->str, '\0', a->len) != NULL)
		return "APPEND: NUL in a literal; send binary data as a literal8 ~{n}";
	m->message = a;
	(*i)++;
	return NULL;
}

static void append_tagged(struct session *s)
{
	struct append_ctx *c = s->cmd_state;
	if (c != NULL && c->tagline != NULL)
		session_write(s, c->tagline, strlen(c->tagline));
	session_done(s);
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
		struct buf line = {0};
		buf_printf(&line, "%s OK [APPENDUID %u ", s->tag, (unsigned)r->uidvalidity);
		if (r->n_uids > 1) {
			struct imap_seqset set;
			imap_seqset_init(&set);
			for (size_t i = 0; i < r->n_uids; i++)
				imap_seqset_add(&set, r->uids[i]);
			imap_seqset_write(&line, &set);
			imap_seqset_free(&set);
		} else {
			buf_printf(&line, "%u", (unsigned)r->uid);
		}
		buf_append_str(&line, "] Append completed.\r\n");
		c->tagline = (char *)buf_steal(&line, NULL);
		/* The rest happens after the sync; the ctx lives as cmd_state. */
		s->cmd_state = c;
		s->cmd_state_free = (void (*)(void *))append_ctx_free;
		struct selected_folder *f = &s->sel;
		bool selected = s->state == SESSION_SELECTED && f->name != NULL && strcmp(f->name, name) == 0 &&
				f->uidvalidity == r->uidvalidity;
		if (selected)
			session_sync(s, append_tagged);
		else
			append_tagged(s);
		session_unref(s);
		return;
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

static void fill_req(struct session *s, Cpm__AppendReq *ap, const char *folder, const struct append_msg *m)
{
	const char *body = m->message != NULL ? m->message->str : (const char *)m->built.data;
	size_t len = m->message != NULL ? m->message->len : m->built.len;
	cpm__append_req__init(ap);
	ap->user = s->user;
	ap->folder = (char *)folder;
	ap->sys_flags = m->flags.sys;
	ap->keywords = (char **)m->flags.keywords;
	ap->n_keywords = m->flags.n_keywords;
	ap->internaldate = (int64_t)m->date;
	ap->internaldate_tz = m->tz;
	ap->body.data = (uint8_t *)body;
	ap->body.len = len;
}

/* Sends the AppendReq (one message) or MultiAppendReq (all or none) for
 * the command's messages, all built. The session reference taken by
 * cmd_append is dropped by on_append. */
static void send_append(struct append_ctx *c)
{
	struct session *s = c->s;
	unsigned n = c->n_msgs;
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__AppendReq one;
	Cpm__MultiAppendReq multi = CPM__MULTI_APPEND_REQ__INIT;
	Cpm__AppendReq *reqs = NULL;
	Cpm__AppendReq **ptrs = NULL;
	const char *folder = (const char *)c->name.data;
	if (n == 1) {
		fill_req(s, &one, folder, &c->msgs[0]);
		req.op_case = CPM__REQUEST__OP_APPEND;
		req.append = &one;
	} else {
		reqs = calloc(n, sizeof(*reqs));
		ptrs = calloc(n, sizeof(*ptrs));
		if (reqs == NULL || ptrs == NULL) {
			free(reqs);
			free(ptrs);
			session_tagged(s, "NO", "[SERVERBUG] Out of memory");
			append_ctx_free(c);
			session_done(s);
			session_unref(s);
			return;
		}
		for (unsigned k = 0; k < n; k++) {
			fill_req(s, &reqs[k], folder, &c->msgs[k]);
			ptrs[k] = &reqs[k];
		}
		multi.messages = ptrs;
		multi.n_messages = n;
		req.op_case = CPM__REQUEST__OP_MULTI_APPEND;
		req.multi_append = &multi;
	}
	rpc_call(s->w->rpc, s->shard, &req, 0, on_append, c);
	free(reqs);
	free(ptrs);
}

static void build_next(struct append_ctx *c);

static void on_built(void *arg, enum catenate_status st)
{
	struct append_ctx *c = arg;
	struct session *s = c->s;
	if (st == CATENATE_OK && c->msgs[c->next - 1].built.len == 0) {
		session_tagged(s, "NO", "Can't save an empty message");
		st = CATENATE_FAILED;
	}
	if (st != CATENATE_OK) {
		append_ctx_free(c);
		if (st == CATENATE_FAILED)
			session_done(s);
		session_unref(s);
		return;
	}
	c->total += c->msgs[c->next - 1].built.len;
	build_next(c);
}

/* Builds the next CATENATE message, or sends the append when all are built. */
static void build_next(struct append_ctx *c)
{
	while (c->next < c->n_msgs && c->msgs[c->next].cat == NULL)
		c->next++;
	if (c->next == c->n_msgs) {
		send_append(c);
		return;
	}
	const struct imap_parser_limits *lim = &c->s->w->limits;
	size_t max_msg = lim->max_literal ? lim->max_literal : IMAP_PARSER_DEFAULT_MAX_LITERAL;
	size_t max_cmd = lim->max_command ? lim->max_command : IMAP_PARSER_DEFAULT_MAX_COMMAND;
	size_t room = c->total < max_cmd ? max_cmd - c->total : 0;
	struct append_msg *m = &c->msgs[c->next++];
	catenate_build(c->s, m->cat, &m->built, room < max_msg ? room : max_msg, on_built, c);
}

/* Before CATENATE fetches any URL part: the destination must exist, so a
 * missing one answers [TRYCREATE] whatever the URLs say (as Dovecot does). */
static void on_dest_status(const Cpm__Response *resp, void *arg)
{
	struct append_ctx *c = arg;
	struct session *s = c->s;
	if (session_closed(s)) {
		append_ctx_free(c);
		session_unref(s);
		return;
	}
	if (resp->status == CPM__STATUS__NONEXISTENT || resp->status == CPM__STATUS__NOTFOUND) {
		char text[NAME_TEXT_MAX + 4];
		name_text((const char *)c->name.data, text);
		session_tagged(s, "NO", "[TRYCREATE] Mailbox doesn't exist: %s", text);
		append_ctx_free(c);
		session_done(s);
		session_unref(s);
		return;
	}
	build_next(c); /* other failures: the APPEND itself reports them */
}

static void check_dest_then_build(struct append_ctx *c)
{
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FolderStatusReq q = CPM__FOLDER_STATUS_REQ__INIT;
	q.user = c->s->user;
	q.name = (char *)c->name.data;
	req.op_case = CPM__REQUEST__OP_FOLDER_STATUS;
	req.folder_status = &q;
	rpc_call(c->s->w->rpc, c->s->shard, &req, 0, on_dest_status, c);
}

void cmd_append(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs < 2 || arg_astring(&cmd->args[0]) == NULL) {
		session_tagged(s, "BAD", cmd->nargs < 2 ? "APPEND needs a mailbox and a message"
						       : "Invalid mailbox name argument");
		session_done(s);
		return;
	}
	struct append_msg *msgs = calloc(APPEND_MAX_MESSAGES, sizeof(*msgs));
	struct append_ctx *c = calloc(1, sizeof(*c));
	const char *err = msgs && c ? NULL : "out of memory";
	unsigned n = 0, i = 1, n_urls = 0;
	while (err == NULL && i < cmd->nargs) {
		if (n == APPEND_MAX_MESSAGES)
			err = "Too many messages in one APPEND";
		else
			err = parse_message(cmd, &i, &msgs[n++], &n_urls);
	}
	if (err != NULL) {
		session_tagged(s, msgs && c ? "BAD" : "NO", "%s", msgs && c ? err : "[SERVERBUG] Out of memory");
		free(msgs);
		goto fail;
	}
	c->s = s;
	c->msgs = msgs;
	c->n_msgs = n;
	if (arg_mailbox(&cmd->args[0], &c->name) < 0 || c->name.len == 0) {
		session_tagged(s, "NO", "[CANNOT] Invalid mailbox name");
		goto fail;
	}
	for (unsigned k = 0; k < n; k++) {
		if (msgs[k].message != NULL && msgs[k].message->len == 0) {
			session_tagged(s, "NO", "Can't save an empty message");
			goto fail;
		}
		if (msgs[k].message != NULL)
			c->total += msgs[k].message->len;
	}
	session_ref(s);
	if (n_urls > 0)
		check_dest_then_build(c);
	else
		build_next(c);
	return;
fail:
	if (c != NULL)
		append_ctx_free(c);
	session_done(s);
}
