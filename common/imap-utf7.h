/*
 * imap-utf7: modified UTF-7 (RFC 3501 section 5.1.3), the mailbox-name
 * encoding of IMAP4rev1, to and from UTF-8.
 *
 *   "~peter/mail/&U,BTFw-/&ZeVnLIqe-"  <=>  "~peter/mail/台北/日本語"
 *
 * Printable US-ASCII (0x20..0x7e) other than '&' stands for itself, '&' is
 * written "&-", everything else is UTF-16BE in base64 with ',' instead of
 * '/', no '=' padding, between '&' and '-'.
 *
 * Contract:
 *  - Both converters append to out and return 0, or return -1 and truncate
 *    out back to its length on entry (so out never holds a half conversion).
 *    -1 means invalid input or out of memory.
 *  - imap_utf8_to_mutf7 accepts only well-formed UTF-8: no overlong forms,
 *    no surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no U+0000.
 *  - imap_mutf7_to_utf8 accepts only the canonical encoding, so that every
 *    mailbox name has exactly one spelling: bytes outside 0x20..0x7e,
 *    a '&' run that is not closed by '-', characters outside the modified
 *    base64 alphabet, leftover bits that are non-zero or amount to a whole
 *    base64 character, a run that decodes to an incomplete UTF-16 unit,
 *    unpaired surrogates, U+0000, a printable ASCII character inside a run
 *    (it should have been literal), and two runs back to back ("&AOQ-&AOQ-",
 *    which must be one run) are all rejected.
 *  - imap_mutf7_is_valid is imap_mutf7_to_utf8 without output.
 *  - The output is at most 5 times as long as the input (one control
 *    character becomes "&AAE-"); callers bound the input length.
 */
#ifndef CPM_IMAP_UTF7_H
#define CPM_IMAP_UTF7_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

int imap_utf8_to_mutf7(const char *in, size_t len, struct buf *out);
int imap_mutf7_to_utf8(const char *in, size_t len, struct buf *out);
bool imap_mutf7_is_valid(const char *in, size_t len);

#endif
