/*
 * mime-header: the lexical layer under the MIME parser, ENVELOPE and
 * BODYSTRUCTURE: header fields, unfolding, RFC 822 / RFC 2045 tokens,
 * Content-Type style parameters (RFC 2231 continuations merged), the
 * HEADER.FIELDS filter, and the string store that parsed forms live in.
 *
 * Nothing here allocates except into a caller's struct buf or struct
 * mime_store; nothing reads outside the ranges it is given; input is any
 * byte sequence (NULs, 8-bit, bare LF, lone CR).
 *
 * Conventions (the behaviour Dovecot 2.3 shows, which is what IMAP clients
 * know):
 *  - A header is a sequence of lines, each ending with LF (CRLF or bare LF);
 *    it ends at an empty line ("\n" or "\r\n") or at the end of the range.
 *    A line starting with SP or HT continues the previous field. A lone CR
 *    is data, not a line end.
 *  - A field's name is the bytes before the first ':' of its first line,
 *    without trailing SP/HT ("Subject :" is "Subject"); a line without ':'
 *    is a field without a name (kept by HEADER.FIELDS.NOT, never matched).
 *  - A field's unfolded value drops every CR and LF byte, skips the SP/HT
 *    that start it and replaces NUL by U+FFFD; trailing white space stays.
 *
 * Return conventions: functions returning int give 0 on success and -1 when
 * memory cannot be had (or a 32-bit store offset would overflow), unless
 * documented otherwise.
 */
#ifndef CPM_MIME_HEADER_H
#define CPM_MIME_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Header lines interpreted per part (ENVELOPE, Content-*); the header may be
 * longer, the rest is kept byte-exact but not looked at. */
#define MIME_HEADER_MAX_LINES 5000
/* Parameters kept from one Content-Type / Content-Disposition field. */
#define MIME_MAX_PARAMS 256
/* Languages kept from one Content-Language field. */
#define MIME_MAX_LANGUAGES 64

/* ---- string store ---------------------------------------------------- */

/* A string in a store's pool: pool[off .. off+len). off == MIME_STR_NIL
 * (and len 0) is "absent" (IMAP NIL). */
struct mime_str {
	uint32_t off;
	uint32_t len;
};
#define MIME_STR_NIL UINT32_MAX
static inline struct mime_str mime_str_nil(void)
{
	return (struct mime_str){MIME_STR_NIL, 0};
}
static inline bool mime_str_is_nil(struct mime_str s)
{
	return s.off == MIME_STR_NIL;
}

/* A list of strings: strs[first .. first+count*k) of the store, where k is
 * 2 for parameters (name, value), 1 for languages, 4 for addresses. */
struct mime_list {
	uint32_t first;
	uint32_t count;
};

enum mime_const {
	MIME_CONST_MISSING_MAILBOX,
	MIME_CONST_MISSING_DOMAIN,
	MIME_CONST_SYNTAX_ERROR,
	MIME_CONST_INVALID_ROUTE,
	MIME_CONST_COUNT
};

/* Where parsed header data goes: one byte pool and one array of string
 * references (the members of lists). A zeroed store is empty; set budget
 * (list entries still allowed, 0 = none) before use. The store owns its
 * memory; mime_store_free releases it. When the budget is spent, further
 * list members are dropped silently (bounded memory for hostile input). */
struct mime_store {
	struct buf pool;
	struct mime_str *strs;
	size_t n_strs, cap_strs;
	size_t budget;
	struct mime_str consts[MIME_CONST_COUNT]; /* interned, off 0/len 0 until used */
	bool have_const[MIME_CONST_COUNT];
};

void mime_store_free(struct mime_store *st);
/* Adds p[0 .. len) to the pool; *s_r is its reference. */
int mime_store_add(struct mime_store *st, const void *p, size_t len, struct mime_str *s_r);
/* The reference of a constant string ("MISSING_MAILBOX", ...), added once. */
int mime_store_const(struct mime_store *st, enum mime_const c, struct mime_str *s_r);
/* Appends s to strs. Returns 1 when added, 0 when the budget is spent
 * (nothing added), -1 when out of memory. */
int mime_store_push(struct mime_store *st, struct mime_str s);
/* The bytes of s (NULL for NIL); *len_r its length. */
const unsigned char *mime_store_get(const struct mime_store *st, struct mime_str s, size_t *len_r);

/* ---- header fields ---------------------------------------------------- */

struct mime_header_field {
	size_t off, len;           /* the whole field, all its lines, line ends included */
	size_t name_len;           /* name = hdr[off .. off+name_len); 0 when !has_colon */
	bool has_colon;
	size_t value_off, value_len; /* after ':' to the end of the field, minus its last line end */
};

