/*
 * outband: the operator endpoint's listener and connections. See outband.h
 * for the contract and docs/outband.md for the protocol.
 *
 * A connection's life: accepted → (TLS handshake) → one Subscribe frame
 * within OB_SUBSCRIBE_TIMEOUT_MS, authenticated by client certificate or
 * operator secret → streaming (outband-sub.c) with a Heartbeat every
 * outband_heartbeat_s → Closing and close. The one timer of a connection
 * serves the three phases in turn (subscribe deadline, heartbeat tick,
 * closing grace).
 *
 * Closing never frees anything synchronously: ob_conn_fail may be called
 * from inside a subscription callback, so the memory goes when libuv has
 * closed the handles. Output is counted in `pending` from uv_write to its
 * completion; beyond outband_max_buffer the subscriber is dropped ("slow"),
 * as is one whose queue did not move for a whole heartbeat period.
 */
#include "outband.h"

#include "buf.h"
#include "config.h"
#include "listener.h"
#include "log.h"
#include "outband-sub.h"
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CLOSE_GRACE_MS 5000

struct outband {
	struct fe_worker *w;
	uv_tcp_t tcp;
	bool listening;
	struct tls_ctx *tls;
	struct ob_conn *conns;
	unsigned n_conns;
	uint64_t seq;
};

struct ob_conn {
	struct outband *ob;
	struct ob_conn *prev, *next;
	uv_tcp_t tcp;
	uv_timer_t timer;
	int open_handles;
	struct tls_conn *tls;
	struct buf in;          /* plaintext received, not yet framed */
	size_t pending;         /* bytes handed to uv_write, not yet written */
	bool reading, closing, closed, moved;
	struct ob_sub *sub;
	uint64_t id;
	char peer[64];
	char reason[32];
};

struct wreq {
	uv_write_t req;
	struct ob_conn *c;
	unsigned char *data;
	size_t len;
};

static void on_handle_closed(uv_handle_t *h)
{
	struct ob_conn *c = h->data;
	if (--c->open_handles > 0)
		return;
	buf_free(&c->in);
	free(c);
}

/* Frees the subscription and closes the handles (memory goes with the last one). */
static void really_close(struct ob_conn *c)
{
	if (c->closed)
		return;
	c->closed = true;
	struct outband *ob = c->ob;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ob->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	ob->n_conns--;
	ob_sub_free(&c->sub);
	tls_conn_free(&c->tls);
	log_info("event=outband_disconnect conn=%llu peer=%s reason=%s", (unsigned long long)c->id, c->peer,
		 c->reason[0] ? c->reason : "peer");
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_grace(uv_timer_t *t)
{
	really_close(t->data);
}

static void on_write_done(uv_write_t *req, int status)
{
	struct wreq *wr = (struct wreq *)req;
	struct ob_conn *c = wr->c;
	c->pending -= wr->len;
	free(wr->data);
	free(wr);
	if (c->closed)
		return;
	c->moved = true;
	if (status < 0 && !c->closing) {
		snprintf(c->reason, sizeof(c->reason), "write failed");
		c->closing = true;
	}
	if (c->closing) {
		if (c->pending == 0)
			really_close(c);
		return;
	}
	if (c->sub != NULL && c->pending < OB_LOW_WATER)
		ob_sub_drained(c->sub);
}

/* Hands bytes to the socket (taking data, malloc'd). -1 when it cannot. */
static int write_bytes(struct ob_conn *c, unsigned char *data, size_t len)
{
	if (len == 0) {
		free(data);
		return 0;
	}
	struct wreq *wr = malloc(sizeof(*wr));
	if (wr == NULL) {
		free(data);
		return -1;
	}
	wr->c = c;
	wr->data = data;
	wr->len = len;
	uv_buf_t ub = uv_buf_init((char *)data, (unsigned)len);
	if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, &ub, 1, on_write_done) < 0) {
		free(data);
		free(wr);
		return -1;
	}
	c->pending += len;
	return 0;
}

/* TLS records waiting in the engine go out. */
static int flush_tls(struct ob_conn *c)
{
	if (c->tls == NULL || tls_conn_output_pending(c->tls) == 0)
		return 0;
	struct buf cipher;
	buf_init(&cipher);
	if (tls_conn_take_output(c->tls, &cipher) < 0) {
		buf_free(&cipher);
		return -1;
	}
	size_t n;
	unsigned char *p = buf_steal(&cipher, &n);
	return write_bytes(c, p, n);
}

