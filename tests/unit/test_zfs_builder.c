/* SPDX-License-Identifier: MIT */
/*
 * zfs_build_run() against tests/stand_ins/zfs (a script that records its
 * arguments and imitates zfs with plain files; not ZFS) and
 * tests/stand_ins/zonename, put first on PATH. Checks the command sequence,
 * the names, the stream reaching the gz_output, the sweep, the zone rules,
 * and that the build volume is destroyed and no command left running on
 * every failure and on cancellation.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "core/ctx.h"
#include "smartos/command.h"
#include "smartos/zfs_builder.h"
#include "store/gz_output.h"
#include "tap.h"

#define UUID "2f1b6c2e-8d0a-5a57-9c1e-0123456789ab"
#define VOLSIZE (1024 * 1024)
#define BS 8192

/* Sized so that every path built from them provably fits. */
static char g_standins[1024];
static char g_base[512];

/* One test's world: a directory with the stand-in's log, its /dev/zvol
 * stand-in, the fake pool listing, the lock directory and the output. */
typedef struct world {
	char dir[640];
	char log[700];
	char zdir[700];
	char datasets[700];
	char pids[700];
	char locks[700];
	char out[700];
	imgfetch_zvol_opts opts;
	imgfetch_ctx *ctx;
	char logbuf[16384];        /* everything the library logged */
} world;

static void on_log(void *u, imgfetch_log_level level, const char *msg)
{
	world *w = u;
	size_t n = strlen(w->logbuf);
	snprintf(w->logbuf + n, sizeof(w->logbuf) - n, "%d %s\n", (int)level, msg);
}

static void set_path(const char *first)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s:/usr/bin:/bin", first);
	setenv("PATH", path, 1);
}

static void world_init(world *w, const char *name)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->dir, sizeof(w->dir), "%s/%s", g_base, name);
	mkdir(w->dir, 0755);
	snprintf(w->log, sizeof(w->log), "%s/zfs.log", w->dir);
	snprintf(w->zdir, sizeof(w->zdir), "%s/dev-zvol", w->dir);
	snprintf(w->datasets, sizeof(w->datasets), "%s/datasets", w->dir);
	snprintf(w->pids, sizeof(w->pids), "%s/pids", w->dir);
	snprintf(w->locks, sizeof(w->locks), "%s/var/locks", w->dir);
	snprintf(w->out, sizeof(w->out), "%s/out.zfs.gz", w->dir);
	mkdir(w->zdir, 0755);
	setenv("ZFS_STANDIN_LOG", w->log, 1);
	setenv("ZFS_STANDIN_DIR", w->zdir, 1);
	setenv("ZFS_STANDIN_DATASETS", w->datasets, 1);
	setenv("ZFS_STANDIN_PIDS", w->pids, 1);
	unsetenv("ZFS_STANDIN_FAIL");
	unsetenv("ZFS_STANDIN_BUSY");
	unsetenv("ZFS_STANDIN_SEND_SLEEP");
	unsetenv("ZFS_STANDIN_CREATE_SLEEP");
	unsetenv("ZFS_STANDIN_CREATE_SLEEP_BEFORE");
	unsetenv("ZFS_STANDIN_ZONED");
	unsetenv("ZONENAME_STANDIN_ZONE");
	set_path(g_standins);
	w->opts = (imgfetch_zvol_opts){ .zvol_dir = w->zdir, .lock_dir = w->locks };
	w->ctx = imgfetch_ctx_new();
	imgfetch_ctx_set_log(w->ctx, on_log, w);
}

static void world_free(world *w)
{
	imgfetch_ctx_free(w->ctx);
	w->ctx = NULL;
}

