/*
 * db: LMDB environment, schema and record codecs. See db.h for the layout.
 *
 * Records are protobuf (proto/store.proto) behind a version byte, so fields
 * can be added without a migration. Encoding happens into a malloc'd buffer
 * that mdb_put copies; LMDB values read are only valid inside their txn.
 */
#include "db.h"

#include "blobfile.h"
#include "blobmap.h"
#include "log.h"
#include "mime-parse.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

enum db_status db_from_mdb(int rc, const char *what)
{
	if (rc == 0)
		return DB_OK;
	if (rc == MDB_NOTFOUND)
		return DB_NOTFOUND;
	if (rc == MDB_KEYEXIST)
		return DB_EXISTS;
	if (rc == MDB_MAP_FULL) {
		log_error("event=db_full what=%s hint=\"raise map_size_mb\"", what);
		return DB_FULL;
	}
	log_error("event=db_error what=%s err=%s", what, log_quote(mdb_strerror(rc), strlen(mdb_strerror(rc))));
	return DB_FAIL;
}

void db_key_u64(unsigned char out[8], uint64_t v)
{
	for (int i = 0; i < 8; i++)
		out[i] = (unsigned char)(v >> (56 - 8 * i));
}

uint64_t db_get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

uint32_t db_get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void db_key_msg(unsigned char out[12], uint64_t folder_id, uint32_t uid)
{
	db_key_u64(out, folder_id);
	out[8] = (unsigned char)(uid >> 24);
	out[9] = (unsigned char)(uid >> 16);
	out[10] = (unsigned char)(uid >> 8);
	out[11] = (unsigned char)uid;
}

void db_key_change(unsigned char out[16], uint64_t folder_id, uint64_t modseq)
{
	db_key_u64(out, folder_id);
	db_key_u64(out + 8, modseq);
}

