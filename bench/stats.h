/*
 * stats: latency histogram of one scenario run (log-linear buckets: 32 per
 * power of two, so every reported percentile is within about 3% of the true
 * sample; min and max are exact). Fixed size, no allocation; zero it to
 * start. Values are nanoseconds.
 */
#ifndef CPM_BENCH_STATS_H
#define CPM_BENCH_STATS_H

#include <stdint.h>

#define STATS_SUB 32
#define STATS_POW 48

struct stats {
	uint64_t count;
	uint64_t max_ns;
	uint64_t sum_ns;
	uint64_t buckets[STATS_POW * STATS_SUB];
};

void stats_add(struct stats *s, uint64_t ns);
/* The q-quantile (0 < q <= 1) in nanoseconds, 0 when empty. */
uint64_t stats_quantile(const struct stats *s, double q);

#endif
