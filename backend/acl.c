/*
 * acl: effective rights, checks and list changes (see acl.h).
 */
#include "acl.h"

#include <stdlib.h>
#include <string.h>

static const Cpmdb__AclEntry *entry_of(const Cpmdb__FolderRec *f, const char *id, bool negative)
{
	for (size_t i = 0; i < f->n_acl; i++) {
		const char *e = f->acl[i]->identifier;
		if (negative && e[0] != '-')
			continue;
		if (strcmp(negative ? e + 1 : e, id) == 0)
			return f->acl[i];
	}
	return NULL;
}

static uint32_t rights_of_entry(const Cpmdb__FolderRec *f, const char *id, bool negative)
{
	const Cpmdb__AclEntry *e = entry_of(f, id, negative);
	return e != NULL ? e->rights & ACL_ALL : 0;
}

bool acl_acts_as_owner(const char *actor, const char *owner)
{
	return actor == NULL || actor[0] == '\0' || strcmp(actor, owner) == 0;
}

uint32_t acl_rights_for(const Cpmdb__FolderRec *f, const char *actor)
{
	if (actor == NULL || actor[0] == '\0')
		return ACL_ALL;
	bool owner = strcmp(actor, f->owner) == 0;
	if (owner && f->n_acl == 0)
		return ACL_ALL;
	const Cpmdb__AclEntry *own = entry_of(f, actor, false);
	uint32_t pos = own != NULL ? own->rights & ACL_ALL : owner ? ACL_ALL : 0;
	pos |= rights_of_entry(f, ACL_ANYONE, false);
	uint32_t neg = rights_of_entry(f, actor, true) | rights_of_entry(f, ACL_ANYONE, true);
	uint32_t r = pos & ~neg;
	return owner ? r | ACL_L | ACL_A : r;
}

bool acl_require(const struct op_ctx *ctx, const Cpmdb__FolderRec *f, uint32_t need, struct op_result *res)
{
	uint32_t have = acl_rights_for(f, ctx->actor);
	/* Without l the folder is hidden, whatever else was granted. */
	if ((have & need) == need && (have & ACL_L))
		return true;
	if (!(have & ACL_L))
		op_fail(res, CPM__STATUS__NONEXISTENT, "Mailbox doesn't exist");
	else {
		char missing[ACL_RIGHTS_BUFSZ];
		acl_rights_format(need & ~have, missing);
		op_fail(res, CPM__STATUS__NOPERM, "Permission denied (the %s right is missing)", missing);
	}
	return false;
}

uint32_t acl_flags_allowed(uint32_t rights)
{
	uint32_t f = 0;
	if (rights & ACL_S)
		f |= CPM__SYS_FLAG__SEEN;
	if (rights & ACL_T)
		f |= CPM__SYS_FLAG__DELETED;
	if (rights & ACL_W)
		f |= CPM__SYS_FLAG__ANSWERED | CPM__SYS_FLAG__FLAGGED | CPM__SYS_FLAG__DRAFT;
	return f;
}

static void remove_at(Cpmdb__FolderRec *f, size_t i)
{
	cpmdb__acl_entry__free_unpacked(f->acl[i], NULL);
	memmove(&f->acl[i], &f->acl[i + 1], (f->n_acl - i - 1) * sizeof(*f->acl));
	f->n_acl--;
}

static Cpmdb__AclEntry *add_entry(Cpmdb__FolderRec *f, const char *id, uint32_t rights)
{
	Cpmdb__AclEntry **na = realloc(f->acl, (f->n_acl + 1) * sizeof(*f->acl));
	if (na == NULL)
		return NULL;
	f->acl = na;
	Cpmdb__AclEntry *e = malloc(sizeof(*e));
	char *copy = strdup(id);
	if (e == NULL || copy == NULL) {
		free(e);
		free(copy);
		return NULL;
	}
	cpmdb__acl_entry__init(e);
	e->identifier = copy;
	e->rights = rights;
	f->acl[f->n_acl++] = e;
	return e;
}

int acl_update(Cpmdb__FolderRec *f, Cpm__AclAction action, const char *identifier, uint32_t rights, bool *full_r)
{
	*full_r = false;
	/* The owner's default ("every right", implicit while the list is
	 * empty) is written out before the first entry, so GETACL shows it and
	 * later changes of the owner's entry start from it. */
	if (f->n_acl == 0 && strcmp(identifier, f->owner) != 0 && action != CPM__ACL_ACTION__ACL_DELETE &&
	    add_entry(f, f->owner, ACL_ALL) == NULL)
		return -1;
	size_t i = 0;
	while (i < f->n_acl && strcmp(f->acl[i]->identifier, identifier) != 0)
		i++;
	bool found = i < f->n_acl;
	bool is_owner = strcmp(identifier, f->owner) == 0;
	uint32_t now = found ? f->acl[i]->rights : is_owner ? ACL_ALL : 0;
	switch (action) {
	case CPM__ACL_ACTION__ACL_SET:
		now = rights;
		break;
	case CPM__ACL_ACTION__ACL_ADD:
		now |= rights;
		break;
	case CPM__ACL_ACTION__ACL_REMOVE:
		now &= ~rights;
		break;
	case CPM__ACL_ACTION__ACL_DELETE:
		if (found)
			remove_at(f, i);
		return 0;
	default:
		return -1;
	}
	now &= ACL_ALL;
	if (now == 0 && !is_owner) {
		if (found)
			remove_at(f, i);
		return 0;
	}
	if (found) {
		f->acl[i]->rights = now;
		return 0;
	}
	if (f->n_acl >= ACL_MAX_ENTRIES) {
		*full_r = true;
		return -1;
	}
	return add_entry(f, identifier, now) != NULL ? 0 : -1;
}
