/*
 * op-thread: ORDEREDSUBJECT and REFERENCES threading. See op-thread.h.
 *
 * REFERENCES works on an array of containers (struct node): index 0 is the
 * invisible root, the others are messages or dummies (msg == NONE). A
 * container knows its parent, its first and last child and its next
 * sibling; step 1 only sets parents, step 2 builds the child lists from
 * them, and the later steps splice lists. The root's children are kept in
 * an array during the subject merge (step 5), where threads leave the root
 * in any order. Ids and subjects are found through one small open-addressing
 * hash table type (struct idmap) over strings kept in ts->strs.
 */
#include "op-thread.h"

#include "base-subject.h"
#include "mime-header.h"
#include "op-sort.h"

#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

/* ---- collecting ---------------------------------------------------------- */

void thread_set_init(struct thread_set *ts, Cpm__ThreadAlgorithm alg)
{
	memset(ts, 0, sizeof(*ts));
	ts->alg = alg;
}

void thread_set_free(struct thread_set *ts)
{
	free(ts->msgs);
	free(ts->refs);
	buf_free(&ts->strs);
	memset(ts, 0, sizeof(*ts));
}

void thread_nodes_free(Cpm__ThreadNode **nodes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(nodes[i]);
	free(nodes);
}

/* Skips a comment at v[*i] == '(' (nesting bounded); false when unterminated. */
static void skip_comment(const unsigned char *v, size_t len, size_t *i)
{
	unsigned depth = 0;
	while (*i < len) {
		unsigned char c = v[(*i)++];
		if (c == '\\' && *i < len)
			(*i)++;
		else if (c == '(')
			depth++;
		else if (c == ')' && --depth == 0)
			return;
	}
}

/* The next valid msg-id of v[*pos .. len), normalised and appended to out;
 * false when there is none. */
static bool next_msgid(struct buf *out, const unsigned char *v, size_t len, size_t *pos)
{
	size_t i = *pos;
	while (i < len) {
		if (v[i] == '(') {
			skip_comment(v, len, &i);
			continue;
		}
		if (v[i] != '<') {
			i++;
			continue;
		}
		size_t start = out->len, at = 0;
		bool ok = true;
		i++;
		while (i < len && v[i] != '>' && v[i] != '<') {
			unsigned char c = v[i++];
			if (c == '"' || c == ' ' || c == '\t' || c == '\r' || c == '\n')
				continue;
			if (c == '\\' && i < len)
				c = v[i++];
			if (c == '@' && at == 0)
				at = out->len - start + 1;
			if (out->len - start >= THREAD_ID_MAX || buf_append_byte(out, c) < 0)
				ok = false;
		}
		size_t n = out->len - start;
		if (ok && i < len && v[i] == '>' && at > 1 && at < n) {
			*pos = i + 1;
			return true;
		}
		buf_truncate(out, start);
	}
	*pos = len;
	return false;
}

static int add_ref(struct thread_set *ts, uint32_t off, uint32_t len)
{
	if (ts->n_refs == ts->cap_refs) {
		size_t cap = ts->cap_refs ? ts->cap_refs * 2 : 256;
		struct thread_ref *r = realloc(ts->refs, cap * sizeof(*r));
		if (r == NULL)
			return -1;
		ts->refs = r;
		ts->cap_refs = cap;
	}
	ts->refs[ts->n_refs++] = (struct thread_ref){off, len};
	return 0;
}