struct db *db_open(const char *dir, uint64_t map_size_mb, char *err, size_t errlen)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return NULL;
	}
	/* One process per data directory: LMDB would let a second one open the
	 * environment, and two writers of one shard break every invariant. */
	char lockpath[4096];
	snprintf(lockpath, sizeof(lockpath), "%s/backend.lock", dir);
	int lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "%s is in use by another cpm-backend (%s)", dir, strerror(errno));
		if (lockfd >= 0)
			close(lockfd);
		return NULL;
	}
	struct db *db = calloc(1, sizeof(*db));
	if (db == NULL) {
		close(lockfd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	db->lockfd = lockfd;
	db->path = strdup(dir);
	MDB_txn *t = NULL;
	int rc = mdb_env_create(&db->env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(db->env, 16);
	if (rc == 0)
		rc = mdb_env_set_mapsize(db->env, (size_t)map_size_mb << 20);
	if (rc == 0)
		rc = mdb_env_set_maxreaders(db->env, 512);
	if (rc == 0)
		rc = mdb_env_open(db->env, dir, MDB_NOTLS, 0600);
	if (rc == 0)
		rc = mdb_txn_begin(db->env, NULL, 0, &t);
	struct {
		const char *name;
		MDB_dbi *dbi;
	} dbs[] = {{"meta", &db->meta},	  {"users", &db->users},     {"folders", &db->folders}, {"subs", &db->subs}, {"finfo", &db->finfo},
		   {"msgs", &db->msgs},	  {"changes", &db->changes}, {"blobs", &db->blobs}, {"blobrefs", &db->blobrefs}, {"parsed", &db->parsed},
		   {"outlog", &db->outlog}, {"outseq", &db->outseq}, {"sharers", &db->sharers}};
	for (size_t i = 0; rc == 0 && i < sizeof(dbs) / sizeof(dbs[0]); i++)
		rc = mdb_dbi_open(t, dbs[i].name, MDB_CREATE, dbs[i].dbi);
	if (rc == 0) {
		MDB_val k = {6, "schema"}, v;
		rc = mdb_get(t, db->meta, &k, &v);
		if (rc == MDB_NOTFOUND) {
			unsigned char ver[4] = {0, 0, 0, DB_SCHEMA_VERSION};
			v.mv_size = 4;
			v.mv_data = ver;
			rc = mdb_put(t, db->meta, &k, &v, 0);
		} else if (rc == 0 && (v.mv_size != 4 || db_get_u32(v.mv_data) != DB_SCHEMA_VERSION)) {
			snprintf(err, errlen, "%s: unknown schema version", dir);
			mdb_txn_abort(t);
			mdb_env_close(db->env);
			close(db->lockfd);
			free(db->path);
			free(db);
			return NULL;
		}
	}
	if (rc == 0) {
		rc = mdb_txn_commit(t);
		t = NULL;
	}
	if (rc != 0) {
		snprintf(err, errlen, "LMDB %s: %s", dir, mdb_strerror(rc));
		if (t != NULL)
			mdb_txn_abort(t);
		if (db->env != NULL)
			mdb_env_close(db->env);
		close(db->lockfd);
		free(db->path);
		free(db);
		return NULL;
	}
	db->maps = db->path != NULL ? blobmap_new(db->path, DB_BLOB_MAP_ENTRIES, (size_t)DB_BLOB_MAP_MB << 20) : NULL;
	if (db->maps == NULL) {
		snprintf(err, errlen, "out of memory");
		db_close(&db);
		return NULL;
	}
	return db;
}

void db_close(struct db **dbp)
{
	struct db *db = *dbp;
	if (db == NULL)
		return;
	*dbp = NULL;
	mdb_env_close(db->env);
	blobmap_free(db->maps);
	close(db->lockfd);
	free(db->path);
	free(db->unlink_pending);
	free(db);
}

/* ---- record codec ---------------------------------------------------------- */

static enum db_status put_rec(MDB_txn *t, MDB_dbi dbi, const void *key, size_t klen, const ProtobufCMessage *m,
			      const char *what)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	unsigned char *buf = malloc(n + 1);
	if (buf == NULL)
		return DB_FAIL;
	buf[0] = DB_RECORD_VERSION;
	protobuf_c_message_pack(m, buf + 1);
	MDB_val k = {klen, (void *)key}, v = {n + 1, buf};
	int rc = mdb_put(t, dbi, &k, &v, 0);
	free(buf);
	return db_from_mdb(rc, what);
}

static enum db_status get_rec(MDB_txn *t, MDB_dbi dbi, const void *key, size_t klen,
			      const ProtobufCMessageDescriptor *desc, void **out, const char *what)
{
	MDB_val k = {klen, (void *)key}, v;
	int rc = mdb_get(t, dbi, &k, &v);
	if (rc != 0)
		return db_from_mdb(rc, what);
	const unsigned char *p = v.mv_data;
	if (v.mv_size < 1 || p[0] != DB_RECORD_VERSION) {
		log_error("event=db_corrupt what=%s", what);
		return DB_FAIL;
	}
	*out = protobuf_c_message_unpack(desc, NULL, v.mv_size - 1, p + 1);
	if (*out == NULL) {
		log_error("event=db_corrupt what=%s", what);
		return DB_FAIL;
	}
	return DB_OK;
}

Cpmdb__MsgRec *db_decode_msg(const MDB_val *v)
{
	const unsigned char *p = v->mv_data;
	if (v->mv_size < 1 || p[0] != DB_RECORD_VERSION)
		return NULL;
	return cpmdb__msg_rec__unpack(NULL, v->mv_size - 1, p + 1);
}

enum db_status db_get_user(MDB_txn *t, struct db *db, const char *user, Cpmdb__UserRec **rec_r)
{
	return get_rec(t, db->users, user, strlen(user), &cpmdb__user_rec__descriptor, (void **)rec_r, "user");
}

enum db_status db_put_user(MDB_txn *t, struct db *db, const char *user, const Cpmdb__UserRec *rec)
{
	return put_rec(t, db->users, user, strlen(user), &rec->base, "user");
}

enum db_status db_get_folder(MDB_txn *t, struct db *db, uint64_t folder_id, Cpmdb__FolderRec **rec_r)
{
	unsigned char k[8];
	db_key_u64(k, folder_id);
	return get_rec(t, db->finfo, k, 8, &cpmdb__folder_rec__descriptor, (void **)rec_r, "finfo");
}

enum db_status db_put_folder(MDB_txn *t, struct db *db, uint64_t folder_id, const Cpmdb__FolderRec *rec)
{
	unsigned char k[8];
	db_key_u64(k, folder_id);
	return put_rec(t, db->finfo, k, 8, &rec->base, "finfo");
}

enum db_status db_get_msg(MDB_txn *t, struct db *db, uint64_t folder_id, uint32_t uid, Cpmdb__MsgRec **rec_r)
{
	unsigned char k[12];
	db_key_msg(k, folder_id, uid);
	return get_rec(t, db->msgs, k, 12, &cpmdb__msg_rec__descriptor, (void **)rec_r, "msg");
}

enum db_status db_put_msg(MDB_txn *t, struct db *db, uint64_t folder_id, uint32_t uid, const Cpmdb__MsgRec *rec)
{
	unsigned char k[12];
	db_key_msg(k, folder_id, uid);
	return put_rec(t, db->msgs, k, 12, &rec->base, "msg");
}

enum db_status db_put_change(MDB_txn *t, struct db *db, uint64_t folder_id, uint64_t modseq, uint32_t uid,
			     uint32_t kind)
{
	unsigned char k[16];
	db_key_change(k, folder_id, modseq);
	Cpmdb__ChangeRec c = CPMDB__CHANGE_REC__INIT;
	c.uid = uid;
	c.kind = kind;
	return put_rec(t, db->changes, k, 16, &c.base, "change");
}

/* ---- folder names -------------------------------------------------------------- */

static int folder_key(const char *user, const char *name, unsigned char **k_r, size_t *len_r);

/* The key of (user, name) in folders/subs: DB_OK, DB_INVALID when it is
 * longer than LMDB's key limit (no such name can be stored), DB_FAIL. */
static enum db_status name_key(struct db *db, const char *user, const char *name, unsigned char **k_r,
			       size_t *len_r)
{
	if (folder_key(user, name, k_r, len_r) < 0)
		return DB_FAIL;
	if (*len_r > (size_t)mdb_env_get_maxkeysize(db->env)) {
		free(*k_r);
		*k_r = NULL;
		return DB_INVALID;
	}
	return DB_OK;
}

static int folder_key(const char *user, const char *name, unsigned char **k_r, size_t *len_r)
{
	size_t ul = strlen(user), nl = strlen(name);
	unsigned char *k = malloc(ul + 1 + nl);
	if (k == NULL)
		return -1;
	memcpy(k, user, ul);
	k[ul] = 0;
	memcpy(k + ul + 1, name, nl);
	*k_r = k;
	*len_r = ul + 1 + nl;
	return 0;
}

enum db_status db_lookup_folder(MDB_txn *t, struct db *db, const char *user, const char *name, uint64_t *id_r)
{
	unsigned char *k;
	size_t kl;
	enum db_status kst = name_key(db, user, name, &k, &kl);
	if (kst != DB_OK)
		return kst == DB_INVALID ? DB_NOTFOUND : kst; /* too long to have been created */
	MDB_val kv = {kl, k}, v;
	int rc = mdb_get(t, db->folders, &kv, &v);
	free(k);
	if (rc == 0 && v.mv_size == 8)
		*id_r = db_get_u64(v.mv_data);
	return rc == 0 && v.mv_size != 8 ? DB_FAIL : db_from_mdb(rc, "folders");
}

enum db_status db_bind_folder(MDB_txn *t, struct db *db, const char *user, const char *name, uint64_t id)
{
	unsigned char *k;
	size_t kl;
	enum db_status kst = name_key(db, user, name, &k, &kl);
	if (kst != DB_OK)
		return kst;
	unsigned char idb[8];
	db_key_u64(idb, id);
	MDB_val kv = {kl, k}, v = {8, idb};
	int rc = mdb_put(t, db->folders, &kv, &v, MDB_NOOVERWRITE);
	free(k);
	return db_from_mdb(rc, "folders");
}

enum db_status db_unbind_folder(MDB_txn *t, struct db *db, const char *user, const char *name)
{
	unsigned char *k;
	size_t kl;
	if (folder_key(user, name, &k, &kl) < 0)
		return DB_FAIL;
	MDB_val kv = {kl, k};
	int rc = mdb_del(t, db->folders, &kv, NULL);
	free(k);
	return db_from_mdb(rc, "folders");
}

enum db_status db_each_name(MDB_txn *t, MDB_dbi dbi, const char *user, const char *prefix, db_name_fn *fn,
			    void *ctx)
{
	unsigned char *start;
	size_t klen;
	if (folder_key(user, prefix, &start, &klen) < 0)
		return DB_FAIL;
	size_t ul = strlen(user);
	if (klen > DB_MAX_KEY) {
		free(start);
		return DB_OK; /* no stored name can be that long */
	}
	MDB_cursor *c = NULL;
	int rc = mdb_cursor_open(t, dbi, &c);
	MDB_val k = {klen, start}, v;
	if (rc == 0)
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size >= klen && memcmp(k.mv_data, start, klen) == 0) {
		const char *name = (const char *)k.mv_data + ul + 1;
		if (fn(ctx, name, k.mv_size - ul - 1, &v) != 0)
			break;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	if (c != NULL)
		mdb_cursor_close(c);
	free(start);
	return rc == MDB_NOTFOUND ? DB_OK : db_from_mdb(rc, "names");
}

enum db_status db_name_set(MDB_txn *t, struct db *db, MDB_dbi dbi, const char *user, const char *name, bool on)
{
	unsigned char *k;
	size_t kl;
	enum db_status kst = name_key(db, user, name, &k, &kl);
	if (kst != DB_OK)
		return kst == DB_INVALID && !on ? DB_OK : kst;
	MDB_val kv = {kl, k}, v = {0, ""};
	int rc = on ? mdb_put(t, dbi, &kv, &v, 0) : mdb_del(t, dbi, &kv, NULL);
	free(k);
	return rc == MDB_NOTFOUND ? DB_OK : db_from_mdb(rc, "names");
}

enum db_status db_subscribe(MDB_txn *t, struct db *db, const char *user, const char *name, bool on)
{
	return db_name_set(t, db, db->subs, user, name, on);
}

enum db_status db_sharer(MDB_txn *t, struct db *db, const char *user, const char *owner, bool on)
{
	return db_name_set(t, db, db->sharers, user, owner, on);
}

/* ---- counters ------------------------------------------------------------------- */

static enum db_status meta_u64(MDB_txn *t, struct db *db, const char *name, uint64_t *v_r)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	int rc = mdb_get(t, db->meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		*v_r = 0;
		return DB_OK;
	}
	if (rc == 0 && v.mv_size == 8) {
		*v_r = db_get_u64(v.mv_data);
		return DB_OK;
	}
	return rc == 0 ? DB_FAIL : db_from_mdb(rc, name);
}

