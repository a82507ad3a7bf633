/*
 * imap-seqset: RFC 3501 sequence sets ("1,3:5,7:*") and UID sets.
 *
 * A struct imap_seqset is a value type, like struct buf: a zeroed struct (or
 * imap_seqset_init) is the empty set, imap_seqset_free releases its memory and
 * leaves it empty and reusable. The set owns its range array.
 *
 * Representation:
 *  - ranges[0 .. count) holds the numeric part, sorted ascending, disjoint and
 *    non-adjacent (1:3 and 4:6 are merged into 1:6). Every value is in
 *    1 .. 4294967295. Callers may read these fields to iterate.
 *  - "*" ("the largest number in use", unknown while parsing) is kept symbolic
 *    until imap_seqset_resolve. The union of all terms that mention "*"
 *    (n:*, *:n, *) is exactly the interval spanning star_lo, star_hi and the
 *    value of "*", so two numbers represent them all: star is true when such a
 *    term was seen, star_lo/star_hi are the smallest/largest n of n:* terms
 *    (both 0 when only bare "*" / "*:*" was seen).
 *
 * Return conventions: functions returning int give 0 on success and -1 on
 * failure (syntax error, out of memory, invalid value); on failure the set is
 * left as documented per function, never half-modified. Nothing aborts.
 *
 * Limits: parse accepts at most IMAP_SEQSET_MAX_PARSE_RANGES comma-separated
 * terms; numbers follow the RFC's nz-number (1 .. 4294967295, no leading zero).
 * The "$" saved search result (RFC 5182) is not supported here.
 */
#ifndef CPM_IMAP_SEQSET_H
#define CPM_IMAP_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define IMAP_SEQSET_MAX_PARSE_RANGES 10000

struct imap_seq_range {
	uint32_t lo;
	uint32_t hi; /* lo <= hi */
};

struct imap_seqset {
	struct imap_seq_range *ranges;
	size_t count;
	size_t cap;
	bool star;	  /* an unresolved term mentioning '*' exists */
	uint32_t star_lo; /* 0 when only bare '*' terms */
	uint32_t star_hi;
};

void imap_seqset_init(struct imap_seqset *set);
void imap_seqset_free(struct imap_seqset *set);

/* Parses s[0 .. len) (no surrounding spaces, no NUL needed). "5:2" is 2:5.
 * set_r is initialised here (its previous contents are NOT freed). Returns 0,
 * or -1 on a syntax error, a 0, a number > 4294967295, a leading zero, more
 * than IMAP_SEQSET_MAX_PARSE_RANGES terms, or out of memory; on -1 set_r is
 * empty. */
int imap_seqset_parse(const char *s, size_t len, struct imap_seqset *set_r);

/* Replaces "*" by star_value (the highest sequence number / UID in the
 * mailbox) and re-normalises; afterwards set->star is false. star_value 0
 * means the mailbox is empty: every term that mentions "*" is dropped.
 * A set without "*" is unchanged. Returns -1 only when out of memory (the
 * set is then unchanged). */
int imap_seqset_resolve(struct imap_seqset *set, uint32_t star_value);

/* True when value certainly belongs to the set: it is in a numeric range, or
 * (for an unresolved set) between star_lo and star_hi, which every value of
 * "*" covers. Resolve first to get exact answers. O(log count). */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t value);

/* Number of values in the numeric ranges (resolve first: unresolved "*"
 * terms are not counted). */
uint64_t imap_seqset_count(const struct imap_seqset *set);

/* Appends the compact form ("1:3,5,9:*") to out; an empty set appends
 * nothing. An unresolved "*" part is written as "lo:*,hi:*" (or "lo:*" or
 * "*"). Returns -1 when out of memory (out may then hold a partial write). */
int imap_seqset_write(struct buf *out, const struct imap_seqset *set);

/* Builder (APPENDUID / COPYUID UID sets, search results): adds value or the
 * range lo:hi (given in either order) and keeps the set normalised.
 * Appending ascending values is amortised O(1). Returns -1 for value 0 or
 * out of memory (set unchanged). */
int imap_seqset_add(struct imap_seqset *set, uint32_t value);
int imap_seqset_add_range(struct imap_seqset *set, uint32_t lo, uint32_t hi);

#endif
