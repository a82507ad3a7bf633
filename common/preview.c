/*
 * preview: RFC 8970 preview text. See preview.h for the rules.
 *
 * Three stages over bounded buffers: transfer decoding and charset
 * conversion (mime-decode), then for HTML a markup stripper that yields
 * plain text, then one pass that drops quoted lines, collapses white space,
 * repairs invalid UTF-8 and stops at PREVIEW_MAX_CHARS characters.
 */
#include "preview.h"

#include "mime-decode.h"

#include <string.h>
#include <strings.h>
#include <unistr.h>

/* Decoded text examined at most (charset conversion can grow the source). */
#define PREVIEW_DECODED_MAX (4u * PREVIEW_SOURCE_MAX)
/* Longest character reference looked at ("&#x10FFFF;" is 10 bytes). */
#define ENTITY_MAX 12
/* <blockquote> nesting tracked (deeper ones still end at their close tag). */
#define QUOTE_DEPTH_MAX 1000

static bool str_is(const struct mime_tree *tree, struct mime_str s, const char *lit)
{
	size_t len;
	const unsigned char *p = mime_tree_str(tree, s, &len);
	return p != NULL && strlen(lit) == len && strncasecmp((const char *)p, lit, len) == 0;
}

bool preview_choose_part(const struct mime_tree *tree, uint32_t *idx_r)
{
	if (tree == NULL)
		return false;
	uint32_t i = 0;
	while (i < tree->n_parts) {
		const struct mime_part *p = &tree->parts[i];
		if ((p->flags & MIME_PART_RFC822) != 0 && p->next > i) {
			i = p->next; /* an attached message is not the text of this one */
			continue;
		}
		if ((p->flags & (MIME_PART_MULTIPART | MIME_PART_RFC822)) == 0 && (p->flags & MIME_PART_TEXT) != 0) {
			*idx_r = i;
			return true;
		}
		i++;
	}
	return false;
}

/* The value of parameter name of part p (NULL when absent). */
static const unsigned char *param(const struct mime_tree *tree, const struct mime_part *p, const char *name,
				  size_t *len_r)
{
	for (uint32_t k = 0; k < p->params.count; k++) {
		struct mime_str n = tree->st.strs[p->params.first + 2 * k];
		if (str_is(tree, n, name))
			return mime_tree_str(tree, tree->st.strs[p->params.first + 2 * k + 1], len_r);
	}
	return NULL;
}

int preview_make(struct buf *out, const struct mime_tree *tree, uint32_t idx, const unsigned char *src, size_t len,
		 bool truncated)
{
	if (tree == NULL || idx >= tree->n_parts)
		return 0;
	const struct mime_part *p = &tree->parts[idx];
	size_t el = 0, cl = 0;
	const unsigned char *enc = mime_tree_str(tree, p->encoding, &el);
	const unsigned char *cs = param(tree, p, "charset", &cl);
	bool html = str_is(tree, p->subtype, "html");
	struct buf dec = {0};
	if (len > PREVIEW_SOURCE_MAX) {
		len = PREVIEW_SOURCE_MAX;
		truncated = true;
	}
	int rc = mime_decode_text(&dec, src, len, (const char *)enc, el, (const char *)cs, cl, PREVIEW_DECODED_MAX);
	if (rc == 0)
		rc = preview_from_text(out, dec.data != NULL ? dec.data : (const unsigned char *)"", dec.len, html,
				       truncated || dec.len >= PREVIEW_DECODED_MAX);
	buf_free(&dec);
	return rc;
}

/* ---- HTML to text ------------------------------------------------------------ */

static bool ieq_prefix(const unsigned char *p, size_t len, const char *lit)
{
	size_t n = strlen(lit);
	return len >= n && strncasecmp((const char *)p, lit, n) == 0;
}

