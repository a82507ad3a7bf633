/*
 * fetch-items: RFC 3501 fetch-att parsing for the items the store serves.
 */
#include "fetch-items.h"

#include "mime-binary.h"
#include "mime-header.h"

#include <string.h>
#include <stdlib.h>
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

static bool same_body(const struct fetch_body_item *a, const struct fetch_body_item *b)
{
	return a->name == b->name && a->partial == b->partial && a->origin == b->origin && a->count == b->count &&
	       strcmp(a->spec, b->spec) == 0;
}

/* Takes ownership of it's section and spec (freed here when merged or refused). */
static enum fetch_item_result add_body(struct fetch_items *fi, struct fetch_body_item *it)
{
	for (unsigned i = 0; i < fi->n_body; i++) {
		struct fetch_body_item *o = &fi->items[i];
		if (same_body(o, it)) {
			o->peek = o->peek && it->peek;
			mime_section_clear(&it->sec);
			free(it->spec);
			return FETCH_ITEM_OK;
		}
	}
	if (fi->n_body >= FETCH_MAX_BODY_ITEMS) {
		mime_section_clear(&it->sec);
		free(it->spec);
		return FETCH_ITEM_TOO_MANY;
	}
	fi->items[fi->n_body++] = *it;
	return FETCH_ITEM_OK;
}

/* A body item for section text s[0 .. len) (already without brackets). */
static enum fetch_item_result body_item(struct fetch_items *fi, enum fetch_body_name name, bool peek, const char *s,
					size_t len, bool partial, uint32_t origin, uint32_t count)
{
	struct fetch_body_item it = {.peek = peek, .name = name, .partial = partial, .origin = origin, .count = count};
	if (mime_section_parse(s, len, &it.sec) < 0)
		return FETCH_ITEM_INVALID;
	struct buf spec = {0};
	if (mime_section_write(&spec, &it.sec) < 0 || (it.spec = (char *)buf_steal(&spec, NULL)) == NULL) {
		buf_free(&spec);
		mime_section_clear(&it.sec);
		return FETCH_ITEM_INVALID;
	}
	return add_body(fi, &it);
}

/* "BODY[" or "BODY.PEEK[" (or a BINARY form) already matched up to and
 * including '['. BINARY takes every section-spec BODY takes (RFC 3516's
 * section-binary is part paths only; Dovecot answers the others too, see
 * mime_binary_section_plan), BINARY.SIZE no partial. */
