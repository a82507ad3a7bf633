/* outband-feed: per-user feed topics of a worker. See outband-feed.h. */
#include "outband-feed.h"

#include "log.h"
#include "rpc-envelope.h"

#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 256

struct topic {
	char *user;
	void **who;
	size_t n, cap;
	struct topic *next;
};

struct shard_sock {
	struct outband_feed *of;
	int sock;
	uv_poll_t poll;
	bool polling;
	struct topic *buckets[BUCKETS];
};

struct outband_feed {
	const struct cpm_config *cfg;
	outband_feed_cb *cb;
	struct shard_sock *shards;
	size_t n_shards;
	unsigned open_handles;
};

static size_t bucket_of(const char *user)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)user; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % BUCKETS;
}

static struct topic **find(struct shard_sock *ss, const char *user)
{
	struct topic **tp = &ss->buckets[bucket_of(user)];
	while (*tp != NULL && strcmp((*tp)->user, user) != 0)
		tp = &(*tp)->next;
	return tp;
}

static void deliver(struct shard_sock *ss, const unsigned char *msg, size_t len)
{
	const struct cpm_config *cfg = ss->of->cfg;
	const unsigned char *end = len > 1 ? memchr(msg + 1, 0, len - 1 < RPC_USER_MAX + 1 ? len - 1 : RPC_USER_MAX + 1)
					   : NULL;
	const unsigned char *payload;
	size_t plen;
	if (len < 2 || msg[0] != 'U' || end == NULL ||
	    rpc_envelope_open(cfg->secret, cfg->secret_len, end + 1, len - (size_t)(end + 1 - msg), &payload, &plen) < 0) {
		log_warn("event=feed_rejected reason=bad_mac bytes=%zu", len);
		return;
	}
	const char *user = (const char *)msg + 1;
	struct topic *t = *find(ss, user);
	size_t n = t ? t->n : 0;
	/* A watcher may unwatch from inside the callback: walk a copy. */
	void **copy = n ? malloc(n * sizeof(void *)) : NULL;
	if (copy == NULL)
		return;
	memcpy(copy, t->who, n * sizeof(void *));
	char *name = strdup(user); /* the topic may go while we walk */
	for (size_t i = 0; name != NULL && i < n; i++)
		ss->of->cb(copy[i], name);
	free(name);
	free(copy);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
	struct shard_sock *ss = h->data;
	for (int i = 0; i < 1024; i++) {
		void *msg = NULL;
		int n = nn_recv(ss->sock, &msg, NN_MSG, NN_DONTWAIT);
		if (n < 0)
			return;
		deliver(ss, msg, (size_t)n);
		nn_freemsg(msg);
	}
}

static void on_closed(uv_handle_t *h);

struct outband_feed *outband_feed_new(uv_loop_t *loop, const struct cpm_config *cfg, outband_feed_cb *cb, char *err,
				      size_t errlen)
{
	struct outband_feed *of = calloc(1, sizeof(*of));
	if (of == NULL || (of->shards = calloc(cfg->n_shards, sizeof(*of->shards))) == NULL) {
		free(of);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	of->cfg = cfg;
	of->cb = cb;
	of->n_shards = cfg->n_shards;
	for (size_t i = 0; i < cfg->n_shards; i++)
		of->shards[i].sock = -1;
	for (size_t i = 0; i < cfg->n_shards; i++) {
		struct shard_sock *ss = &of->shards[i];
		ss->of = of;
		ss->sock = nn_socket(AF_SP, NN_SUB);
		int fd = -1, ivl = 100, ivl_max = 2000;
		size_t sz = sizeof(fd);
		if (ss->sock < 0 || nn_setsockopt(ss->sock, NN_SOL_SOCKET, NN_RECONNECT_IVL, &ivl, sizeof(ivl)) < 0 ||
		    nn_setsockopt(ss->sock, NN_SOL_SOCKET, NN_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max)) < 0 ||
		    nn_connect(ss->sock, cfg->shards[i].feed) < 0 ||
		    nn_getsockopt(ss->sock, NN_SOL_SOCKET, NN_RCVFD, &fd, &sz) < 0) {
			snprintf(err, errlen, "outband feed of shard %s (%s): %s", cfg->shards[i].id, cfg->shards[i].feed,
				 nn_strerror(nn_errno()));
			outband_feed_close(&of);
			return NULL;
		}
		uv_poll_init(loop, &ss->poll, fd);
		ss->poll.data = ss;
		ss->polling = true;
		of->open_handles++;
		uv_poll_start(&ss->poll, UV_READABLE, on_readable);
	}
	return of;
}

