/*
 * outband-feed: one worker's subscriptions to the shards' per-user feed
 * topics, for outband subscribers (outband.h).
 *
 * One nanomsg SUB socket per shard (made only when the outband endpoint is
 * on), connected to the shard's feed endpoint and watched by libuv for
 * readability. A watcher registers for (shard, user); the socket subscribes
 * to the user's topic (rpc_user_topic) while anyone watches it, so the
 * worker receives only the hints of the users its subscribers follow. Each
 * authentic hint calls cb(watcher, user) for every watcher of that user.
 * A hint says only "the user's notification log grew": the watcher reads
 * the log (truth, order and completeness come from LMDB, never from here).
 *
 * Loop thread only. Functions returning int return 0, or -1 when out of
 * memory / bad arguments. The watcher pointer is the caller's; unwatch
 * before freeing it. The callback may unwatch (any watcher) while it runs.
 */
#ifndef CPM_FRONTEND_OUTBAND_FEED_H
#define CPM_FRONTEND_OUTBAND_FEED_H

#include <stddef.h>
#include <uv.h>

#include "config.h"

struct outband_feed;

typedef void outband_feed_cb(void *watcher, const char *user);

/* NULL with a reason in err. cfg must outlive it. */
struct outband_feed *outband_feed_new(uv_loop_t *loop, const struct cpm_config *cfg, outband_feed_cb *cb, char *err,
				      size_t errlen);
int outband_feed_watch(struct outband_feed *of, size_t shard, const char *user, void *watcher);
void outband_feed_unwatch(struct outband_feed *of, size_t shard, const char *user, void *watcher);
void outband_feed_close(struct outband_feed **of);

#endif
