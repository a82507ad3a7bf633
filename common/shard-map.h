/*
 * shard-map: which back-end shard owns a user, by rendezvous (highest random
 * weight) hashing of the user name over the shard ids of the cluster config.
 *
 *   weight(shard, user) = first 8 bytes, big-endian, of
 *                         SHA-256(shard_id || 0x00 || user)
 *   owner(user)         = the shard with the highest weight
 *                         (equal weights: the byte-wise smaller id wins)
 *
 * Properties the cluster relies on:
 *  - The answer depends only on the set of ids and the user bytes: the same
 *    in every process, on every host, whatever order the ids are listed in.
 *  - Adding or removing a shard moves only the users that land on, or lived
 *    on, that shard; everybody else stays where they are.
 *  - The user name is hashed as given: callers pass the canonical form
 *    (whatever the login code normalises to), or the same user could land on
 *    two shards.
 *
 * Ownership: shard_map_new copies the ids; the caller keeps its array.
 * shard_map_free(&map) frees and sets map to NULL (NULL is fine).
 * A map is immutable once built, so shard_map_pick may be called from
 * several threads at once.
 */
#ifndef CPM_SHARD_MAP_H
#define CPM_SHARD_MAP_H

#include <stddef.h>
#include <stdint.h>

#define SHARD_MAP_MAX_SHARDS 4096
#define SHARD_MAP_MAX_ID_LEN 255
/* Returned by shard_map_pick when hashing fails (OpenSSL out of memory). */
#define SHARD_MAP_NONE ((size_t)-1)

struct shard_map;

/* Returns NULL when n is 0 or above SHARD_MAP_MAX_SHARDS, an id is NULL,
 * empty, longer than SHARD_MAP_MAX_ID_LEN or repeated, or out of memory. */
struct shard_map *shard_map_new(const char *const *ids, size_t n);
void shard_map_free(struct shard_map **map);

/* The index, into the ids given to shard_map_new, of the shard owning user
 * (user_len bytes, need not be NUL-terminated). SHARD_MAP_NONE on failure. */
size_t shard_map_pick(const struct shard_map *map, const char *user, size_t user_len);

/* The weight defined above (exposed for tests and diagnostics). Returns 0
 * and sets *weight_r, or -1 when hashing fails. */
int shard_map_weight(const char *id, size_t id_len, const char *user, size_t user_len, uint64_t *weight_r);

size_t shard_map_count(const struct shard_map *map);
/* The map's copy of ids[index] (NUL-terminated), or NULL if out of range. */
const char *shard_map_id(const struct shard_map *map, size_t index);

#endif
