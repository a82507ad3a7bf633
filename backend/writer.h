/*
 * writer: the shard's single writer thread and its group commit.
 *
 * Write jobs queue up from the loop thread (writer_submit). The writer takes
 * everything queued (at most WRITER_MAX_BATCH jobs or WRITER_MAX_BYTES of
 * message bodies), runs each in a nested transaction of ONE write
 * transaction (a failing job rolls back alone), commits that transaction
 * once — LMDB's synchronous commit, so it is on disk — and only then hands
 * the whole batch back to the loop thread (uv_async), which replies and
 * publishes the change events. Writes that arrive together share one sync:
 * that is where write throughput comes from. An RPC that changes data is
 * never answered before its commit is durable.
 */
#ifndef CPM_BACKEND_WRITER_H
#define CPM_BACKEND_WRITER_H

#include <uv.h>

#include "ops.h"

#define WRITER_MAX_BATCH 256
#define WRITER_MAX_BYTES (64u << 20)

struct writer;
struct writer_job;

/* Called on the loop thread for each finished job (in submission order). */
typedef void writer_done_cb(struct writer_job *job, void *ctx);

struct writer_job {
	const Cpm__Request *req;
	struct op_result res;   /* filled by the writer */
	void *data;             /* the caller's */
	struct writer_job *next;
};

struct writer *writer_start(uv_loop_t *loop, const struct op_ctx *ctx, writer_done_cb *cb, void *cbctx,
			    char *err, size_t errlen);
void writer_submit(struct writer *w, struct writer_job *job);
/* Finishes what is queued, joins the thread, closes the async handle. */
void writer_stop(struct writer **w);
/* Batches committed so far, and jobs in them (for logs and tests). */
void writer_stats(const struct writer *w, unsigned long *batches_r, unsigned long *jobs_r);

#endif
