/*
 * Unit tests for backend/acl.c: effective rights (owner default, user and
 * anyone entries, negative entries, the owner's implicit l and a, trusted
 * callers), denials (NONEXISTENT without l, NOPERM with it), list changes
 * (the owner's default written out first, add/remove/replace/delete, an
 * emptied entry goes, the entry bound) and the flags rights allow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backend/acl.h"

static Cpmdb__FolderRec *folder(const char *owner)
{
	Cpmdb__FolderRec *f = malloc(sizeof(*f));
	assert_non_null(f);
	cpmdb__folder_rec__init(f);
	f->owner = strdup(owner);
	f->name = strdup("INBOX");
	return f;
}

static void set(Cpmdb__FolderRec *f, Cpm__AclAction a, const char *id, uint32_t rights)
{
	bool full = true;
	assert_int_equal(acl_update(f, a, id, rights, &full), 0);
	assert_false(full);
}

static uint32_t entry(const Cpmdb__FolderRec *f, const char *id)
{
	for (size_t i = 0; i < f->n_acl; i++)
		if (strcmp(f->acl[i]->identifier, id) == 0)
			return f->acl[i]->rights;
	return 0xffffffffu;
}

static void test_owner_default_and_trusted(void **state)
{
	(void)state;
	Cpmdb__FolderRec *f = folder("alice");
	assert_int_equal(acl_rights_for(f, "alice"), ACL_ALL);
	assert_int_equal(acl_rights_for(f, "bob"), 0);
	assert_int_equal(acl_rights_for(f, NULL), ACL_ALL);
	assert_int_equal(acl_rights_for(f, ""), ACL_ALL);
	cpmdb__folder_rec__free_unpacked(f, NULL);
}

static void test_entries(void **state)
{
	(void)state;
	Cpmdb__FolderRec *f = folder("alice");
	set(f, CPM__ACL_ACTION__ACL_SET, "bob", ACL_L | ACL_R);
	/* The owner's default was written out before bob's entry. */
	assert_int_equal(f->n_acl, 2);
	assert_string_equal(f->acl[0]->identifier, "alice");
	assert_int_equal(f->acl[0]->rights, ACL_ALL);
	assert_int_equal(acl_rights_for(f, "bob"), ACL_L | ACL_R);
	set(f, CPM__ACL_ACTION__ACL_SET, ACL_ANYONE, ACL_L | ACL_S);
	assert_int_equal(acl_rights_for(f, "bob"), ACL_L | ACL_R | ACL_S);
	assert_int_equal(acl_rights_for(f, "carol"), ACL_L | ACL_S);
	set(f, CPM__ACL_ACTION__ACL_SET, "-bob", ACL_S);
	assert_int_equal(acl_rights_for(f, "bob"), ACL_L | ACL_R);
	set(f, CPM__ACL_ACTION__ACL_SET, "-anyone", ACL_L);
	assert_int_equal(acl_rights_for(f, "carol"), ACL_S);
	/* The owner keeps l and a whatever its entry and the negatives say
	 * (and gets what "anyone" gets, like everyone). */
	set(f, CPM__ACL_ACTION__ACL_SET, "alice", ACL_R);
	assert_int_equal(acl_rights_for(f, "alice"), ACL_R | ACL_S | ACL_L | ACL_A);
	/* Deleting the owner's entry brings its default back. */
	set(f, CPM__ACL_ACTION__ACL_DELETE, "alice", 0);
	assert_int_equal(acl_rights_for(f, "alice"), ACL_ALL);
	cpmdb__folder_rec__free_unpacked(f, NULL);
}

