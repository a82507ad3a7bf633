/*
 * imap-bodystructure: BODY / BODYSTRUCTURE from a stored MIME tree. See
 * imap-bodystructure.h.
 *
 * The writer recurses along the tree; mime_parse and
 * mime_tree_deserialize guarantee depth <= MIME_MAX_DEPTH and a consistent
 * shape, so the recursion is bounded. Every string goes through
 * imap-quote.h: stored strings are data, never IMAP syntax.
 */
#include "imap-bodystructure.h"

#include <string.h>

#include "imap-envelope.h"
#include "imap-quote.h"

#define EMPTY_TEXT_HEAD "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\""
#define EMPTY_TEXT EMPTY_TEXT_HEAD " 0 0"
#define EMPTY_ENVELOPE "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"

static int bs_str(struct buf *out, const struct mime_tree *t, struct mime_str s)
{
	size_t len;
	const unsigned char *p = mime_tree_str(t, s, &len);
	return imap_write_quoted_or_literal(out, p != NULL ? (const char *)p : "", len);
}

static int bs_nstr(struct buf *out, const struct mime_tree *t, struct mime_str s)
{
	size_t len;
	const unsigned char *p = mime_tree_str(t, s, &len);
	return imap_write_nstring(out, (const char *)p, len);
}

static bool bs_ieq(const struct mime_tree *t, struct mime_str s, const char *lit)
{
	size_t len;
	const unsigned char *p = mime_tree_str(t, s, &len);
	return p != NULL && len == strlen(lit) && strncasecmp((const char *)p, lit, len) == 0;
}

static const struct mime_str *list_at(const struct mime_tree *t, struct mime_list l, uint32_t k)
{
	if (l.count == 0 || (uint64_t)l.first + (uint64_t)l.count * k > t->st.n_strs)
		return NULL;
	return t->st.strs + l.first;
}

/* ("name" "value" ...) or NIL; a text part gets a charset when it has none. */
static int w_params(struct buf *out, const struct mime_tree *t, struct mime_list l, bool text)
{
	const struct mime_str *s = list_at(t, l, 2);
	uint32_t n = s != NULL ? l.count : 0;
	if (n == 0 && !text)
		return buf_append_str(out, "NIL");
	bool charset = false;
	if (buf_append_byte(out, '(') < 0)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		charset = charset || bs_ieq(t, s[2 * i], "charset");
		if ((i > 0 && buf_append_byte(out, ' ') < 0) || bs_str(out, t, s[2 * i]) < 0 ||
		    buf_append_byte(out, ' ') < 0 || bs_str(out, t, s[2 * i + 1]) < 0)
			return -1;
	}
	if (text && !charset && buf_append_str(out, n > 0 ? " \"charset\" \"us-ascii\"" : "\"charset\" \"us-ascii\"") < 0)
		return -1;
	return buf_append_byte(out, ')');
}

/* SP disposition SP language SP location */
static int w_ext_common(struct buf *out, const struct mime_tree *t, const struct mime_part *p)
{
	if (buf_append_byte(out, ' ') < 0)
		return -1;
	if (mime_str_is_nil(p->disposition)) {
		if (buf_append_str(out, "NIL") < 0)
			return -1;
	} else if (buf_append_byte(out, '(') < 0 || bs_str(out, t, p->disposition) < 0 || buf_append_byte(out, ' ') < 0 ||
		   w_params(out, t, p->disp_params, false) < 0 || buf_append_byte(out, ')') < 0) {
		return -1;
	}
	if (buf_append_byte(out, ' ') < 0)
		return -1;
	const struct mime_str *lang = list_at(t, p->language, 1);
	if (lang == NULL) {
		if (buf_append_str(out, "NIL") < 0)
			return -1;
	} else {
		if (buf_append_byte(out, '(') < 0)
			return -1;
		for (uint32_t i = 0; i < p->language.count; i++) {
			if ((i > 0 && buf_append_byte(out, ' ') < 0) || bs_str(out, t, lang[i]) < 0)
				return -1;
		}
		if (buf_append_byte(out, ')') < 0)
			return -1;
	}
	return buf_append_byte(out, ' ') < 0 ? -1 : bs_nstr(out, t, p->location);
}

static int write_part(struct buf *out, const struct mime_tree *t, uint32_t idx, bool ext);

static int write_multipart(struct buf *out, const struct mime_tree *t, uint32_t idx, bool ext)
{
	const struct mime_part *p = &t->parts[idx];
	if (buf_append_byte(out, '(') < 0)
		return -1;
	if (p->n_children == 0) {
		if (buf_append_str(out, ext ? EMPTY_TEXT " NIL NIL NIL NIL)" : EMPTY_TEXT ")") < 0)
			return -1;
	}
	for (uint32_t c = idx + 1; c < p->next; c = t->parts[c].next) {
		if (write_part(out, t, c, ext) < 0)
			return -1;
	}
	if (buf_append_byte(out, ' ') < 0 || bs_str(out, t, p->subtype) < 0)
		return -1;
	if (ext && (buf_append_byte(out, ' ') < 0 || w_params(out, t, p->params, false) < 0 ||
		    w_ext_common(out, t, p) < 0))
		return -1;
	return buf_append_byte(out, ')');
}