static enum db_status meta_put_u64(MDB_txn *t, struct db *db, const char *name, uint64_t val)
{
	unsigned char b[8];
	db_key_u64(b, val);
	MDB_val k = {strlen(name), (void *)name}, v = {8, b};
	return db_from_mdb(mdb_put(t, db->meta, &k, &v, 0), name);
}

enum db_status db_next_folder_id(MDB_txn *t, struct db *db, uint64_t *id_r)
{
	uint64_t last;
	enum db_status st = meta_u64(t, db, "next_folder_id", &last);
	if (st != DB_OK)
		return st;
	*id_r = last + 1;
	return meta_put_u64(t, db, "next_folder_id", last + 1);
}

enum db_status db_next_uidvalidity(MDB_txn *t, struct db *db, uint32_t *v_r)
{
	uint64_t last;
	enum db_status st = meta_u64(t, db, "last_uidvalidity", &last);
	if (st != DB_OK)
		return st;
	uint64_t now = (uint64_t)time(NULL);
	uint64_t next = now > last ? now : last + 1;
	if (next > UINT32_MAX)
		next = last + 1 <= UINT32_MAX ? last + 1 : 1;
	*v_r = (uint32_t)next;
	return meta_put_u64(t, db, "last_uidvalidity", next);
}

/* ---- blobs ------------------------------------------------------------------------- */

