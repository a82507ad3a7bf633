/* u64map: linear-probing hash map, backward-shift deletion. See u64map.h. */
#include "u64map.h"

#include <stdlib.h>

static size_t slot_of(uint64_t key, size_t cap)
{
	/* splitmix64 finaliser: ids are often sequential. */
	key ^= key >> 30;
	key *= 0xbf58476d1ce4e5b9ULL;
	key ^= key >> 27;
	key *= 0x94d049bb133111ebULL;
	key ^= key >> 31;
	return (size_t)key & (cap - 1);
}

void u64map_init(struct u64map *m)
{
	m->keys = NULL;
	m->vals = NULL;
	m->cap = 0;
	m->count = 0;
}

void u64map_free(struct u64map *m)
{
	free(m->keys);
	free(m->vals);
	u64map_init(m);
}

static int grow(struct u64map *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 16;
	uint64_t *nk = calloc(ncap, sizeof(*nk));
	void **nv = calloc(ncap, sizeof(*nv));
	if (nk == NULL || nv == NULL) {
		free(nk);
		free(nv);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (m->keys[i] == 0)
			continue;
		size_t s = slot_of(m->keys[i], ncap);
		while (nk[s] != 0)
			s = (s + 1) & (ncap - 1);
		nk[s] = m->keys[i];
		nv[s] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = nk;
	m->vals = nv;
	m->cap = ncap;
	return 0;
}

int u64map_put(struct u64map *m, uint64_t key, void *val)
{
	if (key == 0)
		return -1;
	if ((m->count + 1) * 2 > m->cap && grow(m) < 0)
		return -1;
	size_t s = slot_of(key, m->cap);
	while (m->keys[s] != 0 && m->keys[s] != key)
		s = (s + 1) & (m->cap - 1);
	if (m->keys[s] == 0)
		m->count++;
	m->keys[s] = key;
	m->vals[s] = val;
	return 0;
}

void *u64map_get(const struct u64map *m, uint64_t key)
{
	if (m->cap == 0 || key == 0)
		return NULL;
	size_t s = slot_of(key, m->cap);
	while (m->keys[s] != 0) {
		if (m->keys[s] == key)
			return m->vals[s];
		s = (s + 1) & (m->cap - 1);
	}
	return NULL;
}

void *u64map_del(struct u64map *m, uint64_t key)
{
	if (m->cap == 0 || key == 0)
		return NULL;
	size_t mask = m->cap - 1;
	size_t s = slot_of(key, m->cap);
	while (m->keys[s] != key) {
		if (m->keys[s] == 0)
			return NULL;
		s = (s + 1) & mask;
	}
	void *val = m->vals[s];
	/* Backward shift: pull later members of the probe run into the hole. */
	size_t hole = s;
	size_t i = (s + 1) & mask;
	while (m->keys[i] != 0) {
		size_t home = slot_of(m->keys[i], m->cap);
		/* Move i into hole if its home is not in (hole, i] cyclically. */
		if (((i - home) & mask) >= ((i - hole) & mask)) {
			m->keys[hole] = m->keys[i];
			m->vals[hole] = m->vals[i];
			hole = i;
		}
		i = (i + 1) & mask;
	}
	m->keys[hole] = 0;
	m->vals[hole] = NULL;
	m->count--;
	return val;
}
