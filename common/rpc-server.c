/*
 * rpc-server: raw NN_REP under libuv, with request-id dedupe.
 *
 * Design:
 *  - nanomsg gives us a "receive fd" that becomes readable when a message can
 *    be received; we watch it with uv_poll (UV_READABLE only) and drain the
 *    socket with NN_DONTWAIT until EAGAIN. We never read that fd ourselves.
 *  - Raw REP hands over, with each request, a control header (the SP
 *    backtrace). Replying with nn_sendmsg and that header routes the reply to
 *    the right front-end pipe, so replies go out in any order.
 *  - Dedupe: key = hash(client_id, id). Entries are "running" until answered;
 *    remembered replies stay for RPC_DEDUPE_TTL_MS in a FIFO (constant TTL
 *    keeps the FIFO sorted by expiry), pruned as traffic flows.
 */
#include "rpc-server.h"

#include "clock.h"
#include "log.h"
#include "nn-msg.h"
#include "rpc-envelope.h"
#include "u64map.h"

#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum dedupe_state { DD_RUNNING, DD_DONE };

struct dedupe_entry {
	uint64_t key;
	unsigned char client_id[16];
	uint64_t id;
	enum dedupe_state state;
	unsigned char *reply; /* sealed envelope, when DD_DONE */
	size_t reply_len;
	uint64_t expires_ms;
	struct dedupe_entry *next; /* done FIFO */
};

struct rpc_incoming {
	struct rpc_server *srv;
	void *ctl; /* nanomsg-allocated control header */
	Cpm__Request *req;
	struct dedupe_entry *dd; /* NULL when the request could not be tracked */
};

struct rpc_server {
	uv_loop_t *loop;
	int sock;
	uv_poll_t poll;
	unsigned char *secret;
	size_t secret_len;
	rpc_request_cb *cb;
	void *ctx;
	struct u64map dedupe;
	struct dedupe_entry *done_head, *done_tail;
	size_t pending;
};

static uint64_t dedupe_key(const unsigned char *cid, size_t cid_len, uint64_t id)
{
	/* FNV-1a over client id and request id; 0 is reserved by u64map. */
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < cid_len; i++) {
		h ^= cid[i];
		h *= 0x100000001b3ULL;
	}
	for (int i = 0; i < 8; i++) {
		h ^= (id >> (8 * i)) & 0xff;
		h *= 0x100000001b3ULL;
	}
	return h ? h : 1;
}

static void dedupe_entry_free(struct dedupe_entry *e)
{
	free(e->reply);
	free(e);
}

static void dedupe_prune(struct rpc_server *srv, uint64_t now)
{
	while (srv->done_head != NULL && srv->done_head->expires_ms <= now) {
		struct dedupe_entry *e = srv->done_head;
		srv->done_head = e->next;
		if (srv->done_head == NULL)
			srv->done_tail = NULL;
		u64map_del(&srv->dedupe, e->key);
		dedupe_entry_free(e);
	}
}

static int send_with_ctl(struct rpc_server *srv, void **ctl, const unsigned char *data, size_t len)
{
	if (nn_msg_send(srv->sock, data, len, ctl, NN_MSG) < 0) {
		log_warn("event=rpc_reply_failed err=%s", log_quote(nn_strerror(nn_errno()), 64));
		return -1;
	}
	return 0;
}

