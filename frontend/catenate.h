/*
 * catenate: builds the message of one CATENATE append-data (RFC 4469)
 *
 *   CATENATE (TEXT {n}<bytes> URL "/Drafts/;UID=7/;SECTION=2" TEXT ~{n}<bytes> ...)
 *
 * by concatenating its parts in order: TEXT parts are the client's literal
 * (or literal8) bytes; a URL part (an IMAP URL, common/imap-url.h) names a
 * message, or a section / partial range of one, in a folder of the
 * session's own user, and its bytes are read with the ordinary FetchReq
 * (FolderStatusReq first when the folder is not the selected one) and cut
 * with FETCH's own code (fetch_items_body_bytes), so a URL's
 * ";SECTION=s/;PARTIAL=o.l" gives exactly what BODY[s]<o.l> gives.
 *
 * URLs: relative URLs are resolved against the selected folder (as Dovecot
 * does: "name/;UID=n" is under it, ";UID=n" is in it, "/name/;UID=n" is
 * from the root); an absolute URL must name this user (imap://user@host/...;
 * the host is not checked: every front-end of the cluster has its own
 * name). Anything else is "NO [BADURL url] reason": a URL that does not
 * parse, names no message, another user, a folder or UID that does not
 * exist, a UIDVALIDITY that does not match, a section that is invalid or
 * not in the message, or carries URLAUTH (not verified yet). The url in
 * the response code is the client's, with bytes that cannot appear in a
 * URL %-escaped.
 *
 * Limits: CATENATE_MAX_PARTS parts; the message may not grow past max
 * bytes ("NO [TOOBIG]").
 *
 * Contract: catenate_check is the syntax check (a BAD reason or NULL).
 * catenate_build appends the message to *out and then calls done(arg, st)
 * exactly once, possibly before it returns: CATENATE_OK; CATENATE_FAILED
 * after it wrote the tagged NO (the caller only finishes the command); or
 * CATENATE_CLOSED when the client went away meanwhile (write nothing).
 * The parts (the command's args) must stay valid until done runs; the
 * session is referenced while an RPC is in flight.
 */
#ifndef CPM_FRONTEND_CATENATE_H
#define CPM_FRONTEND_CATENATE_H

#include <stddef.h>

#include "buf.h"
#include "session.h"

#define CATENATE_MAX_PARTS 1000

enum catenate_status { CATENATE_OK, CATENATE_FAILED, CATENATE_CLOSED };

typedef void catenate_done_cb(void *arg, enum catenate_status st);

/* list: the parenthesised argument after "CATENATE". NULL when it is a
 * valid part list, else the text for a tagged BAD. *n_urls_r counts its
 * URL parts. */
const char *catenate_check(const struct imap_arg *list, unsigned *n_urls_r);

void catenate_build(struct session *s, const struct imap_arg *list, struct buf *out, size_t max,
		    catenate_done_cb *done, void *arg);

#endif