/* The stand-in's calls, one per line, into lines[] (pointers into buf). */
static size_t read_calls(const world *w, char *buf, size_t len, char **lines, size_t max)
{
	buf[0] = '\0';
	FILE *f = fopen(w->log, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	size_t count = 0;
	for (char *s = buf, *nl; *s && (nl = strchr(s, '\n')) && count < max; s = nl + 1) {
		*nl = '\0';
		lines[count++] = s;
	}
	return count;
}

/* The calls equal `want` (NULL-terminated), in order. */
static bool calls_are(const world *w, const char *const *want, const char *what)
{
	char buf[16384];
	char *lines[64];
	size_t n = read_calls(w, buf, sizeof(buf), lines, 64);
	size_t nw = 0;
	while (want[nw])
		nw++;
	bool same = n == nw;
	for (size_t i = 0; same && i < n; i++)
		same = strcmp(lines[i], want[i]) == 0;
	TAP_CHECK(same, "%s: the zfs calls are exactly the expected sequence", what);
	if (!same) {
		for (size_t i = 0; i < n; i++)
			tap_diag("  called:   zfs %s", lines[i]);
		for (size_t i = 0; i < nw; i++)
			tap_diag("  expected: zfs %s", want[i]);
	}
	return same;
}

static bool called(const world *w, const char *line)
{
	char buf[16384];
	char *lines[64];
	size_t n = read_calls(w, buf, sizeof(buf), lines, 64);
	for (size_t i = 0; i < n; i++)
		if (strcmp(lines[i], line) == 0)
			return true;
	return false;
}

static size_t ncalls(const world *w)
{
	char buf[16384];
	char *lines[64];
	return read_calls(w, buf, sizeof(buf), lines, 64);
}

/* Every stand-in process that was started has gone, and none is left unreaped. */
static void check_nothing_running(const world *w, const char *what)
{
	FILE *f = fopen(w->pids, "r");
	bool all_gone = true;
	int pid;
	char sub[64];
	while (f && fscanf(f, "%d %63s", &pid, sub) == 2) {
		if (kill(pid, 0) == 0 || errno != ESRCH) {
			all_gone = false;
			tap_diag("  zfs %s (pid %d) is still there", sub, pid);
		}
	}
	if (f)
		fclose(f);
	TAP_CHECK(all_gone, "%s: no stand-in process is left running", what);
	int status;
	TAP_CHECK(waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD, "%s: no child left to reap", what);
}

/* ------------------------------------------------------------ the fill */

typedef struct fill_state {
	world *w;
	int calls;
	char device[1024];
	imgfetch_status ret;     /* what the fill returns */
	bool cancel;             /* cancel the context from inside */
} fill_state;

/* What the fill writes: a pattern at the start and near the end, zeros
 * elsewhere, as a decoded disk would be. */
static void pattern(unsigned char *disk)
{
	memset(disk, 0, VOLSIZE);
	for (size_t i = 0; i < 3 * BS; i++)
		disk[i] = (unsigned char)(i * 7 + 1);
	for (size_t i = VOLSIZE - 2 * BS; i < VOLSIZE - BS; i++)
		disk[i] = (unsigned char)(i ^ 0x5a);
}

static imgfetch_status fill(void *u, imgfetch_ctx *ctx, const char *device)
{
	fill_state *f = u;
	f->calls++;
	snprintf(f->device, sizeof(f->device), "%s", device);
	if (f->cancel) {
		imgfetch_ctx_cancel(ctx);
		return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled while writing the disk");
	}
	if (f->ret != IMGFETCH_OK)
		return ifx_fail(ctx, f->ret, "writing the disk to %s failed: test fill failure", device);
	unsigned char *disk = malloc(VOLSIZE);
	pattern(disk);
	int fd = open(device, O_WRONLY | O_CLOEXEC);
	bool ok = fd >= 0 && pwrite(fd, disk, 3 * BS, 0) == 3 * BS &&
	          pwrite(fd, disk + VOLSIZE - 2 * BS, BS, VOLSIZE - 2 * BS) == BS;
	if (fd >= 0)
		close(fd);
	free(disk);
	return ok ? IMGFETCH_OK : ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot write %s: %s", device, strerror(errno));
}

/* -------------------------------------------------------- running builds */

typedef struct build_run {
	imgfetch_status st;
	char error[1024];
	bool committed;
	unsigned char *stream;   /* the decompressed output, when committed */
	size_t stream_len;
} build_run;

static bool inflate_file(const char *path, unsigned char **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	static unsigned char in[4 << 20];
	size_t n = fread(in, 1, sizeof(in), f);
	fclose(f);
	size_t cap = 4 << 20, len = 0;
	unsigned char *out = malloc(cap);
	z_stream z = { 0 };
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
		free(out);
		return false;
	}
	z.next_in = in;
	z.avail_in = (uInt)n;
	int r = Z_OK;
	/* Several gzip members concatenated are one stream too. */
	while (z.avail_in > 0) {
		z.next_out = out + len;
		z.avail_out = (uInt)(cap - len);
		r = inflate(&z, Z_NO_FLUSH);
		len = cap - z.avail_out;
		if (r == Z_STREAM_END) {
			if (inflateReset(&z) != Z_OK)
				break;
		} else if (r != Z_OK || z.avail_out == 0) {
			break;
		}
	}
	inflateEnd(&z);
	if (r != Z_STREAM_END) {
		free(out);
		return false;
	}
	*ret = out;
	*ret_len = len;
	return true;
}

