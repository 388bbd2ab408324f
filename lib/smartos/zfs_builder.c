/* SPDX-License-Identifier: MIT */
#include "smartos/zfs_builder.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "smartos/command.h"
#include "util/cleanup.h"
#include "util/fileio.h"

#define BUILD_PREFIX "imgfetch-build-"
#define SNAPSHOT "final"
#define STALE_AFTER_S 3600          /* a build dataset this old belongs to a build that died */
#define DEVICE_WAIT_MS 10000        /* for the zvol's device node after zfs create */
#define LOCK_POLL_MS 100
#define DESTROY_ATTEMPTS 5          /* a zvol just closed can be "busy" for a moment (udev probing it) */
#define DESTROY_RETRY_MS 1000
#define LIST_MAX (4u << 20)         /* zfs list output; about 40 000 datasets */
#define ZFS_NAME_MAX 255            /* ZFS_MAX_DATASET_NAME_LEN - 1 */
#define DEFAULT_LOCK_DIR "/var/tmp/imgfetch/locks"

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---------------------------------------------------------------- names */

/* A dataset name we are willing to hand to zfs: components of ZFS's own
 * character set, none empty, and nothing zfs could take for an option
 * ('-' first) or a snapshot/bookmark ('@', '#'). */
static bool dataset_name_ok(const char *s)
{
	if (!s || !*s || *s == '-' || *s == '/' || strlen(s) > ZFS_NAME_MAX)
		return false;
	for (const char *p = s; *p; p++) {
		if (*p == '/' && (p[1] == '/' || p[1] == '\0'))
			return false;
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.: /", *p))
			return false;
	}
	return true;
}

static bool uuid_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 64)
		return false;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", *s))
			return false;
	return true;
}

/* The lock name as a file name: anything outside [A-Za-z0-9._-] becomes
 * '_', and so does a leading '.', so that no name escapes lock_dir or hides
 * there. Distinct names may map to one file; they then only wait for each
 * other. Caller frees. */
static char *lock_file_name(const char *name)
{
	size_t n = strlen(name);
	if (n > 128)
		n = 128;
	char *out = malloc(n + sizeof(".lock") + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		          c == '_' || (c == '.' && i > 0);
		out[i] = ok ? c : '_';
	}
	if (n == 0)
		out[n++] = '_';
	memcpy(out + n, ".lock", sizeof(".lock"));
	return out;
}

/* ----------------------------------------------------------------- lock */

static int mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, mode) < 0 && errno != EEXIST)
				return -errno;
			*s = c;
			if (!c)
				return 0;
		}
	}
}

/* Holds the build lock in *ret_fd (closing it releases the lock). Waits
 * while another build holds it, polling so that cancellation is honoured. */
