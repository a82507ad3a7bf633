/*
 * imap-bodystructure: FETCH BODY and BODYSTRUCTURE (RFC 3501 7.4.2) written
 * from a stored struct mime_tree (mime-parse.h); the message bytes are not
 * needed.
 *
 * Output, as Dovecot writes it (the answers IMAP clients know):
 *  - leaf:      (type subtype params id description encoding size
 *                [lines] | [envelope body lines]  [md5 disposition language location])
 *    type/subtype as sent; "text" "plain" without Content-Type; message/rfc822
 *    parts always as "message" "rfc822". A text part always shows a
 *    charset ("charset" "us-ascii" is added when the part names none).
 *    encoding defaults to "7bit". lines follows text parts; message/rfc822
 *    parts carry the embedded message's ENVELOPE, its body and the line
 *    count of the rfc822 body.
 *  - multipart: (child child ... subtype [params disposition language location])
 *    without space between children; a multipart without children (no or
 *    unmatched boundary, depth limit) shows one empty text/plain child.
 *  - A single-part message whose fields all equal the defaults (text/plain,
 *    at most charset=us-ascii, 7bit, nothing else) is written with the
 *    default strings whatever their case in the header (Dovecot does so).
 *  - Extension data (the bracketed parts) only when extended (BODYSTRUCTURE).
 *  - size is the body's byte count as stored (bare LFs count one byte).
 *  - Strings are written with imap-quote.h (quoted when printable 7-bit,
 *    else a literal).
 *
 * Return conventions: 0 on success, -1 when memory cannot be had or part is
 * out of range (out may then hold a partial write).
 */
#ifndef CPM_IMAP_BODYSTRUCTURE_H
#define CPM_IMAP_BODYSTRUCTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "mime-parse.h"

/* Writes the BODY (extended == false) or BODYSTRUCTURE (extended == true)
 * of part (0 = the whole message) of tree. */
int imap_bodystructure_write(struct buf *out, const struct mime_tree *tree, uint32_t part, bool extended);

/* Writes the ENVELOPE of a message part (0 = the message; the child of a
 * message/rfc822 part); a part that is not a message gives an all-NIL
 * envelope. */
int imap_bodystructure_write_envelope(struct buf *out, const struct mime_tree *tree, uint32_t part);

#endif