static enum fetch_item_result parse_body_section(struct fetch_items *fi, const char *s, size_t len, size_t pos,
						 bool peek, enum fetch_body_name name)
{
	/* The section ends at the last ']' (field names cannot contain one). */
	size_t close = len;
	while (close > pos && s[close - 1] != ']')
		close--;
	if (close == pos)
		return FETCH_ITEM_INVALID;
	close--;
	uint32_t origin = 0, count = 0;
	bool partial = false;
	size_t i = close + 1;
	if (i < len) {
		if (s[i] != '<')
			return FETCH_ITEM_INVALID;
		i++;
		if (parse_u32(s, len, &i, &origin) < 0 || i >= len || s[i] != '.')
			return FETCH_ITEM_INVALID;
		i++;
		if (parse_u32(s, len, &i, &count) < 0 || count == 0 || i >= len || s[i] != '>' || i + 1 != len)
			return FETCH_ITEM_INVALID;
		partial = true;
	}
	if (name == FETCH_BINARY_SIZE && partial)
		return FETCH_ITEM_INVALID;
	return body_item(fi, name, peek, s + pos, close - pos, partial, origin, count);
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
	} else if (eq(s, len, "ENVELOPE")) {
		fi->envelope = true;
	} else if (eq(s, len, "BODYSTRUCTURE")) {
		fi->bodystructure = true;
	} else if (eq(s, len, "BODY")) {
		fi->body = true;
	} else if (eq(s, len, "MODSEQ")) {
		fi->modseq = true;
	} else if (eq(s, len, "FAST")) {
		fi->flags = fi->internaldate = fi->size = true;
	} else if (eq(s, len, "ALL")) {
		fi->flags = fi->internaldate = fi->size = fi->envelope = true;
	} else if (eq(s, len, "FULL")) {
		fi->flags = fi->internaldate = fi->size = fi->envelope = fi->body = true;
	} else if (eq(s, len, "RFC822")) {
		return body_item(fi, FETCH_RFC822, false, "", 0, false, 0, 0);
	} else if (eq(s, len, "RFC822.HEADER")) {
		return body_item(fi, FETCH_RFC822_HEADER, true, "HEADER", 6, false, 0, 0);
	} else if (eq(s, len, "RFC822.TEXT")) {
		return body_item(fi, FETCH_RFC822_TEXT, false, "TEXT", 4, false, 0, 0);
	} else if (has_prefix(s, len, "BODY.PEEK[")) {
		return parse_body_section(fi, s, len, 10, true, FETCH_BODY);
	} else if (has_prefix(s, len, "BODY[")) {
		return parse_body_section(fi, s, len, 5, false, FETCH_BODY);
	} else if (has_prefix(s, len, "BINARY.PEEK[")) {
		return parse_body_section(fi, s, len, 12, true, FETCH_BINARY);
	} else if (has_prefix(s, len, "BINARY.SIZE[")) {
		return parse_body_section(fi, s, len, 12, true, FETCH_BINARY_SIZE);
	} else if (has_prefix(s, len, "BINARY[")) {
		return parse_body_section(fi, s, len, 7, false, FETCH_BINARY);
	} else if (eq(s, len, "PREVIEW")) {
		fi->preview = true;
	} else if (has_prefix(s, len, "ANNOTATION")) {
		return FETCH_ITEM_UNSUPPORTED;
	} else {
		return FETCH_ITEM_INVALID;
	}
	return FETCH_ITEM_OK;
}

enum fetch_item_result fetch_items_add_preview_mods(struct fetch_items *fi, const char *const *mods,
						    const size_t *lens, unsigned n)
{
	if (n == 0)
		return FETCH_ITEM_INVALID;
	for (unsigned i = 0; i < n; i++)
		if (mods[i] == NULL || !eq(mods[i], lens[i], "LAZY"))
			return FETCH_ITEM_INVALID;
	fi->preview = fi->preview_lazy = true;
	return FETCH_ITEM_OK;
}

void fetch_items_clear(struct fetch_items *fi)
{
	for (unsigned i = 0; i < fi->n_body; i++) {
		mime_section_clear(&fi->items[i].sec);
		free(fi->items[i].spec);
	}
	memset(fi, 0, sizeof(*fi));
}

bool fetch_items_sets_seen(const struct fetch_items *fi)
{
	for (unsigned i = 0; i < fi->n_body; i++)
		if (!fi->items[i].peek)
			return true;
	return false;
}

static bool whole_message(const struct fetch_body_item *it)
{
	return it->sec.path_len == 0 && it->sec.text == MIME_SECTION_BODY;
}

static bool is_binary(const struct fetch_body_item *it)
{
	return it->name == FETCH_BINARY || it->name == FETCH_BINARY_SIZE;
}

bool fetch_items_need_tree(const struct fetch_items *fi)
{
	if (fi->envelope || fi->bodystructure || fi->body || fi->preview)
		return true;
	for (unsigned i = 0; i < fi->n_body; i++)
		if (!whole_message(&fi->items[i]) || is_binary(&fi->items[i]))
			return true;
	return false;
}

bool fetch_items_need_body(const struct fetch_items *fi)
{
	return fi->n_body > 0;
}

void fetch_items_write_body_name(struct buf *b, const struct fetch_body_item *it)
{
	switch (it->name) {
	case FETCH_RFC822:
		buf_append_str(b, "RFC822");
		return;
	case FETCH_RFC822_HEADER:
		buf_append_str(b, "RFC822.HEADER");
		return;
	case FETCH_RFC822_TEXT:
		buf_append_str(b, "RFC822.TEXT");
		return;
	case FETCH_BINARY_SIZE:
		buf_printf(b, "BINARY.SIZE[%s]", it->spec);
		return;
	case FETCH_BINARY:
		buf_printf(b, "BINARY[%s]", it->spec);
		if (it->partial)
			buf_printf(b, "<%u>", (unsigned)it->origin);
		return;
	case FETCH_BODY:
		break;
	}
	buf_printf(b, "BODY[%s]", it->spec);
	if (it->partial)
		buf_printf(b, "<%u>", (unsigned)it->origin);
}

