/*
 * rpc-client: raw NN_REQ per shard under libuv, deadlines, reconnect.
 *
 * Design:
 *  - Each call is in `calls` (u64map by id) and in a deadline-ordered list.
 *    Most calls share the default timeout, so appending walks back only a
 *    step or two; one repeating timer expires the head of the list.
 *  - A raw REQ socket needs the SP request header supplied with each send:
 *    we put the low 31 bits of the call id with the top bit set. Replies are
 *    matched by the id inside the authenticated Response, not by the header.
 *  - When a shard is not connected, nn_sendmsg(NN_DONTWAIT) says EAGAIN: the
 *    sealed message waits in the shard's queue and its send fd is polled; the
 *    queue flushes when nanomsg can send again, or the call's deadline fails it.
 *  - Callbacks are only ever run from libuv callbacks (receive, timer), never
 *    from inside rpc_call, so a caller never re-enters itself.
 */
#include "rpc-client.h"

#include "clock.h"
#include "log.h"
#include "nn-msg.h"
#include "rpc-envelope.h"
#include "rpc-server.h"
#include "shard-map.h"
#include "u64map.h"

#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct call {
	uint64_t id;
	size_t shard;
	uint64_t deadline_ms; /* monotonic */
	rpc_done_cb *cb;
	void *ctx;
	struct call *prev, *next;   /* deadline list */
	struct call *qnext;         /* shard send queue */
	bool queued;
	unsigned char *msg;         /* sealed envelope while queued */
	size_t msg_len;
};

struct shard_conn {
	struct rpc_client *c;
	size_t index;
	int sock;
	uv_poll_t rpoll, spoll;
	bool spoll_active;
	struct call *qhead, *qtail;
};

struct rpc_client {
	uv_loop_t *loop;
	const struct cpm_config *cfg;
	struct shard_map *map;
	unsigned char client_id[16];
	uint64_t next_id;
	struct u64map calls;
	struct call *head, *tail;
	uv_timer_t timer;
	struct shard_conn *shards;
	size_t n_shards;
	unsigned open_handles;
	bool closing;
};

static void list_unlink(struct rpc_client *c, struct call *k)
{
	if (k->prev)
		k->prev->next = k->next;
	else
		c->head = k->next;
	if (k->next)
		k->next->prev = k->prev;
	else
		c->tail = k->prev;
	k->prev = k->next = NULL;
}

static void list_insert(struct rpc_client *c, struct call *k)
{
	struct call *p = c->tail;
	while (p != NULL && p->deadline_ms > k->deadline_ms)
		p = p->prev;
	k->prev = p;
	k->next = p ? p->next : c->head;
	if (k->next)
		k->next->prev = k;
	else
		c->tail = k;
	if (p)
		p->next = k;
	else
		c->head = k;
}

static void queue_remove(struct shard_conn *s, struct call *k)
{
	struct call **pp = &s->qhead;
	struct call *prev = NULL;
	while (*pp != NULL && *pp != k) {
		prev = *pp;
		pp = &(*pp)->qnext;
	}
	if (*pp == NULL)
		return;
	*pp = k->qnext;
	if (s->qtail == k)
		s->qtail = prev;
	k->qnext = NULL;
	k->queued = false;
}

/* Removes k from every structure and frees it (the callback is not run). */
static void call_forget(struct rpc_client *c, struct call *k)
{
	u64map_del(&c->calls, k->id);
	list_unlink(c, k);
	if (k->queued)
		queue_remove(&c->shards[k->shard], k);
	free(k->msg);
	free(k);
}

static void call_finish(struct rpc_client *c, struct call *k, const Cpm__Response *resp)
{
	rpc_done_cb *cb = k->cb;
	void *ctx = k->ctx;
	call_forget(c, k);
	cb(resp, ctx);
}

static void fail_call(struct rpc_client *c, struct call *k, const char *why)
{
	char text[200];
	snprintf(text, sizeof(text), "shard %s %s", c->cfg->shards[k->shard].id, why);
	Cpm__Response resp = CPM__RESPONSE__INIT;
	resp.id = k->id;
	resp.status = CPM__STATUS__UNAVAILABLE;
	resp.error = text;
	log_warn("event=rpc_failed shard=%s id=%llu reason=%s", c->cfg->shards[k->shard].id,
		 (unsigned long long)k->id, log_quote(why, strlen(why)));
	call_finish(c, k, &resp);
}

