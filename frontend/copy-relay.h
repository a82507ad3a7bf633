/*
 * copy-relay: COPY and MOVE to another user's folder on another shard.
 *
 * Within one shard the back-end copies (CopyReq: the bodies are shared by
 * reference count). Across shards the front-end carries each message once:
 * it reads it from the source shard (FetchReq: flags, keywords,
 * INTERNALDATE and the body, a large body in windows) and writes it to the
 * destination shard, then commits every copy together in one
 * MultiAppendReq, so the destination gets all the messages or none (RFC
 * 3501 6.4.7). A body above the front-end's streaming threshold is staged
 * on the destination (AppendBegin / AppendChunk) and never held whole in
 * memory. A MOVE then removes the sources (ExpungeReq.moved).
 *
 * The answer is the one COPY/MOVE gives within a shard: "OK [COPYUID
 * uidvalidity src-uids dest-uids]" (MOVE: untagged, with the EXPUNGE or
 * VANISHED responses), NO [TRYCREATE] when the destination does not exist,
 * NO [NOPERM] without the i right, NO [OVERQUOTA] when the destination's
 * owner has no room.
 */
#ifndef CPM_FRONTEND_COPY_RELAY_H
#define CPM_FRONTEND_COPY_RELAY_H

#include <stdbool.h>
#include <stddef.h>

#include "mailbox-ref.h"
#include "session.h"

/* Copies (or moves) the selected folder's messages of ranges (UIDs,
 * ascending, disjoint; n may be 0) to dest, another user's folder on
 * another shard than the selected folder's. dest_name is the name as the
 * client gave it. Answers the command and calls session_done (now or
 * later). The caller keeps ranges and dest: copy them. */
void copy_relay_start(struct session *s, const Cpm__UidRange *ranges, size_t n, const struct mailbox_ref *dest,
		      const char *dest_name, bool move);

/* cmd-copy.c: the answer to a COPY/MOVE from its CopyResp-shaped result
 * (resp->copy: dest UIDVALIDITY, source and destination UIDs in step), or
 * its failure status; ends the command (session_done, after the sync of
 * copies into the selected folder). */
void copy_answer(struct session *s, const char *dest_name, bool move, const Cpm__Response *resp);

#endif
