/*
 * list-match: RFC 3501 LIST/LSUB wildcard matching of folder names.
 *
 *   "*"  matches zero or more characters, the hierarchy delimiter included;
 *   "%"  matches zero or more characters except the delimiter;
 *   any other byte matches itself (bytes are compared exactly, UTF-8 as is).
 *
 * INBOX is case-insensitive (RFC 3501 5.1): when a name is "INBOX" or starts
 * with "INBOX" + delimiter, its first five bytes match pattern letters in
 * either case ("inbox", "Inb%" and "INBOX/%" all reach "INBOX/x"); the rest
 * of the name stays case-sensitive.
 *
 * The pattern is compiled once (runs of wildcards collapse: "%*" is "*")
 * into a bit-parallel automaton, so matching a name costs
 * O(name length * pattern length / 64) whatever wildcards a hostile client
 * sends: there is no backtracking.
 *
 * Contract:
 *  - list_match_new returns NULL when the pattern is longer than
 *    LIST_MATCH_MAX_PATTERN bytes or memory is short; the caller owns the
 *    result and frees it with list_match_free (which sets it to NULL).
 *  - Neither the pattern nor the names need to be NUL-terminated; a NUL byte
 *    is an ordinary byte. Nothing here keeps a pointer to its inputs.
 */
#ifndef CPM_FRONTEND_LIST_MATCH_H
#define CPM_FRONTEND_LIST_MATCH_H

#include <stdbool.h>
#include <stddef.h>

#define LIST_MATCH_MAX_PATTERN 1024

struct list_match;

struct list_match *list_match_new(const char *pattern, size_t len, char delim);
void list_match_free(struct list_match **m);

/* True when name[0 .. len) matches the whole pattern. */
bool list_match_name(const struct list_match *m, const char *name, size_t len);

#endif
