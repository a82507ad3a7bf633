/* server: request dispatch of a shard. See server.h. */
#include "server.h"

#include "blobfile.h"
#include "clock.h"
#include "db.h"
#include "feed.h"
#include "log.h"
#include "mime-parse.h"
#include "ops.h"
#include "outlog.h"
#include "rpc-server.h"
#include "writer.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct server {
	uv_loop_t *loop;
	const struct cpm_config *cfg;
	const struct cfg_shard *shard;
	struct db *db;
	struct op_ctx ctx;      /* the writer's (copied by writer_start) */
	struct op_ctx read_ctx; /* reads on the thread pool: FETCH bodies borrowed from the map */
	struct rpc_server *rpc;
	struct feed *feed;
	struct writer *writer;
	unsigned long outstanding;
	bool stopping;
	uv_timer_t drain;
};

struct job {
	struct server *s;
	struct rpc_incoming *in;
	uv_work_t work;
	struct writer_job wj; /* req + result, used by reads too */
	unsigned char *sealed; /* a read's answer packed on the thread pool (borrowed bodies) */
	size_t sealed_len;
};

static void finish(struct job *j, bool remember)
{
	struct server *s = j->s;
	struct op_result *res = &j->wj.res;
	if (j->sealed != NULL && res->resp != NULL) {
		rpc_server_reply_sealed(s->rpc, &j->in, j->sealed, j->sealed_len, false);
		j->sealed = NULL;
	} else if (res->borrowed) {
		/* Its bodies were the read transaction's; it could not be packed in time. */
		rpc_server_reply_status(s->rpc, &j->in, CPM__STATUS__INTERNAL, "out of memory");
	} else if (res->resp != NULL) {
		rpc_server_reply(s->rpc, &j->in, res->resp, remember && res->resp->status == CPM__STATUS__OK);
		for (size_t i = 0; i < res->n_events; i++) {
			res->events[i]->shard = strdup(s->shard->id);
			feed_publish(s->feed, res->events[i]);
			/* Outband subscribers: once per user per operation. */
			if (res->resp->status == CPM__STATUS__OK &&
			    (i == 0 || strcmp(res->events[i]->user, res->events[i - 1]->user) != 0))
				feed_publish_user(s->feed, res->events[i]);
		}
	} else {
		rpc_server_reply_status(s->rpc, &j->in, CPM__STATUS__INTERNAL, "out of memory");
	}
	op_result_clear(res);
	free(j);
	s->outstanding--;
}

static void read_work(uv_work_t *w)
{
	struct job *j = w->data;
	MDB_txn *t = NULL;
	int rc = mdb_txn_begin(j->s->db->env, NULL, MDB_RDONLY, &t);
	if (rc != 0) {
		db_from_mdb(rc, "read_txn");
		op_result_error(&j->wj.res, CPM__STATUS__INTERNAL, "storage error: cannot begin transaction");
		return;
	}
	op_run(&j->s->read_ctx, t, j->wj.req, &j->wj.res);
	/* Bodies borrowed from the map are packed before the transaction ends
	 * (one copy, straight into the envelope, off the loop). */
	if (j->wj.res.borrowed && j->wj.res.resp != NULL)
		j->sealed = rpc_server_seal(j->s->rpc, j->in, j->wj.res.resp, &j->sealed_len);
	mdb_txn_abort(t);
	db_blob_thread_release(); /* body files mapped by this read (SEARCH, SORT, PREVIEW) */
}

static void read_after(uv_work_t *w, int status)
{
	struct job *j = w->data;
	if (status != 0 && j->wj.res.resp == NULL)
		op_result_error(&j->wj.res, CPM__STATUS__INTERNAL, "cancelled");
	finish(j, false);
}

/* The messages of an APPEND or MULTIAPPEND request (n_r = 0 for others). */
static Cpm__AppendReq **append_msgs(const Cpm__Request *req, Cpm__AppendReq *one[1], size_t *n_r)
{
	*n_r = 0;
	if (req->op_case == CPM__REQUEST__OP_APPEND) {
		one[0] = req->append;
		*n_r = 1;
		return one;
	}
	if (req->op_case == CPM__REQUEST__OP_MULTI_APPEND) {
		*n_r = req->multi_append->n_messages;
		return req->multi_append->messages;
	}
	return one;
}

/* stored_hash is the back-end's own note (a body file it wrote): a
 * front-end's value is dropped before anything runs. */
static void untrust_append(const Cpm__Request *req)
{
	Cpm__AppendReq *one[1];
	size_t n;
	Cpm__AppendReq **msgs = append_msgs(req, one, &n);
	for (size_t i = 0; i < n; i++) {
		free(msgs[i]->stored_hash.data);
		msgs[i]->stored_hash.data = NULL;
		msgs[i]->stored_hash.len = 0;
	}
}

/* A body above the threshold: its file, before the write that refers to it
 * (the writer then only checks it is there). On failure the writer tries. */
static void write_body_file(struct db *db, Cpm__AppendReq *m)
{
	if (db->blob_file_threshold == 0 || m->body.len <= db->blob_file_threshold)
		return;
	unsigned char *hash = malloc(32);
	unsigned int hl = 32;
	if (hash == NULL || EVP_Digest(m->body.data, m->body.len, hash, &hl, EVP_sha256(), NULL) != 1) {
		free(hash);
		return;
	}
	if (blobfile_write(db->path, hash, m->body.data, m->body.len) < 0) {
		log_error("event=blob_file_write_failed err=%s", log_quote(strerror(errno), strlen(strerror(errno))));
		free(hash);
		return;
	}
	m->stored_hash.data = hash;
	m->stored_hash.len = 32;
}

