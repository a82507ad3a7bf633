/*
 * blobfile: large message bodies as content-addressed files beside the
 * shard's LMDB environment.
 *
 * A body above the shard's threshold (cfg blob_file_threshold_kb) is not an
 * LMDB value: it is the file
 *
 *     data_dir/blobs/ab/cd/<sha256 in hex>      (ab, cd: the first two bytes)
 *
 * and LMDB keeps only its reference count and a marker (backend/db.h,
 * blobrefs). The file is made durable BEFORE the transaction that refers to
 * it commits: written to a temporary ".<hex>.tmp.*" file in the same
 * directory, fsync'ed, renamed into place, and the directory fsync'ed (and
 * every directory this created, up to data_dir/blobs). So a committed
 * reference never points to a missing file. The file is removed only after
 * the commit that drops its last reference (db_blob_after_commit); a crash
 * in between leaves an orphan that blobfile_sweep removes at start-up.
 *
 * Contract: functions return 0 on success and -1 with errno set on failure
 * (they never abort). Files are immutable once renamed into place: writing
 * a body whose file exists already (same name, same size) does nothing, so
 * concurrent writers of the same body are harmless. Reads never load a whole
 * body unless asked to: blobfile_read reads a range (pread), blobfile_map
 * maps the file read-only (the caller unmaps with blobfile_unmap).
 */
#ifndef CPM_BACKEND_BLOBFILE_H
#define CPM_BACKEND_BLOBFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLOBFILE_PATH_MAX 4096

/* data_dir/blobs/ab/cd/<hex>; -1 (ENAMETOOLONG) when it does not fit. */
int blobfile_path(const char *data_dir, const unsigned char hash[32], char *out, size_t outlen);
/* Writes body[0 .. len) as the file of hash, durably (see above). */
int blobfile_write(const char *data_dir, const unsigned char hash[32], const unsigned char *body, size_t len);
/* Makes the file src (already fsync'ed by the caller, same file system)
 * the file of hash, durably, by a hard link: src keeps its own name. An
 * existing file of hash with this size is kept (content-addressed: the
 * same bytes). */
int blobfile_link(const char *data_dir, const unsigned char hash[32], const char *src, uint64_t size);
/* 1 when the file of hash exists with this size, 0 when not, -1 on error. */
int blobfile_exists(const char *data_dir, const unsigned char hash[32], uint64_t size);
/* Reads up to n bytes at off into dst; *got_r is what was read (short at
 * the end of the file only). */
int blobfile_read(const char *data_dir, const unsigned char hash[32], uint64_t off, void *dst, size_t n,
		  size_t *got_r);
/* Maps the whole file read-only; *p_r is NULL for an empty file. */
int blobfile_map(const char *data_dir, const unsigned char hash[32], const unsigned char **p_r, size_t *len_r);
void blobfile_unmap(const unsigned char *p, size_t len);
/* Removes the file of hash (ENOENT is not an error). */
int blobfile_unlink(const char *data_dir, const unsigned char hash[32]);

/* Start-up sweep: removes temporary files, and every blob file for which
 * referenced(ctx, hash) is false. *removed_r counts the files removed.
 * Only the two-hex-digit directories are walked (not blobs/staging). */
typedef bool blobfile_referenced_fn(void *ctx, const unsigned char hash[32]);
int blobfile_sweep(const char *data_dir, blobfile_referenced_fn *referenced, void *ctx, size_t *removed_r);

#endif
