/*
 * blobmap: the process's read-only mappings of body files, shared by all
 * threads and kept between reads.
 *
 * SEARCH, SORT and PREVIEW read whole bodies; a body in a file
 * (blobfile.h) is mapped rather than copied, so only the pages a scan
 * touches are read. Mapping and unmapping a file for every message of every
 * SEARCH takes the process's address-space lock for writing each time, and
 * every thread's page faults (LMDB's map included) wait behind it: measured
 * as a quarter of the back-end's context switches and 40% of its SEARCH
 * throughput. So mappings stay: a file is mapped once, found again by its
 * hash, and unmapped only when the cache is over its bounds (least recently
 * used first, never one a reader holds) or the file is removed.
 *
 * Bounds: at most `max_entries` files and `max_bytes` of address space
 * mapped (address space, not memory: pages are the page cache's, read when
 * touched and reclaimable). A file that does not fit while every entry is
 * held is mapped for its reader alone and unmapped on release.
 *
 * Content addressing makes a mapping never stale: a file's bytes are those
 * of its hash. blobmap_forget (the file was removed) unmaps at once, or as
 * soon as the last holder releases, so removed files free their disk space.
 *
 * Thread-safe (one mutex; mmap/munmap are done outside it).
 */
#ifndef CPM_BACKEND_BLOBMAP_H
#define CPM_BACKEND_BLOBMAP_H

#include <stddef.h>

struct blobmap;

struct blobmap *blobmap_new(const char *data_dir, unsigned max_entries, size_t max_bytes);
/* Unmaps everything (no holder may remain). */
void blobmap_free(struct blobmap *m);

/* The bytes of the file of hash, held until blobmap_release(m, *hold_r):
 * 0, or -1 with errno (the file cannot be opened or mapped). An empty file
 * gives len 0 and a non-NULL p. */
int blobmap_get(struct blobmap *m, const unsigned char hash[32], const unsigned char **p_r, size_t *len_r,
		void **hold_r);
void blobmap_release(struct blobmap *m, void *hold);

/* The file of hash is gone: drop its mapping (now, or at its last release). */
void blobmap_forget(struct blobmap *m, const unsigned char hash[32]);

/* Files and bytes mapped now (for tests and metrics). */
void blobmap_stats(struct blobmap *m, unsigned *entries_r, size_t *bytes_r);

#endif
