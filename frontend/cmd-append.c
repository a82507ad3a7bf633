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
 * Each built message is bounded by the literal limit, and the messages
 * of the command held here together by the command limit. A CATENATE
 * message that grows to append_stream_kb goes to a staging file
 * (catenate.h: AppendBegin with open_size, AppendChunk pieces) and is
 * named by staging id in the commit like a streamed literal.
 *
 * BINARY (RFC 3516): the message may be a literal8 (~{n}), stored as sent
 * (FETCH BINARY decodes on the way out). RFC 3501's literal cannot carry
 * NUL (CHAR8), so a plain literal holding one is a BAD that names literal8.
 *
 * Large messages (a top-level literal of append_stream_kb or more) are
 * never held whole. The parser offers such a literal before its "+"
 * (cmd_append_literal): the arguments so far are checked, then
 * AppendBegin asks the user's shard whether the folder exists ([TRYCREATE])
 * and the size fits the quota with the command's other messages
 * ([OVERQUOTA]) and opens a staging file; only then is "+ Ready" sent (a
 * LITERAL+ literal refused is discarded). The bytes go on in AppendChunk
 * pieces of append_chunk_kb, one in flight, input paused meanwhile
 * (append_literal_data). When the command is complete, the staged messages
 * are named by staging id in the same AppendReq / MultiAppendReq as the
 * small ones, so MULTIAPPEND stays all or nothing and one writer operation
 * commits them all. A command that ends otherwise (BAD, a failed piece,
 * disconnect) sends AppendAbort for what it staged (append_ctx_free); the
 * back-end's idle deadline and start-up sweep catch what is lost.
 *
 * A large CATENATE TEXT literal (a literal of depth 1, inside the part
 * list, which session.c offers to APPEND too) streams the same way into
 * its message's staging file (catenate_literal): the file is opened with
 * open_size when the message has none yet, the parts before the literal
 * are written to it (catenate_build up to the literal), and the literal
 * follows at the offset they reached. Such messages are kept in cats[]
 * until the command is complete; cmd_append hands each sink to its
 * message, whose remaining parts are written when it is built.
 */
#include "commands.h"

#include "mailbox-ref.h"

#include "catenate.h"
#include "fetch-flags.h"
#include "imap-date.h"
#include "imap-seqset.h"
#include "imap-utf7.h"
#include "log.h"
#include "conn.h"
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
/* A streamed literal's bytes wait at most this long for a full piece. */
#define APPEND_PIECE_WAIT_MS 30000
/* CATENATE URL parts in one command at most (each costs one or two RPCs). */
#define APPEND_MAX_URLS 1000

/* A streamed literal of the command, staged on the back-end. */
struct staged {
	uint64_t id;
	uint64_t size;
};

/* One message of the command. Pointers go into the command's args, which
 * stay valid until session_done. */
struct append_msg {
	struct flag_set flags;
	time_t date;
	int tz;
	const struct imap_arg *message; /* the literal, or NULL for CATENATE */
	const struct imap_arg *cat;     /* CATENATE's part list */
	uint64_t staging_id;            /* a streamed literal: its staging file (body empty) */
	struct catenate_sink sink;      /* CATENATE: the message built from it */
};

/* A CATENATE message a large TEXT literal of went to a staging file
 * while the command was read (its parts up to sink.parts_done). */
struct cat_stage {
	unsigned msg; /* which message of the command */
	struct catenate_sink sink;
};

