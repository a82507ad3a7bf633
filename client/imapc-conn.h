/*
 * imapc-conn: one asynchronous IMAP client connection on a libuv loop —
 * TCP, optional implicit TLS (the memory-BIO engine of frontend/tls.h, which
 * libcpmclient links), command tags and pipelining, response parsing
 * (imapc-resp.h) and callbacks.
 *
 *   struct imapc_client *cl = imapc_client_new(loop, &(struct imapc_client_opts){...}, err, sizeof err);
 *   struct imapc_conn *c = imapc_conn_new(cl, &callbacks, ctx);
 *   imapc_conn_connect(c, (struct sockaddr *)&addr);
 *   ... on_ready(c, ctx) (greeting received):
 *   imapc_conn_cmdf(c, on_done, cmd_ctx, "LOGIN %s %s", user, pw);
 *
 * Threading: everything belongs to the loop's thread. Callbacks carry their
 * context explicitly; nothing is global.
 *
 * Client (imapc_client): what the connections of one loop share — the loop,
 * one read buffer (every read is consumed before the read callback returns,
 * so 100,000 idle connections hold no read buffers), the TLS context and the
 * parser limits. It must outlive its connections.
 *
 * Commands: imapc_conn_cmd* give the command a tag ("A1", "A2", ...), queue
 * it and return 0 (-1 when the connection is closed or memory is short: the
 * done callback is then never called). Commands are written as soon as
 * possible (pipelining), in order; a synchronising literal (server without
 * LITERAL+/LITERAL-) holds the rest of the output until the server's "+".
 * Each queued command gets exactly one done callback: with its tagged
 * response, or with resp == NULL when the connection closes first.
 * Untagged responses go to callbacks->untagged (the command they belong to
 * is the caller's business: IMAP does not say). A "+" that no literal waits
 * for goes to the oldest command that asked for continuations (IDLE,
 * AUTHENTICATE) through its cont callback; send the answer with
 * imapc_conn_send_raw (e.g. "DONE\r\n").
 *
 * Capabilities: kept from the greeting's and tagged responses' [CAPABILITY]
 * codes and from untagged CAPABILITY responses; imapc_conn_has_cap asks.
 *
 * Closing: imapc_conn_close starts an orderly close (pending output is
 * dropped, in-flight commands get done(NULL)), then callbacks->closed runs
 * once, after which the connection memory is freed by the library: do not
 * touch it after closed() returns. A network error, EOF, a TLS failure or a
 * response the parser refuses closes the connection the same way, with the
 * reason given to closed(). The response pointers handed to callbacks are
 * valid only during the callback.
 */
#ifndef CPM_IMAPC_CONN_H
#define CPM_IMAPC_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "imapc-resp.h"

struct imapc_client;
struct imapc_conn;
struct tls_ctx;

struct imapc_client_opts {
	bool tls;               /* implicit TLS on connect */
	const char *tls_ca_file; /* NULL: the server certificate is not verified */
	const char *tls_sni;    /* server name sent (and verified with a CA file) */
	struct imapc_resp_limits limits;
};

/* done: the tagged response, or NULL when the connection closed first. */
typedef void imapc_done_cb(struct imapc_conn *c, const struct imapc_resp *tagged, void *cmd_ctx);
/* cont: a "+" for a command that asked for continuations. */
typedef void imapc_cont_cb(struct imapc_conn *c, const struct imapc_resp *cont, void *cmd_ctx);

struct imapc_callbacks {
	/* Greeting received (OK or PREAUTH; BYE closes instead). */
	void (*ready)(struct imapc_conn *c, const struct imapc_resp *greeting, void *ctx);
	/* Every untagged response after the greeting. May be NULL. */
	void (*untagged)(struct imapc_conn *c, const struct imapc_resp *r, void *ctx);
	/* Called once; the connection is freed when it returns. */
	void (*closed)(struct imapc_conn *c, const char *reason, void *ctx);
};

/* NULL with a reason in err on failure (TLS context, memory). */
struct imapc_client *imapc_client_new(uv_loop_t *loop, const struct imapc_client_opts *opts, char *err,
				      size_t errlen);
/* Only after every connection of the client has closed. */
void imapc_client_free(struct imapc_client **cl);
uv_loop_t *imapc_client_loop(const struct imapc_client *cl);

/* NULL on memory exhaustion. The connection is idle until connect. */
struct imapc_conn *imapc_conn_new(struct imapc_client *cl, const struct imapc_callbacks *cb, void *ctx);
/* Starts connecting. -1 (with no callback ever) if it cannot even start:
   then free it with imapc_conn_close, which still calls closed(). */
int imapc_conn_connect(struct imapc_conn *c, const struct sockaddr *addr);
void imapc_conn_close(struct imapc_conn *c, const char *reason);

/* A command "TAG text\r\n" (text without the tag or CRLF, no literals). */
int imapc_conn_cmd(struct imapc_conn *c, imapc_done_cb *done, void *cmd_ctx, const char *text, size_t len);
int imapc_conn_cmdf(struct imapc_conn *c, imapc_done_cb *done, void *cmd_ctx, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* "TAG prefix {n}\r\n<literal>suffix\r\n": one literal, sent as LITERAL+
   when the server allows it, else after its "+". */
int imapc_conn_cmd_literal(struct imapc_conn *c, imapc_done_cb *done, void *cmd_ctx, const char *prefix,
			   const void *literal, size_t literal_len, const char *suffix);
/* Like imapc_conn_cmd, and "+" responses no literal waits for go to cont. */
int imapc_conn_cmd_cont(struct imapc_conn *c, imapc_done_cb *done, imapc_cont_cb *cont, void *cmd_ctx,
			const char *text, size_t len);
/* Raw bytes after everything queued so far (e.g. "DONE\r\n" ending IDLE). */
int imapc_conn_send_raw(struct imapc_conn *c, const void *data, size_t len);

bool imapc_conn_has_cap(const struct imapc_conn *c, const char *cap);
/* Commands sent (or queued) whose tagged response has not come yet. */
size_t imapc_conn_in_flight(const struct imapc_conn *c);
bool imapc_conn_is_open(const struct imapc_conn *c);
void *imapc_conn_ctx(const struct imapc_conn *c);
void imapc_conn_set_ctx(struct imapc_conn *c, void *ctx);

#endif
