/*
 * catenate: the message of one CATENATE append-data (RFC 4469), part by
 * part. See catenate.h for the contract.
 *
 * A build walks the part list once. TEXT parts are copied to the sink at
 * once; a URL part is parsed and checked without any RPC, then
 *   FOLDER  FolderStatusReq(name) -> folder id and UIDVALIDITY, unless the
 *           folder is the selected one or the one the previous URL named;
 *   FETCH   FetchReq(that UID, F_BODY [+ F_TREE for a section], body_limit
 *           one window): a small message comes whole and is cut with
 *           fetch_items_body_bytes; a larger one comes without its body,
 *           and the range the URL names (fetch_items_body_range) is read
 *   WINDOW  FetchReq(body_offset, body_len) window by window.
 * After each write the sink settles: an in-memory message that reached
 * stream_min is staged (BEGIN: AppendBeginReq, open size), a staged one
 * sends what it holds in AppendChunk pieces (CHUNK), one at a time, and
 * only then does the walk go on. One RPC is in flight at a time; the
 * session is referenced meanwhile, and a callback that finds the client
 * gone reports CATENATE_CLOSED without writing.
 */
#include "catenate.h"

#include "fetch-items.h"
#include "imap-url.h"
#include "log.h"
#include "mime-parse.h"
#include "rpc-client.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Bytes of the client's URL echoed in a BADURL response code. */
#define BADURL_ECHO_MAX 1024
/* Bytes of a folder name shown in a response text. */
#define NAME_TEXT_MAX 200

struct catenate {
	struct session *s;
	const struct imap_arg *parts; /* the list's members */
	unsigned n_parts;             /* members to write: up to this index */
	unsigned pos;                 /* the part being worked on */
	struct catenate_sink *sink;
	const struct catenate_dest *dest;
	size_t max;
	void (*then)(struct catenate *c); /* where the walk goes on once the sink settled */
	size_t piece;                 /* bytes of the AppendChunk in flight */
	catenate_done_cb *done;
	void *arg;

	struct imap_url url;          /* the URL part being fetched */
	struct fetch_body_item item;  /* what of its message it names */
	char *folder;                 /* the folder last resolved ... */
	uint64_t folder_id;           /* ... its id and UIDVALIDITY */
	uint32_t uidvalidity;
	/* A URL's range read in windows: msg[off .. off + len), done so far. */
	uint64_t off, len, done_bytes;
	bool filter;                  /* HEADER.FIELDS: gathered in hdr, then filtered */
	struct buf hdr;
};

static bool is_atom(const struct imap_arg *a, const char *word)
{
	return a->type == IMAP_ARG_ATOM && a->len == strlen(word) && strncasecmp(a->str, word, a->len) == 0;
}

const char *catenate_check(const struct imap_arg *list, unsigned *n_urls_r)
{
	*n_urls_r = 0;
	if (list == NULL || list->type != IMAP_ARG_LIST)
		return "CATENATE needs a parenthesised list of parts";
	if (list->list_count == 0)
		return "Empty CATENATE list";
	if (list->list_count > 2 * CATENATE_MAX_PARTS)
		return "Too many CATENATE parts";
	for (unsigned i = 0; i < list->list_count; i += 2) {
		const struct imap_arg *kind = &list->list[i];
		const struct imap_arg *val = i + 1 < list->list_count ? &list->list[i + 1] : NULL;
		if (is_atom(kind, "TEXT")) {
			if (val == NULL || val->type != IMAP_ARG_LITERAL)
				return "CATENATE TEXT needs a literal";
			/* As for APPEND's message (RFC 3501 CHAR8; a streamed one is checked as it comes). */
			if (!val->literal8 && !val->streamed && memchr(val->str, '\0', val->len) != NULL)
				return "CATENATE: NUL in a literal; send binary data as a literal8 ~{n}";
		} else if (is_atom(kind, "URL")) {
			if (val == NULL || arg_astring(val) == NULL)
				return "CATENATE URL needs a string";
			(*n_urls_r)++;
		} else {
			return "Unknown CATENATE part (TEXT or URL expected)";
		}
	}
	return NULL;
}