static int write_plain(struct ob_conn *c, unsigned char *data, size_t len)
{
	if (c->tls == NULL)
		return write_bytes(c, data, len);
	int rc = tls_conn_write(c->tls, data, len);
	free(data);
	return rc < 0 ? -1 : flush_tls(c);
}

/* Frames and writes f; ignoring the buffer limit when force. */
static int send_frame(struct ob_conn *c, const Cpm__Outband__ServerFrame *f, bool force)
{
	size_t n = cpm__outband__server_frame__get_packed_size(f);
	if (n > OB_MAX_FRAME) {
		log_error("event=outband_frame_too_large conn=%llu bytes=%zu", (unsigned long long)c->id, n);
		return -1;
	}
	if (!force && c->pending + n + 4 > c->ob->w->cfg->outband_max_buffer) {
		ob_conn_fail(c, "slow", "the subscriber did not read fast enough; resume from the last cursor");
		return -1;
	}
	unsigned char *p = malloc(n + 4);
	if (p == NULL)
		return -1;
	p[0] = (unsigned char)(n >> 24);
	p[1] = (unsigned char)(n >> 16);
	p[2] = (unsigned char)(n >> 8);
	p[3] = (unsigned char)n;
	cpm__outband__server_frame__pack(f, p + 4);
	return write_plain(c, p, n + 4);
}

int ob_conn_send(struct ob_conn *c, const Cpm__Outband__ServerFrame *f)
{
	if (c->closing)
		return -1;
	if (send_frame(c, f, false) < 0) {
		ob_conn_fail(c, "internal", "output failed");
		return -1;
	}
	return 0;
}

size_t ob_conn_pending(const struct ob_conn *c)
{
	return c->pending;
}

void ob_conn_fail(struct ob_conn *c, const char *reason, const char *detail)
{
	if (c->closing)
		return;
	snprintf(c->reason, sizeof(c->reason), "%s", reason);
	Cpm__Outband__Closing cl = CPM__OUTBAND__CLOSING__INIT;
	cl.reason = (char *)reason;
	cl.detail = (char *)(detail ? detail : "");
	Cpm__Outband__ServerFrame f = CPM__OUTBAND__SERVER_FRAME__INIT;
	f.schema_version = CPM__OUTBAND__SCHEMA_VERSION__SCHEMA_VERSION;
	f.msg_case = CPM__OUTBAND__SERVER_FRAME__MSG_CLOSING;
	f.closing = &cl;
	send_frame(c, &f, true);
	if (c->tls != NULL) {
		tls_conn_shutdown(c->tls);
		flush_tls(c);
	}
	c->closing = true;
	if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
	/* Never synchronously: the caller may be a subscription callback. */
	uv_timer_start(&c->timer, on_grace, c->pending > 0 ? CLOSE_GRACE_MS : 0, 0);
	log_info("event=outband_closing conn=%llu reason=%s detail=%s", (unsigned long long)c->id, reason,
		 log_quote(cl.detail, strlen(cl.detail)));
}

static void on_tick(uv_timer_t *t)
{
	struct ob_conn *c = t->data;
	if (c->closing)
		return;
	if (c->sub == NULL) {
		ob_conn_fail(c, "protocol", "no Subscribe in time");
		return;
	}
	if (c->pending >= OB_LOW_WATER && !c->moved) {
		ob_conn_fail(c, "slow", "the subscriber did not read for a heartbeat period");
		return;
	}
	c->moved = false;
	ob_sub_tick(c->sub);
}

/* The operator secret, compared in constant time (digests of equal length). */
static bool secret_ok(const struct cpm_config *cfg, const char *offered)
{
	if (cfg->outband_secret == NULL || offered == NULL || offered[0] == '\0')
		return false;
	unsigned char a[32], b[32];
	unsigned int la = 32, lb = 32;
	if (EVP_Digest(cfg->outband_secret, strlen(cfg->outband_secret), a, &la, EVP_sha256(), NULL) != 1 ||
	    EVP_Digest(offered, strlen(offered), b, &lb, EVP_sha256(), NULL) != 1)
		return false;
	return CRYPTO_memcmp(a, b, 32) == 0;
}

