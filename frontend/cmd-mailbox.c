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
#include "recent.h"
#include "condstore.h"
#include "qresync.h"

#include "fetch-flags.h"
#include "imap-utf7.h"
#include "list-match.h"
#include "mailbox-ref.h"
#include "shared-folders.h"
#include "user-name.h"
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

/* STATUS items (RFC 3501, RFC 8438 SIZE), shared by STATUS and LIST-STATUS. */
enum status_item { ST_MESSAGES, ST_RECENT, ST_UIDNEXT, ST_UIDVALIDITY, ST_UNSEEN, ST_SIZE, ST_HIGHESTMODSEQ, ST_MAX };
#define ST_MAX_ITEMS ST_MAX
static const char *const status_names[ST_MAX] = {"MESSAGES", "RECENT",	"UIDNEXT",	 "UIDVALIDITY",
						 "UNSEEN",   "SIZE",	"HIGHESTMODSEQ"};

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

/* RFC 6154 special-use attributes a folder may carry. */
static const char *const special_uses[] = {"\\All", "\\Archive", "\\Drafts", "\\Flagged",
					   "\\Junk", "\\Sent", "\\Trash"};

/* CREATE's optional (USE (\Attr)) parameter (RFC 6154 CREATE-SPECIAL-USE):
 * the canonical attribute, "" when absent, NULL when invalid (*err_r set). */
static const char *create_use(const struct imap_command *cmd, const char **err_r)
{
	if (cmd->nargs == 1)
		return "";
	const struct imap_arg *p = &cmd->args[1];
	*err_r = "BAD";
	if (cmd->nargs != 2 || p->type != IMAP_ARG_LIST || p->list_count != 2 || p->list[0].type != IMAP_ARG_ATOM ||
	    strcasecmp(p->list[0].str, "USE") != 0 || p->list[1].type != IMAP_ARG_LIST)
		return NULL;
	*err_r = "NO";
	if (p->list[1].list_count != 1 || p->list[1].list[0].type != IMAP_ARG_ATOM)
		return NULL; /* one attribute per folder */
	for (size_t i = 0; i < sizeof(special_uses) / sizeof(special_uses[0]); i++)
		if (strcasecmp(p->list[1].list[0].str, special_uses[i]) == 0)
			return special_uses[i];
	return NULL;
}

void cmd_create(struct session *s, const struct imap_command *cmd)
{
	const char *use_err = NULL;
	const char *use = cmd->nargs >= 1 ? create_use(cmd, &use_err) : NULL;
	if (cmd->nargs < 1 || (use == NULL && strcmp(use_err, "BAD") == 0)) {
		session_tagged(s, "BAD", "CREATE needs a mailbox name and optionally (USE (\\Attribute))");
		session_done(s);
		return;
	}
	if (use == NULL) {
		session_tagged(s, "NO", "[USEATTR] Unsupported special-use attribute");
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

	struct mailbox_ref ref;
	mailbox_ref_resolve(s, name, &ref);
	if (ref.kind != MREF_FOLDER) {
		session_tagged(s, "NO", "[CANNOT] The name belongs to the other users' namespace");
		create_ctx_free(c);
		session_done(s);
		return;
	}
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FolderCreateReq fc = CPM__FOLDER_CREATE_REQ__INIT;
	fc.user = ref.owner;
	fc.name = (char *)ref.name;
	fc.special_use = (char *)use;
	req.op_case = CPM__REQUEST__OP_FOLDER_CREATE;
	req.folder_create = &fc;
	session_ref(s);
	session_rpc(s, ref.shard, &req, 0, on_create, c);
}

/* ---- LIST, LSUB (RFC 3501), LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819) ---- */

#define LIST_MAX_PATTERNS 64

/* What one LIST or LSUB command asks for. */
struct list_ctx {
	struct session *s;
	bool lsub;
	bool extended;          /* LIST-EXTENDED syntax: attributes follow RFC 5258 */
	bool sel_subscribed;    /* selection SUBSCRIBED: only subscribed names */
	bool recursivematch;    /* RECURSIVEMATCH: CHILDINFO for parents of unmatched subscriptions */
	bool sel_special_use;   /* selection SPECIAL-USE: only folders with one (RFC 6154) */
	bool ret_subscribed;    /* \Subscribed attribute */
	unsigned status[ST_MAX_ITEMS];
	unsigned n_status;      /* RETURN (STATUS (...)) items */
	struct list_match *match[LIST_MAX_PATTERNS];
	unsigned n_match;
	/* Other users named by a pattern ("Other Users/bob/..."): asked even
	 * without a sharer hint (an "anyone" grant leaves none). */
	char *owners[LIST_MAX_PATTERNS];
	unsigned n_owners;
	Cpm__Response *own; /* the user's own list, kept while the owners answer */
};

struct name_ref {
	const char *name;
	size_t len;
	bool noselect;
	const Cpm__FolderInfo *info; /* NULL: not an existing folder */
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

static const struct name_ref *name_find(const struct name_ref *sorted, size_t n, const char *name, size_t len)
{
	struct name_ref key = {.name = name, .len = len};
	return bsearch(&key, sorted, n, sizeof(*sorted), name_ref_cmp);
}

/* Whether some name in sorted[] lies below name (name + "/" ...). */
static bool has_child(const struct name_ref *sorted, size_t n, const char *name, size_t len)
{
	/* Children sort after name + "/"; find the first entry >= that. */
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct name_ref *r = &sorted[mid];
		size_t m = r->len < len ? r->len : len;
		int c = memcmp(r->name, name, m);
		if (c == 0)
			c = r->len <= len ? -1 : ((unsigned char)r->name[len] < DELIM ? -1 : 1);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && sorted[lo].len > len && memcmp(sorted[lo].name, name, len) == 0 &&
	       sorted[lo].name[len] == DELIM;
}

static int push_ref(struct name_ref **arr, size_t *n, size_t *cap, struct name_ref r)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct name_ref *p = reallocarray(*arr, ncap, sizeof(*p));
		if (p == NULL)
			return -1;
		*arr = p;
		*cap = ncap;
	}
	(*arr)[(*n)++] = r;
	return 0;
}

