/*
 * feed: the shard's change feed, a nanomsg PUB socket.
 *
 * Each event goes out as topic (rpc_feed_topic: 'F' + folder id) followed by
 * an HMAC envelope around a serialized cpm.FeedEvent, after the change is
 * committed. Subscribers filter by topic. Publishing never blocks: when a
 * subscriber is slow nanomsg drops for it, which is allowed — the feed is a
 * hint, the modseq log in LMDB is the truth. Loop thread only.
 */
#ifndef CPM_BACKEND_FEED_H
#define CPM_BACKEND_FEED_H

#include <stddef.h>

#include "proto/cpm.pb-c.h"

struct feed;

struct feed *feed_open(const char *endpoint, const unsigned char *secret, size_t secret_len, char *err,
		       size_t errlen);
void feed_publish(struct feed *f, const Cpm__FeedEvent *ev);
/* The same event under the user topic of ev->user (rpc_user_topic): "the
 * user's notification log grew", for outband subscribers. */
void feed_publish_user(struct feed *f, const Cpm__FeedEvent *ev);
void feed_close(struct feed **f);

#endif
