/*
 * setup: before a run, one connection logs in, creates the folder when it
 * is missing, appends deterministic messages (msggen.h) until it holds
 * o.messages, lists its UIDs (UID SEARCH ALL) for the workers to pick from,
 * and notes whether the server offers QRESYNC. Appends are pipelined, 16 in
 * flight. The loop runs until the connection has logged out.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "buf.h"
#include "msggen.h"

#define FILL_WINDOW 16

struct setup {
	struct bench *b;
	struct imapc_conn *c;
	uint32_t exists;
	uint64_t next_index, target, in_flight, done_count;
	struct buf msg;
	bool failed;
};

static void fail(struct setup *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct setup *s, const char *fmt, ...)
{
	if (!s->failed) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(s->b->setup_error, sizeof(s->b->setup_error), fmt, ap);
		va_end(ap);
	}
	s->failed = true;
	s->b->setup_failed = true;
	if (imapc_conn_is_open(s->c))
		imapc_conn_close(s->c, "setup failed");
}

static void on_logout(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	(void)c;
	(void)r;
	(void)ctx;
}

static void parse_uids(struct setup *s, const char *p)
{
	struct bench *b = s->b;
	size_t cap = 1024;
	b->uids = malloc(cap * sizeof(*b->uids));
	if (b->uids == NULL)
		return;
	while (*p != '\0') {
		char *e;
		unsigned long v = strtoul(p, &e, 10);
		if (e == p)
			break;
		if (b->n_uids == cap) {
			uint32_t *n = realloc(b->uids, cap * 2 * sizeof(*n));
			if (n == NULL)
				return;
			b->uids = n;
			cap *= 2;
		}
		b->uids[b->n_uids++] = (uint32_t)v;
		p = e;
		while (*p == ' ')
			p++;
	}
}

static void on_untagged(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct setup *s = ctx;
	(void)c;
	if (r->has_number && imapc_resp_is(r, "EXISTS"))
		s->exists = r->number;
	else if (imapc_resp_is(r, "SEARCH"))
		parse_uids(s, r->rest);
}

static void on_search(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct setup *s = ctx;
	if (r == NULL || r->status != IMAPC_OK)
		return fail(s, "UID SEARCH ALL failed: %s", r ? r->text : "connection closed");
	s->b->qresync_supported = imapc_conn_has_cap(c, "QRESYNC");
	imapc_conn_cmdf(c, on_logout, s, "LOGOUT");
}

static void after_fill(struct setup *s)
{
	imapc_conn_cmdf(s->c, on_search, s, "UID SEARCH ALL");
}

static void fill_more(struct setup *s);

static void on_appended(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct setup *s = ctx;
	(void)c;
	if (r == NULL || r->status != IMAPC_OK)
		return fail(s, "APPEND during prefill failed: %s", r ? r->text : "connection closed");
	s->in_flight--;
	s->done_count++;
	if (s->done_count % 1000 == 0 && !s->b->o.json)
		fprintf(stderr, "cpm-bench: prefill %llu/%llu\n", (unsigned long long)(s->exists + s->done_count),
			(unsigned long long)s->target);
	fill_more(s);
}

static void fill_more(struct setup *s)
{
	while (s->in_flight < FILL_WINDOW && s->next_index < s->target) {
		uint64_t i = s->next_index++;
		buf_reset(&s->msg);
		if (msggen_message(&s->msg, s->b->o.seed, i, msggen_kind(s->b->o.seed, i)) < 0)
			return fail(s, "out of memory");
		char prefix[300];
		snprintf(prefix, sizeof(prefix), "APPEND \"%s\" (\\Seen)", s->b->o.folder);
		if (imapc_conn_cmd_literal(s->c, on_appended, s, prefix, s->msg.data, s->msg.len, "") < 0)
			return fail(s, "cannot queue APPEND");
		s->in_flight++;
	}
	if (s->in_flight == 0)
		after_fill(s);
}

static void on_select(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct setup *s = ctx;
	(void)c;
	if (r == NULL || r->status != IMAPC_OK)
		return fail(s, "SELECT %s failed: %s", s->b->o.folder, r ? r->text : "connection closed");
	s->next_index = s->exists;
	s->target = s->b->o.messages > s->exists ? s->b->o.messages : s->exists;
	if (s->target > s->exists && !s->b->o.json)
		fprintf(stderr, "cpm-bench: prefilling %s from %u to %llu messages\n", s->b->o.folder, s->exists,
			(unsigned long long)s->target);
	fill_more(s);
}

static void on_create(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct setup *s = ctx;
	if (r == NULL)
		return fail(s, "connection closed during CREATE");
	/* NO [ALREADYEXISTS] is fine; SELECT tells whether the folder is usable. */
	imapc_conn_cmdf(c, on_select, s, "SELECT \"%s\"", s->b->o.folder);
}

static void on_capability(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct setup *s = ctx;
	if (r == NULL || r->status != IMAPC_OK)
		return fail(s, "CAPABILITY failed");
	imapc_conn_cmdf(c, on_create, s, "CREATE \"%s\"", s->b->o.folder);
}

static void on_login(struct imapc_conn *c, const struct imapc_resp *r, void *ctx)
{
	struct setup *s = ctx;
	if (r == NULL || r->status != IMAPC_OK)
		return fail(s, "LOGIN failed: %s", r ? r->text : "connection closed");
	/* The capabilities after login (some servers only list QRESYNC then). */
	imapc_conn_cmdf(c, on_capability, s, "CAPABILITY");
}

static void on_ready(struct imapc_conn *c, const struct imapc_resp *g, void *ctx)
{
	struct setup *s = ctx;
	(void)g;
	char user[256];
	bench_user(s->b, 0, user, sizeof(user));
	imapc_conn_cmdf(c, on_login, s, "LOGIN \"%s\" \"%s\"", user, s->b->o.password);
}

static void on_closed(struct imapc_conn *c, const char *reason, void *ctx)
{
	struct setup *s = ctx;
	(void)c;
	s->c = NULL;
	if (!s->failed && s->b->uids == NULL) {
		s->failed = true;
		s->b->setup_failed = true;
		snprintf(s->b->setup_error, sizeof(s->b->setup_error), "setup connection closed: %s", reason);
	}
}

int bench_setup(struct bench *b)
{
	struct setup s = {.b = b};
	static const struct imapc_callbacks cb = {.ready = on_ready, .untagged = on_untagged, .closed = on_closed};
	s.c = imapc_conn_new(b->cl, &cb, &s);
	if (s.c == NULL)
		return -1;
	if (imapc_conn_connect(s.c, (struct sockaddr *)&b->addr) < 0)
		imapc_conn_close(s.c, "cannot connect");
	uv_run(b->loop, UV_RUN_DEFAULT);
	buf_free(&s.msg);
	if (b->uids == NULL && !b->setup_failed) {
		b->setup_failed = true;
		snprintf(b->setup_error, sizeof(b->setup_error), "no UID list");
	}
	return b->setup_failed ? -1 : 0;
}
