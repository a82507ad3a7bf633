/*
 * qresync: SELECT/EXAMINE (CONDSTORE) / (QRESYNC ...) and the resync report.
 */
#include "qresync.h"

#include "changes.h"
#include "condstore.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 3501 number / RFC 7162 mod-sequence-value: digits only, no sign. */
static bool parse_u64(const struct imap_arg *a, uint64_t max, uint64_t *v_r)
{
	if (a->type != IMAP_ARG_ATOM || a->str == NULL || a->len == 0 || a->len > 20)
		return false;
	for (size_t i = 0; i < a->len; i++)
		if (a->str[i] < '0' || a->str[i] > '9')
			return false;
	errno = 0;
	unsigned long long v = strtoull(a->str, NULL, 10);
	if (errno != 0 || v > max)
		return false;
	*v_r = v;
	return true;
}

static bool seqset_arg(const struct imap_arg *a, struct imap_seqset *set)
{
	return a->type == IMAP_ARG_ATOM && a->str != NULL && imap_seqset_parse(a->str, a->len, set) == 0;
}

static const char *parse_qresync(const struct imap_arg *l, struct select_params *p)
{
	if (l->type != IMAP_ARG_LIST || l->list_count < 2 || l->list_count > 4)
		return "QRESYNC needs (uidvalidity modseq [known-uids [seq-match-data]])";
	uint64_t uv = 0, ms = 0;
	if (!parse_u64(&l->list[0], UINT32_MAX, &uv) || uv == 0)
		return "Invalid QRESYNC uidvalidity";
	if (!parse_u64(&l->list[1], INT64_MAX, &ms))
		return "Invalid QRESYNC modseq";
	p->uidvalidity = (uint32_t)uv;
	p->modseq = ms;
	if (l->list_count >= 3) {
		if (!seqset_arg(&l->list[2], &p->known) || imap_seqset_resolve(&p->known, UINT32_MAX) < 0)
			return "Invalid QRESYNC known-uids";
		p->has_known = true;
	}
	if (l->list_count == 4) {
		const struct imap_arg *m = &l->list[3];
		struct imap_seqset a, b;
		imap_seqset_init(&a);
		imap_seqset_init(&b);
		bool ok = m->type == IMAP_ARG_LIST && m->list_count == 2 && seqset_arg(&m->list[0], &a) &&
			  seqset_arg(&m->list[1], &b) && !a.star && !b.star &&
			  imap_seqset_count(&a) == imap_seqset_count(&b);
		imap_seqset_free(&a);
		imap_seqset_free(&b);
		if (!ok)
			return "Invalid QRESYNC seq-match-data";
	}
	p->qresync = p->condstore = true;
	return NULL;
}

const char *select_params_parse(const struct session *s, const struct imap_arg *list, struct select_params *p)
{
	memset(p, 0, sizeof(*p));
	imap_seqset_init(&p->known);
	if (list->type != IMAP_ARG_LIST)
		return "SELECT parameters must be a list";
	for (unsigned i = 0; i < list->list_count; i++) {
		const struct imap_arg *a = &list->list[i];
		const char *name = a->type == IMAP_ARG_ATOM ? a->str : "";
		if (strcasecmp(name, "CONDSTORE") == 0) {
			p->condstore = true;
		} else if (strcasecmp(name, "QRESYNC") == 0) {
			if (!s->qresync)
				return "QRESYNC not enabled";
			if (p->qresync || i + 1 >= list->list_count)
				return "Invalid QRESYNC parameter";
			const char *err = parse_qresync(&list->list[++i], p);
			if (err != NULL)
				return err;
		} else {
			return "Unknown SELECT parameter";
		}
	}
	return NULL;
}

void select_params_clear(struct select_params *p)
{
	imap_seqset_free(&p->known);
	p->has_known = false;
}

struct report_ctx {
	const struct select_params *p;
	void (*done)(struct session *s, bool ok, void *arg);
	void *arg;
	uint32_t *gone; /* scratch for one page's VANISHED UIDs */
};

static void report_page(struct session *s, const Cpm__ChangesResp *r, void *arg)
{
	struct report_ctx *c = arg;
	size_t n = 0;
	uint32_t *gone = r->n_expunged ? realloc(c->gone, r->n_expunged * sizeof(uint32_t)) : c->gone;
	if (gone != NULL) {
		c->gone = gone;
		for (size_t i = 0; i < r->n_expunged; i++)
			if (!c->p->has_known || imap_seqset_contains(&c->p->known, r->expunged[i]))
				gone[n++] = r->expunged[i];
		condstore_write_vanished(s, true, gone, n);
	} else {
		for (size_t i = 0; i < r->n_expunged; i++)
			if (!c->p->has_known || imap_seqset_contains(&c->p->known, r->expunged[i]))
				condstore_write_vanished(s, true, &r->expunged[i], 1);
	}
	for (size_t i = 0; i < r->n_changed; i++) {
		uint32_t seq = session_seq_of_uid(s, r->changed[i]->uid);
		if (seq != 0)
			condstore_write_fetch(s, seq, r->changed[i], true, true);
	}
}

static void report_done(struct session *s, bool ok, const Cpm__Response *last, void *arg)
{
	struct report_ctx *c = arg;
	c->done(s, ok, c->arg);
	free(c->gone);
	free(c);
}

void qresync_report(struct session *s, const struct select_params *p,
		    void (*done)(struct session *s, bool ok, void *arg), void *arg)
{
	if (!p->qresync || p->uidvalidity != s->sel.uidvalidity) {
		done(s, true, arg); /* nothing to resync: the client starts afresh */
		return;
	}
	struct report_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		done(s, false, arg);
		return;
	}
	c->p = p;
	c->done = done;
	c->arg = arg;
	if (changes_walk(s, p->modseq, report_page, report_done, c) < 0) {
		free(c);
		done(s, false, arg);
	}
}
