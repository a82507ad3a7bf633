/* clock: wall-clock and monotonic milliseconds. */
#ifndef CPM_CLOCK_H
#define CPM_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Unix time in milliseconds (CLOCK_REALTIME): deadlines that cross processes. */
static inline uint64_t clock_unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Monotonic milliseconds: durations inside one process. */
static inline uint64_t clock_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif
