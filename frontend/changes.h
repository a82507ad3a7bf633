/*
 * changes: walks the selected folder's change log after a MODSEQ, page by
 * page (ChangesReq → ChangesResp; the back-end pages long backlogs).
 *
 * changes_walk holds a reference on the session while it runs. page() is
 * called for each answer page in order, only while the session is open and
 * still has the same folder selected. done() is called exactly once at the
 * end: ok is false when the back-end failed or the walk was cut short (the
 * session closed: check session_closed before writing; or the selection
 * changed). After done() returns the walk drops its reference.
 * Returns 0, or -1 when out of memory (nothing was started, no callback).
 */
#ifndef CPM_FRONTEND_CHANGES_H
#define CPM_FRONTEND_CHANGES_H

#include <stdbool.h>
#include <stdint.h>

#include "session.h"

typedef void changes_page_fn(struct session *s, const Cpm__ChangesResp *r, void *arg);
typedef void changes_done_fn(struct session *s, bool ok, const Cpm__Response *last, void *arg);

int changes_walk(struct session *s, uint64_t since, changes_page_fn *page, changes_done_fn *done, void *arg);

#endif