int thread_set_add_fields(struct thread_set *ts, uint32_t uid, int64_t date, const unsigned char *subject,
			  size_t subject_len, const unsigned char *message_id, size_t message_id_len,
			  const unsigned char *in_reply_to, size_t in_reply_to_len, const unsigned char *references,
			  size_t references_len)
{
	if (ts->strs.len > UINT32_MAX / 2)
		return -1;
	if (ts->n == ts->cap) {
		size_t cap = ts->cap ? ts->cap * 2 : 256;
		struct thread_msg *m = realloc(ts->msgs, cap * sizeof(*m));
		if (m == NULL)
			return -1;
		ts->msgs = m;
		ts->cap = cap;
	}
	struct thread_msg *m = &ts->msgs[ts->n];
	memset(m, 0, sizeof(*m));
	m->uid = uid;
	m->date = date;
	size_t start = ts->strs.len;
	if (subject != NULL && base_subject(&ts->strs, subject, subject_len, SORT_KEY_MAX, &m->reply) < 0)
		return -1;
	m->subj_off = (uint32_t)start;
	m->subj_len = (uint32_t)(ts->strs.len - start);
	size_t pos = 0;
	start = ts->strs.len;
	if (message_id != NULL && next_msgid(&ts->strs, message_id, message_id_len, &pos)) {
		m->id_off = (uint32_t)start;
		m->id_len = (uint32_t)(ts->strs.len - start);
	}
	/* References, the last THREAD_MAX_REFS of them (counted first, so that
	 * only those are stored); else In-Reply-To's first id. */
	m->refs_first = (uint32_t)ts->n_refs;
	size_t total = 0;
	struct buf probe = {0};
	for (pos = 0; references != NULL && next_msgid(&probe, references, references_len, &pos); total++)
		buf_reset(&probe);
	buf_free(&probe);
	pos = 0;
	start = ts->strs.len;
	for (size_t k = 0; references != NULL && next_msgid(&ts->strs, references, references_len, &pos); k++) {
		if (total - k > THREAD_MAX_REFS) {
			buf_truncate(&ts->strs, start);
			continue;
		}
		if (add_ref(ts, (uint32_t)start, (uint32_t)(ts->strs.len - start)) < 0)
			return -1;
		m->n_refs++;
		start = ts->strs.len;
	}
	pos = 0;
	if (m->n_refs == 0 && in_reply_to != NULL && next_msgid(&ts->strs, in_reply_to, in_reply_to_len, &pos)) {
		if (add_ref(ts, (uint32_t)start, (uint32_t)(ts->strs.len - start)) < 0)
			return -1;
		m->n_refs = 1;
	}
	ts->n++;
	return 0;
}

/* The unfolded value of the first field name of the header hdr[0 .. len) into out. */
static bool header_value(struct buf *out, const unsigned char *hdr, size_t len, const char *name)
{
	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, hdr, len, MIME_HEADER_MAX_LINES);
	while (mime_header_iter_next(&it, &f)) {
		if (mime_header_name_is(hdr, &f, name))
			return mime_header_unfold(out, hdr + f.value_off, f.value_len, true) == 0;
	}
	return false;
}

int thread_set_add(struct thread_set *ts, const struct op_ctx *ctx, MDB_txn *t, uint32_t uid, const Cpmdb__MsgRec *rec)
{
	const unsigned char *msg;
	size_t len;
	struct mime_tree *tree = op_msg_tree(ctx, t, rec, &msg, &len);
	int64_t date = op_sent_date(tree, rec);
	const unsigned char *subj = NULL, *mid = NULL, *irt = NULL;
	size_t sl = 0, ml = 0, il = 0;
	struct buf refs = {0};
	bool have_refs = false;
	if (tree != NULL) {
		const struct mime_part *root = &tree->parts[0];
		subj = mime_tree_str(tree, root->env.subject, &sl);
		mid = mime_tree_str(tree, root->env.message_id, &ml);
		irt = mime_tree_str(tree, root->env.in_reply_to, &il);
		if (msg != NULL && root->hdr_off <= len) {
			size_t hl = root->hdr_len <= len - root->hdr_off ? root->hdr_len : len - root->hdr_off;
			have_refs = header_value(&refs, msg + root->hdr_off, hl, "References");
		}
	}
	int rc = thread_set_add_fields(ts, uid, date, subj, sl, mid, ml, irt, il, have_refs ? refs.data : NULL,
				       refs.len);
	buf_free(&refs);
	mime_tree_free(&tree);
	return rc;
}