static imgfetch_status take_lock(imgfetch_ctx *ctx, const zfs_build *b, int *ret_fd)
{
	const char *dir = b->opts->lock_dir ? b->opts->lock_dir : DEFAULT_LOCK_DIR;
	const char *name = b->opts->lock_name ? b->opts->lock_name : b->uuid;
	_cleanup_free_ char *file = lock_file_name(name);
	_cleanup_free_ char *path = NULL;
	if (!file || asprintf(&path, "%s/%s", dir, file) < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	int r = mkdir_p(dir, 0700);
	if (r < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot create the lock directory %s: %s (choose another with "
		                "--lock-dir)", dir, strerror(-r));
	mode_t type;
	_cleanup_close_ int fd = open_nofollow_regular(AT_FDCWD, path, O_RDWR | O_CREAT | O_CLOEXEC, 0600, &type);
	if (fd < 0 && type)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot open the build lock %s: it is %s, not a file (remove it)",
		                path, file_type_name(type));
	if (fd < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot open the build lock %s: %s", path, strerror(-fd));
	bool said = false;
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot lock %s: %s", path, strerror(errno));
		if (!said) {
			ifx_log(ctx, IMGFETCH_LOG_NOTICE, "waiting for another build of %s to finish (lock %s)", name, path);
			said = true;
		}
		if (ifx_cancelled(ctx))
			return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled while waiting for the build lock %s", path);
		sleep_ms(LOCK_POLL_MS);
	}
	*ret_fd = TAKE_FD(fd);
	return IMGFETCH_OK;
}

/* ------------------------------------------------------- parent dataset */

/* Captured stdout without surrounding whitespace; caller frees. */
static imgfetch_status run_capture(imgfetch_ctx *ctx, const char *const *argv, char **ret)
{
	command_result r;
	imgfetch_status st = command_run(ctx, argv, NULL, &r);
	if (st == IMGFETCH_OK) {
		char *s = r.out, *e = r.out + r.out_len;
		while (s < e && strchr(" \t\r\n", *s))
			s++;
		while (e > s && strchr(" \t\r\n", e[-1]))
			e--;
		*ret = strndup(s, (size_t)(e - s));
		if (!*ret)
			st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	}
	command_result_free(&r);
	return st;
}

static bool zone_name_ok(const char *s)
{
	if (!*s || strlen(s) > 64 || *s == '-' || *s == '.')
		return false;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.", *s))
			return false;
	return true;
}

/* opts->dataset; else the delegated data dataset in a non-global zone
 * (which must be zoned=on, or the zone cannot manage its zvols); else
 * "zones". Caller frees. */
static imgfetch_status parent_dataset(imgfetch_ctx *ctx, const zfs_build *b, char **ret)
{
	if (b->opts->dataset) {
		if (!dataset_name_ok(b->opts->dataset))
			return ifx_fail(ctx, IMGFETCH_E_INVALID, "'%s' is not a usable dataset name for --dataset",
			                b->opts->dataset);
		*ret = strdup(b->opts->dataset);
		return *ret ? IMGFETCH_OK : ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	}
	if (!command_on_path("zonename")) {
		*ret = strdup("zones");
		return *ret ? IMGFETCH_OK : ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	}
	_cleanup_free_ char *zone = NULL;
	imgfetch_status st = run_capture(ctx, (const char *const[]){ "zonename", NULL }, &zone);
	if (st != IMGFETCH_OK)
		return st;
	if (strcmp(zone, "global") == 0) {
		*ret = strdup("zones");
		return *ret ? IMGFETCH_OK : ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	}
	if (!zone_name_ok(zone))
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "zonename printed '%.64s', which is not a zone name; pass "
		                "--dataset", zone);
	_cleanup_free_ char *ds = NULL;
	if (asprintf(&ds, "zones/%s/data", zone) < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	_cleanup_free_ char *zoned = NULL;
	st = run_capture(ctx, (const char *const[]){ "zfs", "get", "-H", "-o", "value", "zoned", ds, NULL }, &zoned);
	if (st == IMGFETCH_E_CANCELLED)
		return st;
	if (st != IMGFETCH_OK || strcmp(zoned, "on") != 0) {
		char why[640];
		if (st != IMGFETCH_OK)
			snprintf(why, sizeof(why), "its zoned property could not be read (%s)", imgfetch_ctx_error(ctx));
		else
			snprintf(why, sizeof(why), "it has zoned=%.32s", zoned);
		return ifx_fail(ctx, IMGFETCH_E_INVALID,
		                "this is the non-global zone %s, where the zfs builder uses %s, but %s: from the global "
		                "zone, delegate a dataset to this zone (it then has zoned=on), or pass --dataset with "
		                "one this zone may create volumes in",
		                zone, ds, why);
	}
	ifx_log(ctx, IMGFETCH_LOG_INFO, "non-global zone %s: building under %s", zone, ds);
	*ret = TAKE_PTR(ds);
	return IMGFETCH_OK;
}

/* ---------------------------------------------------------------- sweep */

/* Destroys <parent>/imgfetch-build-* volumes older than an hour: what builds
 * killed before their cleanup left behind. Never fatal: a failure only
 * means the leftovers stay until the next build. */
static void sweep(imgfetch_ctx *ctx, const char *parent)
{
	const char *const argv[] = { "zfs", "list", "-H", "-p", "-o", "name,creation", "-t", "volume", "-r", parent,
		                     NULL };
	command_result r;
	imgfetch_status st = command_run(ctx, argv, &(command_opts){ .max_stdout = LIST_MAX }, &r);
	if (st != IMGFETCH_OK) {
		if (st != IMGFETCH_E_CANCELLED)
			ifx_log(ctx, IMGFETCH_LOG_WARNING, "could not look for stale build datasets: %s",
			        imgfetch_ctx_error(ctx));
		command_result_free(&r);
		return;
	}
	if (r.stdout_truncated)
		ifx_log(ctx, IMGFETCH_LOG_WARNING, "zfs list -r %s printed more than %u bytes; looked for stale build "
		        "datasets only in the first part", parent, LIST_MAX);
	size_t plen = strlen(parent);
	time_t now = time(NULL);
	/* Only complete lines: a truncated listing ends in the middle of one. */
	for (char *line = r.out, *nl; (nl = memchr(line, '\n', r.out_len - (size_t)(line - r.out))); line = nl + 1) {
		*nl = '\0';
		char *tab = strchr(line, '\t');
		if (!tab || strchr(tab + 1, '\t'))
			continue;
		*tab = '\0';
		const char *name = line, *rest = name + plen + 1;
		if (strncmp(name, parent, plen) != 0 || name[plen] != '/' ||
		    strncmp(rest, BUILD_PREFIX, strlen(BUILD_PREFIX)) != 0 || strchr(rest, '/') || strchr(rest, '@'))
			continue;
		char *end;
		errno = 0;
		long long created = strtoll(tab + 1, &end, 10);
		if (errno || end == tab + 1 || *end || created <= 0)
			continue;
		if ((long long)now - created <= STALE_AFTER_S)
			continue;
		ifx_log(ctx, IMGFETCH_LOG_NOTICE, "removing %s, left behind by a build %lld minutes ago", name,
		        ((long long)now - created) / 60);
		command_result d;
		st = command_run(ctx, (const char *const[]){ "zfs", "destroy", "-r", name, NULL }, NULL, &d);
		command_result_free(&d);
		if (st == IMGFETCH_E_CANCELLED)
			break;
		if (st != IMGFETCH_OK)
			ifx_log(ctx, IMGFETCH_LOG_WARNING, "could not remove the stale build dataset: %s",
			        imgfetch_ctx_error(ctx));
	}
	command_result_free(&r);
}

/* ---------------------------------------------------------------- build */

static const char *default_zvol_dir(void)
{
	struct utsname u;
	if (uname(&u) == 0 && strcmp(u.sysname, "SunOS") == 0)
		return "/dev/zvol/rdsk";
	return "/dev/zvol";
}

/* zfs create returns before the device node exists (udev on Linux). */
static imgfetch_status wait_for_device(imgfetch_ctx *ctx, const char *device)
{
	for (unsigned waited = 0;; waited += 50) {
		struct stat st;
		if (stat(device, &st) == 0)
			return IMGFETCH_OK;
		if (errno != ENOENT)
			return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot reach the zvol device %s: %s", device,
			                strerror(errno));
		if (ifx_cancelled(ctx))
			return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled while waiting for %s", device);
		if (waited >= DEVICE_WAIT_MS)
			return ifx_fail(ctx, IMGFETCH_E_FAILED,
			                "the zvol device %s did not appear within %u s of zfs create; if this system "
			                "puts zvol devices elsewhere, pass --zvol-dir",
			                device, DEVICE_WAIT_MS / 1000);
		sleep_ms(50);
	}
}

