/* Unit tests for client/imapc-conn: a scripted server on the same libuv loop
   checks what the client writes (pipelining, synchronising literals held
   until "+", LITERAL+ sent at once) and what the callbacks see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "client/imapc-conn.h"

struct fake {
	uv_loop_t loop;
	uv_tcp_t listener, peer;
	struct buf got;          /* what the client sent */
	const char *greeting;
	bool peer_open;
	struct imapc_client *cl;
	struct imapc_conn *c;
	/* client side observations */
	bool ready, closed;
	char log[2048];
};

static void logf_(struct fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct fake *f, const char *fmt, ...)
{
	size_t n = strlen(f->log);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->log + n, sizeof(f->log) - n, fmt, ap);
	va_end(ap);
}

static void on_written(uv_write_t *req, int status)
{
	(void)status;
	free(req->data);
	free(req);
}

static void server_send(struct fake *f, const char *s)
{
	uv_write_t *req = malloc(sizeof(*req));
	char *copy = strdup(s);
	req->data = copy;
	uv_buf_t b = uv_buf_init(copy, (unsigned)strlen(copy));
	assert_int_equal(uv_write(req, (uv_stream_t *)&f->peer, &b, 1, on_written), 0);
}

static void srv_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
	(void)h;
	b->base = malloc(sz);
	b->len = sz;
}

static void srv_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct fake *f = s->data;
	if (n > 0)
		buf_append(&f->got, b->base, (size_t)n);
	free(b->base);
}

static void on_conn(uv_stream_t *l, int status)
{
	struct fake *f = l->data;
	assert_int_equal(status, 0);
	uv_tcp_init(&f->loop, &f->peer);
	f->peer.data = f;
	assert_int_equal(uv_accept(l, (uv_stream_t *)&f->peer), 0);
	f->peer_open = true;
	uv_read_start((uv_stream_t *)&f->peer, srv_alloc, srv_read);
	server_send(f, f->greeting);
}

static void cl_ready(struct imapc_conn *c, const struct imapc_resp *g, void *ctx)
{
	struct fake *f = ctx;
	(void)c;
	f->ready = true;
	logf_(f, "ready:%s|", g->rest);
}

static void cl_untagged(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct fake *f = ctx;
	(void)c;
	logf_(f, "untagged:%.*s|", (int)r->keyword_len, r->keyword);
}

static void cl_closed(struct imapc_conn *c, const char *reason, void *ctx)
{
	struct fake *f = ctx;
	(void)c;
	f->closed = true;
	f->c = NULL;
	logf_(f, "closed:%s|", reason);
}

static void on_done(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct fake *f = imapc_conn_ctx(c);
	if (r != NULL)
		logf_(f, "done %s:%.*s|", (const char *)ctx, (int)r->keyword_len, r->keyword);
	else
		logf_(f, "done %s:NULL|", (const char *)ctx);
}

static const struct imapc_callbacks cbs = {.ready = cl_ready, .untagged = cl_untagged, .closed = cl_closed};

static void start(struct fake *f, const char *greeting)
{
	memset(f, 0, sizeof(*f));
	f->greeting = greeting;
	assert_int_equal(uv_loop_init(&f->loop), 0);
	uv_tcp_init(&f->loop, &f->listener);
	f->listener.data = f;
	struct sockaddr_in a;
	uv_ip4_addr("127.0.0.1", 0, &a);
	assert_int_equal(uv_tcp_bind(&f->listener, (struct sockaddr *)&a, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&f->listener, 4, on_conn), 0);
	int len = sizeof(a);
	uv_tcp_getsockname(&f->listener, (struct sockaddr *)&a, &len);
	char err[128];
	f->cl = imapc_client_new(&f->loop, &(struct imapc_client_opts){.limits = {.keep_literals = true}}, err,
				 sizeof(err));
	assert_non_null(f->cl);
	f->c = imapc_conn_new(f->cl, &cbs, f);
	assert_non_null(f->c);
	assert_int_equal(imapc_conn_connect(f->c, (struct sockaddr *)&a), 0);
	for (int i = 0; i < 1000 && !f->ready; i++)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_true(f->ready);
}

