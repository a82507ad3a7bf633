/*
 * bench: what the parts of cpm-bench share. One libuv loop drives every
 * connection (libcpmclient); nothing blocks it but the brief /proc reads of
 * the sampler. A run is: setup (one connection prefills the folder and lists
 * its UIDs), then N workers run the scenario for the duration, then they
 * log out and the report is printed.
 *
 * Ownership: main.c owns the struct bench and everything in it; workers
 * (worker.c) and the setup connection (setup.c) point back to it.
 */
#ifndef CPM_BENCH_BENCH_H
#define CPM_BENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "client/imapc-conn.h"
#include "procstat.h"
#include "stats.h"

enum scenario { SC_LOGIN, SC_APPEND, SC_FETCH, SC_SEARCH, SC_STORE, SC_MIXED, SC_IDLE, SC_RESYNC, SC_COUNT };

struct bench_opts {
	enum scenario scenario;
	const char *host;
	int port;
	bool tls;
	const char *ca_file;
	const char *user;     /* may hold one "%d": connection number modulo users */
	unsigned users;
	const char *password;
	const char *folder;
	unsigned connections;
	double duration_s;
	unsigned messages;    /* prefill the folder to this many messages */
	uint64_t seed;
	unsigned changes;     /* resync: k changes between two QRESYNC SELECTs */
	double idle_rate;     /* idle: appends per second by the writer */
	bool shared_folder;   /* append: all connections into one folder */
	bool json;
	const char *label;    /* "cpm-store", "dovecot": names the row */
};

struct bench {
	struct bench_opts o;
	uv_loop_t *loop;
	struct imapc_client *cl;
	struct sockaddr_storage addr;
	struct procset procs;
	uv_timer_t stop_timer, sample_timer, hard_timer;

	/* setup results */
	uint32_t *uids;
	size_t n_uids;
	bool qresync_supported;
	bool setup_failed;
	char setup_error[200];

	/* run state */
	bool measuring, stopping, idle_grace;
	uint64_t t_start, t_end;
	unsigned live_workers;
	struct worker **workers;

	/* results */
	struct stats lat;
	uint64_t ops, errors, bytes;
	char first_error[200];
	/* idle */
	uint64_t idle_pushes_expected, idle_pushes_seen;
	uint64_t idle_pss_before_kb, idle_pss_after_kb;
	unsigned idle_sessions_ready;
	struct worker *idle_writer;
	uint64_t *push_sent_ns; /* by EXISTS number - push_base */
	uint32_t push_base;
	size_t push_cap, push_n;
};

/* Counts an error (the first one's text is kept for the report). */
void bench_error(struct bench *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The user name of connection i. */
void bench_user(const struct bench *b, unsigned i, char *out, size_t outlen);
/* A monotonic clock in ns. */
uint64_t bench_now(const struct bench *b);

/* setup.c: prefill and list the folder; runs the loop until done. 0 / -1. */
int bench_setup(struct bench *b);

/* worker.c */
struct worker;
/* Starts all workers of the scenario; they run until b->stopping. */
int workers_start(struct bench *b);
/* Every worker logs out (called once at the end of the duration). */
void workers_stop(struct bench *b);
/* Closes whatever is still open (hard deadline). */
void workers_abort(struct bench *b);
void workers_free(struct bench *b);
/* idle: starts the writer connection. */
void workers_idle_start_writer(struct bench *b);
/* idle: the writer logs out (the sessions keep listening). */
void workers_stop_writer(struct bench *b);
/* main.c, idle: every session is idling (measure memory, start the run). */
void bench_idle_ready(struct bench *b);

const char *scenario_name(enum scenario s);

#endif
