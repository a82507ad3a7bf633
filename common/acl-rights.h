/*
 * acl-rights: the RFC 4314 access rights as bits, and their letters.
 *
 * One bit per standard right; the obsolete RFC 2086 rights are macros:
 * "c" is k and x, "d" is t and e (RFC 4314 2.1.1). Printed rights list the
 * standard letters in the order of ACL_LETTERS, then "c" when k or x is
 * held and "d" when t or e is; an empty set prints as "" (a quoted empty
 * string, as the grammar needs an astring).
 *
 * The other-users namespace: another user's folder F is named
 * ACL_OTHER_PREFIX "owner/" F; ACL_ANYONE is the identifier of everyone.
 */
#ifndef CPM_COMMON_ACL_RIGHTS_H
#define CPM_COMMON_ACL_RIGHTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACL_L (1u << 0)  /* lookup: the folder is visible (LIST, SUBSCRIBE) */
#define ACL_R (1u << 1)  /* read: SELECT, EXAMINE, STATUS, FETCH, SEARCH, COPY from */
#define ACL_W (1u << 2)  /* write flags other than \Seen and \Deleted */
#define ACL_S (1u << 3)  /* keep \Seen */
#define ACL_T (1u << 4)  /* store \Deleted */
#define ACL_I (1u << 5)  /* insert: APPEND, COPY into */
#define ACL_P (1u << 6)  /* post (submission): granted and shown, no command needs it */
#define ACL_E (1u << 7)  /* expunge */
#define ACL_K (1u << 8)  /* create child folders */
#define ACL_X (1u << 9)  /* delete (or rename) the folder */
#define ACL_A (1u << 10) /* administer: SETACL, DELETEACL, GETACL, LISTRIGHTS */
#define ACL_ALL ((1u << 11) - 1)

/* Bit n is letter n; the order is Dovecot's, so rights print alike. */
#define ACL_LETTERS "lrwstipekxa"
#define ACL_ANYONE "anyone"
#define ACL_OTHER_PREFIX "Other Users/"
/* Entries per folder. */
#define ACL_MAX_ENTRIES 256
/* Longest printed rights: 11 letters, c, d, NUL. */
#define ACL_RIGHTS_BUFSZ 16

/* Parses letters (standard, c and d) into bits: 0, or -1 with the first
 * unknown letter in *bad_r. */
int acl_rights_parse(const char *s, size_t len, uint32_t *bits_r, char *bad_r);
/* Writes the printed form of bits into out (ACL_RIGHTS_BUFSZ); "" when none
 * (the caller prints that as a quoted empty string). */
void acl_rights_format(uint32_t bits, char out[ACL_RIGHTS_BUFSZ]);

#endif