/* The reference count lives apart from the bytes (blobrefs), so COPY or
 * expunge of a large message rewrites a few bytes, not the body. A 16-byte
 * value (count, size) marks a body kept in a file (blobfile.h). */
static enum db_status refs_get(MDB_txn *t, struct db *db, const unsigned char hash[32], uint64_t *refs_r,
			       uint64_t *size_r, bool *in_file_r)
{
	MDB_val k = {32, (void *)hash}, v;
	int rc = mdb_get(t, db->blobrefs, &k, &v);
	if (rc != 0)
		return db_from_mdb(rc, "blobrefs");
	if (v.mv_size != 8 && v.mv_size != 16)
		return DB_FAIL;
	*refs_r = db_get_u64(v.mv_data);
	if (in_file_r != NULL)
		*in_file_r = v.mv_size == 16;
	if (size_r != NULL)
		*size_r = v.mv_size == 16 ? db_get_u64((const unsigned char *)v.mv_data + 8) : 0;
	return DB_OK;
}

/* Reads the whole staged file src into dst (n bytes). */
static int staged_read(const char *src, unsigned char *dst, size_t n)
{
	int fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, dst + got, n - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : EIO;
			close(fd);
			errno = e;
			return -1;
		}
		got += (size_t)r;
	}
	return close(fd);
}

