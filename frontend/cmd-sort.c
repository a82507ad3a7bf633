/*
 * cmd-sort: SORT and UID SORT (RFC 5256, with RFC 5957 DISPLAYFROM /
 * DISPLAYTO and RFC 5267 ESORT's RETURN), THREAD and UID THREAD (RFC 5256:
 * ORDEREDSUBJECT, REFERENCES).
 *
 *   SORT [RETURN (MIN MAX COUNT ALL)] (criteria) charset search-program
 *   THREAD algorithm charset search-program
 *
 * The search program is parsed by cmd-search.c (search_parse_program),
 * sequence numbers and \Recent already resolved to UID ranges; the one
 * SearchReq carries the criteria or the algorithm, and the back-end
 * (backend/op-search.c with op-sort.c / op-thread.c) answers the UIDs in
 * order, or the threads as a pre-order node list. Here they become
 * sequence numbers of the session's view (or stay UIDs for the UID forms):
 * "* SORT n...", "* ESEARCH (TAG "t") [UID] ..." with MIN/MAX the first
 * and last in sort order and ALL in sort order, or "* THREAD (..)(..)".
 *
 * The charset is required; UTF-8 and US-ASCII are accepted, others get
 * NO [BADCHARSET (UTF-8 US-ASCII)]. REVERSE may repeat (each one flips the
 * next criterion's order, as in Dovecot); a list ending in REVERSE, an
 * empty list or more than SORT_MAX_KEYS criteria is BAD.
 */
#include "commands.h"

#include "rpc-client.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SORT_MAX_KEYS 32

struct sort_ctx {
	struct session *s;
	bool uid_mode;
	bool thread;
	unsigned ret; /* ESORT RETURN options; 0: "* SORT" */
	bool modseq;  /* the program uses MODSEQ: answer the highest MODSEQ (RFC 7162 3.1.5) */
};

static const struct {
	const char *name;
	Cpm__SortCriterion by;
} criteria[] = {
	{"ARRIVAL", CPM__SORT_CRITERION__SORT_ARRIVAL},
	{"CC", CPM__SORT_CRITERION__SORT_CC},
	{"DATE", CPM__SORT_CRITERION__SORT_DATE},
	{"FROM", CPM__SORT_CRITERION__SORT_FROM},
	{"SIZE", CPM__SORT_CRITERION__SORT_SIZE},
	{"SUBJECT", CPM__SORT_CRITERION__SORT_SUBJECT},
	{"TO", CPM__SORT_CRITERION__SORT_TO},
	{"DISPLAYFROM", CPM__SORT_CRITERION__SORT_DISPLAYFROM},
	{"DISPLAYTO", CPM__SORT_CRITERION__SORT_DISPLAYTO},
};

/* The value a UID is answered as: itself, its sequence number, or 0 when
 * it is not in the view. */
static uint32_t answer_value(const struct sort_ctx *c, uint32_t uid)
{
	uint32_t seq = uid != 0 ? session_seq_of_uid(c->s, uid) : 0;
	return seq == 0 ? 0 : c->uid_mode ? uid : seq;
}

static void write_sort(struct sort_ctx *c, const Cpm__SearchResp *r)
{
	struct session *s = c->s;
	size_t n = 0;
	uint32_t *vals = r != NULL && r->n_uids ? malloc(r->n_uids * sizeof(uint32_t)) : NULL;
	if (r != NULL && r->n_uids > 0 && vals == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		return;
	}
	for (size_t i = 0; r != NULL && i < r->n_uids; i++) {
		uint32_t v = answer_value(c, r->uids[i]);
		if (v != 0)
			vals[n++] = v;
	}
	if (c->ret != 0) {
		search_write_esearch(s, c->uid_mode, c->ret, vals, n, true, c->modseq && r ? r->highestmodseq : 0);
	} else {
		struct buf *b = session_outbuf(s);
		buf_append_str(b, "* SORT");
		for (size_t i = 0; i < n; i++)
			buf_printf(b, " %u", vals[i]);
		search_write_modseq(b, n, c->modseq && r ? r->highestmodseq : 0);
		buf_append_str(b, "\r\n");
	}
	free(vals);
	session_tagged(s, "OK", "Sort completed.");
}

/*
 * The thread-list syntax of RFC 5256 from the pre-order node list, in one
 * pass: a node opens "(" when it is a root or one of several siblings; an
 * only child follows its parent after a space ("(1 2 3)"); the first of
 * several children is preceded by a space when the parent wrote a number
 * ("(3 6 (4 23)(44 7 96))"); a dummy writes no number ("((6)(5))"). When
 * the next node's parent is an ancestor, the nodes left behind close their
 * "(" walking up the parent links, so the whole walk is linear.
 */
