/*
 * outband-sub: one outband subscription — the users a subscriber follows,
 * each one's position in its shard's notification log, and the reads that
 * move it (frontend/outband.c owns the connection, docs/outband.md the
 * protocol).
 *
 * Per user: start at the Resume position (or at the log's present), read
 * the log after the cursor through OutbandReadReq (one read in flight per
 * user), send each entry that passes the folder filter as an Event, move
 * the cursor; then wait for the user's feed hint (feed-sub.h) or the
 * next tick and read again. Order, completeness and "nothing twice" come
 * from the log, never from the hint. A cursor the log cannot continue gets
 * ResyncNeeded and the stream goes on from the present.
 *
 * Backpressure: no read starts while the connection has OB_LOW_WATER bytes
 * or more queued; ob_sub_drained resumes. So a subscriber's queue holds at
 * most about one read page beyond the low-water mark.
 *
 * Ownership: the subscription borrows the connection and the worker;
 * ob_sub_free cancels its RPCs and unwatches its users, after which no
 * callback touches it. Loop thread only.
 */
#ifndef CPM_FRONTEND_OUTBAND_SUB_H
#define CPM_FRONTEND_OUTBAND_SUB_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/outband.pb-c.h"
#include "worker.h"

#define OB_MAX_USERS 1000
#define OB_MAX_FOLDERS 100
#define OB_MAX_FOLDER_LEN 1000
#define OB_LOW_WATER (64u * 1024)
#define OB_READ_PAGE 256

struct ob_conn;
struct ob_sub;

/* Provided by outband.c. ob_conn_send: 0, or -1 when the connection is
 * closing (the caller stops sending). ob_conn_fail sends Closing and closes
 * later: it never frees anything before returning. */
int ob_conn_send(struct ob_conn *c, const Cpm__Outband__ServerFrame *f);
size_t ob_conn_pending(const struct ob_conn *c);
void ob_conn_fail(struct ob_conn *c, const char *reason, const char *detail);

/* Checks req (limits, names) and starts every user's stream. NULL with a
 * reason (for Closing "protocol"/"limit") in err. */
struct ob_sub *ob_sub_new(struct fe_worker *w, struct ob_conn *c,
			  const Cpm__Outband__Subscribe *req, char *err, size_t errlen);
/* feed_user_cb (feed-sub.h): a hint for one of this subscription's users (the
 * watcher is that user's stream). */
void ob_sub_hint(void *watcher, const char *user);
/* The connection's queue fell below OB_LOW_WATER. */
void ob_sub_drained(struct ob_sub *s);
/* Periodic: sends a Heartbeat and reads every user's log (lost hints cost
 * at most one period). */
void ob_sub_tick(struct ob_sub *s);
/* A Heartbeat now (answer to Ping). */
void ob_sub_heartbeat(struct ob_sub *s);
void ob_sub_free(struct ob_sub **s);

/* Folder filter: "Name" matches Name; "Name/" followed by "*" matches Name and below. */
bool ob_folder_matches(const char *pattern, const char *folder);

#endif
