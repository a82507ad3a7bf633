/*
 * cpm-frontend: the stateless IMAP front-end.
 *
 *   cpm-frontend -c CONF [-w WORKERS]
 *
 * The master process loads and checks the configuration, then forks
 * `workers` worker processes and supervises them: a worker that dies is
 * restarted (at most once a second), SIGTERM/SIGINT stop them all. Each
 * worker runs one libuv loop with its own listening sockets
 * (SO_REUSEPORT), its own RPC connections to every shard, TLS context and
 * SASL handle. Workers share nothing; killing one loses only its
 * connections.
 */
#include "commands.h"
#include "config.h"
#include "conn.h"
#include "feed-sub.h"
#include "listener.h"
#include "outband.h"
#include "session.h"
#include "log.h"
#include "rpc-client.h"
#include "tls.h"
#include "worker.h"

#include <errno.h>
#include <gsasl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 256

struct worker_run {
	struct fe_worker w;
	struct listener *imap, *imaps;
	struct outband *outband;
	uv_signal_t sigterm, sigint;
};

static void on_flush_check(uv_check_t *h)
{
	conn_flush_dirty(h->data);
}

static void on_stop_signal(uv_signal_t *h, int signum)
{
	struct worker_run *r = h->data;
	if (r->w.stopping)
		return;
	r->w.stopping = true;
	log_info("event=worker_stopping worker=%u signal=%d conns=%u", r->w.worker_index, signum, r->w.n_conns);
	listener_close(&r->imap);
	listener_close(&r->imaps);
	outband_stop(&r->outband);
	uv_stop(r->w.loop);
}

static int tls_setup(struct fe_worker *w, char *err, size_t errlen)
{
	const struct cpm_config *cfg = w->cfg;
	if (cfg->tls_cert == NULL || cfg->tls_key == NULL)
		return 0;
	struct tls_server_config tc;
	memset(&tc, 0, sizeof(tc));
	tc.cert_file = cfg->tls_cert;
	tc.key_file = cfg->tls_key;
	tc.client_ca_file = cfg->tls_client_ca;
	tc.psk_file = cfg->tls_psk_file;
	w->tls = tls_ctx_new_server(&tc, err, errlen);
	return w->tls ? 0 : -1;
}

static int worker_main(const struct cpm_config *cfg, unsigned index)
{
	struct worker_run r;
	memset(&r, 0, sizeof(r));
	uv_loop_t loop;
	char err[512];
	uv_loop_init(&loop);
	struct fe_worker *w = &r.w;
	w->loop = &loop;
	w->cfg = cfg;
	w->worker_index = index;
	w->limits.max_line = cfg->max_line;
	w->limits.max_literal = cfg->max_literal;
	w->limits.max_command = cfg->max_literal + cfg->max_line;
	w->limits.stream_min = cfg->append_stream_kb << 10; /* session.c: APPEND streams them */
	w->limits.max_depth = 32;
	w->limits.max_args = 10000;
	signal(SIGPIPE, SIG_IGN);
	if (tls_setup(w, err, sizeof(err)) < 0) {
		log_error("event=worker_failed worker=%u reason=%s", index, log_quote(err, strlen(err)));
		return 1;
	}
	if (gsasl_init(&w->gsasl) != GSASL_OK) {
		log_error("event=worker_failed worker=%u reason=gsasl_init", index);
		return 1;
	}
	gsasl_callback_set(w->gsasl, sasl_callback);
	w->rpc = rpc_client_new(&loop, cfg, err, sizeof(err));
	if (w->rpc == NULL) {
		log_error("event=worker_failed worker=%u reason=%s", index, log_quote(err, strlen(err)));
		return 1;
	}
	w->feed = feed_sub_new(&loop, cfg, session_feed_event, err, sizeof(err));
	if (w->feed == NULL) {
		log_error("event=worker_failed worker=%u reason=%s", index, log_quote(err, strlen(err)));
		return 1;
	}
	uv_check_init(&loop, &w->flush_check);
	w->flush_check.data = w;
	uv_check_start(&w->flush_check, on_flush_check);
	if (cfg->imap.host != NULL && (r.imap = listener_open(w, &cfg->imap, false, err, sizeof(err))) == NULL) {
		log_error("event=worker_failed worker=%u reason=%s", index, log_quote(err, strlen(err)));
		return 1;
	}
	if (cfg->imaps.host != NULL) {
		if (w->tls == NULL) {
			log_error("event=worker_failed worker=%u reason=\"imaps_listen needs tls_cert and tls_key\"", index);
			return 1;
		}
		if ((r.imaps = listener_open(w, &cfg->imaps, true, err, sizeof(err))) == NULL) {
			log_error("event=worker_failed worker=%u reason=%s", index, log_quote(err, strlen(err)));
			return 1;
		}
	}
	if (cfg->outband.host != NULL && (r.outband = outband_start(w, err, sizeof(err))) == NULL) {
		log_error("event=worker_failed worker=%u reason=%s", index, log_quote(err, strlen(err)));
		return 1;
	}
	uv_signal_init(&loop, &r.sigterm);
	uv_signal_init(&loop, &r.sigint);
	r.sigterm.data = r.sigint.data = &r;
	uv_signal_start(&r.sigterm, on_stop_signal, SIGTERM);
	uv_signal_start(&r.sigint, on_stop_signal, SIGINT);
	log_info("event=worker_started worker=%u", index);
	uv_run(&loop, UV_RUN_DEFAULT);
	/* Stopping: connections are cut by process exit; nothing is on disk here. */
	log_info("event=worker_stopped worker=%u", index);
	return 0;
}

