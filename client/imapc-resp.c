/*
 * imapc-resp: the client's response parser. See imapc-resp.h for the contract.
 *
 * Two states: LINE collects text up to LF into p->text (bounded by
 * max_text over the whole response); at LF a trailing "{n}" or "~{n}" switches
 * to LITERAL for n bytes (kept in p->lits or only counted), after which the
 * response goes on with the next line's text appended to the same buffer.
 * A line without a literal marker ends the response: it is classified
 * (tag, number, keyword, status) and handed out; the next feed starts over.
 */
#include "imapc-resp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

struct lit_entry {
	size_t text_off;
	size_t data_off;
	size_t len;
	bool binary;
};

struct imapc_resp_parser {
	struct imapc_resp_limits lim;
	enum { ST_LINE, ST_LITERAL, ST_FAILED } state;
	bool ready; /* a response was handed out: reset before the next byte */
	struct buf text;
	struct buf lits;
	struct lit_entry *ents;
	struct imapc_literal *out_lits;
	size_t n_ents, cap_ents;
	size_t lit_left;   /* bytes still to come of the current literal */
	size_t lit_total;
	struct imapc_resp resp;
	char error[128];
};

struct imapc_resp_parser *imapc_resp_parser_new(const struct imapc_resp_limits *limits)
{
	struct imapc_resp_parser *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	if (limits != NULL)
		p->lim = *limits;
	if (p->lim.max_text == 0)
		p->lim.max_text = IMAPC_RESP_DEFAULT_MAX_TEXT;
	if (p->lim.max_literal == 0)
		p->lim.max_literal = IMAPC_RESP_DEFAULT_MAX_LITERAL;
	if (p->lim.max_literals == 0)
		p->lim.max_literals = IMAPC_RESP_DEFAULT_MAX_LITERALS;
	return p;
}

void imapc_resp_parser_free(struct imapc_resp_parser **pp)
{
	struct imapc_resp_parser *p = *pp;
	if (p == NULL)
		return;
	*pp = NULL;
	buf_free(&p->text);
	buf_free(&p->lits);
	free(p->ents);
	free(p->out_lits);
	free(p);
}

const char *imapc_resp_error(const struct imapc_resp_parser *p)
{
	return p->error;
}

static enum imapc_resp_result fail(struct imapc_resp_parser *p, const char *why)
{
	p->state = ST_FAILED;
	snprintf(p->error, sizeof(p->error), "%s", why);
	return IMAPC_RESP_ERROR;
}

static void reset_response(struct imapc_resp_parser *p)
{
	buf_reset(&p->text);
	buf_reset(&p->lits);
	p->n_ents = 0;
	p->lit_total = 0;
	p->ready = false;
	/* Give back what one huge response took, so idle connections stay small. */
	if (p->lits.cap > 1024 * 1024)
		buf_free(&p->lits);
	if (p->text.cap > 64 * 1024)
		buf_free(&p->text);
}

/* A trailing "{n}" / "~{n}" / "{n+}" on the line text[start..len): its size, or -1. */
static int trailing_literal(const char *s, size_t start, size_t len, size_t max, size_t *n_r, bool *binary_r,
			    const char **why_r)
{
	if (len == start || s[len - 1] != '}')
		return 0;
	size_t i = len - 1;
	if (i > start && s[i - 1] == '+')
		i--;
	size_t digits_end = i;
	while (i > start && s[i - 1] >= '0' && s[i - 1] <= '9')
		i--;
	if (i == digits_end || i == start || s[i - 1] != '{')
		return 0;
	size_t n = 0;
	for (size_t k = i; k < digits_end; k++) {
		if (n > max / 10 + 1) {
			*why_r = "literal too large";
			return -1;
		}
		n = n * 10 + (size_t)(s[k] - '0');
	}
	if (n > max) {
		*why_r = "literal too large";
		return -1;
	}
	*binary_r = i - 1 > start && s[i - 2] == '~';
	*n_r = n;
	return 1;
}

static bool is_status(const char *kw, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(kw, name, n) == 0;
}

