/*
 * conn: transport of one client connection. See conn.h for the contract.
 *
 * Byte path in:  socket → [PROXY header] → [TLS decrypt] → c->in → parser
 *                → session_run_command (or the raw-line callback).
 * Byte path out: session writers → c->out (plaintext) → (dirty list) →
 *                [TLS encrypt] → uv_write.
 *
 * Lifetime: the conn is freed when both its libuv handles have closed and
 * the session has been told (session_close); the session itself may live a
 * little longer while RPC callbacks drain (they see session_closed()).
 */
#include "conn.h"

#include "clock.h"
#include "config.h"
#include "imap-parser.h"
#include "log.h"
#include "proxy-proto.h"
#include "session.h"
#include "tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREAUTH_TIMEOUT_MS (60u * 1000)
#define AUTH_TIMEOUT_MS (30u * 60 * 1000)

struct wreq {
	uv_write_t req;
	struct conn *c;
	struct buf data;
};

struct conn {
	struct fe_worker *w;
	uv_tcp_t tcp;
	uv_timer_t idle;
	unsigned open_handles;
	struct session *s;
	struct imap_parser *parser;
	struct buf in;        /* plaintext input not yet parsed */
	struct buf out;       /* plaintext output not yet flushed */
	struct buf raw;       /* bytes before the PROXY header is complete */
	struct tls_conn *tls;
	bool tls_shutdown;
	unsigned proxy;       /* PROXY versions still expected (0 = done/none) */
	bool implicit_tls;
	bool greeted;
	bool busy;            /* a command is running */
	bool in_process;
	bool reading;
	bool closing;
	bool line_mode;
	size_t line_max;
	bool dirty;
	struct conn *dirty_next;
	size_t write_pending; /* bytes handed to uv_write and not yet written */
	uint64_t timeout_ms;
	char peer[64];
	char close_reason[96];
	void (*drain_cb)(void *arg); /* conn_on_drain waiter */
	void *drain_arg;
};

static void conn_process(struct conn *c);
static void start_reading(struct conn *c);

size_t conn_output_pending(const struct conn *c)
{
	return c->out.len + c->write_pending;
}

/* Runs the drain waiter if the output is low enough (or force: closing). */
static void check_drain(struct conn *c, bool force)
{
	if (c->drain_cb == NULL || (!force && conn_output_pending(c) > CONN_MAX_BUFFERED))
		return;
	void (*cb)(void *) = c->drain_cb;
	c->drain_cb = NULL;
	cb(c->drain_arg);
}

void conn_on_drain(struct conn *c, void (*cb)(void *arg), void *arg)
{
	c->drain_cb = cb;
	c->drain_arg = arg;
	conn_mark_dirty(c); /* the flush at the end of this iteration starts the draining */
}

struct buf *conn_outbuf(struct conn *c)
{
	return &c->out;
}

bool conn_tls_active(const struct conn *c)
{
	return c->tls != NULL;
}

const char *conn_peer(const struct conn *c)
{
	return c->peer;
}

void conn_mark_dirty(struct conn *c)
{
	if (c->dirty || c->open_handles == 0)
		return;
	c->dirty = true;
	c->dirty_next = c->w->dirty_head;
	c->w->dirty_head = c;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	if (--c->open_handles > 0)
		return;
	/* A conn on the dirty list is removed from it before closing. */
	imap_parser_free(&c->parser);
	tls_conn_free(&c->tls);
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->raw);
	c->w->n_conns--;
	free(c);
}

