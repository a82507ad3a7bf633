/*
 * op-sort: SORT keys and ordering. See op-sort.h for what each criterion
 * compares.
 *
 * Keys live in flat arrays (a struct sort_val per message and criterion,
 * the strings in one buffer), so a folder of N messages costs
 * N * (criteria * 16 + strings) bytes and a handful of allocations. The
 * ordering is one qsort_r over message indexes with a comparator that walks
 * the criteria and falls back to the UID.
 */
#include "op-sort.h"

#include "base-subject.h"
#include "mail-date.h"
#include "mime-decode.h"

#include <stdlib.h>
#include <string.h>

struct mime_tree *op_msg_tree(const struct op_ctx *ctx, MDB_txn *t, const Cpmdb__MsgRec *rec,
			      const unsigned char **msg_r, size_t *len_r)
{
	const unsigned char *msg = NULL, *p;
	size_t len = 0, plen;
	struct mime_tree *tree = NULL;
	if (rec->blob.len == 32) {
		if (db_blob_get(t, ctx->db, rec->blob.data, &msg, &len, NULL) != DB_OK) {
			msg = NULL;
			len = 0;
		}
		if (db_parsed_get(t, ctx->db, rec->blob.data, &p, &plen) == DB_OK)
			mime_tree_deserialize(p, plen, &tree);
	}
	if (tree == NULL && msg != NULL)
		mime_parse(msg, len, &tree);
	if (msg_r != NULL)
		*msg_r = msg;
	if (len_r != NULL)
		*len_r = len;
	return tree;
}

int64_t op_sent_date(const struct mime_tree *tree, const Cpmdb__MsgRec *rec)
{
	size_t len;
	const unsigned char *d = tree != NULL ? mime_tree_str(tree, tree->parts[0].env.date, &len) : NULL;
	int64_t t;
	if (d != NULL && mail_date_parse(d, len, &t, NULL) == 0)
		return t;
	return rec->internaldate;
}

void sort_set_init(struct sort_set *ss, Cpm__SortKey *const *crit, size_t n_crit)
{
	memset(ss, 0, sizeof(*ss));
	ss->crit = crit;
	ss->n_crit = n_crit;
}

void sort_set_free(struct sort_set *ss)
{
	free(ss->uids);
	free(ss->vals);
	free(ss->order);
	buf_free(&ss->strs);
	memset(ss, 0, sizeof(*ss));
}

static bool is_string_key(Cpm__SortCriterion c)
{
	return c == CPM__SORT_CRITERION__SORT_CC || c == CPM__SORT_CRITERION__SORT_FROM ||
	       c == CPM__SORT_CRITERION__SORT_SUBJECT || c == CPM__SORT_CRITERION__SORT_TO ||
	       c == CPM__SORT_CRITERION__SORT_DISPLAYFROM || c == CPM__SORT_CRITERION__SORT_DISPLAYTO;
}

/* The string key of criterion c, appended to out (bounded by SORT_KEY_MAX). */
static int string_key(struct buf *out, const struct mime_tree *tree, Cpm__SortCriterion c)
{
	if (tree == NULL)
		return 0;
	const struct imap_envelope *env = &tree->parts[0].env;
	size_t len;
	if (c == CPM__SORT_CRITERION__SORT_SUBJECT) {
		const unsigned char *subj = mime_tree_str(tree, env->subject, &len);
		return subj != NULL ? base_subject(out, subj, len, SORT_KEY_MAX, NULL) : 0;
	}
	enum imap_envelope_addr_field f = c == CPM__SORT_CRITERION__SORT_CC ? IMAP_ENV_CC
					  : c == CPM__SORT_CRITERION__SORT_FROM || c == CPM__SORT_CRITERION__SORT_DISPLAYFROM
					      ? IMAP_ENV_FROM
					      : IMAP_ENV_TO;
	struct mime_list l = env->addr[f];
	if (l.count == 0 || (size_t)l.first + 4 > tree->st.n_strs)
		return 0;
	const struct mime_str *a = &tree->st.strs[l.first]; /* name adl mailbox host */
	size_t nl, ml, hl;
	const unsigned char *name = mime_tree_str(tree, a[0], &nl);
	const unsigned char *mbox = mime_tree_str(tree, a[2], &ml);
	const unsigned char *host = mime_tree_str(tree, a[3], &hl);
	size_t start = out->len;
	if (c == CPM__SORT_CRITERION__SORT_DISPLAYFROM || c == CPM__SORT_CRITERION__SORT_DISPLAYTO) {
		if (name != NULL && nl > 0) {
			if (mime_decode_words(out, name, nl, SORT_KEY_MAX) < 0)
				return -1;
		} else if (mbox != NULL) {
			if (buf_append(out, mbox, ml) < 0 ||
			    (host != NULL && (buf_append_byte(out, '@') < 0 || buf_append(out, host, hl) < 0)))
				return -1;
		}
	} else if (mbox != NULL && buf_append(out, mbox, ml) < 0) {
		return -1;
	}
	buf_truncate(out, start + SORT_KEY_MAX);
	return 0;
}

