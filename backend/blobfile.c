/*
 * blobfile: content-addressed body files. See blobfile.h for the layout and
 * the durability rules.
 *
 * Durability of a new file: temp file, write, fsync(file), rename into
 * place, fsync(directory); a directory created on the way is fsync'ed in its
 * parent too, so after a crash a committed reference finds its file.
 */
#include "blobfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static atomic_uint tmp_counter;

static void hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int unhex(const char *s, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int v = 0;
		for (int j = 0; j < 2; j++) {
			char c = s[2 * i + j];
			int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
			if (d < 0)
				return -1;
			v = v << 4 | d;
		}
		out[i] = (unsigned char)v;
	}
	return 0;
}

int blobfile_path(const char *data_dir, const unsigned char hash[32], char *out, size_t outlen)
{
	char h[65];
	hex(hash, 32, h);
	int n = snprintf(out, outlen, "%s/blobs/%.2s/%.2s/%s", data_dir, h, h + 2, h);
	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

/* mkdir dir if missing; a new directory is made durable in its parent. */
static int ensure_dir(const char *dir, const char *parent)
{
	if (mkdir(dir, 0700) == 0)
		return fsync_path(parent);
	return errno == EEXIST ? 0 : -1;
}

/* Creates data_dir/blobs/ab/cd; fills dir (at least BLOBFILE_PATH_MAX). */
static int make_dirs(const char *data_dir, const char h[65], char *dir)
{
	char top[BLOBFILE_PATH_MAX], mid[BLOBFILE_PATH_MAX];
	int n1 = snprintf(top, sizeof(top), "%s/blobs", data_dir);
	int n2 = snprintf(mid, sizeof(mid), "%s/%.2s", top, h);
	int n3 = snprintf(dir, BLOBFILE_PATH_MAX, "%s/%.2s", mid, h + 2);
	if (n1 < 0 || n2 < 0 || n3 < 0 || n3 >= BLOBFILE_PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (ensure_dir(top, data_dir) < 0 || ensure_dir(mid, top) < 0 || ensure_dir(dir, mid) < 0)
		return -1;
	return 0;
}

int blobfile_exists(const char *data_dir, const unsigned char hash[32], uint64_t size)
{
	char path[BLOBFILE_PATH_MAX];
	struct stat st;
	if (blobfile_path(data_dir, hash, path, sizeof(path)) < 0)
		return -1;
	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	return S_ISREG(st.st_mode) && (uint64_t)st.st_size == size;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int blobfile_write(const char *data_dir, const unsigned char hash[32], const unsigned char *body, size_t len)
{
	int ex = blobfile_exists(data_dir, hash, len);
	if (ex != 0)
		return ex > 0 ? 0 : -1;
	char h[65], dir[BLOBFILE_PATH_MAX], tmp[BLOBFILE_PATH_MAX], path[BLOBFILE_PATH_MAX];
	hex(hash, 32, h);
	if (make_dirs(data_dir, h, dir) < 0)
		return -1;
	int n1 = snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.%ld.%u", dir, h, (long)getpid(), atomic_fetch_add(&tmp_counter, 1));
	int n2 = snprintf(path, sizeof(path), "%s/%s", dir, h);
	if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof(tmp) || (size_t)n2 >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write_all(fd, body, len) < 0 || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		errno = e;
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	return fsync_path(dir);
}

int blobfile_link(const char *data_dir, const unsigned char hash[32], const char *src, uint64_t size)
{
	int ex = blobfile_exists(data_dir, hash, size);
	if (ex != 0)
		return ex > 0 ? 0 : -1;
	char h[65], dir[BLOBFILE_PATH_MAX], path[BLOBFILE_PATH_MAX];
	hex(hash, 32, h);
	if (make_dirs(data_dir, h, dir) < 0)
		return -1;
	int n = snprintf(path, sizeof(path), "%s/%s", dir, h);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (link(src, path) < 0) {
		/* A concurrent writer of the same bytes got there first. */
		if (errno != EEXIST || blobfile_exists(data_dir, hash, size) != 1)
			return -1;
	}
	return fsync_path(dir);
}

int blobfile_read(const char *data_dir, const unsigned char hash[32], uint64_t off, void *dst, size_t n,
		  size_t *got_r)
{
	char path[BLOBFILE_PATH_MAX];
	*got_r = 0;
	if (blobfile_path(data_dir, hash, path, sizeof(path)) < 0)
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, (unsigned char *)dst + got, n - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	*got_r = got;
	return 0;
}

int blobfile_map(const char *data_dir, const unsigned char hash[32], const unsigned char **p_r, size_t *len_r)
{
	char path[BLOBFILE_PATH_MAX];
	struct stat st;
	*p_r = NULL;
	*len_r = 0;
	if (blobfile_path(data_dir, hash, path, sizeof(path)) < 0)
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (st.st_size == 0) {
		close(fd);
		return 0;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED) {
		errno = e;
		return -1;
	}
	*p_r = p;
	*len_r = (size_t)st.st_size;
	return 0;
}

void blobfile_unmap(const unsigned char *p, size_t len)
{
	if (p != NULL && len > 0)
		munmap((void *)p, len);
}

int blobfile_unlink(const char *data_dir, const unsigned char hash[32])
{
	char path[BLOBFILE_PATH_MAX];
	if (blobfile_path(data_dir, hash, path, sizeof(path)) < 0)
		return -1;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Calls fn(ctx, path, name) for each entry of dir except "." and "..". */
static int each_entry(const char *dir, int (*fn)(void *, const char *, const char *), void *ctx)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char path[BLOBFILE_PATH_MAX];
		int n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		rc = fn(ctx, path, e->d_name);
	}
	closedir(d);
	return rc;
}

struct sweep {
	blobfile_referenced_fn *referenced;
	void *ctx;
	size_t removed;
};

static int sweep_file(void *arg, const char *path, const char *name)
{
	struct sweep *sw = arg;
	unsigned char hash[32];
	bool keep = strlen(name) == 64 && unhex(name, hash, 32) == 0 && sw->referenced(sw->ctx, hash);
	if (!keep && unlink(path) == 0)
		sw->removed++;
	return 0;
}

static int sweep_inner(void *arg, const char *path, const char *name)
{
	(void)name;
	return each_entry(path, sweep_file, arg);
}

static int sweep_outer(void *arg, const char *path, const char *name)
{
	unsigned char b;
	if (strlen(name) != 2 || unhex(name, &b, 1) < 0)
		return 0; /* blobs/staging and anything else that is not ours */
	return each_entry(path, sweep_inner, arg);
}

int blobfile_sweep(const char *data_dir, blobfile_referenced_fn *referenced, void *ctx, size_t *removed_r)
{
	char top[BLOBFILE_PATH_MAX];
	int n = snprintf(top, sizeof(top), "%s/blobs", data_dir);
	if (n < 0 || (size_t)n >= sizeof(top)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	struct sweep sw = {referenced, ctx, 0};
	int rc = each_entry(top, sweep_outer, &sw);
	*removed_r = sw.removed;
	return rc;
}