struct append_ctx {
	struct session *s;
	struct buf name; /* UTF-8 folder name */
	struct mailbox_ref ref; /* whose folder, on which shard (points into name) */
	char *tagline;   /* the tagged OK, written after the sync */
	struct append_msg *msgs;
	unsigned n_msgs;
	unsigned next;     /* next message to build (CATENATE) */
	size_t total;      /* bytes of the messages so far held here */
	uint64_t known;    /* bytes of the messages so far (quota check of a staging file) */
	/* Streamed literals: staged on the back-end, in the order of the args. */
	struct staged *staged;
	unsigned n_staged;
	bool consumed;     /* a commit naming them succeeded: nothing to abort */
	uint64_t staged_bytes;
	/* CATENATE messages staged while the command was read, in order. */
	struct cat_stage *cats;
	unsigned n_cats;
	unsigned slots;    /* staging files the command may still open (catenate.h) */
	struct catenate_dest dest;
	char trycreate[NAME_TEXT_MAX + 4];
	/* The literal streaming now. */
	bool binary;
	uint64_t lit_size;
	uint64_t lit_id;   /* its staging file */
	struct cat_stage *lit_cat; /* a CATENATE TEXT literal: its message, else NULL */
	uint64_t acked;    /* offset in the staging file the back-end has up to */
	uint64_t lit_end;  /* offset the literal ends at */
	struct buf piece;  /* bytes not yet sent */
	size_t piece_max;
	uint64_t piece_ms; /* loop time of the last piece sent (or of AppendBegin) */
};

/* The command's mailbox: its UTF-8 name and whose folder it is
 * (mailbox-ref.h). -1 for an invalid name or a namespace node. */
static int append_name(struct session *s, struct append_ctx *c, const struct imap_arg *a)
{
	buf_reset(&c->name);
	if (arg_mailbox(a, &c->name) < 0 || c->name.len == 0)
		return -1;
	mailbox_ref_resolve(s, (const char *)c->name.data, &c->ref);
	return c->ref.kind == MREF_FOLDER ? 0 : -1;
}

static void abort_done(const Cpm__Response *resp, void *ctx)
{
	(void)resp;
	(void)ctx;
}

void append_staging_abort(struct session *s, size_t shard, const char *user, uint64_t staging_id)
{
	if (s == NULL || s->user == NULL || user == NULL || staging_id == 0)
		return;
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__AppendAbortReq q = CPM__APPEND_ABORT_REQ__INIT;
	q.user = (char *)user;
	q.staging_id = staging_id;
	req.op_case = CPM__REQUEST__OP_APPEND_ABORT;
	req.append_abort = &q;
	session_rpc(s, shard, &req, 0, abort_done, NULL);
}

unsigned append_commit_timeout(const struct session *s, uint64_t staged_bytes)
{
	if (staged_bytes == 0)
		return 0;
	/* Sealing staged bodies (fsync, hash, parse) takes time with their size. */
	uint64_t ms = staged_bytes / (1u << 20) * 50;
	return s->w->cfg->rpc_timeout_ms + (unsigned)(ms < 600000 ? ms : 600000);
}

/* Tells the shard to drop the staging files of a command that did not
 * commit them (fire and forget: the idle deadline covers a lost one). */
static void abort_staged(struct append_ctx *c)
{
	for (unsigned i = 0; !c->consumed && i < c->n_staged; i++)
		append_staging_abort(c->s, c->ref.shard, c->ref.owner, c->staged[i].id);
	for (unsigned i = 0; !c->consumed && i < c->n_cats; i++)
		append_staging_abort(c->s, c->ref.shard, c->ref.owner, c->cats[i].sink.staging_id);
	for (unsigned i = 0; !c->consumed && c->msgs != NULL && i < c->n_msgs; i++)
		append_staging_abort(c->s, c->ref.shard, c->ref.owner, c->msgs[i].sink.staging_id);
	c->n_staged = 0;
}