struct mime_header_iter {
	const unsigned char *hdr;
	size_t len, pos;
	unsigned lines, max_lines;
	bool done;
	bool eoh; /* the empty line that ends a header was seen */
};

/* Iterates hdr[0 .. len). max_lines > 0 stops after that many physical
 * lines (the field being read when the limit hits is not returned). */
void mime_header_iter_init(struct mime_header_iter *it, const unsigned char *hdr, size_t len, unsigned max_lines);
/* Returns the next field, false at the end of the header. */
bool mime_header_iter_next(struct mime_header_iter *it, struct mime_header_field *f_r);
/* Case-insensitive field name test. */
bool mime_header_name_is(const unsigned char *hdr, const struct mime_header_field *f, const char *name);

/* Appends the unfolded value v[0 .. len) to out (see the conventions);
 * keep_nul leaves NULs as they are (for parsers that must stop at them). */
int mime_header_unfold(struct buf *out, const unsigned char *v, size_t len, bool keep_nul);
/* Appends s[0 .. len) "for humans" (Subject, display names): runs of SP,
 * HT, CR and LF become one SP, leading and trailing ones are dropped, NUL
 * becomes U+FFFD. */
int mime_header_humanize(struct buf *out, const unsigned char *s, size_t len);

/* ---- RFC 822 / 2045 lexer (on an unfolded value) --------------------- */

struct mime_lex {
	const unsigned char *p, *end;
	struct buf *last_comment; /* optional: receives the text of the last comment skipped */
};

void mime_lex_init(struct mime_lex *lx, const unsigned char *p, size_t len);
/* Skips SP, HT, CR, LF and (nested) comments. Returns 1 when data remains,
 * 0 at the end, -1 after an unterminated comment (then at the end). */
int mime_lex_skip_cfws(struct mime_lex *lx);
bool mime_is_token_char(unsigned char c); /* RFC 2045 token: not SP, CTL, tspecial (8-bit allowed) */
bool mime_is_atext(unsigned char c);       /* RFC 5322 atext, 8-bit allowed */
/* Appends a run of token chars (maybe none) to out; returns how many, or -1
 * when out of memory. Does not skip what follows. */
int mime_lex_token(struct mime_lex *lx, struct buf *out);
/* At '"': appends the unescaped content (CR/LF dropped); returns 1, 0 for an
 * unterminated string (then at the end), -1 when out of memory. */
int mime_lex_quoted(struct mime_lex *lx, struct buf *out);

/* Parses ";" parameter lists the way Dovecot does (broken parameters are
 * skipped byte by byte up to the next ';'), merges RFC 2231 continuations
 * (name*0, name*1*... become "name" or "name*" with the parts joined,
 * encoded parts kept raw), and pushes name/value pairs to st. *list_r is the
 * list (k = 2). At most MIME_MAX_PARAMS parameters are kept. */
int mime_lex_params(struct mime_lex *lx, struct mime_store *st, struct mime_list *list_r);

/* ---- Content-* fields --------------------------------------------------- */

/* Content-Type value: *type_r / *subtype_r get the strings as sent ("" ""
 * for a value Dovecot would call broken: empty, "text/", "a b", "/x",
 * "text/plain junk"; "text" alone gives "text" ""), params_r the
 * parameters (only when type and subtype were read). */
int mime_parse_content_type(const unsigned char *v, size_t len, struct mime_store *st, struct mime_str *type_r,
			    struct mime_str *subtype_r, struct mime_list *params_r);
/* Content-Transfer-Encoding: one token and nothing else; *enc_r is NIL when
 * the value is not that. */
int mime_parse_content_encoding(const unsigned char *v, size_t len, struct mime_store *st, struct mime_str *enc_r);
/* Content-Disposition: a token (maybe "") and parameters. */
int mime_parse_content_disposition(const unsigned char *v, size_t len, struct mime_store *st, struct mime_str *disp_r,
				   struct mime_list *params_r);
/* Content-Language: a comma-separated list of atoms, stopping at the first
 * thing that is not one (list count 0 when none). */
int mime_parse_content_language(const unsigned char *v, size_t len, struct mime_store *st, struct mime_list *langs_r);

/* ---- HEADER.FIELDS --------------------------------------------------- */

/* Appends to out the fields of hdr[0 .. len) whose name matches one of
 * fields[0 .. n) case-insensitively (not == false), or matches none of them
 * (not == true), in header order, each line end written as CRLF; then the
 * empty line: always for HEADER.FIELDS, and for HEADER.FIELDS.NOT only when
 * hdr has one (RFC 3501: "except in the case of a message which has no body
 * and no blank line"; this is what Dovecot does). */
int mime_header_filter(struct buf *out, const unsigned char *hdr, size_t len, char *const *fields, size_t n, bool not);

#endif
