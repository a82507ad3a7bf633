/*
 * cmd-mailbox: CREATE, LIST (basic, RFC 3501 6.3.8), SELECT and EXAMINE.
 *
 * Each command is one RPC to the user's shard:
 *   CREATE  -> FolderCreateReq   (the back-end also creates missing parents)
 *   LIST    -> FolderListReq     (all folders; matching happens here)
 *   SELECT  -> FolderSelectReq   (readonly = EXAMINE; returns the UID map)
 *
 * Folder names travel as UTF-8 with "/" as the hierarchy delimiter; on the
 * wire they are modified UTF-7 (arg_mailbox decodes, write_mailbox encodes).
 *
 * LIST fetches the whole folder list and filters it with list-match: a user
 * has at most thousands of folders, and one round trip with the filtering on
 * the stateless front-end keeps the back-end simple. Output is sorted by
 * name (byte order), so clients see a stable order. A folder that does not
 * exist but has a descendant, and matches the pattern itself, is listed as
 * \Noselect (RFC 3501: "a/b" exists, "a" not, LIST "" "%" shows a).
 *
 * Handler pattern (session.h): validate synchronously and answer BAD/NO at
 * once; otherwise allocate a small context, take a session reference, call
 * the shard; the callback drops everything when the client went away,
 * otherwise answers and calls session_done exactly once.
 */
#include "commands.h"

#include "fetch-flags.h"
#include "imap-utf7.h"
#include "list-match.h"
#include "log.h"
#include "rpc-client.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DELIM '/'
/* Longest UTF-8 folder name a client may create (the back-end may be stricter). */
#define FOLDER_NAME_MAX 1024
/* Longest name shown in a human-readable response text. */
#define NAME_TEXT_MAX 200

/* ---- helpers shared by the commands of this file ------------------------- */

/* name as the client spells it (modified UTF-7: printable ASCII only),
 * shortened, for "Mailbox doesn't exist: NAME" texts. */
static void name_text(const char *utf8, char out[NAME_TEXT_MAX + 4])
{
	struct buf enc = {0};
	size_t n = 0;
	if (imap_utf8_to_mutf7(utf8, strlen(utf8), &enc) == 0 && enc.data != NULL) {
		for (size_t i = 0; i < enc.len && n < NAME_TEXT_MAX; i++) {
			unsigned char c = enc.data[i];
			out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
		}
		if (enc.len > NAME_TEXT_MAX) {
			memcpy(out + n, "...", 3);
			n += 3;
		}
	}
	out[n] = '\0';
	buf_free(&enc);
}

/* Reads a mailbox argument (decoded, INBOX normalised) into out. Returns 0,
 * or -1 after answering the command (BAD for a non-string, NO for an
 * undecodable or overlong name) and finishing it. */
static int mailbox_arg(struct session *s, const struct imap_arg *a, struct buf *out)
{
	if (arg_astring(a) == NULL) {
		session_tagged(s, "BAD", "Invalid mailbox name argument");
		session_done(s);
		return -1;
	}
	if (arg_mailbox(a, out) < 0 || out->data == NULL) {
		session_tagged(s, "NO", "[CANNOT] Invalid mailbox name");
		session_done(s);
		return -1;
	}
	if (out->len > FOLDER_NAME_MAX || memchr(out->data, '\0', out->len) != NULL) {
		session_tagged(s, "NO", "[CANNOT] Mailbox name too long");
		session_done(s);
		return -1;
	}
	return 0;
}

/* Empty names, empty components ("a//b", "/a") and control characters
 * (which modified UTF-7 can smuggle in as "&AA0-") are never valid. */
static bool folder_name_valid(const char *name, size_t len)
{
	if (len == 0 || name[0] == DELIM || name[len - 1] == DELIM)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (ch < 0x20 || ch == 0x7f)
			return false;
		if (i > 0 && name[i] == DELIM && name[i - 1] == DELIM)
			return false;
	}
	return true;
}

/* ---- CREATE ---------------------------------------------------------------- */

struct create_ctx {
	struct session *s;
	struct buf name;
};

static void create_ctx_free(struct create_ctx *c)
{
	buf_free(&c->name);
	free(c);
}

