/*
 * cpm-bench: load generator for IMAP servers (ours and others), built on
 * libcpmclient. One process, one libuv loop, no thread per connection.
 *
 *   cpm-bench -s fetch -H 127.0.0.1 -p 1143 -u bench -w secret -c 50 -d 30 \
 *             -m 10000 --pid 1234 --proc cpm-frontend --json
 *
 * Flow: setup (setup.c: prefill + UID list; skipped by login and append),
 * then the workers (worker.c) run the scenario for the duration, then every
 * connection logs out; a /proc sampler (procstat.c) follows the server
 * processes meanwhile. The result is one row: ops/s, latency percentiles,
 * errors, bytes, per-process CPU seconds and peak RSS, and for idle the
 * server memory per idle session (PSS delta / sessions). --json prints it as
 * one JSON object instead of the table (bench/compare.sh reads that).
 *
 * Exit status: 0 when the run completed (even with errors: they are in the
 * report), 0 with status "unsupported" when the server lacks what the
 * scenario needs (resync without QRESYNC), 1 on a setup failure, 2 on usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"
#include "buf.h"

static const char *const names[SC_COUNT] = {"login", "append", "fetch", "search",
					    "store", "mixed",  "idle",  "resync"};

const char *scenario_name(enum scenario s)
{
	return s < SC_COUNT ? names[s] : "?";
}

uint64_t bench_now(const struct bench *b)
{
	(void)b;
	return uv_hrtime();
}

void bench_error(struct bench *b, const char *fmt, ...)
{
	b->errors++;
	if (b->first_error[0] == '\0') {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(b->first_error, sizeof(b->first_error), fmt, ap);
		va_end(ap);
	}
}

void bench_user(const struct bench *b, unsigned i, char *out, size_t outlen)
{
	const char *u = b->o.user;
	const char *pct = strstr(u, "%d");
	if (pct == NULL) {
		snprintf(out, outlen, "%s", u);
		return;
	}
	unsigned n = b->o.users ? i % b->o.users : i;
	snprintf(out, outlen, "%.*s%u%s", (int)(pct - u), u, n, pct + 2);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cpm-bench -s SCENARIO [options]\n"
		"scenarios: login append fetch search store mixed idle resync\n"
		"  -H, --host ADDR         server address (127.0.0.1)\n"
		"  -p, --port N            port (143; 993 with --tls)\n"
		"  -T, --tls               implicit TLS\n"
		"      --ca FILE           verify the server certificate against FILE\n"
		"  -u, --user NAME         user; a %%d in it becomes the connection number\n"
		"                          modulo --users (bench)\n"
		"      --users N           distinct users for %%d (default: one per connection)\n"
		"  -w, --password PW       password (bench)\n"
		"  -f, --folder NAME       the scenario's folder (bench)\n"
		"  -c, --connections N     concurrent connections, 1..100000 (10)\n"
		"  -d, --duration S        seconds of measurement (10)\n"
		"  -m, --messages N        prefill the folder up to N messages (10000)\n"
		"      --seed N            message generator seed (1)\n"
		"  -k, --changes N         resync: flag changes before each QRESYNC SELECT (10)\n"
		"      --idle-rate R       idle: writer appends per second (20)\n"
		"      --shared-folder     append: every connection into one folder\n"
		"      --pid PID           follow this server process and its descendants\n"
		"      --proc NAME         follow processes named NAME (/proc/PID/comm)\n"
		"  -l, --label TEXT        name of the server in the report (server)\n"
		"      --json              print the result as one JSON object\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned long *v)
{
	char *e;
	errno = 0;
	unsigned long x = strtoul(s, &e, 10);
	if (errno != 0 || e == s || *e != '\0' || x > max)
		return -1;
	*v = x;
	return 0;
}

/* ---- report ---------------------------------------------------------------- */

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static void json_str(struct buf *o, const char *s)
{
	buf_append_byte(o, '"');
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			buf_printf(o, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			buf_printf(o, "\\u%04x", ch);
		else
			buf_append_byte(o, ch);
	}
	buf_append_byte(o, '"');
}

struct group {
	char name[32];
	unsigned count;
	double cpu_s;
	uint64_t rss_sum_kb, rss_max_kb;
	uint64_t anon_sum_kb;
};

