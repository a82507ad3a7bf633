/*
 * recent: the \Recent set of the selected folder and its claims (recent.h).
 */
#include "recent.h"

#include "rpc-client.h"
#include "u64map.h"

#include <stdint.h>
#include <stdlib.h>

static int recent_add(struct selected_folder *f, uint32_t first, uint32_t last)
{
	if (f->n_recent > 0 && f->recent[f->n_recent - 1].last + 1 == first) {
		f->recent[f->n_recent - 1].last = last;
		return 0;
	}
	if (f->n_recent >= RECENT_MAX_RANGES)
		return -1;
	Cpm__UidRange *nr = realloc(f->recent, (f->n_recent + 1) * sizeof(*nr));
	if (nr == NULL)
		return -1;
	f->recent = nr;
	cpm__uid_range__init(&nr[f->n_recent]);
	nr[f->n_recent].first = first;
	nr[f->n_recent].last = last;
	f->n_recent++;
	return 0;
}

void recent_open(struct selected_folder *f, uint32_t first_recent_uid)
{
	f->recent = NULL;
	f->n_recent = 0;
	f->claimed_upto = f->uidnext;
	if (first_recent_uid != 0 && first_recent_uid < f->uidnext)
		(void)recent_add(f, first_recent_uid, f->uidnext - 1);
	f->recent_told = recent_count(f);
}

void recent_free(struct selected_folder *f)
{
	free(f->recent);
	f->recent = NULL;
	f->n_recent = 0;
}

bool recent_has(const struct selected_folder *f, uint32_t uid)
{
	return uid_ranges_contain(f->recent, f->n_recent, uid);
}

uint32_t recent_count(const struct selected_folder *f)
{
	uint32_t n = 0;
	for (size_t i = 0; i < f->n_recent; i++) {
		size_t a = view_lower_bound(f, f->recent[i].first);
		size_t b = f->recent[i].last == UINT32_MAX ? f->count : view_lower_bound(f, f->recent[i].last + 1);
		n += (uint32_t)(b - a);
	}
	return n;
}

struct claim_ctx {
	struct session *s;
	void (*done)(struct session *s);
	uint64_t folder_id;
	uint64_t key;
	uint32_t upto;
};

/* fe_worker.recent_claims key: folder ids are per shard, so the shard goes in the top byte. */
static uint64_t claim_key(const struct session *s)
{
	return s->sel.folder_id ^ ((uint64_t)(s->sel.shard + 1) << 56);
}

static void tell(struct session *s)
{
	uint32_t n = recent_count(&s->sel);
	if (n != s->sel.recent_told) {
		s->sel.recent_told = n;
		session_untagged(s, "%u RECENT", (unsigned)n);
	}
}

static void on_claim(const Cpm__Response *resp, void *arg)
{
	struct claim_ctx *c = arg;
	struct session *s = c->s;
	struct u64map *inflight = &s->w->recent_claims;
	if ((uintptr_t)u64map_get(inflight, c->key) == c->upto)
		u64map_del(inflight, c->key);
	if (!session_closed(s)) {
		/* Still the same folder (a claim is not cancelled by a re-SELECT). */
		if (s->state == SESSION_SELECTED && s->sel.folder_id == c->folder_id && resp->status == CPM__STATUS__OK &&
		    resp->result_case == CPM__RESPONSE__RESULT_RECENT_CLAIM && resp->recent_claim != NULL) {
			const Cpm__RecentClaimResp *r = resp->recent_claim;
			if (r->first_uid < r->end_uid)
				(void)recent_add(&s->sel, r->first_uid, r->end_uid - 1);
			tell(s);
		}
		c->done(s);
	}
	free(c);
	session_unref(s);
}

void recent_claim(struct session *s, void (*done)(struct session *s))
{
	struct selected_folder *f = &s->sel;
	if (s->state != SESSION_SELECTED || f->readonly || f->uidnext <= f->claimed_upto ||
	    f->n_recent >= RECENT_MAX_RANGES) {
		done(s);
		return;
	}
	/* Nothing to win: the log read showed them claimed already, or another
	 * session of this worker is claiming them (many sessions watching one
	 * folder then cost one claim per worker, not one each). */
	struct u64map *inflight = &s->w->recent_claims;
	uint64_t key = claim_key(s);
	uintptr_t other = (uintptr_t)u64map_get(inflight, key);
	if (f->folder_recent_uid >= f->uidnext || other >= f->uidnext) {
		f->claimed_upto = f->uidnext;
		done(s);
		return;
	}
	struct claim_ctx *c = malloc(sizeof(*c));
	if (c == NULL || u64map_put(inflight, key, (void *)(uintptr_t)f->uidnext) < 0) {
		free(c);
		done(s);
		return;
	}
	c->s = s;
	c->done = done;
	c->folder_id = f->folder_id;
	c->key = key;
	c->upto = f->uidnext;
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__RecentClaimReq q = CPM__RECENT_CLAIM_REQ__INIT;
	q.user = s->sel.owner;
	q.folder_id = f->folder_id;
	q.uidvalidity = f->uidvalidity;
	q.upto_uid = f->uidnext;
	f->claimed_upto = f->uidnext;
	req.op_case = CPM__REQUEST__OP_RECENT_CLAIM;
	req.recent_claim = &q;
	session_ref(s);
	session_rpc(s, s->sel.shard, &req, 0, on_claim, c);
}
