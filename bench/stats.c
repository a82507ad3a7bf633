/* stats: the latency histogram. See stats.h. */
#include "stats.h"

/* Bucket of v: values below STATS_SUB get one bucket each; above, the top
   bit picks the power and the next 5 bits the sub-bucket. */
static unsigned bucket_of(uint64_t v)
{
	if (v < STATS_SUB)
		return (unsigned)v;
	unsigned top = 63u - (unsigned)__builtin_clzll(v); /* >= 5 */
	unsigned sub = (unsigned)(v >> (top - 5)) & (STATS_SUB - 1);
	unsigned b = (top - 4) * STATS_SUB + sub;
	return b < STATS_POW * STATS_SUB ? b : STATS_POW * STATS_SUB - 1;
}

/* Upper bound of bucket b (the value reported for it). */
static uint64_t bucket_top(unsigned b)
{
	if (b < STATS_SUB)
		return b;
	unsigned top = b / STATS_SUB + 4;
	uint64_t sub = b % STATS_SUB;
	return ((STATS_SUB + sub + 1) << (top - 5)) - 1;
}

void stats_add(struct stats *s, uint64_t ns)
{
	s->count++;
	s->sum_ns += ns;
	if (ns > s->max_ns)
		s->max_ns = ns;
	s->buckets[bucket_of(ns)]++;
}

uint64_t stats_quantile(const struct stats *s, double q)
{
	if (s->count == 0)
		return 0;
	uint64_t want = (uint64_t)(q * (double)s->count + 0.5);
	if (want == 0)
		want = 1;
	uint64_t seen = 0;
	for (unsigned b = 0; b < STATS_POW * STATS_SUB; b++) {
		seen += s->buckets[b];
		if (seen >= want) {
			uint64_t v = bucket_top(b);
			return v < s->max_ns ? v : s->max_ns;
		}
	}
	return s->max_ns;
}
