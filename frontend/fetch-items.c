/*
 * fetch-items: RFC 3501 fetch-att parsing for the items the store serves.
 */
#include "fetch-items.h"

#include <string.h>
#include <strings.h>

static bool eq(const char *s, size_t len, const char *name)
{
	size_t n = strlen(name);
	return n == len && strncasecmp(s, name, n) == 0;
}

static bool has_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && strncasecmp(s, prefix, n) == 0;
}

/* Parses RFC 3501 "number" (1*DIGIT) fitting in 32 bits from s[*pos ..]. */
static int parse_u32(const char *s, size_t len, size_t *pos, uint32_t *v_r)
{
	uint64_t v = 0;
	size_t i = *pos;
	if (i >= len || s[i] < '0' || s[i] > '9')
		return -1;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*pos = i;
	*v_r = (uint32_t)v;
	return 0;
}

static enum fetch_item_result add_body(struct fetch_items *fi, const struct fetch_body_item *it)
{
	for (unsigned i = 0; i < fi->n_body; i++) {
		struct fetch_body_item *o = &fi->body[i];
		if (o->rfc822 == it->rfc822 && o->partial == it->partial && o->origin == it->origin &&
		    o->count == it->count) {
			o->peek = o->peek && it->peek;
			return FETCH_ITEM_OK;
		}
	}
	if (fi->n_body >= FETCH_MAX_BODY_ITEMS)
		return FETCH_ITEM_TOO_MANY;
	fi->body[fi->n_body++] = *it;
	return FETCH_ITEM_OK;
}

/* "BODY[" or "BODY.PEEK[" already matched up to and including '['. */
static enum fetch_item_result parse_body_section(struct fetch_items *fi, const char *s, size_t len, size_t pos,
						 bool peek)
{
	size_t close = pos;
	while (close < len && s[close] != ']')
		close++;
	if (close >= len)
		return FETCH_ITEM_INVALID;
	struct fetch_body_item it = {.peek = peek};
	size_t i = close + 1;
	if (i < len) {
		if (s[i] != '<')
			return FETCH_ITEM_INVALID;
		i++;
		if (parse_u32(s, len, &i, &it.origin) < 0 || i >= len || s[i] != '.')
			return FETCH_ITEM_INVALID;
		i++;
		if (parse_u32(s, len, &i, &it.count) < 0 || it.count == 0 || i >= len || s[i] != '>' ||
		    i + 1 != len)
			return FETCH_ITEM_INVALID;
		it.partial = true;
	}
	if (close != pos)
		return FETCH_ITEM_UNSUPPORTED; /* BODY[HEADER], BODY[1.TEXT] ...: needs the MIME layer */
	return add_body(fi, &it);
}

enum fetch_item_result fetch_items_add(struct fetch_items *fi, const char *s, size_t len)
{
	if (s == NULL || len == 0)
		return FETCH_ITEM_INVALID;
	if (eq(s, len, "UID")) {
		fi->uid = true;
	} else if (eq(s, len, "FLAGS")) {
		fi->flags = true;
	} else if (eq(s, len, "INTERNALDATE")) {
		fi->internaldate = true;
	} else if (eq(s, len, "RFC822.SIZE")) {
		fi->size = true;
	} else if (eq(s, len, "FAST")) {
		fi->flags = fi->internaldate = fi->size = true;
	} else if (eq(s, len, "RFC822")) {
		struct fetch_body_item it = {.rfc822 = true};
		return add_body(fi, &it);
	} else if (has_prefix(s, len, "BODY.PEEK[")) {
		return parse_body_section(fi, s, len, 10, true);
	} else if (has_prefix(s, len, "BODY[")) {
		return parse_body_section(fi, s, len, 5, false);
	} else if (eq(s, len, "ALL") || eq(s, len, "FULL") || eq(s, len, "ENVELOPE") || eq(s, len, "BODY") ||
		   eq(s, len, "BODYSTRUCTURE") || eq(s, len, "RFC822.HEADER") || eq(s, len, "RFC822.TEXT") ||
		   has_prefix(s, len, "BINARY[") || has_prefix(s, len, "BINARY.PEEK[") ||
		   has_prefix(s, len, "BINARY.SIZE[") || eq(s, len, "MODSEQ") || has_prefix(s, len, "PREVIEW") ||
		   has_prefix(s, len, "ANNOTATION")) {
		return FETCH_ITEM_UNSUPPORTED;
	} else {
		return FETCH_ITEM_INVALID;
	}
	return FETCH_ITEM_OK;
}

bool fetch_items_sets_seen(const struct fetch_items *fi)
{
	for (unsigned i = 0; i < fi->n_body; i++)
		if (!fi->body[i].peek)
			return true;
	return false;
}

void fetch_items_write_body_name(struct buf *b, const struct fetch_body_item *it)
{
	if (it->rfc822) {
		buf_append_str(b, "RFC822");
		return;
	}
	buf_append_str(b, "BODY[]");
	if (it->partial)
		buf_printf(b, "<%u>", (unsigned)it->origin);
}

void fetch_items_body_slice(const struct fetch_body_item *it, size_t body_len, size_t *start_r, size_t *len_r)
{
	if (!it->partial) {
		*start_r = 0;
		*len_r = body_len;
		return;
	}
	size_t start = it->origin < body_len ? it->origin : body_len;
	size_t n = body_len - start;
	if (n > it->count)
		n = it->count;
	*start_r = start;
	*len_r = n;
}