static bool is_alpha(unsigned char c)
{
	return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static bool is_alnum(unsigned char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

/* Elements whose start or end separates words. */
static bool block_tag(const unsigned char *n, size_t len)
{
	static const char *const tags[] = {"address", "br", "dd", "div", "dl", "dt", "h1", "h2", "h3", "h4", "h5",
					   "h6", "hr", "li", "ol", "p", "pre", "table", "td", "th", "title", "tr",
					   "ul", "body", "head", "html", "section", "article", "header", "footer"};
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (strlen(tags[i]) == len && strncasecmp((const char *)n, tags[i], len) == 0)
			return true;
	return false;
}

/* Index just after the '>' closing the tag that starts at h[i] ('<'), or len. */
static size_t tag_end(const unsigned char *h, size_t len, size_t i)
{
	unsigned char quote = 0;
	for (i++; i < len; i++) {
		if (quote != 0) {
			if (h[i] == quote)
				quote = 0;
		} else if (h[i] == '"' || h[i] == '\'') {
			quote = h[i];
		} else if (h[i] == '>') {
			return i + 1;
		}
	}
	return len;
}

/* Index just after "</name ...>" at or after i (case-insensitive), or len. */
static size_t skip_to_close(const unsigned char *h, size_t len, size_t i, const char *name)
{
	size_t n = strlen(name);
	for (; i + 2 + n <= len; i++)
		if (h[i] == '<' && h[i + 1] == '/' && strncasecmp((const char *)h + i + 2, name, n) == 0 &&
		    (i + 2 + n == len || !is_alnum(h[i + 2 + n])))
			return tag_end(h, len, i);
	return len;
}

static int put_cp(struct buf *out, ucs4_t c)
{
	uint8_t tmp[6];
	int n = u8_uctomb(tmp, c, sizeof(tmp));
	return n > 0 ? buf_append(out, tmp, (size_t)n) : 0;
}

/* A character reference at h[i] ('&'): appends its character and returns
 * the index after it; 0 when it is not one (the '&' is then text). */
static size_t entity(struct buf *out, const unsigned char *h, size_t len, size_t i, int *rc)
{
	static const struct {
		const char *name;
		ucs4_t cp;
	} names[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", 0xa0}};
	size_t j = i + 1;
	while (j < len && j - i <= ENTITY_MAX && (is_alnum(h[j]) || h[j] == '#'))
		j++;
	if (j >= len || h[j] != ';' || j == i + 1)
		return 0;
	const unsigned char *e = h + i + 1;
	size_t el = j - i - 1;
	ucs4_t cp = 0;
	if (e[0] == '#') {
		bool hex = el > 1 && (e[1] | 0x20) == 'x';
		size_t k = hex ? 2 : 1;
		if (k == el)
			return 0;
		for (; k < el; k++) {
			unsigned char c = e[k];
			unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
				     : hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (unsigned)((c | 0x20) - 'a' + 10)
										       : 99;
			if (d == 99)
				return 0;
			cp = cp * (hex ? 16 : 10) + d;
			if (cp > 0x10ffff)
				cp = 0x110000;
		}
		if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			cp = 0xfffd;
	} else {
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			if (strlen(names[k].name) == el && strncasecmp((const char *)e, names[k].name, el) == 0)
				cp = names[k].cp;
		if (cp == 0)
			return j + 1; /* an unknown name is dropped */
	}
	*rc = put_cp(out, cp);
	return j + 1;
}

static int html_to_text(struct buf *out, const unsigned char *h, size_t len)
{
	size_t i = 0;
	int rc = 0;
	while (i < len && rc == 0) {
		unsigned char c = h[i];
		if (c == '&') {
			size_t next = entity(out, h, len, i, &rc);
			if (next != 0) {
				i = next;
				continue;
			}
		}
		if (c != '<' || i + 1 >= len || !(is_alpha(h[i + 1]) || h[i + 1] == '/' || h[i + 1] == '!')) {
			rc = buf_append_byte(out, c);
			i++;
			continue;
		}
		if (ieq_prefix(h + i, len - i, "<!--")) {
			const unsigned char *end = memmem(h + i + 4, len - i - 4, "-->", 3);
			i = end != NULL ? (size_t)(end - h) + 3 : len;
			continue;
		}
		bool closing = h[i + 1] == '/';
		size_t n0 = i + 1 + (closing ? 1 : 0), n1 = n0;
		while (n1 < len && is_alnum(h[n1]))
			n1++;
		size_t after = tag_end(h, len, i);
		if (!closing && (ieq_prefix(h + n0, n1 - n0, "script") || ieq_prefix(h + n0, n1 - n0, "style")) &&
		    (n1 - n0 == 6 || n1 - n0 == 5)) {
			i = skip_to_close(h, len, after, n1 - n0 == 6 ? "script" : "style");
			continue;
		}
		if (!closing && n1 - n0 == 10 && ieq_prefix(h + n0, 10, "blockquote")) {
			/* quoted text: skip to the matching close tag */
			unsigned depth = 1;
			size_t k = after;
			while (k < len && depth > 0) {
				if (h[k] == '<' && ieq_prefix(h + k + 1, len - k - 1, "blockquote") && depth < QUOTE_DEPTH_MAX)
					depth++;
				else if (h[k] == '<' && ieq_prefix(h + k + 1, len - k - 1, "/blockquote"))
					depth--;
				k = h[k] == '<' ? tag_end(h, len, k) : k + 1;
			}
			i = k;
			rc = buf_append_byte(out, ' ');
			continue;
		}
		if (block_tag(h + n0, n1 - n0))
			rc = buf_append_byte(out, ' ');
		i = after;
	}
	return rc;
}

/* ---- the final pass ------------------------------------------------------------ */

static bool is_space(ucs4_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

int preview_from_text(struct buf *out, const unsigned char *text, size_t len, bool html, bool truncated)
{
	struct buf plain = {0};
	if (html) {
		if (html_to_text(&plain, text, len) < 0) {
			buf_free(&plain);
			return -1;
		}
		text = plain.data != NULL ? plain.data : (const unsigned char *)"";
		len = plain.len;
	}
	unsigned chars = 0;
	bool pending_space = false, line_start = true, bad_run = false;
	int rc = 0;
	size_t i = 0;
	while (i < len && chars < PREVIEW_MAX_CHARS && rc == 0) {
		if (line_start && !html && text[i] == '>') {
			const unsigned char *nl = memchr(text + i, '\n', len - i);
			i = nl != NULL ? (size_t)(nl - text) + 1 : len;
			pending_space = chars > 0;
			continue;
		}
		ucs4_t c;
		int n = u8_mbtoucr(&c, text + i, len - i);
		if (n == -2 && truncated)
			break; /* a character cut by the end of the source */
		if (n < 0) {
			i++;
			if (bad_run)
				continue;
			bad_run = true;
			c = 0xfffd;
		} else {
			i += (size_t)n;
			bad_run = false;
		}
		line_start = c == '\n';
		if (is_space(c)) {
			pending_space = chars > 0;
			continue;
		}
		if (c < 0x20 || c == 0x7f)
			continue;
		if (pending_space) {
			pending_space = false;
			if (chars + 1 >= PREVIEW_MAX_CHARS)
				break;
			rc = buf_append_byte(out, ' ');
			chars++;
		}
		if (rc == 0)
			rc = put_cp(out, c);
		chars++;
	}
	buf_free(&plain);
	return rc;
}