static bool matches(const struct list_ctx *c, const char *name, size_t len)
{
	for (unsigned i = 0; i < c->n_match; i++)
		if (list_match_name(c->match[i], name, len))
			return true;
	return false;
}

static bool in_sorted_names(char *const *subs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) /* subscriptions are few; a linear scan is fine */
		if (strcmp(subs[i], name) == 0)
			return true;
	return false;
}

static void write_status_line(struct session *s, const struct list_ctx *c, const char *name,
			      const Cpm__FolderInfo *fi);

/* RFC 5258 3.5 (SUBSCRIBED RECURSIVEMATCH): name has a subscribed
 * descendant that the pattern does not return itself. */
static bool childinfo_subscribed(const struct list_ctx *c, char *const *subs, size_t n, const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++) {
		size_t sl = strlen(subs[i]);
		if (sl > len + 1 && strncmp(subs[i], name, len) == 0 && subs[i][len] == DELIM && !matches(c, subs[i], sl))
			return true;
	}
	return false;
}

/* Writes the responses for the names that match. -1 when out of memory.
 * folders: LIST's existing folders (infos); subs: LSUB's subscriptions,
 * or for LIST (SUBSCRIBED) the subscription list. */
static int list_write(struct session *s, struct list_ctx *c, Cpm__FolderInfo *const *folders, size_t n_folders,
		      char *const *subs, size_t n_subs)
{
	struct name_ref *all = NULL, *out = NULL;
	size_t n_all = 0, cap_all = 0, n_out = 0, cap_out = 0;
	int ret = -1;
	const char *word = c->lsub ? "LSUB" : "LIST";

	if (c->lsub) {
		for (size_t i = 0; i < n_subs; i++)
			if (subs[i] != NULL && subs[i][0] != '\0' &&
			    push_ref(&all, &n_all, &cap_all, (struct name_ref){subs[i], strlen(subs[i]), false, NULL}) < 0)
				goto out;
	} else {
		for (size_t i = 0; i < n_folders; i++) {
			const Cpm__FolderInfo *f = folders[i];
			if (f != NULL && f->name != NULL && f->name[0] != '\0' &&
			    push_ref(&all, &n_all, &cap_all, (struct name_ref){f->name, strlen(f->name), false, f}) < 0)
				goto out;
		}
	}
	if (n_all > 0)
		qsort(all, n_all, sizeof(*all), name_ref_cmp);

	for (size_t i = 0; i < n_all; i++) {
		const char *name = all[i].name;
		size_t len = all[i].len;
		if (i > 0 && name_ref_cmp(&all[i - 1], &all[i]) == 0)
			continue;
		bool matched = matches(c, name, len);
		if (matched && push_ref(&out, &n_out, &cap_out, all[i]) < 0)
			goto out;
		/* Missing parents that match are listed as \Noselect. LSUB lists an
		 * unsubscribed parent only when "%" stopped the match above the
		 * subscribed name (RFC 3501 6.3.9). */
		if (matched && c->lsub)
			continue;
		for (size_t j = 1; j < len; j++) {
			if (name[j] != DELIM || name[j - 1] == DELIM)
				continue;
			if (name_find(all, n_all, name, j) != NULL || !matches(c, name, j))
				continue;
			if (push_ref(&out, &n_out, &cap_out, (struct name_ref){name, j, true, NULL}) < 0)
				goto out;
		}
	}
	/* LIST (SUBSCRIBED): subscriptions whose folder is gone are \NonExistent. */
	if (c->sel_subscribed) {
		for (size_t i = 0; i < n_subs; i++) {
			size_t len = strlen(subs[i]);
			if (len > 0 && name_find(all, n_all, subs[i], len) == NULL && matches(c, subs[i], len) &&
			    push_ref(&out, &n_out, &cap_out, (struct name_ref){subs[i], len, true, NULL}) < 0)
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
		const char *name = (const char *)tmp.data;
		bool subscribed = (c->sel_subscribed || c->ret_subscribed) && in_sorted_names(subs, n_subs, name);
		bool childinfo = c->recursivematch && c->sel_subscribed &&
				 childinfo_subscribed(c, subs, n_subs, name, out[i].len);
		if (c->sel_subscribed && !subscribed && !childinfo)
			continue;
		/* Attributes: \Noselect / \NonExistent, children (RFC 3348, as
		 * Dovecot does), \Subscribed (LIST-EXTENDED). */
		struct buf attrs = {0};
		bool nonexistent = out[i].noselect && c->extended && out[i].info == NULL &&
				   !has_child(all, n_all, name, out[i].len);
		if (out[i].noselect)
			buf_append_str(&attrs, nonexistent ? " \\NonExistent" : " \\Noselect");
		if (!c->lsub && !nonexistent) /* a name that is not there has no children either */
			buf_append_str(&attrs, has_child(all, n_all, out[i].name, out[i].len) ? " \\HasChildren"
											    : " \\HasNoChildren");
		if (subscribed && !c->lsub)
			buf_append_str(&attrs, " \\Subscribed");
		const char *use = out[i].info != NULL ? out[i].info->special_use : NULL;
		bool has_use = use != NULL && use[0] != '\0';
		if (c->sel_special_use && !has_use) {
			buf_free(&attrs);
			continue;
		}
		if (has_use && !c->lsub) {
			buf_append_byte(&attrs, ' ');
			buf_append_str(&attrs, use);
		}
		buf_printf(b, "* %s (%s) \"/\" ", word, attrs.len ? (const char *)attrs.data + 1 : "");
		buf_free(&attrs);
		write_mailbox(b, name);
		if (childinfo)
			buf_append_str(b, " (CHILDINFO (\"SUBSCRIBED\"))");
		buf_append_str(b, "\r\n");
		/* LIST-STATUS: as STATUS, only with the r right (RFC 4314 4). */
		if (c->n_status > 0 && out[i].info != NULL && (out[i].info->rights & ACL_R))
			write_status_line(s, c, name, out[i].info);
	}
	buf_free(&tmp);
	ret = 0;
out:
	free(all);
	free(out);
	return ret;
}

static void list_ctx_free(struct list_ctx *c)
{
	for (unsigned i = 0; i < c->n_match; i++)
		list_match_free(&c->match[i]);
	for (unsigned i = 0; i < c->n_owners; i++)
		free(c->owners[i]);
	if (c->own != NULL)
		cpm__response__free_unpacked(c->own, NULL);
	free(c);
}

/* Ends LIST/LSUB after list_write (rc: 0, -1 out of memory, -2 bad answer). */
static void list_end(struct session *s, struct list_ctx *c, int rc)
{
	const char *what = c->lsub ? "LSUB" : "LIST";
	if (rc == -2)
		session_tagged(s, "NO", "[SERVERBUG] %s: bad back-end response", what);
	else if (rc < 0)
		session_tagged(s, "NO", "[SERVERBUG] %s: out of memory", what);
	else
		session_tagged(s, "OK", "%s completed.", c->lsub ? "Lsub" : "List");
	session_done(s);
	list_ctx_free(c);
	session_unref(s);
}

/* The user's folders and those others share (shared-folders.h), listed together. */
static void on_shared(struct session *s, Cpm__FolderInfo **infos, size_t n, void *arg)
{
	struct list_ctx *c = arg;
	if (session_closed(s)) {
		shared_folders_free(infos, n);
		list_ctx_free(c);
		session_unref(s);
		return;
	}
	const Cpm__FolderListResp *r = c->own->folder_list;
	size_t total = r->n_folders + n;
	Cpm__FolderInfo **all = total > 0 ? malloc(total * sizeof(*all)) : NULL;
	int rc = -1;
	if (total == 0 || all != NULL) {
		if (r->n_folders > 0)
			memcpy(all, r->folders, r->n_folders * sizeof(*all));
		if (n > 0)
			memcpy(all + r->n_folders, infos, n * sizeof(*all));
		rc = list_write(s, c, all, total, r->subscriptions, r->n_subscriptions);
	}
	free(all);
	shared_folders_free(infos, n);
	list_end(s, c, rc);
}

/* LIST's answer: other users' folders are asked for when the user was
 * granted rights (sharers) or a pattern names an owner. 1 when that was
 * started (on_shared ends the command), else 0. */
static int list_shared(struct session *s, struct list_ctx *c, const Cpm__Response *resp)
{
	const Cpm__FolderListResp *r = resp->folder_list;
	if (r->n_sharers == 0 && c->n_owners == 0)
		return 0;
	char *owners[SHARED_MAX_OWNERS + LIST_MAX_PATTERNS];
	size_t n = 0;
	for (unsigned i = 0; i < c->n_owners; i++)
		owners[n++] = c->owners[i];
	for (size_t i = 0; i < r->n_sharers && i < SHARED_MAX_OWNERS; i++)
		owners[n++] = r->sharers[i];
	/* The own answer outlives this callback: a copy (pack, unpack). */
	size_t len = cpm__response__get_packed_size(resp);
	uint8_t *packed = malloc(len ? len : 1);
	if (packed != NULL) {
		cpm__response__pack(resp, packed);
		c->own = cpm__response__unpack(NULL, len, packed);
		free(packed);
	}
	if (c->own == NULL || c->own->result_case != CPM__RESPONSE__RESULT_FOLDER_LIST)
		return 0;
	return shared_folders_collect(s, owners, n, on_shared, c) == 0;
}

static void list_call(struct session *s, struct list_ctx *c, bool subscriptions);

static void on_list(const Cpm__Response *resp, void *ctx)
{
	struct list_ctx *c = ctx;
	struct session *s = c->s;
	const char *what = c->lsub ? "LSUB" : "LIST";
	if (session_closed(s)) {
		list_ctx_free(c);
		session_unref(s);
		return;
	}
	int rc = -2;
	if (resp->status != CPM__STATUS__OK) {
		session_tagged_rpc_error(s, resp, what);
		session_done(s);
		list_ctx_free(c);
		session_unref(s);
		return;
	} else if (c->lsub && resp->result_case == CPM__RESPONSE__RESULT_SUBSCRIPTION_LIST) {
		rc = list_write(s, c, NULL, 0, resp->subscription_list->names, resp->subscription_list->n_names);
	} else if (!c->lsub && resp->result_case == CPM__RESPONSE__RESULT_FOLDER_LIST) {
		if (list_shared(s, c, resp))
			return;
		/* The subscriptions too, when asked (names of gone folders included). */
		const Cpm__FolderListResp *r = resp->folder_list;
		rc = list_write(s, c, r->folders, r->n_folders, r->subscriptions, r->n_subscriptions);
	}
	list_end(s, c, rc);
}

static void list_call(struct session *s, struct list_ctx *c, bool subscriptions)
{
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FolderListReq fl = CPM__FOLDER_LIST_REQ__INIT;
	Cpm__SubscriptionListReq sl = CPM__SUBSCRIPTION_LIST_REQ__INIT;
	fl.user = sl.user = s->user;
	if (subscriptions) {
		req.op_case = CPM__REQUEST__OP_SUBSCRIPTION_LIST;
		req.subscription_list = &sl;
	} else {
		fl.subscriptions = c->sel_subscribed || c->ret_subscribed;
		req.op_case = CPM__REQUEST__OP_FOLDER_LIST;
		req.folder_list = &fl;
	}
	session_ref(s);
	session_rpc(s, s->shard, &req, 0, on_list, c);
}

static int parse_status_items(struct session *s, const struct imap_arg *l, unsigned *items, unsigned *n);

/* A pattern "Other Users/bob/..." names owner bob when that part has no
 * wildcard: remembered for list_shared. */
static void pattern_owner(struct list_ctx *c, const char *p, size_t len)
{
	size_t pl = strlen(ACL_OTHER_PREFIX);
	if (len <= pl || memcmp(p, ACL_OTHER_PREFIX, pl) != 0)
		return;
	const char *u = p + pl, *end = memchr(u, DELIM, len - pl);
	size_t ul = end != NULL ? (size_t)(end - u) : len - pl;
	if (ul == 0 || ul > USER_NAME_MAX || memchr(u, '*', ul) != NULL || memchr(u, '%', ul) != NULL)
		return;
	char *owner = strndup(u, ul);
	if (owner != NULL && user_name_valid(owner) && c->n_owners < LIST_MAX_PATTERNS)
		c->owners[c->n_owners++] = owner;
	else
		free(owner);
}

/* Parses LIST-EXTENDED options. NULL, or the BAD text. */
static const char *list_options(struct list_ctx *c, const struct imap_arg *sel, const struct imap_arg *ret)
{
	for (unsigned i = 0; sel != NULL && i < sel->list_count; i++) {
		const char *o = sel->list[i].type == IMAP_ARG_ATOM ? sel->list[i].str : "";
		if (strcasecmp(o, "SUBSCRIBED") == 0)
			c->sel_subscribed = true;
		else if (strcasecmp(o, "SPECIAL-USE") == 0)
			c->sel_special_use = true;
		else if (strcasecmp(o, "RECURSIVEMATCH") == 0)
			c->recursivematch = true;
		else if (strcasecmp(o, "REMOTE") == 0)
			; /* no remote mailboxes */
		else
			return "Unknown LIST selection option";
	}
	/* RFC 5258 3.1: RECURSIVEMATCH refines another selection option. */
	if (c->recursivematch && !c->sel_subscribed && !c->sel_special_use)
		return "RECURSIVEMATCH needs another selection option";
	for (unsigned i = 0; ret != NULL && i < ret->list_count; i++) {
		const struct imap_arg *a = &ret->list[i];
		const char *o = a->type == IMAP_ARG_ATOM ? a->str : "";
		if (strcasecmp(o, "SUBSCRIBED") == 0) {
			c->ret_subscribed = true;
		} else if (strcasecmp(o, "CHILDREN") == 0 || strcasecmp(o, "SPECIAL-USE") == 0) {
			; /* always returned */
		} else if (strcasecmp(o, "STATUS") == 0) {
			if (i + 1 >= ret->list_count || ret->list[i + 1].type != IMAP_ARG_LIST ||
			    parse_status_items(c->s, &ret->list[i + 1], c->status, &c->n_status) < 0)
				return "Invalid STATUS return option";
			i++;
		} else {
			return "Unknown LIST return option";
		}
	}
	return NULL;
}

void cmd_list(struct session *s, const struct imap_command *cmd)
{
	bool lsub = strcmp(cmd->name, "LSUB") == 0;
	const struct imap_arg *args = cmd->args, *sel = NULL, *ret = NULL;
	unsigned n = cmd->nargs;
	/* LIST [(selection)] reference patterns [RETURN (options)] */
	if (!lsub && n >= 1 && args[0].type == IMAP_ARG_LIST) {
		sel = &args[0];
		args++;
		n--;
	}
	if (!lsub && n == 4 && args[2].type == IMAP_ARG_ATOM && strcasecmp(args[2].str, "RETURN") == 0 &&
	    args[3].type == IMAP_ARG_LIST) {
		ret = &args[3];
		n = 2;
	}
	if (n != 2 || arg_astring(&args[0]) == NULL ||
	    (args[1].type != IMAP_ARG_LIST && arg_astring(&args[1]) == NULL) ||
	    (lsub && args[1].type == IMAP_ARG_LIST)) {
		session_tagged(s, "BAD", "%s needs a reference and a mailbox pattern", cmd->name);
		session_done(s);
		return;
	}
	struct list_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		session_done(s);
		return;
	}
	c->s = s;
	c->lsub = lsub;
	c->extended = sel != NULL || ret != NULL || args[1].type == IMAP_ARG_LIST;
	const char *err = list_options(c, sel, ret);
	const struct imap_arg *pats = args[1].type == IMAP_ARG_LIST ? args[1].list : &args[1];
	unsigned n_pats = args[1].type == IMAP_ARG_LIST ? args[1].list_count : 1;
	if (err == NULL && (n_pats == 0 || n_pats > LIST_MAX_PATTERNS))
		err = "Invalid number of patterns";
	struct buf ref = {0}, pat = {0};
	if (err == NULL && arg_mailbox(&args[0], &ref) < 0)
		err = "Invalid modified UTF-7 in the reference";
	bool empty_only = true;
	for (unsigned i = 0; err == NULL && i < n_pats; i++) {
		if (arg_astring(&pats[i]) == NULL || arg_mailbox(&pats[i], &pat) < 0) {
			err = "Invalid mailbox pattern";
			break;
		}
		if (pat.len == 0)
			continue;
		empty_only = false;
		/* The reference and the pattern are simply concatenated. */
		struct buf full = {0};
		if (buf_append(&full, ref.data ? ref.data : (const unsigned char *)"", ref.len) < 0 ||
		    buf_append(&full, pat.data, pat.len) < 0 || full.len > LIST_MATCH_MAX_PATTERN ||
		    (c->match[c->n_match] = list_match_new((const char *)full.data, full.len, DELIM)) == NULL) {
			err = full.len > LIST_MATCH_MAX_PATTERN ? "Pattern too long" : "Out of memory";
			buf_free(&full);
			break;
		}
		c->n_match++;
		pattern_owner(c, (const char *)full.data, full.len);
		buf_free(&full);
	}
	buf_free(&ref);
	buf_free(&pat);
	if (err != NULL) {
		session_tagged(s, "BAD", "%s", err);
		list_ctx_free(c);
		session_done(s);
		return;
	}
	if (empty_only) {
		/* RFC 3501: an empty LIST pattern asks for the delimiter and the
		 * root of the reference; our names have no root prefix. For LSUB
		 * an empty pattern matches no subscription. */
		if (!lsub)
			session_untagged(s, "LIST (\\Noselect) \"/\" \"\"");
		session_tagged(s, "OK", "%s completed.", lsub ? "Lsub" : "List");
		list_ctx_free(c);
		session_done(s);
		return;
	}
	list_call(s, c, lsub);
}