static size_t group_procs(const struct procset *ps, struct group *g, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < ps->n_procs; i++) {
		const struct proc_info *p = &ps->procs[i];
		size_t k = 0;
		while (k < n && strcmp(g[k].name, p->name) != 0)
			k++;
		if (k == n) {
			if (n == max)
				continue;
			memset(&g[n], 0, sizeof(g[n]));
			snprintf(g[n].name, sizeof(g[n].name), "%s", p->name);
			n++;
		}
		g[k].count++;
		g[k].cpu_s += p->cpu_last_s - p->cpu_start_s;
		g[k].rss_sum_kb += p->peak_rss_kb;
		g[k].anon_sum_kb += p->peak_anon_kb;
		if (p->peak_rss_kb > g[k].rss_max_kb)
			g[k].rss_max_kb = p->peak_rss_kb;
	}
	return n;
}

static void report(struct bench *b, const char *status)
{
	double secs = b->t_end > b->t_start ? (double)(b->t_end - b->t_start) / 1e9 : 0;
	double rate = secs > 0 ? (double)b->ops / secs : 0;
	struct group g[64];
	size_t ng = group_procs(&b->procs, g, 64);
	double idle_kb = 0;
	if (b->o.scenario == SC_IDLE && b->idle_sessions_ready > 0 && b->idle_pss_after_kb > 0)
		idle_kb = ((double)b->idle_pss_after_kb - (double)b->idle_pss_before_kb) / b->idle_sessions_ready;
	if (b->o.json) {
		struct buf o = {0};
		buf_append_str(&o, "{\"scenario\":");
		json_str(&o, scenario_name(b->o.scenario));
		buf_append_str(&o, ",\"label\":");
		json_str(&o, b->o.label);
		buf_append_str(&o, ",\"status\":");
		json_str(&o, status);
		buf_printf(&o,
			   ",\"connections\":%u,\"tls\":%s,\"duration_s\":%.3f,\"ops\":%llu,\"ops_per_s\":%.1f,"
			   "\"latency_ms\":{\"p50\":%.3f,\"p95\":%.3f,\"p99\":%.3f,\"max\":%.3f,\"mean\":%.3f},"
			   "\"errors\":%llu,\"bytes\":%llu,\"mb_per_s\":%.2f",
			   b->o.connections, b->o.tls ? "true" : "false", secs, (unsigned long long)b->ops, rate,
			   ms(stats_quantile(&b->lat, 0.50)), ms(stats_quantile(&b->lat, 0.95)),
			   ms(stats_quantile(&b->lat, 0.99)), ms(b->lat.max_ns),
			   b->lat.count ? ms(b->lat.sum_ns / b->lat.count) : 0.0, (unsigned long long)b->errors,
			   (unsigned long long)b->bytes, secs > 0 ? (double)b->bytes / secs / 1e6 : 0.0);
		buf_append_str(&o, ",\"first_error\":");
		json_str(&o, b->first_error[0] ? b->first_error : b->setup_error);
		if (b->o.scenario == SC_IDLE)
			buf_printf(&o,
				   ",\"idle\":{\"sessions\":%u,\"pushes_expected\":%llu,\"pushes_seen\":%llu,"
				   "\"server_pss_before_kb\":%llu,\"server_pss_after_kb\":%llu,"
				   "\"server_kb_per_session\":%.1f}",
				   b->idle_sessions_ready, (unsigned long long)b->idle_pushes_expected,
				   (unsigned long long)b->idle_pushes_seen, (unsigned long long)b->idle_pss_before_kb,
				   (unsigned long long)b->idle_pss_after_kb, idle_kb);
		buf_append_str(&o, ",\"process_groups\":[");
		for (size_t i = 0; i < ng; i++) {
			buf_append_str(&o, i ? ",{\"name\":" : "{\"name\":");
			json_str(&o, g[i].name);
			buf_printf(&o,
				   ",\"count\":%u,\"cpu_s\":%.2f,\"peak_rss_kb_sum\":%llu,\"peak_rss_kb_max\":%llu,"
				   "\"peak_anon_kb_sum\":%llu}",
				   g[i].count, g[i].cpu_s, (unsigned long long)g[i].rss_sum_kb,
				   (unsigned long long)g[i].rss_max_kb, (unsigned long long)g[i].anon_sum_kb);
		}
		buf_append_str(&o, "],\"processes\":[");
		for (size_t i = 0; i < b->procs.n_procs; i++) {
			const struct proc_info *p = &b->procs.procs[i];
			buf_printf(&o, "%s{\"pid\":%d,\"name\":", i ? "," : "", p->pid);
			json_str(&o, p->name);
			buf_printf(&o, ",\"cpu_s\":%.2f,\"peak_rss_kb\":%llu}", p->cpu_last_s - p->cpu_start_s,
				   (unsigned long long)p->peak_rss_kb);
		}
		buf_append_str(&o, "]}\n");
		fwrite(o.data, 1, o.len, stdout);
		buf_free(&o);
		return;
	}
	printf("%-8s %-12s %7s %9s %10s %8s %8s %8s %9s %7s %s\n", "scenario", "server", "conns", "ops", "ops/s",
	       "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "status");
	printf("%-8s %-12s %7u %9llu %10.1f %8.2f %8.2f %8.2f %9.2f %7llu %s\n", scenario_name(b->o.scenario),
	       b->o.label, b->o.connections, (unsigned long long)b->ops, rate, ms(stats_quantile(&b->lat, 0.50)),
	       ms(stats_quantile(&b->lat, 0.95)), ms(stats_quantile(&b->lat, 0.99)), ms(b->lat.max_ns),
	       (unsigned long long)b->errors, status);
	if (b->bytes > 0)
		printf("  payload: %.1f MB/s\n", (double)b->bytes / (secs > 0 ? secs : 1) / 1e6);
	for (size_t i = 0; i < ng; i++)
		printf("  process %-16s x%-4u cpu %8.2f s   peak rss %8.1f MB (largest %.1f MB)\n", g[i].name, g[i].count,
		       g[i].cpu_s, (double)g[i].rss_sum_kb / 1024, (double)g[i].rss_max_kb / 1024);
	if (b->o.scenario == SC_IDLE)
		printf("  idle: %u sessions, pushes seen %llu of %llu, server memory per idle session %.1f KB (PSS)\n",
		       b->idle_sessions_ready, (unsigned long long)b->idle_pushes_seen,
		       (unsigned long long)b->idle_pushes_expected, idle_kb);
	if (b->first_error[0])
		printf("  first error: %s\n", b->first_error);
	if (b->setup_error[0])
		printf("  setup: %s\n", b->setup_error);
}

/* ---- run control ------------------------------------------------------------- */

#define STOP_GRACE_MS 10000

static void on_hard(uv_timer_t *t)
{
	struct bench *b = t->data;
	if (!b->stopping) {
		bench_error(b, "the run did not start in time (sessions not ready)");
		b->stopping = true;
		b->measuring = false;
		b->t_end = bench_now(b);
	}
	workers_abort(b);
}

static void on_stop(uv_timer_t *t)
{
	struct bench *b = t->data;
	if (b->o.scenario == SC_IDLE && !b->idle_grace) {
		/* The writer stops; the sessions get 1 s to see the last pushes. */
		b->idle_grace = true;
		workers_stop_writer(b);
		uv_timer_start(t, on_stop, 1000, 0);
		return;
	}
	b->t_end = bench_now(b);
	b->measuring = false;
	b->stopping = true;
	workers_stop(b);
	uv_timer_start(&b->hard_timer, on_hard, STOP_GRACE_MS, 0);
}

static void on_sample(uv_timer_t *t)
{
	struct bench *b = t->data;
	procset_sample(&b->procs);
}

static void begin_measuring(struct bench *b)
{
	procset_begin(&b->procs);
	b->t_start = bench_now(b);
	b->measuring = true;
	uv_timer_start(&b->stop_timer, on_stop, (uint64_t)(b->o.duration_s * 1000), 0);
	if (!procset_empty(&b->procs))
		uv_timer_start(&b->sample_timer, on_sample, 250, 250);
}

void bench_idle_ready(struct bench *b)
{
	/* Let the server settle, then measure memory with every session idling. */
	b->idle_pss_after_kb = procset_pss_kb(&b->procs);
	uv_timer_stop(&b->hard_timer);
	uv_timer_start(&b->hard_timer, on_hard, (uint64_t)(b->o.duration_s * 1000) + 60000, 0);
	begin_measuring(b);
	workers_idle_start_writer(b);
}

static void raise_nofile(unsigned want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rlim_t need = (rlim_t)want + 64;
	if (rl.rlim_cur >= need)
		return;
	rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < need)
		fprintf(stderr, "cpm-bench: only %llu file descriptors allowed; raise ulimit -n\n",
			(unsigned long long)rl.rlim_cur);
}

