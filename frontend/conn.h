/*
 * conn: one client connection's transport — TCP via libuv, an optional
 * PROXY protocol header, optional TLS (implicit or after STARTTLS), input
 * framing into the IMAP parser, output buffering and flushing.
 *
 * The protocol itself is in session.c; conn calls session_run_command for
 * each parsed command and stops parsing until session_done (so pipelined
 * commands run in order, one at a time).
 *
 * Output: session writers append plaintext to conn_outbuf(); conn marks the
 * connection dirty and the worker flushes all dirty connections once per
 * loop iteration (one uv_write per connection per iteration, TLS records
 * made from the whole batch).
 *
 * Input is bounded: the parser bounds each command; while a command runs,
 * at most CONN_MAX_BUFFERED bytes of pipelined input are held before reading
 * pauses. Idle connections are logged out (pre-auth after 60 s, then 30 min).
 */
#ifndef CPM_FRONTEND_CONN_H
#define CPM_FRONTEND_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "buf.h"
#include "worker.h"

#define CONN_MAX_BUFFERED (256u * 1024)

struct conn;
struct session;

struct listener_opts {
	bool implicit_tls;
	unsigned proxy;   /* CFG_PROXY_* bits */
};

/* Accepting: conn_new makes a conn whose TCP handle (conn_tcp) the listener
 * passes to uv_accept; then conn_start (peer address, session, TLS,
 * greeting, reading). If uv_accept fails, conn_close(c, ...) frees it. */
struct conn *conn_new(struct fe_worker *w, const struct listener_opts *opts);
uv_tcp_t *conn_tcp(struct conn *c);
void conn_start(struct conn *c);

struct buf *conn_outbuf(struct conn *c);
void conn_mark_dirty(struct conn *c);
/* Flush every dirty connection of the worker (called from the worker's check handle). */
void conn_flush_dirty(struct fe_worker *w);
/* The running command finished: continue with pipelined input. */
void conn_command_done(struct conn *c);
/* A large literal offered by the parser (IMAP_PARSE_LITERAL, passed on as
 * session_literal): the session's decision, then conn_command_done to
 * read on. Streamed pieces go to session_literal_data one at a time; input
 * waits after each until conn_command_done. conn_skip_command drops the
 * command being read (an offered literal refused, a streamed one
 * abandoned: the rest of it is discarded). conn_literal_buffer is -1 when
 * the literal does not fit the command limit; conn_literal_stream is true
 * when the client waits for a "+" before sending it. */
bool conn_literal_stream(struct conn *c);
int conn_literal_buffer(struct conn *c);
void conn_skip_command(struct conn *c);
/* Hold command input while no command runs (a NOTIFY push is being
 * written); false when a command is running. Release with conn_command_done. */
bool conn_hold(struct conn *c);
/* Flush output, then close (after the flush completes). */
void conn_close(struct conn *c, const char *reason);
/* STARTTLS: flush pending plaintext now, drop buffered input, start TLS.
 * -1 if TLS is not configured. */
int conn_start_tls(struct conn *c);
/* Deliver the next raw input line to session_raw_line (once), even while a
 * command runs (AUTHENTICATE/IDLE continuations, see session.h). */
void conn_expect_line(struct conn *c, size_t max_len);
bool conn_tls_active(const struct conn *c);
/* Output not yet taken by the kernel (buffered and in flight), in bytes. */
size_t conn_output_pending(const struct conn *c);
/* Calls cb(arg) once when the pending output has drained to
 * CONN_MAX_BUFFERED or less (or when the connection closes): how long
 * responses (FETCH of large bodies) keep their memory bounded. One waiter. */
void conn_on_drain(struct conn *c, void (*cb)(void *arg), void *arg);
/* Peer address text for logs ("1.2.3.4:5678"). */
const char *conn_peer(const struct conn *c);
/* Restart the idle timer with the authenticated-state timeout. */
void conn_set_authenticated(struct conn *c);

#endif
