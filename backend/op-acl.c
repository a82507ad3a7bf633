/*
 * op-acl: RFC 4314 on one folder — GETACL, MYRIGHTS, SETACL, DELETEACL
 * (one AclReq, by action) — and the sharer hints LIST uses (SharerReq).
 *
 * The list is part of the folder's record, so a change is one record write
 * in the writer's transaction; it is not a message change and bumps no
 * MODSEQ. The front-end validates identifiers; this checks them again.
 */
#include "ops.h"

#include "acl.h"
#include "user-name.h"

#include <stdlib.h>
#include <string.h>

/* A user name or "anyone", with an optional "-" (negative rights). */
static bool identifier_ok(const char *id)
{
	if (id == NULL)
		return false;
	if (id[0] == '-')
		id++;
	return strcmp(id, ACL_ANYONE) == 0 || user_name_valid(id);
}

/* The list as GETACL shows it: the owner's implicit entry first when the
 * list has none for it. */
static int fill_entries(Cpm__AclResp *r, const Cpmdb__FolderRec *f)
{
	bool owner_listed = false;
	for (size_t i = 0; i < f->n_acl; i++)
		owner_listed |= strcmp(f->acl[i]->identifier, f->owner) == 0;
	size_t n = f->n_acl + (owner_listed ? 0 : 1);
	if ((r->entries = calloc(n, sizeof(*r->entries))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *id = owner_listed ? f->acl[i]->identifier : i == 0 ? f->owner : f->acl[i - 1]->identifier;
		uint32_t bits = owner_listed ? f->acl[i]->rights : i == 0 ? ACL_ALL : f->acl[i - 1]->rights;
		Cpm__AclEntry *e = malloc(sizeof(*e));
		if (e == NULL)
			return -1;
		cpm__acl_entry__init(e);
		r->entries[r->n_entries++] = e;
		if ((e->identifier = strdup(id)) == NULL)
			return -1;
		e->rights = bits & ACL_ALL;
	}
	return 0;
}

void op_acl(const struct op_ctx *ctx, MDB_txn *t, const Cpm__AclReq *q, struct op_result *res)
{
	uint64_t id = 0;
	Cpmdb__FolderRec *f = NULL;
	enum db_status st = op_folder_by_name(ctx, t, q->user, q->name, &id, &f);
	if (st != DB_OK) {
		op_fail_folder(res, st);
		return;
	}
	uint32_t mine = acl_rights_for(f, ctx->actor);
	bool change = q->action != CPM__ACL_ACTION__ACL_GET && q->action != CPM__ACL_ACTION__ACL_MYRIGHTS;
	if (q->action == CPM__ACL_ACTION__ACL_MYRIGHTS) {
		/* Any right lets the actor know its rights; none: the folder is hidden. */
		if (mine == 0) {
			op_fail(res, CPM__STATUS__NONEXISTENT, "Mailbox doesn't exist");
			goto out;
		}
	} else if (!acl_require(ctx, f, ACL_A, res))
		goto out;
	if (change) {
		bool full = false;
		if (!identifier_ok(q->identifier)) {
			op_fail(res, CPM__STATUS__INVALID, "invalid identifier");
			goto out;
		}
		if (acl_update(f, q->action, q->identifier, q->rights, &full) < 0) {
			if (full)
				op_fail(res, CPM__STATUS__INVALID, "too many entries in the access control list");
			else
				op_fail(res, CPM__STATUS__INTERNAL, "out of memory");
			goto out;
		}
		if ((st = db_put_folder(t, ctx->db, id, f)) != DB_OK) {
			op_fail_db(res, st, "folder");
			goto out;
		}
		mine = acl_rights_for(f, ctx->actor);
	}
	Cpm__AclResp *r = op_result_new(res, CPM__RESPONSE__RESULT_ACL, &cpm__acl_resp__descriptor);
	if (r == NULL)
		goto out;
	r->myrights = mine;
	if (q->action != CPM__ACL_ACTION__ACL_MYRIGHTS && fill_entries(r, f) < 0)
		op_fail(res, CPM__STATUS__INTERNAL, "out of memory");
out:
	cpmdb__folder_rec__free_unpacked(f, NULL);
}

void op_sharer(const struct op_ctx *ctx, MDB_txn *t, const Cpm__SharerReq *q, struct op_result *res)
{
	if (!user_name_valid(q->user) || !user_name_valid(q->owner) || strcmp(q->user, q->owner) == 0) {
		op_fail(res, CPM__STATUS__INVALID, "invalid user");
		return;
	}
	/* Anyone with the a right on an owner's folder may grant, and the
	 * grant lives on another shard, so this cannot be checked here: the
	 * entry is only a hint (LIST asks the owner's shard, which filters by
	 * the l right), and LIST reads a bounded number of them. */
	enum db_status st = db_sharer(t, ctx->db, q->user, q->owner, true);
	if (st != DB_OK)
		op_fail_db(res, st, "sharer");
}