static enum db_status refs_put(MDB_txn *t, struct db *db, const unsigned char hash[32], uint64_t refs, bool in_file,
			       uint64_t size)
{
	unsigned char b[16];
	db_key_u64(b, refs);
	db_key_u64(b + 8, size);
	MDB_val k = {32, (void *)hash}, v = {in_file ? 16 : 8, b};
	return db_from_mdb(mdb_put(t, db->blobrefs, &k, &v, 0), "blobrefs");
}

static void unlink_pending_push(struct db *db, const unsigned char hash[32])
{
	if (db->n_unlink_pending == db->cap_unlink_pending) {
		size_t nc = db->cap_unlink_pending ? db->cap_unlink_pending * 2 : 16;
		unsigned char(*na)[32] = reallocarray(db->unlink_pending, nc, 32);
		if (na == NULL) {
			log_error("event=blob_unlink_lost hint=\"the start-up sweep removes the file\"");
			return;
		}
		db->unlink_pending = na;
		db->cap_unlink_pending = nc;
	}
	memcpy(db->unlink_pending[db->n_unlink_pending++], hash, 32);
}

void db_blob_forget_file(struct db *db, const unsigned char hash[32])
{
	unlink_pending_push(db, hash);
}

/* The body is body[0 .. len), or (body NULL) the staged file src of len
 * bytes, whose hash is known. */