static void run_build(world *w, fill_state *fs, uint32_t bs, build_run *out)
{
	memset(out, 0, sizeof(*out));
	char err[512];
	gz_output *g = NULL;
	if (gz_output_open(w->out, 1, 1, &g, err, sizeof(err)) < 0) {
		tap_diag("gz_output_open: %s", err);
		out->st = IMGFETCH_E_FAILED;
		return;
	}
	fs->w = w;
	zfs_build b = { .opts = &w->opts, .uuid = UUID, .volsize = VOLSIZE, .volblocksize = bs, .fill = fill,
		        .fill_u = fs, .out = g };
	out->st = zfs_build_run(w->ctx, &b);
	snprintf(out->error, sizeof(out->error), "%s", imgfetch_ctx_error(w->ctx));
	if (out->st != IMGFETCH_OK)
		tap_diag("zfs_build_run: %s: %s", imgfetch_status_name(out->st), out->error);
	if (out->st == IMGFETCH_OK) {
		char sha1[41];
		uint64_t size;
		if (gz_output_commit(g, sha1, &size, err, sizeof(err)) == 0)
			out->committed = inflate_file(w->out, &out->stream, &out->stream_len);
		else
			tap_diag("gz_output_commit: %s", err);
	}
	gz_output_free(g);
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* -------------------------------------------------------------- tests */

static void test_success_global_zone(void)
{
	world w;
	world_init(&w, "success");
	fill_state fs = { 0 };
	build_run r;
	run_build(&w, &fs, BS, &r);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_OK, "global zone: the build succeeds");
	const char *want[] = {
		"list -H -p -o name,creation -t volume -r zones",
		"create -s -V 1048576 -o volblocksize=8192 zones/imgfetch-build-" UUID,
		"snapshot zones/imgfetch-build-" UUID "@final",
		"send zones/imgfetch-build-" UUID "@final",
		"destroy -r zones/imgfetch-build-" UUID,
		NULL,
	};
	calls_are(&w, want, "global zone");
	char dev[1024];
	snprintf(dev, sizeof(dev), "%s/zones/imgfetch-build-" UUID, w.zdir);
	TAP_CHECK_INT_EQ(fs.calls, 1, "the fill ran once");
	TAP_CHECK_STR_EQ(fs.device, dev, "the fill got <zvol_dir>/<dataset>");
	TAP_CHECK(!exists(dev), "the volume is gone after the build");
	unsigned char *disk = malloc(VOLSIZE);
	pattern(disk);
	TAP_CHECK(r.committed, "the output is a valid gzip stream");
	TAP_CHECK(r.stream_len == VOLSIZE && memcmp(r.stream, disk, VOLSIZE) == 0,
	          "the output decompresses to exactly what zfs send printed (%zu bytes)", r.stream_len);
	free(disk);
	free(r.stream);
	char lock[1024];
	snprintf(lock, sizeof(lock), "%s/" UUID ".lock", w.locks);
	TAP_CHECK(exists(lock), "the lock file is <lock_dir>/<uuid>.lock");
	struct stat st;
	TAP_CHECK(stat(w.locks, &st) == 0 && (st.st_mode & 0777) == 0700, "the lock directory was created 0700");
	check_nothing_running(&w, "success");
	world_free(&w);
}

static void test_no_zonename(void)
{
	world w;
	world_init(&w, "no-zonename");
	/* A PATH with the zfs stand-in but no zonename: not illumos. */
	char only[720], target[1100], link[800];
	snprintf(only, sizeof(only), "%s/bin", w.dir);
	mkdir(only, 0755);
	snprintf(target, sizeof(target), "%s/zfs", g_standins);
	snprintf(link, sizeof(link), "%s/zfs", only);
	TAP_CHECK(symlink(target, link) == 0, "set up a PATH without zonename");
	set_path(only);
	fill_state fs = { 0 };
	build_run r;
	run_build(&w, &fs, BS, &r);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_OK, "no zonename: the build succeeds");
	TAP_CHECK(called(&w, "create -s -V 1048576 -o volblocksize=8192 zones/imgfetch-build-" UUID),
	          "no zonename: the parent is zones");
	free(r.stream);
	world_free(&w);
}

static void test_explicit_dataset(void)
{
	world w;
	world_init(&w, "dataset");
	setenv("ZONENAME_STANDIN_ZONE", "somezone", 1); /* not consulted: --dataset wins */
	w.opts.dataset = "tank/images";
	w.opts.lock_name = "debian-stable";
	fill_state fs = { 0 };
	build_run r;
	run_build(&w, &fs, 16384, &r);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_OK, "--dataset: the build succeeds");
	const char *want[] = {
		"list -H -p -o name,creation -t volume -r tank/images",
		"create -s -V 1048576 -o volblocksize=16384 tank/images/imgfetch-build-" UUID,
		"snapshot tank/images/imgfetch-build-" UUID "@final",
		"send tank/images/imgfetch-build-" UUID "@final",
		"destroy -r tank/images/imgfetch-build-" UUID,
		NULL,
	};
	calls_are(&w, want, "--dataset tank/images, volblocksize 16384");
	char lock[1024];
	snprintf(lock, sizeof(lock), "%s/debian-stable.lock", w.locks);
	TAP_CHECK(exists(lock), "the lock file is named after lock_name");
	free(r.stream);
	world_free(&w);
}

