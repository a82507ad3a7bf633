/*
 * blobmap: shared, persistent mappings of body files (blobmap.h).
 */
#include "blobmap.h"

#include "blobfile.h"
#include "u64map.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	unsigned char hash[32];
	const unsigned char *p; /* NULL for an empty file */
	size_t len;
	unsigned refs;
	uint64_t last_use;
	bool used;   /* the slot holds a mapping */
	bool dead;   /* forgotten while held: unmapped at the last release */
	bool cached; /* false: a reader's own mapping (no slot), freed on release */
};

struct blobmap {
	char *dir;
	pthread_mutex_t mu;
	struct entry *slots;
	unsigned max_entries, n_used;
	size_t max_bytes, bytes;
	uint64_t clock;
	struct u64map index; /* hash prefix → slot index + 1 */
};

static const unsigned char empty_body[1];

static uint64_t key_of(const unsigned char hash[32])
{
	uint64_t k;
	memcpy(&k, hash, sizeof(k));
	return k != 0 ? k : 1; /* u64map keys are non-zero */
}

struct blobmap *blobmap_new(const char *data_dir, unsigned max_entries, size_t max_bytes)
{
	struct blobmap *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->dir = strdup(data_dir);
	m->slots = max_entries > 0 ? calloc(max_entries, sizeof(*m->slots)) : NULL;
	if (m->dir == NULL || (max_entries > 0 && m->slots == NULL)) {
		free(m->dir);
		free(m->slots);
		free(m);
		return NULL;
	}
	m->max_entries = max_entries;
	m->max_bytes = max_bytes;
	pthread_mutex_init(&m->mu, NULL);
	u64map_init(&m->index);
	return m;
}

static void unmap(const struct entry *e)
{
	if (e->p != NULL)
		blobfile_unmap(e->p, e->len);
}

void blobmap_free(struct blobmap *m)
{
	if (m == NULL)
		return;
	for (unsigned i = 0; i < m->max_entries; i++)
		if (m->slots[i].used)
			unmap(&m->slots[i]);
	u64map_free(&m->index);
	pthread_mutex_destroy(&m->mu);
	free(m->slots);
	free(m->dir);
	free(m);
}

/* The live slot of hash, or NULL. Under mu. */
static struct entry *find(struct blobmap *m, const unsigned char hash[32])
{
	uintptr_t i = (uintptr_t)u64map_get(&m->index, key_of(hash));
	if (i == 0)
		return NULL;
	struct entry *e = &m->slots[i - 1];
	return e->used && !e->dead && memcmp(e->hash, hash, 32) == 0 ? e : NULL;
}

/* Frees slot e (no holder). Its mapping goes to *out for unmapping outside mu. Under mu. */
static void drop(struct blobmap *m, struct entry *e, struct entry *out)
{
	*out = *e;
	m->bytes -= e->len;
	m->n_used--;
	memset(e, 0, sizeof(*e));
}

/* Evicts the least recently used unheld slot into *out: false when every slot is held. Under mu. */
static bool evict_one(struct blobmap *m, struct entry *out)
{
	struct entry *lru = NULL;
	for (unsigned i = 0; i < m->max_entries; i++) {
		struct entry *e = &m->slots[i];
		if (e->used && e->refs == 0 && (lru == NULL || e->last_use < lru->last_use))
			lru = e;
	}
	if (lru == NULL)
		return false;
	/* (the index may name another slot: two hashes with one 8-byte prefix) */
	if ((uintptr_t)u64map_get(&m->index, key_of(lru->hash)) == (uintptr_t)(lru - m->slots + 1))
		u64map_del(&m->index, key_of(lru->hash));
	drop(m, lru, out);
	return true;
}

static struct entry *private_hold(const unsigned char hash[32], const unsigned char *p, size_t len)
{
	struct entry *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	memcpy(e->hash, hash, 32);
	e->p = p;
	e->len = len;
	e->refs = 1;
	return e;
}

