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
#include "staging.h"
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
	struct staging *staging; /* streamed APPEND literals (staging.h) */
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
	struct staging_file **staged; /* an APPEND's staged bodies: consumed when it ends */
	size_t n_staged;
	struct staging_file *sf;      /* AppendBegin / AppendChunk: the entry worked on */
	int io_errno;                 /* its file operation's errno (0 = ok) */
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
	/* A commit consumes its staging files, whatever its outcome. */
	for (size_t i = 0; i < j->n_staged; i++)
		staging_release(s->staging, j->staged[i]);
	free(j->staged);
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

static void drop_bytes(ProtobufCBinaryData *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

/* stored_hash and staged_* are the back-end's own notes (a body file it
 * wrote, a staged body): a front-end's values are dropped before anything
 * runs. */
static void untrust_append(const Cpm__Request *req)
{
	Cpm__AppendReq *one[1];
	size_t n;
	Cpm__AppendReq **msgs = append_msgs(req, one, &n);
	for (size_t i = 0; i < n; i++) {
		drop_bytes(&msgs[i]->stored_hash);
		drop_bytes(&msgs[i]->staged_hash);
		if (msgs[i]->staged_path != protobuf_c_empty_string)
			free(msgs[i]->staged_path);
		msgs[i]->staged_path = NULL;
		msgs[i]->staged_size = 0;
	}
}

/* AppendCommit: every staging id the request names must be this user's
 * (sent by this request's actor),
 * filled to its size, and named once; they are then COMMITTING (no piece,
 * abort or expiry touches them) and belong to the job until it ends.
 * NULL, or the reason the request is refused (nothing is taken then). */
static const char *take_staged(struct job *j, const Cpm__Request *req)
{
	Cpm__AppendReq *one[1];
	size_t n, k = 0;
	Cpm__AppendReq **msgs = append_msgs(req, one, &n);
	for (size_t i = 0; i < n; i++)
		k += msgs[i]->staging_id != 0;
	if (k == 0)
		return NULL;
	if ((j->staged = calloc(k, sizeof(*j->staged))) == NULL)
		return "out of memory";
	const char *why = NULL;
	for (size_t i = 0; i < n && why == NULL; i++) {
		if (msgs[i]->staging_id == 0)
			continue;
		struct staging_file *f = staging_get(j->s->staging, msgs[i]->staging_id, msgs[i]->user, req->actor);
		if (f == NULL)
			why = "staged message unknown (expired or aborted)";
		else if (f->state != STAGING_OPEN || f->busy || f->dropped)
			why = "staged message busy";
		else if (f->open_size ? f->filled == 0 : f->filled != f->size)
			why = "staged message incomplete";
		else if ((msgs[i]->staged_path = strdup(f->path)) == NULL)
			why = "out of memory";
		if (why != NULL)
			break;
		if (f->open_size) /* what was sent is the message */
			f->size = f->filled;
		msgs[i]->staged_size = f->size;
		f->state = STAGING_COMMITTING;
		j->staged[j->n_staged++] = f;
	}
	if (why != NULL) {
		for (size_t i = 0; i < j->n_staged; i++)
			j->staged[i]->state = STAGING_OPEN;
		j->n_staged = 0;
		free(j->staged);
		j->staged = NULL;
	}
	return why;
}

/* The commit step of a staged body (thread pool): fsync, SHA-256, MIME
 * tree, and the content-addressed file made a link of the staging file
 * (staging.h), before the writer references it. */
static void seal_staged(struct db *db, Cpm__AppendReq *m)
{
	unsigned char *hash = malloc(32);
	unsigned char *tree = NULL;
	size_t tree_len = 0;
	bool link_file = db->blob_file_threshold == 0 || m->staged_size > db->blob_file_threshold;
	if (hash == NULL ||
	    staging_file_seal(m->staged_path, m->staged_size, db->path, link_file, hash, &tree, &tree_len) < 0) {
		log_error("event=staging_seal_failed err=%s", log_quote(strerror(errno), strlen(strerror(errno))));
		free(hash);
		return; /* the writer refuses the message: staged_hash is empty */
	}
	m->staged_hash.data = hash;
	m->staged_hash.len = 32;
	m->tree.data = tree;
	m->tree.len = tree_len;
	if (link_file && (m->stored_hash.data = malloc(32)) != NULL) {
		memcpy(m->stored_hash.data, hash, 32); /* removed after the commit unless referenced */
		m->stored_hash.len = 32;
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
		if (msgs[i]->staging_id != 0) {
			if (msgs[i]->staged_path != NULL)
				seal_staged(j->s->db, msgs[i]);
			continue;
		}
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

/* ---- AppendBegin / AppendChunk / AppendAbort (staging.h) ------------------ */

static Cpm__Response *ok_response(struct op_result *res)
{
	if (res->resp == NULL && (res->resp = malloc(sizeof(*res->resp))) != NULL)
		cpm__response__init(res->resp);
	return res->resp;
}

/* AppendBegin: the checks in a read transaction, then the empty file. */
static void begin_work(uv_work_t *w)
{
	struct job *j = w->data;
	read_work(w);
	struct op_result *res = &j->wj.res;
	if (res->resp != NULL && res->resp->status == CPM__STATUS__OK && staging_file_create(j->sf->path) < 0)
		j->io_errno = errno ? errno : EIO;
}

static void begin_after(uv_work_t *w, int status)
{
	struct job *j = w->data;
	struct server *s = j->s;
	struct op_result *res = &j->wj.res;
	struct staging_file *f = j->sf;
	bool live = staging_work_done(s->staging, f);
	bool ok = status == 0 && res->resp != NULL && res->resp->status == CPM__STATUS__OK &&
		  res->resp->result_case == CPM__RESPONSE__RESULT_APPEND_BEGIN && j->io_errno == 0 && live;
	if (ok) {
		f->state = STAGING_OPEN;
		res->resp->append_begin->staging_id = f->id;
		log_info("event=append_staging_begin user=%s id=%016llx size=%llu", log_quote(f->user, strlen(f->user)),
			 (unsigned long long)f->id, (unsigned long long)f->size);
	} else {
		if (j->io_errno != 0) {
			log_error("event=staging_create_failed err=%s",
				  log_quote(strerror(j->io_errno), strlen(strerror(j->io_errno))));
			op_result_error(res, CPM__STATUS__INTERNAL, "cannot create the staging file");
		} else if (res->resp == NULL || res->resp->status == CPM__STATUS__OK) {
			op_result_error(res, CPM__STATUS__INTERNAL, "cancelled");
		}
		if (live)
			staging_drop(s->staging, f);
	}
	finish(j, true);
}

static void chunk_work(uv_work_t *w)
{
	struct job *j = w->data;
	const Cpm__AppendChunkReq *q = j->wj.req->append_chunk;
	if (staging_file_write(j->sf->path, q->offset, q->data.data, q->data.len) < 0)
		j->io_errno = errno ? errno : EIO;
}

static void chunk_reply(struct job *j, uint64_t filled)
{
	Cpm__Response *resp = ok_response(&j->wj.res);
	Cpm__AppendChunkResp *r = resp != NULL ? malloc(sizeof(*r)) : NULL;
	if (r != NULL) {
		cpm__append_chunk_resp__init(r);
		r->filled = filled;
		resp->result_case = CPM__RESPONSE__RESULT_APPEND_CHUNK;
		resp->append_chunk = r;
	}
	finish(j, true);
}

static void chunk_after(uv_work_t *w, int status)
{
	struct job *j = w->data;
	struct staging_file *f = j->sf;
	const Cpm__AppendChunkReq *q = j->wj.req->append_chunk;
	if (!staging_work_done(j->s->staging, f)) {
		op_result_error(&j->wj.res, CPM__STATUS__NOTFOUND, "staged message aborted");
		finish(j, true);
		return;
	}
	if (status != 0 || j->io_errno != 0) {
		const char *e = strerror(j->io_errno ? j->io_errno : EIO);
		log_error("event=staging_write_failed err=%s", log_quote(e, strlen(e)));
		staging_drop(j->s->staging, f);
		op_result_error(&j->wj.res, CPM__STATUS__INTERNAL, "cannot write the staging file");
		finish(j, true);
		return;
	}
	if (q->offset + q->data.len > f->filled)
		f->filled = q->offset + q->data.len;
	chunk_reply(j, f->filled);
}

/* Runs AppendBegin / AppendChunk / AppendAbort; false for other requests. */
static bool staging_request(struct job *j, const Cpm__Request *req)
{
	struct server *s = j->s;
	struct op_result *res = &j->wj.res;
	if (req->op_case == CPM__REQUEST__OP_APPEND_BEGIN) {
		const Cpm__AppendBeginReq *q = req->append_begin;
		const char *why = NULL;
		/* open_size: up to the message limit, the commit takes what came */
		uint64_t size = q->open_size ? s->cfg->max_literal : q->size;
		if (q->user == NULL || q->user[0] == '\0' || size == 0 || q->size > s->cfg->max_literal ||
		    (q->open_size && q->size != 0))
			why = q->size > s->cfg->max_literal ? "message too large" : "invalid request";
		else if ((j->sf = staging_add(s->staging, q->user, req->actor, size, &why)) != NULL) {
			j->sf->open_size = q->open_size;
			j->work.data = j;
			if (uv_queue_work(s->loop, &j->work, begin_work, begin_after) == 0)
				return true;
			staging_work_done(s->staging, j->sf);
			staging_drop(s->staging, j->sf);
			why = "cannot queue";
		}
		op_result_error(res, CPM__STATUS__INVALID, why);
		finish(j, false);
		return true;
	}
	if (req->op_case == CPM__REQUEST__OP_APPEND_CHUNK) {
		const Cpm__AppendChunkReq *q = req->append_chunk;
		struct staging_file *f =
			q->user != NULL ? staging_get(s->staging, q->staging_id, q->user, req->actor) : NULL;
		const char *why = NULL;
		Cpm__Status st = CPM__STATUS__INVALID;
		if (f == NULL || f->dropped) {
			why = "staged message unknown (expired or aborted)";
			st = CPM__STATUS__NOTFOUND;
		} else if (f->state != STAGING_OPEN || f->busy) {
			why = "staged message busy";
		} else if (q->offset > f->filled) {
			why = "piece leaves a gap";
		} else if (q->data.len > f->size || q->offset > f->size - q->data.len) {
			why = "piece beyond the announced size";
		}
		if (why != NULL) {
			op_result_error(res, st, why);
			finish(j, false);
			return true;
		}
		f->last_ms = clock_unix_ms();
		if (q->offset + q->data.len <= f->filled) {
			chunk_reply(j, f->filled); /* written already: a resent piece */
			return true;
		}
		j->sf = f;
		f->busy = true;
		j->work.data = j;
		if (uv_queue_work(s->loop, &j->work, chunk_work, chunk_after) != 0) {
			f->busy = false;
			op_result_error(res, CPM__STATUS__INTERNAL, "cannot queue");
			finish(j, false);
		}
		return true;
	}
	if (req->op_case == CPM__REQUEST__OP_APPEND_ABORT) {
		const Cpm__AppendAbortReq *q = req->append_abort;
		struct staging_file *f =
			q->user != NULL ? staging_get(s->staging, q->staging_id, q->user, req->actor) : NULL;
		if (f != NULL) {
			log_info("event=append_staging_abort user=%s id=%016llx filled=%llu size=%llu",
				 log_quote(f->user, strlen(f->user)), (unsigned long long)f->id,
				 (unsigned long long)f->filled, (unsigned long long)f->size);
			staging_drop(s->staging, f);
		}
		ok_response(res);
		finish(j, false);
		return true;
	}
	return false;
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
	if (staging_request(j, req))
		return;
	if (req->op_case == CPM__REQUEST__OP_APPEND || req->op_case == CPM__REQUEST__OP_MULTI_APPEND) {
		untrust_append(req);
		const char *why = take_staged(j, req);
		if (why != NULL) {
			op_result_error(&j->wj.res, CPM__STATUS__INVALID, why);
			finish(j, false);
			return;
		}
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
	size_t staged_removed = 0;
	if (staging_sweep(shard->data_dir, &staged_removed) < 0)
		log_error("event=staging_sweep_failed shard=%s err=%s", shard->id,
			  log_quote(strerror(errno), strlen(strerror(errno))));
	else if (staged_removed > 0)
		log_info("event=staging_sweep shard=%s removed=%zu", shard->id, staged_removed);
	s->staging = staging_new(loop, shard->data_dir, cfg->append_staging_max,
				 (uint64_t)cfg->append_staging_idle_s * 1000);
	if (s->staging == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
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
	staging_close(s->staging);
	staging_free(&s->staging);
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
	staging_close(s->staging);
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
	staging_free(&s->staging);
	db_close(&s->db);
	free(s);
}
