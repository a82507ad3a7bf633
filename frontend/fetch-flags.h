/*
 * fetch-flags: message flags as IMAP spells them, for FETCH, SELECT and APPEND.
 *
 * System flags travel as a bitmask whose bits equal proto SysFlag
 * (cpm.proto): FETCH_FLAG_SEEN == CPM__SYS_FLAG__SEEN and so on; keywords
 * travel as names. \Recent is never stored: it is a property of the session
 * (UIDs >= the session's first_recent_uid) and is passed in separately.
 *
 * Contract:
 *  - fetch_flag_parse classifies one flag atom of a client's flag list
 *    (APPEND, later STORE); it never allocates.
 *  - fetch_keyword_valid says whether a name may be sent as a keyword: a
 *    non-empty RFC 3501 atom of at most FETCH_FLAGS_MAX_KEYWORD_LEN bytes
 *    that does not start with '\'. Writers skip invalid keywords (a
 *    back-end bug must never become a protocol injection).
 *  - fetch_flags_write appends a parenthesised flag list to b; like every
 *    buf writer it may leave a partial write when memory runs out.
 */
#ifndef CPM_FRONTEND_FETCH_FLAGS_H
#define CPM_FRONTEND_FETCH_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "imap-parser.h"

#define FETCH_FLAG_SEEN 1u
#define FETCH_FLAG_ANSWERED 2u
#define FETCH_FLAG_FLAGGED 4u
#define FETCH_FLAG_DELETED 8u
#define FETCH_FLAG_DRAFT 16u
#define FETCH_FLAG_ALL 31u

/* Bounds on what a client may set on one message. */
#define FETCH_FLAGS_MAX_KEYWORDS 128
#define FETCH_FLAGS_MAX_KEYWORD_LEN 250

enum fetch_flag_kind {
	FETCH_FLAG_KIND_SYSTEM,  /* *bit_r is one FETCH_FLAG_* bit */
	FETCH_FLAG_KIND_KEYWORD, /* a valid keyword */
	FETCH_FLAG_KIND_RECENT,  /* \Recent: clients may not set it */
	FETCH_FLAG_KIND_INVALID, /* unknown \Flag, or not an atom */
};

/* s[0 .. len): one flag atom. System flag names are case-insensitive. */
enum fetch_flag_kind fetch_flag_parse(const char *s, size_t len, uint32_t *bit_r);

bool fetch_keyword_valid(const char *s, size_t len);

/* Appends "(\Seen \Answered \Flagged \Deleted \Draft \Recent kw1 kw2)",
 * with only the flags that are set, in that order. */
void fetch_flags_write(struct buf *b, uint32_t sys_flags, bool recent, char *const *keywords,
		       size_t n_keywords);

/* A parsed flag list (APPEND, STORE): system flag bits and keywords, which
 * point into the parsed command (valid while it is). */
struct flag_set {
	uint32_t sys;
	char *keywords[FETCH_FLAGS_MAX_KEYWORDS];
	size_t n_keywords;
};

/* Parses n flag atoms into set (keywords de-duplicated case-insensitively).
 * Returns NULL, or the text for a tagged BAD (\Recent, unknown \Flag,
 * non-atom, too many keywords). */
const char *fetch_flags_parse_list(const struct imap_arg *args, unsigned n, struct flag_set *set);

#endif
