/*
 * acl: a folder's access control list (RFC 4314) as the back-end applies it.
 *
 * The list lives in the folder's record (FolderRec.acl). Rights of an
 * actor: its own entry, or-ed with "anyone"'s, minus its negative entry
 * ("-name") and "-anyone"'s. The owner without an entry of its own has
 * every right, and always keeps l and a (RFC 4314 2: the owner can always
 * repair the list). A request without an actor (cpm-admin) has every right.
 *
 * Denials: an actor without l gets NONEXISTENT, exactly what a missing
 * folder answers (even when it holds the right asked for), so names of
 * folders it may not see leak nothing; with l but not the right asked
 * for, NOPERM.
 */
#ifndef CPM_BACKEND_ACL_H
#define CPM_BACKEND_ACL_H

#include "acl-rights.h"
#include "ops.h"

/* Whether actor acts for owner itself: it is the owner, or a trusted caller. */
bool acl_acts_as_owner(const char *actor, const char *owner);
/* The actor's rights on f (actor NULL or "": every right). */
uint32_t acl_rights_for(const Cpmdb__FolderRec *f, const char *actor);
/* True when ctx's actor holds all of need on f; else res is failed as above. */
bool acl_require(const struct op_ctx *ctx, const Cpmdb__FolderRec *f, uint32_t need, struct op_result *res);
/* The system flags (cpm.SysFlag bits) rights allow storing: \Seen with s,
 * \Deleted with t, the others with w (keywords too need w). A flag not
 * allowed is left as it was, silently (RFC 4314 4: STORE, APPEND, COPY). */
uint32_t acl_flags_allowed(uint32_t rights);
/* Applies a change action (SET, ADD, REMOVE, DELETE) to f's list for
 * identifier (already validated); f keeps owning what it holds, so
 * cpmdb__folder_rec__free_unpacked frees it. An entry other than the
 * owner's left with no rights goes. 0; -1 when the list would pass
 * ACL_MAX_ENTRIES (*full_r set) or memory is short. */
int acl_update(Cpmdb__FolderRec *f, Cpm__AclAction action, const char *identifier, uint32_t rights, bool *full_r);

#endif