int sort_set_add(struct sort_set *ss, const struct op_ctx *ctx, MDB_txn *t, uint32_t uid, const Cpmdb__MsgRec *rec)
{
	if (ss->n_crit > SORT_MAX_CRITERIA)
		return -1;
	if (ss->n == ss->cap) {
		size_t cap = ss->cap ? ss->cap * 2 : 256;
		uint32_t *u = realloc(ss->uids, cap * sizeof(*u));
		if (u == NULL)
			return -1;
		ss->uids = u;
		struct sort_val *v = realloc(ss->vals, cap * (ss->n_crit ? ss->n_crit : 1) * sizeof(*v));
		if (v == NULL)
			return -1;
		ss->vals = v;
		ss->cap = cap;
	}
	struct sort_val *vals = &ss->vals[ss->n * ss->n_crit];
	struct mime_tree *tree = NULL;
	bool need_tree = false;
	for (size_t i = 0; i < ss->n_crit; i++)
		need_tree |= ss->crit[i]->by != CPM__SORT_CRITERION__SORT_ARRIVAL &&
			     ss->crit[i]->by != CPM__SORT_CRITERION__SORT_SIZE;
	if (need_tree)
		tree = op_msg_tree(ctx, t, rec, NULL, NULL);
	int rc = 0;
	for (size_t i = 0; i < ss->n_crit && rc == 0; i++) {
		Cpm__SortCriterion c = ss->crit[i]->by;
		vals[i] = (struct sort_val){0, 0, 0};
		if (c == CPM__SORT_CRITERION__SORT_ARRIVAL) {
			vals[i].num = rec->internaldate;
		} else if (c == CPM__SORT_CRITERION__SORT_SIZE) {
			vals[i].num = (int64_t)(rec->size > INT64_MAX ? INT64_MAX : rec->size);
		} else if (c == CPM__SORT_CRITERION__SORT_DATE) {
			vals[i].num = op_sent_date(tree, rec);
		} else if (is_string_key(c)) {
			size_t start = ss->strs.len;
			if (start > UINT32_MAX - SORT_KEY_MAX * 4) {
				rc = -1;
				break;
			}
			rc = string_key(&ss->strs, tree, c);
			vals[i].off = (uint32_t)start;
			vals[i].len = (uint32_t)(ss->strs.len - start);
		}
	}
	mime_tree_free(&tree);
	if (rc == 0)
		ss->uids[ss->n++] = uid;
	return rc;
}

static int compare(const void *a, const void *b, void *arg)
{
	const struct sort_set *ss = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	const struct sort_val *vx = &ss->vals[x * ss->n_crit], *vy = &ss->vals[y * ss->n_crit];
	for (size_t i = 0; i < ss->n_crit; i++) {
		int r;
		if (is_string_key(ss->crit[i]->by))
			r = base_subject_cmp(ss->strs.data + vx[i].off, vx[i].len, ss->strs.data + vy[i].off, vy[i].len);
		else
			r = vx[i].num < vy[i].num ? -1 : vx[i].num > vy[i].num ? 1 : 0;
		if (r != 0)
			return ss->crit[i]->reverse ? -r : r;
	}
	return ss->uids[x] < ss->uids[y] ? -1 : ss->uids[x] > ss->uids[y] ? 1 : 0;
}

int sort_set_finish(struct sort_set *ss, uint32_t *uids_r)
{
	if (ss->n == 0)
		return 0;
	ss->order = malloc(ss->n * sizeof(*ss->order));
	if (ss->order == NULL)
		return -1;
	for (size_t i = 0; i < ss->n; i++)
		ss->order[i] = (uint32_t)i;
	if (ss->strs.data == NULL && buf_reserve(&ss->strs, 1) < 0)
		return -1;
	qsort_r(ss->order, ss->n, sizeof(*ss->order), compare, ss);
	for (size_t i = 0; i < ss->n; i++)
		uids_r[i] = ss->uids[ss->order[i]];
	return 0;
}
