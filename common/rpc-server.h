/*
 * rpc-server: the back-end side of the RPC transport.
 *
 * Binds a raw (AF_SP_RAW) nanomsg NN_REP socket on the shard's endpoint and
 * watches its receive fd with libuv, so any number of requests from any
 * number of front-ends are in flight at once and are answered in any order
 * (the SP header nanomsg hands over with each request routes the reply back).
 *
 * For each authentic, decodable request whose deadline has not passed the
 * server calls the request callback on the loop thread with a struct
 * rpc_incoming; the application answers later, from the loop thread, with
 * rpc_server_reply(), which consumes the incoming. Requests that fail the
 * HMAC or do not decode are dropped and logged.
 *
 * Exactly-once for writes: each request carries (client_id, id). The server
 * remembers every request it is working on and, for replies sent with
 * remember = true, the encoded reply for RPC_DEDUPE_TTL_MS. A request that
 * arrives again while in progress is dropped (the first reply answers it); one
 * that arrives again after its remembered reply is answered from memory,
 * never executed twice.
 *
 * Threading: everything here runs on the loop thread. Worker threads hand
 * results back with uv_async and reply from the loop.
 */
#ifndef CPM_RPC_SERVER_H
#define CPM_RPC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "proto/cpm.pb-c.h"

#define RPC_DEDUPE_TTL_MS 120000
#define RPC_MAX_MESSAGE (80u << 20) /* largest nanomsg message accepted */

struct rpc_server;
struct rpc_incoming;

/* req is owned by the incoming (valid until rpc_server_reply). */
typedef void rpc_request_cb(struct rpc_server *srv, struct rpc_incoming *in, const Cpm__Request *req, void *ctx);

/* NULL on error (reason in err). */
struct rpc_server *rpc_server_new(uv_loop_t *loop, const char *endpoint, const unsigned char *secret,
				  size_t secret_len, rpc_request_cb *cb, void *ctx, char *err, size_t errlen);
/* Sends resp (its id is set from the request) and frees in. */
void rpc_server_reply(struct rpc_server *srv, struct rpc_incoming **in, Cpm__Response *resp, bool remember);
/* The two halves of rpc_server_reply, so the packing (and the copy of any
 * large bytes) can run on a worker thread: rpc_server_seal packs resp with
 * in's request id into a sealed envelope (touches only the secret and that
 * id: safe off the loop; NULL when out of memory); rpc_server_reply_sealed
 * sends it and takes ownership of env (NULL: nothing is sent, the request
 * is dropped as when out of memory). */
unsigned char *rpc_server_seal(const struct rpc_server *srv, const struct rpc_incoming *in, Cpm__Response *resp,
			       size_t *len_r);
void rpc_server_reply_sealed(struct rpc_server *srv, struct rpc_incoming **in, unsigned char *env, size_t len,
			     bool remember);
/* Convenience: reply with only a status and an error text. */
void rpc_server_reply_status(struct rpc_server *srv, struct rpc_incoming **in, Cpm__Status st, const char *error);
const Cpm__Request *rpc_incoming_request(const struct rpc_incoming *in);
/* Stops watching, closes the socket; pending incomings are dropped. */
void rpc_server_close(struct rpc_server **srv);
/* Number of requests received but not yet answered. */
size_t rpc_server_pending(const struct rpc_server *srv);

#endif