static void really_close(struct conn *c)
{
	if (c->open_handles == 0 || uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	if (c->dirty) {
		/* unlink from the dirty list */
		struct conn **pp = &c->w->dirty_head;
		while (*pp != NULL && *pp != c)
			pp = &(*pp)->dirty_next;
		if (*pp == c)
			*pp = c->dirty_next;
		c->dirty = false;
	}
	log_info("event=disconnect conn=%s reason=%s", c->peer, log_quote(c->close_reason, strlen(c->close_reason)));
	if (c->s != NULL) {
		struct session *s = c->s;
		c->s = NULL;
		session_close(s);
	}
	check_drain(c, true); /* a waiter learns that the session is gone */
	uv_timer_stop(&c->idle);
	uv_close((uv_handle_t *)&c->idle, on_handle_closed);
	uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_write_done(uv_write_t *req, int status)
{
	struct wreq *wr = (struct wreq *)req;
	struct conn *c = wr->c;
	c->write_pending -= wr->data.len;
	buf_free(&wr->data);
	free(wr);
	if (status < 0 && !c->closing) {
		c->closing = true;
		snprintf(c->close_reason, sizeof(c->close_reason), "write failed: %s", uv_strerror(status));
	}
	if (c->closing && c->write_pending == 0) {
		really_close(c);
		return;
	}
	check_drain(c, false);
	/* Output drained below the limit: a paused reader can resume. */
	if (!c->closing && !c->reading && c->write_pending < CONN_MAX_BUFFERED)
		start_reading(c);
}

static int write_raw(struct conn *c, struct buf *data)
{
	if (data->len == 0)
		return 0;
	struct wreq *wr = calloc(1, sizeof(*wr));
	if (wr == NULL)
		return -1;
	wr->c = c;
	wr->data = *data;
	buf_init(data);
	uv_buf_t ub = uv_buf_init((char *)wr->data.data, (unsigned)wr->data.len);
	c->write_pending += wr->data.len;
	int rc = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &ub, 1, on_write_done);
	if (rc < 0) {
		c->write_pending -= wr->data.len;
		buf_free(&wr->data);
		free(wr);
		return -1;
	}
	return 0;
}

/* Sends everything pending: plaintext through TLS when active. */
static void conn_flush(struct conn *c)
{
	if (c->open_handles == 0 || uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	int rc = 0;
	if (c->tls != NULL) {
		if (c->out.len > 0) {
			rc = tls_conn_write(c->tls, c->out.data, c->out.len);
			buf_reset(&c->out);
		}
		/* Closing: close_notify goes after the last response, never before it. */
		if (c->closing && !c->tls_shutdown && tls_conn_handshake_done(c->tls)) {
			tls_conn_shutdown(c->tls);
			c->tls_shutdown = true;
		}
		struct buf cipher;
		buf_init(&cipher);
		if (rc == 0)
			rc = tls_conn_take_output(c->tls, &cipher);
		if (rc == 0)
			rc = write_raw(c, &cipher);
		buf_free(&cipher);
	} else {
		rc = write_raw(c, &c->out);
	}
	if (rc < 0 && !c->closing) {
		c->closing = true;
		snprintf(c->close_reason, sizeof(c->close_reason), "output failed");
	}
	if (c->closing && c->write_pending == 0)
		really_close(c);
}

void conn_flush_dirty(struct fe_worker *w)
{
	while (w->dirty_head != NULL) {
		struct conn *c = w->dirty_head;
		w->dirty_head = c->dirty_next;
		c->dirty = false;
		conn_flush(c);
	}
}

void conn_close(struct conn *c, const char *reason)
{
	if (c->closing)
		return;
	c->closing = true;
	snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
	if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
	conn_mark_dirty(c); /* conn_flush sends what is pending, then close_notify */
}

static void on_idle_timeout(uv_timer_t *t)
{
	struct conn *c = t->data;
	if (c->busy) {
		/* A command is still running (waiting on a shard): give it time. */
		uv_timer_start(&c->idle, on_idle_timeout, 10000, 0);
		return;
	}
	if (c->s != NULL)
		session_untagged(c->s, "BYE Autologout; idle for too long");
	conn_close(c, "idle timeout");
}

static void touch_idle(struct conn *c)
{
	if (!c->closing)
		uv_timer_start(&c->idle, on_idle_timeout, c->timeout_ms, 0);
}

void conn_set_authenticated(struct conn *c)
{
	c->timeout_ms = AUTH_TIMEOUT_MS;
	touch_idle(c);
}

static void greet_if_ready(struct conn *c)
{
	if (c->greeted || c->proxy != 0)
		return;
	if (c->implicit_tls && (c->tls == NULL || !tls_conn_handshake_done(c->tls)))
		return;
	c->greeted = true;
	session_greet(c->s);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct conn *c = h->data;
	b->base = (char *)c->w->readbuf;
	b->len = sizeof(c->w->readbuf);
}

/* Plain bytes after PROXY: through TLS if active, then into c->in. */
static void take_transport_bytes(struct conn *c, const unsigned char *data, size_t len)
{
	if (c->tls != NULL) {
		bool was_done = tls_conn_handshake_done(c->tls);
		if (tls_conn_feed(c->tls, data, len, &c->in) < 0) {
			const char *e = tls_conn_error(c->tls);
			conn_mark_dirty(c); /* send the alert, if any */
			conn_close(c, e ? e : "TLS error");
			return;
		}
		conn_mark_dirty(c); /* handshake records */
		if (!was_done && tls_conn_handshake_done(c->tls)) {
			log_info("event=tls conn=%s protocol=%s cipher=%s", c->peer, tls_conn_protocol(c->tls),
				 tls_conn_cipher(c->tls));
			greet_if_ready(c);
		}
		if (tls_conn_peer_closed(c->tls)) {
			conn_close(c, "TLS close_notify");
			return;
		}
	} else if (buf_append(&c->in, data, len) < 0) {
		conn_close(c, "out of memory");
		return;
	}
}

static void handle_proxy(struct conn *c, const unsigned char *data, size_t len)
{
	if (buf_append(&c->raw, data, len) < 0) {
		conn_close(c, "out of memory");
		return;
	}
	struct proxy_info info;
	size_t used = 0;
	const char *err = NULL;
	unsigned accept = 0;
	if (c->proxy & CFG_PROXY_V1)
		accept |= PROXY_V1;
	if (c->proxy & CFG_PROXY_V2)
		accept |= PROXY_V2;
	enum proxy_result r = proxy_parse(c->raw.data, c->raw.len, accept, &info, &used, &err);
	if (r == PROXY_NEED_MORE)
		return;
	if (r == PROXY_ERROR) {
		conn_close(c, err ? err : "bad PROXY header");
		return;
	}
	c->proxy = 0;
	if (!info.local) {
		char host[INET6_ADDRSTRLEN] = "?";
		int port = 0;
		if (info.src.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&info.src;
			inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
			port = ntohs(a->sin_port);
			session_set_peer_loopback(c->s, (ntohl(a->sin_addr.s_addr) >> 24) == 127);
		} else if (info.src.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&info.src;
			inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
			port = ntohs(a->sin6_port);
			session_set_peer_loopback(c->s, IN6_IS_ADDR_LOOPBACK(&a->sin6_addr));
		}
		char old[64];
		snprintf(old, sizeof(old), "%s", c->peer);
		snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
		log_info("event=proxy conn=%s via=%s", c->peer, old);
	}
	struct buf rest = c->raw;
	buf_init(&c->raw);
	greet_if_ready(c);
	take_transport_bytes(c, rest.data + used, rest.len - used);
	buf_free(&rest);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = st->data;
	if (n == 0)
		return;
	if (n < 0) {
		if (c->reading) {
			uv_read_stop(st);
			c->reading = false;
		}
		if (!c->closing) {
			c->closing = true;
			snprintf(c->close_reason, sizeof(c->close_reason), "%s",
				 n == UV_EOF ? "client closed" : uv_strerror((int)n));
			conn_flush(c);
			if (!uv_is_closing((uv_handle_t *)&c->tcp) && c->write_pending == 0)
				really_close(c);
		}
		return;
	}
	if (c->closing)
		return;
	touch_idle(c);
	if (c->proxy != 0)
		handle_proxy(c, (unsigned char *)b->base, (size_t)n);
	else
		take_transport_bytes(c, (unsigned char *)b->base, (size_t)n);
	if (!c->closing)
		conn_process(c);
}

static void start_reading(struct conn *c)
{
	if (c->reading || c->closing)
		return;
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
		c->reading = true;
}

static void pause_if_full(struct conn *c)
{
	bool full = c->in.len > CONN_MAX_BUFFERED || c->write_pending > CONN_MAX_BUFFERED;
	if (full && c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	} else if (!full && !c->reading) {
		start_reading(c);
	}
}

static void process_line_mode(struct conn *c)
{
	unsigned char *lf = memchr(c->in.data, '\n', c->in.len);
	if (lf == NULL) {
		if (c->in.len > c->line_max) {
			buf_reset(&c->in);
			c->line_mode = false;
			session_raw_line(c->s, NULL, 0);
		}
		return;
	}
	size_t linelen = (size_t)(lf - c->in.data);
	size_t used = linelen + 1;
	if (linelen > 0 && c->in.data[linelen - 1] == '\r')
		linelen--;
	c->line_mode = false;
	if (linelen > c->line_max) {
		buf_consume(&c->in, used);
		session_raw_line(c->s, NULL, 0);
		return;
	}
	/* Copy: the callback may consume more input or end line mode. */
	char *line = strndup((char *)c->in.data, linelen);
	buf_consume(&c->in, used);
	if (line == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	session_raw_line(c->s, line, linelen);
	free(line);
}

static void conn_process(struct conn *c)
{
	if (c->in_process)
		return;
	c->in_process = true;
	while (!c->closing && (!c->busy || c->line_mode) && c->greeted && c->in.len > 0) {
		if (c->line_mode) {
			size_t before = c->in.len;
			process_line_mode(c);
			if (c->in.len == before)
				break;
			continue;
		}
		size_t used = 0;
		const struct imap_command *cmd = NULL;
		enum imap_parse_status st = imap_parser_feed(c->parser, c->in.data, c->in.len, &used, &cmd);
		if (st == IMAP_PARSE_LITERAL_DATA) {
			/* The piece points into c->in: the session copies it first.
			 * Input waits until it says so (conn_command_done). */
			c->busy = true;
			session_literal_data(c->s, imap_parser_literal_chunk(c->parser));
			buf_consume(&c->in, used);
			continue;
		}
		buf_consume(&c->in, used);
		if (st == IMAP_PARSE_LITERAL) {
			/* A large literal: the session decides (conn_literal_*),
			 * maybe after asking the back-end, before any "+". */
			c->busy = true;
			session_literal(c->s, cmd, imap_parser_literal(c->parser));
			continue;
		}
		if (st == IMAP_PARSE_NEED_MORE) {
			if (used == 0)
				break;
			continue;
		}
		if (st == IMAP_PARSE_CONTINUATION) {
			session_continue(c->s, "OK");
			continue;
		}
		if (st == IMAP_PARSE_ERROR) {
			const struct imap_parse_error *e = imap_parser_error(c->parser);
			session_parse_error(c->s, e);
			if (e->fatal)
				conn_close(c, e->message ? e->message : "protocol error");
			continue;
		}
		/* IMAP_PARSE_COMMAND */
		c->busy = true;
		session_run_command(c->s, cmd);
	}
	c->in_process = false;
	if (!c->closing)
		pause_if_full(c);
	conn_mark_dirty(c);
}

bool conn_literal_stream(struct conn *c)
{
	return imap_parser_literal_stream(c->parser) == 0 && imap_parser_literal(c->parser)->sync;
}

int conn_literal_buffer(struct conn *c)
{
	return imap_parser_literal_buffer(c->parser);
}

void conn_skip_command(struct conn *c)
{
	imap_parser_skip_command(c->parser);
}

bool conn_hold(struct conn *c)
{
	if (c->busy || c->closing)
		return false;
	c->busy = true;
	return true;
}

void conn_command_done(struct conn *c)
{
	c->busy = false;
	conn_mark_dirty(c);
	if (!c->in_process && !c->closing)
		conn_process(c);
}

void conn_expect_line(struct conn *c, size_t max_len)
{
	c->line_mode = true;
	c->line_max = max_len ? max_len : 8192;
	conn_mark_dirty(c);
	if (!c->in_process && !c->closing)
		conn_process(c);
}

int conn_start_tls(struct conn *c)
{
	if (c->w->tls == NULL || c->tls != NULL)
		return -1;
	/* The OK goes out in clear text, now, before TLS starts. */
	struct buf plain = c->out;
	buf_init(&c->out);
	int rc = write_raw(c, &plain);
	buf_free(&plain);
	if (rc < 0)
		return -1;
	/* Anything the client pipelined after STARTTLS was sent in clear text
	 * and must not be taken as coming over TLS (CVE-2011-0411 class). */
	buf_reset(&c->in);
	imap_parser_reset(c->parser);
	c->tls = tls_conn_new(c->w->tls, NULL);
	return c->tls ? 0 : -1;
}

struct conn *conn_new(struct fe_worker *w, const struct listener_opts *opts)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->w = w;
	c->implicit_tls = opts->implicit_tls;
	c->proxy = opts->proxy;
	c->timeout_ms = PREAUTH_TIMEOUT_MS;
	c->parser = imap_parser_new(&w->limits);
	if (c->parser == NULL) {
		free(c);
		return NULL;
	}
	uv_tcp_init(w->loop, &c->tcp);
	c->tcp.data = c;
	uv_timer_init(w->loop, &c->idle);
	c->idle.data = c;
	c->open_handles = 2;
	w->n_conns++;
	return c;
}

uv_tcp_t *conn_tcp(struct conn *c)
{
	return &c->tcp;
}

/* After uv_accept succeeded: peer address, session, TLS, greeting. */
void conn_start(struct conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	bool loopback = false;
	snprintf(c->peer, sizeof(c->peer), "?");
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
		char host[INET6_ADDRSTRLEN] = "?";
		int port = 0;
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
			port = ntohs(a->sin_port);
			loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
			port = ntohs(a->sin6_port);
			loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
		}
		snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
	}
	uv_tcp_nodelay(&c->tcp, 1);
	c->s = session_new(c->w, c, c->implicit_tls, loopback);
	if (c->s == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	if (c->implicit_tls) {
		c->tls = c->w->tls ? tls_conn_new(c->w->tls, NULL) : NULL;
		if (c->tls == NULL) {
			conn_close(c, "TLS not available");
			return;
		}
	}
	log_info("event=connect conn=%s tls=%s", c->peer, c->implicit_tls ? "implicit" : "no");
	touch_idle(c);
	greet_if_ready(c);
	start_reading(c);
}
