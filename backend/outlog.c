/*
 * outlog: the durable notification log. See outlog.h for the layout.
 *
 * Written only by the writer thread: outlog_append inside each successful
 * operation's nested transaction (so the entry shares the change's fate),
 * outlog_prune once per group commit in its own nested transaction (a
 * failing prune never fails the batch). Readers (op-outband.c) see the log
 * through their read transaction's snapshot, where head and entries agree.
 */
#include "outlog.h"

#include "log.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

static enum db_status meta_get(MDB_txn *t, struct db *db, const char *name, uint64_t *v_r)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	int rc = mdb_get(t, db->meta, &k, &v);
	*v_r = 0;
	if (rc == MDB_NOTFOUND)
		return DB_OK;
	if (rc != 0)
		return db_from_mdb(rc, name);
	if (v.mv_size != 8)
		return DB_FAIL;
	*v_r = db_get_u64(v.mv_data);
	return DB_OK;
}

static enum db_status meta_put(MDB_txn *t, struct db *db, const char *name, uint64_t val)
{
	unsigned char b[8];
	db_key_u64(b, val);
	MDB_val k = {strlen(name), (void *)name}, v = {8, b};
	return db_from_mdb(mdb_put(t, db->meta, &k, &v, 0), name);
}

size_t outlog_key(unsigned char *out, const char *user, uint64_t seq)
{
	size_t ul = strlen(user);
	memcpy(out, user, ul);
	out[ul] = 0;
	db_key_u64(out + ul + 1, seq);
	return ul + 9;
}

enum db_status outlog_state(struct db *db, MDB_txn *t, struct outlog_state *st_r)
{
	enum db_status st = meta_get(t, db, "outlog_id", &st_r->log_id);
	if (st == DB_OK)
		st = meta_get(t, db, "outlog_seq", &st_r->head);
	if (st == DB_OK)
		st = meta_get(t, db, "outlog_pruned", &st_r->pruned);
	return st;
}

enum db_status outlog_init(struct db *db, uint64_t *log_id_r)
{
	MDB_txn *t = NULL;
	enum db_status st = db_from_mdb(mdb_txn_begin(db->env, NULL, 0, &t), "outlog_init");
	if (st != DB_OK)
		return st;
	uint64_t id = 0;
	st = meta_get(t, db, "outlog_id", &id);
	while (st == DB_OK && id == 0) {
		unsigned char r[8];
		if (RAND_bytes(r, sizeof(r)) != 1) {
			st = DB_FAIL;
			break;
		}
		id = db_get_u64(r);
		if (id != 0)
			st = meta_put(t, db, "outlog_id", id);
	}
	if (st == DB_OK)
		st = db_from_mdb(mdb_txn_commit(t), "outlog_init");
	else
		mdb_txn_abort(t);
	*log_id_r = id;
	return st;
}

/* One entry: outlog (user, seq) → rec, outseq seq → time user. */
static enum db_status put_entry(struct db *db, MDB_txn *t, const char *user, uint64_t seq, const Cpmdb__OutlogRec *rec)
{
	unsigned char key[DB_MAX_KEY + 1];
	size_t kl = outlog_key(key, user, seq);
	size_t n = cpmdb__outlog_rec__get_packed_size(rec);
	unsigned char *buf = malloc(n + 1);
	size_t ul = strlen(user);
	unsigned char *sv = malloc(8 + ul);
	if (buf == NULL || sv == NULL) {
		free(buf);
		free(sv);
		return DB_FAIL;
	}
	buf[0] = DB_RECORD_VERSION;
	cpmdb__outlog_rec__pack(rec, buf + 1);
	MDB_val k = {kl, key}, v = {n + 1, buf};
	int rc = mdb_put(t, db->outlog, &k, &v, 0);
	if (rc == 0) {
		unsigned char sk[8];
		db_key_u64(sk, seq);
		db_key_u64(sv, rec->time_ms);
		memcpy(sv + 8, user, ul);
		MDB_val k2 = {8, sk}, v2 = {8 + ul, sv};
		rc = mdb_put(t, db->outseq, &k2, &v2, MDB_APPEND);
	}
	free(buf);
	free(sv);
	return db_from_mdb(rc, "outlog_put");
}

