/* feed-sub: change-feed subscriptions of a worker. See feed-sub.h. */
#include "feed-sub.h"

#include "log.h"
#include "rpc-envelope.h"
#include "u64map.h"

#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct watchers {
	void **who;
	size_t n, cap;
};

#define USER_BUCKETS 256

/* The watchers of one user topic, each with its callback. */
struct user_topic {
	char *user;
	struct user_watch {
		feed_user_cb *cb;
		void *who;
	} *w;
	size_t n, cap;
	struct user_topic *next;
};

struct shard_feed {
	struct feed_sub *fs;
	int sock;
	uv_poll_t poll;
	struct u64map folders; /* folder id → struct watchers */
	struct user_topic *users[USER_BUCKETS];
};

struct feed_sub {
	const struct cpm_config *cfg;
	feed_event_cb *cb;
	struct shard_feed *shards;
	size_t n_shards;
	unsigned open_handles;
};

static size_t user_bucket(const char *user)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)user; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % USER_BUCKETS;
}

static struct user_topic **user_find(struct shard_feed *sf, const char *user)
{
	struct user_topic **tp = &sf->users[user_bucket(user)];
	while (*tp != NULL && strcmp((*tp)->user, user) != 0)
		tp = &(*tp)->next;
	return tp;
}

/* 'U' user 0x00 envelope: call the user's watchers. */
static void deliver_user(struct shard_feed *sf, const unsigned char *msg, size_t len)
{
	const struct cpm_config *cfg = sf->fs->cfg;
	size_t max = len - 1 < RPC_USER_MAX + 1 ? len - 1 : RPC_USER_MAX + 1;
	const unsigned char *end = memchr(msg + 1, 0, max);
	const unsigned char *payload;
	size_t plen;
	if (end == NULL ||
	    rpc_envelope_open(cfg->secret, cfg->secret_len, end + 1, len - (size_t)(end + 1 - msg), &payload, &plen) < 0) {
		log_warn("event=feed_rejected reason=bad_mac bytes=%zu", len);
		return;
	}
	char *user = strdup((const char *)msg + 1); /* the topic may go while we walk */
	struct user_topic *t = user != NULL ? *user_find(sf, user) : NULL;
	size_t n = t ? t->n : 0;
	/* A watcher may unwatch from inside the callback: walk a copy. */
	struct user_watch *copy = n ? malloc(n * sizeof(*copy)) : NULL;
	if (copy != NULL) {
		memcpy(copy, t->w, n * sizeof(*copy));
		for (size_t i = 0; i < n; i++)
			copy[i].cb(copy[i].who, user);
		free(copy);
	}
	free(user);
}

static void deliver(struct shard_feed *sf, const unsigned char *msg, size_t len)
{
	const unsigned char *payload;
	size_t plen;
	const struct cpm_config *cfg = sf->fs->cfg;
	if (len >= 2 && msg[0] == 'U') {
		deliver_user(sf, msg, len);
		return;
	}
	if (len < RPC_TOPIC_LEN ||
	    rpc_envelope_open(cfg->secret, cfg->secret_len, msg + RPC_TOPIC_LEN, len - RPC_TOPIC_LEN, &payload, &plen) < 0) {
		log_warn("event=feed_rejected reason=bad_mac bytes=%zu", len);
		return;
	}
	Cpm__FeedEvent *ev = cpm__feed_event__unpack(NULL, plen, payload);
	if (ev == NULL)
		return;
	struct watchers *w = u64map_get(&sf->folders, ev->folder_id);
	/* A watcher may unwatch from inside the callback: walk a copy. */
	size_t n = w ? w->n : 0;
	void **copy = n ? malloc(n * sizeof(void *)) : NULL;
	if (copy != NULL) {
		memcpy(copy, w->who, n * sizeof(void *));
		for (size_t i = 0; i < n; i++)
			sf->fs->cb(copy[i], ev);
		free(copy);
	}
	cpm__feed_event__free_unpacked(ev, NULL);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
	struct shard_feed *sf = h->data;
	for (int i = 0; i < 1024; i++) {
		void *msg = NULL;
		int n = nn_recv(sf->sock, &msg, NN_MSG, NN_DONTWAIT);
		if (n < 0)
			return;
		deliver(sf, msg, (size_t)n);
		nn_freemsg(msg);
	}
}