/* ---- string tables -------------------------------------------------------- */

struct idmap {
	uint32_t *slots; /* value + 1; 0 = empty */
	size_t cap, n;
	bool fold;       /* keys compare with i;ascii-casemap */
};

static uint64_t hash(const unsigned char *p, size_t n, bool fold)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		if (fold && c >= 'a' && c <= 'z')
			c -= 32;
		h = (h ^ c) * 1099511628211ull;
	}
	return h;
}

typedef void key_fn(const void *arg, uint32_t v, const unsigned char **p_r, size_t *n_r);

/* Finds key p[0 .. n); *slot_r is its slot or the empty one to fill. */
static uint32_t idmap_find(const struct idmap *m, const unsigned char *p, size_t n, key_fn *key, const void *arg,
			   size_t *slot_r)
{
	size_t i = hash(p, n, m->fold) & (m->cap - 1);
	for (;; i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i] == 0)
			break;
		const unsigned char *kp;
		size_t kn;
		key(arg, m->slots[i] - 1, &kp, &kn);
		if (kn == n && (m->fold ? base_subject_cmp(kp, kn, p, n) == 0 : memcmp(kp, p, n) == 0)) {
			*slot_r = i;
			return m->slots[i] - 1;
		}
	}
	*slot_r = i;
	return NONE;
}

static int idmap_init(struct idmap *m, size_t expect, bool fold)
{
	m->cap = 64;
	while (m->cap < expect * 2)
		m->cap *= 2;
	m->n = 0;
	m->fold = fold;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	return m->slots != NULL ? 0 : -1;
}

/* Stores v in slot (from idmap_find); grows at half full. */
static int idmap_put(struct idmap *m, size_t slot, uint32_t v, key_fn *key, const void *arg)
{
	m->slots[slot] = v + 1;
	if (++m->n * 2 <= m->cap)
		return 0;
	struct idmap g = {NULL, m->cap * 2, 0, m->fold};
	if ((g.slots = calloc(g.cap, sizeof(*g.slots))) == NULL)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		if (m->slots[i] == 0)
			continue;
		const unsigned char *kp;
		size_t kn, s;
		key(arg, m->slots[i] - 1, &kp, &kn);
		idmap_find(&g, kp, kn, key, arg, &s);
		g.slots[s] = m->slots[i];
		g.n++;
	}
	free(m->slots);
	*m = g;
	return 0;
}

/* ---- the containers ------------------------------------------------------ */

struct node {
	uint32_t msg; /* index into ts->msgs, NONE for a dummy */
	uint32_t parent, first, last, next;
	uint32_t id_off, id_len;
	bool had_child; /* step 1: something was linked under it (no walk needed otherwise) */
};

struct tree {
	const struct thread_set *ts;
	struct node *nodes;
	size_t n, cap;
};

static uint32_t node_new(struct tree *tr, uint32_t msg, uint32_t id_off, uint32_t id_len)
{
	if (tr->n == tr->cap) {
		size_t cap = tr->cap ? tr->cap * 2 : 256;
		struct node *n = realloc(tr->nodes, cap * sizeof(*n));
		if (n == NULL)
			return NONE;
		tr->nodes = n;
		tr->cap = cap;
	}
	tr->nodes[tr->n] = (struct node){msg, NONE, NONE, NONE, NONE, id_off, id_len, false};
	return (uint32_t)tr->n++;
}

static void node_id(const void *arg, uint32_t v, const unsigned char **p_r, size_t *n_r)
{
	const struct tree *tr = arg;
	*p_r = tr->ts->strs.data + tr->nodes[v].id_off;
	*n_r = tr->nodes[v].id_len;
}

static void append_child(struct tree *tr, uint32_t parent, uint32_t c)
{
	struct node *p = &tr->nodes[parent];
	tr->nodes[c].parent = parent;
	tr->nodes[c].next = NONE;
	if (p->last == NONE)
		p->first = c;
	else
		tr->nodes[p->last].next = c;
	p->last = c;
}

