/*
 * preview: the text of FETCH PREVIEW (RFC 8970), a short plain-text extract
 * of what a reader sees first in a message.
 *
 * The choices the RFC leaves open follow Dovecot 2.3:
 *  - The source is the first leaf part whose type is text (or that has
 *    no Content-Type) in depth-first order, attachments included; parts
 *    inside a message/rfc822 are not looked at. No such part: "".
 *  - Its body is transfer-decoded and converted to UTF-8 (mime-decode.h);
 *    bytes that are not valid UTF-8 become U+FFFD (one per run).
 *  - text/html: tags are dropped (block-level ones separate words), as are
 *    comments and the content of <script>, <style> and <blockquote>;
 *    character references (&amp; &#233; &#xE9; and a few names) are
 *    decoded, unknown names dropped.
 *  - text/plain (and any other text type): lines starting with '>' (quoted
 *    text) are dropped.
 *  - Runs of white space (SP, HT, CR, LF, VT, FF) become one space, leading
 *    and trailing ones are dropped; NUL and other control characters are
 *    dropped (Dovecot keeps them; they have no place in a one-line
 *    preview). NO-BREAK SPACE is kept as it is.
 *  - At most PREVIEW_MAX_CHARS Unicode characters, cut without an ellipsis.
 *
 * Only a bounded prefix of the source part is needed: PREVIEW_SOURCE_MAX
 * bytes of its body are always enough for the front-end to answer (the
 * back-end sends no more); a part cut there is "truncated", and an
 * incomplete sequence at the cut is dropped rather than shown as U+FFFD.
 *
 * Return conventions: int functions return 0, or -1 when out of memory
 * (out may then hold a partial result). Output is appended to out.
 */
#ifndef CPM_PREVIEW_H
#define CPM_PREVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "mime-parse.h"

#define PREVIEW_MAX_CHARS 200
#define PREVIEW_SOURCE_MAX (32u * 1024)

/* The index in tree->parts of the part the preview comes from; false when
 * the message has no text part. */
bool preview_choose_part(const struct mime_tree *tree, uint32_t *idx_r);

/* The preview of part idx of tree, from src[0 .. len): the first bytes of
 * that part's body (truncated: the body goes on after them). */
int preview_make(struct buf *out, const struct mime_tree *tree, uint32_t idx, const unsigned char *src, size_t len,
		 bool truncated);

/* The preview of text[0 .. len), already decoded to UTF-8 (html: text/html
 * markup). */
int preview_from_text(struct buf *out, const unsigned char *text, size_t len, bool html, bool truncated);

#endif