static void on_subscribe(struct ob_conn *c, const Cpm__Outband__Subscribe *req)
{
	const struct cpm_config *cfg = c->ob->w->cfg;
	bool by_cert = c->tls != NULL && cfg->outband_client_ca != NULL && tls_conn_peer_verified(c->tls);
	if (!by_cert && !secret_ok(cfg, req->secret)) {
		log_warn("event=outband_auth_failed conn=%llu peer=%s", (unsigned long long)c->id, c->peer);
		ob_conn_fail(c, "auth", "authenticate with a client certificate or the operator secret");
		return;
	}
	char err[128];
	c->sub = ob_sub_new(c->ob->w, c, req, err, sizeof(err));
	if (c->sub == NULL) {
		ob_conn_fail(c, strcmp(err, "out of memory") == 0 ? "internal" : "protocol", err);
		return;
	}
	const char *subject = by_cert ? tls_conn_peer_subject(c->tls) : NULL;
	log_info("event=outband_subscribe conn=%llu peer=%s auth=%s subject=%s users=%zu folders=%zu resume=%zu",
		 (unsigned long long)c->id, c->peer, by_cert ? "certificate" : "secret",
		 subject ? log_quote(subject, strlen(subject)) : "-", req->n_users, req->n_folders, req->n_resume);
	unsigned ms = cfg->outband_heartbeat_s * 1000u;
	uv_timer_start(&c->timer, on_tick, ms, ms);
}

static void on_frame(struct ob_conn *c, const unsigned char *p, size_t n)
{
	Cpm__Outband__ClientFrame *f = cpm__outband__client_frame__unpack(NULL, n, p);
	if (f == NULL) {
		ob_conn_fail(c, "protocol", "undecodable frame");
		return;
	}
	if (f->msg_case == CPM__OUTBAND__CLIENT_FRAME__MSG_SUBSCRIBE && c->sub == NULL)
		on_subscribe(c, f->subscribe);
	else if (f->msg_case == CPM__OUTBAND__CLIENT_FRAME__MSG_PING && c->sub != NULL)
		ob_sub_heartbeat(c->sub);
	else if (c->sub == NULL)
		ob_conn_fail(c, "protocol", "the first frame must be a Subscribe");
	else if (f->msg_case == CPM__OUTBAND__CLIENT_FRAME__MSG_SUBSCRIBE)
		ob_conn_fail(c, "protocol", "one Subscribe per connection");
	/* else: a frame of a later schema version this server does not know: ignored */
	cpm__outband__client_frame__free_unpacked(f, NULL);
}