/* 0 sent, 1 try later (EAGAIN), -1 failed. */
static int try_send(struct shard_conn *s, struct call *k)
{
	uint32_t hid = 0x80000000u | (uint32_t)(k->id & 0x7fffffffu);
	unsigned char ctl[NN_CMSG_SPACE(sizeof(size_t) + 4)];
	memset(ctl, 0, sizeof(ctl));
	struct nn_cmsghdr *cm = (struct nn_cmsghdr *)(void *)ctl;
	cm->cmsg_len = NN_CMSG_LEN(sizeof(size_t) + 4);
	cm->cmsg_level = PROTO_SP;
	cm->cmsg_type = SP_HDR;
	size_t hsz = 4;
	unsigned char *d = NN_CMSG_DATA(cm);
	memcpy(d, &hsz, sizeof(hsz));
	d[sizeof(size_t) + 0] = (unsigned char)(hid >> 24);
	d[sizeof(size_t) + 1] = (unsigned char)(hid >> 16);
	d[sizeof(size_t) + 2] = (unsigned char)(hid >> 8);
	d[sizeof(size_t) + 3] = (unsigned char)hid;
	if (nn_msg_send(s->sock, k->msg, k->msg_len, ctl, sizeof(ctl)) == 0)
		return 0;
	int e = nn_errno();
	return (e == EAGAIN || e == EINTR) ? 1 : -1;
}

static void on_sendable(uv_poll_t *h, int status, int events);

static void flush_queue(struct shard_conn *s)
{
	struct rpc_client *c = s->c;
	while (s->qhead != NULL) {
		struct call *k = s->qhead;
		int rc = try_send(s, k);
		if (rc == 1)
			break;
		s->qhead = k->qnext;
		if (s->qhead == NULL)
			s->qtail = NULL;
		k->qnext = NULL;
		k->queued = false;
		free(k->msg);
		k->msg = NULL;
		if (rc < 0)
			fail_call(c, k, "send failed");
	}
	bool want = s->qhead != NULL && !c->closing;
	if (want && !s->spoll_active) {
		uv_poll_start(&s->spoll, UV_READABLE, on_sendable);
		s->spoll_active = true;
	} else if (!want && s->spoll_active) {
		uv_poll_stop(&s->spoll);
		s->spoll_active = false;
	}
}

static void on_sendable(uv_poll_t *h, int status, int events)
{
	flush_queue(h->data);
}

static void handle_reply(struct rpc_client *c, const unsigned char *msg, size_t len)
{
	const unsigned char *payload;
	size_t plen;
	if (rpc_envelope_open(c->cfg->secret, c->cfg->secret_len, msg, len, &payload, &plen) < 0) {
		log_warn("event=rpc_reply_rejected reason=bad_mac bytes=%zu", len);
		return;
	}
	Cpm__Response *resp = cpm__response__unpack(NULL, plen, payload);
	if (resp == NULL) {
		log_warn("event=rpc_reply_rejected reason=undecodable bytes=%zu", len);
		return;
	}
	struct call *k = u64map_get(&c->calls, resp->id);
	if (k != NULL)
		call_finish(c, k, resp); /* late replies of expired/cancelled calls are dropped */
	cpm__response__free_unpacked(resp, NULL);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
	struct shard_conn *s = h->data;
	for (int n = 0; n < 1024 && !s->c->closing; n++) {
		void *body, *ctl;
		int rc = nn_msg_recv(s->sock, &body, &ctl);
		if (rc < 0)
			return;
		handle_reply(s->c, body, (size_t)rc);
		nn_freemsg(body);
		if (ctl != NULL)
			nn_freemsg(ctl);
	}
}

static void on_timer(uv_timer_t *t)
{
	struct rpc_client *c = t->data;
	uint64_t now = clock_mono_ms();
	while (c->head != NULL && c->head->deadline_ms <= now) {
		struct call *k = c->head;
		fail_call(c, k, k->queued ? "is not connected" : "did not answer in time");
	}
}

struct rpc_client *rpc_client_new(uv_loop_t *loop, const struct cpm_config *cfg, char *err, size_t errlen)
{
	struct rpc_client *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->loop = loop;
	c->cfg = cfg;
	u64map_init(&c->calls);
	if (RAND_bytes(c->client_id, sizeof(c->client_id)) != 1) {
		snprintf(err, errlen, "no randomness for the client id");
		free(c);
		return NULL;
	}
	c->next_id = 1;
	const char **ids = calloc(cfg->n_shards, sizeof(*ids));
	for (size_t i = 0; ids != NULL && i < cfg->n_shards; i++)
		ids[i] = cfg->shards[i].id;
	c->map = ids ? shard_map_new(ids, cfg->n_shards) : NULL;
	free(ids);
	c->shards = calloc(cfg->n_shards, sizeof(*c->shards));
	if (c->map == NULL || c->shards == NULL) {
		snprintf(err, errlen, "bad shard list or out of memory");
		shard_map_free(&c->map);
		free(c->shards);
		free(c);
		return NULL;
	}
	c->n_shards = cfg->n_shards;
	/* Jitter the reconnect interval per process: a restarted back-end is not
	 * hit by every front-end in the same millisecond. */
	unsigned char r[2];
	RAND_bytes(r, 2);
	int ivl = 50 + ((r[0] << 8 | r[1]) % 200);
	int ivl_max = 2000;
	int maxsz = (int)RPC_MAX_MESSAGE;
	for (size_t i = 0; i < c->n_shards; i++) {
		struct shard_conn *s = &c->shards[i];
		s->c = c;
		s->index = i;
		s->sock = nn_socket(AF_SP_RAW, NN_REQ);
		int rfd = -1, sfd = -1;
		size_t sz = sizeof(int);
		if (s->sock < 0 || nn_setsockopt(s->sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsz, sizeof(maxsz)) < 0 ||
		    nn_setsockopt(s->sock, NN_SOL_SOCKET, NN_RECONNECT_IVL, &ivl, sizeof(ivl)) < 0 ||
		    nn_setsockopt(s->sock, NN_SOL_SOCKET, NN_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max)) < 0 ||
		    nn_connect(s->sock, cfg->shards[i].rpc) < 0 ||
		    nn_getsockopt(s->sock, NN_SOL_SOCKET, NN_RCVFD, &rfd, &sz) < 0 ||
		    (sz = sizeof(int), nn_getsockopt(s->sock, NN_SOL_SOCKET, NN_SNDFD, &sfd, &sz)) < 0) {
			snprintf(err, errlen, "shard %s endpoint %s: %s", cfg->shards[i].id, cfg->shards[i].rpc,
				 nn_strerror(nn_errno()));
			/* Sockets opened so far are closed; handles not yet initialised. */
			for (size_t j = 0; j <= i; j++)
				if (c->shards[j].sock >= 0)
					nn_close(c->shards[j].sock);
			shard_map_free(&c->map);
			free(c->shards);
			free(c);
			return NULL;
		}
		uv_poll_init(loop, &s->rpoll, rfd);
		s->rpoll.data = s;
		uv_poll_start(&s->rpoll, UV_READABLE, on_readable);
		uv_poll_init(loop, &s->spoll, sfd);
		s->spoll.data = s;
		c->open_handles += 2;
	}
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	uv_timer_start(&c->timer, on_timer, 20, 20);
	uv_unref((uv_handle_t *)&c->timer);
	c->open_handles++;
	return c;
}