struct feed_sub *feed_sub_new(uv_loop_t *loop, const struct cpm_config *cfg, feed_event_cb *cb, char *err,
			      size_t errlen)
{
	struct feed_sub *fs = calloc(1, sizeof(*fs));
	if (fs == NULL || (fs->shards = calloc(cfg->n_shards, sizeof(*fs->shards))) == NULL) {
		free(fs);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	fs->cfg = cfg;
	fs->cb = cb;
	fs->n_shards = cfg->n_shards;
	for (size_t i = 0; i < cfg->n_shards; i++) {
		struct shard_feed *sf = &fs->shards[i];
		sf->fs = fs;
		u64map_init(&sf->folders);
		sf->sock = nn_socket(AF_SP, NN_SUB);
		int fd = -1;
		size_t sz = sizeof(fd);
		int ivl = 100, ivl_max = 2000;
		if (sf->sock < 0 || nn_setsockopt(sf->sock, NN_SOL_SOCKET, NN_RECONNECT_IVL, &ivl, sizeof(ivl)) < 0 ||
		    nn_setsockopt(sf->sock, NN_SOL_SOCKET, NN_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max)) < 0 ||
		    nn_connect(sf->sock, cfg->shards[i].feed) < 0 ||
		    nn_getsockopt(sf->sock, NN_SOL_SOCKET, NN_RCVFD, &fd, &sz) < 0) {
			snprintf(err, errlen, "feed of shard %s (%s): %s", cfg->shards[i].id, cfg->shards[i].feed,
				 nn_strerror(nn_errno()));
			for (size_t j = 0; j <= i; j++)
				if (fs->shards[j].sock >= 0)
					nn_close(fs->shards[j].sock);
			for (size_t j = 0; j < i; j++) {
				uv_poll_stop(&fs->shards[j].poll);
				uv_close((uv_handle_t *)&fs->shards[j].poll, NULL);
			}
			/* The handles close on the next loop turn; the memory stays until exit. */
			return NULL;
		}
		uv_poll_init(loop, &sf->poll, fd);
		sf->poll.data = sf;
		uv_poll_start(&sf->poll, UV_READABLE, on_readable);
		fs->open_handles++;
	}
	return fs;
}

int feed_sub_watch(struct feed_sub *fs, size_t shard, uint64_t folder_id, void *watcher)
{
	if (shard >= fs->n_shards || folder_id == 0)
		return -1;
	struct shard_feed *sf = &fs->shards[shard];
	struct watchers *w = u64map_get(&sf->folders, folder_id);
	if (w == NULL) {
		w = calloc(1, sizeof(*w));
		if (w == NULL || u64map_put(&sf->folders, folder_id, w) < 0) {
			free(w);
			return -1;
		}
		unsigned char topic[RPC_TOPIC_LEN];
		rpc_feed_topic(folder_id, topic);
		nn_setsockopt(sf->sock, NN_SUB, NN_SUB_SUBSCRIBE, topic, sizeof(topic));
	}
	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 4;
		void **nw = realloc(w->who, nc * sizeof(void *));
		if (nw == NULL)
			return -1;
		w->who = nw;
		w->cap = nc;
	}
	w->who[w->n++] = watcher;
	return 0;
}

