/*
 * fetch-flags: parse and write IMAP flag lists (RFC 3501 "flag",
 * "flag-keyword", "flag-fetch").
 */
#include "fetch-flags.h"

#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	uint32_t bit;
} system_flags[] = {
	{"\\Seen", FETCH_FLAG_SEEN},       {"\\Answered", FETCH_FLAG_ANSWERED},
	{"\\Flagged", FETCH_FLAG_FLAGGED}, {"\\Deleted", FETCH_FLAG_DELETED},
	{"\\Draft", FETCH_FLAG_DRAFT},
};

#define N_SYSTEM_FLAGS (sizeof(system_flags) / sizeof(system_flags[0]))

/* RFC 3501 ATOM-CHAR: CHAR except atom-specials. */
static bool atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	switch (c) {
	case '(': case ')': case '{': case '%': case '*': case '"': case '\\': case ']':
		return false;
	default:
		return true;
	}
}

bool fetch_keyword_valid(const char *s, size_t len)
{
	if (s == NULL || len == 0 || len > FETCH_FLAGS_MAX_KEYWORD_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!atom_char((unsigned char)s[i]))
			return false;
	return true;
}

enum fetch_flag_kind fetch_flag_parse(const char *s, size_t len, uint32_t *bit_r)
{
	if (s == NULL || len == 0)
		return FETCH_FLAG_KIND_INVALID;
	if (s[0] != '\\')
		return fetch_keyword_valid(s, len) ? FETCH_FLAG_KIND_KEYWORD : FETCH_FLAG_KIND_INVALID;
	for (size_t i = 0; i < N_SYSTEM_FLAGS; i++) {
		const char *name = system_flags[i].name;
		size_t n = 0;
		while (name[n] != '\0')
			n++;
		if (n == len && strncasecmp(s, name, len) == 0) {
			*bit_r = system_flags[i].bit;
			return FETCH_FLAG_KIND_SYSTEM;
		}
	}
	if (len == 7 && strncasecmp(s, "\\Recent", 7) == 0)
		return FETCH_FLAG_KIND_RECENT;
	return FETCH_FLAG_KIND_INVALID;
}

void fetch_flags_write(struct buf *b, uint32_t sys_flags, bool recent, char *const *keywords,
		       size_t n_keywords)
{
	bool first = true;
	buf_append_byte(b, '(');
	for (size_t i = 0; i < N_SYSTEM_FLAGS; i++) {
		if ((sys_flags & system_flags[i].bit) == 0)
			continue;
		if (!first)
			buf_append_byte(b, ' ');
		buf_append_str(b, system_flags[i].name);
		first = false;
	}
	if (recent) {
		if (!first)
			buf_append_byte(b, ' ');
		buf_append_str(b, "\\Recent");
		first = false;
	}
	for (size_t i = 0; i < n_keywords; i++) {
		const char *kw = keywords[i];
		size_t len = 0;
		if (kw == NULL)
			continue;
		while (len <= FETCH_FLAGS_MAX_KEYWORD_LEN && kw[len] != '\0')
			len++;
		if (!fetch_keyword_valid(kw, len))
			continue;
		if (!first)
			buf_append_byte(b, ' ');
		buf_append(b, kw, len);
		first = false;
	}
	buf_append_byte(b, ')');
}

const char *fetch_flags_parse_list(const struct imap_arg *args, unsigned n, struct flag_set *set)
{
	set->sys = 0;
	set->n_keywords = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct imap_arg *f = &args[i];
		uint32_t bit = 0;
		if (f->type != IMAP_ARG_ATOM)
			return "Invalid flag in flag list";
		switch (fetch_flag_parse(f->str, f->len, &bit)) {
		case FETCH_FLAG_KIND_SYSTEM:
			set->sys |= bit;
			break;
		case FETCH_FLAG_KIND_KEYWORD: {
			bool dup = false;
			for (size_t k = 0; k < set->n_keywords && !dup; k++)
				dup = strlen(set->keywords[k]) == f->len && strncasecmp(set->keywords[k], f->str, f->len) == 0;
			if (dup)
				break;
			if (set->n_keywords >= FETCH_FLAGS_MAX_KEYWORDS)
				return "Too many keywords";
			if (strlen(f->str) != f->len)
				return "Invalid keyword";
			set->keywords[set->n_keywords++] = (char *)f->str;
			break;
		}
		case FETCH_FLAG_KIND_RECENT:
			return "\\Recent flag cannot be set";
		case FETCH_FLAG_KIND_INVALID:
		default:
			return "Invalid system flag or keyword";
		}
	}
	return NULL;
}
