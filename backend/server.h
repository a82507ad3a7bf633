/*
 * server: one shard's request dispatch.
 *
 * Every request the RPC server hands over becomes a job: reads run on the
 * libuv thread pool, each in its own LMDB read transaction (MVCC: readers
 * never wait for the writer); writes go to the group-commit writer. Results
 * come back on the loop thread, which replies (writes are remembered by the
 * RPC dedupe table) and publishes change events after commit.
 * server_stop stops taking requests (new ones get UNAVAILABLE), waits for
 * the jobs in flight, then closes everything and stops the loop.
 */
#ifndef CPM_BACKEND_SERVER_H
#define CPM_BACKEND_SERVER_H

#include <uv.h>

#include "config.h"

struct server;

struct server *server_start(uv_loop_t *loop, const struct cpm_config *cfg, const struct cfg_shard *shard, char *err,
			    size_t errlen);
void server_stop(struct server *s);
/* Frees what is left after the loop has ended. */
void server_free(struct server **s);

#endif
