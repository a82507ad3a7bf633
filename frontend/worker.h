/*
 * worker: what one front-end worker process shares between its connections.
 *
 * One worker = one libuv loop = one process. Everything connection-independent
 * lives here and is passed explicitly (no globals): the config, the RPC client
 * to the shards, the TLS context, the SASL library handle, limits.
 */
#ifndef CPM_FRONTEND_WORKER_H
#define CPM_FRONTEND_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "u64map.h"
#include "imap-parser.h"

struct rpc_client;
struct tls_ctx;
struct Gsasl;
struct conn;
struct feed_sub;

struct fe_worker {
	uv_loop_t *loop;
	const struct cpm_config *cfg;
	struct rpc_client *rpc;
	struct feed_sub *feed;      /* change-feed subscriptions (feed-sub.h) */
	struct u64map changes_inflight; /* folder id → shared ChangesReq in flight (changes.c) */
	struct u64map recent_claims;    /* shard + folder id → UID up to which a RecentClaimReq is in flight (recent.c) */
	struct tls_ctx *tls;        /* NULL when no certificate is configured */
	struct Gsasl *gsasl;
	struct imap_parser_limits limits;
	unsigned worker_index;
	uint64_t conn_seq;          /* connection ids for logs */
	unsigned n_conns;
	bool stopping;
	struct conn *dirty_head;    /* connections with output to flush this iteration */
	uv_check_t flush_check;
	unsigned char readbuf[65536];
};

#endif
