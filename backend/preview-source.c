/* preview-source: the bytes a FETCH PREVIEW needs. See preview-source.h. */
#include "preview-source.h"

#include "mime-parse.h"
#include "preview.h"

#include <stdlib.h>
#include <string.h>

int op_preview_source(MDB_txn *t, struct db *db, const unsigned char hash[32], Cpm__MessageData *d)
{
	const unsigned char *body, *p;
	size_t blen, plen;
	if (db_blob_get(t, db, hash, &body, &blen, NULL) != DB_OK)
		return 0;
	struct mime_tree *tree = NULL;
	if (db_parsed_get(t, db, hash, &p, &plen) == DB_OK)
		mime_tree_deserialize(p, plen, &tree);
	if (tree == NULL && mime_parse(body, blen, &tree) < 0)
		return -1;
	uint32_t idx;
	int rc = 0;
	if (preview_choose_part(tree, &idx) && tree->parts[idx].body_off < blen) {
		const struct mime_part *part = &tree->parts[idx];
		size_t avail = blen - (size_t)part->body_off;
		size_t n = part->body_len < avail ? (size_t)part->body_len : avail;
		if (n > PREVIEW_SOURCE_MAX)
			n = PREVIEW_SOURCE_MAX;
		if (n > 0) {
			d->preview_src.data = malloc(n);
			if (d->preview_src.data == NULL) {
				rc = -1;
			} else {
				memcpy(d->preview_src.data, body + part->body_off, n);
				d->preview_src.len = n;
			}
		}
	}
	mime_tree_free(&tree);
	return rc;
}
