/*
 * imapc-conn: the asynchronous IMAP client connection. See imapc-conn.h.
 *
 * Output path: commands are appended as plaintext to c->plain_out, or, while
 * a synchronising literal waits for the server's "+", to the last "held"
 * segment (everything after a literal must wait with it). flush() moves
 * plain_out through TLS (when on) into c->wire and starts one uv_write at a
 * time; what is queued meanwhile goes out in the next write, so pipelined
 * commands are batched without a timer.
 *
 * Input path: every read lands in the client's one shared buffer; with TLS it
 * is decrypted into c->plain_in; the response parser consumes all of it
 * before the read callback returns, so nothing points into the shared buffer
 * afterwards. Responses are dispatched in order: the greeting, tagged
 * responses (matched to the in-flight command by tag), continuations (to a
 * waiting literal or a command that wants them), untagged responses.
 *
 * Closing is always through uv_close of the TCP handle; close_cb fails the
 * remaining commands with done(NULL), calls closed() and frees. A flag keeps
 * callbacks that run during the close from doing anything else.
 */
#include "imapc-conn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "frontend/tls.h"

#define READ_BUF_SIZE (64u * 1024)
#define MAX_CAPS_LEN 4096
#define SHRINK_ABOVE (256u * 1024)

struct imapc_client {
	uv_loop_t *loop;
	struct tls_ctx *tls;
	char *sni;
	struct imapc_resp_limits limits;
	char rbuf[READ_BUF_SIZE];
};

struct cmd {
	struct cmd *next;
	uint32_t tag;
	imapc_done_cb *done;
	imapc_cont_cb *cont;
	void *ctx;
	bool waiting_literal; /* its literal is held until a "+" */
};

struct held {
	struct held *next;
	struct buf data;  /* the literal, its suffix and CRLF, then later output */
	size_t own_len;   /* bytes of data that belong to the literal's command */
};

struct imapc_conn {
	struct imapc_client *cl;
	struct imapc_callbacks cb;
	void *ctx;
	uv_tcp_t tcp;
	uv_connect_t connect_req;
	uv_write_t write_req;
	struct tls_conn *tls;
	struct imapc_resp_parser *parser;
	struct buf plain_out; /* plaintext ready to send */
	struct buf wire;      /* network bytes waiting for the next write */
	struct buf writing;   /* network bytes of the write in flight */
	struct buf plain_in;  /* TLS only: decrypted input */
	struct held *held_head, *held_tail;
	struct cmd *cmd_head, *cmd_tail;
	size_t n_cmds;
	uint32_t next_tag;
	char *caps; /* " CAP1 CAP2 " upper case */
	bool connected, greeted, writing_now, closing;
	char reason[160];
};

/* ---- client ------------------------------------------------------------- */