static enum db_status blob_ref(MDB_txn *t, struct db *db, const unsigned char *body, const char *src, uint64_t len,
			       const unsigned char *tree_bytes, size_t tree_len, const unsigned char *known_hash,
			       unsigned char hash_r[32])
{
	unsigned int hl = 32;
	if (known_hash != NULL)
		memcpy(hash_r, known_hash, 32);
	else if (body == NULL || EVP_Digest(body, len, hash_r, &hl, EVP_sha256(), NULL) != 1)
		return DB_FAIL;
	uint64_t refs = 0, size = 0;
	bool in_file = false;
	enum db_status st = refs_get(t, db, hash_r, &refs, &size, &in_file);
	if (st == DB_OK)
		return refs_put(t, db, hash_r, refs + 1, in_file, size);
	if (st != DB_NOTFOUND)
		return st;
	MDB_val k = {32, hash_r};
	int rc = 0;
	/* A staged body is never in memory: it is always a file, unless the
	 * threshold says a body of its size belongs in LMDB. */
	in_file = db->blob_file_threshold > 0 ? len > db->blob_file_threshold : src != NULL;
	if (in_file) {
		/* Written (or linked) on the thread pool before this write
		 * (server.c); only when its previous last reference was dropped
		 * since is it missing, and then it is made here, before the
		 * commit. */
		if (blobfile_exists(db->path, hash_r, len) != 1 &&
		    (src != NULL ? blobfile_link(db->path, hash_r, src, len) : blobfile_write(db->path, hash_r, body, len)) < 0) {
			log_error("event=blob_file_write_failed err=%s", log_quote(strerror(errno), strlen(strerror(errno))));
			return DB_FAIL;
		}
	} else {
		if (len > SIZE_MAX / 2)
			return DB_INVALID;
		MDB_val v = {(size_t)len, NULL};
		rc = mdb_put(t, db->blobs, &k, &v, MDB_RESERVE);
		if (rc != 0)
			return db_from_mdb(rc, "blob_put");
		if (body != NULL && len > 0)
			memcpy(v.mv_data, body, len);
		if (body == NULL && len > 0 && staged_read(src, v.mv_data, (size_t)len) < 0) {
			log_error("event=staging_read_failed err=%s", log_quote(strerror(errno), strlen(strerror(errno))));
			return DB_FAIL;
		}
	}
	/* A new body: its MIME structure, once (FETCH never parses again). A
	 * tree that cannot be made is left out; readers parse on the fly. */
	struct mime_tree *tree = NULL;
	struct buf ser = {0};
	if (tree_bytes != NULL && tree_len > 0) {
		MDB_val pv = {tree_len, (void *)tree_bytes};
		rc = mdb_put(t, db->parsed, &k, &pv, 0);
	} else if (body != NULL && mime_parse(body, len, &tree) == 0 && mime_tree_serialize(tree, &ser) == 0) {
		MDB_val pv = {ser.len, ser.data};
		rc = mdb_put(t, db->parsed, &k, &pv, 0);
	}
	mime_tree_free(&tree);
	buf_free(&ser);
	if (rc != 0)
		return db_from_mdb(rc, "parsed_put");
	return refs_put(t, db, hash_r, 1, in_file, len);
}

enum db_status db_blob_ref(MDB_txn *t, struct db *db, const unsigned char *body, size_t len,
			   const unsigned char *tree_bytes, size_t tree_len, const unsigned char *known_hash,
			   unsigned char hash_r[32])
{
	return blob_ref(t, db, body, NULL, len, tree_bytes, tree_len, known_hash, hash_r);
}

enum db_status db_blob_ref_staged(MDB_txn *t, struct db *db, const char *src, uint64_t len,
				  const unsigned char *tree_bytes, size_t tree_len, const unsigned char hash[32],
				  unsigned char hash_r[32])
{
	return blob_ref(t, db, NULL, src, len, tree_bytes, tree_len, hash, hash_r);
}

enum db_status db_blob_addref(MDB_txn *t, struct db *db, const unsigned char hash[32])
{
	uint64_t refs, size;
	bool in_file;
	enum db_status st = refs_get(t, db, hash, &refs, &size, &in_file);
	return st != DB_OK ? st : refs_put(t, db, hash, refs + 1, in_file, size);
}

