/* rpc-envelope: HMAC-authenticated message framing. See rpc-envelope.h. */
#include "rpc-envelope.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

static void mac(const unsigned char *secret, size_t secret_len, const unsigned char *p, size_t n,
		unsigned char out[32])
{
	unsigned int len = 32;
	if (HMAC(EVP_sha256(), secret, (int)secret_len, p, n, out, &len) == NULL)
		memset(out, 0, 32); /* never matches a real MAC of a non-empty key */
}

void rpc_envelope_seal(const unsigned char *secret, size_t secret_len, const unsigned char *payload,
		       size_t payload_len, unsigned char *out)
{
	memcpy(out, RPC_ENVELOPE_MAGIC, 4);
	mac(secret, secret_len, payload, payload_len, out + 4);
}

int rpc_envelope_open(const unsigned char *secret, size_t secret_len, const unsigned char *msg, size_t len,
		      const unsigned char **payload_r, size_t *payload_len_r)
{
	if (len < RPC_ENVELOPE_OVERHEAD || memcmp(msg, RPC_ENVELOPE_MAGIC, 4) != 0)
		return -1;
	unsigned char want[32];
	mac(secret, secret_len, msg + RPC_ENVELOPE_OVERHEAD, len - RPC_ENVELOPE_OVERHEAD, want);
	if (CRYPTO_memcmp(want, msg + 4, 32) != 0)
		return -1;
	*payload_r = msg + RPC_ENVELOPE_OVERHEAD;
	*payload_len_r = len - RPC_ENVELOPE_OVERHEAD;
	return 0;
}

void rpc_feed_topic(uint64_t folder_id, unsigned char out[RPC_TOPIC_LEN])
{
	out[0] = 'F';
	for (int i = 0; i < 8; i++)
		out[1 + i] = (unsigned char)(folder_id >> (56 - 8 * i));
}

size_t rpc_user_topic(const char *user, unsigned char out[RPC_USER_TOPIC_MAX])
{
	size_t n = strlen(user);
	if (n == 0 || n > RPC_USER_MAX)
		return 0;
	out[0] = 'U';
	memcpy(out + 1, user, n);
	out[n + 1] = 0;
	return n + 2;
}
