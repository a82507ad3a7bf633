/*
 * db: the shard's LMDB environment and its schema.
 *
 * One environment per shard, a handful of named databases with composite
 * big-endian keys (LMDB is not meant for millions of named DBs; folders
 * number in the millions):
 *
 *   meta     "schema" → u32 version; "next_folder_id" → u64; "last_uidvalidity" → u32
 *   users    user name                         → UserRec
 *   folders  user 0x00 folder-name (UTF-8)     → folder id (u64 BE)
 *   subs     user 0x00 folder-name             → empty (LSUB's subscriptions)
 *   finfo    folder id (u64 BE)                → FolderRec
 *   msgs     folder id (u64 BE) uid (u32 BE)   → MsgRec
 *   changes  folder id (u64 BE) modseq (u64 BE) → ChangeRec (one per change;
 *            expunges will stay as tombstones for VANISHED)
 *   blobs    SHA-256 of the body (32 bytes)    → body bytes (immutable); absent for a
 *            body kept in a file (backend/blobfile.h)
 *   blobrefs SHA-256 of the body               → reference count (u64 BE), then, for a
 *            body kept in a file, its size (u64 BE): 16 bytes is the file marker
 *   parsed   SHA-256 of the body               → its MIME tree (mime-parse.h serialised),
 *            computed once when the body is first stored
 *   outlog, outseq  the outband notification log (backend/outlog.h)
 *   sharers  user 0x00 owner                   → empty: owner granted user rights on a
 *            folder (a hint for LIST; the owner's ACL, FolderRec.acl, is the truth)
 *
 * Values are one version byte then a protobuf message of proto/store.proto.
 * The environment is opened with MDB_NOTLS so that read transactions may
 * run on any thread-pool thread; there is exactly one writer thread.
 * Functions return enum db_status; DB_FAIL also logs the LMDB error.
 */
#ifndef CPM_BACKEND_DB_H
#define CPM_BACKEND_DB_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/store.pb-c.h"

#define DB_SCHEMA_VERSION 1u
#define DB_RECORD_VERSION 1u
/* LMDB's key size limit (Debian's build): user + 1 + folder name must fit. */
#define DB_MAX_KEY 511

enum db_status {
	DB_OK = 0,
	DB_NOTFOUND,
	DB_EXISTS,
	DB_INVALID,
	DB_FULL,   /* map full: the operator must grow map_size_mb */
	DB_OVERQUOTA, /* the user's storage quota would be exceeded */
	DB_FAIL,
};

struct db {
	MDB_env *env;
	MDB_dbi meta, users, folders, subs, finfo, msgs, changes, blobs, blobrefs, parsed;
	MDB_dbi outlog, outseq; /* outlog.h */
	MDB_dbi sharers;
	char *path;
	int lockfd; /* flock on data_dir/backend.lock: one process per shard */
	/* Bodies larger than this go to files (blobfile.h); 0 = never. */
	uint64_t blob_file_threshold;
	/* Shared mappings of those files, kept between reads (blobmap.h). */
	struct blobmap *maps;
	/* Writer thread only: file-backed blobs whose last reference a write
	 * transaction dropped; db_blob_after_commit removes their files. */
	unsigned char (*unlink_pending)[32];
	size_t n_unlink_pending, cap_unlink_pending;
};

/* Opens (creating if needed) the environment in dir. NULL with reason in err. */
struct db *db_open(const char *dir, uint64_t map_size_mb, char *err, size_t errlen);
void db_close(struct db **db);

enum db_status db_from_mdb(int rc, const char *what);

/* Keys. */
void db_key_u64(unsigned char out[8], uint64_t v);
uint64_t db_get_u64(const unsigned char *p);
uint32_t db_get_u32(const unsigned char *p);
void db_key_msg(unsigned char out[12], uint64_t folder_id, uint32_t uid);
void db_key_change(unsigned char out[16], uint64_t folder_id, uint64_t modseq);

/* Records: get returns DB_NOTFOUND when absent, DB_FAIL when undecodable;
 * the caller frees the result with the matching __free_unpacked(x, NULL). */
enum db_status db_get_user(MDB_txn *t, struct db *db, const char *user, Cpmdb__UserRec **rec_r);
enum db_status db_put_user(MDB_txn *t, struct db *db, const char *user, const Cpmdb__UserRec *rec);
enum db_status db_get_folder(MDB_txn *t, struct db *db, uint64_t folder_id, Cpmdb__FolderRec **rec_r);
enum db_status db_put_folder(MDB_txn *t, struct db *db, uint64_t folder_id, const Cpmdb__FolderRec *rec);
enum db_status db_get_msg(MDB_txn *t, struct db *db, uint64_t folder_id, uint32_t uid, Cpmdb__MsgRec **rec_r);
enum db_status db_put_msg(MDB_txn *t, struct db *db, uint64_t folder_id, uint32_t uid, const Cpmdb__MsgRec *rec);
/* Decodes an MsgRec from a value read with a cursor. */
Cpmdb__MsgRec *db_decode_msg(const MDB_val *v);
enum db_status db_put_change(MDB_txn *t, struct db *db, uint64_t folder_id, uint64_t modseq, uint32_t uid,
			     uint32_t kind);

