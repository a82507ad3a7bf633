/*
 * op-search: evaluating a search program (proto SearchKey) over a folder.
 *
 * The front-end has already turned sequence numbers and \Recent into UID
 * ranges, so everything here depends on stored data only: flags, keywords,
 * internal date, size, and the message bytes for header, body and sent-date
 * keys. Message bytes are read from the LMDB map without a copy, and only
 * for messages that reach a key that needs them.
 *
 * Text matching uses i;unicode-casemap (RFC 5051, unicode-casemap.h: each
 * key folded once per SEARCH, texts folded in bounded chunks; invalid UTF-8
 * matches byte for byte): header field
 * values over their raw bytes, folded lines included; BODY and TEXT over
 * the raw bytes and over the text parts decoded (base64/quoted-printable
 * undone, charset converted to UTF-8), so encoded bodies are found too;
 * header values also after their RFC 2047 encoded words are decoded.
 */
#include "ops.h"

#include "acl.h"

#include "imap-envelope.h"
#include "log.h"
#include "mime-decode.h"
#include "mime-parse.h"
#include "op-sort.h"
#include "op-thread.h"
#include "u64map.h"
#include "unicode-casemap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SEARCH_MAX_DEPTH 64
#define SEARCH_ADDRESS_MAX 1000 /* addresses of one field looked at by FROM/TO/CC/BCC */

#define SEARCH_MAX_DECODED (16u << 20) /* decoded text examined per message */

struct msg_view {
	const struct op_ctx *ctx;
	MDB_txn *t;
	uint32_t uid;
	const Cpmdb__MsgRec *rec;
	const unsigned char *data; /* the message, loaded on first need */
	size_t len;
	bool loaded;
	struct buf decoded;        /* text parts decoded to UTF-8, on first need */
	bool decoded_done;
	struct span { size_t off, len; } *skip; /* binary parts (base64, not text): not body text */
	size_t n_skip;
	struct u64map *needles;    /* key text (by address) -> struct folded, for the whole SEARCH */
};

/* A search key's text in i;unicode-casemap canonical form. */
struct folded {
	uint32_t *cps;
	size_t n;
};

/* The folded form of text, folded on first use and kept for the whole
 * SEARCH (the program's strings live as long as the request). NULL when
 * out of memory or the key is too long. */
static const struct folded *needle_of(struct msg_view *m, const char *text)
{
	struct folded *f = u64map_get(m->needles, (uint64_t)(uintptr_t)text);
	if (f != NULL)
		return f;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	if (ucm_fold((const unsigned char *)text, strlen(text), &f->cps, &f->n) < 0 ||
	    u64map_put(m->needles, (uint64_t)(uintptr_t)text, f) < 0) {
		free(f->cps);
		free(f);
		return NULL;
	}
	return f;
}

static void needles_free(struct u64map *map)
{
	for (size_t i = 0; i < map->cap; i++) {
		struct folded *f = map->keys[i] != 0 ? map->vals[i] : NULL;
		if (f != NULL) {
			free(f->cps);
			free(f);
		}
	}
	u64map_free(map);
}

static bool load(struct msg_view *m)
{
	if (!m->loaded) {
		m->loaded = true;
		if (m->rec->blob.len != 32 ||
		    db_blob_get(m->t, m->ctx->db, m->rec->blob.data, &m->data, &m->len, NULL) != DB_OK) {
			m->data = NULL;
			m->len = 0;
		}
	}
	return m->data != NULL;
}

static bool token_is(const unsigned char *s, size_t len, const char *name)
{
	return s != NULL && strlen(name) == len && strncasecmp((const char *)s, name, len) == 0;
}

/* Whether decoding a text part would give back its bytes unchanged (no
 * transfer encoding, UTF-8 or plain ASCII): the scan of the raw message
 * has covered it already, so decoded_text leaves it out. */
static bool identity_text(const unsigned char *enc, size_t el, const unsigned char *cs, size_t cl,
			  const unsigned char *body, size_t blen)
{
	if (!(enc == NULL || el == 0 || token_is(enc, el, "7bit") || token_is(enc, el, "8bit") ||
	      token_is(enc, el, "binary")))
		return false;
	if (token_is(cs, cl, "utf-8") || token_is(cs, cl, "utf8"))
		return true;
	if (cs != NULL && cl > 0 && !token_is(cs, cl, "us-ascii"))
		return false;
	/* 8-bit bytes without a charset: let the decoder decide */
	size_t i = 0;
	for (; i + 8 <= blen; i += 8) {
		uint64_t w;
		memcpy(&w, body + i, sizeof(w));
		if (w & 0x8080808080808080ull)
			return false;
	}
	for (; i < blen; i++)
		if (body[i] >= 0x80)
			return false;
	return true;
}