/* zfs destroy -r, run to the end even when cancelled (it is the cleanup),
 * and retried while the volume is still busy. *ret_missing (may be NULL):
 * it failed because there is no such dataset. */
static imgfetch_status destroy_dataset(imgfetch_ctx *ctx, const char *ds, bool *ret_missing)
{
	imgfetch_status st = IMGFETCH_E_FAILED;
	for (int attempt = 1; attempt <= DESTROY_ATTEMPTS; attempt++) {
		command_result r;
		st = command_run(ctx, (const char *const[]){ "zfs", "destroy", "-r", ds, NULL },
		                 &(command_opts){ .uncancellable = true }, &r);
		bool busy = st == IMGFETCH_E_FAILED && strstr(r.err, "busy");
		if (ret_missing)
			*ret_missing = st == IMGFETCH_E_FAILED && strstr(r.err, "does not exist");
		command_result_free(&r);
		if (!busy || attempt == DESTROY_ATTEMPTS)
			break;
		ifx_log(ctx, IMGFETCH_LOG_INFO, "%s is still busy; trying to destroy it again", ds);
		sleep_ms(DESTROY_RETRY_MS);
	}
	return st;
}

typedef struct send_sink {
	gz_output *out;
	uint64_t bytes;
} send_sink;

static int push_stream(void *u, const void *buf, size_t n)
{
	send_sink *s = u;
	s->bytes += n;
	return gz_output_push(s->out, buf, n);
}

