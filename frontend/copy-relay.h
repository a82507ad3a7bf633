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
 * NO [NOPERM] without the i right (checked first, with the actor's
 * MYRIGHTS on the destination, before anything is read; a MOVE also needs
 * t and e on the source), NO [OVERQUOTA] when the destination's owner has
 * no room. An empty set answers "OK No messages found." once the
 * destination is known to exist and take insertions.
 *
 * Bounds: at most 10,000 messages per command, and at most
 * append_staging_max staged bodies (they share the owner's staging slots
 * on the destination shard): more is NO [LIMIT]. Bodies held in memory
 * total at most 16 MiB; a body that would pass that is staged too.
 *
 * Not atomic across the two shards: the copy is all or none, but a MOVE
 * whose ExpungeReq fails after the copies were committed answers
 * "NO [CANNOT] MOVE: copied but the originals could not be removed: ..."
 * and leaves both (a rare exception to MOVE's all-or-nothing). A
 * commit that times out (NO [UNAVAILABLE]) may still have been applied,
 * as with APPEND.
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
