/*
 * feed-sub: one worker's subscription to the shards' change feeds.
 *
 * One nanomsg SUB socket per shard, connected to the shard's feed endpoint
 * and watched by libuv, for both kinds of topic: folders and users. A session that has a folder selected registers as a
 * watcher of (shard, folder id); the worker subscribes to that folder's
 * topic only while someone watches it, so a worker receives the events of
 * the folders its sessions look at, not all of them. Each authentic event
 * is handed to every watcher of its folder (work proportional to those
 * watchers). Events are hints: a lost one costs latency, never correctness,
 * because the session asks the change log what changed (sync.c).
 */
#ifndef CPM_FRONTEND_FEED_SUB_H
#define CPM_FRONTEND_FEED_SUB_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "proto/cpm.pb-c.h"

struct feed_sub;

typedef void feed_event_cb(void *watcher, const Cpm__FeedEvent *ev);
/* A user topic's hint: "user's notification log grew" (backend/outlog.h). */
typedef void feed_user_cb(void *watcher, const char *user);

/* NULL with a reason in err. cfg must outlive it. */
struct feed_sub *feed_sub_new(uv_loop_t *loop, const struct cpm_config *cfg, feed_event_cb *cb, char *err,
			      size_t errlen);
/* 0, or -1 when out of memory. A watcher registers once per folder. */
int feed_sub_watch(struct feed_sub *fs, size_t shard, uint64_t folder_id, void *watcher);
void feed_sub_unwatch(struct feed_sub *fs, size_t shard, uint64_t folder_id, void *watcher);
/* The same for a user's topic ('U' user 0x00, rpc_user_topic): NOTIFY
 * sessions and outband subscribers follow a whole user this way; each
 * registration names its callback. 0, or -1 (out of memory, bad user). The
 * callback may unwatch (any watcher) while it runs. */
int feed_sub_watch_user(struct feed_sub *fs, size_t shard, const char *user, feed_user_cb *cb, void *watcher);
void feed_sub_unwatch_user(struct feed_sub *fs, size_t shard, const char *user, void *watcher);
void feed_sub_close(struct feed_sub **fs);

#endif