static void test_zone_not_zoned(void)
{
	world w;
	world_init(&w, "zone-refused");
	setenv("ZONENAME_STANDIN_ZONE", "7c2f1e0a-zone", 1);
	setenv("ZFS_STANDIN_ZONED", "off", 1);
	fill_state fs = { 0 };
	build_run r;
	run_build(&w, &fs, BS, &r);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_E_INVALID, "non-global zone without zoned=on: refused");
	TAP_CHECK(strstr(r.error, "zones/7c2f1e0a-zone/data") && strstr(r.error, "zoned=off") &&
	          strstr(r.error, "delegate") && strstr(r.error, "--dataset"),
	          "the refusal names the dataset and says what to do");
	const char *want[] = { "get -H -o value zoned zones/7c2f1e0a-zone/data", NULL };
	calls_are(&w, want, "refused zone: only the zoned property was read");
	TAP_CHECK_INT_EQ(fs.calls, 0, "refused zone: nothing filled");
	world_free(&w);

	world_init(&w, "zone-missing");
	setenv("ZONENAME_STANDIN_ZONE", "7c2f1e0a-zone", 1);
	setenv("ZFS_STANDIN_FAIL", "get", 1);
	run_build(&w, &fs, BS, &r);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_E_INVALID, "non-global zone without a data dataset: refused");
	TAP_CHECK(strstr(r.error, "could not be read") && strstr(r.error, "out of space (ZFS_STANDIN_FAIL)"),
	          "the refusal carries zfs get's stderr");
	TAP_CHECK_INT_EQ(ncalls(&w), 1, "nothing but zfs get ran");
	world_free(&w);
}

static void test_zone_zoned(void)
{
	world w;
	world_init(&w, "zone-ok");
	setenv("ZONENAME_STANDIN_ZONE", "7c2f1e0a-zone", 1);
	setenv("ZFS_STANDIN_ZONED", "on", 1);
	fill_state fs = { 0 };
	build_run r;
	run_build(&w, &fs, BS, &r);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_OK, "non-global zone with zoned=on: the build succeeds");
	const char *want[] = {
		"get -H -o value zoned zones/7c2f1e0a-zone/data",
		"list -H -p -o name,creation -t volume -r zones/7c2f1e0a-zone/data",
		"create -s -V 1048576 -o volblocksize=8192 zones/7c2f1e0a-zone/data/imgfetch-build-" UUID,
		"snapshot zones/7c2f1e0a-zone/data/imgfetch-build-" UUID "@final",
		"send zones/7c2f1e0a-zone/data/imgfetch-build-" UUID "@final",
		"destroy -r zones/7c2f1e0a-zone/data/imgfetch-build-" UUID,
		NULL,
	};
	calls_are(&w, want, "zoned=on: zones/<zonename>/data");
	free(r.stream);
	world_free(&w);
}

static void test_sweep(void)
{
	world w;
	world_init(&w, "sweep");
	long now = (long)time(NULL);
	FILE *f = fopen(w.datasets, "w");
	fprintf(f, "zones/imgfetch-build-old1\t%ld\n", now - 7200);
	fprintf(f, "zones/imgfetch-build-old2\t%ld\n", now - 3700);
	fprintf(f, "zones/imgfetch-build-recent\t%ld\n", now - 600);
	fprintf(f, "zones/imgfetch-build-future\t%ld\n", now + 7200);
	fprintf(f, "zones/other-volume\t%ld\n", now - 99999);
	fprintf(f, "zones/deeper/imgfetch-build-nested\t%ld\n", now - 99999);
	fprintf(f, "zones/imgfetch-build-badtime\tyesterday\n");
	fprintf(f, "zones/imgfetch-build-extra\t%ld\tjunk\n", now - 99999);
	fprintf(f, "zonesx/imgfetch-build-otherpool\t%ld\n", now - 99999);
	fclose(f);
	fill_state fs = { 0 };
	build_run r;
	run_build(&w, &fs, BS, &r);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_OK, "sweep: the build succeeds");
	const char *want[] = {
		"list -H -p -o name,creation -t volume -r zones",
		"destroy -r zones/imgfetch-build-old1",
		"destroy -r zones/imgfetch-build-old2",
		"create -s -V 1048576 -o volblocksize=8192 zones/imgfetch-build-" UUID,
		"snapshot zones/imgfetch-build-" UUID "@final",
		"send zones/imgfetch-build-" UUID "@final",
		"destroy -r zones/imgfetch-build-" UUID,
		NULL,
	};
	calls_are(&w, want, "sweep: only direct imgfetch-build-* children older than an hour are destroyed");
	TAP_CHECK(strstr(w.logbuf, "removing zones/imgfetch-build-old1") != NULL, "the sweep is logged");
	free(r.stream);
	world_free(&w);

	world_init(&w, "sweep-fails");
	setenv("ZFS_STANDIN_FAIL", "list", 1);
	run_build(&w, &fs, BS, &r);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_OK, "a failed sweep does not stop the build");
	TAP_CHECK(strstr(w.logbuf, "1 could not look for stale build datasets") &&
	          strstr(w.logbuf, "ZFS_STANDIN_FAIL"), "a failed sweep is a warning with zfs list's stderr");
	free(r.stream);
	world_free(&w);
}