/* The message's text parts as a reader sees them, from the MIME tree
 * stored at APPEND (parsed now when there is none): transfer encoding
 * undone and charset converted to UTF-8 (mime-decode.h) into m->decoded —
 * except the parts that would decode to themselves, which the raw scan of
 * the body covers. Base64 parts that are not text (images, media,
 * attachments) are noted in m->skip: the raw scan leaves them out. */
static const struct buf *decoded_text(struct msg_view *m)
{
	if (m->decoded_done || !load(m))
		return &m->decoded;
	m->decoded_done = true;
	struct mime_tree *tree = NULL;
	const unsigned char *p;
	size_t plen;
	if (m->rec->blob.len == 32 && db_parsed_get(m->t, m->ctx->db, m->rec->blob.data, &p, &plen) == DB_OK)
		mime_tree_deserialize(p, plen, &tree);
	if (tree == NULL && mime_parse(m->data, m->len, &tree) < 0)
		return &m->decoded;
	for (uint32_t i = 0; i < tree->n_parts && m->decoded.len < SEARCH_MAX_DECODED; i++) {
		const struct mime_part *pt = &tree->parts[i];
		if (pt->n_children != 0 || pt->body_off > m->len)
			continue;
		size_t blen = pt->body_len <= m->len - pt->body_off ? pt->body_len : m->len - pt->body_off;
		size_t el = 0, cl = 0;
		const unsigned char *enc = mime_tree_str(tree, pt->encoding, &el);
		if (!(pt->flags & MIME_PART_TEXT)) {
			if (token_is(enc, el, "base64")) {
				struct span *ns = realloc(m->skip, (m->n_skip + 1) * sizeof(*ns));
				if (ns == NULL)
					break;
				m->skip = ns;
				m->skip[m->n_skip++] = (struct span){pt->body_off, blen};
			}
			continue;
		}
		const unsigned char *cs = NULL;
		for (uint32_t k = 0; k < pt->params.count; k++) {
			size_t nl;
			const unsigned char *name = mime_store_get(&tree->st, tree->st.strs[pt->params.first + 2 * k], &nl);
			if (name != NULL && nl == 7 && strncasecmp((const char *)name, "charset", 7) == 0)
				cs = mime_store_get(&tree->st, tree->st.strs[pt->params.first + 2 * k + 1], &cl);
		}
		if (identity_text(enc, el, cs, cl, m->data + pt->body_off, blen))
			continue;
		mime_decode_text(&m->decoded, m->data + pt->body_off, blen, (const char *)enc, el, (const char *)cs, cl,
				 SEARCH_MAX_DECODED);
		buf_append_byte(&m->decoded, '\n');
	}
	mime_tree_free(&tree);
	return &m->decoded;
}


/* i;unicode-casemap substring search; an empty needle matches. */
static bool ci_contains(const unsigned char *h, size_t hl, const struct folded *needle)
{
	return ucm_contains(needle->cps, needle->n, h, hl) == 1;
}

