/*
 * op-sort: SORT (RFC 5256 section 3, RFC 5957 SORT=DISPLAY) of the messages
 * a search matched, and the per-message facts SORT and THREAD share.
 *
 * op_search (op-search.c) feeds every match to sort_set_add in UID order;
 * sort_set_finish then gives the UIDs in the requested order. Each message
 * is looked at once: only the keys the criteria need are extracted and
 * kept (a number, or a string of at most SORT_KEY_MAX bytes, per
 * criterion), so memory is bounded per message and the message bytes are
 * never held past sort_set_add.
 *
 * Keys (what Dovecot 2.3 compares, which is the RFCs' reading):
 *  ARRIVAL  internal date;  SIZE  RFC822.SIZE;
 *  DATE     the Date: header as a UTC instant, the internal date when it is
 *           missing or unparseable (RFC 5256 section 2.2, mail-date.h);
 *  SUBJECT  the base subject (base-subject.h);
 *  FROM, TO, CC  the mailbox (local part) of the first address of the
 *           field; for a group, its name; "" when there is none;
 *  DISPLAYFROM, DISPLAYTO  the first address's display name with RFC 2047
 *           words decoded, else its "mailbox@host" (a group: its name).
 * Strings compare with i;ascii-casemap. REVERSE reverses its criterion
 * only; messages equal on every criterion stay in UID order.
 *
 * Return conventions: int functions return 0, or -1 when memory cannot be
 * had. sort_set_free releases everything (also after a failure).
 */
#ifndef CPM_BACKEND_OP_SORT_H
#define CPM_BACKEND_OP_SORT_H

#include "ops.h"

#include "buf.h"
#include "mime-parse.h"

#define SORT_KEY_MAX 256     /* bytes of a string key that are compared */
#define SORT_MAX_CRITERIA 32 /* more is refused (the front-end sends fewer) */

struct sort_val {
	int64_t num;
	uint32_t off, len; /* string keys: strs.data[off .. off+len) */
};

struct sort_set {
	Cpm__SortKey *const *crit;
	size_t n_crit;
	uint32_t *uids; /* in the order added, then sorted */
	struct sort_val *vals; /* n_crit per message, in the order added */
	uint32_t *order;       /* message indexes, sorted by sort_set_finish */
	size_t n, cap;
	struct buf strs;
};

void sort_set_init(struct sort_set *ss, Cpm__SortKey *const *crit, size_t n_crit);
/* Extracts the keys of message uid (record rec). */
int sort_set_add(struct sort_set *ss, const struct op_ctx *ctx, MDB_txn *t, uint32_t uid, const Cpmdb__MsgRec *rec);
/* Sorts; uids_r[0 .. ss->n) receives the UIDs in order. */
int sort_set_finish(struct sort_set *ss, uint32_t *uids_r);
void sort_set_free(struct sort_set *ss);

/* ---- shared with op-thread.c ------------------------------------------- */

/* The MIME tree of a message: the one stored at APPEND, else parsed from
 * its bytes; NULL when neither is possible. Free with mime_tree_free.
 * *msg_r / *len_r (may be NULL) receive the message bytes, which point into
 * the transaction's map (NULL when they could not be read). */
struct mime_tree *op_msg_tree(const struct op_ctx *ctx, MDB_txn *t, const Cpmdb__MsgRec *rec,
			      const unsigned char **msg_r, size_t *len_r);
/* The sent date (RFC 5256 section 2.2): the Date: header, else the internal date. */
int64_t op_sent_date(const struct mime_tree *tree, const Cpmdb__MsgRec *rec);

#endif