static void take_frames(struct ob_conn *c)
{
	size_t off = 0;
	while (!c->closing && c->in.len - off >= 4) {
		const unsigned char *p = c->in.data + off;
		size_t n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
		if (n == 0 || n > OB_MAX_CLIENT_FRAME) {
			ob_conn_fail(c, "protocol", "bad frame length");
			break;
		}
		if (c->in.len - off - 4 < n)
			break;
		on_frame(c, p + 4, n);
		off += 4 + n;
	}
	buf_consume(&c->in, off);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct ob_conn *c = h->data;
	b->base = (char *)c->ob->w->readbuf;
	b->len = sizeof(c->ob->w->readbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct ob_conn *c = s->data;
	if (nread == 0 || c->closing)
		return;
	if (nread < 0) {
		snprintf(c->reason, sizeof(c->reason), "%s", nread == UV_EOF ? "peer closed" : "read error");
		c->closing = true;
		uv_read_stop(s);
		c->reading = false;
		uv_timer_start(&c->timer, on_grace, 0, 0);
		return;
	}
	int rc = 0;
	if (c->tls != NULL) {
		rc = tls_conn_feed(c->tls, b->base, (size_t)nread, &c->in);
		if (flush_tls(c) < 0 || rc < 0) {
			const char *e = tls_conn_error(c->tls);
			ob_conn_fail(c, "tls", e && e[0] ? e : "TLS error");
			return;
		}
	} else if (buf_append(&c->in, b->base, (size_t)nread) < 0) {
		ob_conn_fail(c, "internal", "out of memory");
		return;
	}
	take_frames(c);
	/* A frame in progress never exceeds the bound (take_frames checked its length). */
	if (!c->closing && c->in.len > OB_MAX_CLIENT_FRAME + 4 + 65536)
		ob_conn_fail(c, "protocol", "too much unframed input");
}

static void on_connection(uv_stream_t *server, int status)
{
	struct outband *ob = server->data;
	if (status < 0)
		return;
	struct ob_conn *c = calloc(1, sizeof(*c));
	uv_tcp_t *tcp = c ? &c->tcp : malloc(sizeof(uv_tcp_t));
	if (tcp == NULL)
		return;
	uv_tcp_init(ob->w->loop, tcp);
	if (c == NULL) {
		if (uv_accept(server, (uv_stream_t *)tcp) == 0)
			log_warn("event=outband_accept_dropped reason=out_of_memory");
		uv_close((uv_handle_t *)tcp, (uv_close_cb)free);
		return;
	}
	c->ob = ob;
	c->id = ++ob->seq;
	c->tcp.data = c;
	uv_timer_init(ob->w->loop, &c->timer);
	c->timer.data = c;
	c->open_handles = 2;
	buf_init(&c->in);
	c->next = ob->conns;
	if (ob->conns != NULL)
		ob->conns->prev = c;
	ob->conns = c;
	ob->n_conns++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
		snprintf(c->reason, sizeof(c->reason), "accept failed");
		c->closing = true;
		really_close(c);
		return;
	}
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof(host));
		else if (ss.ss_family == AF_INET6)
			uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof(host));
	}
	snprintf(c->peer, sizeof(c->peer), "%s", host);
	log_info("event=outband_connect conn=%llu peer=%s", (unsigned long long)c->id, c->peer);
	uv_timer_start(&c->timer, on_tick, OB_SUBSCRIBE_TIMEOUT_MS, 0);
	if (ob->tls != NULL && (c->tls = tls_conn_new(ob->tls, NULL)) == NULL) {
		ob_conn_fail(c, "internal", "out of memory");
		return;
	}
	if (ob->n_conns > ob->w->cfg->outband_max_subscribers) {
		ob_conn_fail(c, "limit", "too many subscribers on this front-end");
		return;
	}
	c->reading = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0;
	if (!c->reading)
		ob_conn_fail(c, "internal", "cannot read");
}

static void on_listener_closed(uv_handle_t *h)
{
	struct outband *ob = h->data;
	tls_ctx_free(&ob->tls);
	free(ob);
}

struct outband *outband_start(struct fe_worker *w, char *err, size_t errlen)
{
	const struct cpm_config *cfg = w->cfg;
	struct outband *ob = calloc(1, sizeof(*ob));
	if (ob == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ob->w = w;
	if (cfg->outband_tls) {
		struct tls_server_config tc;
		memset(&tc, 0, sizeof(tc));
		tc.cert_file = cfg->tls_cert;
		tc.key_file = cfg->tls_key;
		tc.client_ca_file = cfg->outband_client_ca;
		if ((ob->tls = tls_ctx_new_server(&tc, err, errlen)) == NULL) {
			free(ob);
			return NULL;
		}
	}
	int fd = listener_socket(&cfg->outband, "outband_listen", 256, err, errlen);
	if (fd < 0) {
		tls_ctx_free(&ob->tls);
		free(ob);
		return NULL;
	}
	uv_tcp_init(w->loop, &ob->tcp);
	ob->tcp.data = ob;
	if (uv_tcp_open(&ob->tcp, fd) < 0 || uv_listen((uv_stream_t *)&ob->tcp, 256, on_connection) < 0) {
		snprintf(err, errlen, "outband_listen on %s:%d failed", cfg->outband.host, cfg->outband.port);
		uv_close((uv_handle_t *)&ob->tcp, on_listener_closed);
		return NULL;
	}
	ob->listening = true;
	log_info("event=listening addr=%s:%d service=outband tls=%s worker=%u", cfg->outband.host, cfg->outband.port,
		 ob->tls ? "yes" : "no", w->worker_index);
	return ob;
}

void outband_stop(struct outband **obp)
{
	struct outband *ob = *obp;
	if (ob == NULL)
		return;
	*obp = NULL;
	for (struct ob_conn *c = ob->conns; c != NULL; c = c->next)
		ob_conn_fail(c, "shutdown", "the front-end is stopping");
	/* Connections still point at ob while they close: it stays until the process exits. */
	uv_close((uv_handle_t *)&ob->tcp, NULL);
}