static enum imapc_status status_of(const char *kw, size_t n)
{
	if (is_status(kw, n, "OK"))
		return IMAPC_OK;
	if (is_status(kw, n, "NO"))
		return IMAPC_NO;
	if (is_status(kw, n, "BAD"))
		return IMAPC_BAD;
	if (is_status(kw, n, "PREAUTH"))
		return IMAPC_PREAUTH;
	if (is_status(kw, n, "BYE"))
		return IMAPC_BYE;
	return IMAPC_NONE;
}

/* Sets keyword (atom up to space/'['/'('/end) and rest from position s. */
static void set_keyword(struct imapc_resp *r, const char *s)
{
	const char *e = s;
	while (*e != '\0' && *e != ' ' && *e != '[' && *e != '(')
		e++;
	r->keyword = s;
	r->keyword_len = (size_t)(e - s);
	r->rest = *e == ' ' ? e + 1 : e;
	r->status = status_of(r->keyword, r->keyword_len);
}

static enum imapc_resp_result classify(struct imapc_resp_parser *p)
{
	struct imapc_resp *r = &p->resp;
	memset(r, 0, sizeof(*r));
	const char *s = (const char *)p->text.data;
	if (p->text.len == 0 || s == NULL)
		return fail(p, "empty response line");
	if (memchr(s, '\0', p->text.len) != NULL)
		return fail(p, "NUL byte in response");
	r->text = s;
	r->text_len = p->text.len;
	if (s[0] == '+') {
		r->kind = IMAPC_CONTINUATION;
		r->keyword = s;
		r->keyword_len = 1;
		r->rest = s[1] == ' ' ? s + 2 : s + 1;
	} else if (s[0] == '*') {
		if (s[1] != ' ')
			return fail(p, "untagged response without a space after '*'");
		r->kind = IMAPC_UNTAGGED;
		const char *q = s + 2;
		if (*q >= '0' && *q <= '9') {
			uint64_t n = 0;
			while (*q >= '0' && *q <= '9') {
				n = n * 10 + (uint64_t)(*q - '0');
				if (n > UINT32_MAX)
					return fail(p, "message number out of range");
				q++;
			}
			if (*q != ' ')
				return fail(p, "number without a keyword");
			r->has_number = true;
			r->number = (uint32_t)n;
			q++;
		}
		set_keyword(r, q);
		if (r->keyword_len == 0)
			return fail(p, "untagged response without a keyword");
	} else {
		const char *sp = strchr(s, ' ');
		if (sp == NULL || sp == s)
			return fail(p, "tagged response without a status");
		r->kind = IMAPC_TAGGED;
		r->tag = s;
		r->tag_len = (size_t)(sp - s);
		set_keyword(r, sp + 1);
		if (r->status == IMAPC_NONE || r->status == IMAPC_PREAUTH)
			return fail(p, "tagged response without OK/NO/BAD/BYE");
	}
	if (p->n_ents > 0) {
		for (size_t i = 0; i < p->n_ents; i++) {
			struct imapc_literal *l = &p->out_lits[i];
			l->text_off = p->ents[i].text_off;
			l->len = p->ents[i].len;
			l->binary = p->ents[i].binary;
			l->data = p->lim.keep_literals ? p->lits.data + p->ents[i].data_off : NULL;
		}
		r->literals = p->out_lits;
	}
	r->n_literals = p->n_ents;
	r->literal_bytes = p->lit_total;
	p->ready = true;
	return IMAPC_RESP_READY;
}

static int add_literal(struct imapc_resp_parser *p, size_t n, bool binary)
{
	if (p->n_ents == p->cap_ents) {
		size_t cap = p->cap_ents ? p->cap_ents * 2 : 8;
		if (cap > p->lim.max_literals)
			cap = p->lim.max_literals;
		struct lit_entry *e = realloc(p->ents, cap * sizeof(*e));
		if (e == NULL)
			return -1;
		p->ents = e;
		struct imapc_literal *o = realloc(p->out_lits, cap * sizeof(*o));
		if (o == NULL)
			return -1;
		p->out_lits = o;
		p->cap_ents = cap;
	}
	p->ents[p->n_ents++] = (struct lit_entry){p->text.len, p->lits.len, n, binary};
	p->lit_left = n;
	p->lit_total += n;
	return 0;
}