/* ---- SELECT / EXAMINE -------------------------------------------------------- */

struct select_ctx {
	struct session *s;
	struct buf name;
	struct mailbox_ref ref;
	bool readonly;
	struct select_params params; /* RFC 7162 (CONDSTORE) / (QRESYNC ...) */
};

static void select_ctx_free(struct select_ctx *c)
{
	buf_free(&c->name);
	select_params_clear(&c->params);
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

void mailbox_write_flags(struct session *s, char *const *keywords, size_t n, bool readonly)
{
	struct buf *b = session_outbuf(s);
	buf_append_str(b, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	write_keywords(b, keywords, n);
	buf_append_str(b, ")\r\n");
	if (readonly) {
		buf_append_str(b, "* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n");
		return;
	}
	/* Only the flags the ACL lets this user store (RFC 4314 4). */
	uint32_t rights = s->sel.rights;
	struct buf list = {0};
	if (rights & ACL_W)
		buf_append_str(&list, " \\Answered \\Flagged");
	if (rights & ACL_T)
		buf_append_str(&list, " \\Deleted");
	if (rights & ACL_S)
		buf_append_str(&list, " \\Seen");
	if (rights & ACL_W) {
		buf_append_str(&list, " \\Draft");
		write_keywords(&list, keywords, n);
		buf_append_str(&list, " \\*");
	}
	buf_append_str(b, "* OK [PERMANENTFLAGS (");
	if (list.len > 0)
		buf_append(b, list.data + 1, list.len - 1);
	buf_append_str(b, ")] Flags permitted.\r\n");
	buf_free(&list);
}

static void select_succeeded(struct session *s, struct select_ctx *c, const Cpm__FolderSelectResp *r)
{
	/* RFC 4314 4: without a right that changes the folder, it is read-only. */
	if (!(r->rights & (ACL_S | ACL_W | ACL_T | ACL_E | ACL_I)))
		c->readonly = true;
	session_select(s, (const char *)c->name.data, c->ref.owner, c->ref.shard, r, c->readonly);
	const struct selected_folder *f = &s->sel;

	mailbox_write_flags(s, r->keywords, r->n_keywords, c->readonly);
	session_untagged(s, "%u EXISTS", (unsigned)f->count);
	session_untagged(s, "%u RECENT", (unsigned)recent_count(f));
	if (r->unseen_seq > 0 && r->unseen_seq <= f->count)
		session_untagged(s, "OK [UNSEEN %u] First unseen.", (unsigned)r->unseen_seq);
	session_untagged(s, "OK [UIDVALIDITY %u] UIDs valid", (unsigned)f->uidvalidity);
	session_untagged(s, "OK [UIDNEXT %u] Predicted next UID", (unsigned)f->uidnext);
	if (c->params.condstore)
		s->condstore = true; /* enabled by this SELECT: HIGHESTMODSEQ follows here */
	if (s->condstore)
		session_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest", (unsigned long long)f->highestmodseq);
}

/* The end of a SELECT/EXAMINE (after the QRESYNC report, if any). */
static void select_finish(struct session *s, bool ok, void *arg)
{
	struct select_ctx *c = arg;
	if (!session_closed(s)) {
		if (!ok || s->state != SESSION_SELECTED) {
			/* The client must not believe it is in sync when it is not. */
			session_unselect(s);
			session_tagged(s, "NO", "[UNAVAILABLE] %s: resynchronisation failed, try again",
				       c->readonly ? "EXAMINE" : "SELECT");
		} else if (c->readonly)
			session_tagged(s, "OK", "[READ-ONLY] Examine completed.");
		else
			session_tagged(s, "OK", "[READ-WRITE] Select completed.");
		session_done(s);
	}
	select_ctx_free(c);
	session_unref(s);
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
			qresync_report(s, &c->params, select_finish, c);
			return;
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
	if (cmd->nargs < 1 || cmd->nargs > 2 || arg_astring(&cmd->args[0]) == NULL) {
		/* A syntax error does not run the command: the selection stays. */
		session_tagged(s, "BAD", "%s needs a mailbox name and optional parameters", readonly ? "EXAMINE" : "SELECT");
		session_done(s);
		return;
	}
	struct select_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		session_done(s);
		return;
	}
	imap_seqset_init(&c->params.known);
	const char *err = cmd->nargs == 2 ? select_params_parse(s, &cmd->args[1], &c->params) : NULL;
	if (err != NULL) {
		session_tagged(s, "BAD", "%s", err);
		select_ctx_free(c);
		session_done(s);
		return;
	}
	/* RFC 3501 6.3.1: the current folder is closed first, even if the new
	 * one cannot be opened; RFC 7162 3.2.11 says so with [CLOSED]. */
	if (s->state == SESSION_SELECTED)
		session_untagged(s, "OK [CLOSED] Previous mailbox closed.");
	session_unselect(s);
	c->s = s;
	c->readonly = readonly;
	if (mailbox_arg(s, &cmd->args[0], &c->name) < 0) {
		select_ctx_free(c);
		return;
	}

	mailbox_ref_resolve(s, (const char *)c->name.data, &c->ref);
	if (c->ref.kind == MREF_NAMESPACE) {
		session_tagged(s, "NO", "[NONEXISTENT] Mailbox doesn't exist (a namespace, not a mailbox)");
		select_ctx_free(c);
		session_done(s);
		return;
	}
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FolderSelectReq fs = CPM__FOLDER_SELECT_REQ__INIT;
	fs.user = c->ref.owner;
	fs.name = (char *)c->ref.name;
	fs.readonly = readonly;
	req.op_case = CPM__REQUEST__OP_FOLDER_SELECT;
	req.folder_select = &fs;
	session_ref(s);
	session_rpc(s, c->ref.shard, &req, 0, on_select, c);
}

/* ---- DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE --------------------------------- */

/* One RPC whose answer is only a status: the tagged OK text is fixed. */
struct simple_ctx {
	struct session *s;
	const char *ok_text;
	const char *what;
	struct buf name;       /* the folder affected */
	struct buf to;         /* RENAME: its new name */
	bool unselect_if_selected;
};

static void simple_ctx_free(struct simple_ctx *c)
{
	buf_free(&c->name);
	buf_free(&c->to);
	free(c);
}

/* RENAME keeps each folder's identity: a selected folder that moved (or
 * whose parent moved) stays selected under its new name. */
static void follow_rename(struct session *s, const char *from, const char *to)
{
	if (s->state != SESSION_SELECTED || s->sel.name == NULL)
		return;
	size_t fl = strlen(from);
	if (strncmp(s->sel.name, from, fl) != 0 || (s->sel.name[fl] != '\0' && s->sel.name[fl] != DELIM))
		return;
	struct buf nn = {0};
	buf_append_str(&nn, to);
	buf_append_str(&nn, s->sel.name + fl);
	unsigned char *p = buf_steal(&nn, NULL);
	if (p != NULL) {
		free(s->sel.name);
		s->sel.name = (char *)p;
	}
}

static void on_simple(const Cpm__Response *resp, void *ctx)
{
	struct simple_ctx *c = ctx;
	struct session *s = c->s;
	if (!session_closed(s)) {
		if (resp->status == CPM__STATUS__OK) {
			/* A deleted selected folder is gone: leave the selected state. */
			if (c->unselect_if_selected && s->state == SESSION_SELECTED && s->sel.name != NULL &&
			    strcmp(s->sel.name, (const char *)c->name.data) == 0)
				session_unselect(s);
			if (c->to.len > 0)
				follow_rename(s, (const char *)c->name.data, (const char *)c->to.data);
			session_tagged(s, "OK", "%s", c->ok_text);
		} else if (resp->status == CPM__STATUS__EXISTS && strcmp(c->what, "DELETE") == 0) {
			session_tagged(s, "NO", "[CANNOT] %s", resp->error);
		} else {
			session_tagged_rpc_error(s, resp, c->what);
		}
		session_done(s);
	}
	simple_ctx_free(c);
	session_unref(s);
}

static struct simple_ctx *simple_begin(struct session *s, const char *what, const char *ok_text)
{
	struct simple_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		session_done(s);
		return NULL;
	}
	c->s = s;
	c->what = what;
	c->ok_text = ok_text;
	return c;
}