int blobmap_get(struct blobmap *m, const unsigned char hash[32], const unsigned char **p_r, size_t *len_r,
		void **hold_r)
{
	pthread_mutex_lock(&m->mu);
	struct entry *e = find(m, hash);
	if (e != NULL) {
		e->refs++;
		e->last_use = ++m->clock;
		pthread_mutex_unlock(&m->mu);
		*p_r = e->p != NULL ? e->p : empty_body;
		*len_r = e->len;
		*hold_r = e;
		return 0;
	}
	pthread_mutex_unlock(&m->mu);

	const unsigned char *p;
	size_t len;
	if (blobfile_map(m->dir, hash, &p, &len) < 0)
		return -1;

	/* Room for it; what is evicted is unmapped after the lock. */
	enum { EVICT_BATCH = 8 };
	struct entry evicted[EVICT_BATCH];
	unsigned n_evicted = 0;
	struct entry *slot = NULL;
	pthread_mutex_lock(&m->mu);
	e = find(m, hash); /* another reader mapped it meanwhile */
	if (e != NULL) {
		e->refs++;
		e->last_use = ++m->clock;
	} else if (len <= m->max_bytes) {
		while ((m->n_used >= m->max_entries || m->bytes + len > m->max_bytes) && n_evicted < EVICT_BATCH &&
		       evict_one(m, &evicted[n_evicted]))
			n_evicted++;
		if (m->n_used < m->max_entries && m->bytes + len <= m->max_bytes) {
			for (unsigned i = 0; i < m->max_entries && slot == NULL; i++)
				if (!m->slots[i].used)
					slot = &m->slots[i];
			if (slot != NULL &&
			    u64map_put(&m->index, key_of(hash), (void *)(uintptr_t)(slot - m->slots + 1)) < 0)
				slot = NULL;
			if (slot != NULL) {
				memcpy(slot->hash, hash, 32);
				slot->p = p;
				slot->len = len;
				slot->refs = 1;
				slot->last_use = ++m->clock;
				slot->used = true;
				slot->cached = true;
				m->n_used++;
				m->bytes += len;
			}
		}
	}
	pthread_mutex_unlock(&m->mu);
	for (unsigned i = 0; i < n_evicted; i++)
		unmap(&evicted[i]);

	if (e != NULL) { /* found after all: ours is not needed */
		if (p != NULL)
			blobfile_unmap(p, len);
		*p_r = e->p != NULL ? e->p : empty_body;
		*len_r = e->len;
		*hold_r = e;
		return 0;
	}
	if (slot == NULL && (slot = private_hold(hash, p, len)) == NULL) {
		if (p != NULL)
			blobfile_unmap(p, len);
		errno = ENOMEM;
		return -1;
	}
	*p_r = p != NULL ? p : empty_body;
	*len_r = len;
	*hold_r = slot;
	return 0;
}

void blobmap_release(struct blobmap *m, void *hold)
{
	struct entry *e = hold;
	if (e == NULL)
		return;
	if (!e->cached) {
		unmap(e);
		free(e);
		return;
	}
	struct entry gone = {0};
	bool unmap_it = false;
	pthread_mutex_lock(&m->mu);
	if (e->refs > 0 && --e->refs == 0 && e->dead) {
		drop(m, e, &gone);
		unmap_it = true;
	}
	pthread_mutex_unlock(&m->mu);
	if (unmap_it)
		unmap(&gone);
}

void blobmap_forget(struct blobmap *m, const unsigned char hash[32])
{
	struct entry gone = {0};
	bool unmap_it = false;
	pthread_mutex_lock(&m->mu);
	struct entry *e = find(m, hash);
	if (e != NULL) {
		u64map_del(&m->index, key_of(hash));
		if (e->refs == 0) {
			drop(m, e, &gone);
			unmap_it = true;
		} else {
			e->dead = true;
		}
	}
	pthread_mutex_unlock(&m->mu);
	if (unmap_it)
		unmap(&gone);
}

void blobmap_stats(struct blobmap *m, unsigned *entries_r, size_t *bytes_r)
{
	pthread_mutex_lock(&m->mu);
	*entries_r = m->n_used;
	*bytes_r = m->bytes;
	pthread_mutex_unlock(&m->mu);
}