/* ---- answers ------------------------------------------------------------------ */

/* The client's URL as url-resp-text: bytes that cannot appear in a URL
 * (controls, space, 8-bit, ']' which would end the code) %-escaped. */
static void write_url_echo(struct buf *b, const struct imap_arg *a)
{
	size_t n = a->len < BADURL_ECHO_MAX ? a->len : BADURL_ECHO_MAX;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a->str[i];
		if (c <= 0x20 || c >= 0x7f || c == ']' || c == '[' || c == '"')
			buf_printf(b, "%%%02X", c);
		else
			buf_append_byte(b, c);
	}
}

/* Writes "tag NO [BADURL url] reason" for the current part. */
static void badurl(struct catenate *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void badurl(struct catenate *c, const char *fmt, ...)
{
	struct buf line = {0};
	buf_printf(&line, "%s NO [BADURL ", c->s->tag);
	write_url_echo(&line, &c->parts[c->pos + 1]);
	buf_append_str(&line, "] ");
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&line, fmt, ap);
	va_end(ap);
	buf_append_str(&line, "\r\n");
	session_write(c->s, line.data, line.len);
	buf_free(&line);
}

/* name as printable ASCII for a response text, shortened. */
static void name_text(const char *name, char out[NAME_TEXT_MAX + 4])
{
	size_t n = 0, len = strlen(name);
	for (size_t i = 0; i < len && n < NAME_TEXT_MAX; i++) {
		unsigned char ch = (unsigned char)name[i];
		out[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	if (len > NAME_TEXT_MAX) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

/* ---- the walk ----------------------------------------------------------------- */

static void cat_free(struct catenate *c)
{
	imap_url_clear(&c->url);
	mime_section_clear(&c->item.sec);
	free(c->folder);
	buf_free(&c->hdr);
	free(c);
}

static void finish(struct catenate *c, enum catenate_status st)
{
	catenate_done_cb *done = c->done;
	void *arg = c->arg;
	if (st == CATENATE_OK)
		c->sink->parts_done = c->n_parts;
	cat_free(c);
	done(arg, st);
}

static void next_part(struct catenate *c);

static void toobig(struct catenate *c)
{
	session_tagged(c->s, "NO", "[TOOBIG] Composed message grows too big");
	finish(c, CATENATE_FAILED);
}

/* The end of every RPC callback's entry: false (finished) when the client
 * is gone. Drops the reference taken for the RPC. */
static bool still_here(struct catenate *c)
{
	struct session *s = c->s;
	bool closed = session_closed(s);
	if (closed)
		finish(c, CATENATE_CLOSED);
	session_unref(s);
	return !closed;
}

/* A back-end failure that is not about the URL. */
static void rpc_failed(struct catenate *c, const Cpm__Response *resp)
{
	session_tagged_rpc_error(c->s, resp, "APPEND");
	finish(c, CATENATE_FAILED);
}

/* ---- the sink ------------------------------------------------------------------ */

static void oom(struct catenate *c)
{
	session_tagged(c->s, "NO", "[SERVERBUG] Out of memory");
	finish(c, CATENATE_FAILED);
}

/* Bytes for the sink: false after answering (too big, out of memory). */
static bool sink_write(struct catenate *c, const void *p, size_t n)
{
	struct catenate_sink *k = c->sink;
	if (catenate_sink_size(k) > c->max || n > c->max - catenate_sink_size(k)) {
		toobig(c);
		return false;
	}
	if (n > 0 && buf_append(&k->buf, p, n) < 0) {
		oom(c);
		return false;
	}
	return true;
}

static void settle(struct catenate *c);

static void on_chunk(const Cpm__Response *resp, void *ctx)
{
	struct catenate *c = ctx;
	if (!still_here(c))
		return;
	struct catenate_sink *k = c->sink;
	if (resp->status == CPM__STATUS__NOTFOUND) {
		session_tagged(c->s, "NO", "APPEND: the staged message was dropped; send it again");
		finish(c, CATENATE_FAILED);
		return;
	}
	if (resp->status != CPM__STATUS__OK) {
		rpc_failed(c, resp);
		return;
	}
	if (resp->result_case != CPM__RESPONSE__RESULT_APPEND_CHUNK || resp->append_chunk == NULL ||
	    resp->append_chunk->filled != k->filled + c->piece) {
		log_error("event=bad_rpc_response cmd=APPEND what=catenate_chunk");
		session_tagged(c->s, "NO", "[SERVERBUG] APPEND: bad back-end response");
		finish(c, CATENATE_FAILED);
		return;
	}
	k->filled += c->piece;
	buf_consume(&k->buf, c->piece);
	c->piece = 0;
	settle(c);
}

static void send_chunk(struct catenate *c)
{
	struct session *s = c->s;
	struct catenate_sink *k = c->sink;
	c->piece = k->buf.len < c->dest->chunk ? k->buf.len : c->dest->chunk;
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__AppendChunkReq q = CPM__APPEND_CHUNK_REQ__INIT;
	q.user = (char *)c->dest->owner;
	q.staging_id = k->staging_id;
	q.offset = k->filled;
	q.data.data = k->buf.data;
	q.data.len = c->piece;
	req.op_case = CPM__REQUEST__OP_APPEND_CHUNK;
	req.append_chunk = &q;
	session_ref(s);
	session_rpc(s, c->dest->shard, &req, 0, on_chunk, c);
}

static void on_begin(const Cpm__Response *resp, void *ctx)
{
	struct catenate *c = ctx;
	bool ok = resp->status == CPM__STATUS__OK && resp->result_case == CPM__RESPONSE__RESULT_APPEND_BEGIN &&
		  resp->append_begin != NULL && resp->append_begin->staging_id != 0;
	if (ok) { /* kept even when the client is gone: the caller aborts it */
		c->sink->staging_id = resp->append_begin->staging_id;
		c->sink->filled = 0;
	}
	if (!still_here(c))
		return;
	if (ok) {
		settle(c);
	} else if (resp->status == CPM__STATUS__OK) {
		log_error("event=bad_rpc_response cmd=APPEND what=catenate_begin");
		session_tagged(c->s, "NO", "[SERVERBUG] APPEND: bad back-end response");
		finish(c, CATENATE_FAILED);
	} else if (resp->status == CPM__STATUS__NONEXISTENT || resp->status == CPM__STATUS__NOTFOUND) {
		session_tagged(c->s, "NO", "[TRYCREATE] Mailbox doesn't exist: %s",
			       c->dest->trycreate != NULL ? c->dest->trycreate : "");
		finish(c, CATENATE_FAILED);
	} else if (resp->status == CPM__STATUS__OVERQUOTA) {
		session_tagged(c->s, "NO", "[OVERQUOTA] APPEND: Quota exceeded");
		finish(c, CATENATE_FAILED);
	} else if (resp->status == CPM__STATUS__INVALID) {
		session_tagged(c->s, "NO", "[LIMIT] APPEND: %s",
			       resp->error != NULL && resp->error[0] ? resp->error : "refused");
		finish(c, CATENATE_FAILED);
	} else {
		rpc_failed(c, resp);
	}
}

static void send_begin(struct catenate *c)
{
	struct session *s = c->s;
	if (c->dest->slots == NULL || *c->dest->slots == 0) {
		session_tagged(s, "NO", "[LIMIT] Too many large messages in one APPEND");
		finish(c, CATENATE_FAILED);
		return;
	}
	(*c->dest->slots)--;
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__AppendBeginReq q = CPM__APPEND_BEGIN_REQ__INIT;
	q.user = (char *)c->dest->owner;
	q.folder = (char *)c->dest->folder;
	q.size = 0;
	q.open_size = true;
	q.pending_bytes = c->dest->pending_bytes + c->sink->buf.len;
	req.op_case = CPM__REQUEST__OP_APPEND_BEGIN;
	req.append_begin = &q;
	session_ref(s);
	session_rpc(s, c->dest->shard, &req, 0, on_begin, c);
}

/* After bytes went to the sink: stage an in-memory message that grew
 * large, send full pieces (every byte at the end of the walk), then go on
 * with c->then. */
static void settle(struct catenate *c)
{
	struct catenate_sink *k = c->sink;
	bool end = c->pos >= c->n_parts && c->then == NULL;
	if (k->staging_id == 0) {
		if (c->dest->stage_now || (c->dest->stream_min > 0 && k->buf.len >= c->dest->stream_min)) {
			send_begin(c);
			return;
		}
	} else if (k->buf.len >= c->dest->chunk || (end && k->buf.len > 0)) {
		send_chunk(c);
		return;
	}
	void (*then)(struct catenate *) = c->then;
	c->then = NULL;
	if (then != NULL)
		then(c);
	else
		finish(c, CATENATE_OK);
}

/* ---- URL parts ----------------------------------------------------------------- */

static void next_part(struct catenate *c);

static void url_done(struct catenate *c)
{
	c->pos += 2;
	c->then = next_part;
	settle(c);
}

/* Common checks of a FetchReq answer: its message, or NULL after answering. */
static const Cpm__MessageData *fetched(struct catenate *c, const Cpm__Response *resp)
{
	if (resp->status == CPM__STATUS__UIDVALIDITY_CHANGED || resp->status == CPM__STATUS__NOTFOUND ||
	    resp->status == CPM__STATUS__NONEXISTENT) {
		badurl(c, "Mailbox was deleted or recreated");
		finish(c, CATENATE_FAILED);
		return NULL;
	}
	if (resp->status != CPM__STATUS__OK) {
		rpc_failed(c, resp);
		return NULL;
	}
	if (resp->result_case != CPM__RESPONSE__RESULT_FETCH || resp->fetch == NULL) {
		log_error("event=bad_rpc_response cmd=APPEND what=catenate_fetch");
		session_tagged(c->s, "NO", "[SERVERBUG] APPEND: bad back-end response");
		finish(c, CATENATE_FAILED);
		return NULL;
	}
	const Cpm__MessageData *m = NULL;
	for (size_t i = 0; i < resp->fetch->n_messages && m == NULL; i++)
		if (resp->fetch->messages[i] != NULL && resp->fetch->messages[i]->uid == c->url.uid)
			m = resp->fetch->messages[i];
	if (m == NULL) {
		badurl(c, "Message not found");
		finish(c, CATENATE_FAILED);
	}
	return m;
}

static void fetch_window(struct catenate *c);

/* The range is read: a header filtered, then the next part. */
static void range_done(struct catenate *c)
{
	if (c->filter) {
		struct buf f = {0};
		int rc = fetch_items_filter_header(&f, &c->item, c->hdr.data, c->hdr.len);
		bool ok = rc == 0 && sink_write(c, f.data, f.len);
		buf_free(&f);
		buf_free(&c->hdr);
		if (rc < 0)
			oom(c);
		if (!ok)
			return;
	}
	url_done(c);
}

static void on_window(const Cpm__Response *resp, void *ctx)
{
	struct catenate *c = ctx;
	if (!still_here(c))
		return;
	const Cpm__MessageData *m = fetched(c, resp);
	if (m == NULL)
		return;
	uint64_t left = c->len - c->done_bytes;
	if (m->body.len == 0 || m->body.len > left) {
		log_error("event=bad_rpc_response cmd=APPEND what=catenate_window");
		session_tagged(c->s, "NO", "[SERVERBUG] APPEND: bad back-end response");
		finish(c, CATENATE_FAILED);
		return;
	}
	c->done_bytes += m->body.len;
	if (c->filter) {
		if (buf_append(&c->hdr, m->body.data, m->body.len) < 0) {
			oom(c);
			return;
		}
	} else if (!sink_write(c, m->body.data, m->body.len)) {
		return;
	}
	c->then = c->done_bytes < c->len ? fetch_window : range_done;
	settle(c);
}

/* FetchReq fr (its range and limits set by the caller) of the URL's
 * message body, in the user's own folder: one RPC, the session held. */
static void send_url_fetch(struct catenate *c, Cpm__FetchReq *fr, rpc_done_cb *cb)
{
	struct session *s = c->s;
	Cpm__UidRange range = CPM__UID_RANGE__INIT;
	range.first = range.last = c->url.uid;
	Cpm__UidRange *ranges[1] = {&range};
	Cpm__Request req = CPM__REQUEST__INIT;
	fr->user = s->user;
	fr->folder_id = c->folder_id;
	fr->uidvalidity = c->uidvalidity;
	fr->uids = ranges;
	fr->n_uids = 1;
	fr->items |= CPM__FETCH_ITEM__F_BODY;
	fr->max_messages = 1;
	req.op_case = CPM__REQUEST__OP_FETCH;
	req.fetch = fr;
	session_ref(s);
	session_rpc(s, s->shard, &req, 0, cb, c);
}

/* The next window of the URL's range. */
static void fetch_window(struct catenate *c)
{
	if (c->done_bytes >= c->len) {
		range_done(c);
		return;
	}
	uint64_t left = c->len - c->done_bytes;
	Cpm__FetchReq fr = CPM__FETCH_REQ__INIT;
	fr.body_offset = c->off + c->done_bytes;
	fr.body_len = left < c->dest->chunk ? left : c->dest->chunk;
	send_url_fetch(c, &fr, on_window);
}

static void on_fetch(const Cpm__Response *resp, void *ctx)
{
	struct catenate *c = ctx;
	if (!still_here(c))
		return;
	const Cpm__MessageData *m = fetched(c, resp);
	if (m == NULL)
		return;
	struct mime_tree *tree = NULL;
	bool whole = c->item.sec.path_len == 0 && c->item.sec.text == MIME_SECTION_BODY;
	if (!whole) {
		uint64_t off, n;
		if (m->tree.data == NULL || mime_tree_deserialize(m->tree.data, m->tree.len, &tree) < 0) {
			log_error("event=bad_mime_tree cmd=APPEND uid=%u", (unsigned)m->uid);
			session_tagged(c->s, "NO", "[SERVERBUG] APPEND: unreadable message structure");
			finish(c, CATENATE_FAILED);
			return;
		}
		if (!mime_section_locate(tree, &c->item.sec, &off, &n)) {
			mime_tree_free(&tree);
			badurl(c, "No such section in the message");
			finish(c, CATENATE_FAILED);
			return;
		}
	}
	if (m->body_omitted) {
		/* Large: the range it names, window by window. */
		int rc = fetch_items_body_range(&c->item, tree, m->size, &c->off, &c->len);
		mime_tree_free(&tree);
		if (rc < 0) {
			log_error("event=catenate_range_failed uid=%u", (unsigned)m->uid);
			session_tagged(c->s, "NO", "[SERVERBUG] APPEND: message part cannot be read");
			finish(c, CATENATE_FAILED);
			return;
		}
		c->filter = rc == FETCH_RANGE_FILTER;
		c->done_bytes = 0;
		buf_reset(&c->hdr);
		if (!c->filter && c->len > c->max - catenate_sink_size(c->sink)) {
			toobig(c);
			return;
		}
		fetch_window(c);
		return;
	}
	const unsigned char *msg = m->body.data != NULL ? m->body.data : (const unsigned char *)"";
	size_t len = m->body.data != NULL ? m->body.len : 0;
	size_t before = c->sink->buf.len;
	int rc = fetch_items_body_bytes(&c->sink->buf, &c->item, msg, len, tree);
	mime_tree_free(&tree);
	if (rc < 0) {
		oom(c);
		return;
	}
	if (catenate_sink_size(c->sink) > c->max) {
		buf_truncate(&c->sink->buf, before);
		toobig(c);
		return;
	}
	url_done(c);
}

static void send_fetch(struct catenate *c)
{
	Cpm__FetchReq fr = CPM__FETCH_REQ__INIT;
	if (c->item.sec.path_len > 0 || c->item.sec.text != MIME_SECTION_BODY)
		fr.items |= CPM__FETCH_ITEM__F_TREE;
	fr.body_limit = c->dest->chunk; /* larger: read in windows */
	send_url_fetch(c, &fr, on_fetch);
}

/* The URL's folder is known: check UIDVALIDITY, then fetch. */
static void folder_known(struct catenate *c)
{
	if (c->url.uidvalidity != 0 && c->url.uidvalidity != c->uidvalidity) {
		badurl(c, "Invalid UIDVALIDITY");
		finish(c, CATENATE_FAILED);
		return;
	}
	send_fetch(c);
}

static void on_folder(const Cpm__Response *resp, void *ctx)
{
	struct catenate *c = ctx;
	if (!still_here(c))
		return;
	if (resp->status == CPM__STATUS__NOTFOUND || resp->status == CPM__STATUS__NONEXISTENT) {
		char text[NAME_TEXT_MAX + 4];
		name_text(c->url.mailbox, text);
		badurl(c, "Mailbox doesn't exist: %s", text);
		finish(c, CATENATE_FAILED);
		return;
	}
	if (resp->status != CPM__STATUS__OK) {
		rpc_failed(c, resp);
		return;
	}
	if (resp->result_case != CPM__RESPONSE__RESULT_FOLDER_STATUS || resp->folder_status == NULL ||
	    resp->folder_status->info == NULL) {
		log_error("event=bad_rpc_response cmd=APPEND what=catenate_status");
		session_tagged(c->s, "NO", "[SERVERBUG] APPEND: bad back-end response");
		finish(c, CATENATE_FAILED);
		return;
	}
	free(c->folder);
	c->folder = strdup(c->url.mailbox);
	c->folder_id = resp->folder_status->info->folder_id;
	c->uidvalidity = resp->folder_status->info->uidvalidity;
	if (c->folder == NULL) {
		session_tagged(c->s, "NO", "[SERVERBUG] Out of memory");
		finish(c, CATENATE_FAILED);
		return;
	}
	folder_known(c);
}

/* "INBOX" in any case, as a whole name or as the first component (as arg_mailbox). */
static void normalise_inbox(char *name)
{
	size_t len = strlen(name);
	if (len >= 5 && strncasecmp(name, "INBOX", 5) == 0 && (len == 5 || name[5] == '/'))
		memcpy(name, "INBOX", 5);
}

/* Parses and checks the URL of the current part; false after answering. */
static bool url_usable(struct catenate *c)
{
	struct session *s = c->s;
	const struct imap_arg *a = &c->parts[c->pos + 1];
	struct imap_url base = {0};
	base.user = s->user;
	base.host = (char *)s->w->cfg->hostname;
	if (s->state == SESSION_SELECTED && s->sel.name != NULL) {
		base.mailbox = s->sel.name;
		base.uidvalidity = s->sel.uidvalidity;
	}
	const char *err;
	imap_url_clear(&c->url);
	mime_section_clear(&c->item.sec);
	if (imap_url_parse(a->str, a->len, &base, &c->url, &err) < 0) {
		if (strcmp(err, "Mailbox-relative URL without a base mailbox") == 0)
			badurl(c, "Mailbox-relative IMAP URL, but no mailbox selected");
		else
			badurl(c, "Invalid IMAP URL: %s", err);
		return false;
	}
	struct imap_url *u = &c->url;
	if (u->mailbox == NULL || u->uid == 0 || u->search != NULL) {
		badurl(c, "Invalid messagepart IMAP URL");
		return false;
	}
	if (u->user == NULL || s->user == NULL || strcmp(u->user, s->user) != 0) {
		badurl(c, "Not permitted: the URL does not name this user's mailboxes");
		return false;
	}
	if (u->access != IMAP_URL_ACCESS_NONE) {
		badurl(c, "URLAUTH-authorized URLs are not supported");
		return false;
	}
	normalise_inbox(u->mailbox);
	const char *sec = u->section != NULL ? u->section : "";
	if (mime_section_parse(sec, strlen(sec), &c->item.sec) < 0) {
		badurl(c, "Invalid section");
		return false;
	}
	c->item.name = FETCH_BODY;
	c->item.peek = true;
	c->item.partial = u->have_partial;
	c->item.origin = u->partial_offset;
	c->item.count = u->partial_length != 0 ? u->partial_length : UINT32_MAX;
	return true;
}

static void start_url(struct catenate *c)
{
	struct session *s = c->s;
	if (!url_usable(c)) {
		finish(c, CATENATE_FAILED);
		return;
	}
	const char *name = c->url.mailbox;
	if (s->state == SESSION_SELECTED && s->sel.name != NULL && strcmp(s->sel.name, name) == 0) {
		c->folder_id = s->sel.folder_id;
		c->uidvalidity = s->sel.uidvalidity;
		folder_known(c);
		return;
	}
	if (c->folder != NULL && strcmp(c->folder, name) == 0) {
		folder_known(c);
		return;
	}
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FolderStatusReq q = CPM__FOLDER_STATUS_REQ__INIT;
	q.user = s->user;
	q.name = (char *)name;
	req.op_case = CPM__REQUEST__OP_FOLDER_STATUS;
	req.folder_status = &q;
	session_ref(s);
	session_rpc(s, s->shard, &req, 0, on_folder, c);
}

static void next_part(struct catenate *c)
{
	/* TEXT parts in a row need no RPC. */
	while (c->pos < c->n_parts && is_atom(&c->parts[c->pos], "TEXT")) {
		const struct imap_arg *lit = &c->parts[c->pos + 1];
		if (lit->streamed) { /* the caller wrote it (cmd-append.c) */
			log_error("event=catenate_streamed_part pos=%u", c->pos);
			session_tagged(c->s, "NO", "[SERVERBUG] APPEND: streamed part out of place");
			finish(c, CATENATE_FAILED);
			return;
		}
		if (!sink_write(c, lit->str, lit->len))
			return;
		c->pos += 2;
		bool staged = c->sink->staging_id != 0;
		if ((staged && c->sink->buf.len >= c->dest->chunk) ||
		    (!staged && (c->dest->stage_now ||
				 (c->dest->stream_min > 0 && c->sink->buf.len >= c->dest->stream_min)))) {
			c->then = next_part;
			settle(c);
			return;
		}
	}
	if (c->pos >= c->n_parts) {
		c->then = NULL;
		settle(c); /* the rest of a staged message, then done */
		return;
	}
	start_url(c);
}

void catenate_build(struct session *s, const struct imap_arg *list, unsigned upto, struct catenate_sink *sink,
		    const struct catenate_dest *dest, size_t max, catenate_done_cb *done, void *arg)
{
	struct catenate *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		done(arg, CATENATE_FAILED);
		return;
	}
	c->s = s;
	c->parts = list->list;
	c->n_parts = upto < list->list_count ? upto : list->list_count;
	c->pos = sink->parts_done;
	c->sink = sink;
	c->dest = dest;
	c->max = max;
	c->done = done;
	c->arg = arg;
	if (catenate_sink_size(sink) > max) {
		toobig(c);
		return;
	}
	next_part(c);
}
