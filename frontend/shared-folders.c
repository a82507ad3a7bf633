/*
 * shared-folders: LIST's fan-out to the owners' shards (see shared-folders.h).
 */
#include "shared-folders.h"

#include "acl-rights.h"
#include "buf.h"

#include <stdlib.h>
#include <string.h>

struct collect {
	struct session *s;
	shared_folders_done *done;
	void *arg;
	unsigned pending;
	Cpm__FolderInfo **infos;
	size_t n, cap;
};

struct one_owner {
	struct collect *c;
	char *owner;
};

void shared_folders_free(Cpm__FolderInfo **infos, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(infos[i]->name);
		free(infos[i]->special_use);
		free(infos[i]);
	}
	free(infos);
}

/* A copy of f named into the namespace (strings owned by the copy). */
static Cpm__FolderInfo *renamed(const Cpm__FolderInfo *f, const char *owner)
{
	Cpm__FolderInfo *copy = malloc(sizeof(*copy));
	struct buf name = {0};
	if (copy == NULL || buf_append_str(&name, ACL_OTHER_PREFIX) < 0 || buf_append_str(&name, owner) < 0 ||
	    buf_append_str(&name, "/") < 0 || buf_append_str(&name, f->name) < 0) {
		free(copy);
		buf_free(&name);
		return NULL;
	}
	*copy = *f;
	copy->name = (char *)buf_steal(&name, NULL);
	copy->special_use = strdup(f->special_use != NULL ? f->special_use : "");
	if (copy->name == NULL || copy->special_use == NULL) {
		free(copy->name);
		free(copy->special_use);
		free(copy);
		return NULL;
	}
	return copy;
}

static void add_folders(struct collect *c, const Cpm__FolderListResp *r, const char *owner)
{
	for (size_t i = 0; i < r->n_folders; i++) {
		if (r->folders[i] == NULL || r->folders[i]->name == NULL || r->folders[i]->name[0] == '\0')
			continue;
		if (c->n == c->cap) {
			size_t nc = c->cap ? c->cap * 2 : 16;
			Cpm__FolderInfo **ni = realloc(c->infos, nc * sizeof(*ni));
			if (ni == NULL)
				return;
			c->infos = ni;
			c->cap = nc;
		}
		Cpm__FolderInfo *f = renamed(r->folders[i], owner);
		if (f != NULL)
			c->infos[c->n++] = f;
	}
}

static void on_owner(const Cpm__Response *resp, void *arg)
{
	struct one_owner *o = arg;
	struct collect *c = o->c;
	struct session *s = c->s;
	if (!session_closed(s) && resp->status == CPM__STATUS__OK &&
	    resp->result_case == CPM__RESPONSE__RESULT_FOLDER_LIST)
		add_folders(c, resp->folder_list, o->owner);
	free(o->owner);
	free(o);
	if (--c->pending == 0) {
		c->done(s, c->infos, c->n, c->arg);
		free(c);
	}
	session_unref(s);
}

static bool seen_before(char *const *owners, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(owners[j], owners[i]) == 0)
			return true;
	return false;
}

int shared_folders_collect(struct session *s, char *const *owners, size_t n_owners, shared_folders_done *done,
			   void *arg)
{
	struct collect *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -1;
	c->s = s;
	c->done = done;
	c->arg = arg;
	/* One extra count while sending, so no answer can finish early. */
	c->pending = 1;
	session_ref(s);
	unsigned asked = 0;
	for (size_t i = 0; i < n_owners && asked < SHARED_MAX_OWNERS; i++) {
		if (owners[i] == NULL || strcmp(owners[i], s->user) == 0 || seen_before(owners, i))
			continue;
		struct one_owner *o = calloc(1, sizeof(*o));
		if (o == NULL || (o->owner = strdup(owners[i])) == NULL) {
			free(o);
			break;
		}
		o->c = c;
		Cpm__Request req = CPM__REQUEST__INIT;
		Cpm__FolderListReq q = CPM__FOLDER_LIST_REQ__INIT;
		q.user = o->owner;
		req.op_case = CPM__REQUEST__OP_FOLDER_LIST;
		req.folder_list = &q;
		c->pending++;
		asked++;
		session_ref(s);
		session_rpc(s, rpc_shard_for_user(s->w->rpc, o->owner), &req, 0, on_owner, o);
	}
	/* The sending count: done runs here when no owner was asked. */
	if (--c->pending == 0) {
		done(s, c->infos, c->n, arg);
		free(c);
	}
	session_unref(s);
	return 0;
}
