/*
 * unicode-casemap: the i;unicode-casemap collation (RFC 5051) for SEARCH
 * text keys — substring matching with Unicode case and compatibility
 * differences removed. Tables come from libunistring (no hand-written
 * Unicode data here).
 *
 * The canonical form of a UTF-8 string (RFC 5051 section 2): every
 * character is mapped to its simple titlecase (UnicodeData.txt, so "ß"
 * stays "ß" and does not become "SS"; final and medial sigma both become
 * "Σ"), then the result is normalised to NFKD (accents become combining
 * marks, compatibility characters their plain forms: "ﬁ" is "fi").
 * A key matches when its canonical form is a substring of the text's.
 *
 * Invalid UTF-8 is never rejected: each byte that does not start a valid
 * sequence stands for itself as a code point above U+10FFFF that no valid
 * text produces (so it matches only the same byte).
 *
 * Memory: the needle is folded once into an array (ucm_fold); the haystack
 * is folded in chunks of UCM_CHUNK characters into fixed buffers, so
 * matching uses O(needle + UCM_CHUNK) memory whatever the text's size.
 *
 * Return conventions: ucm_fold returns 0, or -1 when out of memory or when
 * the input is longer than UCM_NEEDLE_MAX bytes; the caller frees *cps_r.
 * ucm_contains returns 1 (found), 0 (not found) or -1 (out of memory).
 */
#ifndef CPM_UNICODE_CASEMAP_H
#define CPM_UNICODE_CASEMAP_H

#include <stddef.h>
#include <stdint.h>

/* Characters of the haystack folded at a time. */
#define UCM_CHUNK 1024
/* Longest needle accepted, in bytes (SEARCH keys are far shorter). */
#define UCM_NEEDLE_MAX (64u * 1024)
/* Code points standing for invalid bytes: UCM_INVALID_BASE + byte. */
#define UCM_INVALID_BASE 0x110000u

/* The canonical form of s[0 .. len) as code points (malloc'd *cps_r, *n_r). */
int ucm_fold(const unsigned char *s, size_t len, uint32_t **cps_r, size_t *n_r);

/* Whether needle[0 .. nn) (a ucm_fold result) occurs in the canonical form
 * of h[0 .. hl). An empty needle matches. */
int ucm_contains(const uint32_t *needle, size_t nn, const unsigned char *h, size_t hl);

#endif