static void simple_call(struct session *s, struct simple_ctx *c, size_t shard, Cpm__Request *req)
{
	session_ref(s);
	session_rpc(s, shard, req, 0, on_simple, c);
}

/* Resolves a folder name of the command (mailbox-ref.h); a namespace node
 * is no folder: answered NO here (false). */
static bool folder_ref(struct session *s, struct simple_ctx *c, const struct buf *name, struct mailbox_ref *r)
{
	mailbox_ref_resolve(s, (const char *)name->data, r);
	if (r->kind == MREF_FOLDER)
		return true;
	session_tagged(s, "NO", "[NONEXISTENT] %s: a namespace, not a mailbox", c->what);
	simple_ctx_free(c);
	session_done(s);
	return false;
}

void cmd_delete(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 1) {
		session_tagged(s, "BAD", "DELETE needs a mailbox name");
		session_done(s);
		return;
	}
	struct simple_ctx *c = simple_begin(s, "DELETE", "Delete completed.");
	if (c == NULL)
		return;
	if (mailbox_arg(s, &cmd->args[0], &c->name) < 0) {
		simple_ctx_free(c);
		return;
	}
	if (strcmp((const char *)c->name.data, "INBOX") == 0) {
		session_tagged(s, "NO", "INBOX can't be deleted.");
		simple_ctx_free(c);
		session_done(s);
		return;
	}
	c->unselect_if_selected = true;
	struct mailbox_ref ref;
	if (!folder_ref(s, c, &c->name, &ref))
		return;
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FolderDeleteReq q = CPM__FOLDER_DELETE_REQ__INIT;
	q.user = ref.owner;
	q.name = (char *)ref.name;
	req.op_case = CPM__REQUEST__OP_FOLDER_DELETE;
	req.folder_delete = &q;
	simple_call(s, c, ref.shard, &req);
}

