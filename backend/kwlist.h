/*
 * kwlist: a small set of IMAP keywords (flag names that are not system
 * flags), compared case-insensitively as IMAP requires, keeping the first
 * spelling seen. Used for a message's keywords and for the keywords defined
 * in a folder.
 *
 * A zeroed struct kwlist is empty. The list owns its strings; kwlist_clear
 * frees them and leaves the list empty and reusable. Functions that grow the
 * list return 0, or -1 when memory cannot be had (the list is unchanged).
 * No validation here: callers check names with name_keyword_ok first.
 */
#ifndef CPM_BACKEND_KWLIST_H
#define CPM_BACKEND_KWLIST_H

#include <stdbool.h>
#include <stddef.h>

struct kwlist {
	char **v;
	size_t n;
};

void kwlist_clear(struct kwlist *l);
/* Index of kw (case-insensitive), or -1. */
long kwlist_find(const struct kwlist *l, const char *kw);
/* Appends a copy of kw unless it is already there. */
int kwlist_add(struct kwlist *l, const char *kw);
/* Removes kw if present. */
void kwlist_remove(struct kwlist *l, const char *kw);
/* Same keywords, in any order, ignoring case. */
bool kwlist_same(const struct kwlist *a, const struct kwlist *b);
/* Replaces dst with a copy of src. */
int kwlist_copy(struct kwlist *dst, const struct kwlist *src);

#endif
