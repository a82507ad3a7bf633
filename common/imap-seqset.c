/*
 * imap-seqset: sequence sets. See imap-seqset.h for the contract.
 *
 * Design: the numeric part is a sorted array of disjoint, non-adjacent
 * ranges, so membership is a binary search and the compact written form
 * falls out directly. Parsing collects every numeric term, sorts once and
 * merges in one pass (O(n log n) even for hostile, unsorted input), instead of
 * inserting term by term.
 *
 * "*" cannot be stored as a number: 4294967295 is itself a valid number, and
 * "5:*" means 3:5 when the mailbox holds three messages. Terms mentioning "*"
 * are therefore folded into (star_lo, star_hi): n:* covers everything between
 * n and "*", so the union of several n:* is the hull of {min n, max n, *}.
 * imap_seqset_resolve turns that hull into an ordinary range.
 */
#include "imap-seqset.h"

#include <stdlib.h>
#include <string.h>

void imap_seqset_init(struct imap_seqset *set)
{
	memset(set, 0, sizeof(*set));
}

void imap_seqset_free(struct imap_seqset *set)
{
	free(set->ranges);
	imap_seqset_init(set);
}

/* Makes room for `extra` more ranges. */
static int seqset_reserve(struct imap_seqset *set, size_t extra)
{
	if (extra > SIZE_MAX / sizeof(struct imap_seq_range) - set->count)
		return -1;
	size_t need = set->count + extra;
	if (need <= set->cap)
		return 0;
	size_t cap = set->cap < 8 ? 8 : set->cap;
	while (cap < need)
		cap = cap > SIZE_MAX / sizeof(struct imap_seq_range) / 2 ? need : cap * 2;
	struct imap_seq_range *p = realloc(set->ranges, cap * sizeof(*p));
	if (p == NULL)
		return -1;
	set->ranges = p;
	set->cap = cap;
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct imap_seq_range *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

/* Sorts and merges overlapping or adjacent ranges in place. */
static void seqset_normalise(struct imap_seqset *set)
{
	if (set->count < 2)
		return;
	qsort(set->ranges, set->count, sizeof(set->ranges[0]), range_cmp);
	size_t out = 0;
	for (size_t i = 1; i < set->count; i++) {
		struct imap_seq_range *cur = &set->ranges[out];
		const struct imap_seq_range *next = &set->ranges[i];
		if ((uint64_t)next->lo <= (uint64_t)cur->hi + 1) {
			if (next->hi > cur->hi)
				cur->hi = next->hi;
		} else {
			set->ranges[++out] = *next;
		}
	}
	set->count = out + 1;
}

/* Parses an nz-number or '*' at s[*pos]; '*' gives 0. */
static int parse_seq_number(const char *s, size_t len, size_t *pos, uint32_t *n_r)
{
	size_t i = *pos;
	if (i >= len)
		return -1;
	if (s[i] == '*') {
		*n_r = 0;
		*pos = i + 1;
		return 0;
	}
	if (s[i] < '1' || s[i] > '9')
		return -1;
	uint64_t n = 0;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		n = n * 10 + (uint64_t)(s[i] - '0');
		if (n > UINT32_MAX)
			return -1;
		i++;
	}
	*n_r = (uint32_t)n;
	*pos = i;
	return 0;
}

static void note_star(struct imap_seqset *set, uint32_t n)
{
	set->star = true;
	if (n == 0)
		return;
	if (set->star_lo == 0 || n < set->star_lo)
		set->star_lo = n;
	if (n > set->star_hi)
		set->star_hi = n;
}

int imap_seqset_parse(const char *s, size_t len, struct imap_seqset *set_r)
{
	imap_seqset_init(set_r);
	size_t pos = 0, terms = 0;
	for (;;) {
		if (++terms > IMAP_SEQSET_MAX_PARSE_RANGES)
			goto fail;
		uint32_t a, b;
		if (parse_seq_number(s, len, &pos, &a) < 0)
			goto fail;
		b = a;
		if (pos < len && s[pos] == ':') {
			pos++;
			if (parse_seq_number(s, len, &pos, &b) < 0)
				goto fail;
		}
		if (a == 0 || b == 0) {
			note_star(set_r, a == 0 ? b : a);
		} else {
			if (seqset_reserve(set_r, 1) < 0)
				goto fail;
			struct imap_seq_range *r = &set_r->ranges[set_r->count++];
			r->lo = a < b ? a : b;
			r->hi = a < b ? b : a;
		}
		if (pos == len)
			break;
		if (s[pos] != ',')
			goto fail;
		pos++;
	}
	seqset_normalise(set_r);
	return 0;
fail:
	imap_seqset_free(set_r);
	return -1;
}

