/*
 * condstore: the session side of CONDSTORE and QRESYNC (RFC 7162) that
 * several commands share: turning CONDSTORE on, the untagged FETCH that
 * reports a message's flags (with UID and MODSEQ as the session's enabled
 * extensions require), and VANISHED.
 *
 * All writers append to the session's output; nothing here sends RPCs.
 */
#ifndef CPM_FRONTEND_CONDSTORE_H
#define CPM_FRONTEND_CONDSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session.h"

/* A CONDSTORE enabling command ran (RFC 7162 3.1: ENABLE, SELECT/EXAMINE
 * (CONDSTORE), STATUS HIGHESTMODSEQ, FETCH MODSEQ / CHANGEDSINCE, SEARCH
 * MODSEQ, STORE UNCHANGEDSINCE). The first one in the selected state
 * reports the view's "* OK [HIGHESTMODSEQ n]", as Dovecot does. */
void condstore_enable(struct session *s);

/* "* seq FETCH ([UID u ][FLAGS (...) ][MODSEQ (m)])" for message m at
 * sequence number seq: UID when with_uid or QRESYNC is on, FLAGS when
 * with_flags, MODSEQ when CONDSTORE is on. Writes nothing when that would
 * leave the list empty. */
void condstore_write_fetch(struct session *s, uint32_t seq, const Cpm__MessageData *m, bool with_uid,
			   bool with_flags);

/* "* VANISHED [(EARLIER) ]uid-set" for n ascending UIDs (nothing when n is 0). */
void condstore_write_vanished(struct session *s, bool earlier, const uint32_t *uids, size_t n);

#endif