static void on_create(const Cpm__Response *resp, void *ctx)
{
	struct create_ctx *c = ctx;
	struct session *s = c->s;
	if (session_closed(s)) {
		create_ctx_free(c);
		session_unref(s);
		return;
	}
	if (resp->status == CPM__STATUS__OK)
		session_tagged(s, "OK", "Create completed.");
	else if (resp->status == CPM__STATUS__EXISTS)
		session_tagged(s, "NO", "[ALREADYEXISTS] Mailbox already exists");
	else
		session_tagged_rpc_error(s, resp, "CREATE");
	create_ctx_free(c);
	session_done(s);
	session_unref(s);
}

void cmd_create(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 1) {
		session_tagged(s, "BAD", "CREATE needs exactly one mailbox name");
		session_done(s);
		return;
	}
	struct create_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		session_done(s);
		return;
	}
	c->s = s;
	if (mailbox_arg(s, &cmd->args[0], &c->name) < 0) {
		create_ctx_free(c);
		return;
	}
	/* RFC 3501 6.3.3: a trailing delimiter only says that the client means
	 * to create names under this one; "foo/" creates "foo". */
	while (c->name.len > 0 && c->name.data[c->name.len - 1] == DELIM)
		buf_truncate(&c->name, c->name.len - 1);
	const char *name = (const char *)c->name.data;
	if (!folder_name_valid(name, c->name.len)) {
		session_tagged(s, "NO", "[CANNOT] Invalid mailbox name");
		create_ctx_free(c);
		session_done(s);
		return;
	}
	if (strcmp(name, "INBOX") == 0) {
		/* arg_mailbox normalised any case of INBOX; it always exists. */
		session_tagged(s, "NO", "[ALREADYEXISTS] Mailbox already exists");
		create_ctx_free(c);
		session_done(s);
		return;
	}

	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FolderCreateReq fc = CPM__FOLDER_CREATE_REQ__INIT;
	fc.user = s->user;
	fc.name = (char *)c->name.data;
	req.op_case = CPM__REQUEST__OP_FOLDER_CREATE;
	req.folder_create = &fc;
	session_ref(s);
	rpc_call(s->w->rpc, s->shard, &req, 0, on_create, c);
}

/* ---- LIST ------------------------------------------------------------------ */

struct list_ctx {
	struct session *s;
	struct list_match *match;
};

struct name_ref {
	const char *name;
	size_t len;
	bool noselect;
};

static int name_ref_cmp(const void *pa, const void *pb)
{
	const struct name_ref *a = pa, *b = pb;
	size_t n = a->len < b->len ? a->len : b->len;
	int r = memcmp(a->name, b->name, n);
	if (r != 0)
		return r;
	return a->len < b->len ? -1 : a->len > b->len ? 1 : 0;
}

static bool name_exists(const struct name_ref *sorted, size_t n, const char *name, size_t len)
{
	struct name_ref key = {.name = name, .len = len};
	return bsearch(&key, sorted, n, sizeof(*sorted), name_ref_cmp) != NULL;
}

static int push_ref(struct name_ref **arr, size_t *n, size_t *cap, const char *name, size_t len, bool noselect)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct name_ref *p = reallocarray(*arr, ncap, sizeof(*p));
		if (p == NULL)
			return -1;
		*arr = p;
		*cap = ncap;
	}
	(*arr)[(*n)++] = (struct name_ref){.name = name, .len = len, .noselect = noselect};
	return 0;
}

/* Writes the LIST responses for the folders in r that match. -1 when out of memory. */
static int list_write(struct session *s, const struct list_match *m, const Cpm__FolderListResp *r)
{
	struct name_ref *all = NULL, *out = NULL;
	size_t n_all = 0, cap_all = 0, n_out = 0, cap_out = 0;
	int ret = -1;

	for (size_t i = 0; i < r->n_folders; i++) {
		const Cpm__FolderInfo *f = r->folders[i];
		if (f == NULL || f->name == NULL || f->name[0] == '\0')
			continue;
		if (push_ref(&all, &n_all, &cap_all, f->name, strlen(f->name), false) < 0)
			goto out;
	}
	if (n_all > 0)
		qsort(all, n_all, sizeof(*all), name_ref_cmp);

	for (size_t i = 0; i < n_all; i++) {
		const char *name = all[i].name;
		size_t len = all[i].len;
		if (i > 0 && name_ref_cmp(&all[i - 1], &all[i]) == 0)
			continue;
		if (list_match_name(m, name, len) && push_ref(&out, &n_out, &cap_out, name, len, false) < 0)
			goto out;
		/* Missing parents that match are listed as \Noselect. */
		for (size_t j = 1; j < len; j++) {
			if (name[j] != DELIM || name[j - 1] == DELIM)
				continue;
			if (name_exists(all, n_all, name, j) || !list_match_name(m, name, j))
				continue;
			if (push_ref(&out, &n_out, &cap_out, name, j, true) < 0)
				goto out;
		}
	}
	if (n_out > 0)
		qsort(out, n_out, sizeof(*out), name_ref_cmp);

	struct buf *b = session_outbuf(s);
	struct buf tmp = {0};
	for (size_t i = 0; i < n_out; i++) {
		if (i > 0 && name_ref_cmp(&out[i - 1], &out[i]) == 0)
			continue;
		buf_reset(&tmp);
		if (buf_append(&tmp, out[i].name, out[i].len) < 0) {
			buf_free(&tmp);
			goto out;
		}
		buf_append_str(b, out[i].noselect ? "* LIST (\\Noselect) \"/\" " : "* LIST () \"/\" ");
		write_mailbox(b, (const char *)tmp.data);
		buf_append_str(b, "\r\n");
	}
	buf_free(&tmp);
	ret = 0;
out:
	free(all);
	free(out);
	return ret;
}

