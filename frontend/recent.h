/*
 * recent: the \Recent flag of a session's selected folder (RFC 3501 2.3.2).
 *
 * A message is \Recent in the one session first told of it. SELECT claims
 * the folder's unclaimed messages in the back-end (FolderSelectResp
 * .first_recent_uid); a SELECTed session that later learns of new messages
 * (NOOP, IDLE, NOTIFY, its own APPEND/COPY) claims those nobody has claimed
 * with a RecentClaimReq after the sync, which moves the folder's watermark in
 * one write, so two sessions on any front-ends never both get a message.
 * A claim is skipped when the change-log read already showed the
 * watermark past them (ChangesResp.recent_uid) or another session of the
 * same worker has one in flight for the folder (fe_worker.recent_claims):
 * a folder watched by many sessions costs a claim per worker, not per session.
 * EXAMINE claims nothing: it shows the unclaimed messages as \Recent at
 * open and leaves them for the next SELECT. STATUS RECENT counts unclaimed.
 *
 * The set is a short list of disjoint UID ranges (one per claim that did
 * not continue the previous one), at most RECENT_MAX_RANGES; past that a
 * session stops claiming (its later messages stay for the next SELECT).
 */
#ifndef CPM_FRONTEND_RECENT_H
#define CPM_FRONTEND_RECENT_H

#include "session.h"

#define RECENT_MAX_RANGES 256

/* At SELECT/EXAMINE: \Recent are the view's UIDs from first_recent_uid (0 = none). */
void recent_open(struct selected_folder *f, uint32_t first_recent_uid);
void recent_free(struct selected_folder *f);
bool recent_has(const struct selected_folder *f, uint32_t uid);
/* How many UIDs of the view are \Recent. */
uint32_t recent_count(const struct selected_folder *f);

/* After a sync: a read-write session claims what it learnt of below the
 * view's UIDNEXT, reports "* n RECENT" when the count changed, then calls
 * done (also when nothing was to claim or the back-end failed). */
void recent_claim(struct session *s, void (*done)(struct session *s));

#endif