static volatile sig_atomic_t stop_requested;

static void on_master_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static pid_t spawn_worker(const struct cpm_config *cfg, unsigned index)
{
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		char name[32];
		snprintf(name, sizeof(name), "cpm-frontend/%u", index);
		log_init(name, config_log_level(cfg));
		_exit(worker_main(cfg, index));
	}
	return pid;
}

static void usage(void)
{
	fprintf(stderr, "usage: cpm-frontend -c CONFIG [-w WORKERS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *conf = NULL;
	int workers = 0;
	int opt;
	while ((opt = getopt(argc, argv, "c:w:h")) != -1) {
		switch (opt) {
		case 'c':
			conf = optarg;
			break;
		case 'w':
			workers = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (conf == NULL)
		usage();
	struct cpm_config *cfg;
	char err[512];
	if (config_load(conf, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "cpm-frontend: %s\n", err);
		return 1;
	}
	log_init("cpm-frontend", config_log_level(cfg));
	unsigned n = workers > 0 ? (unsigned)workers : cfg->workers;
	if (n > MAX_WORKERS)
		n = MAX_WORKERS;
	if (cfg->imap.host == NULL && cfg->imaps.host == NULL) {
		fprintf(stderr, "cpm-frontend: no imap_listen or imaps_listen configured\n");
		return 1;
	}
	/* Check TLS material once in the master so a bad path fails fast. */
	if (cfg->tls_cert != NULL) {
		struct fe_worker probe;
		memset(&probe, 0, sizeof(probe));
		probe.cfg = cfg;
		if (tls_setup(&probe, err, sizeof(err)) < 0) {
			fprintf(stderr, "cpm-frontend: TLS: %s\n", err);
			return 1;
		}
		tls_ctx_free(&probe.tls);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_master_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	pid_t pids[MAX_WORKERS];
	time_t last_spawn[MAX_WORKERS];
	for (unsigned i = 0; i < n; i++) {
		pids[i] = spawn_worker(cfg, i);
		last_spawn[i] = time(NULL);
	}
	log_info("event=started workers=%u imap=%s:%d imaps=%s:%d", n, cfg->imap.host ? cfg->imap.host : "-",
		 cfg->imap.port, cfg->imaps.host ? cfg->imaps.host : "-", cfg->imaps.port);
	while (!stop_requested) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (unsigned i = 0; i < n; i++) {
			if (pids[i] != pid)
				continue;
			int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			log_msg(stop_requested ? LOG_INFO : LOG_WARN, "event=worker_exited worker=%u pid=%d code=%d", i,
				(int)pid, code);
			if (stop_requested)
				break;
			if (WIFEXITED(status) && WEXITSTATUS(status) == 1 && time(NULL) - last_spawn[i] < 2) {
				/* Fails at start-up (config, port): do not spin. */
				log_error("event=stopping reason=worker_start_failed worker=%u", i);
				stop_requested = 1;
				break;
			}
			if (time(NULL) - last_spawn[i] < 1)
				sleep(1);
			pids[i] = spawn_worker(cfg, i);
			last_spawn[i] = time(NULL);
		}
	}
	for (unsigned i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	for (unsigned i = 0; i < n; i++)
		if (pids[i] > 0)
			waitpid(pids[i], NULL, 0);
	log_info("event=stopped");
	config_free(&cfg);
	return 0;
}
