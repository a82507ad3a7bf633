/*
 * mime-decode: the text of a MIME part as a reader sees it, for SEARCH —
 * the Content-Transfer-Encoding undone (base64, quoted-printable: the
 * decoders of mime-cte.h, which FETCH BINARY uses too) and the charset
 * converted to UTF-8 (glibc iconv).
 *
 * Never fails on bad input: non-base64 characters are skipped, broken
 * quoted-printable escapes are kept as written (mime-cte.h), and text in an unknown
 * charset (or that iconv rejects) is passed through unchanged. -1 only when
 * out of memory. Output is appended to out and bounded by max_out bytes.
 */
#ifndef CPM_MIME_DECODE_H
#define CPM_MIME_DECODE_H

#include <stddef.h>

#include "buf.h"

/* encoding: the Content-Transfer-Encoding value (NULL/"" = 7bit), charset:
 * the charset parameter (NULL = us-ascii). */
int mime_decode_text(struct buf *out, const unsigned char *body, size_t len, const char *encoding, size_t enc_len,
		     const char *charset, size_t cs_len, size_t max_out);

/* A header value with its RFC 2047 encoded words (=?charset?B|Q?text?=)
 * decoded to UTF-8; white space between adjacent encoded words is dropped,
 * everything else is copied as it is. */
int mime_decode_words(struct buf *out, const unsigned char *s, size_t len, size_t max_out);

#endif
