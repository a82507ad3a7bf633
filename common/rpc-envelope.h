/*
 * rpc-envelope: authenticating wrapper around every RPC and feed message.
 *
 * nanomsg has no TLS, so every message between cluster processes carries an
 * HMAC-SHA256 over its payload, keyed with the cluster secret from the config:
 *
 *     "CPM1" (4 bytes) | HMAC-SHA256(secret, payload) (32 bytes) | payload
 *
 * The payload is a serialized protobuf (cpm.Request, cpm.Response or
 * cpm.FeedEvent). Replay of an old request is limited by the deadline inside
 * every Request and made harmless for writes by the back-end's request-id
 * dedupe (rpc-server.h).
 *
 * Change-feed messages (PUB/SUB) are prefixed with a topic so that nanomsg's
 * subscription filter can select them: topic | envelope, where the topic is
 * RPC_TOPIC_LEN bytes: 'F' followed by the folder id, 8 bytes big-endian.
 * A user topic ('U', the user name, 0x00; at most RPC_USER_TOPIC_MAX bytes)
 * says that the user's notification log grew (outband notifications).
 */
#ifndef CPM_RPC_ENVELOPE_H
#define CPM_RPC_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#define RPC_ENVELOPE_MAGIC "CPM1"
#define RPC_ENVELOPE_OVERHEAD (4 + 32)
#define RPC_TOPIC_LEN 9
#define RPC_USER_MAX 255
#define RPC_USER_TOPIC_MAX (RPC_USER_MAX + 2)

/* Writes magic + MAC into out[0 .. RPC_ENVELOPE_OVERHEAD) for payload. */
void rpc_envelope_seal(const unsigned char *secret, size_t secret_len, const unsigned char *payload,
		       size_t payload_len, unsigned char *out);
/* Checks magic and MAC (constant time). On success returns 0 and points
 * *payload_r / *payload_len_r into msg; -1 when the message is not authentic. */
int rpc_envelope_open(const unsigned char *secret, size_t secret_len, const unsigned char *msg, size_t len,
		      const unsigned char **payload_r, size_t *payload_len_r);
/* The feed topic of a folder. */
void rpc_feed_topic(uint64_t folder_id, unsigned char out[RPC_TOPIC_LEN]);
/* The user topic of user into out; its length, or 0 when the name is empty or too long. */
size_t rpc_user_topic(const char *user, unsigned char out[RPC_USER_TOPIC_MAX]);

#endif