static void handle_message(struct rpc_server *srv, void *body, size_t len, void *ctl)
{
	const unsigned char *payload;
	size_t plen;
	if (rpc_envelope_open(srv->secret, srv->secret_len, body, len, &payload, &plen) < 0) {
		log_warn("event=rpc_rejected reason=bad_mac bytes=%zu", len);
		nn_freemsg(ctl);
		return;
	}
	Cpm__Request *req = cpm__request__unpack(NULL, plen, payload);
	if (req == NULL) {
		log_warn("event=rpc_rejected reason=undecodable bytes=%zu", len);
		nn_freemsg(ctl);
		return;
	}
	uint64_t now = clock_unix_ms();
	dedupe_prune(srv, now);
	if (req->deadline_ms != 0 && req->deadline_ms < now) {
		log_debug("event=rpc_expired id=%llu", (unsigned long long)req->id);
		cpm__request__free_unpacked(req, NULL);
		nn_freemsg(ctl);
		return;
	}
	struct dedupe_entry *dd = NULL;
	if (req->client_id.len == 16 && req->id != 0) {
		uint64_t key = dedupe_key(req->client_id.data, 16, req->id);
		struct dedupe_entry *old = u64map_get(&srv->dedupe, key);
		if (old != NULL && old->id == req->id && memcmp(old->client_id, req->client_id.data, 16) == 0) {
			if (old->state == DD_DONE)
				send_with_ctl(srv, &ctl, old->reply, old->reply_len);
			log_info("event=rpc_duplicate id=%llu state=%s", (unsigned long long)req->id,
				 old->state == DD_DONE ? "answered" : "running");
			cpm__request__free_unpacked(req, NULL);
			if (ctl != NULL)
				nn_freemsg(ctl);
			return;
		}
		if (old == NULL) {
			dd = calloc(1, sizeof(*dd));
			if (dd != NULL) {
				dd->key = key;
				memcpy(dd->client_id, req->client_id.data, 16);
				dd->id = req->id;
				dd->state = DD_RUNNING;
				if (u64map_put(&srv->dedupe, key, dd) < 0) {
					free(dd);
					dd = NULL;
				}
			}
		}
	}
	struct rpc_incoming *in = calloc(1, sizeof(*in));
	if (in == NULL) {
		if (dd != NULL) {
			u64map_del(&srv->dedupe, dd->key);
			free(dd);
		}
		cpm__request__free_unpacked(req, NULL);
		nn_freemsg(ctl);
		return;
	}
	in->srv = srv;
	in->ctl = ctl;
	in->req = req;
	in->dd = dd;
	srv->pending++;
	srv->cb(srv, in, req, srv->ctx);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
	struct rpc_server *srv = h->data;
	if (status < 0)
		return;
	for (int n = 0; n < 1024; n++) {
		void *body, *ctl;
		int rc = nn_msg_recv(srv->sock, &body, &ctl);
		if (rc < 0) {
			int e = nn_errno();
			if (e != EAGAIN && e != EINTR)
				log_warn("event=rpc_recv_failed err=%s", log_quote(nn_strerror(e), 64));
			return;
		}
		handle_message(srv, body, (size_t)rc, ctl);
		nn_freemsg(body);
	}
}