static void write_thread(struct sort_ctx *c, const Cpm__SearchResp *r)
{
	struct session *s = c->s;
	size_t n = r != NULL ? r->n_thread : 0;
	uint32_t *parent = n ? calloc(n, sizeof(uint32_t)) : NULL; /* 1-based, 0 = root */
	uint32_t *kids = n ? calloc(n, sizeof(uint32_t)) : NULL;
	uint32_t *vals = n ? calloc(n, sizeof(uint32_t)) : NULL;
	unsigned char *opened = n ? calloc(n, 1) : NULL;
	if (n > 0 && (parent == NULL || kids == NULL || vals == NULL || opened == NULL)) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t p = r->thread[i]->parent;
		parent[i] = p <= i ? p : 0; /* a parent comes earlier; anything else is a root */
		if (parent[i] != 0)
			kids[parent[i] - 1]++;
		vals[i] = answer_value(c, r->thread[i]->uid);
	}
	struct buf *b = session_outbuf(s);
	buf_append_str(b, "* THREAD");
	if (n > 0)
		buf_append_byte(b, ' ');
	for (size_t i = 0; i <= n; i++) {
		uint32_t p = i < n ? parent[i] : 0;
		/* Close what ends before node i: from node i-1 up to (not including) p. */
		for (uint32_t x = (uint32_t)i; i > 0 && x != 0 && x != p; x = parent[x - 1])
			if (opened[x - 1])
				buf_append_byte(b, ')');
		if (i == n)
			break;
		bool parent_wrote = p != 0 && vals[p - 1] != 0;
		if (p == 0) {
			buf_append_byte(b, '(');
			opened[i] = 1;
		} else if (kids[p - 1] >= 2) {
			if (p == i && parent_wrote) /* the first child directly follows its parent */
				buf_append_byte(b, ' ');
			buf_append_byte(b, '(');
			opened[i] = 1;
		} else if (parent_wrote) {
			buf_append_byte(b, ' ');
		}
		if (vals[i] != 0)
			buf_printf(b, "%u", vals[i]);
	}
	buf_append_str(b, "\r\n");
	session_tagged(s, "OK", "Thread completed.");
out:
	free(parent);
	free(kids);
	free(vals);
	free(opened);
}

static void on_sorted(const Cpm__Response *resp, void *ctx)
{
	struct sort_ctx *c = ctx;
	struct session *s = c->s;
	if (!session_closed(s)) {
		if (resp->status != CPM__STATUS__OK || resp->result_case != CPM__RESPONSE__RESULT_SEARCH)
			session_tagged_rpc_error(s, resp, c->thread ? "THREAD" : "SORT");
		else if (c->thread)
			write_thread(c, resp->search);
		else
			write_sort(c, resp->search);
		session_done(s);
	}
	free(c);
	session_unref(s);
}

/* Sends the SearchReq q (key and sort/thread set) or, with an empty view,
 * answers at once. Takes ownership of key. */
static void run(struct session *s, struct sort_ctx *c, Cpm__SearchReq *q, Cpm__SearchKey *key)
{
	q->user = s->sel.owner;
	q->folder_id = s->sel.folder_id;
	q->uidvalidity = s->sel.uidvalidity;
	q->key = key;
	q->max_uid = s->sel.count > 0 ? s->sel.uids[s->sel.count - 1] : 0;
	if (s->sel.count == 0) {
		if (c->thread)
			write_thread(c, NULL);
		else
			write_sort(c, NULL);
		search_key_free(key);
		free(c);
		session_done(s);
		return;
	}
	Cpm__Request req = CPM__REQUEST__INIT;
	req.op_case = CPM__REQUEST__OP_SEARCH;
	req.search = q;
	session_ref(s);
	session_rpc(s, s->sel.shard, &req, 0, on_sorted, c);
	search_key_free(key);
}

static struct sort_ctx *ctx_new(struct session *s, bool uid_mode, bool thread, unsigned ret)
{
	struct sort_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		return NULL;
	}
	c->s = s;
	c->uid_mode = uid_mode;
	c->thread = thread;
	c->ret = ret;
	return c;
}

