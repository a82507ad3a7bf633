/* Unit tests for common/rpc-envelope: MAC'd framing and feed topics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "rpc-envelope.h"

static const unsigned char key[] = "0123456789abcdef-cluster-secret";

static void test_roundtrip(void **state)
{
	unsigned char msg[RPC_ENVELOPE_OVERHEAD + 5];
	memcpy(msg + RPC_ENVELOPE_OVERHEAD, "hello", 5);
	rpc_envelope_seal(key, sizeof(key) - 1, msg + RPC_ENVELOPE_OVERHEAD, 5, msg);
	assert_memory_equal(msg, "CPM1", 4);
	const unsigned char *p;
	size_t n;
	assert_int_equal(rpc_envelope_open(key, sizeof(key) - 1, msg, sizeof(msg), &p, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(p, "hello", 5);
}

static void test_tamper(void **state)
{
	unsigned char msg[RPC_ENVELOPE_OVERHEAD + 5];
	memcpy(msg + RPC_ENVELOPE_OVERHEAD, "hello", 5);
	rpc_envelope_seal(key, sizeof(key) - 1, msg + RPC_ENVELOPE_OVERHEAD, 5, msg);
	const unsigned char *p;
	size_t n;
	/* Every single flipped bit anywhere is refused. */
	for (size_t i = 0; i < sizeof(msg); i++) {
		for (int bit = 0; bit < 8; bit++) {
			msg[i] ^= (unsigned char)(1 << bit);
			assert_int_equal(rpc_envelope_open(key, sizeof(key) - 1, msg, sizeof(msg), &p, &n), -1);
			msg[i] ^= (unsigned char)(1 << bit);
		}
	}
	/* Wrong key, short messages. */
	assert_int_equal(rpc_envelope_open((const unsigned char *)"another-secret-key!", 19, msg, sizeof(msg), &p, &n), -1);
	assert_int_equal(rpc_envelope_open(key, sizeof(key) - 1, msg, RPC_ENVELOPE_OVERHEAD - 1, &p, &n), -1);
	assert_int_equal(rpc_envelope_open(key, sizeof(key) - 1, msg, 0, &p, &n), -1);
	/* An empty payload is valid when sealed as such. */
	unsigned char empty[RPC_ENVELOPE_OVERHEAD];
	rpc_envelope_seal(key, sizeof(key) - 1, empty + RPC_ENVELOPE_OVERHEAD, 0, empty);
	assert_int_equal(rpc_envelope_open(key, sizeof(key) - 1, empty, sizeof(empty), &p, &n), 0);
	assert_int_equal(n, 0);
}

static void test_topic(void **state)
{
	unsigned char t[RPC_TOPIC_LEN];
	rpc_feed_topic(0x0102030405060708ULL, t);
	const unsigned char want[RPC_TOPIC_LEN] = {'F', 1, 2, 3, 4, 5, 6, 7, 8};
	assert_memory_equal(t, want, RPC_TOPIC_LEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_topic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
