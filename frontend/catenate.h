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
 * Large messages: the message goes to a sink (struct catenate_sink), held
 * in memory until it reaches dest->stream_min bytes (or from the start
 * with dest->stage_now), then staged on the destination shard: an
 * AppendBegin with open_size (the size is not known up front), and the
 * bytes in AppendChunk pieces of dest->chunk, one in flight. A URL part is
 * read with one FetchReq when its message is small (body_limit) and
 * otherwise window by window (FetchReq body_offset / body_len over the
 * byte range fetch_items_body_range gives; a HEADER.FIELDS section is
 * gathered and filtered in memory), so neither process holds a large
 * message whole. Opening a staging file takes one of *dest->slots
 * ("NO [LIMIT]" when none is left); the caller aborts sink->staging_id
 * when it does not commit it (it is set as soon as the back-end answers,
 * even when the client is gone by then).
 *
 * Contract: catenate_check is the syntax check (a BAD reason or NULL).
 * catenate_build writes the parts list[sink->parts_done .. upto) to the
 * sink (upto: a list index, the list's count for all of it; a staged sink
 * has every byte acknowledged by the back-end when it ends), sets
 * sink->parts_done = upto and then calls done(arg, st) exactly once,
 * possibly before it returns: CATENATE_OK; CATENATE_FAILED after it wrote
 * the tagged NO (the caller only finishes the command); or CATENATE_CLOSED
 * when the client went away meanwhile (write nothing). The parts (the
 * command's args), sink and dest must stay valid until done runs; the
 * session is referenced while an RPC is in flight.
 */
#ifndef CPM_FRONTEND_CATENATE_H
#define CPM_FRONTEND_CATENATE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "session.h"

#define CATENATE_MAX_PARTS 1000

enum catenate_status { CATENATE_OK, CATENATE_FAILED, CATENATE_CLOSED };

typedef void catenate_done_cb(void *arg, enum catenate_status st);

/* Where a CATENATE message goes (owned by the caller). */
struct catenate_sink {
	struct buf buf;       /* in memory: the message; staged: bytes not yet sent */
	uint64_t staging_id;  /* 0: in memory */
	uint64_t filled;      /* staged: bytes the back-end has */
	unsigned parts_done;  /* members of the part list written so far */
};

/* The message's size so far. */
static inline uint64_t catenate_sink_size(const struct catenate_sink *k)
{
	return k->filled + k->buf.len;
}

/* The destination, for staging. */
struct catenate_dest {
	const char *owner;      /* whose folder */
	const char *folder;     /* its name (owner's namespace) */
	size_t shard;
	const char *trycreate;  /* the text of "[TRYCREATE] ..." when it does not exist */
	uint64_t pending_bytes; /* the command's other messages (quota check) */
	size_t stream_min;      /* an in-memory message this large is staged (0 = never) */
	size_t chunk;           /* bytes per AppendChunk and per FetchReq window */
	unsigned *slots;        /* staging files the command may still open */
	bool stage_now;         /* stage from the start */
};

/* list: the parenthesised argument after "CATENATE". NULL when it is a
 * valid part list, else the text for a tagged BAD. *n_urls_r counts its
 * URL parts. */
const char *catenate_check(const struct imap_arg *list, unsigned *n_urls_r);

void catenate_build(struct session *s, const struct imap_arg *list, unsigned upto, struct catenate_sink *sink,
		    const struct catenate_dest *dest, size_t max, catenate_done_cb *done, void *arg);

#endif