/* The sort criteria list a into keys[0 .. *n_r); answers BAD itself. */
static int parse_criteria(struct session *s, const struct imap_arg *a, Cpm__SortKey *keys, size_t *n_r)
{
	size_t n = 0;
	bool reverse = false;
	if (a == NULL || a->type != IMAP_ARG_LIST) {
		session_tagged(s, "BAD", "Sort criteria must be a parenthesised list");
		return -1;
	}
	for (unsigned i = 0; i < a->list_count; i++) {
		const struct imap_arg *e = &a->list[i];
		const char *name = e->type == IMAP_ARG_ATOM ? e->str : "";
		if (strcasecmp(name, "REVERSE") == 0) {
			reverse = !reverse;
			continue;
		}
		size_t k = 0;
		while (k < sizeof(criteria) / sizeof(criteria[0]) && strcasecmp(name, criteria[k].name) != 0)
			k++;
		if (k == sizeof(criteria) / sizeof(criteria[0])) {
			session_tagged(s, "BAD", "Unknown sort criterion");
			return -1;
		}
		if (n == SORT_MAX_KEYS) {
			session_tagged(s, "BAD", "Too many sort criteria");
			return -1;
		}
		cpm__sort_key__init(&keys[n]);
		keys[n].by = criteria[k].by;
		keys[n].reverse = reverse;
		n++;
		reverse = false;
	}
	if (reverse) {
		session_tagged(s, "BAD", "Sort criteria end with REVERSE");
		return -1;
	}
	if (n == 0) {
		session_tagged(s, "BAD", "Empty sort criteria");
		return -1;
	}
	*n_r = n;
	return 0;
}

void sort_start(struct session *s, const struct imap_arg *args, unsigned nargs, bool uid_mode)
{
	unsigned ret, used;
	Cpm__SortKey keys[SORT_MAX_KEYS];
	Cpm__SortKey *kp[SORT_MAX_KEYS];
	size_t n = 0;
	if (search_parse_return(s, args, nargs, &ret, &used) < 0)
		goto done;
	args += used;
	nargs -= used;
	if (parse_criteria(s, nargs > 0 ? &args[0] : NULL, keys, &n) < 0 ||
	    search_check_charset(s, nargs > 1 ? &args[1] : NULL) < 0)
		goto done;
	bool modseq = false;
	Cpm__SearchKey *key = search_parse_program(s, args + 2, nargs - 2, uid_mode, &modseq);
	if (key == NULL)
		goto done;
	struct sort_ctx *c = ctx_new(s, uid_mode, false, ret);
	if (c == NULL) {
		search_key_free(key);
		goto done;
	}
	c->modseq = modseq;
	for (size_t i = 0; i < n; i++)
		kp[i] = &keys[i];
	Cpm__SearchReq q = CPM__SEARCH_REQ__INIT;
	q.sort = kp;
	q.n_sort = n;
	run(s, c, &q, key);
	return;
done:
	session_done(s);
}

void thread_start(struct session *s, const struct imap_arg *args, unsigned nargs, bool uid_mode)
{
	const char *alg = nargs > 0 && args[0].type == IMAP_ARG_ATOM ? args[0].str : "";
	Cpm__ThreadAlgorithm a = strcasecmp(alg, "ORDEREDSUBJECT") == 0 ? CPM__THREAD_ALGORITHM__THREAD_ORDEREDSUBJECT
				 : strcasecmp(alg, "REFERENCES") == 0	  ? CPM__THREAD_ALGORITHM__THREAD_REFERENCES
									  : CPM__THREAD_ALGORITHM__THREAD_NONE;
	if (a == CPM__THREAD_ALGORITHM__THREAD_NONE) {
		session_tagged(s, "BAD", "Unknown thread algorithm");
		goto done;
	}
	if (search_check_charset(s, nargs > 1 ? &args[1] : NULL) < 0)
		goto done;
	bool modseq = false;
	Cpm__SearchKey *key = search_parse_program(s, args + 2, nargs - 2, uid_mode, &modseq);
	if (key == NULL)
		goto done;
	struct sort_ctx *c = ctx_new(s, uid_mode, true, 0);
	if (c == NULL) {
		search_key_free(key);
		goto done;
	}
	Cpm__SearchReq q = CPM__SEARCH_REQ__INIT;
	q.thread = a;
	run(s, c, &q, key);
	return;
done:
	session_done(s);
}

void cmd_sort(struct session *s, const struct imap_command *cmd)
{
	sort_start(s, cmd->args, cmd->nargs, false);
}

void cmd_thread(struct session *s, const struct imap_command *cmd)
{
	thread_start(s, cmd->args, cmd->nargs, false);
}
