/* writer: group-commit writer thread. See writer.h for the contract. */
#include "writer.h"

#include "clock.h"
#include "log.h"
#include "outlog.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct writer {
	uv_loop_t *loop;
	struct op_ctx ctx;
	writer_done_cb *cb;
	void *cbctx;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct writer_job *q_head, *q_tail;       /* submitted */
	struct writer_job *done_head, *done_tail; /* committed, to answer */
	bool stop;
	uv_async_t async;
	unsigned long batches, jobs;
};

static size_t job_bytes(const struct writer_job *j)
{
	size_t n = 0;
	if (j->req->op_case == CPM__REQUEST__OP_APPEND)
		n = j->req->append->body.len;
	else if (j->req->op_case == CPM__REQUEST__OP_MULTI_APPEND)
		for (size_t i = 0; i < j->req->multi_append->n_messages; i++)
			n += j->req->multi_append->messages[i]->body.len;
	return n;
}

/* Notification-log retention, a bounded step per batch, in its own nested
 * transaction: a failing prune is logged and retried with the next batch. */
static void prune_step(struct writer *w, MDB_txn *parent, uint64_t now)
{
	MDB_txn *child = NULL;
	size_t n = 0;
	if (parent == NULL || mdb_txn_begin(w->ctx.db->env, parent, 0, &child) != 0)
		return;
	if (outlog_prune(w->ctx.db, child, w->ctx.cfg, now, OUTLOG_PRUNE_STEP, &n) == DB_OK && n > 0)
		mdb_txn_commit(child);
	else
		mdb_txn_abort(child);
}

static void run_batch(struct writer *w, struct writer_job *batch)
{
	MDB_txn *parent = NULL;
	int rc = mdb_txn_begin(w->ctx.db->env, NULL, 0, &parent);
	uint64_t now = clock_unix_ms();
	for (struct writer_job *j = batch; j != NULL; j = j->next) {
		MDB_txn *child = NULL;
		/* Nobody waits for a write whose deadline passed: the caller has
		 * answered NO [UNAVAILABLE] and may retry. Applying it now could
		 * apply it twice, so it is not applied. */
		if (j->req->deadline_ms != 0 && j->req->deadline_ms < now) {
			op_result_error(&j->res, CPM__STATUS__UNAVAILABLE, "deadline passed before the write ran");
			continue;
		}
		if (rc == 0 && mdb_txn_begin(w->ctx.db->env, parent, 0, &child) == 0) {
			op_run(&w->ctx, child, j->req, &j->res);
			/* The change's notification-log entries share its transaction. */
			if (j->res.resp != NULL && j->res.resp->status == CPM__STATUS__OK &&
			    (j->res.events_lost || outlog_append(w->ctx.db, child, &j->res, now) != DB_OK))
				op_fail(&j->res, CPM__STATUS__INTERNAL, "storage error: notification log");
			if (j->res.resp != NULL && j->res.resp->status == CPM__STATUS__OK) {
				if (mdb_txn_commit(child) != 0)
					op_fail(&j->res, CPM__STATUS__INTERNAL, "storage error");
			} else {
				mdb_txn_abort(child);
			}
		} else {
			op_result_error(&j->res, CPM__STATUS__INTERNAL, "storage error: cannot begin transaction");
		}
	}
	if (rc == 0)
		prune_step(w, parent, now);
	int crc = rc == 0 ? mdb_txn_commit(parent) : rc;
	db_blob_after_commit(w->ctx.db); /* body files whose last reference this dropped */
	if (crc != 0) {
		enum db_status st = db_from_mdb(crc, "group_commit");
		for (struct writer_job *j = batch; j != NULL; j = j->next) {
			if (j->res.resp == NULL)
				continue;
			for (size_t i = 0; i < j->res.n_events; i++)
				cpm__feed_event__free_unpacked(j->res.events[i], NULL);
			j->res.n_events = 0;
			if (j->res.resp->status == CPM__STATUS__OK)
				op_fail_db(&j->res, st, "commit");
		}
	}
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->q_head == NULL && !w->stop)
			pthread_cond_wait(&w->cond, &w->mu);
		if (w->q_head == NULL && w->stop)
			break;
		/* Take a bounded batch. */
		struct writer_job *batch = w->q_head, *last = w->q_head;
		size_t n = 1, bytes = job_bytes(last);
		while (last->next != NULL && n < WRITER_MAX_BATCH && bytes + job_bytes(last->next) <= WRITER_MAX_BYTES) {
			last = last->next;
			bytes += job_bytes(last);
			n++;
		}
		w->q_head = last->next;
		if (w->q_head == NULL)
			w->q_tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&w->mu);

		run_batch(w, batch);

		pthread_mutex_lock(&w->mu);
		w->batches++;
		w->jobs += n;
		if (w->done_tail != NULL)
			w->done_tail->next = batch;
		else
			w->done_head = batch;
		w->done_tail = last;
		uv_async_send(&w->async);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void on_async(uv_async_t *h)
{
	struct writer *w = h->data;
	pthread_mutex_lock(&w->mu);
	struct writer_job *j = w->done_head;
	w->done_head = w->done_tail = NULL;
	pthread_mutex_unlock(&w->mu);
	while (j != NULL) {
		struct writer_job *next = j->next;
		j->next = NULL;
		w->cb(j, w->cbctx);
		j = next;
	}
}

static void on_async_closed(uv_handle_t *h);

struct writer *writer_start(uv_loop_t *loop, const struct op_ctx *ctx, writer_done_cb *cb, void *cbctx,
			    char *err, size_t errlen)
{
	struct writer *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->loop = loop;
	w->ctx = *ctx;
	w->cb = cb;
	w->cbctx = cbctx;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cond, NULL);
	uv_async_init(loop, &w->async, on_async);
	w->async.data = w;
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		snprintf(err, errlen, "cannot start the writer thread");
		uv_close((uv_handle_t *)&w->async, on_async_closed);
		return NULL;
	}
	return w;
}

void writer_submit(struct writer *w, struct writer_job *job)
{
	job->next = NULL;
	memset(&job->res, 0, sizeof(job->res));
	pthread_mutex_lock(&w->mu);
	if (w->q_tail != NULL)
		w->q_tail->next = job;
	else
		w->q_head = job;
	w->q_tail = job;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

static void on_async_closed(uv_handle_t *h)
{
	struct writer *w = h->data;
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cond);
	free(w);
}

void writer_stop(struct writer **wp)
{
	struct writer *w = *wp;
	if (w == NULL)
		return;
	*wp = NULL;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	on_async(&w->async); /* answer what the last batch committed */
	uv_close((uv_handle_t *)&w->async, on_async_closed);
}

void writer_stats(const struct writer *w, unsigned long *batches_r, unsigned long *jobs_r)
{
	*batches_r = w->batches;
	*jobs_r = w->jobs;
}
