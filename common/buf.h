/*
 * buf: a growable byte buffer, the one dynamic string type of cpm-store.
 *
 * Contract:
 *  - A zeroed struct buf (or buf_init) is an empty buffer; buf_free releases it
 *    and leaves it empty and reusable.
 *  - The data is always followed by a NUL byte that is not counted in len
 *    (so b->data can be used as a C string when it holds no NULs); data is
 *    NULL only while cap == 0.
 *  - Every function that grows the buffer returns 0 on success and -1 when
 *    memory cannot be had (or the size would overflow); on failure the buffer
 *    is unchanged.
 *  - The buffer owns data; callers may steal it with buf_steal (then they free()).
 */
#ifndef CPM_BUF_H
#define CPM_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	unsigned char *data;
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
/* Empties the buffer, keeping its memory. */
void buf_reset(struct buf *b);
/* Makes room for extra more bytes (plus the NUL). */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_byte(struct buf *b, unsigned char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Drops the first n bytes (n > len drops all). */
void buf_consume(struct buf *b, size_t n);
/* Shortens to n bytes (no-op if n >= len). */
void buf_truncate(struct buf *b, size_t n);
/* Returns the data (NUL-terminated, never NULL) and leaves b empty; the caller frees it. */
unsigned char *buf_steal(struct buf *b, size_t *len_r);

#endif
