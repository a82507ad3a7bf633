/*
 * staging: streamed APPEND literals as files. See staging.h for the
 * contract.
 *
 * The registry is a plain list: it holds at most STAGING_MAX_TOTAL entries,
 * so the linear walks (lookup, per-user count, expiry) stay cheap and need
 * no second index. Ids are random (OpenSSL), never 0, and name the file.
 *
 * The commit step reads the file twice, never whole into memory: a pread
 * loop through a 1 MiB buffer for the SHA-256, then a read-only mapping
 * for the MIME parse, whose pages are released (MADV_DONTNEED: the file
 * keeps its bytes, the process stops counting them) as the parser reports
 * that it is done with them.
 */
#include "staging.h"

#include "blobfile.h"
#include "clock.h"
#include "log.h"
#include "mime-parse.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_WINDOW (1u << 20)
#define SWEEP_PERIOD_MS 1000

struct staging {
	uv_loop_t *loop;
	char *dir; /* data_dir/blobs/staging */
	unsigned per_user;
	uint64_t idle_ms;
	struct staging_file *head;
	size_t count;
	uv_timer_t timer;
	bool timer_live;
};

static void unlinked(uv_fs_t *req)
{
	if (req->result < 0 && req->result != UV_ENOENT)
		log_error("event=staging_unlink_failed err=%s", uv_strerror((int)req->result));
	uv_fs_req_cleanup(req);
	free(req);
}

static void entry_free(struct staging_file *f)
{
	free(f->user);
	free(f->actor);
	free(f);
}

/* Unlinks f's file on the thread pool and frees f (already off the list). */
static void entry_remove(struct staging *st, struct staging_file *f)
{
	uv_fs_t *req = malloc(sizeof(*req));
	if (req == NULL || uv_fs_unlink(st->loop, req, f->path, unlinked) < 0) {
		free(req);
		log_error("event=staging_unlink_lost hint=\"the start-up sweep removes the file\"");
	}
	entry_free(f);
}

static void unlist(struct staging *st, struct staging_file *f)
{
	for (struct staging_file **pp = &st->head; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			st->count--;
			return;
		}
	}
}

static void on_timer(uv_timer_t *t)
{
	struct staging *st = t->data;
	uint64_t now = clock_unix_ms();
	struct staging_file **pp = &st->head;
	while (*pp != NULL) {
		struct staging_file *f = *pp;
		if (f->state == STAGING_OPEN && !f->busy && f->last_ms + st->idle_ms < now) {
			log_info("event=append_staging_expired user=%s id=%016llx filled=%llu size=%llu",
				 log_quote(f->user, strlen(f->user)), (unsigned long long)f->id,
				 (unsigned long long)f->filled, (unsigned long long)f->size);
			*pp = f->next;
			st->count--;
			entry_remove(st, f);
			continue;
		}
		pp = &f->next;
	}
}

struct staging *staging_new(uv_loop_t *loop, const char *data_dir, unsigned per_user, uint64_t idle_ms)
{
	struct staging *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	size_t n = strlen(data_dir) + sizeof("/blobs/staging");
	st->dir = malloc(n);
	if (st->dir == NULL) {
		free(st);
		return NULL;
	}
	snprintf(st->dir, n, "%s/blobs/staging", data_dir);
	st->loop = loop;
	st->per_user = per_user ? per_user : 1;
	st->idle_ms = idle_ms;
	uv_timer_init(loop, &st->timer);
	st->timer.data = st;
	uint64_t period = idle_ms / 4 < SWEEP_PERIOD_MS ? idle_ms / 4 + 1 : SWEEP_PERIOD_MS;
	uv_timer_start(&st->timer, on_timer, period, period);
	uv_unref((uv_handle_t *)&st->timer);
	st->timer_live = true;
	return st;
}

void staging_close(struct staging *st)
{
	if (st == NULL || !st->timer_live)
		return;
	uv_timer_stop(&st->timer);
	uv_close((uv_handle_t *)&st->timer, NULL);
	st->timer_live = false;
}

void staging_free(struct staging **sp)
{
	struct staging *st = *sp;
	if (st == NULL)
		return;
	*sp = NULL;
	while (st->head != NULL) {
		struct staging_file *f = st->head;
		st->head = f->next;
		entry_free(f);
	}
	free(st->dir);
	free(st);
}

struct staging_file *staging_add(struct staging *st, const char *user, const char *actor, uint64_t size,
				 const char **why_r)
{
	unsigned mine = 0;
	for (struct staging_file *f = st->head; f != NULL; f = f->next)
		mine += strcmp(f->user, user) == 0;
	if (mine >= st->per_user) {
		*why_r = "too many large messages of this user in progress";
		return NULL;
	}
	if (st->count >= STAGING_MAX_TOTAL) {
		*why_r = "too many large messages in progress on this shard";
		return NULL;
	}
	struct staging_file *f = calloc(1, sizeof(*f));
	if (f == NULL || (f->user = strdup(user)) == NULL || (f->actor = strdup(actor ? actor : "")) == NULL) {
		if (f != NULL)
			entry_free(f);
		*why_r = "out of memory";
		return NULL;
	}
	do {
		if (RAND_bytes((unsigned char *)&f->id, sizeof(f->id)) != 1) {
			entry_free(f);
			*why_r = "no randomness";
			return NULL;
		}
	} while (f->id == 0 || staging_get(st, f->id, NULL, NULL) != NULL);
	int n = snprintf(f->path, sizeof(f->path), "%s/%016llx", st->dir, (unsigned long long)f->id);
	if (n < 0 || (size_t)n >= sizeof(f->path)) {
		entry_free(f);
		*why_r = "data_dir path too long";
		return NULL;
	}
	f->size = size;
	f->state = STAGING_CREATING;
	f->busy = true;
	f->last_ms = clock_unix_ms();
	f->next = st->head;
	st->head = f;
	st->count++;
	return f;
}