/* Folder names → ids. */
enum db_status db_lookup_folder(MDB_txn *t, struct db *db, const char *user, const char *name, uint64_t *id_r);
enum db_status db_bind_folder(MDB_txn *t, struct db *db, const char *user, const char *name, uint64_t id);
enum db_status db_unbind_folder(MDB_txn *t, struct db *db, const char *user, const char *name);

/* Walks the names of user in dbi (folders or subs) that start with prefix
 * ("" for all), in byte order. fn gets each name (not NUL-terminated) and its
 * value; a non-zero return stops the walk. The walk sees the database as it
 * was when it started only if fn does not write to dbi: collect, then write. */
typedef int db_name_fn(void *ctx, const char *name, size_t name_len, const MDB_val *value);
enum db_status db_each_name(MDB_txn *t, MDB_dbi dbi, const char *user, const char *prefix, db_name_fn *fn,
			    void *ctx);
/* Puts (on) or removes the empty entry user 0x00 name of dbi (subs, sharers). */
enum db_status db_name_set(MDB_txn *t, struct db *db, MDB_dbi dbi, const char *user, const char *name, bool on);
/* Subscriptions. */
enum db_status db_subscribe(MDB_txn *t, struct db *db, const char *user, const char *name, bool on);
/* Users who shared folders with user (walk them with db_each_name on db->sharers). */
enum db_status db_sharer(MDB_txn *t, struct db *db, const char *user, const char *owner, bool on);

/* Counters in meta. */
enum db_status db_next_folder_id(MDB_txn *t, struct db *db, uint64_t *id_r);
/* max(now, last + 1): strictly increasing per shard, so DELETE+CREATE always differs. */
enum db_status db_next_uidvalidity(MDB_txn *t, struct db *db, uint32_t *v_r);

/* Content-addressed bodies with reference counts. */
/* A reference to body (stored if new, with its MIME tree: tree/tree_len
 * when the caller parsed it already, else parsed here). A body above
 * db->blob_file_threshold is kept in a file: known_hash (may be NULL) is its
 * SHA-256 when the caller wrote that file already (on the thread pool,
 * before the write: server.c), and the file is checked and, if it is
 * missing (its last reference was just dropped), written here. */
enum db_status db_blob_ref(MDB_txn *t, struct db *db, const unsigned char *body, size_t len,
			   const unsigned char *tree, size_t tree_len, const unsigned char *known_hash,
			   unsigned char hash_r[32]);
/* The same for a body staged in the file src (backend/staging.h): its
 * hash is known (the commit step computed it, with its tree). A new body
 * is kept as a file (linked from src again if it went missing meanwhile)
 * unless blob_file_threshold keeps bodies of its size in LMDB; then it is
 * read from src into the map, never into the heap. */
enum db_status db_blob_ref_staged(MDB_txn *t, struct db *db, const char *src, uint64_t len,
				  const unsigned char *tree_bytes, size_t tree_len, const unsigned char hash[32],
				  unsigned char hash_r[32]);
/* Called by the writer thread after each group commit (committed or not):
 * removes the files of blobs whose last reference is gone in the committed
 * state. Errors are logged (an orphan is removed by the next start-up sweep). */
void db_blob_after_commit(struct db *db);
/* A body file written ahead of its write (server.c): unless the write
 * references it, its file goes after the commit (db_blob_after_commit). */
void db_blob_forget_file(struct db *db, const unsigned char hash[32]);
/* Start-up: removes blob files (and temporary files) no reference points to. */
enum db_status db_blob_sweep(struct db *db);
/* A blob's size and where it lives: *in_file_r true when it is a file. */
enum db_status db_blob_stat(MDB_txn *t, struct db *db, const unsigned char hash[32], uint64_t *size_r,
			    bool *in_file_r);
/* Copies body[off .. off + n) into dst (n clamped to the body): *got_r
 * bytes. For a file, a pread of that range only. */
enum db_status db_blob_read(MDB_txn *t, struct db *db, const unsigned char hash[32], uint64_t off, void *dst,
			    size_t n, size_t *got_r);
/* One more reference to an existing blob (COPY). */
enum db_status db_blob_addref(MDB_txn *t, struct db *db, const unsigned char hash[32]);
enum db_status db_blob_unref(MDB_txn *t, struct db *db, const unsigned char hash[32]);
/* The stored MIME tree of a body (points into the map: valid until the
 * txn ends); DB_NOTFOUND when none was stored. */
enum db_status db_parsed_get(MDB_txn *t, struct db *db, const unsigned char hash[32], const unsigned char **p_r,
			     size_t *len_r);
/* Points into the transaction's map: valid until the txn ends. A body in a
 * file is mapped read-only instead (pages are read as they are touched;
 * the mapping is shared and kept, blobmap.h): the calling thread's hold on
 * it lasts until the thread calls db_blob_thread_release or has mapped
 * DB_BLOB_THREAD_MAPS other files; use one body at a time. */
#define DB_BLOB_THREAD_MAPS 4
/* Bounds of the shared mappings: files, and MiB of address space. */
#define DB_BLOB_MAP_ENTRIES 4096
#define DB_BLOB_MAP_MB 1024
enum db_status db_blob_get(MDB_txn *t, struct db *db, const unsigned char hash[32], const unsigned char **body_r,
			   size_t *len_r, uint64_t *refs_r);
/* Unmaps the calling thread's body files (db_blob_get): called when a read
 * is over, so a removed file's space is not held by a stale mapping. */
void db_blob_thread_release(void);

#endif
