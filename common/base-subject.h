/*
 * base-subject: the "base subject" of RFC 5256 section 2.1, the key that
 * SORT SUBJECT and both THREAD algorithms compare.
 *
 * From the raw Subject value (as it stands in the header, maybe folded):
 *  (1) RFC 2047 encoded words are decoded to UTF-8 (mime-decode.h), then
 *      every run of SP, HT, CR and LF becomes one SP;
 *  (2) subj-trailers ("(fwd)" and white space) are removed from the end,
 *      repeatedly;
 *  (3) subj-leaders (white space, or any number of "[blob]"s followed by
 *      "Re", "Fw" or "Fwd", optional white space, an optional "[blob]" and
 *      ":") are removed from the start;
 *  (4) a leading "[blob]" is removed when something is left after it;
 *  (5) (3) and (4) repeat while they remove anything;
 *  (6) a "[fwd:" ... "]" wrapper is removed and everything repeats from (2).
 * Keywords match case-insensitively (ASCII). The result keeps its case:
 * compare base subjects with i;ascii-casemap (base_subject_cmp).
 *
 * The message counts as a reply or forward (REFERENCES step 5) when a
 * "Re:"/"Fw:"/"Fwd:" leader, a "(fwd)" trailer or a "[fwd: ...]" wrapper was
 * removed.
 *
 * Bounds: at most BASE_SUBJECT_MAX_IN bytes of the value are looked at and
 * at most max_out bytes are appended; the work is linear in the input.
 * Return conventions: 0 on success, -1 when memory cannot be had (out may
 * then hold a partial result). Any byte sequence is accepted.
 */
#ifndef CPM_BASE_SUBJECT_H
#define CPM_BASE_SUBJECT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define BASE_SUBJECT_MAX_IN (64u << 10)

/* Appends the base subject of s[0 .. len) to out; *reply_r (may be NULL)
 * tells whether it was a reply or forward. */
int base_subject(struct buf *out, const unsigned char *s, size_t len, size_t max_out, bool *reply_r);

/* i;ascii-casemap comparison of a[0 .. al) and b[0 .. bl): a-z fold to A-Z,
 * other bytes compare by value; a prefix sorts first. <0, 0, >0. */
int base_subject_cmp(const unsigned char *a, size_t al, const unsigned char *b, size_t bl);

#endif
