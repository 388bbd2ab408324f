/* SPDX-License-Identifier: MIT */
#include "store/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/atomic.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/strutil.h"
#include "verify/digest.h"

#define CACHE_META_MAX (64 * 1024)
#define STALE_TEMP_AGE_S 3600

static int mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static char *default_dir(void)
{
	char *out = NULL;
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	if (xdg && xdg[0] == '/') {
		if (asprintf(&out, "%s/imgfetch", xdg) < 0)
			return NULL;
	} else if (home && home[0] == '/') {
		if (asprintf(&out, "%s/.cache/imgfetch", home) < 0)
			return NULL;
	}
	return out;
}

/* Whether fd is still the file at path: a lock file that was removed or
 * replaced after it was opened locks nothing. */
static bool lock_is_current(int fd, const char *path)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Opens the lock file, never through a link (a .lock pointing outside the
 * cache must not create or touch its target) and never waiting on a FIFO;
 * anything but a regular file there is removed and the lock made anew. */
static imgfetch_status open_lock(imgfetch_ctx *ctx, const char *lock_path, int *ret_fd)
{
	for (int tries = 0;; tries++) {
		mode_t type;
		int fd = open_nofollow_regular(AT_FDCWD, lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644, &type);
		if (fd >= 0) {
			*ret_fd = fd;
			return IMGFETCH_OK;
		}
		if (!type || tries >= 3)
			return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot open cache lock %s: %s", lock_path,
			                type ? "it keeps being replaced by something other than a file" : strerror(-fd));
		int r = remove_nonregular(AT_FDCWD, lock_path);
		if (r < 0 && r != -EEXIST)
			return ifx_fail(ctx, IMGFETCH_E_FAILED, "cache lock %s is %s and cannot be removed (%s); remove it",
			                lock_path, file_type_name(type), strerror(-r));
		ifx_log(ctx, IMGFETCH_LOG_WARNING, "cache lock %s was %s, not a file; removed it and made a new lock",
		        lock_path, file_type_name(type));
	}
}

static imgfetch_status take_lock(imgfetch_ctx *ctx, cache_entry *e, const char *url, bool no_wait)
{
	_cleanup_free_ char *lock_path = NULL;
	if (asprintf(&lock_path, "%s.lock", e->path) < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	bool said = false;
	for (int reopened = 0;; reopened++) {
		if (reopened > 100)
			return ifx_fail(ctx, IMGFETCH_E_FAILED, "cache lock %s keeps being removed or replaced", lock_path);
		imgfetch_status st = open_lock(ctx, lock_path, &e->lock_fd);
		if (st < 0)
			return st;
		for (;;) {
			if (flock(e->lock_fd, LOCK_EX | LOCK_NB) == 0)
				break;
			if (errno != EWOULDBLOCK)
				return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot lock %s: %s", lock_path, strerror(errno));
			if (no_wait)
				return ifx_fail(ctx, IMGFETCH_E_LOCKED,
				                "another imgfetch holds the cache lock %s for %s; try again later, or wait "
				                "for it (drop --no-wait)",
				                lock_path, url);
			if (!said)
				ifx_log(ctx, IMGFETCH_LOG_NOTICE, "waiting for another imgfetch using %s (lock %s)", url,
				        lock_path);
			said = true;
			/* Poll rather than block, so that cancellation is honoured while waiting. */
			if (ifx_cancelled(ctx))
				return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled while waiting for the cache lock %s",
				                lock_path);
			nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
		}
		/* Someone removed or replaced the lock file meanwhile (a damaged
		 * one healed by another run): lock the one that is there now. */
		if (lock_is_current(e->lock_fd, lock_path))
			return IMGFETCH_OK;
		close(e->lock_fd);
		e->lock_fd = -1;
	}
}

/* Under the lock: an entry or its metadata that is not a regular file (a
 * link, a directory, a FIFO) is removed, so that nothing later follows it,
 * waits on it or fails to install over it; the entry is downloaded again. */
static imgfetch_status heal_names(imgfetch_ctx *ctx, const cache_entry *e)
{
	const char *names[] = { e->path, e->meta_path };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct stat st;
		if (lstat(names[i], &st) < 0 || S_ISREG(st.st_mode))
			continue;
		int r = remove_nonregular(AT_FDCWD, names[i]);
		if (r < 0 && r != -EEXIST)
			return ifx_fail(ctx, IMGFETCH_E_FAILED, "cache entry %s is %s, not a file, and cannot be removed "
			                "(%s); remove it", names[i], file_type_name(st.st_mode), strerror(-r));
		ifx_log(ctx, IMGFETCH_LOG_WARNING, "cache entry %s was %s, not a file; removed it", names[i],
		        file_type_name(st.st_mode));
	}
	return IMGFETCH_OK;
}