void cmd_rename(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 2) {
		session_tagged(s, "BAD", "RENAME needs an existing and a new mailbox name");
		session_done(s);
		return;
	}
	struct simple_ctx *c = simple_begin(s, "RENAME", "Rename completed.");
	if (c == NULL)
		return;
	if (mailbox_arg(s, &cmd->args[0], &c->name) < 0 || mailbox_arg(s, &cmd->args[1], &c->to) < 0) {
		simple_ctx_free(c);
		return;
	}
	while (c->to.len > 0 && c->to.data[c->to.len - 1] == DELIM)
		buf_truncate(&c->to, c->to.len - 1);
	if (!folder_name_valid((const char *)c->to.data, c->to.len) || strcmp((const char *)c->to.data, "INBOX") == 0) {
		session_tagged(s, "NO", strcmp((const char *)c->to.data, "INBOX") == 0
						? "[ALREADYEXISTS] Mailbox already exists"
						: "[CANNOT] Invalid mailbox name");
		simple_ctx_free(c);
		session_done(s);
		return;
	}
	struct mailbox_ref from, to;
	if (!folder_ref(s, c, &c->name, &from) || !folder_ref(s, c, &c->to, &to))
		return;
	if (strcmp(from.owner, to.owner) != 0) {
		session_tagged(s, "NO", "[CANNOT] RENAME can't move a mailbox to another user");
		simple_ctx_free(c);
		session_done(s);
		return;
	}
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FolderRenameReq q = CPM__FOLDER_RENAME_REQ__INIT;
	q.user = from.owner;
	q.from = (char *)from.name;
	q.to = (char *)to.name;
	req.op_case = CPM__REQUEST__OP_FOLDER_RENAME;
	req.folder_rename = &q;
	simple_call(s, c, from.shard, &req);
}

