/*
 * mime-header: header fields, unfolding, RFC 822 / 2045 lexing, parameters,
 * the HEADER.FIELDS filter and the string store. See mime-header.h.
 *
 * Design notes:
 *  - Everything works on byte ranges, never on C strings: header values may
 *    hold NULs. Values are unfolded into a scratch buffer first (CR and LF
 *    dropped, NUL -> U+FFFD) and the lexer runs on that, so the lexer never
 *    sees line ends inside a value and never sees NUL.
 *  - Broken input is the normal case. The parameter parser follows the
 *    recovery rules Dovecot applies (a broken parameter is skipped one byte
 *    at a time until the next ';'), because BODYSTRUCTURE answers should be
 *    the ones clients already see from Dovecot.
 *  - Every loop advances by at least one byte or stops, so all of this is
 *    linear in the input.
 */
#include "mime-header.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- string store ---------------------------------------------------- */

void mime_store_free(struct mime_store *st)
{
	buf_free(&st->pool);
	free(st->strs);
	memset(st, 0, sizeof(*st));
}

int mime_store_add(struct mime_store *st, const void *p, size_t len, struct mime_str *s_r)
{
	/* offsets must stay below MIME_STR_NIL and off + len must fit */
	if (len >= (size_t)MIME_STR_NIL || st->pool.len > (size_t)MIME_STR_NIL - 1 - len)
		return -1;
	uint32_t off = (uint32_t)st->pool.len;
	if (buf_append(&st->pool, p, len) < 0)
		return -1;
	*s_r = (struct mime_str){off, (uint32_t)len};
	return 0;
}

int mime_store_const(struct mime_store *st, enum mime_const c, struct mime_str *s_r)
{
	static const char *const names[MIME_CONST_COUNT] = {"MISSING_MAILBOX", "MISSING_DOMAIN", "SYNTAX_ERROR",
							    "INVALID_ROUTE"};
	if (!st->have_const[c]) {
		if (mime_store_add(st, names[c], strlen(names[c]), &st->consts[c]) < 0)
			return -1;
		st->have_const[c] = true;
	}
	*s_r = st->consts[c];
	return 0;
}

int mime_store_push(struct mime_store *st, struct mime_str s)
{
	if (st->budget == 0)
		return 0;
	if (st->n_strs == st->cap_strs) {
		size_t cap = st->cap_strs < 16 ? 16 : st->cap_strs * 2;
		if (cap > (size_t)UINT32_MAX / 2)
			return -1;
		struct mime_str *n = realloc(st->strs, cap * sizeof(*n));
		if (n == NULL)
			return -1;
		st->strs = n;
		st->cap_strs = cap;
	}
	st->strs[st->n_strs++] = s;
	st->budget--;
	return 1;
}

const unsigned char *mime_store_get(const struct mime_store *st, struct mime_str s, size_t *len_r)
{
	if (mime_str_is_nil(s) || (size_t)s.off + s.len > st->pool.len) {
		*len_r = 0;
		return NULL;
	}
	*len_r = s.len;
	return st->pool.data != NULL ? st->pool.data + s.off : (const unsigned char *)"";
}

/* ---- header fields ---------------------------------------------------- */

static size_t line_end(const unsigned char *p, size_t len, size_t pos)
{
	const unsigned char *nl = memchr(p + pos, '\n', len - pos);
	return nl != NULL ? (size_t)(nl - p) + 1 : len;
}

void mime_header_iter_init(struct mime_header_iter *it, const unsigned char *hdr, size_t len, unsigned max_lines)
{
	memset(it, 0, sizeof(*it));
	it->hdr = hdr;
	it->len = len;
	it->max_lines = max_lines;
}

