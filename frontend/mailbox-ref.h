/*
 * mailbox-ref: which user's folder a mailbox name means, and on which shard.
 *
 * Namespaces (RFC 2342, as NAMESPACE announces them): the personal one has
 * the prefix "" and "/" as delimiter; another user's folder F is named
 * ACL_OTHER_PREFIX "owner/" F (acl-rights.h), reached with the rights its
 * owner granted (RFC 4314). The prefix itself without a slash, and
 * "Other Users/owner", are nodes of the namespace, never folders. A user
 * whose name holds a "/" cannot be reached there.
 */
#ifndef CPM_FRONTEND_MAILBOX_REF_H
#define CPM_FRONTEND_MAILBOX_REF_H

#include <stdbool.h>
#include <stddef.h>

#include "acl-rights.h"
#include "user-name.h"

struct session;

enum mailbox_ref_kind {
	MREF_FOLDER,    /* a folder name of owner (which may not exist) */
	MREF_NAMESPACE, /* a namespace node: "Other Users", "Other Users/", "Other Users/bob" */
};

struct mailbox_ref {
	enum mailbox_ref_kind kind;
	bool other;                       /* owner is not the session's user */
	char owner[USER_NAME_MAX + 1];
	size_t shard;                     /* owner's shard */
	const char *name;                 /* the name in owner's hierarchy (points into the name resolved) */
};

/* Resolves a UTF-8 mailbox name for s (logged in). */
void mailbox_ref_resolve(struct session *s, const char *name, struct mailbox_ref *r);
/* Appends the name the client sees for owner's folder local_name (UTF-8)
 * to out: local_name itself for the session's own folders. */
struct buf;
int mailbox_ref_visible_name(const struct session *s, const char *owner, const char *local_name, struct buf *out);

#endif
