/*
 * codec: big-endian integers and a bounded reader / sticky writer for the
 * back-end's LMDB keys and fixed-layout records (header-only).
 *
 * Keys are big-endian so that LMDB's byte order is numeric order: a cursor
 * range over (folder_id, uid) walks UIDs ascending.
 *
 * struct rd reads from a value that LMDB owns; every read is bounds-checked
 * and a short value sets rd.bad (further reads return zeros), so a corrupt
 * record is reported, never over-read. struct wr appends to a buf; the first
 * failed allocation sets wr.fail and later writes are ignored, so a sequence
 * of writes is checked once at the end.
 */
#ifndef CPM_BACKEND_CODEC_H
#define CPM_BACKEND_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "kwlist.h"

static inline void be32_put(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static inline void be64_put(unsigned char *p, uint64_t v)
{
	be32_put(p, (uint32_t)(v >> 32));
	be32_put(p + 4, (uint32_t)v);
}

static inline uint32_t be32_get(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t be64_get(const unsigned char *p)
{
	return (uint64_t)be32_get(p) << 32 | be32_get(p + 4);
}

/* ---- reader ------------------------------------------------------------- */

struct rd {
	const unsigned char *p;
	size_t left;
	bool bad;   /* the value was shorter than its layout says */
	bool nomem; /* an allocation failed */
};

static inline void rd_init(struct rd *r, const void *p, size_t n)
{
	r->p = p;
	r->left = n;
	r->bad = false;
	r->nomem = false;
}

/* Pointer to the next n bytes (inside the value), or NULL when short. */
static inline const unsigned char *rd_take(struct rd *r, size_t n)
{
	if (r->bad || n > r->left) {
		r->bad = true;
		return NULL;
	}
	const unsigned char *p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

static inline uint8_t rd_u8(struct rd *r)
{
	const unsigned char *p = rd_take(r, 1);
	return p ? p[0] : 0;
}

static inline uint16_t rd_u16(struct rd *r)
{
	const unsigned char *p = rd_take(r, 2);
	return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

static inline uint32_t rd_u32(struct rd *r)
{
	const unsigned char *p = rd_take(r, 4);
	return p ? be32_get(p) : 0;
}

static inline uint64_t rd_u64(struct rd *r)
{
	const unsigned char *p = rd_take(r, 8);
	return p ? be64_get(p) : 0;
}

/* A u16-length string as a malloc'd C string (NULL on error: bad or nomem set). */
static inline char *rd_str16(struct rd *r)
{
	uint16_t n = rd_u16(r);
	const unsigned char *p = rd_take(r, n);
	if (p == NULL || memchr(p, 0, n) != NULL) {
		r->bad = true;
		return NULL;
	}
	char *s = malloc((size_t)n + 1);
	if (s == NULL) {
		r->nomem = true;
		return NULL;
	}
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* A keyword list: u16 count, then (u8 length, bytes) each. With skip, only
 * steps over it. */
static inline void rd_kwlist(struct rd *r, struct kwlist *l, bool skip)
{
	uint16_t n = rd_u16(r);
	for (uint16_t i = 0; i < n && !r->bad && !r->nomem; i++) {
		uint8_t len = rd_u8(r);
		const unsigned char *p = rd_take(r, len);
		if (p == NULL || skip)
			continue;
		char tmp[256];
		memcpy(tmp, p, len);
		tmp[len] = '\0';
		if (kwlist_add(l, tmp) < 0)
			r->nomem = true;
	}
}

/* ---- writer ------------------------------------------------------------- */

struct wr {
	struct buf b;
	bool fail;
};

static inline void wr_bytes(struct wr *w, const void *p, size_t n)
{
	if (!w->fail && buf_append(&w->b, p, n) < 0)
		w->fail = true;
}

static inline void wr_u8(struct wr *w, uint8_t v)
{
	wr_bytes(w, &v, 1);
}

static inline void wr_u16(struct wr *w, uint16_t v)
{
	unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};
	wr_bytes(w, b, 2);
}

static inline void wr_u32(struct wr *w, uint32_t v)
{
	unsigned char b[4];
	be32_put(b, v);
	wr_bytes(w, b, 4);
}

static inline void wr_u64(struct wr *w, uint64_t v)
{
	unsigned char b[8];
	be64_put(b, v);
	wr_bytes(w, b, 8);
}

/* Strings longer than 65535 bytes cannot be encoded: fail. */
static inline void wr_str16(struct wr *w, const char *s)
{
	size_t n = strlen(s);
	if (n > UINT16_MAX) {
		w->fail = true;
		return;
	}
	wr_u16(w, (uint16_t)n);
	wr_bytes(w, s, n);
}

static inline void wr_kwlist(struct wr *w, const struct kwlist *l)
{
	if (l->n > UINT16_MAX) {
		w->fail = true;
		return;
	}
	wr_u16(w, (uint16_t)l->n);
	for (size_t i = 0; i < l->n; i++) {
		size_t n = strlen(l->v[i]);
		if (n > 255) {
			w->fail = true;
			return;
		}
		wr_u8(w, (uint8_t)n);
		wr_bytes(w, l->v[i], n);
	}
}

#endif