enum db_status outlog_append(struct db *db, MDB_txn *t, const struct op_result *res, uint64_t now_ms)
{
	if (res->n_events == 0)
		return DB_OK;
	uint64_t head;
	enum db_status st = meta_get(t, db, "outlog_seq", &head);
	for (size_t i = 0; st == DB_OK && i < res->n_events; i++) {
		const Cpm__FeedEvent *e = res->events[i];
		size_t ul = e->user ? strlen(e->user) : 0;
		if (ul == 0 || ul + 9 > DB_MAX_KEY)
			continue; /* no user: nobody can subscribe to it */
		Cpmdb__OutlogRec rec = CPMDB__OUTLOG_REC__INIT;
		Cpmdb__FolderRec *f = NULL;
		rec.folder_id = e->folder_id;
		rec.folder_name = e->folder_name;
		rec.old_folder_name = e->old_folder_name;
		rec.uidvalidity = e->uidvalidity;
		rec.modseq = e->modseq;
		rec.kind = (uint32_t)e->kind;
		rec.time_ms = now_ms;
		/* Message events name their folder by id only: it exists now. */
		if ((rec.folder_name == NULL || rec.folder_name[0] == '\0') && e->folder_id != 0 &&
		    db_get_folder(t, db, e->folder_id, &f) == DB_OK) {
			rec.folder_name = f->name;
			rec.uidvalidity = f->uidvalidity;
		}
		size_t off = 0;
		do {
			size_t n = e->n_uids - off;
			if (n > OUTLOG_MAX_UIDS)
				n = OUTLOG_MAX_UIDS;
			rec.uids = e->uids + off;
			rec.n_uids = n;
			st = put_entry(db, t, e->user, ++head, &rec);
			off += n;
		} while (st == DB_OK && off < e->n_uids);
		if (f != NULL)
			cpmdb__folder_rec__free_unpacked(f, NULL);
	}
	if (st == DB_OK)
		st = meta_put(t, db, "outlog_seq", head);
	return st;
}

enum db_status outlog_prune(struct db *db, MDB_txn *t, const struct cpm_config *cfg, uint64_t now_ms,
			    size_t max_steps, size_t *pruned_r)
{
	*pruned_r = 0;
	if (cfg->outband_retention_s == 0 && cfg->outband_retention_max == 0)
		return DB_OK;
	MDB_stat ms;
	int rc = mdb_stat(t, db->outseq, &ms);
	if (rc != 0)
		return db_from_mdb(rc, "outseq_stat");
	size_t count = ms.ms_entries;
	uint64_t max_age_ms = cfg->outband_retention_s * 1000u, last = 0;
	MDB_cursor *c = NULL;
	rc = mdb_cursor_open(t, db->outseq, &c);
	while (rc == 0 && *pruned_r < max_steps) {
		MDB_val k, v;
		rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
		if (rc != 0)
			break;
		if (k.mv_size != 8 || v.mv_size < 9 || v.mv_size - 8 + 9 > DB_MAX_KEY) {
			log_error("event=db_corrupt what=outseq");
			rc = MDB_CORRUPTED;
			break;
		}
		uint64_t seq = db_get_u64(k.mv_data), when = db_get_u64(v.mv_data);
		bool too_old = max_age_ms != 0 && when + max_age_ms < now_ms;
		bool too_many = cfg->outband_retention_max != 0 && count > cfg->outband_retention_max;
		if (!too_old && !too_many)
			break;
		unsigned char key[DB_MAX_KEY + 1];
		size_t ul = v.mv_size - 8;
		memcpy(key, (const unsigned char *)v.mv_data + 8, ul);
		key[ul] = 0;
		db_key_u64(key + ul + 1, seq);
		MDB_val lk = {ul + 9, key};
		rc = mdb_cursor_del(c, 0);
		if (rc == 0) {
			rc = mdb_del(t, db->outlog, &lk, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
		}
		count--;
		last = seq;
		(*pruned_r)++;
	}
	if (c != NULL)
		mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return db_from_mdb(rc, "outlog_prune");
	return last != 0 ? meta_put(t, db, "outlog_pruned", last) : DB_OK;
}