static void test_update_modes(void **state)
{
	(void)state;
	Cpmdb__FolderRec *f = folder("alice");
	set(f, CPM__ACL_ACTION__ACL_ADD, "bob", ACL_L);
	set(f, CPM__ACL_ACTION__ACL_ADD, "bob", ACL_I);
	assert_int_equal(entry(f, "bob"), ACL_L | ACL_I);
	set(f, CPM__ACL_ACTION__ACL_REMOVE, "bob", ACL_I | ACL_W);
	assert_int_equal(entry(f, "bob"), ACL_L);
	/* An emptied entry (not the owner's) goes. */
	set(f, CPM__ACL_ACTION__ACL_REMOVE, "bob", ACL_L);
	assert_int_equal(entry(f, "bob"), 0xffffffffu);
	set(f, CPM__ACL_ACTION__ACL_SET, "bob", 0);
	assert_int_equal(entry(f, "bob"), 0xffffffffu);
	/* The owner's emptied entry stays (it is not the default any more). */
	set(f, CPM__ACL_ACTION__ACL_SET, "alice", 0);
	assert_int_equal(entry(f, "alice"), 0);
	assert_int_equal(acl_rights_for(f, "alice"), ACL_L | ACL_A);
	/* Unknown bits are never stored. */
	set(f, CPM__ACL_ACTION__ACL_SET, "carol", 0xffffffffu);
	assert_int_equal(entry(f, "carol"), ACL_ALL);
	cpmdb__folder_rec__free_unpacked(f, NULL);
}

static void test_bound(void **state)
{
	(void)state;
	Cpmdb__FolderRec *f = folder("alice");
	char id[32];
	for (int i = 0; f->n_acl < ACL_MAX_ENTRIES; i++) {
		snprintf(id, sizeof(id), "user%d", i);
		set(f, CPM__ACL_ACTION__ACL_SET, id, ACL_L);
	}
	bool full = false;
	assert_int_equal(acl_update(f, CPM__ACL_ACTION__ACL_SET, "one-more", ACL_L, &full), -1);
	assert_true(full);
	/* Changing an entry that is there still works. */
	set(f, CPM__ACL_ACTION__ACL_SET, "user3", ACL_L | ACL_R);
	cpmdb__folder_rec__free_unpacked(f, NULL);
}

static void test_require(void **state)
{
	(void)state;
	Cpmdb__FolderRec *f = folder("alice");
	set(f, CPM__ACL_ACTION__ACL_SET, "bob", ACL_L | ACL_R);
	set(f, CPM__ACL_ACTION__ACL_SET, "carol", ACL_R | ACL_S | ACL_I);
	struct op_ctx ctx = {0};
	struct op_result res = {0};
	op_result_error(&res, CPM__STATUS__OK, "");
	ctx.actor = "bob";
	assert_true(acl_require(&ctx, f, ACL_R, &res));
	assert_false(acl_require(&ctx, f, ACL_I, &res));
	assert_int_equal(res.resp->status, CPM__STATUS__NOPERM);
	/* carol holds r but not l: the folder does not exist for her. */
	ctx.actor = "carol";
	assert_false(acl_require(&ctx, f, ACL_R, &res));
	assert_int_equal(res.resp->status, CPM__STATUS__NONEXISTENT);
	ctx.actor = "dave";
	assert_false(acl_require(&ctx, f, ACL_L, &res));
	assert_int_equal(res.resp->status, CPM__STATUS__NONEXISTENT);
	op_result_clear(&res);
	cpmdb__folder_rec__free_unpacked(f, NULL);
}

static void test_flags_allowed(void **state)
{
	(void)state;
	assert_int_equal(acl_flags_allowed(0), 0);
	assert_int_equal(acl_flags_allowed(ACL_S), CPM__SYS_FLAG__SEEN);
	assert_int_equal(acl_flags_allowed(ACL_T), CPM__SYS_FLAG__DELETED);
	assert_int_equal(acl_flags_allowed(ACL_W),
			 CPM__SYS_FLAG__ANSWERED | CPM__SYS_FLAG__FLAGGED | CPM__SYS_FLAG__DRAFT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owner_default_and_trusted),
		cmocka_unit_test(test_entries),
		cmocka_unit_test(test_update_modes),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_require),
		cmocka_unit_test(test_flags_allowed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
