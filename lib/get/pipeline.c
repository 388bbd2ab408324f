/* SPDX-License-Identifier: MIT */
#include "get/pipeline.h"
#include "util/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* Start write-back of every this many bytes as they are written, so that the
 * fsync before the rename finds little left to flush. */
#define WRITEBACK_STEP (8u * 1024 * 1024)

static int write_all(void *u, const void *buf, size_t n)
{
	pipeline *pl = u;
	int fd = pl->out_fd;
	int r = write_full(fd, buf, n);
	if (r < 0)
		return r;
	pl->written += n;
	if (pl->written - pl->flushed >= WRITEBACK_STEP) {
		/* Advisory: a file system without it just flushes at fsync time. */
		sync_file_range(fd, (off_t)pl->flushed, (off_t)(pl->written - pl->flushed), SYNC_FILE_RANGE_WRITE);
		pl->flushed = pl->written;
	}
	return 0;
}

static int truncate_fd(void *u)
{
	pipeline *pl = u;
	if (ftruncate(pl->out_fd, 0) < 0 || lseek(pl->out_fd, 0, SEEK_SET) < 0)
		return -errno;
	pl->written = pl->flushed = 0;
	return 0;
}

static int hash_consume(void *u, const void *buf, size_t n)
{
	return digest_update(u, buf, n);
}

static int hash_reset(void *u)
{
	return digest_reset(u);
}

static int sink_write(void *u, const void *buf, size_t n)
{
	return fanout_feed(((pipeline *)u)->fan, buf, n);
}

static int sink_reset(void *u)
{
	return fanout_reset(((pipeline *)u)->fan);
}

int pipeline_init(pipeline *p, int out_fd, bool want_sha512)
{
	*p = (pipeline){ .out_fd = out_fd };
	fanout_consumer c[3];
	size_t n = 0;

	p->sha256 = digest_new(IMGFETCH_HASH_SHA256);
	if (!p->sha256)
		goto nomem;
	if (want_sha512 && !(p->sha512 = digest_new(IMGFETCH_HASH_SHA512)))
		goto nomem;
	if (out_fd >= 0)
		c[n++] = (fanout_consumer){ .consume = write_all, .reset = truncate_fd, .u = p };
	c[n++] = (fanout_consumer){ .consume = hash_consume, .reset = hash_reset, .u = p->sha256 };
	if (p->sha512)
		c[n++] = (fanout_consumer){ .consume = hash_consume, .reset = hash_reset, .u = p->sha512 };
	int r = fanout_new(c, n, &p->fan);
	if (r < 0) {
		pipeline_free(p);
		return r;
	}
	p->sink = (xfer_sink){ .write = sink_write, .reset = sink_reset, .u = p };
	return 0;
nomem:
	pipeline_free(p);
	return -ENOMEM;
}

int pipeline_feed(pipeline *p, const void *buf, size_t n)
{
	return fanout_feed(p->fan, buf, n);
}

int pipeline_finish(pipeline *p, char sha256_hex[65], char sha512_hex[129])
{
	int r = fanout_drain(p->fan);
	if (r < 0)
		return r;
	r = digest_final_hex(p->sha256, sha256_hex);
	if (r == 0 && p->sha512)
		r = digest_final_hex(p->sha512, sha512_hex);
	return r;
}

void pipeline_free(pipeline *p)
{
	/* Threads first: they may still touch the digests. */
	fanout_free(p->fan);
	digest_free(p->sha256);
	digest_free(p->sha512);
	*p = (pipeline){ .out_fd = -1 };
}

int pipeline_feed_fd(pipeline *p, int fd, imgfetch_ctx *ctx, const char *label, uint64_t size)
{
	enum { BUFSZ = 1024 * 1024 };
	char *buf = malloc(BUFSZ);
	if (!buf)
		return -ENOMEM;
	uint64_t done = 0;
	off_t off = 0;
	int r = 0;
	for (;;) {
		if (ifx_cancelled(ctx)) {
			r = -ECANCELED;
			break;
		}
		/* pread: the caller's file offset is not ours to move. */
		ssize_t n = pread(fd, buf, BUFSZ, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		off += n;
		done += (uint64_t)n;
		r = fanout_feed(p->fan, buf, (size_t)n);
		if (r < 0)
			break;
		ifx_progress(ctx, label, done, size, false);
	}
	free(buf);
	return r;
}