/* The line (without LF) is complete in p->text from line_start. */
static enum imapc_resp_result end_of_line(struct imapc_resp_parser *p, size_t line_start)
{
	if (p->text.len > line_start && p->text.data[p->text.len - 1] == '\r')
		buf_truncate(&p->text, p->text.len - 1);
	size_t n;
	bool binary = false;
	const char *why = NULL;
	int t = trailing_literal((const char *)p->text.data, line_start, p->text.len, p->lim.max_literal, &n, &binary,
				 &why);
	if (t < 0)
		return fail(p, why);
	if (t == 0)
		return classify(p);
	if (p->n_ents >= p->lim.max_literals)
		return fail(p, "too many literals in one response");
	if (add_literal(p, n, binary) < 0)
		return fail(p, "out of memory");
	p->state = ST_LITERAL;
	return IMAPC_RESP_NEED_MORE;
}

enum imapc_resp_result imapc_resp_feed(struct imapc_resp_parser *p, const void *data, size_t len, size_t *used_r,
				       const struct imapc_resp **resp_r)
{
	const unsigned char *d = data;
	size_t i = 0;
	*used_r = 0;
	*resp_r = NULL;
	if (p->state == ST_FAILED)
		return IMAPC_RESP_ERROR;
	if (p->ready)
		reset_response(p);
	/* Where the current line began in p->text: lines after a literal start
	   at the end of the text collected so far. */
	size_t line_start = p->n_ents > 0 ? p->ents[p->n_ents - 1].text_off : 0;
	while (i < len) {
		if (p->state == ST_LITERAL) {
			size_t take = len - i < p->lit_left ? len - i : p->lit_left;
			if (p->lim.keep_literals && buf_append(&p->lits, d + i, take) < 0)
				return fail(p, "out of memory");
			i += take;
			p->lit_left -= take;
			if (p->lit_left == 0) {
				p->state = ST_LINE;
				line_start = p->text.len;
			}
			continue;
		}
		const unsigned char *lf = memchr(d + i, '\n', len - i);
		size_t chunk = lf != NULL ? (size_t)(lf - (d + i)) : len - i;
		if (p->text.len + chunk > p->lim.max_text)
			return fail(p, "response text too long");
		if (buf_append(&p->text, d + i, chunk) < 0)
			return fail(p, "out of memory");
		i += chunk;
		if (lf == NULL)
			break;
		i++; /* the LF */
		enum imapc_resp_result res = end_of_line(p, line_start);
		if (res != IMAPC_RESP_NEED_MORE) {
			*used_r = i;
			if (res == IMAPC_RESP_READY)
				*resp_r = &p->resp;
			return res;
		}
	}
	*used_r = i;
	return IMAPC_RESP_NEED_MORE;
}

bool imapc_resp_is(const struct imapc_resp *r, const char *kw)
{
	return r->keyword != NULL && strlen(kw) == r->keyword_len && strncasecmp(r->keyword, kw, r->keyword_len) == 0;
}

bool imapc_resp_code(const struct imapc_resp *r, const char **code_r, size_t *len_r)
{
	if (r->rest == NULL || r->rest[0] != '[')
		return false;
	const char *e = strchr(r->rest, ']');
	if (e == NULL)
		return false;
	*code_r = r->rest + 1;
	*len_r = (size_t)(e - r->rest - 1);
	return true;
}

static bool word_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
	       c == '_';
}

int imapc_find_number(const char *s, size_t len, const char *name, uint64_t *val_r)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i + nl < len; i++) {
		if (strncasecmp(s + i, name, nl) != 0)
			continue;
		if (i > 0 && word_char(s[i - 1]))
			continue;
		size_t j = i + nl;
		if (j < len && word_char(s[j]))
			continue;
		while (j < len && (s[j] == ' ' || s[j] == '('))
			j++;
		if (j == len || s[j] < '0' || s[j] > '9')
			continue;
		uint64_t v = 0;
		while (j < len && s[j] >= '0' && s[j] <= '9') {
			uint64_t nv = v * 10 + (uint64_t)(s[j] - '0');
			if (nv / 10 != v)
				return -1;
			v = nv;
			j++;
		}
		*val_r = v;
		return 0;
	}
	return -1;
}