/* A failing subcommand: its stderr in the error, the volume destroyed when
 * it was created. */
static void test_failure(const char *sub, bool created, const char *stderr_text)
{
	world w;
	char name[64];
	snprintf(name, sizeof(name), "fail-%s", sub);
	world_init(&w, name);
	setenv("ZFS_STANDIN_FAIL", sub, 1);
	fill_state fs = { 0 };
	build_run r;
	run_build(&w, &fs, BS, &r);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_E_FAILED, "zfs %s fails: the build fails", sub);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "zfs %s ", sub);
	TAP_CHECK(strstr(r.error, cmd) && strstr(r.error, stderr_text) && strstr(r.error, "exit status 1"),
	          "zfs %s fails: the error names the command, its exit status and its stderr", sub);
	TAP_CHECK(called(&w, "destroy -r zones/imgfetch-build-" UUID) == created,
	          "zfs %s fails: the build volume is %s", sub, created ? "destroyed" : "not touched (never created)");
	char dev[1024];
	snprintf(dev, sizeof(dev), "%s/zones/imgfetch-build-" UUID, w.zdir);
	TAP_CHECK(!exists(dev), "zfs %s fails: no volume is left", sub);
	check_nothing_running(&w, name);
	world_free(&w);
}

/* A build of the same image that died less than an hour ago left its
 * volume: the sweep keeps it, create fails, and the message says what to do. */
static void test_leftover_same_name(void)
{
	world w;
	world_init(&w, "leftover");
	FILE *f = fopen(w.datasets, "w");
	fprintf(f, "zones/imgfetch-build-" UUID "\t%ld\n", (long)time(NULL) - 60);
	fclose(f);
	fill_state fs = { 0 };
	build_run r;
	run_build(&w, &fs, BS, &r);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_E_FAILED, "a recent leftover of the same name: create fails");
	TAP_CHECK(strstr(r.error, "already exists") && strstr(r.error, "'zfs destroy -r zones/imgfetch-build-" UUID "'"),
	          "the message says how to remove the leftover");
	TAP_CHECK(!called(&w, "destroy -r zones/imgfetch-build-" UUID), "the leftover (not ours) is not destroyed");
	world_free(&w);
}

static void test_fill_fails(void)
{
	world w;
	world_init(&w, "fill-fails");
	fill_state fs = { .ret = IMGFETCH_E_FORMAT };
	build_run r;
	run_build(&w, &fs, BS, &r);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_E_FORMAT, "the fill fails: its status is returned");
	TAP_CHECK(strstr(r.error, "test fill failure") != NULL, "the fill's message is kept across the cleanup");
	TAP_CHECK(called(&w, "destroy -r zones/imgfetch-build-" UUID), "the fill fails: the volume is destroyed");
	TAP_CHECK(!called(&w, "snapshot zones/imgfetch-build-" UUID "@final"), "the fill fails: no snapshot");
	world_free(&w);
}

static void test_cleanup_fails_too(void)
{
	world w;
	world_init(&w, "destroy-fails");
	setenv("ZFS_STANDIN_FAIL", "snapshot,destroy", 1);
	fill_state fs = { 0 };
	build_run r;
	run_build(&w, &fs, BS, &r);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_E_FAILED, "snapshot and destroy fail: the build fails");
	TAP_CHECK(strncmp(r.error, "zfs snapshot", 12) == 0 && strstr(r.error, "cleanup failed") &&
	          strstr(r.error, "'zfs destroy -r zones/imgfetch-build-" UUID "'"),
	          "the error is the snapshot's, then says how to remove the volume by hand");
	world_free(&w);

	world_init(&w, "destroy-fails-after-success");
	setenv("ZFS_STANDIN_FAIL", "destroy", 1);
	run_build(&w, &fs, BS, &r);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_OK, "only the final destroy fails: the image is still good");
	TAP_CHECK(strstr(w.logbuf, "1 the image is complete, but its build volume could not be removed") != NULL,
	          "the leftover volume is a warning");
	free(r.stream);
	world_free(&w);

	world_init(&w, "destroy-busy");
	setenv("ZFS_STANDIN_BUSY", "1", 1);
	run_build(&w, &fs, BS, &r);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_OK, "a busy volume: the build succeeds");
	char buf[16384];
	char *lines[64];
	size_t n = read_calls(&w, buf, sizeof(buf), lines, 64);
	TAP_CHECK(n == 6 && strcmp(lines[4], lines[5]) == 0 && strncmp(lines[5], "destroy -r", 10) == 0,
	          "a busy volume: destroy is tried again");
	free(r.stream);
	world_free(&w);
}

