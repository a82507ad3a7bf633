/*
 * mailbox-ref: mailbox names → (owner, shard, local name). See mailbox-ref.h.
 */
#include "mailbox-ref.h"

#include "buf.h"
#include "rpc-client.h"
#include "session.h"

#include <string.h>

#define PREFIX_LEN (sizeof(ACL_OTHER_PREFIX) - 1)

void mailbox_ref_resolve(struct session *s, const char *name, struct mailbox_ref *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = MREF_FOLDER;
	r->name = name;
	snprintf(r->owner, sizeof(r->owner), "%s", s->user);
	r->shard = s->shard;
	size_t nl = strlen(name);
	/* "Other Users" (no slash) is the namespace's own node. */
	if (nl == PREFIX_LEN - 1 && memcmp(name, ACL_OTHER_PREFIX, PREFIX_LEN - 1) == 0) {
		r->kind = MREF_NAMESPACE;
		return;
	}
	if (nl < PREFIX_LEN || memcmp(name, ACL_OTHER_PREFIX, PREFIX_LEN) != 0)
		return;
	const char *user = name + PREFIX_LEN;
	const char *slash = strchr(user, '/');
	size_t ul = slash != NULL ? (size_t)(slash - user) : strlen(user);
	if (ul == 0 || ul > USER_NAME_MAX || slash == NULL || slash[1] == '\0') {
		r->kind = MREF_NAMESPACE;
		if (ul > 0 && ul <= USER_NAME_MAX) {
			memcpy(r->owner, user, ul);
			r->owner[ul] = '\0';
		}
		return;
	}
	memcpy(r->owner, user, ul);
	r->owner[ul] = '\0';
	r->name = slash + 1;
	r->other = strcmp(r->owner, s->user) != 0;
	r->shard = r->other ? rpc_shard_for_user(s->w->rpc, r->owner) : s->shard;
}

int mailbox_ref_visible_name(const struct session *s, const char *owner, const char *local_name, struct buf *out)
{
	if (strcmp(owner, s->user) != 0 &&
	    (buf_append_str(out, ACL_OTHER_PREFIX) < 0 || buf_append_str(out, owner) < 0 || buf_append_str(out, "/") < 0))
		return -1;
	return buf_append_str(out, local_name);
}
