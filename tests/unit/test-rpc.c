/*
 * Unit tests for common/rpc-client + common/rpc-server, in one process over
 * nanomsg on loopback: many calls in flight answered out of order, a
 * duplicate request executed once and answered from memory, deadlines when
 * the server holds a request or is absent, and messages with a bad MAC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "rpc-client.h"
#include "rpc-envelope.h"
#include "rpc-server.h"

#define SECRET "unit-test-cluster-secret-0123456789"

struct fixture {
	uv_loop_t loop;
	struct cpm_config cfg;
	struct cfg_shard shard;
	char endpoint[64];
	struct rpc_server *srv;
	struct rpc_client *cli;
	/* server side */
	struct rpc_incoming *held[64];
	unsigned n_held;
	unsigned executed;
	bool hold; /* do not answer: keep incomings */
	/* client side */
	unsigned done;
	Cpm__Status statuses[64];
	char shards_seen[64][32];
};

static int port_seq = 0;

static void on_request(struct rpc_server *srv, struct rpc_incoming *in, const Cpm__Request *req, void *ctx)
{
	struct fixture *f = ctx;
	f->executed++;
	if (f->hold) {
		f->held[f->n_held++] = in;
		return;
	}
	Cpm__Response resp = CPM__RESPONSE__INIT;
	Cpm__PingResp pr = CPM__PING_RESP__INIT;
	pr.shard = "s1";
	resp.result_case = CPM__RESPONSE__RESULT_PING;
	resp.ping = &pr;
	rpc_server_reply(srv, &in, &resp, true);
}

static void on_done(const Cpm__Response *resp, void *ctx)
{
	struct fixture *f = ctx;
	f->statuses[f->done] = resp->status;
	if (resp->result_case == CPM__RESPONSE__RESULT_PING)
		snprintf(f->shards_seen[f->done], 32, "%s", resp->ping->shard);
	f->done++;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uv_loop_init(&f->loop);
	f->shard.id = "s1";
	f->shard.rpc = f->endpoint;
	f->cfg.secret = (unsigned char *)SECRET;
	f->cfg.secret_len = strlen(SECRET);
	f->cfg.shards = &f->shard;
	f->cfg.n_shards = 1;
	f->cfg.rpc_timeout_ms = 400;
	char err[256];
	/* A free port: try a few (another test run may hold one). */
	for (int attempt = 0; attempt < 50 && f->srv == NULL; attempt++) {
		snprintf(f->endpoint, sizeof(f->endpoint), "tcp://127.0.0.1:%d",
			 20000 + (int)((getpid() * 7919u + (unsigned)port_seq++ * 104729u) % 20000u));
		f->srv = rpc_server_new(&f->loop, f->endpoint, f->cfg.secret, f->cfg.secret_len, on_request, f, err,
					sizeof(err));
	}
	assert_non_null(f->srv);
	f->cli = rpc_client_new(&f->loop, &f->cfg, err, sizeof(err));
	assert_non_null(f->cli);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	rpc_client_close(&f->cli);
	rpc_server_close(&f->srv);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	uv_loop_close(&f->loop);
	free(f);
	return 0;
}

static void run_until(struct fixture *f, unsigned done, unsigned ms)
{
	uint64_t end = clock_mono_ms() + ms;
	while (f->done < done && clock_mono_ms() < end)
		uv_run(&f->loop, UV_RUN_NOWAIT), usleep(1000);
}

static uint64_t ping(struct fixture *f, unsigned timeout)
{
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__PingReq pr = CPM__PING_REQ__INIT;
	req.op_case = CPM__REQUEST__OP_PING;
	req.ping = &pr;
	return rpc_call(f->cli, 0, &req, timeout, on_done, f);
}

static void test_many_in_flight(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < 50; i++)
		assert_true(ping(f, 3000) > 0);
	assert_int_equal(f->done, 0); /* never called from inside rpc_call */
	run_until(f, 50, 3000);
	assert_int_equal(f->done, 50);
	assert_int_equal(f->executed, 50);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(f->statuses[i], CPM__STATUS__OK);
		assert_string_equal(f->shards_seen[i], "s1");
	}
	assert_int_equal(rpc_client_inflight(f->cli), 0);
}