/* Whether a is c or an ancestor of c (too deep counts as yes). */
static bool is_ancestor(const struct tree *tr, uint32_t a, uint32_t c)
{
	if (!tr->nodes[a].had_child)
		return a == c;
	for (unsigned steps = 0; c != NONE; steps++) {
		if (c == a || steps > THREAD_MAX_WALK)
			return true;
		c = tr->nodes[c].parent;
	}
	return false;
}

/* The sort key of a container: its message, or its first child's. */
static const struct thread_msg *node_msg(const struct tree *tr, uint32_t c)
{
	for (unsigned i = 0; c != NONE && i < 4; i++) {
		if (tr->nodes[c].msg != NONE)
			return &tr->ts->msgs[tr->nodes[c].msg];
		c = tr->nodes[c].first;
	}
	return NULL;
}

static int msg_cmp(const struct thread_msg *a, const struct thread_msg *b)
{
	if (a == NULL || b == NULL)
		return a == b ? 0 : a == NULL ? 1 : -1;
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->uid < b->uid ? -1 : a->uid > b->uid ? 1 : 0;
}

static int node_cmp(const void *x, const void *y, void *arg)
{
	const struct tree *tr = arg;
	return msg_cmp(node_msg(tr, *(const uint32_t *)x), node_msg(tr, *(const uint32_t *)y));
}

/* Sorts the children of p; scratch is a buffer of uint32_t reused. */
static int sort_children(struct tree *tr, uint32_t p, struct buf *scratch)
{
	buf_reset(scratch);
	for (uint32_t c = tr->nodes[p].first; c != NONE; c = tr->nodes[c].next)
		if (buf_append(scratch, &c, sizeof(c)) < 0)
			return -1;
	size_t n = scratch->len / sizeof(uint32_t);
	if (n < 2)
		return 0;
	uint32_t *v = (uint32_t *)(void *)scratch->data;
	qsort_r(v, n, sizeof(*v), node_cmp, tr);
	tr->nodes[p].first = tr->nodes[p].last = NONE;
	for (size_t i = 0; i < n; i++)
		append_child(tr, p, v[i]);
	return 0;
}

/* Sorts every sibling set: the children of dummies first (a dummy sorts
 * by its first child), then the rest. */
static int sort_all(struct tree *tr, struct buf *scratch)
{
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 1; i < tr->n; i++)
			if ((tr->nodes[i].msg == NONE) == (pass == 0) && tr->nodes[i].first != NONE &&
			    sort_children(tr, (uint32_t)i, scratch) < 0)
				return -1;
	return sort_children(tr, 0, scratch);
}

/* Step 3: prune dummies, iteratively. */
static int prune(struct tree *tr)
{
	struct buf stack = {0};
	uint32_t p = 0;
	for (;;) {
		uint32_t prev = NONE, c = tr->nodes[p].first;
		while (c != NONE) {
			struct node *n = &tr->nodes[c];
			uint32_t next = n->next;
			if (n->msg == NONE && (n->first == NONE || p != 0 || n->first == n->last)) {
				/* delete it; its children (if any) take its place */
				uint32_t repl = n->first != NONE ? n->first : next;
				for (uint32_t k = n->first; k != NONE; k = tr->nodes[k].next)
					tr->nodes[k].parent = p;
				if (n->first != NONE)
					tr->nodes[n->last].next = next;
				if (prev == NONE)
					tr->nodes[p].first = repl;
				else
					tr->nodes[prev].next = repl;
				if (next == NONE)
					tr->nodes[p].last = n->first != NONE ? n->last : prev;
				n->first = n->last = NONE;
				c = repl; /* promoted children are looked at at this level */
				continue;
			}
			if (n->first != NONE && buf_append(&stack, &c, sizeof(c)) < 0) {
				buf_free(&stack);
				return -1;
			}
			prev = c;
			c = next;
		}
		if (stack.len == 0)
			break;
		stack.len -= sizeof(uint32_t);
		memcpy(&p, stack.data + stack.len, sizeof(p));
	}
	buf_free(&stack);
	return 0;
}