/* Runs the loop a little (until the server got want bytes, or a while). */
static void spin(struct fake *f, size_t want)
{
	for (int i = 0; i < 200 && (want == 0 || f->got.len < want); i++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void finish(struct fake *f)
{
	if (f->c != NULL)
		imapc_conn_close(f->c, "test over");
	if (f->peer_open)
		uv_close((uv_handle_t *)&f->peer, NULL);
	uv_close((uv_handle_t *)&f->listener, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	imapc_client_free(&f->cl);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	buf_free(&f->got);
}

static void test_pipelining_and_sync_literal(void **state)
{
	(void)state;
	struct fake f;
	start(&f, "* OK [CAPABILITY IMAP4rev1 IDLE] hi\r\n");
	assert_true(imapc_conn_has_cap(f.c, "IMAP4rev1"));
	assert_true(imapc_conn_has_cap(f.c, "idle"));
	assert_false(imapc_conn_has_cap(f.c, "LITERAL+"));
	assert_false(imapc_conn_has_cap(f.c, "IMAP4"));
	assert_int_equal(imapc_conn_cmdf(f.c, on_done, "noop", "NOOP"), 0);
	assert_int_equal(imapc_conn_cmd_literal(f.c, on_done, "append", "APPEND INBOX", "hello", 5, " {skip}"), 0);
	assert_int_equal(imapc_conn_cmdf(f.c, on_done, "after", "NOOP"), 0);
	assert_int_equal(imapc_conn_in_flight(f.c), 3);
	spin(&f, strlen("A1 NOOP\r\nA2 APPEND INBOX {5}\r\n"));
	spin(&f, 0); /* and nothing more comes */
	/* Nothing after the literal's header before the "+". */
	assert_string_equal((char *)f.got.data, "A1 NOOP\r\nA2 APPEND INBOX {5}\r\n");
	server_send(&f, "* 3 EXISTS\r\nA1 OK done\r\n+ go\r\n");
	spin(&f, strlen("A1 NOOP\r\nA2 APPEND INBOX {5}\r\nhello {skip}\r\nA3 NOOP\r\n"));
	assert_string_equal((char *)f.got.data, "A1 NOOP\r\nA2 APPEND INBOX {5}\r\nhello {skip}\r\nA3 NOOP\r\n");
	server_send(&f, "A2 OK [APPENDUID 1 7] ok\r\nA3 NO [CAPABILITY IMAP4rev1 LITERAL+] nope\r\n");
	for (int i = 0; i < 200 && imapc_conn_in_flight(f.c) > 0; i++)
		uv_run(&f.loop, UV_RUN_ONCE);
	assert_true(imapc_conn_has_cap(f.c, "LITERAL+"));
	assert_int_equal(imapc_conn_in_flight(f.c), 0);
	/* Now LITERAL+: literal sent at once. */
	buf_reset(&f.got);
	assert_int_equal(imapc_conn_cmd_literal(f.c, on_done, "plus", "APPEND X", "ab", 2, ""), 0);
	spin(&f, 20);
	assert_string_equal((char *)f.got.data, "A4 APPEND X {2+}\r\nab\r\n");
	/* Closing fails what is in flight with done(NULL), before closed(). */
	imapc_conn_close(f.c, "bye");
	uv_run(&f.loop, UV_RUN_NOWAIT);
	finish(&f);
	assert_string_equal(f.log, "ready:[CAPABILITY IMAP4rev1 IDLE] hi|untagged:EXISTS|done noop:OK|done append:OK|"
				   "done after:NO|done plus:NULL|closed:bye|");
}

static void test_refused_literal_and_continuations(void **state)
{
	(void)state;
	struct fake f;
	start(&f, "* OK ready\r\n");
	assert_int_equal(imapc_conn_cmd_literal(f.c, on_done, "big", "APPEND INBOX", "xyz", 3, ""), 0);
	assert_int_equal(imapc_conn_cmdf(f.c, on_done, "next", "NOOP"), 0);
	spin(&f, strlen("A1 APPEND INBOX {3}\r\n"));
	spin(&f, 0);
	assert_string_equal((char *)f.got.data, "A1 APPEND INBOX {3}\r\n");
	/* Refused before "+": the literal never goes, the next command does. */
	server_send(&f, "A1 NO [TOOBIG] too big\r\n");
	spin(&f, strlen("A1 APPEND INBOX {3}\r\nA2 NOOP\r\n"));
	assert_string_equal((char *)f.got.data, "A1 APPEND INBOX {3}\r\nA2 NOOP\r\n");
	server_send(&f, "A2 OK\r\n");
	for (int i = 0; i < 200 && imapc_conn_in_flight(f.c) > 0; i++)
		uv_run(&f.loop, UV_RUN_ONCE);
	/* A tagged response for no command closes the connection. */
	server_send(&f, "A9 OK what\r\n");
	for (int i = 0; i < 200 && !f.closed; i++)
		uv_run(&f.loop, UV_RUN_ONCE);
	finish(&f);
	assert_string_equal(f.log, "ready:ready|done big:NO|done next:OK|closed:tagged response for no command|");
}

static void on_cont(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct fake *f = imapc_conn_ctx(c);
	logf_(f, "cont %s:%s|", (const char *)ctx, r->rest);
	imapc_conn_send_raw(c, "DONE\r\n", 6);
}

static void test_idle_continuation(void **state)
{
	(void)state;
	struct fake f;
	start(&f, "* PREAUTH hi\r\n");
	assert_int_equal(imapc_conn_cmd_cont(f.c, on_done, on_cont, "idle", "IDLE", 4), 0);
	spin(&f, 0);
	server_send(&f, "+ idling\r\n* 4 EXISTS\r\n");
	spin(&f, strlen("A1 IDLE\r\nDONE\r\n"));
	assert_string_equal((char *)f.got.data, "A1 IDLE\r\nDONE\r\n");
	server_send(&f, "A1 OK Idle completed.\r\n* BYE bye\r\n");
	for (int i = 0; i < 200 && imapc_conn_in_flight(f.c) > 0; i++)
		uv_run(&f.loop, UV_RUN_ONCE);
	spin(&f, 0);
	uv_close((uv_handle_t *)&f.peer, NULL);
	f.peer_open = false;
	for (int i = 0; i < 200 && !f.closed; i++)
		uv_run(&f.loop, UV_RUN_ONCE);
	finish(&f);
	assert_string_equal(f.log, "ready:hi|cont idle:idling|untagged:EXISTS|done idle:OK|untagged:BYE|"
				   "closed:server closed the connection|");
}

static void test_bad_greeting(void **state)
{
	(void)state;
	struct fake f;
	memset(&f, 0, sizeof(f));
	f.greeting = "* BYE go away\r\n";
	assert_int_equal(uv_loop_init(&f.loop), 0);
	uv_tcp_init(&f.loop, &f.listener);
	f.listener.data = &f;
	struct sockaddr_in a;
	uv_ip4_addr("127.0.0.1", 0, &a);
	uv_tcp_bind(&f.listener, (struct sockaddr *)&a, 0);
	uv_listen((uv_stream_t *)&f.listener, 4, on_conn);
	int len = sizeof(a);
	uv_tcp_getsockname(&f.listener, (struct sockaddr *)&a, &len);
	char err[128];
	f.cl = imapc_client_new(&f.loop, NULL, err, sizeof(err));
	f.c = imapc_conn_new(f.cl, &cbs, &f);
	imapc_conn_connect(f.c, (struct sockaddr *)&a);
	for (int i = 0; i < 1000 && !f.closed; i++)
		uv_run(&f.loop, UV_RUN_ONCE);
	assert_false(f.ready);
	finish(&f);
	assert_string_equal(f.log, "closed:bad greeting: * BYE go away|");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipelining_and_sync_literal),
		cmocka_unit_test(test_refused_literal_and_continuations),
		cmocka_unit_test(test_idle_continuation),
		cmocka_unit_test(test_bad_greeting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