bool mime_header_iter_next(struct mime_header_iter *it, struct mime_header_field *f_r)
{
	const unsigned char *h = it->hdr;
	size_t pos = it->pos;
	if (it->done || pos >= it->len) {
		it->done = true;
		return false;
	}
	if (h[pos] == '\n' || (h[pos] == '\r' && pos + 1 < it->len && h[pos + 1] == '\n')) {
		it->eoh = true;
		it->done = true;
		return false;
	}
	if (it->max_lines > 0 && it->lines >= it->max_lines) {
		it->done = true;
		return false;
	}
	size_t first_end = line_end(h, it->len, pos);
	size_t e = first_end;
	it->lines++;
	while (e < it->len && (h[e] == ' ' || h[e] == '\t')) {
		if (it->max_lines > 0 && it->lines >= it->max_lines) {
			it->done = true;
			return false;
		}
		e = line_end(h, it->len, e);
		it->lines++;
	}
	it->pos = e;

	f_r->off = pos;
	f_r->len = e - pos;
	size_t first_content = first_end;
	if (first_content > pos && h[first_content - 1] == '\n')
		first_content--;
	const unsigned char *colon = memchr(h + pos, ':', first_content - pos);
	if (colon != NULL) {
		size_t n = (size_t)(colon - (h + pos));
		f_r->value_off = pos + n + 1;
		while (n > 0 && (h[pos + n - 1] == ' ' || h[pos + n - 1] == '\t'))
			n--;
		f_r->name_len = n;
		f_r->has_colon = true;
	} else {
		f_r->name_len = 0;
		f_r->has_colon = false;
		f_r->value_off = pos;
	}
	size_t vend = e;
	if (vend > f_r->value_off && h[vend - 1] == '\n') {
		vend--;
		if (vend > f_r->value_off && h[vend - 1] == '\r')
			vend--;
	}
	f_r->value_len = vend - f_r->value_off;
	return true;
}

static bool name_eq(const unsigned char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && strncasecmp((const char *)a, b, blen) == 0;
}

bool mime_header_name_is(const unsigned char *hdr, const struct mime_header_field *f, const char *name)
{
	return f->has_colon && name_eq(hdr + f->off, f->name_len, name, strlen(name));
}

int mime_header_unfold(struct buf *out, const unsigned char *v, size_t len, bool keep_nul)
{
	size_t nuls = 0;
	for (size_t i = 0; i < len && !keep_nul; i++)
		nuls += v[i] == '\0';
	if (nuls > (SIZE_MAX - len) / 2 || buf_reserve(out, len + 2 * nuls) < 0)
		return -1;
	unsigned char *o = out->data + out->len;
	bool lead = true;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = v[i];
		if (c == '\r' || c == '\n')
			continue;
		if (lead && (c == ' ' || c == '\t'))
			continue;
		lead = false;
		if (c == '\0' && !keep_nul) {
			*o++ = 0xef;
			*o++ = 0xbf;
			*o++ = 0xbd;
		} else {
			*o++ = c;
		}
	}
	out->len = (size_t)(o - out->data);
	out->data[out->len] = '\0';
	return 0;
}

int mime_header_humanize(struct buf *out, const unsigned char *s, size_t len)
{
	size_t nuls = 0;
	for (size_t i = 0; i < len; i++)
		nuls += s[i] == '\0';
	if (nuls > (SIZE_MAX - len) / 2 || buf_reserve(out, len + 2 * nuls) < 0)
		return -1;
	unsigned char *o = out->data + out->len;
	bool any = false, space = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			space = any;
			continue;
		}
		if (space)
			*o++ = ' ';
		space = false;
		any = true;
		if (c == '\0') {
			*o++ = 0xef;
			*o++ = 0xbf;
			*o++ = 0xbd;
		} else {
			*o++ = c;
		}
	}
	out->len = (size_t)(o - out->data);
	out->data[out->len] = '\0';
	return 0;
}

/* ---- lexer ------------------------------------------------------------ */

void mime_lex_init(struct mime_lex *lx, const unsigned char *p, size_t len)
{
	lx->p = p;
	lx->end = p + len;
	lx->last_comment = NULL;
}