struct rpc_server *rpc_server_new(uv_loop_t *loop, const char *endpoint, const unsigned char *secret,
				  size_t secret_len, rpc_request_cb *cb, void *ctx, char *err, size_t errlen)
{
	struct rpc_server *srv = calloc(1, sizeof(*srv));
	if (srv == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->loop = loop;
	srv->cb = cb;
	srv->ctx = ctx;
	u64map_init(&srv->dedupe);
	srv->secret = malloc(secret_len);
	if (srv->secret == NULL) {
		free(srv);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(srv->secret, secret, secret_len);
	srv->secret_len = secret_len;
	srv->sock = nn_socket(AF_SP_RAW, NN_REP);
	int maxsz = (int)RPC_MAX_MESSAGE;
	int fd = -1;
	size_t fdsz = sizeof(fd);
	int sndbuf = 16 << 20;
	if (srv->sock < 0 || nn_setsockopt(srv->sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsz, sizeof(maxsz)) < 0 ||
	    nn_setsockopt(srv->sock, NN_SOL_SOCKET, NN_SNDBUF, &sndbuf, sizeof(sndbuf)) < 0 ||
	    nn_bind(srv->sock, endpoint) < 0 || nn_getsockopt(srv->sock, NN_SOL_SOCKET, NN_RCVFD, &fd, &fdsz) < 0) {
		snprintf(err, errlen, "rpc endpoint %s: %s", endpoint, nn_strerror(nn_errno()));
		if (srv->sock >= 0)
			nn_close(srv->sock);
		free(srv->secret);
		free(srv);
		return NULL;
	}
	uv_poll_init(loop, &srv->poll, fd);
	srv->poll.data = srv;
	uv_poll_start(&srv->poll, UV_READABLE, on_readable);
	return srv;
}

const Cpm__Request *rpc_incoming_request(const struct rpc_incoming *in)
{
	return in->req;
}

unsigned char *rpc_server_seal(const struct rpc_server *srv, const struct rpc_incoming *in, Cpm__Response *resp,
			       size_t *len_r)
{
	resp->id = in->req->id;
	size_t plen = cpm__response__get_packed_size(resp);
	unsigned char *env = malloc(RPC_ENVELOPE_OVERHEAD + plen);
	*len_r = 0;
	if (env == NULL) {
		log_error("event=rpc_reply_oom bytes=%zu", plen);
		return NULL;
	}
	cpm__response__pack(resp, env + RPC_ENVELOPE_OVERHEAD);
	rpc_envelope_seal(srv->secret, srv->secret_len, env + RPC_ENVELOPE_OVERHEAD, plen, env);
	*len_r = RPC_ENVELOPE_OVERHEAD + plen;
	return env;
}

void rpc_server_reply(struct rpc_server *srv, struct rpc_incoming **inp, Cpm__Response *resp, bool remember)
{
	size_t len;
	unsigned char *env = rpc_server_seal(srv, *inp, resp, &len);
	rpc_server_reply_sealed(srv, inp, env, len, remember);
}

void rpc_server_reply_sealed(struct rpc_server *srv, struct rpc_incoming **inp, unsigned char *env, size_t len,
			     bool remember)
{
	struct rpc_incoming *in = *inp;
	*inp = NULL;
	if (env != NULL)
		send_with_ctl(srv, &in->ctl, env, len);
	struct dedupe_entry *dd = in->dd;
	if (dd != NULL) {
		if (remember && env != NULL) {
			dd->state = DD_DONE;
			dd->reply = env;
			dd->reply_len = len;
			env = NULL;
			dd->expires_ms = clock_unix_ms() + RPC_DEDUPE_TTL_MS;
			if (srv->done_tail != NULL)
				srv->done_tail->next = dd;
			else
				srv->done_head = dd;
			srv->done_tail = dd;
		} else {
			u64map_del(&srv->dedupe, dd->key);
			dedupe_entry_free(dd);
		}
	}
	free(env);
	if (in->ctl != NULL)
		nn_freemsg(in->ctl);
	cpm__request__free_unpacked(in->req, NULL);
	free(in);
	srv->pending--;
}

void rpc_server_reply_status(struct rpc_server *srv, struct rpc_incoming **in, Cpm__Status st, const char *error)
{
	Cpm__Response resp = CPM__RESPONSE__INIT;
	resp.status = st;
	resp.error = (char *)(error ? error : "");
	rpc_server_reply(srv, in, &resp, st == CPM__STATUS__OK);
}

size_t rpc_server_pending(const struct rpc_server *srv)
{
	return srv->pending;
}

static void on_poll_closed(uv_handle_t *h)
{
	struct rpc_server *srv = h->data;
	nn_close(srv->sock);
	free(srv);
}

void rpc_server_close(struct rpc_server **srvp)
{
	struct rpc_server *srv = *srvp;
	if (srv == NULL)
		return;
	*srvp = NULL;
	uv_poll_stop(&srv->poll);
	while (srv->done_head != NULL) {
		struct dedupe_entry *e = srv->done_head;
		srv->done_head = e->next;
		u64map_del(&srv->dedupe, e->key);
		dedupe_entry_free(e);
	}
	/* Running entries belong to incomings still held by the application;
	 * they are freed with them (rpc_server_reply must not be called after close). */
	u64map_free(&srv->dedupe);
	free(srv->secret);
	srv->secret = NULL;
	uv_close((uv_handle_t *)&srv->poll, on_poll_closed);
}
