/* outband-sub: one subscription's users and their log positions. See outband-sub.h. */
#include "outband-sub.h"

#include "clock.h"
#include "log.h"
#include "feed-sub.h"
#include "rpc-client.h"

#include "user-name.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ob_user {
	struct ob_sub *s;
	char *name;
	size_t shard;
	uint64_t log_id, cursor;
	bool positioned; /* log_id/cursor are known (Resume, or the first read) */
	bool watched;
	bool reading;    /* an OutbandReadReq is in flight (call) */
	bool again;      /* read again when the current read ends / the queue drains */
	bool caught_up;  /* the last read reached the log's end */
	uint64_t call;
};

struct ob_sub {
	struct fe_worker *w;
	struct ob_conn *c;
	struct ob_user *users;
	size_t n_users;
	char **folders;
	size_t n_folders;
	bool announced; /* the first caught-up Heartbeat went out */
};

bool ob_folder_matches(const char *pattern, const char *folder)
{
	size_t pl = strlen(pattern);
	if (pl >= 2 && pattern[pl - 2] == '/' && pattern[pl - 1] == '*') {
		size_t base = pl - 2;
		return strncmp(folder, pattern, base) == 0 && (folder[base] == '\0' || folder[base] == '/');
	}
	return strcmp(pattern, folder) == 0;
}

static bool wanted(const struct ob_sub *s, const Cpm__OutbandEntry *e)
{
	if (s->n_folders == 0)
		return true;
	for (size_t i = 0; i < s->n_folders; i++)
		if (ob_folder_matches(s->folders[i], e->folder_name) ||
		    (e->old_folder_name[0] != '\0' && ob_folder_matches(s->folders[i], e->old_folder_name)))
			return true;
	return false;
}

static int send_frame(struct ob_sub *s, Cpm__Outband__ServerFrame *f)
{
	f->schema_version = CPM__OUTBAND__SCHEMA_VERSION__SCHEMA_VERSION;
	return ob_conn_send(s->c, f);
}

static int send_event(struct ob_user *u, const Cpm__OutbandEntry *e, uint64_t log_id)
{
	Cpm__Outband__Event ev = CPM__OUTBAND__EVENT__INIT;
	ev.user = u->name;
	ev.log_id = log_id;
	ev.cursor = e->seq;
	ev.folder = e->folder_name;
	ev.folder_id = e->folder_id;
	ev.uidvalidity = e->uidvalidity;
	ev.modseq = e->modseq;
	ev.kind = (Cpm__Outband__Kind)e->kind; /* the same numbers as cpm.ChangeKind */
	ev.uids = e->uids;
	ev.n_uids = e->n_uids;
	ev.old_folder = e->old_folder_name;
	ev.time_ms = e->time_ms;
	Cpm__Outband__ServerFrame f = CPM__OUTBAND__SERVER_FRAME__INIT;
	f.msg_case = CPM__OUTBAND__SERVER_FRAME__MSG_EVENT;
	f.event = &ev;
	return send_frame(u->s, &f);
}

static void send_resync(struct ob_user *u, const char *reason)
{
	Cpm__Outband__Position p = CPM__OUTBAND__POSITION__INIT;
	p.user = u->name;
	p.log_id = u->log_id;
	p.cursor = u->cursor;
	Cpm__Outband__ResyncNeeded r = CPM__OUTBAND__RESYNC_NEEDED__INIT;
	r.position = &p;
	r.reason = (char *)reason;
	Cpm__Outband__ServerFrame f = CPM__OUTBAND__SERVER_FRAME__INIT;
	f.msg_case = CPM__OUTBAND__SERVER_FRAME__MSG_RESYNC_NEEDED;
	f.resync_needed = &r;
	send_frame(u->s, &f);
	log_info("event=outband_resync user=%s reason=%s", log_quote(u->name, strlen(u->name)), reason);
}