static void on_list(const Cpm__Response *resp, void *ctx)
{
	struct list_ctx *c = ctx;
	struct session *s = c->s;
	if (!session_closed(s)) {
		if (resp->status != CPM__STATUS__OK)
			session_tagged_rpc_error(s, resp, "LIST");
		else if (resp->result_case != CPM__RESPONSE__RESULT_FOLDER_LIST || resp->folder_list == NULL)
			session_tagged(s, "NO", "[SERVERBUG] LIST: bad back-end response");
		else if (list_write(s, c->match, resp->folder_list) < 0)
			session_tagged(s, "NO", "[SERVERBUG] LIST: out of memory");
		else
			session_tagged(s, "OK", "List completed.");
		session_done(s);
	}
	list_match_free(&c->match);
	free(c);
	session_unref(s);
}

void cmd_list(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 2) {
		session_tagged(s, "BAD", "LIST needs a reference and a mailbox pattern");
		session_done(s);
		return;
	}
	if (arg_astring(&cmd->args[0]) == NULL || arg_astring(&cmd->args[1]) == NULL) {
		session_tagged(s, "BAD", "Invalid LIST arguments");
		session_done(s);
		return;
	}
	struct buf ref = {0}, pat = {0};
	if (arg_mailbox(&cmd->args[0], &ref) < 0 || arg_mailbox(&cmd->args[1], &pat) < 0) {
		buf_free(&ref);
		buf_free(&pat);
		session_tagged(s, "BAD", "Invalid modified UTF-7 in LIST arguments");
		session_done(s);
		return;
	}
	if (pat.len == 0) {
		/* RFC 3501: an empty pattern asks for the delimiter and the root
		 * of the reference; our names have no root prefix. */
		buf_free(&ref);
		buf_free(&pat);
		session_untagged(s, "LIST (\\Noselect) \"/\" \"\"");
		session_tagged(s, "OK", "List completed.");
		session_done(s);
		return;
	}
	/* The reference and the pattern are simply concatenated. */
	int rc = buf_append(&ref, pat.data, pat.len);
	buf_free(&pat);
	struct list_ctx *c = NULL;
	struct list_match *m = NULL;
	if (rc == 0 && ref.len > LIST_MATCH_MAX_PATTERN) {
		buf_free(&ref);
		session_tagged(s, "BAD", "LIST pattern too long");
		session_done(s);
		return;
	}
	if (rc == 0)
		m = list_match_new((const char *)ref.data, ref.len, DELIM);
	buf_free(&ref);
	if (m != NULL)
		c = calloc(1, sizeof(*c));
	if (c == NULL) {
		list_match_free(&m);
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		session_done(s);
		return;
	}
	c->s = s;
	c->match = m;

	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FolderListReq fl = CPM__FOLDER_LIST_REQ__INIT;
	fl.user = s->user;
	req.op_case = CPM__REQUEST__OP_FOLDER_LIST;
	req.folder_list = &fl;
	session_ref(s);
	rpc_call(s->w->rpc, s->shard, &req, 0, on_list, c);
}

/* ---- SELECT / EXAMINE -------------------------------------------------------- */

struct select_ctx {
	struct session *s;
	struct buf name;
	bool readonly;
};

static void select_ctx_free(struct select_ctx *c)
{
	buf_free(&c->name);
	free(c);
}