static const struct thread_msg *subject_msg(const struct tree *tr, uint32_t c)
{
	const struct thread_msg *m = node_msg(tr, c);
	return m != NULL && m->subj_len > 0 ? m : NULL;
}

struct subj_ctx {
	const struct tree *tr;
	const uint32_t *roots;
};

static void root_subject(const void *arg, uint32_t v, const unsigned char **p_r, size_t *n_r)
{
	const struct subj_ctx *sc = arg;
	const struct thread_msg *m = subject_msg(sc->tr, sc->roots[v]);
	*p_r = m != NULL ? sc->tr->ts->strs.data + m->subj_off : NULL;
	*n_r = m != NULL ? m->subj_len : 0;
}

/* Step 5: merge the root's threads that share a base subject. */
static int gather_subjects(struct tree *tr)
{
	struct buf rb = {0};
	for (uint32_t c = tr->nodes[0].first; c != NONE; c = tr->nodes[c].next)
		if (buf_append(&rb, &c, sizeof(c)) < 0)
			goto fail;
	size_t nr = rb.len / sizeof(uint32_t);
	uint32_t *roots = (uint32_t *)(void *)rb.data;
	struct subj_ctx sc = {tr, roots};
	struct idmap tab;
	if (idmap_init(&tab, nr, true) < 0)
		goto fail;
	for (size_t i = 0; i < nr; i++) { /* (B) one container per subject */
		const struct thread_msg *m = subject_msg(tr, roots[i]);
		if (m == NULL)
			continue;
		size_t slot;
		uint32_t t = idmap_find(&tab, tr->ts->strs.data + m->subj_off, m->subj_len, root_subject, &sc, &slot);
		if (t == NONE) {
			if (idmap_put(&tab, slot, (uint32_t)i, root_subject, &sc) < 0)
				goto fail_tab;
			continue;
		}
		const struct node *tn = &tr->nodes[roots[t]], *cn = &tr->nodes[roots[i]];
		if (tn->msg != NONE &&
		    (cn->msg == NONE || (tr->ts->msgs[tn->msg].reply && !tr->ts->msgs[cn->msg].reply)))
			tab.slots[slot] = (uint32_t)i + 1;
	}
	for (size_t i = 0; i < nr; i++) { /* (C) merge */
		uint32_t c = roots[i];
		const struct thread_msg *m = c != NONE ? subject_msg(tr, c) : NULL;
		if (m == NULL)
			continue;
		size_t slot;
		uint32_t t = idmap_find(&tab, tr->ts->strs.data + m->subj_off, m->subj_len, root_subject, &sc, &slot);
		if (t == NONE || t == i)
			continue;
		uint32_t tc = roots[t];
		struct node *cn = &tr->nodes[c];
		if (tr->nodes[tc].msg == NONE && cn->msg == NONE) {
			/* both dummies: the children join the table's */
			uint32_t k = cn->first;
			while (k != NONE) {
				uint32_t next = tr->nodes[k].next;
				append_child(tr, tc, k);
				k = next;
			}
			cn->first = cn->last = NONE;
		} else if (tr->nodes[tc].msg == NONE ||
			   (cn->msg != NONE && tr->ts->msgs[cn->msg].reply && !tr->ts->msgs[tr->nodes[tc].msg].reply)) {
			append_child(tr, tc, c);
		} else {
			uint32_t d = node_new(tr, NONE, 0, 0);
			if (d == NONE)
				goto fail_tab;
			cn = &tr->nodes[c];
			append_child(tr, d, tc);
			append_child(tr, d, c);
			roots[t] = d; /* the dummy takes tc's place, in the table too */
		}
		roots[i] = NONE;
	}
	/* Rebuild the root's list. */
	tr->nodes[0].first = tr->nodes[0].last = NONE;
	for (size_t i = 0; i < nr; i++)
		if (roots[i] != NONE)
			append_child(tr, 0, roots[i]);
	free(tab.slots);
	buf_free(&rb);
	return 0;
fail_tab:
	free(tab.slots);
fail:
	buf_free(&rb);
	return -1;
}

