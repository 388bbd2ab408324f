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

static imgfetch_status take_lock(imgfetch_ctx *ctx, cache_entry *e, const char *url, bool no_wait)
{
	_cleanup_free_ char *lock_path = NULL;
	if (asprintf(&lock_path, "%s.lock", e->path) < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	e->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (e->lock_fd < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot open cache lock %s: %s", lock_path, strerror(errno));
	if (flock(e->lock_fd, LOCK_EX | LOCK_NB) == 0)
		return IMGFETCH_OK;
	if (errno != EWOULDBLOCK)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot lock %s: %s", lock_path, strerror(errno));
	if (no_wait)
		return ifx_fail(ctx, IMGFETCH_E_LOCKED,
		                "another imgfetch holds the cache lock %s for %s; try again later, or wait for it "
		                "(drop --no-wait)",
		                lock_path, url);
	ifx_log(ctx, IMGFETCH_LOG_NOTICE, "waiting for another imgfetch using %s (lock %s)", url, lock_path);
	/* Poll rather than block, so that cancellation is honoured while waiting. */
	for (;;) {
		if (ifx_cancelled(ctx))
			return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled while waiting for the cache lock %s",
			                lock_path);
		if (flock(e->lock_fd, LOCK_EX | LOCK_NB) == 0)
			return IMGFETCH_OK;
		if (errno != EWOULDBLOCK)
			return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot lock %s: %s", lock_path, strerror(errno));
		nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
	}
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

	digest *d = digest_new(IMGFETCH_HASH_SHA256);
	char key[129];
	if (!d || digest_update(d, url, strlen(url)) < 0 || digest_final_hex(d, key) < 0) {
		digest_free(d);
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot hash the URL");
		goto fail;
	}
	digest_free(d);
	key[16] = '\0';
	if (asprintf(&e.path, "%s/%s-%.200s", e.dir, key, name ? name : "download") < 0 ||
	    asprintf(&e.meta_path, "%s.json", e.path) < 0) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		goto fail;
	}
	st = take_lock(ctx, &e, url, no_wait);
	if (st < 0)
		goto fail;
	*ret = e;
	return IMGFETCH_OK;
fail:
	cache_close(&e);
	return st;
}

bool cache_meta_read(const cache_entry *e, cache_meta *ret)
{
	struct stat st;
	/* Our own file, but a damaged one must not make us read gigabytes. */
	if (stat(e->meta_path, &st) < 0 || st.st_size > CACHE_META_MAX)
		return false;
	json_error_t err;
	json_t *j = json_load_file(e->meta_path, 0, &err);
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
