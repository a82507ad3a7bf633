/*
 * shared-folders: the folders other users share with the session's user,
 * for LIST (RFC 4314 with the other-users namespace, mailbox-ref.h).
 *
 * For each owner, one FolderListReq to the owner's shard on behalf of the
 * user: the back-end lists only the folders the user has the l right on.
 * The answers are renamed into the namespace ("Other Users/owner/name")
 * and handed over together once every owner answered; an owner that is
 * gone or unreachable contributes nothing (LIST still answers, as Dovecot
 * does for a shared namespace it cannot read). At most SHARED_MAX_OWNERS.
 */
#ifndef CPM_FRONTEND_SHARED_FOLDERS_H
#define CPM_FRONTEND_SHARED_FOLDERS_H

#include "session.h"

#define SHARED_MAX_OWNERS 64

/* infos (n of them) belong to the callee: free with shared_folders_free.
 * Called also when the session closed meanwhile (check session_closed). */
typedef void shared_folders_done(struct session *s, Cpm__FolderInfo **infos, size_t n, void *arg);

/* Asks every owner (duplicates and the user itself are skipped); done
 * runs once all answered, before this returns when none was asked. 0, or
 * -1 when nothing was started (out of memory): done is then not called. */
int shared_folders_collect(struct session *s, char *const *owners, size_t n_owners, shared_folders_done *done,
			   void *arg);
void shared_folders_free(Cpm__FolderInfo **infos, size_t n);

#endif