static int references(const struct thread_set *ts, struct tree *tr)
{
	struct idmap ids;
	if (node_new(tr, NONE, 0, 0) != 0 || idmap_init(&ids, ts->n + ts->n_refs, false) < 0)
		return -1;
	int rc = -1;
	/* Step 1: link. */
	for (size_t i = 0; i < ts->n; i++) {
		const struct thread_msg *m = &ts->msgs[i];
		uint32_t c = NONE;
		size_t slot;
		if (m->id_len > 0) {
			c = idmap_find(&ids, ts->strs.data + m->id_off, m->id_len, node_id, tr, &slot);
			if (c != NONE && tr->nodes[c].msg == NONE) {
				tr->nodes[c].msg = (uint32_t)i;
			} else if (c == NONE) {
				if ((c = node_new(tr, (uint32_t)i, m->id_off, m->id_len)) == NONE ||
				    idmap_put(&ids, slot, c, node_id, tr) < 0)
					goto out;
			} else {
				c = NONE; /* a duplicate id: this one gets a unique one */
			}
		}
		if (c == NONE && (c = node_new(tr, (uint32_t)i, 0, 0)) == NONE)
			goto out;
		uint32_t prev = NONE;
		for (uint32_t r = 0; r < m->n_refs; r++) {
			const struct thread_ref *ref = &ts->refs[m->refs_first + r];
			uint32_t k = idmap_find(&ids, ts->strs.data + ref->off, ref->len, node_id, tr, &slot);
			if (k == NONE) {
				if ((k = node_new(tr, NONE, ref->off, ref->len)) == NONE ||
				    idmap_put(&ids, slot, k, node_id, tr) < 0)
					goto out;
			}
			if (prev != NONE && tr->nodes[k].parent == NONE && !is_ancestor(tr, k, prev)) {
				tr->nodes[k].parent = prev;
				tr->nodes[prev].had_child = true;
			}
			prev = k;
		}
		tr->nodes[c].parent = NONE;
		if (prev != NONE && !is_ancestor(tr, c, prev)) {
			tr->nodes[c].parent = prev;
			tr->nodes[prev].had_child = true;
		}
	}
	/* Step 2: the root set, and every child list. */
	for (size_t i = 1; i < tr->n; i++)
		append_child(tr, tr->nodes[i].parent == NONE ? 0 : tr->nodes[i].parent, (uint32_t)i);
	struct buf scratch = {0};
	rc = prune(tr) == 0 && sort_all(tr, &scratch) == 0 && gather_subjects(tr) == 0 && sort_all(tr, &scratch) == 0
		     ? 0
		     : -1;
	buf_free(&scratch);
out:
	free(ids.slots);
	return rc;
}

/* ---- ORDEREDSUBJECT ------------------------------------------------------ */

static int subject_date_cmp(const void *x, const void *y, void *arg)
{
	const struct thread_set *ts = arg;
	const struct thread_msg *a = &ts->msgs[*(const uint32_t *)x], *b = &ts->msgs[*(const uint32_t *)y];
	int r = base_subject_cmp(ts->strs.data + a->subj_off, a->subj_len, ts->strs.data + b->subj_off, b->subj_len);
	return r != 0 ? r : msg_cmp(a, b);
}