/* APPEND: parse each message's MIME structure, and write a large body to
 * its file (fsync'ed, blobfile.h), on the thread pool, so the single writer
 * only stores references (the group commit stays short). */
static void parse_work(uv_work_t *w)
{
	struct job *j = w->data;
	Cpm__Request *req = (Cpm__Request *)j->wj.req; /* owned by the incoming; ours until the reply */
	Cpm__AppendReq *one[1];
	size_t n;
	Cpm__AppendReq **msgs = append_msgs(req, one, &n);
	for (size_t i = 0; i < n; i++) {
		struct mime_tree *tree = NULL;
		struct buf ser = {0};
		free(msgs[i]->tree.data); /* a front-end's value is never trusted */
		msgs[i]->tree.data = NULL;
		msgs[i]->tree.len = 0;
		if (mime_parse(msgs[i]->body.data, msgs[i]->body.len, &tree) == 0 && mime_tree_serialize(tree, &ser) == 0)
			msgs[i]->tree.data = buf_steal(&ser, &msgs[i]->tree.len);
		mime_tree_free(&tree);
		buf_free(&ser);
		write_body_file(j->s->db, msgs[i]);
	}
}

static void parse_after(uv_work_t *w, int status)
{
	struct job *j = w->data;
	writer_submit(j->s->writer, &j->wj); /* without trees (status != 0) the writer parses */
}

static void write_done(struct writer_job *wj, void *ctx)
{
	finish(wj->data, true);
}

static void on_request(struct rpc_server *srv, struct rpc_incoming *in, const Cpm__Request *req, void *ctx)
{
	struct server *s = ctx;
	if (s->stopping) {
		rpc_server_reply_status(srv, &in, CPM__STATUS__UNAVAILABLE, "shard is stopping");
		return;
	}
	struct job *j = calloc(1, sizeof(*j));
	if (j == NULL) {
		rpc_server_reply_status(srv, &in, CPM__STATUS__INTERNAL, "out of memory");
		return;
	}
	j->s = s;
	j->in = in;
	j->wj.req = req;
	j->wj.data = j;
	s->outstanding++;
	if (req->op_case == CPM__REQUEST__OP_APPEND || req->op_case == CPM__REQUEST__OP_MULTI_APPEND) {
		untrust_append(req);
		j->work.data = j;
		if (uv_queue_work(s->loop, &j->work, parse_work, parse_after) == 0)
			return;
	}
	if (op_is_write(req)) {
		writer_submit(s->writer, &j->wj);
		return;
	}
	j->work.data = j;
	if (uv_queue_work(s->loop, &j->work, read_work, read_after) != 0) {
		op_result_error(&j->wj.res, CPM__STATUS__INTERNAL, "cannot queue");
		finish(j, false);
	}
}

struct server *server_start(uv_loop_t *loop, const struct cpm_config *cfg, const struct cfg_shard *shard, char *err,
			    size_t errlen)
{
	struct server *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->loop = loop;
	s->cfg = cfg;
	s->shard = shard;
	s->db = db_open(shard->data_dir, shard->map_size_mb, err, errlen);
	if (s->db == NULL)
		goto fail;
	s->db->blob_file_threshold = cfg->blob_file_threshold_kb << 10;
	if (db_blob_sweep(s->db) != DB_OK)
		log_error("event=blob_sweep_incomplete shard=%s", shard->id);
	s->ctx.db = s->db;
	s->ctx.cfg = cfg;
	s->ctx.shard_id = shard->id;
	s->ctx.started_ms = clock_unix_ms();
	uint64_t log_id;
	if (outlog_init(s->db, &log_id) != DB_OK) {
		snprintf(err, errlen, "cannot initialise the notification log");
		goto fail;
	}
	s->feed = feed_open(shard->feed, cfg->secret, cfg->secret_len, err, errlen);
	if (s->feed == NULL)
		goto fail;
	s->read_ctx = s->ctx;
	s->read_ctx.borrow_bodies = true; /* the writer keeps its own copy of ctx, without */
	s->writer = writer_start(loop, &s->ctx, write_done, s, err, errlen);
	if (s->writer == NULL)
		goto fail;
	s->rpc = rpc_server_new(loop, shard->rpc, cfg->secret, cfg->secret_len, on_request, s, err, errlen);
	if (s->rpc == NULL)
		goto fail;
	uv_timer_init(loop, &s->drain);
	s->drain.data = s;
	return s;
fail:
	writer_stop(&s->writer);
	feed_close(&s->feed);
	db_close(&s->db);
	free(s);
	return NULL;
}

static void on_drain(uv_timer_t *t)
{
	struct server *s = t->data;
	if (s->outstanding > 0)
		return;
	uv_timer_stop(&s->drain);
	uv_close((uv_handle_t *)&s->drain, NULL);
	writer_stop(&s->writer);
	rpc_server_close(&s->rpc);
	feed_close(&s->feed);
	log_info("event=stopped shard=%s", s->shard->id);
	uv_stop(s->loop);
}

void server_stop(struct server *s)
{
	if (s->stopping)
		return;
	s->stopping = true;
	log_info("event=stopping shard=%s outstanding=%lu", s->shard->id, s->outstanding);
	uv_timer_start(&s->drain, on_drain, 0, 10);
}

void server_free(struct server **sp)
{
	struct server *s = *sp;
	if (s == NULL)
		return;
	*sp = NULL;
	db_close(&s->db);
	free(s);
}
