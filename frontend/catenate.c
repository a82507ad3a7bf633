/*
 * catenate: the message of one CATENATE append-data (RFC 4469), part by
 * part. See catenate.h for the contract.
 *
 * A build walks the part list once. TEXT parts are copied at once; a URL
 * part is parsed and checked without any RPC, then
 *   FOLDER  FolderStatusReq(name) -> folder id and UIDVALIDITY, unless the
 *           folder is the selected one or the one the previous URL named;
 *   FETCH   FetchReq(that UID, F_BODY [+ F_TREE for a section])
 * and the callback cuts the bytes with fetch_items_body_bytes and goes on
 * with the next part. One RPC is in flight at a time; the session is
 * referenced meanwhile, and a callback that finds the client gone reports
 * CATENATE_CLOSED without writing.
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
	unsigned n_parts;
	unsigned pos;                 /* the part being worked on */
	struct buf *out;
	size_t max;
	catenate_done_cb *done;
	void *arg;

	struct imap_url url;          /* the URL part being fetched */
	struct fetch_body_item item;  /* what of its message it names */
	char *folder;                 /* the folder last resolved ... */
	uint64_t folder_id;           /* ... its id and UIDVALIDITY */
	uint32_t uidvalidity;
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
	free(c);
}

static void finish(struct catenate *c, enum catenate_status st)
{
	catenate_done_cb *done = c->done;
	void *arg = c->arg;
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

static void on_fetch(const Cpm__Response *resp, void *ctx)
{
	struct catenate *c = ctx;
	if (!still_here(c))
		return;
	if (resp->status == CPM__STATUS__UIDVALIDITY_CHANGED || resp->status == CPM__STATUS__NOTFOUND ||
	    resp->status == CPM__STATUS__NONEXISTENT) {
		badurl(c, "Mailbox was deleted or recreated");
		finish(c, CATENATE_FAILED);
		return;
	}
	if (resp->status != CPM__STATUS__OK) {
		rpc_failed(c, resp);
		return;
	}
	if (resp->result_case != CPM__RESPONSE__RESULT_FETCH || resp->fetch == NULL) {
		log_error("event=bad_rpc_response cmd=APPEND what=catenate_fetch");
		session_tagged(c->s, "NO", "[SERVERBUG] APPEND: bad back-end response");
		finish(c, CATENATE_FAILED);
		return;
	}
	const Cpm__MessageData *m = NULL;
	for (size_t i = 0; i < resp->fetch->n_messages && m == NULL; i++)
		if (resp->fetch->messages[i] != NULL && resp->fetch->messages[i]->uid == c->url.uid)
			m = resp->fetch->messages[i];
	if (m == NULL) {
		badurl(c, "Message not found");
		finish(c, CATENATE_FAILED);
		return;
	}
	const unsigned char *msg = m->body.data != NULL ? m->body.data : (const unsigned char *)"";
	size_t len = m->body.data != NULL ? m->body.len : 0;
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
	int rc = fetch_items_body_bytes(c->out, &c->item, msg, len, tree);
	mime_tree_free(&tree);
	if (rc < 0) {
		session_tagged(c->s, "NO", "[SERVERBUG] Out of memory");
		finish(c, CATENATE_FAILED);
		return;
	}
	if (c->out->len > c->max) {
		toobig(c);
		return;
	}
	c->pos += 2;
	next_part(c);
}

static void send_fetch(struct catenate *c)
{
	struct session *s = c->s;
	Cpm__UidRange range = CPM__UID_RANGE__INIT;
	range.first = range.last = c->url.uid;
	Cpm__UidRange *ranges[1] = {&range};
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FetchReq fr = CPM__FETCH_REQ__INIT;
	fr.user = s->user;
	fr.folder_id = c->folder_id;
	fr.uidvalidity = c->uidvalidity;
	fr.uids = ranges;
	fr.n_uids = 1;
	fr.items = CPM__FETCH_ITEM__F_BODY;
	if (c->item.sec.path_len > 0 || c->item.sec.text != MIME_SECTION_BODY)
		fr.items |= CPM__FETCH_ITEM__F_TREE;
	fr.max_messages = 1;
	req.op_case = CPM__REQUEST__OP_FETCH;
	req.fetch = &fr;
	session_ref(s);
	session_rpc(s, s->shard, &req, 0, on_fetch, c);
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
		if (lit->len > c->max - c->out->len) {
			toobig(c);
			return;
		}
		if (buf_append(c->out, lit->str, lit->len) < 0) {
			session_tagged(c->s, "NO", "[SERVERBUG] Out of memory");
			finish(c, CATENATE_FAILED);
			return;
		}
		c->pos += 2;
	}
	if (c->pos >= c->n_parts) {
		finish(c, CATENATE_OK);
		return;
	}
	start_url(c);
}

void catenate_build(struct session *s, const struct imap_arg *list, struct buf *out, size_t max,
		    catenate_done_cb *done, void *arg)
{
	struct catenate *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		done(arg, CATENATE_FAILED);
		return;
	}
	c->s = s;
	c->parts = list->list;
	c->n_parts = list->list_count;
	c->out = out;
	c->max = max;
	c->done = done;
	c->arg = arg;
	if (out->len > max) {
		toobig(c);
		return;
	}
	next_part(c);
}