int imap_seqset_add_range(struct imap_seqset *set, uint32_t lo, uint32_t hi)
{
	if (lo > hi) {
		uint32_t t = lo;
		lo = hi;
		hi = t;
	}
	if (lo == 0)
		return -1;
	size_t n = set->count;
	/* Fast path: strictly after the last range (ascending builders). */
	if (n == 0 || (uint64_t)lo > (uint64_t)set->ranges[n - 1].hi + 1) {
		if (seqset_reserve(set, 1) < 0)
			return -1;
		set->ranges[n].lo = lo;
		set->ranges[n].hi = hi;
		set->count = n + 1;
		return 0;
	}
	/* First range that ends at or after lo - 1, i.e. could touch [lo, hi]. */
	size_t a = 0, b = n;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if ((uint64_t)set->ranges[mid].hi + 1 < lo)
			a = mid + 1;
		else
			b = mid;
	}
	size_t first = a, end = a;
	while (end < n && (uint64_t)set->ranges[end].lo <= (uint64_t)hi + 1)
		end++;
	if (end == first) {
		/* Touches nothing: insert before ranges[first]. */
		if (seqset_reserve(set, 1) < 0)
			return -1;
		memmove(&set->ranges[first + 1], &set->ranges[first], (n - first) * sizeof(set->ranges[0]));
		set->ranges[first].lo = lo;
		set->ranges[first].hi = hi;
		set->count = n + 1;
		return 0;
	}
	struct imap_seq_range *r = &set->ranges[first];
	if (lo < r->lo)
		r->lo = lo;
	r->hi = set->ranges[end - 1].hi > hi ? set->ranges[end - 1].hi : hi;
	if (end - first > 1) {
		memmove(&set->ranges[first + 1], &set->ranges[end], (n - end) * sizeof(set->ranges[0]));
		set->count = n - (end - first - 1);
	}
	return 0;
}

int imap_seqset_add(struct imap_seqset *set, uint32_t value)
{
	return imap_seqset_add_range(set, value, value);
}

int imap_seqset_resolve(struct imap_seqset *set, uint32_t star_value)
{
	if (!set->star)
		return 0;
	if (star_value != 0) {
		uint32_t lo = star_value, hi = star_value;
		if (set->star_lo != 0) {
			if (set->star_lo < lo)
				lo = set->star_lo;
			if (set->star_hi > hi)
				hi = set->star_hi;
		}
		if (imap_seqset_add_range(set, lo, hi) < 0)
			return -1;
	}
	set->star = false;
	set->star_lo = 0;
	set->star_hi = 0;
	return 0;
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t value)
{
	if (set->star && set->star_lo != 0 && value >= set->star_lo && value <= set->star_hi)
		return true;
	size_t a = 0, b = set->count;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		const struct imap_seq_range *r = &set->ranges[mid];
		if (value < r->lo)
			b = mid;
		else if (value > r->hi)
			a = mid + 1;
		else
			return true;
	}
	return false;
}

uint64_t imap_seqset_count(const struct imap_seqset *set)
{
	uint64_t total = 0;
	for (size_t i = 0; i < set->count; i++)
		total += (uint64_t)set->ranges[i].hi - set->ranges[i].lo + 1;
	return total;
}

int imap_seqset_write(struct buf *out, const struct imap_seqset *set)
{
	for (size_t i = 0; i < set->count; i++) {
		const struct imap_seq_range *r = &set->ranges[i];
		const char *sep = i > 0 ? "," : "";
		int rc = r->lo == r->hi ? buf_printf(out, "%s%u", sep, (unsigned)r->lo)
					: buf_printf(out, "%s%u:%u", sep, (unsigned)r->lo, (unsigned)r->hi);
		if (rc < 0)
			return -1;
	}
	if (!set->star)
		return 0;
	const char *sep = set->count > 0 ? "," : "";
	if (set->star_lo == 0)
		return buf_printf(out, "%s*", sep);
	if (set->star_lo == set->star_hi)
		return buf_printf(out, "%s%u:*", sep, (unsigned)set->star_lo);
	return buf_printf(out, "%s%u:*,%u:*", sep, (unsigned)set->star_lo, (unsigned)set->star_hi);
}