/* Dovecot answers a single-part message whose fields all equal the
 * defaults (text/plain, at most charset=us-ascii, 7bit, no other field)
 * with the canonical default string, whatever case the header used. */
static bool plain_7bit(const struct mime_tree *t, uint32_t idx)
{
	const struct mime_part *p = &t->parts[idx];
	if (idx != 0 || (p->flags & MIME_PART_TEXT) == 0)
		return false;
	if (!mime_str_is_nil(p->subtype) && !bs_ieq(t, p->subtype, "plain"))
		return false;
	const struct mime_str *prm = list_at(t, p->params, 2);
	if (p->params.count > 1 ||
	    (prm != NULL && (!bs_ieq(t, prm[0], "charset") || !bs_ieq(t, prm[1], "us-ascii"))))
		return false;
	if (!mime_str_is_nil(p->encoding) && !bs_ieq(t, p->encoding, "7bit"))
		return false;
	return mime_str_is_nil(p->id) && mime_str_is_nil(p->description) && mime_str_is_nil(p->md5) &&
	       mime_str_is_nil(p->disposition) && p->language.count == 0 && mime_str_is_nil(p->location);
}

static int write_leaf(struct buf *out, const struct mime_tree *t, uint32_t idx, bool ext)
{
	const struct mime_part *p = &t->parts[idx];
	bool text = (p->flags & MIME_PART_TEXT) != 0, rfc822 = (p->flags & MIME_PART_RFC822) != 0;
	int r;
	if (plain_7bit(t, idx))
		return buf_printf(out, EMPTY_TEXT_HEAD " %llu %llu%s", (unsigned long long)p->body_len,
				  (unsigned long long)p->lines, ext ? " NIL NIL NIL NIL)" : ")");
	if (buf_append_byte(out, '(') < 0)
		return -1;
	if (rfc822)
		r = buf_append_str(out, "\"message\" \"rfc822\"");
	else if (mime_str_is_nil(p->type))
		r = buf_append_str(out, "\"text\" \"plain\"");
	else
		r = bs_str(out, t, p->type) < 0 || buf_append_byte(out, ' ') < 0 ? -1 : bs_str(out, t, p->subtype);
	if (r < 0 || buf_append_byte(out, ' ') < 0 || w_params(out, t, p->params, text) < 0 ||
	    buf_append_byte(out, ' ') < 0 || bs_nstr(out, t, p->id) < 0 || buf_append_byte(out, ' ') < 0 ||
	    bs_nstr(out, t, p->description) < 0 || buf_append_byte(out, ' ') < 0)
		return -1;
	r = mime_str_is_nil(p->encoding) ? buf_append_str(out, "\"7bit\"") : bs_str(out, t, p->encoding);
	if (r < 0 || buf_printf(out, " %llu", (unsigned long long)p->body_len) < 0)
		return -1;
	if (rfc822) {
		if (buf_append_byte(out, ' ') < 0)
			return -1;
		if (p->n_children == 0) {
			r = buf_append_str(out, ext ? EMPTY_ENVELOPE " " EMPTY_TEXT " NIL NIL NIL NIL)"
						    : EMPTY_ENVELOPE " " EMPTY_TEXT ")");
		} else {
			r = imap_bodystructure_write_envelope(out, t, idx + 1) < 0 || buf_append_byte(out, ' ') < 0
				    ? -1
				    : write_part(out, t, idx + 1, ext);
		}
		if (r < 0)
			return -1;
	}
	if ((text || rfc822) && buf_printf(out, " %llu", (unsigned long long)p->lines) < 0)
		return -1;
	if (ext && (buf_append_byte(out, ' ') < 0 || bs_nstr(out, t, p->md5) < 0 || w_ext_common(out, t, p) < 0))
		return -1;
	return buf_append_byte(out, ')');
}

static int write_part(struct buf *out, const struct mime_tree *t, uint32_t idx, bool ext)
{
	if ((t->parts[idx].flags & MIME_PART_MULTIPART) != 0)
		return write_multipart(out, t, idx, ext);
	return write_leaf(out, t, idx, ext);
}

int imap_bodystructure_write(struct buf *out, const struct mime_tree *tree, uint32_t part, bool extended)
{
	if (part >= tree->n_parts)
		return -1;
	return write_part(out, tree, part, extended);
}

int imap_bodystructure_write_envelope(struct buf *out, const struct mime_tree *tree, uint32_t part)
{
	if (part >= tree->n_parts)
		return -1;
	if ((tree->parts[part].flags & MIME_PART_MESSAGE) == 0)
		return buf_append_str(out, EMPTY_ENVELOPE);
	return imap_envelope_write_parsed(out, &tree->st, &tree->parts[part].env);
}