static void test_out_of_order(void **state)
{
	struct fixture *f = *state;
	f->hold = true;
	for (int i = 0; i < 5; i++)
		ping(f, 3000);
	uint64_t end = clock_mono_ms() + 2000;
	while (f->n_held < 5 && clock_mono_ms() < end)
		uv_run(&f->loop, UV_RUN_NOWAIT), usleep(1000);
	assert_int_equal(f->n_held, 5);
	assert_int_equal(rpc_server_pending(f->srv), 5);
	/* Answer last first. */
	for (int i = 4; i >= 0; i--) {
		Cpm__Response resp = CPM__RESPONSE__INIT;
		resp.status = (Cpm__Status)(i == 0 ? CPM__STATUS__OK : CPM__STATUS__NOTFOUND);
		rpc_server_reply(f->srv, &f->held[i], &resp, false);
		assert_null(f->held[i]);
	}
	run_until(f, 5, 2000);
	assert_int_equal(f->done, 5);
	/* The first reply that arrives is for the last request. */
	assert_int_equal(f->statuses[0], CPM__STATUS__NOTFOUND);
	assert_int_equal(f->statuses[4], CPM__STATUS__OK);
	assert_int_equal(rpc_server_pending(f->srv), 0);
}

static void test_deadline(void **state)
{
	struct fixture *f = *state;
	f->hold = true;
	uint64_t t0 = clock_mono_ms();
	ping(f, 150);
	run_until(f, 1, 3000);
	assert_int_equal(f->done, 1);
	assert_int_equal(f->statuses[0], CPM__STATUS__UNAVAILABLE);
	assert_true(clock_mono_ms() - t0 >= 140);
	/* A late reply to the expired call is ignored. */
	while (f->n_held < 1)
		uv_run(&f->loop, UV_RUN_NOWAIT);
	rpc_server_reply_status(f->srv, &f->held[0], CPM__STATUS__OK, NULL);
	for (int i = 0; i < 50; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT), usleep(1000);
	assert_int_equal(f->done, 1);
}

static void test_cancel(void **state)
{
	struct fixture *f = *state;
	uint64_t id = ping(f, 2000);
	rpc_cancel(f->cli, id);
	for (int i = 0; i < 100; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT), usleep(1000);
	assert_int_equal(f->done, 0);
	assert_int_equal(rpc_client_inflight(f->cli), 0);
}

/* A raw REQ socket of our own sends the same sealed request twice. */
static void test_dedupe(void **state)
{
	struct fixture *f = *state;
	int s = nn_socket(AF_SP, NN_REQ);
	assert_true(s >= 0);
	int to = 2000;
	nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to));
	assert_true(nn_connect(s, f->endpoint) >= 0);
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__PingReq pr = CPM__PING_REQ__INIT;
	unsigned char cid[16] = "0123456789abcdef";
	req.id = 77;
	req.client_id.data = cid;
	req.client_id.len = 16;
	req.deadline_ms = clock_unix_ms() + 10000;
	req.op_case = CPM__REQUEST__OP_PING;
	req.ping = &pr;
	size_t plen = cpm__request__get_packed_size(&req);
	unsigned char *msg = malloc(RPC_ENVELOPE_OVERHEAD + plen);
	cpm__request__pack(&req, msg + RPC_ENVELOPE_OVERHEAD);
	rpc_envelope_seal((unsigned char *)SECRET, strlen(SECRET), msg + RPC_ENVELOPE_OVERHEAD, plen, msg);
	for (int round = 0; round < 2; round++) {
		assert_true(nn_send(s, msg, RPC_ENVELOPE_OVERHEAD + plen, 0) >= 0);
		void *reply = NULL;
		int n = -1;
		uint64_t end = clock_mono_ms() + 2000;
		while (n < 0 && clock_mono_ms() < end) {
			uv_run(&f->loop, UV_RUN_NOWAIT);
			n = nn_recv(s, &reply, NN_MSG, NN_DONTWAIT);
			usleep(1000);
		}
		assert_true(n > RPC_ENVELOPE_OVERHEAD);
		const unsigned char *p;
		size_t pl;
		assert_int_equal(rpc_envelope_open((unsigned char *)SECRET, strlen(SECRET), reply, (size_t)n, &p, &pl), 0);
		Cpm__Response *resp = cpm__response__unpack(NULL, pl, p);
		assert_non_null(resp);
		assert_int_equal(resp->id, 77);
		assert_string_equal(resp->ping->shard, "s1");
		cpm__response__free_unpacked(resp, NULL);
		nn_freemsg(reply);
	}
	assert_int_equal(f->executed, 1); /* executed once, answered twice */

	/* A bad MAC is dropped: never executed. */
	msg[RPC_ENVELOPE_OVERHEAD] ^= 1;
	assert_true(nn_send(s, msg, RPC_ENVELOPE_OVERHEAD + plen, 0) >= 0);
	for (int i = 0; i < 100; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT), usleep(1000);
	assert_int_equal(f->executed, 1);
	free(msg);
	nn_close(s);
}

static void test_no_server(void **state)
{
	struct fixture *f = *state;
	rpc_server_close(&f->srv);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	ping(f, 200);
	run_until(f, 1, 3000);
	assert_int_equal(f->done, 1);
	assert_int_equal(f->statuses[0], CPM__STATUS__UNAVAILABLE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_many_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dedupe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_server, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
