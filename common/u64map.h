/*
 * u64map: open-addressing hash map from a non-zero uint64 key to a pointer.
 *
 * Used for in-flight RPC calls (by call id) and the back-end's dedupe table.
 * Keys must be non-zero (0 marks an empty slot). The map does not own the
 * values. Grows at 50% load and shrinks never; deletion uses backward-shift
 * (no tombstones), so lookups stay short under churn.
 * Functions that grow return 0 / -1 (out of memory, map unchanged).
 */
#ifndef CPM_U64MAP_H
#define CPM_U64MAP_H

#include <stddef.h>
#include <stdint.h>

struct u64map {
	uint64_t *keys;
	void **vals;
	size_t cap; /* power of two, or 0 */
	size_t count;
};

void u64map_init(struct u64map *m);
void u64map_free(struct u64map *m);
/* Inserts or replaces. */
int u64map_put(struct u64map *m, uint64_t key, void *val);
void *u64map_get(const struct u64map *m, uint64_t key);
/* Removes and returns the value (NULL if absent). */
void *u64map_del(struct u64map *m, uint64_t key);

#endif