static void write_keywords(struct buf *b, char *const *kw, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (kw[i] == NULL || !fetch_keyword_valid(kw[i], strnlen(kw[i], FETCH_FLAGS_MAX_KEYWORD_LEN + 1)))
			continue;
		buf_append_byte(b, ' ');
		buf_append_str(b, kw[i]);
	}
}

/* Number of UIDs in the view that are \Recent for this session. */
static uint32_t recent_count(const struct selected_folder *f)
{
	if (f->first_recent_uid == 0)
		return 0;
	size_t lo = 0, hi = f->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->uids[mid] < f->first_recent_uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return f->count - (uint32_t)lo;
}

static void select_succeeded(struct session *s, struct select_ctx *c, const Cpm__FolderSelectResp *r)
{
	session_select(s, (const char *)c->name.data, r, c->readonly);
	const struct selected_folder *f = &s->sel;
	struct buf *b = session_outbuf(s);

	buf_append_str(b, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	write_keywords(b, r->keywords, r->n_keywords);
	buf_append_str(b, ")\r\n");
	if (c->readonly) {
		buf_append_str(b, "* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n");
	} else {
		buf_append_str(b, "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
		write_keywords(b, r->keywords, r->n_keywords);
		buf_append_str(b, " \\*)] Flags permitted.\r\n");
	}
	session_untagged(s, "%u EXISTS", (unsigned)f->count);
	session_untagged(s, "%u RECENT", (unsigned)recent_count(f));
	if (r->unseen_seq > 0 && r->unseen_seq <= f->count)
		session_untagged(s, "OK [UNSEEN %u] First unseen.", (unsigned)r->unseen_seq);
	session_untagged(s, "OK [UIDVALIDITY %u] UIDs valid", (unsigned)f->uidvalidity);
	session_untagged(s, "OK [UIDNEXT %u] Predicted next UID", (unsigned)f->uidnext);
	if (c->readonly)
		session_tagged(s, "OK", "[READ-ONLY] Examine completed.");
	else
		session_tagged(s, "OK", "[READ-WRITE] Select completed.");
}

static void on_select(const Cpm__Response *resp, void *ctx)
{
	struct select_ctx *c = ctx;
	struct session *s = c->s;
	if (session_closed(s)) {
		select_ctx_free(c);
		session_unref(s);
		return;
	}
	const char *what = c->readonly ? "EXAMINE" : "SELECT";
	if (resp->status == CPM__STATUS__OK) {
		if (resp->result_case == CPM__RESPONSE__RESULT_FOLDER_SELECT && resp->folder_select != NULL &&
		    resp->folder_select->info != NULL) {
			select_succeeded(s, c, resp->folder_select);
		} else {
			log_error("event=bad_rpc_response cmd=%s", what);
			session_tagged(s, "NO", "[SERVERBUG] %s: bad back-end response", what);
		}
	} else if (resp->status == CPM__STATUS__NONEXISTENT || resp->status == CPM__STATUS__NOTFOUND) {
		char text[NAME_TEXT_MAX + 4];
		name_text((const char *)c->name.data, text);
		session_tagged(s, "NO", "[NONEXISTENT] Mailbox doesn't exist: %s", text);
	} else {
		session_tagged_rpc_error(s, resp, what);
	}
	select_ctx_free(c);
	session_done(s);
	session_unref(s);
}

void cmd_select(struct session *s, const struct imap_command *cmd)
{
	bool readonly = strcasecmp(cmd->name, "EXAMINE") == 0;
	if (cmd->nargs != 1 || arg_astring(&cmd->args[0]) == NULL) {
		/* A syntax error does not run the command: the selection stays. */
		session_tagged(s, "BAD", "%s needs exactly one mailbox name", readonly ? "EXAMINE" : "SELECT");
		session_done(s);
		return;
	}
	/* RFC 3501 6.3.1: the current folder is closed first, even if the new
	 * one cannot be opened. */
	session_unselect(s);
	struct select_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		session_done(s);
		return;
	}
	c->s = s;
	c->readonly = readonly;
	if (mailbox_arg(s, &cmd->args[0], &c->name) < 0) {
		select_ctx_free(c);
		return;
	}

	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FolderSelectReq fs = CPM__FOLDER_SELECT_REQ__INIT;
	fs.user = s->user;
	fs.name = (char *)c->name.data;
	fs.readonly = readonly;
	req.op_case = CPM__REQUEST__OP_FOLDER_SELECT;
	req.folder_select = &fs;
	session_ref(s);
	rpc_call(s->w->rpc, s->shard, &req, 0, on_select, c);
}
