/*
 * staging: large APPEND literals streamed to the shard, as staging files
 *
 *     data_dir/blobs/staging/<16 hex digits: the staging id>
 *
 * (proto/cpm.proto AppendBegin / AppendChunk / AppendAbort; the commit is
 * an AppendReq naming the id.) The front-end never holds such a literal
 * whole, and neither does this process: pieces are written with pwrite as
 * they come, and the commit step reads the file in windows.
 *
 * Two halves:
 *  - The registry (struct staging) lives on the loop thread: which ids
 *    exist, whose they are, how far each is filled, and the bounds (files
 *    per user, files per shard, the idle deadline). Its timer removes a
 *    file that has seen no piece for idle_ms (a client that went away
 *    without an AppendAbort reaching us).
 *  - The file functions (staging_file_*) do blocking I/O: call them on the
 *    thread pool only, never on the loop. They return 0, or -1 with errno.
 *
 * An entry is never freed while work on it is queued: `busy` (a piece being
 * written) and STAGING_COMMITTING (its commit running) keep it; an abort or
 * expiry meanwhile only marks it `dropped`, and whoever ends the work calls
 * staging_work_done / staging_release, which removes it then. Removing
 * unlinks the file with uv_fs_unlink (the thread pool). Every staging file
 * is an orphan at start-up (the registry is in memory): staging_sweep
 * removes them all before the shard serves.
 */
#ifndef CPM_BACKEND_STAGING_H
#define CPM_BACKEND_STAGING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define STAGING_MAX_TOTAL 256 /* staging files per shard at once */
#define STAGING_PATH_MAX 4096

enum staging_state {
	STAGING_CREATING,   /* AppendBegin: its file is being created */
	STAGING_OPEN,       /* takes pieces */
	STAGING_COMMITTING, /* an AppendReq naming it runs */
};

struct staging_file {
	uint64_t id;
	char *user;      /* whose folder it goes to (its slots are counted per user) */
	char *actor;     /* who sends it (Request.actor, "" for a trusted caller): only they
			    may add pieces, abort or commit it */
	uint64_t size;   /* declared (open_size: the most it may take) */
	bool open_size;  /* size unknown up front: the commit takes filled */
	uint64_t filled; /* bytes written from offset 0 on */
	uint64_t last_ms;
	enum staging_state state;
	bool busy;    /* a piece is being written */
	bool dropped; /* abort or expiry came while busy / committing */
	char path[STAGING_PATH_MAX];
	struct staging_file *next;
};

struct staging;

/* The registry; its idle timer runs on loop. NULL when out of memory. */
struct staging *staging_new(uv_loop_t *loop, const char *data_dir, unsigned per_user, uint64_t idle_ms);
/* Stops the timer (before the loop ends); entries stay until staging_free. */
void staging_close(struct staging *st);
/* Frees the registry (after the loop ended); files are left to the sweep. */
void staging_free(struct staging **st);

/* A new entry of user, sent by actor, for size bytes, STAGING_CREATING.
 * NULL with *why_r (a reason for the client) when a bound is reached or
 * out of memory. */
struct staging_file *staging_add(struct staging *st, const char *user, const char *actor, uint64_t size,
				 const char **why_r);
/* The entry id of user sent by actor (NULL user: any entry), or NULL. */
struct staging_file *staging_get(struct staging *st, uint64_t id, const char *user, const char *actor);
/* Removes f (unlinking its file), or marks it dropped when work on it runs. */
void staging_drop(struct staging *st, struct staging_file *f);
/* A piece or the creation finished: clears busy, touches last_ms, and
 * removes f if it was dropped meanwhile (then returns false). */
bool staging_work_done(struct staging *st, struct staging_file *f);
/* A commit that consumed f ended (whatever its outcome): removes f. */
void staging_release(struct staging *st, struct staging_file *f);
/* Entries now (tests, logs). */
size_t staging_count(const struct staging *st);

/* ---- thread pool only ---------------------------------------------------- */
/* Start-up: creates data_dir/blobs/staging and removes every file in it. */
int staging_sweep(const char *data_dir, size_t *removed_r);
/* Creates the empty file (exclusive). */
int staging_file_create(const char *path);
/* Writes n bytes at off. */
int staging_file_write(const char *path, uint64_t off, const void *p, size_t n);
/* Commit step: checks the file has size bytes, fsyncs it, computes its
 * SHA-256 (hash_r) and its MIME tree (*tree_r, malloc'd, NULL when it could
 * not be made) from a read-only mapping whose pages are released as the
 * parse moves on (resident memory stays small), and, when link_file, makes
 * it the content-addressed file of its hash (blobfile_link). */
int staging_file_seal(const char *path, uint64_t size, const char *data_dir, bool link_file, unsigned char hash_r[32],
		      unsigned char **tree_r, size_t *tree_len_r);

#endif