imgfetch_status cache_open(imgfetch_ctx *ctx, const char *dir, const char *url, bool no_wait, cache_entry *ret)
{
	cache_entry e = CACHE_ENTRY_INIT;
	_cleanup_free_ char *name = url_file_name(url);
	imgfetch_status st;

	e.dir = dir ? strdup(dir) : default_dir();
	if (!e.dir)
		return ifx_fail(ctx, IMGFETCH_E_INVALID,
		                "no cache directory: set XDG_CACHE_HOME or HOME, or give one explicitly");
	int r = mkdir_p(e.dir, 0755);
	if (r < 0) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot create cache directory %s: %s", e.dir, strerror(-r));
		goto fail;
	}
	atomic_sweep_dir(e.dir, STALE_TEMP_AGE_S);

	char key[129];
	if (digest_hex_of(IMGFETCH_HASH_SHA256, url, strlen(url), key) < 0) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot hash the URL");
		goto fail;
	}
	key[16] = '\0';
	if (asprintf(&e.path, "%s/%s-%.200s", e.dir, key, name ? name : "download") < 0 ||
	    asprintf(&e.meta_path, "%s.json", e.path) < 0) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		goto fail;
	}
	st = take_lock(ctx, &e, url, no_wait);
	if (st < 0)
		goto fail;
	st = heal_names(ctx, &e);
	if (st < 0)
		goto fail;
	*ret = e;
	return IMGFETCH_OK;
fail:
	cache_close(&e);
	return st;
}

int cache_entry_open(const cache_entry *e)
{
	return open_nofollow_regular(AT_FDCWD, e->path, O_RDONLY | O_CLOEXEC, 0, NULL);
}

bool cache_meta_read(const cache_entry *e, cache_meta *ret)
{
	struct stat st;
	_cleanup_close_ int fd = open_nofollow_regular(AT_FDCWD, e->meta_path, O_RDONLY | O_CLOEXEC, 0, NULL);
	/* Our own file, but a damaged one must not make us read gigabytes. */
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size > CACHE_META_MAX)
		return false;
	json_error_t err;
	json_t *j = json_loadfd(fd, 0, &err);
	if (!j)
		return false;
	bool ok = false;
	const char *s256 = json_string_value(json_object_get(j, "sha256"));
	const char *s512 = json_string_value(json_object_get(j, "sha512"));
	json_t *size = json_object_get(j, "size");
	cache_meta m = { 0 };
	if (s256 && hex_valid(s256, 64) && json_is_integer(size) && json_integer_value(size) >= 0) {
		hex_lower(s256, 64, m.sha256);
		if (s512 && hex_valid(s512, 128))
			hex_lower(s512, 128, m.sha512);
		m.size = (uint64_t)json_integer_value(size);
		*ret = m;
		ok = true;
	}
	json_decref(j);
	return ok;
}

int cache_meta_write(const cache_entry *e, const char *url, const char *final_url, const cache_meta *m,
                     const char *verifier)
{
	char stamp[32];
	time_t t = time(NULL);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "url", url, "final_url", final_url ? final_url : url,
	                      "sha256", m->sha256, "size", (json_int_t)m->size, "verifier", verifier, "fetched_at",
	                      stamp);
	if (!j)
		return -ENOMEM;
	if (m->sha512[0])
		json_object_set_new(j, "sha512", json_string(m->sha512));
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(j);
	if (!text)
		return -ENOMEM;

	atomic_file f = ATOMIC_FILE_INIT;
	int r = atomic_file_open(e->meta_path, 0644, &f);
	if (r == 0) {
		size_t n = strlen(text);
		if (write(f.fd, text, n) != (ssize_t)n || write(f.fd, "\n", 1) != 1)
			r = -EIO;
		else
			r = atomic_file_commit(&f);
	}
	atomic_file_abort(&f);
	free(text);
	return r;
}

void cache_remove(const cache_entry *e)
{
	unlink(e->path);
	unlink(e->meta_path);
}

void cache_close(cache_entry *e)
{
	if (e->lock_fd >= 0)
		close(e->lock_fd);
	free(e->dir);
	free(e->path);
	free(e->meta_path);
	*e = (cache_entry)CACHE_ENTRY_INIT;
}