void ob_sub_heartbeat(struct ob_sub *s)
{
	Cpm__Outband__Position *ps = calloc(s->n_users, sizeof(*ps));
	Cpm__Outband__Position **pp = calloc(s->n_users, sizeof(*pp));
	Cpm__Outband__Heartbeat hb = CPM__OUTBAND__HEARTBEAT__INIT;
	if (ps == NULL || pp == NULL) {
		free(ps);
		free(pp);
		return; /* the next one */
	}
	hb.caught_up = true;
	for (size_t i = 0; i < s->n_users; i++) {
		struct ob_user *u = &s->users[i];
		hb.caught_up &= u->caught_up && !u->reading && !u->again;
		if (!u->positioned)
			continue;
		cpm__outband__position__init(&ps[hb.n_positions]);
		ps[hb.n_positions].user = u->name;
		ps[hb.n_positions].log_id = u->log_id;
		ps[hb.n_positions].cursor = u->cursor;
		pp[hb.n_positions] = &ps[hb.n_positions];
		hb.n_positions++;
	}
	hb.positions = pp;
	hb.time_ms = clock_unix_ms();
	Cpm__Outband__ServerFrame f = CPM__OUTBAND__SERVER_FRAME__INIT;
	f.msg_case = CPM__OUTBAND__SERVER_FRAME__MSG_HEARTBEAT;
	f.heartbeat = &hb;
	send_frame(s, &f);
	free(ps);
	free(pp);
}

static void read_log(struct ob_user *u);

static void on_read(const Cpm__Response *resp, void *ctx)
{
	struct ob_user *u = ctx;
	struct ob_sub *s = u->s;
	u->reading = false;
	u->call = 0;
	if (resp->status != CPM__STATUS__OK || resp->result_case != CPM__RESPONSE__RESULT_OUTBAND_READ) {
		/* Shard down or slow: the next tick reads again from the same cursor. */
		log_warn("event=outband_read_failed user=%s status=%d", log_quote(u->name, strlen(u->name)),
			 (int)resp->status);
		u->caught_up = false;
		return;
	}
	const Cpm__OutbandReadResp *r = resp->outband_read;
	if (!u->positioned) {
		u->positioned = true;
		u->log_id = r->log_id;
		u->cursor = r->head;
	} else if (r->resync_needed) {
		u->log_id = r->log_id;
		u->cursor = r->head;
		send_resync(u, r->resync_reason);
	} else {
		for (size_t i = 0; i < r->n_entries; i++) {
			const Cpm__OutbandEntry *e = r->entries[i];
			if (e->seq <= u->cursor)
				continue; /* never twice */
			if (wanted(s, e) && send_event(u, e, r->log_id) < 0)
				return; /* closing */
			u->cursor = e->seq;
		}
		u->log_id = r->log_id;
		/* Nothing of this user up to head: a quiet user's position moves on too. */
		if (!r->more && r->head > u->cursor)
			u->cursor = r->head;
	}
	if (r->more || u->again) {
		u->caught_up = false;
		read_log(u);
		return;
	}
	u->caught_up = true;
	if (!s->announced) {
		for (size_t i = 0; i < s->n_users; i++)
			if (!s->users[i].caught_up)
				return;
		s->announced = true;
		ob_sub_heartbeat(s);
	}
}

static void read_log(struct ob_user *u)
{
	struct ob_sub *s = u->s;
	if (u->reading || ob_conn_pending(s->c) >= OB_LOW_WATER) {
		u->again = true; /* after the read in flight, or when the queue drains */
		return;
	}
	u->again = false;
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__OutbandReadReq q = CPM__OUTBAND_READ_REQ__INIT;
	q.user = u->name;
	q.after = u->cursor;
	q.log_id = u->log_id;
	q.max = OB_READ_PAGE;
	q.from_now = !u->positioned;
	req.op_case = CPM__REQUEST__OP_OUTBAND_READ;
	req.outband_read = &q;
	u->reading = true;
	u->call = rpc_call(s->w->rpc, u->shard, &req, 0, on_read, u);
}

void ob_sub_hint(void *watcher, const char *user)
{
	read_log(watcher);
}

static bool folder_pattern_ok(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > OB_MAX_FOLDER_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return false;
	return true;
}