struct staging_file *staging_get(struct staging *st, uint64_t id, const char *user, const char *actor)
{
	for (struct staging_file *f = st->head; f != NULL; f = f->next)
		if (f->id == id)
			return (user == NULL || strcmp(f->user, user) == 0) &&
					       (user == NULL || strcmp(f->actor, actor ? actor : "") == 0)
				       ? f
				       : NULL;
	return NULL;
}

void staging_drop(struct staging *st, struct staging_file *f)
{
	if (f->busy || f->state == STAGING_COMMITTING) {
		f->dropped = true;
		return;
	}
	unlist(st, f);
	entry_remove(st, f);
}

bool staging_work_done(struct staging *st, struct staging_file *f)
{
	f->busy = false;
	f->last_ms = clock_unix_ms();
	if (!f->dropped)
		return true;
	unlist(st, f);
	entry_remove(st, f);
	return false;
}

void staging_release(struct staging *st, struct staging_file *f)
{
	f->busy = false;
	f->state = STAGING_OPEN;
	unlist(st, f);
	entry_remove(st, f);
}

size_t staging_count(const struct staging *st)
{
	return st->count;
}

/* ---- thread pool ------------------------------------------------------------ */

int staging_sweep(const char *data_dir, size_t *removed_r)
{
	char dir[STAGING_PATH_MAX], top[STAGING_PATH_MAX];
	*removed_r = 0;
	int n1 = snprintf(top, sizeof(top), "%s/blobs", data_dir);
	int n2 = snprintf(dir, sizeof(dir), "%s/blobs/staging", data_dir);
	if (n1 < 0 || n2 < 0 || (size_t)n2 >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((mkdir(top, 0700) < 0 && errno != EEXIST) || (mkdir(dir, 0700) < 0 && errno != EEXIST))
		return -1;
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char path[STAGING_PATH_MAX];
		int n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (n > 0 && (size_t)n < sizeof(path) && unlink(path) == 0)
			(*removed_r)++;
	}
	closedir(d);
	return 0;
}

int staging_file_create(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	return close(fd);
}

int staging_file_write(const char *path, uint64_t off, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	const unsigned char *b = p;
	while (n > 0) {
		ssize_t w = pwrite(fd, b, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : EIO;
			close(fd);
			errno = e;
			return -1;
		}
		b += w;
		off += (uint64_t)w;
		n -= (size_t)w;
	}
	return close(fd);
}

static int hash_fd(int fd, uint64_t size, unsigned char hash_r[32])
{
	unsigned char *win = malloc(HASH_WINDOW);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int rc = win != NULL && md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 ? 0 : -1;
	uint64_t off = 0;
	while (rc == 0 && off < size) {
		size_t want = size - off < HASH_WINDOW ? (size_t)(size - off) : HASH_WINDOW;
		ssize_t r = pread(fd, win, want, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || EVP_DigestUpdate(md, win, (size_t)r) != 1) {
			if (r == 0)
				errno = EIO; /* shorter than it was */
			rc = -1;
			break;
		}
		off += (uint64_t)r;
	}
	unsigned int hl = 32;
	if (rc == 0 && EVP_DigestFinal_ex(md, hash_r, &hl) != 1)
		rc = -1;
	EVP_MD_CTX_free(md);
	free(win);
	return rc;
}

struct release {
	unsigned char *base;
	size_t done; /* page-aligned offset released up to */
};

static void release_pages(void *ctx, size_t keep_from)
{
	struct release *r = ctx;
	long pg = sysconf(_SC_PAGESIZE);
	size_t upto = pg > 0 ? keep_from / (size_t)pg * (size_t)pg : 0;
	if (upto > r->done) {
		madvise(r->base + r->done, upto - r->done, MADV_DONTNEED);
		r->done = upto;
	}
}

int staging_file_seal(const char *path, uint64_t size, const char *data_dir, bool link_file, unsigned char hash_r[32],
		      unsigned char **tree_r, size_t *tree_len_r)
{
	*tree_r = NULL;
	*tree_len_r = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat sb;
	if (fstat(fd, &sb) < 0 || (uint64_t)sb.st_size != size || size == 0 || size > SIZE_MAX / 2) {
		int e = errno;
		close(fd);
		errno = (uint64_t)sb.st_size != size ? EINVAL : e;
		return -1;
	}
	if (fsync(fd) < 0 || hash_fd(fd, size, hash_r) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map != MAP_FAILED) {
		madvise(map, (size_t)size, MADV_SEQUENTIAL);
		struct release rel = {map, 0};
		struct mime_tree *tree = NULL;
		struct buf ser = {0};
		if (mime_parse_progress(map, (size_t)size, release_pages, &rel, &tree) == 0 &&
		    mime_tree_serialize(tree, &ser) == 0)
			*tree_r = buf_steal(&ser, tree_len_r);
		mime_tree_free(&tree);
		buf_free(&ser);
		munmap(map, (size_t)size);
	}
	/* Without a tree (no mapping, out of memory) readers parse on the fly. */
	if (link_file && blobfile_link(data_dir, hash_r, path, size) < 0) {
		int e = errno;
		free(*tree_r);
		*tree_r = NULL;
		*tree_len_r = 0;
		errno = e;
		return -1;
	}
	return 0;
}