void cmd_subscribe(struct session *s, const struct imap_command *cmd)
{
	bool on = strcmp(cmd->name, "SUBSCRIBE") == 0;
	if (cmd->nargs != 1) {
		session_tagged(s, "BAD", "%s needs a mailbox name", cmd->name);
		session_done(s);
		return;
	}
	struct simple_ctx *c = simple_begin(s, on ? "SUBSCRIBE" : "UNSUBSCRIBE",
					    on ? "Subscribe completed." : "Unsubscribe completed.");
	if (c == NULL)
		return;
	if (mailbox_arg(s, &cmd->args[0], &c->name) < 0) {
		simple_ctx_free(c);
		return;
	}
	struct mailbox_ref ref;
	if (!folder_ref(s, c, &c->name, &ref))
		return;
	/* Subscriptions are the user's own, also to other users' folders,
	 * which are kept by their full name and not looked up. */
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FolderSubscribeReq q = CPM__FOLDER_SUBSCRIBE_REQ__INIT;
	q.user = s->user;
	q.name = ref.other ? (char *)c->name.data : (char *)ref.name;
	q.foreign = ref.other;
	q.subscribe = on;
	req.op_case = CPM__REQUEST__OP_FOLDER_SUBSCRIBE;
	req.folder_subscribe = &q;
	simple_call(s, c, s->shard, &req);
}