/* Everything between create and destroy. */
static imgfetch_status fill_and_send(imgfetch_ctx *ctx, const zfs_build *b, const char *ds, const char *device)
{
	imgfetch_status st = wait_for_device(ctx, device);
	if (st != IMGFETCH_OK)
		return st;
	st = b->fill(b->fill_u, ctx, device);
	if (ifx_cancelled(ctx))
		return st == IMGFETCH_E_CANCELLED ? st
		                                  : ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled while writing %s", device);
	if (st != IMGFETCH_OK)
		return st;

	_cleanup_free_ char *snap = NULL;
	if (asprintf(&snap, "%s@" SNAPSHOT, ds) < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	command_result r;
	st = command_run(ctx, (const char *const[]){ "zfs", "snapshot", snap, NULL }, NULL, &r);
	command_result_free(&r);
	if (st != IMGFETCH_OK)
		return st;

	ifx_log(ctx, IMGFETCH_LOG_INFO, "sending %s", snap);
	send_sink sink = { .out = b->out };
	st = command_run(ctx, (const char *const[]){ "zfs", "send", snap, NULL },
	                 &(command_opts){ .sink = push_stream, .sink_u = &sink }, &r);
	command_result_free(&r);
	if (st == IMGFETCH_E_FAILED && *gz_output_error(b->out))
		ifx_fail_append(ctx, "%s", gz_output_error(b->out));
	if (st != IMGFETCH_OK)
		return st;
	if (sink.bytes == 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "zfs send %s succeeded but wrote no stream", snap);
	ifx_log(ctx, IMGFETCH_LOG_INFO, "zfs send stream of %s: %" PRIu64 " bytes", snap, sink.bytes);
	return IMGFETCH_OK;
}

/* zfs create was stopped by a cancellation: it may well have made the
 * volume already, which must not be left behind (destroy always, also on
 * SIGINT). That there is none is not a failure of the cleanup. */
static imgfetch_status destroy_after_cancelled_create(imgfetch_ctx *ctx, const char *ds)
{
	char saved[sizeof(ctx->error)];
	memcpy(saved, ctx->error, sizeof(saved));
	bool missing = false;
	imgfetch_status dst = destroy_dataset(ctx, ds, &missing);
	char derr[sizeof(ctx->error)];
	memcpy(derr, ctx->error, sizeof(derr));
	ifx_fail(ctx, IMGFETCH_E_CANCELLED, "%s", saved);
	if (dst != IMGFETCH_OK && !missing)
		ifx_fail_append(ctx, "and the cleanup failed (%s): remove the build volume with 'zfs destroy -r %s'",
		                derr, ds);
	return IMGFETCH_E_CANCELLED;
}

static imgfetch_status check_build(imgfetch_ctx *ctx, const zfs_build *b)
{
	if (!b || !b->opts || !b->fill || !b->out)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "zfs builder: incomplete build description");
	if (!uuid_ok(b->uuid))
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "zfs builder: '%.80s' is not a usable image UUID",
		                b->uuid ? b->uuid : "(none)");
	uint32_t bs = b->volblocksize;
	if (bs < 512 || bs > 128 * 1024 || (bs & (bs - 1)))
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "volblocksize %" PRIu32 " is not a power of two from 512 to "
		                "131072", bs);
	if (b->volsize == 0 || b->volsize % bs)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "zvol size %" PRIu64 " is not a positive multiple of the "
		                "volblocksize %" PRIu32, b->volsize, bs);
	return IMGFETCH_OK;
}

