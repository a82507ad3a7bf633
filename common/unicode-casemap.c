/*
 * unicode-casemap: i;unicode-casemap (RFC 5051). See unicode-casemap.h.
 *
 * Folding works a chunk at a time: up to UCM_CHUNK characters are decoded
 * and titlecased (uc_totitle), and each run of valid characters is
 * normalised to NFKD (u32_normalize) into a buffer sized for the largest
 * decomposition (UCM_MAX_EXPANSION characters from one). A chunk ends
 * before a starter (combining class 0) once it is nearly full, so canonical
 * reordering never needs characters from two chunks (except after a run of
 * UCM_CHUNK combining marks, which no text has). ASCII runs skip the
 * normaliser: they are their own NFKD.
 *
 * Matching is Knuth-Morris-Pratt over the folded stream, so no window of
 * earlier chunks is kept.
 */
#include "unicode-casemap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

/* Longest NFKD decomposition of one character (U+FDFA gives 18). */
#define UCM_MAX_EXPANSION 18
/* Room kept at the end of a chunk to finish it at a starter. */
#define UCM_CHUNK_SLACK 64

struct folder {
	uint32_t tmp[UCM_CHUNK];
	uint32_t out[UCM_CHUNK * UCM_MAX_EXPANSION];
};

/* Decodes and titlecases the next chunk of s from *pos into f->tmp. */
static size_t decode_chunk(struct folder *f, const unsigned char *s, size_t len, size_t *pos, bool *ascii_r)
{
	size_t n = 0;
	bool ascii = true;
	while (*pos < len && n < UCM_CHUNK) {
		unsigned char b = s[*pos];
		uint32_t cp;
		size_t step = 1;
		bool starter = true;
		if (b < 0x80) {
			cp = b >= 'a' && b <= 'z' ? (uint32_t)(b - 'a' + 'A') : b;
		} else {
			ucs4_t c;
			int k = u8_mbtoucr(&c, s + *pos, len - *pos);
			ascii = false;
			if (k <= 0) {
				cp = UCM_INVALID_BASE + b;
			} else {
				cp = uc_totitle(c);
				step = (size_t)k;
				starter = uc_combining_class(c) == 0;
			}
		}
		if (starter && n >= UCM_CHUNK - UCM_CHUNK_SLACK)
			break;
		f->tmp[n++] = cp;
		*pos += step;
	}
	*ascii_r = ascii;
	return n;
}

/* NFKD of f->tmp[0 .. n) into f->out; the length, or -1 when out of memory. */
static ptrdiff_t normalize_chunk(struct folder *f, size_t n, bool ascii)
{
	if (ascii) {
		memcpy(f->out, f->tmp, n * sizeof(uint32_t));
		return (ptrdiff_t)n;
	}
	size_t o = 0, i = 0;
	const size_t cap = sizeof(f->out) / sizeof(f->out[0]);
	while (i < n) {
		if (f->tmp[i] >= UCM_INVALID_BASE || f->tmp[i] < 0x80) {
			f->out[o++] = f->tmp[i++];
			continue;
		}
		size_t j = i;
		while (j < n && f->tmp[j] < UCM_INVALID_BASE)
			j++;
		size_t got = cap - o;
		uint32_t *r = u32_normalize(UNINORM_NFKD, f->tmp + i, j - i, f->out + o, &got);
		if (r == NULL)
			return -1;
		if (r != f->out + o) {
			/* did not fit (cannot happen with UCM_MAX_EXPANSION) */
			bool fits = got <= cap - o;
			if (fits)
				memcpy(f->out + o, r, got * sizeof(uint32_t));
			free(r);
			if (!fits)
				return -1;
		}
		o += got;
		i = j;
	}
	return (ptrdiff_t)o;
}

int ucm_fold(const unsigned char *s, size_t len, uint32_t **cps_r, size_t *n_r)
{
	*cps_r = NULL;
	*n_r = 0;
	if (len > UCM_NEEDLE_MAX)
		return -1;
	struct folder *f = malloc(sizeof(*f));
	uint32_t *all = malloc((len * UCM_MAX_EXPANSION + 1) * sizeof(uint32_t));
	if (f == NULL || all == NULL) {
		free(f);
		free(all);
		return -1;
	}
	size_t pos = 0, total = 0;
	while (pos < len) {
		bool ascii;
		size_t n = decode_chunk(f, s, len, &pos, &ascii);
		ptrdiff_t o = normalize_chunk(f, n, ascii);
		if (o < 0) {
			free(f);
			free(all);
			return -1;
		}
		memcpy(all + total, f->out, (size_t)o * sizeof(uint32_t));
		total += (size_t)o;
	}
	free(f);
	*cps_r = all;
	*n_r = total;
	return 0;
}