enum db_status db_blob_unref(MDB_txn *t, struct db *db, const unsigned char hash[32])
{
	uint64_t refs, size;
	bool in_file;
	enum db_status st = refs_get(t, db, hash, &refs, &size, &in_file);
	if (st != DB_OK)
		return st;
	if (refs > 1)
		return refs_put(t, db, hash, refs - 1, in_file, size);
	MDB_val k = {32, (void *)hash};
	st = db_from_mdb(mdb_del(t, db->blobrefs, &k, NULL), "blobrefs");
	if (st == DB_OK) {
		int rc = mdb_del(t, db->parsed, &k, NULL);
		st = rc == MDB_NOTFOUND ? DB_OK : db_from_mdb(rc, "parsed_del");
	}
	if (st == DB_OK && in_file) {
		/* The file goes only after this drop is committed. */
		unlink_pending_push(db, hash);
		return DB_OK;
	}
	return st != DB_OK ? st : db_from_mdb(mdb_del(t, db->blobs, &k, NULL), "blob_del");
}

void db_blob_after_commit(struct db *db)
{
	if (db->n_unlink_pending == 0)
		return;
	MDB_txn *t = NULL;
	int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &t);
	for (size_t i = 0; rc == 0 && i < db->n_unlink_pending; i++) {
		uint64_t refs;
		/* Referenced again (a later APPEND of the same bytes, or the drop
		 * was rolled back): the file stays. */
		if (refs_get(t, db, db->unlink_pending[i], &refs, NULL, NULL) != DB_NOTFOUND)
			continue;
		if (blobfile_unlink(db->path, db->unlink_pending[i]) < 0)
			log_error("event=blob_unlink_failed err=%s", log_quote(strerror(errno), strlen(strerror(errno))));
		blobmap_forget(db->maps, db->unlink_pending[i]); /* its space is freed at the last unmap */
	}
	if (t != NULL)
		mdb_txn_abort(t);
	if (rc != 0)
		db_from_mdb(rc, "blob_after_commit");
	db->n_unlink_pending = 0;
}

struct sweep_ctx {
	MDB_txn *t;
	struct db *db;
};

static bool sweep_referenced(void *ctx, const unsigned char hash[32])
{
	struct sweep_ctx *sc = ctx;
	uint64_t refs;
	bool in_file = false;
	enum db_status st = refs_get(sc->t, sc->db, hash, &refs, NULL, &in_file);
	/* Keep anything we cannot prove unreferenced. */
	return st == DB_OK ? in_file : st != DB_NOTFOUND;
}

enum db_status db_blob_sweep(struct db *db)
{
	MDB_txn *t = NULL;
	int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &t);
	if (rc != 0)
		return db_from_mdb(rc, "blob_sweep");
	struct sweep_ctx sc = {t, db};
	size_t removed = 0;
	int src = blobfile_sweep(db->path, sweep_referenced, &sc, &removed);
	mdb_txn_abort(t);
	if (removed > 0)
		log_info("event=blob_sweep removed=%zu", removed);
	if (src < 0) {
		log_error("event=blob_sweep_failed err=%s", log_quote(strerror(errno), strlen(strerror(errno))));
		return DB_FAIL;
	}
	return DB_OK;
}

enum db_status db_blob_stat(MDB_txn *t, struct db *db, const unsigned char hash[32], uint64_t *size_r,
			    bool *in_file_r)
{
	uint64_t refs;
	enum db_status st = refs_get(t, db, hash, &refs, size_r, in_file_r);
	if (st != DB_OK || *in_file_r)
		return st;
	MDB_val k = {32, (void *)hash}, v;
	int rc = mdb_get(t, db->blobs, &k, &v);
	if (rc != 0)
		return db_from_mdb(rc, "blob_get");
	*size_r = v.mv_size;
	return DB_OK;
}