void feed_sub_unwatch(struct feed_sub *fs, size_t shard, uint64_t folder_id, void *watcher)
{
	if (shard >= fs->n_shards)
		return;
	struct shard_feed *sf = &fs->shards[shard];
	struct watchers *w = u64map_get(&sf->folders, folder_id);
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->n; i++) {
		if (w->who[i] == watcher) {
			w->who[i] = w->who[--w->n];
			break;
		}
	}
	if (w->n == 0) {
		unsigned char topic[RPC_TOPIC_LEN];
		rpc_feed_topic(folder_id, topic);
		nn_setsockopt(sf->sock, NN_SUB, NN_SUB_UNSUBSCRIBE, topic, sizeof(topic));
		u64map_del(&sf->folders, folder_id);
		free(w->who);
		free(w);
	}
}

int feed_sub_watch_user(struct feed_sub *fs, size_t shard, const char *user, feed_user_cb *cb, void *watcher)
{
	unsigned char topic[RPC_USER_TOPIC_MAX];
	size_t tl = user != NULL ? rpc_user_topic(user, topic) : 0;
	if (shard >= fs->n_shards || tl == 0)
		return -1;
	struct shard_feed *sf = &fs->shards[shard];
	struct user_topic **tp = user_find(sf, user), *t = *tp;
	if (t == NULL) {
		t = calloc(1, sizeof(*t));
		if (t == NULL || (t->user = strdup(user)) == NULL) {
			free(t);
			return -1;
		}
		*tp = t;
		nn_setsockopt(sf->sock, NN_SUB, NN_SUB_SUBSCRIBE, topic, tl);
	}
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 4;
		struct user_watch *nw = realloc(t->w, nc * sizeof(*nw));
		if (nw == NULL)
			return -1; /* an empty topic goes at the next unwatch of the user */
		t->w = nw;
		t->cap = nc;
	}
	t->w[t->n].cb = cb;
	t->w[t->n].who = watcher;
	t->n++;
	return 0;
}

static void user_topic_free(struct user_topic *t)
{
	free(t->user);
	free(t->w);
	free(t);
}

void feed_sub_unwatch_user(struct feed_sub *fs, size_t shard, const char *user, void *watcher)
{
	if (shard >= fs->n_shards || user == NULL)
		return;
	struct shard_feed *sf = &fs->shards[shard];
	struct user_topic **tp = user_find(sf, user), *t = *tp;
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		if (t->w[i].who == watcher) {
			t->w[i] = t->w[--t->n];
			break;
		}
	}
	if (t->n == 0) {
		unsigned char topic[RPC_USER_TOPIC_MAX];
		size_t tl = rpc_user_topic(user, topic);
		if (tl > 0)
			nn_setsockopt(sf->sock, NN_SUB, NN_SUB_UNSUBSCRIBE, topic, tl);
		*tp = t->next;
		user_topic_free(t);
	}
}

static void on_closed(uv_handle_t *h)
{
	struct shard_feed *sf = h->data;
	struct feed_sub *fs = sf->fs;
	if (--fs->open_handles > 0)
		return;
	for (size_t i = 0; i < fs->n_shards; i++) {
		struct u64map *m = &fs->shards[i].folders;
		for (size_t j = 0; j < m->cap; j++) {
			if (m->keys[j] != 0) {
				struct watchers *w = m->vals[j];
				free(w->who);
				free(w);
			}
		}
		u64map_free(m);
		for (size_t b = 0; b < USER_BUCKETS; b++) {
			while (fs->shards[i].users[b] != NULL) {
				struct user_topic *t = fs->shards[i].users[b];
				fs->shards[i].users[b] = t->next;
				user_topic_free(t);
			}
		}
		nn_close(fs->shards[i].sock);
	}
	free(fs->shards);
	free(fs);
}

void feed_sub_close(struct feed_sub **fsp)
{
	struct feed_sub *fs = *fsp;
	if (fs == NULL)
		return;
	*fsp = NULL;
	for (size_t i = 0; i < fs->n_shards; i++) {
		uv_poll_stop(&fs->shards[i].poll);
		uv_close((uv_handle_t *)&fs->shards[i].poll, on_closed);
	}
}
