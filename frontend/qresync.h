/*
 * qresync: SELECT/EXAMINE parameters of RFC 7162 — (CONDSTORE) and
 * (QRESYNC (uidvalidity modseq [known-uids [seq-match-data]])) — and the
 * quick resynchronisation they ask for: after the SELECT's usual untagged
 * responses, "* VANISHED (EARLIER) uids" for the messages expunged since
 * the client's MODSEQ (limited to its known UIDs) and "* n FETCH (UID FLAGS
 * MODSEQ)" for every message changed or added since then.
 *
 * seq-match-data only helps a server that forgot its expunges; the change
 * log keeps every tombstone, so it is checked for syntax and not needed.
 */
#ifndef CPM_FRONTEND_QRESYNC_H
#define CPM_FRONTEND_QRESYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "imap-seqset.h"
#include "session.h"

struct select_params {
	bool condstore;         /* (CONDSTORE), or implied by QRESYNC */
	bool qresync;           /* (QRESYNC ...) given */
	uint32_t uidvalidity;
	uint64_t modseq;
	bool has_known;
	struct imap_seqset known; /* known-uids, resolved ("*" = every UID) */
};

/* Parses the parameter list of SELECT/EXAMINE into p (zeroed first).
 * Returns NULL, or the text of a tagged BAD (QRESYNC needs ENABLE QRESYNC
 * first, RFC 7162 3.2.5). Free p with select_params_clear either way. */
const char *select_params_parse(const struct session *s, const struct imap_arg *list, struct select_params *p);
void select_params_clear(struct select_params *p);

/* Reports what changed since p (only when p->qresync and the UIDVALIDITY
 * matches the selected folder's; else at once), then calls done(s, ok,
 * arg) — also when the session closed meanwhile (check session_closed).
 * ok is false when the report could not be completed (back-end failure):
 * the client's state is then not synchronised. Needs the folder selected
 * (session_select) first. */
void qresync_report(struct session *s, const struct select_params *p,
		    void (*done)(struct session *s, bool ok, void *arg), void *arg);

#endif