int mime_lex_skip_cfws(struct mime_lex *lx)
{
	for (;;) {
		while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r' || *lx->p == '\n'))
			lx->p++;
		if (lx->p >= lx->end)
			return 0;
		if (*lx->p != '(')
			return 1;
		const unsigned char *start = ++lx->p;
		unsigned depth = 1;
		while (lx->p < lx->end) {
			unsigned char c = *lx->p++;
			if (c == '\\' && lx->p < lx->end) {
				lx->p++;
			} else if (c == '(') {
				depth++;
			} else if (c == ')') {
				if (--depth == 0)
					break;
			}
		}
		if (depth > 0)
			return -1;
		if (lx->last_comment != NULL) {
			/* the comment's text without its parentheses, quoted-pairs resolved */
			buf_reset(lx->last_comment);
			for (const unsigned char *q = start; q < lx->p - 1; q++) {
				if (*q == '\\' && q + 1 < lx->p - 1)
					q++;
				if (buf_append_byte(lx->last_comment, *q) < 0) {
					buf_reset(lx->last_comment);
					break;
				}
			}
		}
	}
}

bool mime_is_token_char(unsigned char c)
{
	if (c <= 0x20 || c == 0x7f)
		return false;
	return strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

bool mime_is_atext(unsigned char c)
{
	if (c >= 0x80)
		return true;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

int mime_lex_token(struct mime_lex *lx, struct buf *out)
{
	const unsigned char *s = lx->p;
	while (lx->p < lx->end && mime_is_token_char(*lx->p))
		lx->p++;
	if (buf_append(out, s, (size_t)(lx->p - s)) < 0)
		return -1;
	return lx->p > s;
}

int mime_lex_quoted(struct mime_lex *lx, struct buf *out)
{
	lx->p++; /* the opening quote */
	while (lx->p < lx->end) {
		unsigned char c = *lx->p++;
		if (c == '"')
			return 1;
		if (c == '\\' && lx->p < lx->end)
			c = *lx->p++;
		if (c == '\r' || c == '\n')
			continue;
		if (buf_append_byte(out, c) < 0)
			return -1;
	}
	return 0;
}

/* ---- parameters ------------------------------------------------------- */

struct raw_param {
	size_t name_off, name_len; /* in the scratch buffer */
	size_t val_off, val_len;
	/* RFC 2231 section: name = key "*" idx ["*"] or key "*" */
	bool section;
	size_t key_len;
	uint32_t idx;
	bool extended;
};

/* Classifies name as an RFC 2231 section (key*N, key*N*, key*). */
static void classify_2231(const unsigned char *name, size_t len, struct raw_param *rp)
{
	rp->section = false;
	const unsigned char *star = memchr(name, '*', len);
	if (star == NULL)
		return;
	size_t i = (size_t)(star - name) + 1;
	uint32_t idx = 0;
	while (i < len && name[i] >= '0' && name[i] <= '9') {
		idx = idx > 100000000u ? idx : idx * 10 + (uint32_t)(name[i] - '0');
		i++;
	}
	bool ext = false;
	if (i == (size_t)(star - name) + 1 && i == len) {
		ext = true; /* "key*": one extended section */
	} else if (i < len && name[i] == '*') {
		ext = true;
		i++;
	}
	if (i != len)
		return;
	rp->section = true;
	rp->key_len = (size_t)(star - name);
	rp->idx = idx;
	rp->extended = ext;
}

/* One parameter: at ';'. Returns 1 with name/value appended to sc, 0 when
 * broken, -1 when out of memory. */
static int lex_one_param(struct mime_lex *lx, struct buf *sc, struct raw_param *rp)
{
	if (*lx->p != ';')
		return 0;
	lx->p++;
	if (mime_lex_skip_cfws(lx) <= 0)
		return 0;
	size_t mark = sc->len;
	rp->name_off = sc->len;
	if (mime_lex_token(lx, sc) < 0)
		return -1;
	rp->name_len = sc->len - rp->name_off;
	(void)mime_lex_skip_cfws(lx);
	if (lx->p >= lx->end || *lx->p != '=') {
		buf_truncate(sc, mark);
		return 0;
	}
	lx->p++;
	rp->val_off = sc->len;
	int r = mime_lex_skip_cfws(lx);
	if (r > 0) {
		if (*lx->p == '"') {
			r = mime_lex_quoted(lx, sc);
			if (r < 0)
				return -1;
			if (r == 0) {
				buf_truncate(sc, mark);
				return 0;
			}
		} else if (*lx->p == '=') {
			/* raw encoded word as value: name==?utf-8?b?...?= */
			const unsigned char *s = lx->p;
			while (lx->p < lx->end && *lx->p != ';' && *lx->p != ' ' && *lx->p != '\t')
				lx->p++;
			if (buf_append(sc, s, (size_t)(lx->p - s)) < 0)
				return -1;
		} else if (mime_lex_token(lx, sc) < 0) {
			return -1;
		}
		(void)mime_lex_skip_cfws(lx);
	}
	rp->val_len = sc->len - rp->val_off;
	return 1;
}

static int ci_cmp(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	for (size_t i = 0; i < n; i++) {
		int ca = a[i] >= 'A' && a[i] <= 'Z' ? a[i] + 32 : a[i];
		int cb = b[i] >= 'A' && b[i] <= 'Z' ? b[i] + 32 : b[i];
		if (ca != cb)
			return ca - cb;
	}
	return alen < blen ? -1 : alen > blen;
}

static int bytes_cmp(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	return c != 0 ? c : alen < blen ? -1 : alen > blen;
}

static int push_pair(struct mime_store *st, const unsigned char *n, size_t nlen, const unsigned char *v, size_t vlen,
		     uint32_t *count)
{
	struct mime_str sn, sv;
	if (st->budget < 2)
		return 0;
	if (mime_store_add(st, n, nlen, &sn) < 0 || mime_store_add(st, v, vlen, &sv) < 0)
		return -1;
	if (mime_store_push(st, sn) < 0 || mime_store_push(st, sv) < 0)
		return -1;
	(*count)++;
	return 0;
}

/* Pushes one group of RFC 2231 sections (sorted by index). */
static int merge_2231(struct mime_store *st, const unsigned char *sc, struct raw_param **g, size_t n, uint32_t *count,
		      struct buf *tmp)
{
	bool contiguous = true, have_ext = false;
	for (size_t j = 0; j < n; j++) {
		contiguous = contiguous && g[j]->idx == j;
		have_ext = have_ext || g[j]->extended;
	}
	if (!contiguous) {
		/* not a proper continuation: each section keeps its own name */
		for (size_t j = 0; j < n; j++) {
			buf_reset(tmp);
			if (buf_append(tmp, sc + g[j]->name_off, g[j]->key_len) < 0 ||
			    buf_printf(tmp, g[j]->extended ? "*%u*" : "*%u", (unsigned)g[j]->idx) < 0)
				return -1;
			if (push_pair(st, tmp->data, tmp->len, sc + g[j]->val_off, g[j]->val_len, count) < 0)
				return -1;
		}
		return 0;
	}
	buf_reset(tmp);
	if (have_ext && !g[0]->extended && buf_append_str(tmp, "''") < 0)
		return -1;
	for (size_t j = 0; j < n; j++) {
		const unsigned char *v = sc + g[j]->val_off;
		if (g[j]->extended || !have_ext) {
			if (buf_append(tmp, v, g[j]->val_len) < 0)
				return -1;
			continue;
		}
		for (size_t k = 0; k < g[j]->val_len; k++) {
			int r = v[k] == '%' ? buf_append_str(tmp, "%25") : buf_append_byte(tmp, v[k]);
			if (r < 0)
				return -1;
		}
	}
	size_t vlen = tmp->len;
	if (buf_append(tmp, sc + g[0]->name_off, g[0]->key_len) < 0 || (have_ext && buf_append_byte(tmp, '*') < 0))
		return -1;
	return push_pair(st, tmp->data + vlen, tmp->len - vlen, tmp->data, vlen, count);
}

int mime_lex_params(struct mime_lex *lx, struct mime_store *st, struct mime_list *list_r)
{
	struct raw_param rp[MIME_MAX_PARAMS];
	struct raw_param *sec[MIME_MAX_PARAMS];
	size_t n = 0, nsec = 0;
	struct buf sc = {0}, tmp = {0};
	int ret = -1;

	list_r->first = (uint32_t)st->n_strs;
	list_r->count = 0;
	if (buf_reserve(&sc, 64) < 0 || buf_reserve(&tmp, 64) < 0)
		goto out;
	while (lx->p < lx->end) {
		struct raw_param p;
		size_t mark = sc.len;
		int r = lex_one_param(lx, &sc, &p);
		if (r < 0)
			goto out;
		if (r == 0) {
			/* broken: skip one byte and try again (Dovecot's recovery) */
			if (lx->p < lx->end)
				lx->p++;
			continue;
		}
		if (n == MIME_MAX_PARAMS) {
			buf_truncate(&sc, mark);
			continue;
		}
		classify_2231(sc.data + p.name_off, p.name_len, &p);
		rp[n++] = p;
	}
	/* plain parameters first, in order; then the RFC 2231 sections sorted
	 * by (key, index) with a case-sensitive key order, and runs of keys
	 * equal ignoring case merged (Dovecot's order and grouping) */
	for (size_t i = 0; i < n; i++) {
		if (rp[i].section) {
			/* insertion sort, stable */
			size_t j = nsec++;
			while (j > 0) {
				struct raw_param *o = sec[j - 1];
				int c = bytes_cmp(sc.data + o->name_off, o->key_len, sc.data + rp[i].name_off, rp[i].key_len);
				if (c < 0 || (c == 0 && o->idx <= rp[i].idx))
					break;
				sec[j] = o;
				j--;
			}
			sec[j] = &rp[i];
		} else if (push_pair(st, sc.data + rp[i].name_off, rp[i].name_len, sc.data + rp[i].val_off, rp[i].val_len,
				     &list_r->count) < 0) {
			goto out;
		}
	}
	for (size_t i = 0; i < nsec;) {
		size_t j = i + 1;
		while (j < nsec && ci_cmp(sc.data + sec[i]->name_off, sec[i]->key_len, sc.data + sec[j]->name_off,
					  sec[j]->key_len) == 0)
			j++;
		if (merge_2231(st, sc.data, sec + i, j - i, &list_r->count, &tmp) < 0)
			goto out;
		i = j;
	}
	ret = 0;
out:
	buf_free(&sc);
	buf_free(&tmp);
	return ret;
}

/* ---- Content-* fields ------------------------------------------------- */

static int store_buf(struct mime_store *st, const struct buf *b, struct mime_str *s_r)
{
	return mime_store_add(st, b->data != NULL ? b->data : (const unsigned char *)"", b->len, s_r);
}

int mime_parse_content_type(const unsigned char *v, size_t len, struct mime_store *st, struct mime_str *type_r,
			    struct mime_str *subtype_r, struct mime_list *params_r)
{
	struct mime_lex lx;
	struct buf t = {0}, s = {0};
	int ret = -1;
	bool ok = false, type_only = false;

	params_r->first = (uint32_t)st->n_strs;
	params_r->count = 0;
	mime_lex_init(&lx, v, len);
	if (mime_lex_skip_cfws(&lx) > 0) {
		if (mime_lex_token(&lx, &t) < 0)
			goto out;
		int r = mime_lex_skip_cfws(&lx);
		if (t.len == 0) {
			/* broken */
		} else if (r <= 0) {
			type_only = true;
		} else if (*lx.p == '/') {
			lx.p++;
			if (mime_lex_skip_cfws(&lx) > 0) {
				if (mime_lex_token(&lx, &s) < 0)
					goto out;
				r = mime_lex_skip_cfws(&lx);
				ok = s.len > 0 && (r <= 0 || *lx.p == ';');
			}
		}
	}
	if (!ok)
		buf_reset(&s);
	if (!ok && !type_only)
		buf_reset(&t);
	if (store_buf(st, &t, type_r) < 0 || store_buf(st, &s, subtype_r) < 0)
		goto out;
	if (ok && mime_lex_params(&lx, st, params_r) < 0)
		goto out;
	ret = 0;
out:
	buf_free(&t);
	buf_free(&s);
	return ret;
}

int mime_parse_content_encoding(const unsigned char *v, size_t len, struct mime_store *st, struct mime_str *enc_r)
{
	struct mime_lex lx;
	struct buf t = {0};
	int ret = -1;
	*enc_r = mime_str_nil();
	mime_lex_init(&lx, v, len);
	(void)mime_lex_skip_cfws(&lx);
	if (mime_lex_token(&lx, &t) < 0)
		goto out;
	if (t.len > 0 && mime_lex_skip_cfws(&lx) == 0 && store_buf(st, &t, enc_r) < 0)
		goto out;
	ret = 0;
out:
	buf_free(&t);
	return ret;
}

int mime_parse_content_disposition(const unsigned char *v, size_t len, struct mime_store *st, struct mime_str *disp_r,
				   struct mime_list *params_r)
{
	struct mime_lex lx;
	struct buf t = {0};
	int ret = -1;
	mime_lex_init(&lx, v, len);
	(void)mime_lex_skip_cfws(&lx);
	if (mime_lex_token(&lx, &t) < 0)
		goto out;
	(void)mime_lex_skip_cfws(&lx);
	if (store_buf(st, &t, disp_r) < 0 || mime_lex_params(&lx, st, params_r) < 0)
		goto out;
	ret = 0;
out:
	buf_free(&t);
	return ret;
}

int mime_parse_content_language(const unsigned char *v, size_t len, struct mime_store *st, struct mime_list *langs_r)
{
	struct mime_lex lx;
	langs_r->first = (uint32_t)st->n_strs;
	langs_r->count = 0;
	mime_lex_init(&lx, v, len);
	(void)mime_lex_skip_cfws(&lx);
	while (lx.p < lx.end && langs_r->count < MIME_MAX_LANGUAGES) {
		const unsigned char *s = lx.p;
		while (lx.p < lx.end && mime_is_atext(*lx.p))
			lx.p++;
		if (lx.p == s)
			break;
		struct mime_str ls;
		if (mime_store_add(st, s, (size_t)(lx.p - s), &ls) < 0)
			return -1;
		int r = mime_store_push(st, ls);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		langs_r->count++;
		(void)mime_lex_skip_cfws(&lx);
		if (lx.p >= lx.end || *lx.p != ',')
			break;
		lx.p++;
		(void)mime_lex_skip_cfws(&lx);
	}
	return 0;
}

/* ---- HEADER.FIELDS ---------------------------------------------------- */

/* Appends the field's lines, each ended by CRLF. */
static int append_crlf_lines(struct buf *out, const unsigned char *p, size_t len)
{
	size_t pos = 0;
	while (pos < len) {
		size_t e = line_end(p, len, pos);
		size_t c = e;
		if (c > pos && p[c - 1] == '\n') {
			c--;
			if (c > pos && p[c - 1] == '\r')
				c--;
		}
		if (buf_append(out, p + pos, c - pos) < 0 || buf_append(out, "\r\n", 2) < 0)
			return -1;
		pos = e;
	}
	return 0;
}

int mime_header_filter(struct buf *out, const unsigned char *hdr, size_t len, char *const *fields, size_t n, bool not)
{
	size_t small[16];
	size_t *lens = n <= 16 ? small : malloc(n * sizeof(*lens));
	if (lens == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		lens[i] = strlen(fields[i]);

	int ret = -1;
	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, hdr, len, 0);
	while (mime_header_iter_next(&it, &f)) {
		bool match = false;
		for (size_t i = 0; f.has_colon && i < n && !match; i++)
			match = name_eq(hdr + f.off, f.name_len, fields[i], lens[i]);
		if (match != not && append_crlf_lines(out, hdr + f.off, f.len) < 0)
			goto out;
	}
	if ((!not || it.eoh) && buf_append(out, "\r\n", 2) < 0)
		goto out;
	ret = 0;
out:
	if (lens != small)
		free(lens);
	return ret;
}