static int ordered_subject(const struct thread_set *ts, struct tree *tr)
{
	uint32_t *v = malloc((ts->n ? ts->n : 1) * sizeof(*v));
	if (v == NULL || node_new(tr, NONE, 0, 0) != 0) {
		free(v);
		return -1;
	}
	for (size_t i = 0; i < ts->n; i++)
		v[i] = (uint32_t)i;
	if (ts->strs.data != NULL)
		qsort_r(v, ts->n, sizeof(*v), subject_date_cmp, (void *)ts);
	uint32_t root = NONE;
	for (size_t i = 0; i < ts->n; i++) {
		uint32_t c = node_new(tr, v[i], 0, 0);
		if (c == NONE) {
			free(v);
			return -1;
		}
		const struct thread_msg *m = &ts->msgs[v[i]], *r = root != NONE ? &ts->msgs[tr->nodes[root].msg] : NULL;
		if (r != NULL && base_subject_cmp(ts->strs.data + r->subj_off, r->subj_len, ts->strs.data + m->subj_off,
						  m->subj_len) == 0) {
			append_child(tr, root, c);
		} else {
			append_child(tr, 0, c);
			root = c;
		}
	}
	free(v);
	struct buf scratch = {0};
	int rc = sort_children(tr, 0, &scratch);
	buf_free(&scratch);
	return rc;
}

/* ---- the answer -------------------------------------------------------- */

/* Pre-order walk from the root, with an explicit stack. */
static int emit(const struct tree *tr, Cpm__ThreadNode ***nodes_r, size_t *n_r)
{
	size_t cap = tr->n, n = 0;
	Cpm__ThreadNode **out = calloc(cap ? cap : 1, sizeof(*out));
	uint32_t *pos = calloc(cap ? cap : 1, sizeof(*pos)); /* node -> 1-based output index */
	uint32_t *stack = malloc((cap ? cap : 1) * sizeof(*stack));
	size_t sp = 0;
	if (out == NULL || pos == NULL || stack == NULL)
		goto fail;
	/* Push children in reverse so the first pops first. */
	for (uint32_t c = tr->nodes[0].first; c != NONE; c = tr->nodes[c].next)
		stack[sp++] = c;
	for (size_t a = 0, b = sp; b > a + 1; a++, b--) {
		uint32_t x = stack[a];
		stack[a] = stack[b - 1];
		stack[b - 1] = x;
	}
	while (sp > 0) {
		uint32_t c = stack[--sp];
		const struct node *nd = &tr->nodes[c];
		Cpm__ThreadNode *tn = malloc(sizeof(*tn));
		if (tn == NULL || n >= cap) {
			free(tn);
			goto fail;
		}
		cpm__thread_node__init(tn);
		tn->uid = nd->msg != NONE ? tr->ts->msgs[nd->msg].uid : 0;
		tn->parent = nd->parent == 0 || nd->parent == NONE ? 0 : pos[nd->parent];
		out[n++] = tn;
		pos[c] = (uint32_t)n;
		size_t base = sp;
		for (uint32_t k = nd->first; k != NONE && sp < cap; k = tr->nodes[k].next)
			stack[sp++] = k;
		for (size_t a = base, b = sp; b > a + 1; a++, b--) {
			uint32_t x = stack[a];
			stack[a] = stack[b - 1];
			stack[b - 1] = x;
		}
	}
	free(pos);
	free(stack);
	*nodes_r = out;
	*n_r = n;
	return 0;
fail:
	if (out != NULL)
		thread_nodes_free(out, n);
	free(pos);
	free(stack);
	return -1;
}

int thread_set_finish(struct thread_set *ts, Cpm__ThreadNode ***nodes_r, size_t *n_r)
{
	*nodes_r = NULL;
	*n_r = 0;
	if (ts->n == 0)
		return 0;
	struct tree tr = {.ts = ts};
	int rc = ts->alg == CPM__THREAD_ALGORITHM__THREAD_ORDEREDSUBJECT ? ordered_subject(ts, &tr)
									: references(ts, &tr);
	if (rc == 0)
		rc = emit(&tr, nodes_r, n_r);
	free(tr.nodes);
	return rc;
}
