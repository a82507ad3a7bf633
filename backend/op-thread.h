/*
 * op-thread: THREAD (RFC 5256 sections 4 and 5) over the messages a search
 * matched: ORDEREDSUBJECT and REFERENCES, answered as a list of
 * cpm.ThreadNode in pre-order (uid 0 = a dummy, parent = 1-based index of
 * the parent node, 0 for a thread root; siblings in their final order).
 *
 * op_search feeds every match to thread_set_add in UID order (which is the
 * sequence order the RFC's tie-breaks use). Per message only what the
 * algorithms need is kept: UID, sent date (op-sort.h), base subject and
 * reply/forward flag (base-subject.h), Message-ID, and the References (or,
 * without usable References, the first In-Reply-To id).
 *
 * Message-IDs are normalised before they are compared: the text between
 * "<" and ">" with quoting, backslash escapes and white space removed, so
 * <"a b"@x> and <ab@x> are one id; an id needs an '@' with text on both
 * sides. Ids compare byte for byte. A message without a valid id, or whose
 * id an earlier message already has, gets a unique one. A message that
 * arrives with the id of a container so far only referenced fills it.
 *
 * REFERENCES follows section 4 step by step: link the reference chain
 * (never re-parenting, never making a loop), link the message under its
 * last reference (breaking an older link), gather roots, prune dummies
 * (promoting their children, to the root only when there is one), sort,
 * merge roots with the same base subject (dummy / reply rules), sort every
 * set of siblings by sent date, then UID (a dummy sorts by its first child).
 * This is also what Dovecot 2.3 answers.
 *
 * Bounds: THREAD_MAX_REFS references per message (the last ones),
 * THREAD_ID_MAX bytes per id (longer ids are ignored), loop checks walk at
 * most THREAD_MAX_WALK ancestors (a link that deep is not made). Nothing
 * recurses: trees of any depth are walked with explicit stacks.
 *
 * Return conventions: 0, or -1 when memory cannot be had.
 * thread_set_free releases everything (also after a failure).
 */
#ifndef CPM_BACKEND_OP_THREAD_H
#define CPM_BACKEND_OP_THREAD_H

#include "ops.h"

#include "buf.h"

#define THREAD_MAX_REFS 128
#define THREAD_ID_MAX 998
#define THREAD_MAX_WALK 10000

struct thread_msg {
	uint32_t uid;
	int64_t date;
	bool reply;
	uint32_t subj_off, subj_len; /* base subject in strs */
	uint32_t id_off, id_len;     /* id_len 0: none */
	uint32_t refs_first, n_refs; /* into refs */
};

struct thread_ref {
	uint32_t off, len;
};

struct thread_set {
	Cpm__ThreadAlgorithm alg;
	struct thread_msg *msgs;
	size_t n, cap;
	struct thread_ref *refs;
	size_t n_refs, cap_refs;
	struct buf strs;
};

void thread_set_init(struct thread_set *ts, Cpm__ThreadAlgorithm alg);
/* Reads message uid (record rec) and adds it. */
int thread_set_add(struct thread_set *ts, const struct op_ctx *ctx, MDB_txn *t, uint32_t uid, const Cpmdb__MsgRec *rec);
/* Adds a message from its raw header values (any may be NULL): what
 * thread_set_add does after reading the message; unit tests use it. */
int thread_set_add_fields(struct thread_set *ts, uint32_t uid, int64_t date, const unsigned char *subject,
			  size_t subject_len, const unsigned char *message_id, size_t message_id_len,
			  const unsigned char *in_reply_to, size_t in_reply_to_len, const unsigned char *references,
			  size_t references_len);
/* Runs the algorithm; *nodes_r (n_r entries, each malloc'ed, the array
 * too; free with thread_nodes_free) is the answer. */
int thread_set_finish(struct thread_set *ts, Cpm__ThreadNode ***nodes_r, size_t *n_r);
void thread_nodes_free(Cpm__ThreadNode **nodes, size_t n);
void thread_set_free(struct thread_set *ts);

#endif