struct imapc_client *imapc_client_new(uv_loop_t *loop, const struct imapc_client_opts *opts, char *err,
				      size_t errlen)
{
	struct imapc_client *cl = calloc(1, sizeof(*cl));
	if (cl == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cl->loop = loop;
	if (opts != NULL) {
		cl->limits = opts->limits;
		if (opts->tls) {
			cl->tls = tls_ctx_new_client(&(struct tls_client_config){.ca_file = opts->tls_ca_file}, err,
						     errlen);
			if (cl->tls == NULL) {
				free(cl);
				return NULL;
			}
		}
		if (opts->tls_sni != NULL && (cl->sni = strdup(opts->tls_sni)) == NULL) {
			snprintf(err, errlen, "out of memory");
			imapc_client_free(&cl);
			return NULL;
		}
	}
	return cl;
}

void imapc_client_free(struct imapc_client **clp)
{
	struct imapc_client *cl = *clp;
	if (cl == NULL)
		return;
	*clp = NULL;
	tls_ctx_free(&cl->tls);
	free(cl->sni);
	free(cl);
}

uv_loop_t *imapc_client_loop(const struct imapc_client *cl)
{
	return cl->loop;
}

/* ---- connection life ------------------------------------------------------ */

struct imapc_conn *imapc_conn_new(struct imapc_client *cl, const struct imapc_callbacks *cb, void *ctx)
{
	struct imapc_conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->parser = imapc_resp_parser_new(&cl->limits);
	if (c->parser == NULL || uv_tcp_init(cl->loop, &c->tcp) != 0) {
		imapc_resp_parser_free(&c->parser);
		free(c);
		return NULL;
	}
	c->cl = cl;
	c->cb = *cb;
	c->ctx = ctx;
	c->tcp.data = c;
	c->next_tag = 1;
	return c;
}

static void on_closed(uv_handle_t *h)
{
	struct imapc_conn *c = h->data;
	while (c->cmd_head != NULL) {
		struct cmd *k = c->cmd_head;
		c->cmd_head = k->next;
		c->n_cmds--;
		if (k->done != NULL)
			k->done(c, NULL, k->ctx);
		free(k);
	}
	if (c->cb.closed != NULL)
		c->cb.closed(c, c->reason, c->ctx);
	while (c->held_head != NULL) {
		struct held *hd = c->held_head;
		c->held_head = hd->next;
		buf_free(&hd->data);
		free(hd);
	}
	tls_conn_free(&c->tls);
	imapc_resp_parser_free(&c->parser);
	buf_free(&c->plain_out);
	buf_free(&c->wire);
	buf_free(&c->writing);
	buf_free(&c->plain_in);
	free(c->caps);
	free(c);
}

void imapc_conn_close(struct imapc_conn *c, const char *reason)
{
	if (c->closing)
		return;
	c->closing = true;
	snprintf(c->reason, sizeof(c->reason), "%s", reason != NULL ? reason : "closed");
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void close_uv(struct imapc_conn *c, const char *what, int status)
{
	char why[160];
	snprintf(why, sizeof(why), "%s: %s", what, uv_strerror(status));
	imapc_conn_close(c, why);
}

bool imapc_conn_is_open(const struct imapc_conn *c)
{
	return !c->closing;
}

void *imapc_conn_ctx(const struct imapc_conn *c)
{
	return c->ctx;
}

void imapc_conn_set_ctx(struct imapc_conn *c, void *ctx)
{
	c->ctx = ctx;
}

size_t imapc_conn_in_flight(const struct imapc_conn *c)
{
	return c->n_cmds;
}

/* ---- output --------------------------------------------------------------- */

static void flush(struct imapc_conn *c);

static void on_written(uv_write_t *req, int status)
{
	struct imapc_conn *c = req->data;
	c->writing_now = false;
	if (c->writing.cap > SHRINK_ABOVE)
		buf_free(&c->writing);
	else
		buf_reset(&c->writing);
	if (c->closing)
		return;
	if (status < 0) {
		close_uv(c, "write", status);
		return;
	}
	flush(c);
}

static void flush(struct imapc_conn *c)
{
	if (c->closing || !c->connected)
		return;
	if (c->plain_out.len > 0) {
		if (c->tls != NULL) {
			if (tls_conn_write(c->tls, c->plain_out.data, c->plain_out.len) < 0) {
				imapc_conn_close(c, tls_conn_error(c->tls));
				return;
			}
		} else if (c->wire.len == 0) {
			struct buf t = c->wire;
			c->wire = c->plain_out;
			c->plain_out = t;
		} else if (buf_append(&c->wire, c->plain_out.data, c->plain_out.len) < 0) {
			imapc_conn_close(c, "out of memory");
			return;
		}
		if (c->plain_out.cap > SHRINK_ABOVE)
			buf_free(&c->plain_out);
		else
			buf_reset(&c->plain_out);
	}
	if (c->tls != NULL && tls_conn_take_output(c->tls, &c->wire) < 0) {
		imapc_conn_close(c, "out of memory");
		return;
	}
	if (c->writing_now || c->wire.len == 0)
		return;
	struct buf t = c->writing;
	c->writing = c->wire;
	c->wire = t;
	uv_buf_t b = uv_buf_init((char *)c->writing.data, (unsigned)c->writing.len);
	c->write_req.data = c;
	int r = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
	if (r < 0) {
		close_uv(c, "write", r);
		return;
	}
	c->writing_now = true;
}

/* Where new output goes: after the last held literal, or straight out. */
static struct buf *out_buf(struct imapc_conn *c)
{
	return c->held_tail != NULL ? &c->held_tail->data : &c->plain_out;
}

static struct cmd *add_cmd(struct imapc_conn *c, imapc_done_cb *done, imapc_cont_cb *cont, void *ctx)
{
	if (c->closing)
		return NULL;
	struct cmd *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return NULL;
	k->tag = c->next_tag++;
	k->done = done;
	k->cont = cont;
	k->ctx = ctx;
	if (c->cmd_tail != NULL)
		c->cmd_tail->next = k;
	else
		c->cmd_head = k;
	c->cmd_tail = k;
	c->n_cmds++;
	return k;
}

/* Undo add_cmd of the last command (its text could not be queued). */
static void drop_last_cmd(struct imapc_conn *c, struct cmd *k)
{
	struct cmd **pp = &c->cmd_head;
	struct cmd *prev = NULL;
	while (*pp != k) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	*pp = NULL;
	c->cmd_tail = prev;
	c->n_cmds--;
	free(k);
}

static int queue_cmd(struct imapc_conn *c, imapc_done_cb *done, imapc_cont_cb *cont, void *ctx, const char *text,
		     size_t len)
{
	struct cmd *k = add_cmd(c, done, cont, ctx);
	if (k == NULL)
		return -1;
	struct buf *o = out_buf(c);
	size_t mark = o->len;
	if (buf_printf(o, "A%u ", k->tag) < 0 || buf_append(o, text, len) < 0 || buf_append(o, "\r\n", 2) < 0) {
		buf_truncate(o, mark);
		drop_last_cmd(c, k);
		return -1;
	}
	flush(c);
	return 0;
}

int imapc_conn_cmd(struct imapc_conn *c, imapc_done_cb *done, void *cmd_ctx, const char *text, size_t len)
{
	return queue_cmd(c, done, NULL, cmd_ctx, text, len);
}

int imapc_conn_cmd_cont(struct imapc_conn *c, imapc_done_cb *done, imapc_cont_cb *cont, void *cmd_ctx,
			const char *text, size_t len)
{
	return queue_cmd(c, done, cont, cmd_ctx, text, len);
}

int imapc_conn_cmdf(struct imapc_conn *c, imapc_done_cb *done, void *cmd_ctx, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return queue_cmd(c, done, NULL, cmd_ctx, small, (size_t)n);
	struct buf b = {0};
	va_start(ap, fmt);
	int r = buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (r == 0)
		r = queue_cmd(c, done, NULL, cmd_ctx, (const char *)b.data, b.len);
	buf_free(&b);
	return r;
}

int imapc_conn_cmd_literal(struct imapc_conn *c, imapc_done_cb *done, void *cmd_ctx, const char *prefix,
			   const void *literal, size_t literal_len, const char *suffix)
{
	bool plus = imapc_conn_has_cap(c, "LITERAL+") ||
		    (literal_len <= 4096 && imapc_conn_has_cap(c, "LITERAL-"));
	struct cmd *k = add_cmd(c, done, NULL, cmd_ctx);
	if (k == NULL)
		return -1;
	struct buf *o = out_buf(c);
	size_t mark = o->len;
	struct held *hd = NULL;
	if (buf_printf(o, "A%u %s {%zu%s}\r\n", k->tag, prefix, literal_len, plus ? "+" : "") < 0)
		goto fail;
	struct buf *rest = o;
	if (!plus) {
		hd = calloc(1, sizeof(*hd));
		if (hd == NULL)
			goto fail;
		rest = &hd->data;
	}
	if (buf_append(rest, literal, literal_len) < 0 || buf_append_str(rest, suffix != NULL ? suffix : "") < 0 ||
	    buf_append(rest, "\r\n", 2) < 0)
		goto fail;
	if (hd != NULL) {
		hd->own_len = hd->data.len;
		k->waiting_literal = true;
		if (c->held_tail != NULL)
			c->held_tail->next = hd;
		else
			c->held_head = hd;
		c->held_tail = hd;
	}
	flush(c);
	return 0;
fail:
	if (hd != NULL) {
		buf_free(&hd->data);
		free(hd);
	}
	buf_truncate(o, mark);
	drop_last_cmd(c, k);
	return -1;
}

int imapc_conn_send_raw(struct imapc_conn *c, const void *data, size_t len)
{
	if (c->closing)
		return -1;
	if (buf_append(out_buf(c), data, len) < 0)
		return -1;
	flush(c);
	return 0;
}

/* The "+" for the oldest held literal: its bytes (and what was queued behind
   them up to the next held literal) may go now. */
static void release_held(struct imapc_conn *c)
{
	struct held *hd = c->held_head;
	c->held_head = hd->next;
	if (c->held_head == NULL)
		c->held_tail = NULL;
	if (buf_append(&c->plain_out, hd->data.data, hd->data.len) < 0)
		imapc_conn_close(c, "out of memory");
	buf_free(&hd->data);
	free(hd);
	flush(c);
}

/* ---- capabilities --------------------------------------------------------- */

static void set_caps(struct imapc_conn *c, const char *s, size_t len)
{
	while (len > 0 && s[0] == ' ')
		s++, len--;
	if (len > MAX_CAPS_LEN)
		len = MAX_CAPS_LEN;
	char *n = malloc(len + 3);
	if (n == NULL)
		return;
	n[0] = ' ';
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		n[i + 1] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
	}
	n[len + 1] = ' ';
	n[len + 2] = '\0';
	free(c->caps);
	c->caps = n;
}

bool imapc_conn_has_cap(const struct imapc_conn *c, const char *cap)
{
	if (c->caps == NULL)
		return false;
	size_t n = strlen(cap);
	for (const char *p = c->caps; (p = strcasestr(p, cap)) != NULL; p++)
		if (p[-1] == ' ' && p[n] == ' ')
			return true;
	return false;
}

/* A [CAPABILITY ...] response code updates the list. */
static void caps_from_code(struct imapc_conn *c, const struct imapc_resp *r)
{
	const char *code;
	size_t len;
	if (imapc_resp_code(r, &code, &len) && len >= 10 && strncasecmp(code, "CAPABILITY", 10) == 0 &&
	    (len == 10 || code[10] == ' '))
		set_caps(c, code + 10, len - 10);
}

/* ---- input ------------------------------------------------------------------ */

static void dispatch(struct imapc_conn *c, const struct imapc_resp *r)
{
	if (!c->greeted) {
		if (r->kind != IMAPC_UNTAGGED || (r->status != IMAPC_OK && r->status != IMAPC_PREAUTH)) {
			char why[160];
			snprintf(why, sizeof(why), "bad greeting: %.120s", r->text);
			imapc_conn_close(c, why);
			return;
		}
		c->greeted = true;
		caps_from_code(c, r);
		if (c->cb.ready != NULL)
			c->cb.ready(c, r, c->ctx);
		return;
	}
	switch (r->kind) {
	case IMAPC_TAGGED: {
		struct cmd *k = c->cmd_head, *prev = NULL;
		while (k != NULL) {
			char t[16];
			int n = snprintf(t, sizeof(t), "A%u", k->tag);
			if ((size_t)n == r->tag_len && memcmp(t, r->tag, r->tag_len) == 0)
				break;
			prev = k;
			k = k->next;
		}
		if (k == NULL) {
			imapc_conn_close(c, "tagged response for no command");
			return;
		}
		if (prev != NULL)
			prev->next = k->next;
		else
			c->cmd_head = k->next;
		if (c->cmd_tail == k)
			c->cmd_tail = prev;
		c->n_cmds--;
		caps_from_code(c, r);
		if (k->waiting_literal && c->held_head != NULL) {
			/* Refused before its "+": the held literal must never go out. */
			struct held *hd = c->held_head;
			c->held_head = hd->next;
			if (c->held_head == NULL)
				c->held_tail = NULL;
			/* What was queued behind the literal still goes. */
			if (hd->data.len > hd->own_len &&
			    buf_append(&c->plain_out, hd->data.data + hd->own_len, hd->data.len - hd->own_len) < 0)
				imapc_conn_close(c, "out of memory");
			buf_free(&hd->data);
			free(hd);
			flush(c);
		}
		if (k->done != NULL)
			k->done(c, r, k->ctx);
		free(k);
		break;
	}
	case IMAPC_CONTINUATION:
		for (struct cmd *k = c->cmd_head; k != NULL; k = k->next) {
			if (k->waiting_literal) {
				k->waiting_literal = false;
				release_held(c);
				return;
			}
			if (k->cont != NULL) {
				k->cont(c, r, k->ctx);
				return;
			}
		}
		imapc_conn_close(c, "continuation request nobody asked for");
		break;
	case IMAPC_UNTAGGED:
		if (imapc_resp_is(r, "CAPABILITY"))
			set_caps(c, r->rest, strlen(r->rest));
		else if (r->status == IMAPC_OK)
			caps_from_code(c, r);
		if (c->cb.untagged != NULL)
			c->cb.untagged(c, r, c->ctx);
		break;
	}
}

static void parse_input(struct imapc_conn *c, const unsigned char *d, size_t len)
{
	while (len > 0 && !c->closing) {
		size_t used;
		const struct imapc_resp *r;
		enum imapc_resp_result res = imapc_resp_feed(c->parser, d, len, &used, &r);
		d += used;
		len -= used;
		if (res == IMAPC_RESP_ERROR) {
			char why[160];
			snprintf(why, sizeof(why), "bad response: %s", imapc_resp_error(c->parser));
			imapc_conn_close(c, why);
			return;
		}
		if (res == IMAPC_RESP_READY)
			dispatch(c, r);
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct imapc_conn *c = h->data;
	(void)suggested;
	*b = uv_buf_init(c->cl->rbuf, sizeof(c->cl->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct imapc_conn *c = s->data;
	if (c->closing)
		return;
	if (n < 0) {
		if (n == UV_EOF)
			imapc_conn_close(c, "server closed the connection");
		else
			close_uv(c, "read", (int)n);
		return;
	}
	if (n == 0)
		return;
	if (c->tls == NULL) {
		parse_input(c, (const unsigned char *)b->base, (size_t)n);
		return;
	}
	if (tls_conn_feed(c->tls, b->base, (size_t)n, &c->plain_in) < 0) {
		char why[160];
		snprintf(why, sizeof(why), "tls: %s", tls_conn_error(c->tls));
		flush(c); /* the alert */
		imapc_conn_close(c, why);
		return;
	}
	parse_input(c, c->plain_in.data, c->plain_in.len);
	if (c->plain_in.cap > SHRINK_ABOVE)
		buf_free(&c->plain_in);
	else
		buf_reset(&c->plain_in);
	flush(c); /* handshake messages */
	if (!c->closing && tls_conn_peer_closed(c->tls))
		imapc_conn_close(c, "server closed the TLS session");
}

static void on_connect(uv_connect_t *req, int status)
{
	struct imapc_conn *c = req->data;
	if (c->closing)
		return;
	if (status < 0) {
		close_uv(c, "connect", status);
		return;
	}
	c->connected = true;
	uv_tcp_nodelay(&c->tcp, 1);
	if (c->cl->tls != NULL) {
		c->tls = tls_conn_new(c->cl->tls, c->cl->sni);
		if (c->tls == NULL) {
			imapc_conn_close(c, "out of memory");
			return;
		}
	}
	int r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	if (r < 0) {
		close_uv(c, "read", r);
		return;
	}
	flush(c);
}

int imapc_conn_connect(struct imapc_conn *c, const struct sockaddr *addr)
{
	c->connect_req.data = c;
	return uv_tcp_connect(&c->connect_req, &c->tcp, addr, on_connect) < 0 ? -1 : 0;
}
