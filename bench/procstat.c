/*
 * procstat: see procstat.h. One scan of /proc reads every process's stat
 * line (pid, comm, ppid, CPU ticks), keeps those that are roots, children of
 * roots (walking the parent chain) or named, then reads status (VmRSS,
 * VmHWM) and, when asked, smaps_rollup (Pss) of the kept ones.
 */
#include "procstat.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pstat {
	int pid, ppid;
	char comm[32];
	double cpu_s;
};

int procset_add_pid(struct procset *ps, int pid)
{
	int *n = realloc(ps->root_pids, (ps->n_root_pids + 1) * sizeof(*n));
	if (n == NULL)
		return -1;
	ps->root_pids = n;
	n[ps->n_root_pids++] = pid;
	return 0;
}

int procset_add_name(struct procset *ps, const char *name)
{
	char **n = realloc(ps->names, (ps->n_names + 1) * sizeof(*n));
	if (n == NULL)
		return -1;
	ps->names = n;
	if ((n[ps->n_names] = strdup(name)) == NULL)
		return -1;
	ps->n_names++;
	return 0;
}

bool procset_empty(const struct procset *ps)
{
	return ps->n_root_pids == 0 && ps->n_names == 0;
}

static int read_stat(int pid, struct pstat *st)
{
	char path[64], line[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	size_t n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	char *lp = strchr(line, '('), *rp = strrchr(line, ')');
	if (lp == NULL || rp == NULL || rp < lp)
		return -1;
	size_t cl = (size_t)(rp - lp - 1);
	if (cl >= sizeof(st->comm))
		cl = sizeof(st->comm) - 1;
	memcpy(st->comm, lp + 1, cl);
	st->comm[cl] = '\0';
	/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	char state;
	int ppid;
	unsigned long long fl[11];
	if (sscanf(rp + 1, " %c %d %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &state, &ppid, &fl[0], &fl[1],
		   &fl[2], &fl[3], &fl[4], &fl[5], &fl[6], &fl[7], &fl[8], &fl[9], &fl[10]) != 13)
		return -1;
	st->pid = pid;
	st->ppid = ppid;
	st->cpu_s = (double)(fl[9] + fl[10]) / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

static uint64_t status_kb(int pid, const char *file, const char *key)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	size_t kl = strlen(key);
	uint64_t v = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, kl) == 0) {
			v = strtoull(line + kl, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

static int cmp_pid(const void *a, const void *b)
{
	const struct pstat *x = a, *y = b;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

static const struct pstat *find(const struct pstat *all, size_t n, int pid)
{
	struct pstat key = {.pid = pid};
	return bsearch(&key, all, n, sizeof(*all), cmp_pid);
}

static bool is_root(const struct procset *ps, int pid)
{
	for (size_t i = 0; i < ps->n_root_pids; i++)
		if (ps->root_pids[i] == pid)
			return true;
	return false;
}

static bool wanted(const struct procset *ps, const struct pstat *all, size_t n, const struct pstat *p)
{
	for (size_t i = 0; i < ps->n_names; i++)
		if (strcmp(p->comm, ps->names[i]) == 0)
			return true;
	for (int depth = 0; p != NULL && depth < 64; depth++) {
		if (is_root(ps, p->pid))
			return true;
		if (p->ppid <= 1)
			break;
		p = find(all, n, p->ppid);
	}
	return false;
}

static struct proc_info *info_for(struct procset *ps, int pid)
{
	for (size_t i = 0; i < ps->n_procs; i++)
		if (ps->procs[i].pid == pid)
			return &ps->procs[i];
	if (ps->n_procs == ps->cap_procs) {
		size_t cap = ps->cap_procs ? ps->cap_procs * 2 : 16;
		struct proc_info *n = realloc(ps->procs, cap * sizeof(*n));
		if (n == NULL)
			return NULL;
		ps->procs = n;
		ps->cap_procs = cap;
	}
	struct proc_info *pi = &ps->procs[ps->n_procs++];
	memset(pi, 0, sizeof(*pi));
	pi->pid = pid;
	return pi;
}

static int sample(struct procset *ps, bool pss)
{
	DIR *d = opendir("/proc");
	if (d == NULL)
		return -1;
	struct pstat *all = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 512;
			struct pstat *na = realloc(all, cap * sizeof(*na));
			if (na == NULL) {
				free(all);
				closedir(d);
				return -1;
			}
			all = na;
		}
		if (read_stat(atoi(e->d_name), &all[n]) == 0)
			n++;
	}
	closedir(d);
	qsort(all, n, sizeof(*all), cmp_pid);
	for (size_t i = 0; i < ps->n_procs; i++)
		ps->procs[i].alive = false;
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (!wanted(ps, all, n, &all[i]))
			continue;
		struct proc_info *pi = info_for(ps, all[i].pid);
		if (pi == NULL) {
			rc = -1;
			break;
		}
		snprintf(pi->name, sizeof(pi->name), "%s", all[i].comm);
		pi->alive = true;
		pi->cpu_last_s = all[i].cpu_s;
		if (!ps->begun)
			pi->cpu_start_s = all[i].cpu_s;
		uint64_t rss = status_kb(pi->pid, "status", "VmRSS:");
		if (rss > pi->peak_rss_kb)
			pi->peak_rss_kb = rss;
		uint64_t anon = status_kb(pi->pid, "status", "RssAnon:");
		if (anon > pi->peak_anon_kb)
			pi->peak_anon_kb = anon;
		if (pss)
			pi->pss_kb = status_kb(pi->pid, "smaps_rollup", "Pss:");
	}
	free(all);
	return rc;
}

int procset_sample(struct procset *ps)
{
	return sample(ps, false);
}

int procset_begin(struct procset *ps)
{
	ps->begun = false;
	int r = sample(ps, false);
	for (size_t i = 0; i < ps->n_procs; i++)
		ps->procs[i].peak_rss_kb = ps->procs[i].peak_anon_kb = 0;
	ps->begun = true;
	return r;
}

uint64_t procset_pss_kb(struct procset *ps)
{
	sample(ps, true);
	uint64_t sum = 0;
	for (size_t i = 0; i < ps->n_procs; i++)
		if (ps->procs[i].alive)
			sum += ps->procs[i].pss_kb;
	return sum;
}

void procset_free(struct procset *ps)
{
	for (size_t i = 0; i < ps->n_names; i++)
		free(ps->names[i]);
	free(ps->names);
	free(ps->root_pids);
	free(ps->procs);
	memset(ps, 0, sizeof(*ps));
}