static void test_cancel_in_fill(void)
{
	world w;
	world_init(&w, "cancel-fill");
	fill_state fs = { .cancel = true };
	build_run r;
	run_build(&w, &fs, BS, &r);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_E_CANCELLED, "cancelled inside the fill: IMGFETCH_E_CANCELLED");
	const char *want[] = {
		"list -H -p -o name,creation -t volume -r zones",
		"create -s -V 1048576 -o volblocksize=8192 zones/imgfetch-build-" UUID,
		"destroy -r zones/imgfetch-build-" UUID,
		NULL,
	};
	calls_are(&w, want, "cancelled inside the fill: destroyed, nothing else");
	check_nothing_running(&w, "cancel in fill");
	world_free(&w);
}

typedef struct canceller {
	world *w;
	const char *wait_for;  /* a "PID SUBCOMMAND" line ending in this, else NULL */
	unsigned delay_ms;
	pthread_t thread;
} canceller;

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void *cancel_thread(void *u)
{
	canceller *c = u;
	for (int i = 0; c->wait_for && i < 1000; i++) {
		char buf[4096] = "";
		FILE *f = fopen(c->w->pids, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);
			buf[n] = '\0';
			fclose(f);
		}
		if (strstr(buf, c->wait_for))
			break;
		sleep_ms(10);
	}
	sleep_ms(c->delay_ms);
	imgfetch_ctx_cancel(c->w->ctx);
	return NULL;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_cancel_during_send(void)
{
	world w;
	world_init(&w, "cancel-send");
	setenv("ZFS_STANDIN_SEND_SLEEP", "30", 1);
	canceller c = { .w = &w, .wait_for = " send\n", .delay_ms = 300 };
	pthread_create(&c.thread, NULL, cancel_thread, &c);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fill_state fs = { 0 };
	build_run r;
	run_build(&w, &fs, BS, &r);
	double took = seconds_since(&t0);
	pthread_join(c.thread, NULL);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_E_CANCELLED, "cancelled during a slow zfs send: IMGFETCH_E_CANCELLED");
	TAP_CHECK(took < 10, "the build returned %.1f s after it started (send sleeps 30 s)", took);
	TAP_CHECK(called(&w, "destroy -r zones/imgfetch-build-" UUID), "cancelled during send: the volume is destroyed");
	check_nothing_running(&w, "cancel during send");
	world_free(&w);
}

/* Cancelled while zfs create runs: whether or not it made the volume yet,
 * nothing is left behind and the cancellation is what is reported. */
static void test_cancel_during_create(const char *knob, bool made)
{
	world w;
	world_init(&w, made ? "cancel-create-made" : "cancel-create-not-made");
	setenv(knob, "30", 1);
	canceller c = { .w = &w, .wait_for = " create\n", .delay_ms = 300 };
	pthread_create(&c.thread, NULL, cancel_thread, &c);
	fill_state fs = { 0 };
	build_run r;
	run_build(&w, &fs, BS, &r);
	pthread_join(c.thread, NULL);
	char vol[1024];
	snprintf(vol, sizeof(vol), "%s/zones/imgfetch-build-" UUID, w.zdir);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_E_CANCELLED, "%s: IMGFETCH_E_CANCELLED", knob);
	TAP_CHECK(called(&w, "destroy -r zones/imgfetch-build-" UUID), "%s: the build volume is destroyed", knob);
	TAP_CHECK(!exists(vol), "%s: no volume is left (it was %smade)", knob, made ? "" : "not ");
	TAP_CHECK(fs.calls == 0 && !strstr(r.error, "cleanup"), "%s: no fill, no cleanup failure reported: %s", knob,
	          r.error);
	check_nothing_running(&w, knob);
	world_free(&w);
}

static void *unlock_later(void *u)
{
	sleep_ms(400);
	flock(*(int *)u, LOCK_UN);
	return NULL;
}