static void append_ctx_free(struct append_ctx *c)
{
	abort_staged(c);
	free(c->staged);
	buf_free(&c->piece);
	for (unsigned i = 0; c->cats != NULL && i < c->n_cats; i++)
		buf_free(&c->cats[i].sink.buf);
	free(c->cats);
	for (unsigned i = 0; c->msgs != NULL && i < c->n_msgs; i++)
		buf_free(&c->msgs[i].sink.buf);
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
	if (!a->literal8 && !a->streamed && memchr(a->str, '\0', a->len) != NULL)
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
		c->consumed = true;
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

static void fill_req(Cpm__AppendReq *ap, const char *owner, const char *folder, const struct append_msg *m)
{
	const char *body = m->message != NULL ? m->message->str : (const char *)m->sink.buf.data;
	size_t len = m->message != NULL ? m->message->len : m->sink.buf.len;
	cpm__append_req__init(ap);
	ap->staging_id = m->staging_id; /* a streamed literal: the back-end has it */
	if (m->cat != NULL && m->sink.staging_id != 0) { /* a staged CATENATE message */
		ap->staging_id = m->sink.staging_id;
		body = NULL;
		len = 0;
	}
	ap->user = (char *)owner;
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
	const char *folder = c->ref.name;
	if (n == 1) {
		fill_req(&one, c->ref.owner, folder, &c->msgs[0]);
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
			fill_req(&reqs[k], c->ref.owner, folder, &c->msgs[k]);
			ptrs[k] = &reqs[k];
		}
		multi.messages = ptrs;
		multi.n_messages = n;
		req.op_case = CPM__REQUEST__OP_MULTI_APPEND;
		req.multi_append = &multi;
	}
	session_rpc(s, c->ref.shard, &req, append_commit_timeout(s, c->staged_bytes), on_append, c);
	free(reqs);
	free(ptrs);
}

static void build_next(struct append_ctx *c);

/* Where catenate.c stages a large message: the command's folder. */
static void set_dest(struct append_ctx *c, uint64_t pending, bool stage_now)
{
	const struct cpm_config *cfg = c->s->w->cfg;
	name_text((const char *)c->name.data, c->trycreate);
	unsigned used = c->n_staged;
	for (unsigned i = 0; c->cats != NULL && i < c->n_cats; i++)
		used += c->cats[i].sink.staging_id != 0;
	for (unsigned i = 0; c->msgs != NULL && i < c->n_msgs; i++)
		used += c->msgs[i].sink.staging_id != 0 && c->msgs[i].cat != NULL;
	c->slots = used < cfg->append_staging_max ? cfg->append_staging_max - used : 0;
	c->dest = (struct catenate_dest){
		.owner = c->ref.owner,
		.folder = c->ref.name,
		.shard = c->ref.shard,
		.trycreate = c->trycreate,
		.pending_bytes = pending,
		.stream_min = cfg->append_stream_kb << 10,
		.chunk = cfg->append_chunk_kb << 10,
		.slots = &c->slots,
		.stage_now = stage_now,
	};
}