int main(int argc, char **argv)
{
	struct bench b = {0};
	b.o = (struct bench_opts){.host = "127.0.0.1", .user = "bench", .password = "bench", .folder = "bench",
				  .connections = 10, .duration_s = 10, .messages = 10000, .seed = 1, .changes = 10,
				  .idle_rate = 20, .label = "server", .scenario = SC_COUNT};
	enum { O_CA = 256, O_USERS, O_SEED, O_IDLE_RATE, O_SHARED, O_PID, O_PROC, O_JSON };
	static const struct option lo[] = {
		{"scenario", required_argument, NULL, 's'}, {"host", required_argument, NULL, 'H'},
		{"port", required_argument, NULL, 'p'},     {"tls", no_argument, NULL, 'T'},
		{"ca", required_argument, NULL, O_CA},      {"user", required_argument, NULL, 'u'},
		{"users", required_argument, NULL, O_USERS}, {"password", required_argument, NULL, 'w'},
		{"folder", required_argument, NULL, 'f'},   {"connections", required_argument, NULL, 'c'},
		{"duration", required_argument, NULL, 'd'}, {"messages", required_argument, NULL, 'm'},
		{"seed", required_argument, NULL, O_SEED},  {"changes", required_argument, NULL, 'k'},
		{"idle-rate", required_argument, NULL, O_IDLE_RATE},
		{"shared-folder", no_argument, NULL, O_SHARED},
		{"pid", required_argument, NULL, O_PID},    {"proc", required_argument, NULL, O_PROC},
		{"label", required_argument, NULL, 'l'},    {"json", no_argument, NULL, O_JSON},
		{"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
	};
	int opt;
	unsigned long v;
	while ((opt = getopt_long(argc, argv, "s:H:p:Tu:w:f:c:d:m:k:l:h", lo, NULL)) != -1) {
		switch (opt) {
		case 's':
			for (int i = 0; i < SC_COUNT; i++)
				if (strcmp(optarg, names[i]) == 0)
					b.o.scenario = (enum scenario)i;
			if (b.o.scenario == SC_COUNT) {
				fprintf(stderr, "cpm-bench: unknown scenario %s\n", optarg);
				return 2;
			}
			break;
		case 'H': b.o.host = optarg; break;
		case 'p':
			if (parse_uint(optarg, 65535, &v) < 0 || v == 0)
				goto bad;
			b.o.port = (int)v;
			break;
		case 'T': b.o.tls = true; break;
		case O_CA: b.o.ca_file = optarg; break;
		case 'u': b.o.user = optarg; break;
		case O_USERS:
			if (parse_uint(optarg, 10000000, &v) < 0 || v == 0)
				goto bad;
			b.o.users = (unsigned)v;
			break;
		case 'w': b.o.password = optarg; break;
		case 'f': b.o.folder = optarg; break;
		case 'c':
			if (parse_uint(optarg, 100000, &v) < 0 || v == 0)
				goto bad;
			b.o.connections = (unsigned)v;
			break;
		case 'd': {
			char *e;
			b.o.duration_s = strtod(optarg, &e);
			if (*e != '\0' || !(b.o.duration_s > 0 && b.o.duration_s <= 86400))
				goto bad;
			break;
		}
		case 'm':
			if (parse_uint(optarg, 10000000, &v) < 0)
				goto bad;
			b.o.messages = (unsigned)v;
			break;
		case O_SEED:
			if (parse_uint(optarg, 1000000000, &v) < 0)
				goto bad;
			b.o.seed = v;
			break;
		case 'k':
			if (parse_uint(optarg, 10000, &v) < 0 || v == 0)
				goto bad;
			b.o.changes = (unsigned)v;
			break;
		case O_IDLE_RATE: {
			char *e;
			b.o.idle_rate = strtod(optarg, &e);
			if (*e != '\0' || !(b.o.idle_rate > 0 && b.o.idle_rate <= 10000))
				goto bad;
			break;
		}
		case O_SHARED: b.o.shared_folder = true; break;
		case O_PID:
			if (parse_uint(optarg, 4194304, &v) < 0 || v == 0 || procset_add_pid(&b.procs, (int)v) < 0)
				goto bad;
			break;
		case O_PROC:
			if (procset_add_name(&b.procs, optarg) < 0)
				goto bad;
			break;
		case 'l': b.o.label = optarg; break;
		case O_JSON: b.o.json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (b.o.scenario == SC_COUNT || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (strlen(b.o.folder) > 200 || strpbrk(b.o.folder, "\"\\\r\n") != NULL ||
	    strpbrk(b.o.password, "\"\\\r\n") != NULL || strpbrk(b.o.user, "\"\\\r\n") != NULL) {
		fprintf(stderr, "cpm-bench: user, password and folder must not hold quotes, backslashes or line ends\n");
		return 2;
	}
	if (b.o.port == 0)
		b.o.port = b.o.tls ? 993 : 143;
	if (uv_ip4_addr(b.o.host, b.o.port, (struct sockaddr_in *)&b.addr) != 0 &&
	    uv_ip6_addr(b.o.host, b.o.port, (struct sockaddr_in6 *)&b.addr) != 0) {
		fprintf(stderr, "cpm-bench: %s is not an IP address\n", b.o.host);
		return 2;
	}
	raise_nofile(b.o.connections + 8);

	b.loop = uv_default_loop();
	char err[256];
	struct imapc_client_opts co = {.tls = b.o.tls, .tls_ca_file = b.o.ca_file, .tls_sni = "localhost",
				       .limits = {.keep_literals = false}};
	b.cl = imapc_client_new(b.loop, &co, err, sizeof(err));
	if (b.cl == NULL) {
		fprintf(stderr, "cpm-bench: %s\n", err);
		return 1;
	}
	uv_timer_init(b.loop, &b.stop_timer);
	uv_timer_init(b.loop, &b.sample_timer);
	uv_timer_init(b.loop, &b.hard_timer);
	b.stop_timer.data = b.sample_timer.data = b.hard_timer.data = &b;

	int rc = 0;
	const char *status = "ok";
	bool needs_setup = b.o.scenario != SC_LOGIN && b.o.scenario != SC_APPEND;
	if (b.o.scenario == SC_IDLE || b.o.scenario == SC_STORE || b.o.scenario == SC_RESYNC ||
	    b.o.scenario == SC_MIXED || b.o.scenario == SC_FETCH || b.o.scenario == SC_SEARCH) {
		if (b.o.messages == 0 && b.o.scenario != SC_IDLE)
			b.o.messages = 1;
	}
	if (needs_setup && bench_setup(&b) < 0) {
		status = "setup-failed";
		rc = 1;
	} else if (needs_setup && b.n_uids == 0 && b.o.scenario != SC_IDLE) {
		snprintf(b.setup_error, sizeof(b.setup_error), "the folder holds no messages");
		status = "setup-failed";
		rc = 1;
	} else if (b.o.scenario == SC_RESYNC && !b.qresync_supported) {
		snprintf(b.setup_error, sizeof(b.setup_error), "the server does not advertise QRESYNC");
		status = "unsupported";
	} else {
		if (b.o.scenario == SC_IDLE) {
			procset_sample(&b.procs);
			b.idle_pss_before_kb = procset_pss_kb(&b.procs);
			uv_timer_start(&b.hard_timer, on_hard, (uint64_t)(b.o.duration_s * 1000) + 120000, 0);
		}
		if (workers_start(&b) < 0) {
			fprintf(stderr, "cpm-bench: out of memory\n");
			return 1;
		}
		if (b.o.scenario != SC_IDLE)
			begin_measuring(&b);
		uv_run(b.loop, UV_RUN_DEFAULT);
		if (b.t_end == 0)
			b.t_end = bench_now(&b);
		procset_sample(&b.procs);
		if (b.errors > 0 && b.ops == 0)
			status = "failed";
	}
	report(&b, status);

	workers_free(&b);
	uv_close((uv_handle_t *)&b.stop_timer, NULL);
	uv_close((uv_handle_t *)&b.sample_timer, NULL);
	uv_close((uv_handle_t *)&b.hard_timer, NULL);
	uv_run(b.loop, UV_RUN_DEFAULT);
	imapc_client_free(&b.cl);
	uv_loop_close(b.loop);
	procset_free(&b.procs);
	free(b.uids);
	free(b.push_sent_ns);
	return rc;
bad:
	fprintf(stderr, "cpm-bench: bad value for option %s: %s\n", argv[optind - 1], optarg ? optarg : "");
	return 2;
}