int outband_feed_watch(struct outband_feed *of, size_t shard, const char *user, void *watcher)
{
	unsigned char topic[RPC_USER_TOPIC_MAX];
	size_t tl = rpc_user_topic(user, topic);
	if (shard >= of->n_shards || tl == 0)
		return -1;
	struct shard_sock *ss = &of->shards[shard];
	struct topic **tp = find(ss, user), *t = *tp;
	if (t == NULL) {
		t = calloc(1, sizeof(*t));
		if (t == NULL || (t->user = strdup(user)) == NULL) {
			free(t);
			return -1;
		}
		*tp = t;
		nn_setsockopt(ss->sock, NN_SUB, NN_SUB_SUBSCRIBE, topic, tl);
	}
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 2;
		void **nw = realloc(t->who, nc * sizeof(void *));
		if (nw == NULL)
			return -1; /* the topic stays (empty ones go at the next unwatch of the user) */
		t->who = nw;
		t->cap = nc;
	}
	t->who[t->n++] = watcher;
	return 0;
}

static void topic_free(struct topic *t)
{
	free(t->user);
	free(t->who);
	free(t);
}

void outband_feed_unwatch(struct outband_feed *of, size_t shard, const char *user, void *watcher)
{
	if (shard >= of->n_shards)
		return;
	struct shard_sock *ss = &of->shards[shard];
	struct topic **tp = find(ss, user), *t = *tp;
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		if (t->who[i] == watcher) {
			t->who[i] = t->who[--t->n];
			break;
		}
	}
	if (t->n == 0) {
		unsigned char topic[RPC_USER_TOPIC_MAX];
		size_t tl = rpc_user_topic(user, topic);
		if (tl > 0)
			nn_setsockopt(ss->sock, NN_SUB, NN_SUB_UNSUBSCRIBE, topic, tl);
		*tp = t->next;
		topic_free(t);
	}
}

static void free_all(struct outband_feed *of)
{
	for (size_t i = 0; i < of->n_shards; i++) {
		struct shard_sock *ss = &of->shards[i];
		for (size_t b = 0; b < BUCKETS; b++) {
			while (ss->buckets[b] != NULL) {
				struct topic *t = ss->buckets[b];
				ss->buckets[b] = t->next;
				topic_free(t);
			}
		}
		if (ss->sock >= 0)
			nn_close(ss->sock);
	}
	free(of->shards);
	free(of);
}

static void on_closed(uv_handle_t *h)
{
	struct shard_sock *ss = h->data;
	struct outband_feed *of = ss->of;
	if (--of->open_handles == 0)
		free_all(of);
}

void outband_feed_close(struct outband_feed **ofp)
{
	struct outband_feed *of = *ofp;
	if (of == NULL)
		return;
	*ofp = NULL;
	if (of->open_handles == 0) {
		free_all(of);
		return;
	}
	/* Poll handles first (nanomsg sockets close after them), memory when the last is closed. */
	for (size_t i = 0; i < of->n_shards; i++) {
		struct shard_sock *ss = &of->shards[i];
		if (ss->polling) {
			uv_poll_stop(&ss->poll);
			ss->polling = false;
			uv_close((uv_handle_t *)&ss->poll, on_closed);
		}
	}
}
