/*
 * rpc-client: the front-end (and cpm-admin) side of the RPC transport.
 *
 * One raw (AF_SP_RAW) nanomsg NN_REQ socket per shard, connected to the
 * shard's rpc endpoint and watched by libuv: any number of calls are in flight
 * at once without blocking the loop. nanomsg reconnects by itself when a
 * back-end restarts; reconnect intervals are jittered per process so that a
 * restarted back-end is not hit by every front-end at the same instant.
 *
 * Every call gets a 64-bit id (unique in this process) and this process's
 * random client_id, a deadline (config rpc_timeout_ms, or the caller's), and an
 * HMAC envelope. Raw REQ never resends by itself; the back-end's dedupe table
 * would absorb a resend anyway. When the deadline passes (shard down, slow, or
 * not connected), the callback gets a response with status UNAVAILABLE.
 *
 * The callback runs on the loop thread exactly once per call (unless the call
 * is cancelled first); the response and everything it points to are freed
 * when the callback returns: copy what you keep.
 */
#ifndef CPM_RPC_CLIENT_H
#define CPM_RPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "proto/cpm.pb-c.h"

struct rpc_client;

typedef void rpc_done_cb(const Cpm__Response *resp, void *ctx);

/* Connects to every shard of cfg. NULL on error with a reason. cfg must outlive the client. */
struct rpc_client *rpc_client_new(uv_loop_t *loop, const struct cpm_config *cfg, char *err, size_t errlen);
/* Sends req (the caller fills the op; id, client_id and deadline are set here)
 * to the shard with index shard (config order). timeout_ms 0 = the config's.
 * Returns the call id (> 0). The callback is always called later, never from
 * inside rpc_call. */
uint64_t rpc_call(struct rpc_client *c, size_t shard, Cpm__Request *req, unsigned timeout_ms, rpc_done_cb *cb,
		  void *ctx);
/* The callback of call id will not be called. Harmless if it already ran. */
void rpc_cancel(struct rpc_client *c, uint64_t id);
/* The shard index that owns user (rendezvous hashing over the config's shard ids). */
size_t rpc_shard_for_user(const struct rpc_client *c, const char *user);
size_t rpc_client_inflight(const struct rpc_client *c);
/* Fails all pending calls with UNAVAILABLE (callbacks run), closes sockets. */
void rpc_client_close(struct rpc_client **c);

#endif