/* Length of the header block (through the empty line), or the whole message. */
static size_t header_len(const unsigned char *d, size_t len)
{
	for (const unsigned char *nl = memchr(d, '\n', len); nl != NULL;
	     nl = memchr(nl + 1, '\n', len - (size_t)(nl + 1 - d))) {
		size_t i = (size_t)(nl - d);
		if (i + 1 < len && d[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && d[i + 1] == '\r' && d[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

/* Calls back for each occurrence of field name: value start and length
 * (folded continuation lines included). Returns true when fn did. */
static bool each_field(const unsigned char *h, size_t hl, const char *name,
		       bool (*fn)(const unsigned char *v, size_t vl, const void *arg), const void *arg)
{
	size_t nl = name != NULL ? strlen(name) : 0;
	size_t i = 0;
	while (i < hl) {
		size_t line = i;
		/* The field's extent: up to a line end not followed by white space. */
		size_t end = i;
		for (;;) {
			const unsigned char *lf = memchr(h + end, '\n', hl - end);
			end = lf != NULL ? (size_t)(lf - h) : hl;
			if (end >= hl || !(end + 1 < hl && (h[end + 1] == ' ' || h[end + 1] == '\t')))
				break;
			end++;
		}
		if (name == NULL) {
			/* Every field: the value after the first colon. */
			const unsigned char *colon = memchr(h + line, ':', end - line);
			if (colon != NULL && fn(colon + 1, (size_t)(h + end - colon - 1), arg))
				return true;
		} else if (end - line > nl && h[line + nl] == ':' && strncasecmp((const char *)h + line, name, nl) == 0 &&
			   fn(h + line + nl + 1, end - line - nl - 1, arg)) {
			return true;
		}
		i = end + 1;
	}
	return false;
}

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* BODY: the folded key in the raw body (after the header, binary parts
 * left out) or in the decoded text parts (decoded_text). */
static bool body_contains(struct msg_view *m, const struct folded *f)
{
	const struct buf *d = decoded_text(m);
	if (m->n_skip > 1)
		qsort(m->skip, m->n_skip, sizeof(*m->skip), span_cmp);
	size_t pos = header_len(m->data, m->len);
	for (size_t i = 0; i <= m->n_skip; i++) {
		size_t end = i < m->n_skip ? m->skip[i].off : m->len;
		if (end > pos && ci_contains(m->data + pos, end - pos, f))
			return true;
		if (i < m->n_skip && m->skip[i].off + m->skip[i].len > pos)
			pos = m->skip[i].off + m->skip[i].len;
	}
	return d->len > 0 && ci_contains(d->data, d->len, f);
}

/* The raw value, or the value with its encoded words decoded (RFC 2047). */
static bool value_contains(const unsigned char *v, size_t vl, const void *arg)
{
	if (ci_contains(v, vl, arg))
		return true;
	if (memmem(v, vl, "=?", 2) == NULL)
		return false;
	struct buf d = {0};
	bool hit = mime_decode_words(&d, v, vl, 1 << 16) == 0 && d.len > 0 && ci_contains(d.data, d.len, arg);
	buf_free(&d);
	return hit;
}

/* SEARCH FROM/TO/CC/BCC (as Dovecot): the field's addresses, parsed as
 * ENVELOPE does (comments dropped, a bare address's comment as its name),
 * written "name <mailbox@host>, ..." with groups as "group: ... ;", contain
 * the text (encoded words in names decoded). */
static bool address_contains(const unsigned char *h, size_t hl, const char *field, const struct folded *needle)
{
	static const char *const names[IMAP_ENV_ADDR_FIELDS] = {"FROM", "SENDER", "REPLY-TO", "TO", "CC", "BCC"};
	int which = -1;
	for (int i = 0; i < IMAP_ENV_ADDR_FIELDS && field != NULL; i++)
		if (strcasecmp(field, names[i]) == 0)
			which = i;
	if (which < 0)
		return false;
	struct mime_store st = {0};
	st.budget = SEARCH_ADDRESS_MAX * 4;
	struct mime_list list;
	struct buf line = {0};
	bool hit = false;
	if (imap_envelope_parse_addresses(h, hl, &st, (enum imap_envelope_addr_field)which, &list) == 0) {
		const struct mime_list *l = &list;
		for (uint32_t i = 0; i < l->count && l->first + 4 * (i + 1) <= st.n_strs; i++) {
			size_t len[4];
			const unsigned char *p[4];
			for (int j = 0; j < 4; j++)
				p[j] = mime_store_get(&st, st.strs[l->first + 4 * i + (uint32_t)j], &len[j]);
			if (line.len > 0 && line.data[line.len - 1] != ':')
				buf_append_str(&line, ", ");
			if (p[2] == NULL) { /* group end */
				buf_append_str(&line, ";");
				continue;
			}
			if (p[3] == NULL) { /* group start */
				buf_append(&line, p[2], len[2]);
				buf_append_str(&line, ":");
				continue;
			}
			if (p[0] != NULL) {
				buf_append(&line, p[0], len[0]);
				buf_append_str(&line, " ");
			}
			buf_append_str(&line, "<");
			buf_append(&line, p[2], len[2]);
			buf_append_str(&line, "@");
			buf_append(&line, p[3], len[3]);
			buf_append_str(&line, ">");
		}
		hit = line.len > 0 && value_contains(line.data, line.len, needle);
	}
	buf_free(&line);
	mime_store_free(&st);
	return hit;
}

/* The Date: header's day (as written, zone disregarded), 00:00 UTC. */
static bool value_date(const unsigned char *v, size_t vl, const void *arg)
{
	char tmp[128];
	size_t n = vl < sizeof(tmp) - 1 ? vl : sizeof(tmp) - 1;
	memcpy(tmp, v, n);
	tmp[n] = '\0';
	const char *p = tmp;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	const char *comma = strchr(p, ',');
	if (comma != NULL)
		p = comma + 1;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (strptime(p, " %d %b %Y", &tm) == NULL)
		return false;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	*(int64_t *)arg = (int64_t)timegm(&tm);
	return true;
}

static int64_t internal_day(const Cpmdb__MsgRec *r)
{
	int64_t local = r->internaldate + (int64_t)r->internaldate_tz * 60;
	int64_t day = local / 86400;
	if (local < 0 && local % 86400 != 0)
		day--;
	return day * 86400;
}

static bool has_keyword(const Cpmdb__MsgRec *r, const char *k)
{
	for (size_t i = 0; i < r->n_keywords; i++)
		if (strcasecmp(r->keywords[i], k) == 0)
			return true;
	return false;
}

static bool in_ranges(const Cpm__SearchKey *k, uint32_t uid)
{
	for (size_t i = 0; i < k->n_uids; i++)
		if (uid >= k->uids[i]->first && uid <= k->uids[i]->last)
			return true;
	return false;
}

static bool eval(const Cpm__SearchKey *k, struct msg_view *m, unsigned depth)
{
	if (k == NULL || depth > SEARCH_MAX_DEPTH)
		return false;
	const Cpmdb__MsgRec *r = m->rec;
	switch (k->op) {
	case CPM__SEARCH_OP__S_ALL:
		return true;
	case CPM__SEARCH_OP__S_AND:
		for (size_t i = 0; i < k->n_sub; i++)
			if (!eval(k->sub[i], m, depth + 1))
				return false;
		return true;
	case CPM__SEARCH_OP__S_OR:
		return k->n_sub == 2 && (eval(k->sub[0], m, depth + 1) || eval(k->sub[1], m, depth + 1));
	case CPM__SEARCH_OP__S_NOT:
		return k->n_sub == 1 && !eval(k->sub[0], m, depth + 1);
	case CPM__SEARCH_OP__S_UIDS:
		return in_ranges(k, m->uid);
	case CPM__SEARCH_OP__S_FLAG_SET:
		return (r->sys_flags & k->flag) == k->flag;
	case CPM__SEARCH_OP__S_FLAG_UNSET:
		return (r->sys_flags & k->flag) == 0;
	case CPM__SEARCH_OP__S_KEYWORD:
		return has_keyword(r, k->text);
	case CPM__SEARCH_OP__S_UNKEYWORD:
		return !has_keyword(r, k->text);
	case CPM__SEARCH_OP__S_BEFORE:
		return internal_day(r) < k->date;
	case CPM__SEARCH_OP__S_ON:
		return internal_day(r) == k->date;
	case CPM__SEARCH_OP__S_SINCE:
		return internal_day(r) >= k->date;
	case CPM__SEARCH_OP__S_SENTBEFORE:
	case CPM__SEARCH_OP__S_SENTON:
	case CPM__SEARCH_OP__S_SENTSINCE: {
		/* No Date: (or one that does not parse) counts as 1 Jan 1970,
		 * as in Dovecot: RFC 3501 leaves such messages open. */
		int64_t day = 0;
		if (!load(m))
			return false;
		if (!each_field(m->data, header_len(m->data, m->len), "Date", value_date, &day))
			day = 0;
		return k->op == CPM__SEARCH_OP__S_SENTBEFORE ? day < k->date
		       : k->op == CPM__SEARCH_OP__S_SENTON   ? day == k->date
							     : day >= k->date;
	}
	case CPM__SEARCH_OP__S_INTERNAL_BEFORE:
		return r->internaldate < k->date;
	case CPM__SEARCH_OP__S_INTERNAL_SINCE:
		return r->internaldate >= k->date;
	case CPM__SEARCH_OP__S_LARGER:
		return r->size > k->size;
	case CPM__SEARCH_OP__S_SMALLER:
		return r->size < k->size;
	case CPM__SEARCH_OP__S_MODSEQ:
		return r->modseq >= k->modseq;
	case CPM__SEARCH_OP__S_HEADER: {
		const struct folded *f = k->text != NULL ? needle_of(m, k->text) : NULL;
		return f != NULL && load(m) && each_field(m->data, header_len(m->data, m->len), k->header, value_contains, f);
	}
	case CPM__SEARCH_OP__S_ADDRESS: {
		const struct folded *f = k->text != NULL ? needle_of(m, k->text) : NULL;
		return f != NULL && load(m) && address_contains(m->data, header_len(m->data, m->len), k->header, f);
	}
	case CPM__SEARCH_OP__S_BODY: {
		const struct folded *f = k->text != NULL ? needle_of(m, k->text) : NULL;
		return f != NULL && load(m) && body_contains(m, f);
	}
	case CPM__SEARCH_OP__S_TEXT: {
		/* The header block (raw, and its fields' encoded words decoded) or the body text. */
		const struct folded *f = k->text != NULL ? needle_of(m, k->text) : NULL;
		if (f == NULL || !load(m))
			return false;
		size_t hl = header_len(m->data, m->len);
		return ci_contains(m->data, hl, f) || each_field(m->data, hl, NULL, value_contains, f) ||
		       body_contains(m, f);
	}
	default:
		return false;
	}
}

void op_search(const struct op_ctx *ctx, MDB_txn *t, const Cpm__SearchReq *q, struct op_result *res)
{
	Cpmdb__FolderRec *f = NULL;
	if (!op_folder_by_id(ctx, t, q->folder_id, q->uidvalidity, q->user, ACL_R, &f, res))
		return;
	cpmdb__folder_rec__free_unpacked(f, NULL);
	Cpm__SearchResp *r = op_result_new(res, CPM__RESPONSE__RESULT_SEARCH, &cpm__search_resp__descriptor);
	if (r == NULL)
		return;
	size_t cap = 0;
	/* SORT / THREAD (op-sort.h, op-thread.h): keys taken from each match. */
	bool threading = q->thread != CPM__THREAD_ALGORITHM__THREAD_NONE, sorting = !threading && q->n_sort > 0;
	struct sort_set ss;
	struct thread_set ts;
	sort_set_init(&ss, q->sort, q->n_sort);
	thread_set_init(&ts, q->thread);
	if (q->n_sort > SORT_MAX_CRITERIA) {
		op_fail(res, CPM__STATUS__INVALID, "too many sort criteria");
		return;
	}
	MDB_cursor *c = NULL;
	struct u64map needles;
	u64map_init(&needles);
	int rc = mdb_cursor_open(t, ctx->db->msgs, &c);
	if (rc == 0) {
		unsigned char k0[12];
		db_key_msg(k0, q->folder_id, 1);
		MDB_val k = {12, k0}, v;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		while (rc == 0 && k.mv_size == 12 && db_get_u64(k.mv_data) == q->folder_id) {
			uint32_t uid = db_get_u32((const unsigned char *)k.mv_data + 8);
			if (q->max_uid != 0 && uid > q->max_uid)
				break;
			Cpmdb__MsgRec *m = db_decode_msg(&v);
			if (m != NULL) {
				struct msg_view mv = {.ctx = ctx, .t = t, .uid = uid, .rec = m, .needles = &needles};
				bool hit = eval(q->key, &mv, 0);
				if (hit && m->modseq > r->highestmodseq)
					r->highestmodseq = m->modseq;
				buf_free(&mv.decoded);
				free(mv.skip);
				if (hit && ((sorting && sort_set_add(&ss, ctx, t, uid, m) < 0) ||
					    (threading && thread_set_add(&ts, ctx, t, uid, m) < 0))) {
					cpmdb__msg_rec__free_unpacked(m, NULL);
					rc = ENOMEM;
					break;
				}
				cpmdb__msg_rec__free_unpacked(m, NULL);
				if (hit) {
					if (r->n_uids == cap) {
						cap = cap ? cap * 2 : 256;
						uint32_t *nu = realloc(r->uids, cap * sizeof(uint32_t));
						if (nu == NULL) {
							rc = ENOMEM;
							break;
						}
						r->uids = nu;
					}
					r->uids[r->n_uids++] = uid;
				}
			}
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		}
		mdb_cursor_close(c);
	}
	if ((rc == 0 || rc == MDB_NOTFOUND) && sorting && sort_set_finish(&ss, r->uids) < 0)
		rc = ENOMEM;
	if ((rc == 0 || rc == MDB_NOTFOUND) && threading) {
		if (thread_set_finish(&ts, &r->thread, &r->n_thread) < 0)
			rc = ENOMEM;
		free(r->uids); /* THREAD answers with the tree only */
		r->uids = NULL;
		r->n_uids = 0;
	}
	sort_set_free(&ss);
	thread_set_free(&ts);
	needles_free(&needles);
	if (rc == ENOMEM)
		op_fail(res, CPM__STATUS__INTERNAL, "out of memory");
	else if (rc != 0 && rc != MDB_NOTFOUND)
		op_fail_db(res, db_from_mdb(rc, "msgs"), "messages");
}