/* Checks the request; the reason goes in err. */
static bool subscribe_ok(const Cpm__Outband__Subscribe *req, char *err, size_t errlen)
{
	if (req->n_users == 0 || req->n_users > OB_MAX_USERS) {
		snprintf(err, errlen, "1 to %d users per subscription", OB_MAX_USERS);
		return false;
	}
	for (size_t i = 0; i < req->n_users; i++) {
		if (!user_name_valid(req->users[i])) {
			snprintf(err, errlen, "invalid user name (entry %zu)", i + 1);
			return false;
		}
	}
	if (req->n_folders > OB_MAX_FOLDERS) {
		snprintf(err, errlen, "at most %d folder patterns", OB_MAX_FOLDERS);
		return false;
	}
	for (size_t i = 0; i < req->n_folders; i++) {
		if (!folder_pattern_ok(req->folders[i])) {
			snprintf(err, errlen, "invalid folder pattern (entry %zu)", i + 1);
			return false;
		}
	}
	if (req->n_resume > OB_MAX_USERS) {
		snprintf(err, errlen, "at most %d resume positions", OB_MAX_USERS);
		return false;
	}
	for (size_t i = 0; i < req->n_resume; i++) {
		if (req->resume[i]->user == NULL || !user_name_valid(req->resume[i]->user)) {
			snprintf(err, errlen, "invalid user name in resume (entry %zu)", i + 1);
			return false;
		}
	}
	return true;
}

struct ob_sub *ob_sub_new(struct fe_worker *w, struct ob_conn *c,
			  const Cpm__Outband__Subscribe *req, char *err, size_t errlen)
{
	if (!subscribe_ok(req, err, errlen))
		return NULL;
	struct ob_sub *s = calloc(1, sizeof(*s));
	if (s == NULL || (s->users = calloc(req->n_users, sizeof(*s->users))) == NULL ||
	    (req->n_folders > 0 && (s->folders = calloc(req->n_folders, sizeof(char *))) == NULL)) {
		if (s != NULL)
			free(s->users);
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->w = w;
	s->c = c;
	bool oom = false;
	for (size_t i = 0; i < req->n_folders && !oom; i++) {
		oom = (s->folders[i] = strdup(req->folders[i])) == NULL;
		s->n_folders += !oom;
	}
	for (size_t i = 0; i < req->n_users && !oom; i++) {
		bool dup = false;
		for (size_t k = 0; k < s->n_users && !dup; k++)
			dup = strcmp(s->users[k].name, req->users[i]) == 0;
		if (dup)
			continue; /* one stream per user */
		struct ob_user *u = &s->users[s->n_users];
		if ((u->name = strdup(req->users[i])) == NULL) {
			oom = true;
			break;
		}
		s->n_users++;
		u->s = s;
		u->shard = rpc_shard_for_user(w->rpc, u->name);
		for (size_t k = 0; k < req->n_resume; k++) {
			const Cpm__Outband__Position *p = req->resume[k];
			if (strcmp(p->user, u->name) == 0) {
				u->positioned = true;
				u->log_id = p->log_id;
				u->cursor = p->cursor;
			}
		}
		/* Watch before the first read: a change committed in between is not missed. */
		oom = feed_sub_watch_user(w->feed, u->shard, u->name, ob_sub_hint, u) < 0;
		u->watched = !oom;
	}
	if (oom) {
		ob_sub_free(&s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < s->n_users; i++)
		read_log(&s->users[i]);
	return s;
}

void ob_sub_drained(struct ob_sub *s)
{
	for (size_t i = 0; i < s->n_users && ob_conn_pending(s->c) < OB_LOW_WATER; i++)
		if (s->users[i].again && !s->users[i].reading)
			read_log(&s->users[i]);
}

void ob_sub_tick(struct ob_sub *s)
{
	ob_sub_heartbeat(s);
	for (size_t i = 0; i < s->n_users; i++)
		read_log(&s->users[i]);
}

void ob_sub_free(struct ob_sub **sp)
{
	struct ob_sub *s = *sp;
	if (s == NULL)
		return;
	*sp = NULL;
	for (size_t i = 0; i < s->n_users; i++) {
		struct ob_user *u = &s->users[i];
		if (u->reading)
			rpc_cancel(s->w->rpc, u->call);
		if (u->watched)
			feed_sub_unwatch_user(s->w->feed, u->shard, u->name, u);
		free(u->name);
	}
	for (size_t i = 0; i < s->n_folders; i++)
		free(s->folders[i]);
	free(s->folders);
	free(s->users);
	free(s);
}