static void test_lock(void)
{
	world w;
	world_init(&w, "lock-wait");
	w.opts.lock_name = "../evil name";
	char vardir[720];
	snprintf(vardir, sizeof(vardir), "%s/var", w.dir);
	mkdir(vardir, 0755);
	mkdir(w.locks, 0700);
	char lock[1024];
	snprintf(lock, sizeof(lock), "%s/_._evil_name.lock", w.locks);
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	TAP_CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0, "another build holds the (sanitized) lock");

	/* Held throughout: the build waits, and cancelling it while it waits
	 * runs nothing. */
	canceller c = { .w = &w, .delay_ms = 400 };
	pthread_create(&c.thread, NULL, cancel_thread, &c);
	fill_state fs = { 0 };
	build_run r;
	run_build(&w, &fs, BS, &r);
	pthread_join(c.thread, NULL);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_E_CANCELLED, "cancelled while waiting for the lock");
	TAP_CHECK(strstr(w.logbuf, "waiting for another build of ../evil name") != NULL,
	          "the wait for the lock is logged");
	TAP_CHECK_INT_EQ(ncalls(&w), 0, "nothing ran while waiting for the lock");
	char outside[1024];
	snprintf(outside, sizeof(outside), "%s/evil name.lock", vardir);
	TAP_CHECK(!exists(outside), "the lock name did not escape the lock directory");
	imgfetch_ctx_clear_cancel(w.ctx);

	/* Released after a while: the build goes on. */
	w.logbuf[0] = '\0';
	pthread_t t;
	pthread_create(&t, NULL, unlock_later, &fd);
	run_build(&w, &fs, BS, &r);
	pthread_join(t, NULL);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_OK, "the build goes on once the lock is released");
	TAP_CHECK(strstr(w.logbuf, "waiting for another build") != NULL, "and said it was waiting");
	free(r.stream);
	close(fd);
	world_free(&w);
}

static void test_invalid(void)
{
	world w;
	world_init(&w, "invalid");
	fill_state fs = { 0 };
	build_run r;
	run_build(&w, &fs, 1000, &r);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_E_INVALID, "a volblocksize that is not a power of two is refused");
	w.opts.dataset = "-o";
	run_build(&w, &fs, BS, &r);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_E_INVALID, "a dataset zfs would read as an option is refused");
	w.opts.dataset = "tank//x";
	run_build(&w, &fs, BS, &r);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_E_INVALID, "a dataset with an empty component is refused");
	TAP_CHECK_INT_EQ(ncalls(&w), 0, "refused builds run nothing");
	world_free(&w);

	world_init(&w, "no-zfs");
	char empty[1024];
	snprintf(empty, sizeof(empty), "%s/empty", w.dir);
	mkdir(empty, 0755);
	setenv("PATH", empty, 1);
	run_build(&w, &fs, BS, &r);
	TAP_CHECK_INT_EQ(r.st, IMGFETCH_E_INVALID, "no zfs on PATH: refused");
	TAP_CHECK_STR_EQ(r.error, "the zfs builder needs the zfs command; use the native builder (default)",
	                 "no zfs on PATH: the message says what to do");
	world_free(&w);
}

/* Dead: gone, or a zombie waiting for init (the command that started it,
 * its parent, is gone). Waits up to 2 s for the signal to land. */
static bool gone(int pid)
{
	for (int i = 0; i < 200; i++) {
		char path[64], stat[512] = "";
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		FILE *f = fopen(path, "r");
		if (!f)
			return true;
		size_t n = fread(stat, 1, sizeof(stat) - 1, f);
		fclose(f);
		stat[n] = '\0';
		const char *paren = strrchr(stat, ')');
		if (paren && (paren[2] == 'Z' || paren[2] == 'X'))
			return true;
		sleep_ms(10);
	}
	return false;
}