/* ---- STATUS ------------------------------------------------------------------ */


/* Parses a STATUS item list into items (deduplicated, in order). 0, or -1
 * on an unknown item. HIGHESTMODSEQ is a CONDSTORE enabling item. */
static int parse_status_items(struct session *s, const struct imap_arg *l, unsigned *items, unsigned *n)
{
	*n = 0;
	if (l->list_count == 0)
		return -1;
	for (unsigned i = 0; i < l->list_count; i++) {
		const struct imap_arg *it = &l->list[i];
		unsigned k = ST_MAX;
		for (unsigned j = 0; it->type == IMAP_ARG_ATOM && j < ST_MAX; j++)
			if (strcasecmp(it->str, status_names[j]) == 0)
				k = j;
		if (k == ST_MAX)
			return -1;
		bool dup = false;
		for (unsigned j = 0; j < *n; j++)
			dup |= items[j] == k;
		if (!dup)
			items[(*n)++] = k;
	}
	for (unsigned i = 0; i < *n; i++)
		if (items[i] == ST_HIGHESTMODSEQ)
			condstore_enable(s);
	return 0;
}

/* "* STATUS name (ITEM n ...)" from a folder's info. */
static void write_status(struct session *s, const char *name, const unsigned *items, unsigned n,
			 const Cpm__FolderInfo *fi)
{
	struct buf *b = session_outbuf(s);
	buf_append_str(b, "* STATUS ");
	write_mailbox(b, name);
	buf_append_str(b, " (");
	for (unsigned i = 0; i < n; i++) {
		uint64_t v = 0;
		switch (items[i]) {
		case ST_MESSAGES: v = fi->exists; break;
		case ST_RECENT: v = fi->recent; break;
		case ST_UIDNEXT: v = fi->uidnext; break;
		case ST_UIDVALIDITY: v = fi->uidvalidity; break;
		case ST_UNSEEN: v = fi->unseen; break;
		case ST_SIZE: v = fi->size; break;
		case ST_HIGHESTMODSEQ: v = fi->highestmodseq; break;
		default: break;
		}
		buf_printf(b, "%s%s %llu", i ? " " : "", status_names[items[i]], (unsigned long long)v);
	}
	buf_append_str(b, ")\r\n");
}

