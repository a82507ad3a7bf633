/* kwlist: case-insensitive keyword sets. See kwlist.h. */
#include "kwlist.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void kwlist_clear(struct kwlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

long kwlist_find(const struct kwlist *l, const char *kw)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i], kw) == 0)
			return (long)i;
	return -1;
}

int kwlist_add(struct kwlist *l, const char *kw)
{
	if (kwlist_find(l, kw) >= 0)
		return 0;
	char *copy = strdup(kw);
	if (copy == NULL)
		return -1;
	char **nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (nv == NULL) {
		free(copy);
		return -1;
	}
	l->v = nv;
	l->v[l->n++] = copy;
	return 0;
}

void kwlist_remove(struct kwlist *l, const char *kw)
{
	long i = kwlist_find(l, kw);
	if (i < 0)
		return;
	free(l->v[i]);
	memmove(&l->v[i], &l->v[i + 1], (l->n - (size_t)i - 1) * sizeof(*l->v));
	l->n--;
}

bool kwlist_same(const struct kwlist *a, const struct kwlist *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (kwlist_find(b, a->v[i]) < 0)
			return false;
	return true;
}

int kwlist_copy(struct kwlist *dst, const struct kwlist *src)
{
	struct kwlist tmp = {0};
	for (size_t i = 0; i < src->n; i++) {
		if (kwlist_add(&tmp, src->v[i]) < 0) {
			kwlist_clear(&tmp);
			return -1;
		}
	}
	kwlist_clear(dst);
	*dst = tmp;
	return 0;
}