static void on_built(void *arg, enum catenate_status st)
{
	struct append_ctx *c = arg;
	struct session *s = c->s;
	struct catenate_sink *k = &c->msgs[c->next - 1].sink;
	if (st == CATENATE_OK && catenate_sink_size(k) == 0) {
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
	if (k->staging_id != 0)
		c->staged_bytes += k->filled; /* held by the back-end, not here */
	else
		c->total += k->buf.len;
	c->known += catenate_sink_size(k);
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
	set_dest(c, c->known, false);
	catenate_build(c->s, m->cat, m->cat->list_count, &m->sink, &c->dest, room < max_msg ? room : max_msg,
		       on_built, c);
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
	q.user = c->ref.owner;
	q.name = (char *)c->ref.name;
	req.op_case = CPM__REQUEST__OP_FOLDER_STATUS;
	req.folder_status = &q;
	session_rpc(c->s, c->ref.shard, &req, 0, on_dest_status, c);
}

/* The ctx a large literal of this command started (cmd_append_literal),
 * taken out of cmd_state; NULL when there is none. */
static struct append_ctx *take_literal_ctx(struct session *s)
{
	if (s->cmd_state == NULL || s->cmd_state_free != (void (*)(void *))append_ctx_free)
		return NULL;
	struct append_ctx *c = s->cmd_state;
	s->cmd_state = NULL;
	s->cmd_state_free = NULL;
	return c;
}

/* Parses the messages of cmd into msgs (APPEND_MAX_MESSAGES of them):
 * NULL, or the BAD text; *n_urls_r counts CATENATE URL parts. */
static const char *parse_messages(const struct imap_command *cmd, struct append_msg *msgs, unsigned *n_r,
				  unsigned *n_urls_r)
{
	unsigned n = 0, i = 1, n_urls = 0;
	const char *err = NULL;
	while (err == NULL && i < cmd->nargs) {
		if (n == APPEND_MAX_MESSAGES)
			err = "Too many messages in one APPEND";
		else
			err = parse_message(cmd, &i, &msgs[n++], &n_urls);
	}
	*n_r = n;
	*n_urls_r = n_urls;
	return err;
}

void cmd_append(struct session *s, const struct imap_command *cmd)
{
	struct append_ctx *c = take_literal_ctx(s);
	if (cmd->nargs < 2 || arg_astring(&cmd->args[0]) == NULL) {
		session_tagged(s, "BAD", cmd->nargs < 2 ? "APPEND needs a mailbox and a message"
						       : "Invalid mailbox name argument");
		if (c != NULL)
			append_ctx_free(c);
		session_done(s);
		return;
	}
	struct append_msg *msgs = calloc(APPEND_MAX_MESSAGES, sizeof(*msgs));
	if (c == NULL)
		c = calloc(1, sizeof(*c));
	const char *err = msgs && c ? NULL : "out of memory";
	unsigned n = 0, n_urls = 0;
	if (err == NULL)
		err = parse_messages(cmd, msgs, &n, &n_urls);
	if (err != NULL) {
		session_tagged(s, msgs && c ? "BAD" : "NO", "%s", msgs && c ? err : "[SERVERBUG] Out of memory");
		free(msgs);
		goto fail;
	}
	c->s = s;
	free(c->msgs);
	c->msgs = msgs;
	c->n_msgs = n;
	if (append_name(s, c, &cmd->args[0]) < 0) {
		session_tagged(s, "NO", "[CANNOT] Invalid mailbox name");
		goto fail;
	}
	/* Streamed literals ↔ their staging files, in order. */
	unsigned k = 0;
	c->staged_bytes = 0;
	for (unsigned j = 0; j < n; j++) {
		const struct imap_arg *a = msgs[j].message;
		if (a == NULL || !a->streamed)
			continue;
		if (k >= c->n_staged || c->staged[k].size != a->streamed_len) {
			session_tagged(s, "NO", "[SERVERBUG] APPEND: staged message lost");
			goto fail;
		}
		msgs[j].staging_id = c->staged[k].id;
		c->staged_bytes += c->staged[k].size;
		k++;
	}
	if (k != c->n_staged) {
		session_tagged(s, "NO", "[SERVERBUG] APPEND: staged message lost");
		goto fail;
	}
	/* CATENATE messages staged while reading: their sinks go on. */
	for (unsigned j = 0; j < c->n_cats; j++) {
		struct cat_stage *cs = &c->cats[j];
		if (cs->msg >= n || msgs[cs->msg].cat == NULL || cs->sink.staging_id == 0 ||
		    cs->sink.parts_done > msgs[cs->msg].cat->list_count) {
			session_tagged(s, "NO", "[SERVERBUG] APPEND: staged message lost");
			goto fail;
		}
		msgs[cs->msg].sink = cs->sink;
		memset(&cs->sink, 0, sizeof(cs->sink));
	}
	c->n_cats = 0;
	c->known = 0;
	for (unsigned j = 0; j < n; j++) {
		const struct imap_arg *a = msgs[j].message;
		if (a != NULL && !a->streamed && a->len == 0) {
			session_tagged(s, "NO", "Can't save an empty message");
			goto fail;
		}
		if (a != NULL && !a->streamed)
			c->total += a->len;
		if (a != NULL)
			c->known += a->streamed ? a->streamed_len : a->len;
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

/* ---- large literals ------------------------------------------------------ */

static void literal_failed(struct session *s, const char *result, const char *text)
{
	session_tagged(s, result, "%s", text);
	session_literal_skip(s);
	session_done(s); /* frees the ctx (cmd_state): what was staged is aborted */
}

static void send_piece(struct append_ctx *c);

static void on_piece(const Cpm__Response *resp, void *ctx)
{
	struct append_ctx *c = ctx;
	struct session *s = c->s;
	if (session_closed(s)) {
		session_unref(s);
		return;
	}
	if (resp->status != CPM__STATUS__OK || resp->result_case != CPM__RESPONSE__RESULT_APPEND_CHUNK ||
	    resp->append_chunk == NULL || resp->append_chunk->filled != c->acked + c->piece.len) {
		if (resp->status == CPM__STATUS__OK)
			literal_failed(s, "NO", "[SERVERBUG] APPEND: bad back-end response");
		else if (resp->status == CPM__STATUS__UNAVAILABLE)
			literal_failed(s, "NO", "[UNAVAILABLE] APPEND: storage temporarily unavailable, try again");
		else if (resp->status == CPM__STATUS__NOTFOUND)
			literal_failed(s, "NO", "APPEND: the literal stalled and was dropped; send it again");
		else
			literal_failed(s, "NO", "[SERVERBUG] APPEND: the message could not be stored");
		session_unref(s);
		return;
	}
	c->acked += c->piece.len;
	buf_reset(&c->piece);
	if (c->lit_cat != NULL && c->acked == c->lit_end)
		c->lit_cat->sink.filled = c->acked; /* the CATENATE message goes on after it */
	session_literal_resume(s); /* the next bytes, or the rest of the command */
	session_unref(s);
}

static void send_piece(struct append_ctx *c)
{
	struct session *s = c->s;
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__AppendChunkReq q = CPM__APPEND_CHUNK_REQ__INIT;
	q.user = c->ref.owner;
	q.staging_id = c->lit_id;
	q.offset = c->acked;
	q.data.data = c->piece.data;
	q.data.len = c->piece.len;
	req.op_case = CPM__REQUEST__OP_APPEND_CHUNK;
	req.append_chunk = &q;
	c->piece_ms = uv_now(s->w->loop);
	session_ref(s);
	session_rpc(s, c->ref.shard, &req, 0, on_piece, c);
}

/* A piece of the streaming literal: gathered up to append_chunk_kb, then
 * sent; input waits while it is in flight. */
static void append_literal_data(struct session *s, const struct imap_literal_chunk *ch)
{
	struct append_ctx *c = s->cmd_state;
	if (!c->binary && memchr(ch->data, '\0', ch->len) != NULL) {
		literal_failed(s, "BAD", "APPEND: NUL in a literal; send binary data as a literal8 ~{n}");
		return;
	}
	if (buf_append(&c->piece, ch->data, ch->len) < 0) {
		literal_failed(s, "NO", "[SERVERBUG] Out of memory");
		return;
	}
	/* A slow client's bytes go on before the shard's idle deadline would
	 * take a partly filled piece for an abandoned one. */
	uint64_t wait_ms = (uint64_t)s->w->cfg->append_staging_idle_s * 1000 / 4;
	if (wait_ms > APPEND_PIECE_WAIT_MS)
		wait_ms = APPEND_PIECE_WAIT_MS;
	if (c->piece.len >= c->piece_max || ch->last || uv_now(s->w->loop) - c->piece_ms >= wait_ms)
		send_piece(c);
	else
		session_literal_resume(s);
}

static void on_begin(const Cpm__Response *resp, void *ctx)
{
	struct append_ctx *c = ctx;
	struct session *s = c->s;
	bool ok = resp->status == CPM__STATUS__OK && resp->result_case == CPM__RESPONSE__RESULT_APPEND_BEGIN &&
		  resp->append_begin != NULL && resp->append_begin->staging_id != 0;
	if (ok) /* kept even when the session closed: freeing the ctx aborts it */
		c->staged[c->n_staged++] = (struct staged){resp->append_begin->staging_id, c->lit_size};
	if (session_closed(s)) {
		session_unref(s);
		return;
	}
	if (ok) {
		c->lit_id = c->staged[c->n_staged - 1].id;
		c->lit_cat = NULL;
		c->acked = 0;
		c->lit_end = c->lit_size;
		buf_reset(&c->piece);
		c->piece_ms = uv_now(s->w->loop);
		session_literal_stream(s, append_literal_data);
	} else if (resp->status == CPM__STATUS__OK) {
		literal_failed(s, "NO", "[SERVERBUG] APPEND: bad back-end response");
	} else if (resp->status == CPM__STATUS__NONEXISTENT || resp->status == CPM__STATUS__NOTFOUND) {
		char text[NAME_TEXT_MAX + 4], line[NAME_TEXT_MAX + 64];
		name_text((const char *)c->name.data, text);
		snprintf(line, sizeof(line), "[TRYCREATE] Mailbox doesn't exist: %s", text);
		literal_failed(s, "NO", line);
	} else if (resp->status == CPM__STATUS__OVERQUOTA) {
		literal_failed(s, "NO", "[OVERQUOTA] APPEND: Quota exceeded");
	} else if (resp->status == CPM__STATUS__INVALID) {
		char line[400];
		snprintf(line, sizeof(line), "[LIMIT] APPEND: %s",
			 resp->error != NULL && resp->error[0] ? resp->error : "refused");
		literal_failed(s, "NO", line);
	} else {
		session_tagged_rpc_error(s, resp, "APPEND");
		session_literal_skip(s);
		session_done(s);
	}
	session_unref(s);
}

/* The parts of a CATENATE message before its large TEXT literal are in
 * its staging file: the literal streams after them. */
static void on_before_literal(void *arg, enum catenate_status st)
{
	struct append_ctx *c = arg;
	struct session *s = c->s;
	if (st == CATENATE_CLOSED)
		return; /* the session frees the ctx (cmd_state), which aborts */
	if (st != CATENATE_OK) {
		session_literal_skip(s);
		session_done(s); /* frees the ctx: what was staged is aborted */
		return;
	}
	struct catenate_sink *k = &c->lit_cat->sink;
	k->parts_done += 2; /* the TEXT and its literal, streamed now */
	c->lit_id = k->staging_id;
	c->acked = k->filled;
	c->lit_end = k->filled + c->lit_size;
	buf_reset(&c->piece);
	c->piece_ms = uv_now(s->w->loop);
	session_literal_stream(s, append_literal_data);
}

/* A large TEXT literal of message msg's CATENATE list cat (the partial
 * command's last argument, ending with it): the message is staged (open
 * size) if it is not yet, the parts before the literal are written to it,
 * then the literal streams into it (append_literal_data). */
static void catenate_literal(struct session *s, struct append_ctx *c, const struct imap_arg *cat, unsigned msg,
			     uint64_t pending, const struct imap_literal_info *li)
{
	const struct cpm_config *cfg = s->w->cfg;
	struct cat_stage *cs = c->n_cats > 0 && c->cats[c->n_cats - 1].msg == msg ? &c->cats[c->n_cats - 1] : NULL;
	if (cs == NULL) {
		if (c->cats == NULL && (c->cats = calloc(cfg->append_staging_max, sizeof(*c->cats))) == NULL) {
			literal_failed(s, "NO", "[SERVERBUG] Out of memory");
			return;
		}
		if (c->n_staged + c->n_cats >= cfg->append_staging_max) {
			literal_failed(s, "NO", "[LIMIT] Too many large messages in one APPEND");
			return;
		}
		cs = &c->cats[c->n_cats++];
		cs->msg = msg;
	}
	const struct imap_parser_limits *lim = &s->w->limits;
	size_t max_msg = lim->max_literal ? lim->max_literal : IMAP_PARSER_DEFAULT_MAX_LITERAL;
	if (li->size > max_msg || catenate_sink_size(&cs->sink) > max_msg - li->size) {
		literal_failed(s, "NO", "[TOOBIG] Composed message grows too big");
		return;
	}
	c->binary = li->literal8;
	c->lit_size = li->size;
	c->lit_cat = cs;
	c->piece_max = cfg->append_chunk_kb << 10;
	set_dest(c, pending + li->size, true);
	/* Up to the TEXT atom before the literal; room left for the literal. */
	catenate_build(s, cat, cat->list_count - 2, &cs->sink, &c->dest, max_msg - li->size, on_before_literal, c);
}

void cmd_append_literal(struct session *s, const struct imap_command *partial, const struct imap_literal_info *li)
{
	struct append_ctx *c = s->cmd_state;
	if (c != NULL && s->cmd_state_free != (void (*)(void *))append_ctx_free) {
		literal_failed(s, "NO", "[SERVERBUG] APPEND: unexpected state");
		return;
	}
	if (c == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL ||
		    (c->staged = calloc(s->w->cfg->append_staging_max, sizeof(*c->staged))) == NULL) {
			free(c);
			literal_failed(s, "NO", "[SERVERBUG] Out of memory");
			return;
		}
		c->s = s;
		s->cmd_state = c;
		s->cmd_state_free = (void (*)(void *))append_ctx_free;
	}
	/* The arguments so far must make a valid APPEND up to this literal:
	 * a client is told before it sends megabytes. */
	struct append_msg *msgs = calloc(APPEND_MAX_MESSAGES, sizeof(*msgs));
	unsigned n = 0, n_urls = 0, streamed = 0;
	const char *err = msgs == NULL ? "out of memory" : NULL;
	if (err == NULL && arg_astring(&partial->args[0]) == NULL)
		err = "Invalid mailbox name argument";
	if (err == NULL)
		err = parse_messages(partial, msgs, &n, &n_urls);
	uint64_t pending = 0;
	for (unsigned j = 0; err == NULL && j < n; j++) {
		const struct imap_arg *a = msgs[j].message;
		if (a != NULL && a->streamed)
			streamed++;
		if (j + 1 < n && a != NULL)
			pending += a->streamed ? a->streamed_len : a->len;
	}
	for (unsigned j = 0; err == NULL && j < c->n_cats; j++)
		pending += catenate_sink_size(&c->cats[j].sink);
	bool last_is_literal = n > 0 && msgs[n - 1].message == &partial->args[partial->nargs - 1];
	const struct imap_arg *cat = err == NULL && n > 0 ? msgs[n - 1].cat : NULL;
	free(msgs);
	if (err != NULL) {
		literal_failed(s, "BAD", err);
		return;
	}
	if (li->depth > 0) {
		/* A TEXT literal of the last message's CATENATE list. */
		if (cat == NULL || cat != &partial->args[partial->nargs - 1] || li->depth != 1 ||
		    cat->list_count < 2 || !cat->list[cat->list_count - 1].streamed || streamed != c->n_staged) {
			literal_failed(s, "NO", "[SERVERBUG] APPEND: unexpected literal");
			return;
		}
		if (append_name(s, c, &partial->args[0]) < 0) {
			literal_failed(s, "NO", "[CANNOT] Invalid mailbox name");
			return;
		}
		catenate_literal(s, c, cat, n - 1, pending, li);
		return;
	}
	if (!last_is_literal || streamed != c->n_staged + 1) {
		literal_failed(s, "NO", "[SERVERBUG] APPEND: unexpected literal");
		return;
	}
	if (c->n_staged + c->n_cats >= s->w->cfg->append_staging_max) {
		literal_failed(s, "NO", "[LIMIT] Too many large messages in one APPEND");
		return;
	}
	if (append_name(s, c, &partial->args[0]) < 0) {
		literal_failed(s, "NO", "[CANNOT] Invalid mailbox name");
		return;
	}
	c->binary = li->literal8;
	c->lit_size = li->size;
	c->piece_max = s->w->cfg->append_chunk_kb << 10;
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__AppendBeginReq q = CPM__APPEND_BEGIN_REQ__INIT;
	q.user = c->ref.owner;
	q.folder = (char *)c->ref.name;
	q.size = li->size;
	q.pending_bytes = pending;
	req.op_case = CPM__REQUEST__OP_APPEND_BEGIN;
	req.append_begin = &q;
	session_ref(s);
	session_rpc(s, c->ref.shard, &req, 0, on_begin, c);
}
