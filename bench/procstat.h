/*
 * procstat: CPU time and memory of the server processes under test, read
 * from /proc (Linux). A procset is a list of roots: explicit pids (each with
 * all its descendants, so a front-end's workers or Dovecot's imap children
 * are included) and/or process names (/proc/PID/comm). procset_sample()
 * rescans /proc, so processes born during the run are counted; call it
 * periodically and once at the end.
 *
 * Per process: CPU seconds used between procset_begin() and the last sample
 * (utime + stime; a process born later counts from 0; one that exited before
 * the last sample keeps its last seen value), the peak of VmRSS over the
 * samples taken since procset_begin(), and PSS (smaps_rollup) at the last
 * procset_pss_kb().
 * procset_pss_kb() sums current PSS (memory per idle session).
 *
 * Blocking reads of /proc: this runs in the load generator's loop, briefly;
 * it never touches the server's. Returns: 0 / -1 (memory); no aborts.
 */
#ifndef CPM_BENCH_PROCSTAT_H
#define CPM_BENCH_PROCSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct proc_info {
	int pid;
	char name[32];
	double cpu_start_s; /* at begin (0 for processes born later) */
	double cpu_last_s;
	uint64_t peak_rss_kb;
	uint64_t peak_anon_kb; /* RssAnon: the process's own memory, without mapped files (page cache) */
	uint64_t pss_kb;
	bool alive;
};

struct procset {
	int *root_pids;
	size_t n_root_pids;
	char **names;
	size_t n_names;
	struct proc_info *procs;
	size_t n_procs, cap_procs;
	bool begun;
};

int procset_add_pid(struct procset *ps, int pid);
int procset_add_name(struct procset *ps, const char *name);
bool procset_empty(const struct procset *ps);
/* Rescan and read every matching process. */
int procset_sample(struct procset *ps);
/* Sample and mark the CPU baseline. */
int procset_begin(struct procset *ps);
/* Sum of PSS (kB) of the live processes, after a fresh sample. */
uint64_t procset_pss_kb(struct procset *ps);
void procset_free(struct procset *ps);

#endif
