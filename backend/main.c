/*
 * cpm-backend: one shard of the message store.
 *
 *   cpm-backend -c CONF -s SHARD_ID
 *
 * Owns the shard's LMDB environment (data_dir), answers RPCs on the shard's
 * rpc endpoint and publishes committed changes on its feed endpoint. Logs
 * `event=started` when it takes requests. SIGTERM/SIGINT: finish the work in
 * flight (the writer commits its batch), close the environment, exit 0.
 */
#include "config.h"
#include "log.h"
#include "server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void on_signal(uv_signal_t *h, int signum)
{
	server_stop(h->data);
}

static void usage(void)
{
	fprintf(stderr, "usage: cpm-backend -c CONFIG -s SHARD_ID\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *conf = NULL, *shard_id = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "c:s:h")) != -1) {
		if (opt == 'c')
			conf = optarg;
		else if (opt == 's')
			shard_id = optarg;
		else
			usage();
	}
	if (conf == NULL || shard_id == NULL)
		usage();
	struct cpm_config *cfg;
	char err[512];
	if (config_load(conf, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "cpm-backend: %s\n", err);
		return 1;
	}
	char name[64];
	snprintf(name, sizeof(name), "cpm-backend/%s", shard_id);
	log_init(name, config_log_level(cfg));
	const struct cfg_shard *shard = config_shard(cfg, shard_id);
	if (shard == NULL) {
		fprintf(stderr, "cpm-backend: no [shard.%s] in %s\n", shard_id, conf);
		config_free(&cfg);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct server *s = server_start(&loop, cfg, shard, err, sizeof(err));
	if (s == NULL) {
		fprintf(stderr, "cpm-backend: %s\n", err);
		log_error("event=start_failed shard=%s reason=%s", shard_id, log_quote(err, strlen(err)));
		config_free(&cfg);
		return 1;
	}
	uv_signal_t sigterm, sigint;
	uv_signal_init(&loop, &sigterm);
	uv_signal_init(&loop, &sigint);
	sigterm.data = sigint.data = s;
	uv_signal_start(&sigterm, on_signal, SIGTERM);
	uv_signal_start(&sigint, on_signal, SIGINT);
	log_info("event=started shard=%s rpc=%s feed=%s data_dir=%s", shard->id, shard->rpc, shard->feed,
		 shard->data_dir);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&sigterm, NULL);
	uv_close((uv_handle_t *)&sigint, NULL);
	uv_run(&loop, UV_RUN_DEFAULT); /* close callbacks of every handle */
	if (uv_loop_close(&loop) != 0)
		log_warn("event=loop_not_closed shard=%s", shard_id);
	server_free(&s);
	config_free(&cfg);
	return 0;
}
