/*
 * shard-map: rendezvous hashing of users over shards. See shard-map.h.
 *
 * Why rendezvous hashing rather than a ring: no virtual nodes to tune, the
 * result needs no shared state beyond the list of ids, and the "only the
 * removed shard's users move" property holds exactly. The cost is one
 * SHA-256 per shard per lookup, which is nothing for the handful of shards a
 * cluster has (and front-ends cache the answer per session).
 *
 * SHA-256 is used not for secrecy but because it is specified, stable across
 * platforms and versions, and well mixed; the message digest is fetched once
 * per map so that lookups do not pay OpenSSL 3's implicit-fetch cost.
 */
#include "shard-map.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct shard_map {
	EVP_MD *md;
	size_t n;
	char **ids;
	size_t *id_lens;
};

static int weight_with(const EVP_MD *md, EVP_MD_CTX *ctx, const char *id, size_t id_len, const char *user,
		       size_t user_len, uint64_t *weight_r)
{
	static const unsigned char sep = 0;
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	if (EVP_DigestInit_ex(ctx, md, NULL) != 1 || EVP_DigestUpdate(ctx, id, id_len) != 1 ||
	    EVP_DigestUpdate(ctx, &sep, 1) != 1 || (user_len > 0 && EVP_DigestUpdate(ctx, user, user_len) != 1) ||
	    EVP_DigestFinal_ex(ctx, digest, &dlen) != 1 || dlen < 8)
		return -1;
	uint64_t w = 0;
	for (int i = 0; i < 8; i++)
		w = w << 8 | digest[i];
	*weight_r = w;
	return 0;
}

int shard_map_weight(const char *id, size_t id_len, const char *user, size_t user_len, uint64_t *weight_r)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return -1;
	int rc = weight_with(EVP_sha256(), ctx, id, id_len, user, user_len, weight_r);
	EVP_MD_CTX_free(ctx);
	return rc;
}

void shard_map_free(struct shard_map **map)
{
	struct shard_map *m = *map;
	if (m == NULL)
		return;
	if (m->ids != NULL) {
		for (size_t i = 0; i < m->n; i++)
			free(m->ids[i]);
	}
	free(m->ids);
	free(m->id_lens);
	EVP_MD_free(m->md);
	free(m);
	*map = NULL;
}

struct shard_map *shard_map_new(const char *const *ids, size_t n)
{
	if (ids == NULL || n == 0 || n > SHARD_MAP_MAX_SHARDS)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (ids[i] == NULL)
			return NULL;
		size_t len = strnlen(ids[i], SHARD_MAP_MAX_ID_LEN + 1);
		if (len == 0 || len > SHARD_MAP_MAX_ID_LEN)
			return NULL;
		/* n is small (bounded above), so the quadratic check is fine. */
		for (size_t j = 0; j < i; j++) {
			if (strcmp(ids[i], ids[j]) == 0)
				return NULL;
		}
	}
	struct shard_map *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->n = n;
	m->ids = calloc(n, sizeof(*m->ids));
	m->id_lens = calloc(n, sizeof(*m->id_lens));
	m->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (m->ids == NULL || m->id_lens == NULL || m->md == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		m->id_lens[i] = strlen(ids[i]);
		m->ids[i] = strdup(ids[i]);
		if (m->ids[i] == NULL)
			goto fail;
	}
	return m;
fail:
	shard_map_free(&m);
	return NULL;
}

size_t shard_map_pick(const struct shard_map *map, const char *user, size_t user_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return SHARD_MAP_NONE;
	size_t best = SHARD_MAP_NONE;
	uint64_t best_w = 0;
	for (size_t i = 0; i < map->n; i++) {
		uint64_t w;
		if (weight_with(map->md, ctx, map->ids[i], map->id_lens[i], user, user_len, &w) < 0) {
			best = SHARD_MAP_NONE;
			break;
		}
		/* Ties (2^-64 odds) go to the smaller id, never to list order. */
		if (best == SHARD_MAP_NONE || w > best_w || (w == best_w && strcmp(map->ids[i], map->ids[best]) < 0)) {
			best = i;
			best_w = w;
		}
	}
	EVP_MD_CTX_free(ctx);
	return best;
}

size_t shard_map_count(const struct shard_map *map)
{
	return map->n;
}

const char *shard_map_id(const struct shard_map *map, size_t index)
{
	return index < map->n ? map->ids[index] : NULL;
}