static void test_command(void)
{
	world w;
	world_init(&w, "command");
	command_result r;
	imgfetch_status st = command_run(w.ctx, (const char *const[]){ "no-such-command-imgfetch", NULL }, NULL, &r);
	TAP_CHECK_INT_EQ(st, IMGFETCH_E_NOT_FOUND, "command_run: a missing command is NOT_FOUND");
	TAP_CHECK(strstr(imgfetch_ctx_error(w.ctx), "not found on PATH") != NULL, "and says so");
	command_result_free(&r);

	st = command_run(w.ctx, (const char *const[]){ "sh", "-c", "printf 'abcdefgh'; echo oops >&2; exit 3", NULL },
	                 &(command_opts){ .max_stdout = 4 }, &r);
	TAP_CHECK_INT_EQ(st, IMGFETCH_E_FAILED, "command_run: a non-zero exit fails");
	TAP_CHECK(r.exit_code == 3 && strcmp(r.err, "oops") == 0, "exit code and stderr are kept");
	TAP_CHECK(r.out_len == 4 && strcmp(r.out, "abcd") == 0 && r.stdout_truncated, "stdout is bounded");
	TAP_CHECK_STR_EQ(imgfetch_ctx_error(w.ctx), "sh -c 'printf '\\''abcdefgh'\\''; echo oops >&2; exit 3' failed "
	                 "(exit status 3): oops", "the message shows the command and its stderr");
	command_result_free(&r);

	st = command_run(w.ctx, (const char *const[]){ "sh", "-c", "yes x | head -c 20000 >&2; echo end >&2", NULL },
	                 NULL, &r);
	TAP_CHECK(st == IMGFETCH_OK && strlen(r.err) == COMMAND_STDERR_TAIL - 2 &&
	          strcmp(r.err + strlen(r.err) - 3, "end") == 0, "only the tail of stderr is kept");
	command_result_free(&r);

	/* The child must not inherit our descriptors. */
	int p[2];
	TAP_CHECK(pipe2(p, O_CLOEXEC) == 0, "a pipe of ours");
	char script[64];
	snprintf(script, sizeof(script), "test -e /proc/self/fd/%d && echo leaked || echo clean", p[1]);
	st = command_run(w.ctx, (const char *const[]){ "sh", "-c", script, NULL }, NULL, &r);
	TAP_CHECK(st == IMGFETCH_OK && strcmp(r.out, "clean\n") == 0, "the command inherits no descriptor of ours");
	command_result_free(&r);
	close(p[0]);
	close(p[1]);

	/* Something the command started is stopped with it. */
	char pidfile[720];
	snprintf(pidfile, sizeof(pidfile), "%s/grandchild", w.dir);
	char s2[1024];
	snprintf(s2, sizeof(s2), "sleep 30 & echo $! > '%s'; wait", pidfile);
	canceller c = { .w = &w, .delay_ms = 300 };
	pthread_create(&c.thread, NULL, cancel_thread, &c);
	st = command_run(w.ctx, (const char *const[]){ "sh", "-c", s2, NULL }, NULL, &r);
	pthread_join(c.thread, NULL);
	command_result_free(&r);
	TAP_CHECK_INT_EQ(st, IMGFETCH_E_CANCELLED, "command_run: cancelled");
	FILE *f = fopen(pidfile, "r");
	int gpid = 0;
	if (f) {
		if (fscanf(f, "%d", &gpid) != 1)
			gpid = 0;
		fclose(f);
	}
	TAP_CHECK(gpid > 0 && gone(gpid), "the command's own child (pid %d) was stopped too",
	          gpid);
	world_free(&w);
}

/* ------------------------------------------------------------------ main */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* tests/stand_ins: $IMGFETCH_STAND_INS, else found from this source file's
 * path, which the compiler records relative to the build directory (the
 * executable is <build>/tests/unit/test_zfs_builder). */
static bool find_standins(void)
{
	const char *envdir = getenv("IMGFETCH_STAND_INS");
	char src[PATH_MAX + 512];
	if (envdir) {
		snprintf(g_standins, sizeof(g_standins), "%.900s", envdir);
	} else {
		if (__FILE__[0] == '/') {
			snprintf(src, sizeof(src), "%s", __FILE__);
		} else {
			char exe[PATH_MAX];
			ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
			if (n <= 0)
				return false;
			exe[n] = '\0';
			for (int i = 0; i < 3; i++) {
				char *slash = strrchr(exe, '/');
				if (!slash)
					return false;
				*slash = '\0';
			}
			snprintf(src, sizeof(src), "%s/%s", exe, __FILE__);
		}
		char real[PATH_MAX];
		if (!realpath(src, real) || strlen(real) > 900)
			return false;
		for (int i = 0; i < 2; i++)
			*strrchr(real, '/') = '\0';
		snprintf(g_standins, sizeof(g_standins), "%.900s/stand_ins", real);
	}
	char zfs[1100];
	snprintf(zfs, sizeof(zfs), "%s/zfs", g_standins);
	return access(zfs, X_OK) == 0;
}

int main(void)
{
	if (!TAP_CHECK(find_standins(), "found the zfs stand-in (%s)", g_standins))
		return tap_done();
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(g_base, sizeof(g_base), "%s/test_zfs_builder.XXXXXX", tmp);
	if (!TAP_CHECK(mkdtemp(g_base) != NULL, "made a work directory"))
		return tap_done();

	test_success_global_zone();
	test_no_zonename();
	test_explicit_dataset();
	test_zone_not_zoned();
	test_zone_zoned();
	test_sweep();
	test_failure("create", false, "out of space (ZFS_STANDIN_FAIL)");
	test_failure("snapshot", true, "out of space (ZFS_STANDIN_FAIL)");
	test_failure("send", true, "I/O error (ZFS_STANDIN_FAIL)");
	test_leftover_same_name();
	test_fill_fails();
	test_cleanup_fails_too();
	test_cancel_in_fill();
	test_cancel_during_send();
	test_cancel_during_create("ZFS_STANDIN_CREATE_SLEEP", true);
	test_cancel_during_create("ZFS_STANDIN_CREATE_SLEEP_BEFORE", false);
	test_lock();
	test_invalid();
	test_command();

	int rc = tap_done();
	if (rc == 0)
		nftw(g_base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	else
		printf("# work directory kept: %s\n", g_base);
	return rc;
}