uint64_t rpc_call(struct rpc_client *c, size_t shard, Cpm__Request *req, unsigned timeout_ms, rpc_done_cb *cb,
		  void *ctx)
{
	struct call *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return 0;
	unsigned to = timeout_ms ? timeout_ms : c->cfg->rpc_timeout_ms;
	k->id = c->next_id++;
	k->shard = shard < c->n_shards ? shard : 0;
	k->cb = cb;
	k->ctx = ctx;
	k->deadline_ms = clock_mono_ms() + to;
	req->id = k->id;
	req->client_id.data = c->client_id;
	req->client_id.len = sizeof(c->client_id);
	req->deadline_ms = clock_unix_ms() + to;
	size_t plen = cpm__request__get_packed_size(req);
	k->msg = malloc(RPC_ENVELOPE_OVERHEAD + plen);
	if (u64map_put(&c->calls, k->id, k) < 0) {
		free(k->msg);
		free(k);
		return 0;
	}
	list_insert(c, k);
	if (k->msg == NULL || c->closing) {
		/* Fails at the next timer tick: callbacks never run inside rpc_call. */
		k->deadline_ms = 0;
		list_unlink(c, k);
		list_insert(c, k);
		return k->id;
	}
	cpm__request__pack(req, k->msg + RPC_ENVELOPE_OVERHEAD);
	rpc_envelope_seal(c->cfg->secret, c->cfg->secret_len, k->msg + RPC_ENVELOPE_OVERHEAD, plen, k->msg);
	k->msg_len = RPC_ENVELOPE_OVERHEAD + plen;
	struct shard_conn *s = &c->shards[k->shard];
	k->queued = true;
	if (s->qtail)
		s->qtail->qnext = k;
	else
		s->qhead = k;
	s->qtail = k;
	flush_queue(s);
	return k->id;
}

void rpc_cancel(struct rpc_client *c, uint64_t id)
{
	struct call *k = u64map_get(&c->calls, id);
	if (k != NULL)
		call_forget(c, k);
}

size_t rpc_shard_for_user(const struct rpc_client *c, const char *user)
{
	size_t i = shard_map_pick(c->map, user, strlen(user));
	return i == SHARD_MAP_NONE ? 0 : i; /* NONE only if SHA-256 itself failed */
}

size_t rpc_client_inflight(const struct rpc_client *c)
{
	return c->calls.count;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct rpc_client *c = h->data;
	if (h->type == UV_POLL) {
		struct shard_conn *s = h->data;
		c = s->c;
	}
	if (--c->open_handles > 0)
		return;
	for (size_t i = 0; i < c->n_shards; i++)
		nn_close(c->shards[i].sock);
	free(c->shards);
	shard_map_free(&c->map);
	u64map_free(&c->calls);
	free(c);
}

void rpc_client_close(struct rpc_client **cp)
{
	struct rpc_client *c = *cp;
	if (c == NULL)
		return;
	*cp = NULL;
	c->closing = true;
	while (c->head != NULL)
		fail_call(c, c->head, "client closing");
	for (size_t i = 0; i < c->n_shards; i++) {
		uv_poll_stop(&c->shards[i].rpoll);
		uv_poll_stop(&c->shards[i].spoll);
		uv_close((uv_handle_t *)&c->shards[i].rpoll, on_handle_closed);
		uv_close((uv_handle_t *)&c->shards[i].spoll, on_handle_closed);
	}
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}
