/*
 * preview-source: what a FETCH PREVIEW needs from the store — the first
 * PREVIEW_SOURCE_MAX bytes of the body of the part the preview is made of
 * (common/preview.h chooses it from the stored MIME tree), so that the
 * front-end never receives a whole large message to show 200 characters.
 *
 * op_preview_source sets d->preview_src (malloc'd, freed with the
 * MessageData) for the blob whose hash is given. A message without a text
 * part, or whose tree cannot be read, gets an empty preview_src. Returns 0,
 * or -1 when out of memory.
 */
#ifndef CPM_BACKEND_PREVIEW_SOURCE_H
#define CPM_BACKEND_PREVIEW_SOURCE_H

#include "db.h"
#include "proto/cpm.pb-c.h"

int op_preview_source(MDB_txn *t, struct db *db, const unsigned char hash[32], Cpm__MessageData *d);

#endif
