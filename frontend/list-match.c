/*
 * list-match: LIST wildcards as a bit-parallel NFA ("shift-and").
 *
 * After collapsing runs of wildcards, the pattern is a sequence of k tokens
 * (literal bytes, '*' or '%'). State i (0 <= i <= k) means "the first i
 * tokens have matched the name read so far"; the set of live states is a
 * bitset of k+1 bits. Reading byte c:
 *   - a literal token i equal to c moves state i to i+1,
 *   - a '*' token keeps state i alive, a '%' token does too unless c is the
 *     delimiter,
 * and after each step a wildcard token i lets state i reach i+1 for free
 * (the wildcard matched nothing more). Because runs were collapsed, one such
 * step is the whole closure. The name matches when state k is live at the end.
 *
 * Per byte value we precompute the bitset of tokens that are that literal,
 * so one step is a handful of word operations per 64 tokens.
 */
#include "list-match.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TOK_STAR 256
#define TOK_PCT 257
#define MAX_WORDS ((LIST_MATCH_MAX_PATTERN + 1 + 63) / 64)

struct list_match {
	char delim;
	size_t ntok;
	size_t words;
	uint64_t star[MAX_WORDS];
	uint64_t pct[MAX_WORDS];
	uint64_t wild[MAX_WORDS];
	uint64_t lit[256][MAX_WORDS]; /* lit[c]: tokens that are the literal byte c */
};

static void set_bit(uint64_t *set, size_t i)
{
	set[i / 64] |= (uint64_t)1 << (i % 64);
}

static bool get_bit(const uint64_t *set, size_t i)
{
	return (set[i / 64] >> (i % 64)) & 1u;
}

/* out = in << 1 over `words` words (bit i moves to bit i+1). out may alias in. */
static void shift1(uint64_t *out, const uint64_t *in, size_t words)
{
	for (size_t w = words; w-- > 0;) {
		uint64_t carry = w > 0 ? in[w - 1] >> 63 : 0;
		out[w] = (in[w] << 1) | carry;
	}
}

struct list_match *list_match_new(const char *pattern, size_t len, char delim)
{
	if (len > LIST_MATCH_MAX_PATTERN)
		return NULL;
	struct list_match *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->delim = delim;
	size_t k = 0;
	int prev = -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pattern[i];
		int tok = c == '*' ? TOK_STAR : c == '%' ? TOK_PCT : c;
		if (tok >= TOK_STAR && prev >= TOK_STAR) {
			/* "**", "%%", "%*", "*%": one wildcard; '*' wins. */
			if (tok == TOK_STAR && prev == TOK_PCT) {
				m->pct[(k - 1) / 64] &= ~((uint64_t)1 << ((k - 1) % 64));
				set_bit(m->star, k - 1);
				prev = TOK_STAR;
			}
			continue;
		}
		if (tok == TOK_STAR)
			set_bit(m->star, k);
		else if (tok == TOK_PCT)
			set_bit(m->pct, k);
		else
			set_bit(m->lit[c], k);
		prev = tok;
		k++;
	}
	m->ntok = k;
	m->words = (k + 1 + 63) / 64;
	for (size_t w = 0; w < m->words; w++)
		m->wild[w] = m->star[w] | m->pct[w];
	return m;
}

void list_match_free(struct list_match **m)
{
	if (m == NULL || *m == NULL)
		return;
	free(*m);
	*m = NULL;
}

static bool inbox_rooted(const char *name, size_t len, char delim)
{
	static const char inbox[] = "INBOX";
	if (len < 5)
		return false;
	for (size_t i = 0; i < 5; i++) {
		char c = name[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c != inbox[i])
			return false;
	}
	return len == 5 || name[5] == delim;
}

static unsigned char other_case(unsigned char c)
{
	if (c >= 'a' && c <= 'z')
		return (unsigned char)(c - 'a' + 'A');
	if (c >= 'A' && c <= 'Z')
		return (unsigned char)(c - 'A' + 'a');
	return c;
}

/* Lets every live state in front of a wildcard also stand behind it. */
static void closure(const struct list_match *m, uint64_t *cur)
{
	uint64_t t[MAX_WORDS];
	for (size_t w = 0; w < m->words; w++)
		t[w] = cur[w] & m->wild[w];
	shift1(t, t, m->words);
	for (size_t w = 0; w < m->words; w++)
		cur[w] |= t[w];
}

bool list_match_name(const struct list_match *m, const char *name, size_t len)
{
	if (m == NULL)
		return false;
	uint64_t cur[MAX_WORDS] = {0}, next[MAX_WORDS], t[MAX_WORDS];
	size_t words = m->words;
	bool ci = inbox_rooted(name, len, m->delim);

	cur[0] = 1;
	closure(m, cur);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		const uint64_t *lit = m->lit[c];
		const uint64_t *lit2 = ci && i < 5 ? m->lit[other_case(c)] : lit;
		bool not_delim = c != (unsigned char)m->delim;
		uint64_t live = 0;
		for (size_t w = 0; w < words; w++)
			t[w] = cur[w] & (lit[w] | lit2[w]);
		shift1(t, t, words);
		for (size_t w = 0; w < words; w++) {
			next[w] = t[w] | (cur[w] & m->star[w]) | (not_delim ? cur[w] & m->pct[w] : 0);
			live |= next[w];
		}
		if (live == 0)
			return false;
		closure(m, next);
		memcpy(cur, next, words * sizeof(uint64_t));
	}
	return get_bit(cur, m->ntok);
}