/* The canonical form of an ASCII character: its titlecase (upper case). */
static uint32_t ascii_fold(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? (uint32_t)(c - 'a' + 'A') : c;
}

/* Eight bytes at p, in memory order (memcpy: no alignment needed). */
static uint64_t load8(const unsigned char *p)
{
	uint64_t w;
	memcpy(&w, p, sizeof(w));
	return w;
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Nonzero when some byte of w is zero (exact as a yes/no answer). */
static uint64_t has_zero(uint64_t w)
{
	return (w - ONES) & ~w & HIGHS;
}

/* Pure ASCII text folds to ASCII, character for character (titlecase is
 * upper case, NFKD leaves ASCII alone, and neither looks at neighbours),
 * so it can be matched without the Unicode machinery: the common case of
 * mail text, several times faster. A hit inside an ASCII stretch is a hit
 * whatever follows it. One pass: eight bytes at a time are skipped while
 * they hold neither a non-ASCII byte nor the needle's first character (in
 * either case). 1 / 0, or -1 when h holds non-ASCII before any hit (the
 * caller folds instead). */
static int ascii_contains(const uint32_t *needle, size_t nn, const unsigned char *h, size_t hl)
{
	for (size_t j = 0; j < nn; j++)
		if (needle[j] >= 0x80) {
			/* a folded needle with non-ASCII cannot occur in folded ASCII */
			for (size_t i = 0; i < hl; i++)
				if (h[i] >= 0x80)
					return -1;
			return 0;
		}
	unsigned char first = (unsigned char)needle[0];
	bool letter = first >= 'A' && first <= 'Z';
	/* letters: OR 0x20 maps both cases onto the lower one and no other byte */
	uint64_t mask = letter ? ONES * 0x20 : 0, want = ONES * (letter ? (unsigned char)(first | 0x20) : first);
	size_t i = 0;
	while (i < hl) {
		if (i + 8 <= hl) {
			uint64_t w = load8(h + i);
			if ((w & HIGHS) == 0 && has_zero((w | mask) ^ want) == 0) {
				i += 8;
				continue;
			}
		}
		size_t stop = i + 8 < hl ? i + 8 : hl;
		for (; i < stop; i++) {
			if (h[i] >= 0x80)
				return -1;
			if (ascii_fold(h[i]) != first || nn > hl - i)
				continue;
			size_t j = 1;
			while (j < nn && ascii_fold(h[i + j]) == needle[j])
				j++;
			if (j == nn)
				return 1;
		}
	}
	return 0;
}

int ucm_contains(const uint32_t *needle, size_t nn, const unsigned char *h, size_t hl)
{
	if (nn == 0)
		return 1;
	if (hl == 0)
		return 0;
	int fast = ascii_contains(needle, nn, h, hl);
	if (fast >= 0)
		return fast;
	size_t *fail = malloc(nn * sizeof(size_t));
	struct folder *f = malloc(sizeof(*f));
	if (fail == NULL || f == NULL) {
		free(fail);
		free(f);
		return -1;
	}
	/* fail[i]: length of the longest proper border of needle[0 .. i] */
	fail[0] = 0;
	for (size_t i = 1, k = 0; i < nn; i++) {
		while (k > 0 && needle[i] != needle[k])
			k = fail[k - 1];
		if (needle[i] == needle[k])
			k++;
		fail[i] = k;
	}
	int found = 0;
	size_t pos = 0, k = 0;
	while (pos < hl && !found) {
		bool ascii;
		size_t n = decode_chunk(f, h, hl, &pos, &ascii);
		ptrdiff_t o = normalize_chunk(f, n, ascii);
		if (o < 0) {
			found = -1;
			break;
		}
		for (ptrdiff_t i = 0; i < o; i++) {
			uint32_t c = f->out[i];
			while (k > 0 && c != needle[k])
				k = fail[k - 1];
			if (c == needle[k])
				k++;
			if (k == nn) {
				found = 1;
				break;
			}
		}
	}
	free(fail);
	free(f);
	return found;
}
