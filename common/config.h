/*
 * config: the one cluster configuration file (INI, parsed with inih) that
 * every process of a cluster reads: back-ends find their shard section,
 * front-ends and cpm-admin find all shards (for routing) and the secret.
 *
 *   [cluster]
 *   secret = <at least 16 characters>   ; HMAC key on every RPC envelope
 *   rpc_timeout_ms = 5000                ; deadline of each RPC
 *   default_folders = INBOX, Default     ; created for every new user
 *   scram_iterations = 4096
 *   default_quota_mb = 0                 ; per-user storage quota (0 = unlimited)
 *   log_level = info                     ; debug|info|warn|error
 *   outband_retention_s = 604800         ; notification log: entries older are pruned (0 = no age limit)
 *   outband_retention_max = 1000000      ; notification log: entries kept per shard at most (0 = no limit)
 *   blob_file_threshold_kb = 256         ; bodies larger than this are files under data_dir/blobs
 *                                        ; (content-addressed, synced before their commit; 0 = never)
 *   append_staging_max = 8               ; streamed APPEND literals staged at once per user (and per command)
 *   append_staging_idle_s = 300          ; a staging file idle this long is removed (abandoned APPEND)
 *
 *   [shard.s1]                           ; one section per back-end shard
 *   rpc = tcp://127.0.0.1:7101           ; nanomsg endpoint the back-end binds (REP)
 *   feed = tcp://127.0.0.1:7201          ; nanomsg endpoint of its change feed (PUB)
 *   data_dir = var/s1                    ; LMDB environment directory
 *   map_size_mb = 4096                   ; LMDB map size
 *
 *   [frontend]
 *   workers = 2                          ; processes sharing the ports (SO_REUSEPORT)
 *   hostname = cpm-store
 *   imap_listen = 127.0.0.1:1143         ; cleartext + STARTTLS ("" = off)
 *   imap_proxy = off                     ; off | v1 | v2 | any: PROXY protocol required
 *   imaps_listen = 127.0.0.1:1993        ; implicit TLS ("" = off)
 *   imaps_proxy = off
 *   allow_plaintext_auth = no            ; LOGIN/PLAIN before TLS off a non-loopback peer
 *   tls_cert = var/tls/cert.pem
 *   tls_key = var/tls/key.pem
 *   tls_client_ca =                      ; optional: verify client certificates
 *   tls_psk_file =                       ; optional: "identity:hexkey" lines (TLS-PSK)
 *   max_line = 65536                     ; bytes of command text
 *   max_literal = 67108864               ; bytes of one literal (and of one message)
 *   append_stream_kb = 1024              ; APPEND literals this large or larger are streamed to the
 *                                        ; back-end in chunks, never held whole (0 = never)
 *   append_chunk_kb = 1024               ; bytes per AppendChunk RPC (16 .. 16384)
 *   login_fail_delay_ms = 1000           ; answer to a failed login waits this long
 *   outband_listen =                     ; operator endpoint for outband notifications ("" = off)
 *   outband_secret =                     ; shared operator secret (>= 16 characters)
 *   outband_tls = no                     ; TLS on outband_listen (tls_cert/tls_key)
 *   outband_client_ca =                  ; a client certificate verified against it authenticates
 *   outband_heartbeat_s = 30             ; Heartbeat period (and log poll) per subscriber
 *   outband_max_buffer = 1048576         ; bytes queued to a subscriber before it is dropped as slow
 *   outband_max_subscribers = 1000       ; connections per worker
 *   (docs/outband.md explains the outband keys)
 *
 * Relative paths are taken relative to the current directory of the process.
 * config_load returns 0, or -1 with a reason in err (never a partial config).
 * The caller owns the config and frees it with config_free.
 */
#ifndef CPM_CONFIG_H
#define CPM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_PROXY_V1 1u
#define CFG_PROXY_V2 2u

struct cfg_shard {
	char *id;
	char *rpc;
	char *feed;
	char *data_dir;
	uint64_t map_size_mb;
};

struct cfg_listener {
	char *host;        /* NULL when the listener is off */
	int port;
	unsigned proxy;    /* CFG_PROXY_* bits; 0 = no PROXY header expected */
};

struct cpm_config {
	char *path;
	unsigned char *secret;
	size_t secret_len;
	unsigned rpc_timeout_ms;
	char **default_folders;
	size_t n_default_folders;
	unsigned scram_iterations;
	uint64_t default_quota_mb;
	char *log_level;
	uint64_t outband_retention_s, outband_retention_max;
	uint64_t blob_file_threshold_kb; /* back-ends: larger bodies go to files (0 = never) */
	unsigned append_staging_max;     /* staging files per user (back-end) and per command (front-end) */
	unsigned append_staging_idle_s;  /* back-ends: an idle staging file is removed after this */

	struct cfg_shard *shards;
	size_t n_shards;

	unsigned workers;
	char *hostname;
	struct cfg_listener imap, imaps;
	bool allow_plaintext_auth;
	char *tls_cert, *tls_key, *tls_client_ca, *tls_psk_file;
	size_t max_line;
	size_t max_literal;
	size_t append_stream_kb; /* APPEND literals at least this large are streamed (0 = never) */
	size_t append_chunk_kb;  /* bytes per AppendChunk */
	unsigned login_fail_delay_ms;
	struct cfg_listener outband;
	char *outband_secret, *outband_client_ca;
	bool outband_tls;
	unsigned outband_heartbeat_s;
	size_t outband_max_buffer;
	unsigned outband_max_subscribers;
};

int config_load(const char *path, struct cpm_config **cfg_r, char *err, size_t errlen);
void config_free(struct cpm_config **cfg);
/* The shard with this id, or NULL. */
const struct cfg_shard *config_shard(const struct cpm_config *cfg, const char *id);
/* Index of the shard with this id, or -1. */
int config_shard_index(const struct cpm_config *cfg, const char *id);
/* "debug"... → log level value of log.h (info when unknown). */
int config_log_level(const struct cpm_config *cfg);

#endif