imgfetch_status zfs_build_run(imgfetch_ctx *ctx, const zfs_build *b)
{
	imgfetch_status st = check_build(ctx, b);
	if (st != IMGFETCH_OK)
		return st;
	if (!command_on_path("zfs"))
		return ifx_fail(ctx, IMGFETCH_E_INVALID,
		                "the zfs builder needs the zfs command; use the native builder (default)");
	_cleanup_free_ char *parent = NULL;
	st = parent_dataset(ctx, b, &parent);
	if (st != IMGFETCH_OK)
		return st;
	_cleanup_free_ char *ds = NULL;
	if (asprintf(&ds, "%s/" BUILD_PREFIX "%s", parent, b->uuid) < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	if (strlen(ds) + sizeof("@" SNAPSHOT) - 1 > ZFS_NAME_MAX)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "the build dataset name %s@" SNAPSHOT " is longer than ZFS "
		                "allows (%d); pass a shorter --dataset", ds, ZFS_NAME_MAX);
	const char *zvol_dir = b->opts->zvol_dir ? b->opts->zvol_dir : default_zvol_dir();
	_cleanup_free_ char *device = NULL;
	if (asprintf(&device, "%s/%s", zvol_dir, ds) < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");

	_cleanup_close_ int lock_fd = -1;
	st = take_lock(ctx, b, &lock_fd);
	if (st != IMGFETCH_OK)
		return st;
	sweep(ctx, parent);
	if (ifx_cancelled(ctx))
		return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled before %s was created", ds);

	char volsize[24], bs_opt[32];
	snprintf(volsize, sizeof(volsize), "%" PRIu64, b->volsize);
	snprintf(bs_opt, sizeof(bs_opt), "volblocksize=%" PRIu32, b->volblocksize);
	ifx_log(ctx, IMGFETCH_LOG_INFO, "building in the zvol %s (%s bytes, volblocksize %" PRIu32 ")", ds, volsize,
	        b->volblocksize);
	command_result r;
	st = command_run(ctx, (const char *const[]){ "zfs", "create", "-s", "-V", volsize, "-o", bs_opt, ds, NULL },
	                 NULL, &r);
	bool exists = st == IMGFETCH_E_FAILED && strstr(r.err, "exists");
	command_result_free(&r);
	/* A failed create made nothing: destroying would only hit a dataset of
	 * the same name that is not ours. */
	if (exists)
		ifx_fail_append(ctx, "a build of this image that did not finish left it behind: remove it with "
		                "'zfs destroy -r %s' (builds remove such leftovers once they are an hour old)", ds);
	if (st == IMGFETCH_E_CANCELLED)
		return destroy_after_cancelled_create(ctx, ds);
	if (st != IMGFETCH_OK)
		return st;

	st = fill_and_send(ctx, b, ds, device);

	/* The build's own error is what the caller reports; keep it across the
	 * cleanup, which runs commands of its own. */
	char saved[sizeof(ctx->error)];
	memcpy(saved, ctx->error, sizeof(saved));
	imgfetch_status dst = destroy_dataset(ctx, ds, NULL);
	if (st != IMGFETCH_OK) {
		char derr[sizeof(ctx->error)];
		memcpy(derr, ctx->error, sizeof(derr));
		ifx_fail(ctx, st, "%s", saved);
		if (dst != IMGFETCH_OK)
			ifx_fail_append(ctx, "and the cleanup failed too (%s): remove the build volume with "
			                "'zfs destroy -r %s'", derr, ds);
		return st;
	}
	if (dst != IMGFETCH_OK)
		ifx_log(ctx, IMGFETCH_LOG_WARNING, "the image is complete, but its build volume could not be removed "
		        "(%s): remove it with 'zfs destroy -r %s' (the next build sweeps it after an hour)",
		        imgfetch_ctx_error(ctx), ds);
	return IMGFETCH_OK;
}
