/*
 * imap-quote: writing strings into IMAP responses (RFC 3501 section 4.3).
 *
 * Each writer appends to a struct buf (common/buf.h) the shortest safe IMAP
 * form of s[0 .. len) (s need not be NUL-terminated and may contain NULs):
 *  - atom:    every byte is an ATOM-CHAR and len > 0 (astring only);
 *  - quoted:  "..." when every byte is printable 7-bit (0x20 .. 0x7e) and
 *             len <= IMAP_QUOTE_MAX_QUOTED; '"' and '\' are escaped;
 *  - literal: "{len}\r\n" followed by the raw bytes, otherwise (8-bit data,
 *             CR, LF, other controls, long strings). RFC 3501 forbids NUL in
 *             literals: callers with binary data should use literal8 forms
 *             of their own (BINARY); these functions write what they get.
 *
 * Return conventions (like buf.h): 0 on success, -1 when memory cannot be
 * had or the size overflows; on -1 the buffer is unchanged (room for the
 * whole item is reserved before anything is written). s may be NULL only
 * when len is 0 (and for imap_write_nstring, where NULL means NIL).
 */
#ifndef CPM_IMAP_QUOTE_H
#define CPM_IMAP_QUOTE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Longest string written as a quoted string; longer ones become literals. */
#define IMAP_QUOTE_MAX_QUOTED 1024

/* True when s[0 .. len) is a non-empty RFC 3501 atom (ATOM-CHARs only: no
 * SP, CTL, 8-bit, or any of ( ) { % * " \ ]). */
bool imap_is_atom(const char *s, size_t len);

/* astring: atom, else quoted, else literal. */
int imap_write_astring(struct buf *b, const char *s, size_t len);
/* string: quoted, else literal (never an atom; "" is written as ""). */
int imap_write_quoted_or_literal(struct buf *b, const char *s, size_t len);
/* nstring: NIL when s is NULL, else like imap_write_quoted_or_literal. */
int imap_write_nstring(struct buf *b, const char *s, size_t len);
/* Always a literal: "{len}\r\n" + bytes. */
int imap_write_literal(struct buf *b, const char *s, size_t len);

#endif
