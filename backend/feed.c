/* feed: change events on a nanomsg PUB socket. See feed.h. */
#include "feed.h"

#include "log.h"
#include "rpc-envelope.h"

#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct feed {
	int sock;
	unsigned char *secret;
	size_t secret_len;
	unsigned long dropped;
};

struct feed *feed_open(const char *endpoint, const unsigned char *secret, size_t secret_len, char *err,
		       size_t errlen)
{
	struct feed *f = calloc(1, sizeof(*f));
	if (f == NULL || (f->secret = malloc(secret_len)) == NULL) {
		free(f);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(f->secret, secret, secret_len);
	f->secret_len = secret_len;
	f->sock = nn_socket(AF_SP, NN_PUB);
	if (f->sock < 0 || nn_bind(f->sock, endpoint) < 0) {
		snprintf(err, errlen, "feed endpoint %s: %s", endpoint, nn_strerror(nn_errno()));
		if (f->sock >= 0)
			nn_close(f->sock);
		free(f->secret);
		free(f);
		return NULL;
	}
	return f;
}

static void publish(struct feed *f, const unsigned char *topic, size_t tlen, const Cpm__FeedEvent *ev)
{
	size_t plen = cpm__feed_event__get_packed_size(ev);
	size_t total = tlen + RPC_ENVELOPE_OVERHEAD + plen;
	void *msg = nn_allocmsg(total, 0);
	if (msg == NULL)
		return;
	unsigned char *p = msg;
	memcpy(p, topic, tlen);
	cpm__feed_event__pack(ev, p + tlen + RPC_ENVELOPE_OVERHEAD);
	rpc_envelope_seal(f->secret, f->secret_len, p + tlen + RPC_ENVELOPE_OVERHEAD, plen, p + tlen);
	if (nn_send(f->sock, &msg, NN_MSG, NN_DONTWAIT) < 0) {
		nn_freemsg(msg);
		if (f->dropped++ % 1000 == 0)
			log_warn("event=feed_drop dropped=%lu", f->dropped);
	}
}

void feed_publish(struct feed *f, const Cpm__FeedEvent *ev)
{
	unsigned char topic[RPC_TOPIC_LEN];
	rpc_feed_topic(ev->folder_id, topic);
	publish(f, topic, sizeof(topic), ev);
}

void feed_publish_user(struct feed *f, const Cpm__FeedEvent *ev)
{
	unsigned char topic[RPC_USER_TOPIC_MAX];
	size_t n = rpc_user_topic(ev->user ? ev->user : "", topic);
	if (n > 0)
		publish(f, topic, n, ev);
}

void feed_close(struct feed **fp)
{
	struct feed *f = *fp;
	if (f == NULL)
		return;
	*fp = NULL;
	nn_close(f->sock);
	free(f->secret);
	free(f);
}