int fetch_items_body_bytes(struct buf *out, const struct fetch_body_item *it, const unsigned char *msg, size_t len,
			   const struct mime_tree *tree)
{
	struct buf sec = {0};
	const unsigned char *p = msg;
	size_t n = len;
	if (is_binary(it)) {
		int rc = tree == NULL ? -1 : mime_binary_section_fetch(&sec, msg, len, tree, &it->sec);
		if (rc != MIME_BINARY_OK) {
			buf_free(&sec);
			return rc == MIME_BINARY_UNKNOWN_CTE ? FETCH_BYTES_UNKNOWN_CTE : -1;
		}
		p = sec.data;
		n = sec.len;
	} else if (!whole_message(it)) {
		if (tree == NULL || mime_section_fetch(&sec, msg, len, tree, &it->sec) < 0) {
			buf_free(&sec);
			return -1;
		}
		p = sec.data;
		n = sec.len;
	}
	size_t start = 0;
	if (it->partial) {
		start = it->origin < n ? it->origin : n;
		n -= start;
		if (n > it->count)
			n = it->count;
	}
	int rc = n > 0 ? buf_append(out, p + start, n) : 0;
	buf_free(&sec);
	return rc;
}

static bool is_filter(const struct fetch_body_item *it)
{
	return it->sec.text == MIME_SECTION_HEADER_FIELDS || it->sec.text == MIME_SECTION_HEADER_FIELDS_NOT;
}

/* BINARY's header filters are BODY's (a header is never encoded). */
static bool streamable(const struct fetch_body_item *it)
{
	return !is_binary(it) || is_filter(it);
}

bool fetch_items_is_binary(const struct fetch_body_item *it)
{
	return is_binary(it);
}

/* The partial <origin.count> of an answer n bytes long: [*start, + *n). */
static void apply_partial(const struct fetch_body_item *it, uint64_t *start_r, uint64_t *n)
{
	*start_r = 0;
	if (!it->partial)
		return;
	*start_r = it->origin < *n ? it->origin : *n;
	*n -= *start_r;
	if (*n > it->count)
		*n = it->count;
}

int fetch_items_filter_header(struct buf *out, const struct fetch_body_item *it, const unsigned char *hdr, size_t len)
{
	struct buf f = {0};
	if (mime_header_filter(&f, hdr, len, it->sec.fields, it->sec.n_fields,
			       it->sec.text == MIME_SECTION_HEADER_FIELDS_NOT) < 0) {
		buf_free(&f);
		return -1;
	}
	uint64_t start, n = f.len;
	apply_partial(it, &start, &n);
	int rc = n > 0 ? buf_append(out, f.data + start, (size_t)n) : 0;
	buf_free(&f);
	return rc;
}

bool fetch_items_streamable(const struct fetch_items *fi)
{
	/* Byte ranges and header filters are read in ranges, BINARY of a
	 * leaf part in decoded windows (cmd-fetch.c). */
	return fi->n_body > 0;
}

int fetch_items_body_range(const struct fetch_body_item *it, const struct mime_tree *tree, uint64_t msg_size,
			   uint64_t *off_r, uint64_t *len_r)
{
	uint64_t off = 0, len = msg_size;
	if (!streamable(it))
		return -1;
	if (!whole_message(it)) {
		if (tree == NULL)
			return -1;
		if (!mime_section_locate(tree, &it->sec, &off, &len))
			off = len = 0;
		/* As mime_section_fetch: clamped to the stored message. */
		if (off > msg_size)
			off = len = 0;
		if (len > msg_size - off)
			len = msg_size - off;
	}
	*off_r = off;
	*len_r = len;
	if (is_filter(it))
		return FETCH_RANGE_FILTER;
	uint64_t start;
	apply_partial(it, &start, len_r);
	*off_r += start;
	return 0;
}