enum db_status db_blob_read(MDB_txn *t, struct db *db, const unsigned char hash[32], uint64_t off, void *dst,
			    size_t n, size_t *got_r)
{
	uint64_t size;
	bool in_file;
	*got_r = 0;
	enum db_status st = db_blob_stat(t, db, hash, &size, &in_file);
	if (st != DB_OK)
		return st;
	if (off >= size)
		return DB_OK;
	if (n > size - off)
		n = (size_t)(size - off);
	if (in_file) {
		if (blobfile_read(db->path, hash, off, dst, n, got_r) < 0) {
			log_error("event=blob_file_read_failed err=%s", log_quote(strerror(errno), strlen(strerror(errno))));
			return DB_FAIL;
		}
		return DB_OK;
	}
	MDB_val k = {32, (void *)hash}, v;
	int rc = mdb_get(t, db->blobs, &k, &v);
	if (rc != 0)
		return db_from_mdb(rc, "blob_get");
	memcpy(dst, (const unsigned char *)v.mv_data + off, n);
	*got_r = n;
	return DB_OK;
}

enum db_status db_parsed_get(MDB_txn *t, struct db *db, const unsigned char hash[32], const unsigned char **p_r,
			     size_t *len_r)
{
	MDB_val k = {32, (void *)hash}, v;
	int rc = mdb_get(t, db->parsed, &k, &v);
	if (rc != 0)
		return db_from_mdb(rc, "parsed_get");
	*p_r = v.mv_data;
	*len_r = v.mv_size;
	return DB_OK;
}

/* The calling thread's holds on body file mappings (db_blob_get's
 * contract); the mappings themselves are shared and kept (blobmap.h). */
static _Thread_local struct {
	struct blobmap *maps;
	unsigned char hash[32];
	const unsigned char *p;
	size_t len;
	void *hold;
} thread_maps[DB_BLOB_THREAD_MAPS];
static _Thread_local unsigned thread_maps_next;

static enum db_status map_file(struct db *db, const unsigned char hash[32], const unsigned char **body_r,
			       size_t *len_r)
{
	for (unsigned i = 0; i < DB_BLOB_THREAD_MAPS; i++) {
		if (thread_maps[i].hold != NULL && thread_maps[i].maps == db->maps &&
		    memcmp(thread_maps[i].hash, hash, 32) == 0) {
			*body_r = thread_maps[i].p;
			*len_r = thread_maps[i].len;
			return DB_OK;
		}
	}
	const unsigned char *p;
	size_t len;
	void *hold;
	if (blobmap_get(db->maps, hash, &p, &len, &hold) < 0) {
		log_error("event=blob_file_map_failed err=%s", log_quote(strerror(errno), strlen(strerror(errno))));
		return DB_FAIL;
	}
	unsigned slot = thread_maps_next++ % DB_BLOB_THREAD_MAPS;
	if (thread_maps[slot].hold != NULL)
		blobmap_release(thread_maps[slot].maps, thread_maps[slot].hold);
	thread_maps[slot].maps = db->maps;
	memcpy(thread_maps[slot].hash, hash, 32);
	thread_maps[slot].p = p;
	thread_maps[slot].len = len;
	thread_maps[slot].hold = hold;
	*body_r = p;
	*len_r = len;
	return DB_OK;
}

void db_blob_thread_release(void)
{
	for (unsigned i = 0; i < DB_BLOB_THREAD_MAPS; i++) {
		if (thread_maps[i].hold != NULL)
			blobmap_release(thread_maps[i].maps, thread_maps[i].hold);
		thread_maps[i].hold = NULL;
		thread_maps[i].maps = NULL;
	}
}

enum db_status db_blob_get(MDB_txn *t, struct db *db, const unsigned char hash[32], const unsigned char **body_r,
			   size_t *len_r, uint64_t *refs_r)
{
	uint64_t refs = 0, size = 0;
	bool in_file = false;
	enum db_status st = refs_get(t, db, hash, &refs, &size, &in_file);
	if (refs_r != NULL)
		*refs_r = st == DB_OK ? refs : 0;
	if (st == DB_OK && in_file)
		return map_file(db, hash, body_r, len_r);
	MDB_val k = {32, (void *)hash}, v;
	int rc = mdb_get(t, db->blobs, &k, &v);
	if (rc != 0)
		return db_from_mdb(rc, "blob_get");
	*body_r = v.mv_data;
	*len_r = v.mv_size;
	return DB_OK;
}
