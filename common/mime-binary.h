/*
 * mime-binary: what FETCH BINARY[section] returns (RFC 3516): the bytes of
 * a part with its Content-Transfer-Encoding removed.
 *
 *  - A leaf part (not multipart, not message/rfc822) named by a non-empty
 *    path: its body decoded. base64 and quoted-printable are decoded
 *    (mime-decode.h: undecodable base64 groups dropped, broken "=" escapes
 *    kept); 7bit, 8bit, binary and no Content-Transfer-Encoding are the
 *    bytes as stored; any other encoding is MIME_BINARY_UNKNOWN_CTE.
 *  - The whole message (empty path) or a multipart / message/rfc822 part:
 *    the same bytes BODY[section] returns, with every leaf inside whose
 *    encoding is base64 or quoted-printable decoded and its
 *    Content-Transfer-Encoding field rewritten to "binary", so the result
 *    is still a valid MIME entity (as Dovecot answers). One leaf with an
 *    unknown encoding makes the whole section MIME_BINARY_UNKNOWN_CTE.
 *  - A path naming no part: empty (like BODY[section]).
 *
 * The result is never longer than the section's stored bytes (decoding only
 * shrinks, "binary" is shorter than "base64" and "quoted-printable"), so
 * memory is bounded by the message size.
 *
 * Return conventions: MIME_BINARY_OK (0), MIME_BINARY_NOMEM (-1) or
 * MIME_BINARY_UNKNOWN_CTE (-2); on failure out may hold a partial result
 * (the caller discards it). The tree must be the one parsed from msg.
 */
#ifndef CPM_MIME_BINARY_H
#define CPM_MIME_BINARY_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "mime-parse.h"

enum mime_binary_result {
	MIME_BINARY_OK = 0,
	MIME_BINARY_NOMEM = -1,
	MIME_BINARY_UNKNOWN_CTE = -2,
};

/* Appends the decoded section path[0 .. path_len) of msg[0 .. msg_len). */
int mime_binary_fetch(struct buf *out, const unsigned char *msg, size_t msg_len, const struct mime_tree *tree,
		      const uint32_t *path, size_t path_len);

#endif