static void write_status_line(struct session *s, const struct list_ctx *c, const char *name,
			      const Cpm__FolderInfo *fi)
{
	write_status(s, name, c->status, c->n_status, fi);
}

struct status_ctx {
	struct session *s;
	struct buf name;
	unsigned items[ST_MAX];
	unsigned n_items;
};

static void on_status(const Cpm__Response *resp, void *ctx)
{
	struct status_ctx *c = ctx;
	struct session *s = c->s;
	if (!session_closed(s)) {
		if (resp->status != CPM__STATUS__OK) {
			session_tagged_rpc_error(s, resp, "STATUS");
		} else if (resp->result_case != CPM__RESPONSE__RESULT_FOLDER_STATUS || resp->folder_status->info == NULL) {
			session_tagged(s, "NO", "[SERVERBUG] STATUS: bad back-end response");
		} else {
			write_status(s, (const char *)c->name.data, c->items, c->n_items, resp->folder_status->info);
			session_tagged(s, "OK", "Status completed.");
		}
		session_done(s);
	}
	buf_free(&c->name);
	free(c);
	session_unref(s);
}

void cmd_status(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 2 || cmd->args[1].type != IMAP_ARG_LIST || cmd->args[1].list_count == 0) {
		session_tagged(s, "BAD", "STATUS needs a mailbox name and a list of status items");
		session_done(s);
		return;
	}
	struct status_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		session_done(s);
		return;
	}
	c->s = s;
	if (parse_status_items(s, &cmd->args[1], c->items, &c->n_items) < 0) {
		session_tagged(s, "BAD", "Unknown STATUS item");
		free(c);
		session_done(s);
		return;
	}
	if (mailbox_arg(s, &cmd->args[0], &c->name) < 0) {
		buf_free(&c->name);
		free(c);
		return;
	}
	struct mailbox_ref ref;
	mailbox_ref_resolve(s, (const char *)c->name.data, &ref);
	if (ref.kind != MREF_FOLDER) {
		session_tagged(s, "NO", "[NONEXISTENT] STATUS: a namespace, not a mailbox");
		buf_free(&c->name);
		free(c);
		session_done(s);
		return;
	}
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__FolderStatusReq q = CPM__FOLDER_STATUS_REQ__INIT;
	q.user = ref.owner;
	q.name = (char *)ref.name;
	req.op_case = CPM__REQUEST__OP_FOLDER_STATUS;
	req.folder_status = &q;
	session_ref(s);
	session_rpc(s, ref.shard, &req, 0, on_status, c);
}
