/* SPDX-License-Identifier: MIT */
/*
 * Raw output. Regular files stay sparse: zero blocks are skipped (never
 * written) and the file is truncated to the virtual size at the end. Pipes
 * get every byte in order. Block devices get zeros written only where the
 * device does not already read as zero, so a freshly discarded or thin device
 * is not filled needlessly.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "writers/writer.h"
#include "util/bytes.h"
#include "util/fileio.h"

/* Zero detection granularity: a file system block. */
#define ZERO_BLOCK 4096u

/* RAW_ZEROED: a device known to read as zeros everywhere (a freshly created
 * sparse zvol, block or character device): zero blocks are skipped like in
 * a file, but its size is its own. */
typedef enum { RAW_FILE, RAW_PIPE, RAW_BLOCK, RAW_ZEROED } raw_kind;

typedef struct raw_writer {
	img_writer base;
	int fd;
	raw_kind kind;
	raw_block_zero zero_mode;
	pthread_mutex_t err_lock; /* base.err is set from any worker */
} raw_writer;


/* Writes runs of non-zero blocks; zero blocks are skipped (file) or written
 * only where the device holds something else (block device). */
static int commit_sparse(raw_writer *rw, img_unit *u)
{
	size_t i = 0;
	while (i < u->length) {
		size_t n = u->length - i < ZERO_BLOCK ? u->length - i : ZERO_BLOCK;
		bool zero = buf_is_zero(u->data + i, n);
		size_t run = i + n;
		while (run < u->length) {
			size_t m = u->length - run < ZERO_BLOCK ? u->length - run : ZERO_BLOCK;
			if (buf_is_zero(u->data + run, m) != zero)
				break;
			run += m;
		}
		if (zero && rw->kind == RAW_BLOCK && rw->zero_mode != RAW_ZERO_CHECK) {
			uint64_t range[2] = { u->offset + i, run - i };
			/* Whole sectors only: a partial tail is written the careful way. */
			range[1] &= ~(uint64_t)511;
			if (range[1] > 0 &&
			    ioctl(rw->fd, rw->zero_mode == RAW_ZERO_ZEROOUT ? BLKZEROOUT : BLKDISCARD, range) < 0)
				return -errno;
			if (range[1] == run - i) {
				i = run;
				continue;
			}
			i += range[1];
		}
		if (!zero || rw->kind == RAW_BLOCK) {
			int r = 0;
			if (zero) {
				/* Only overwrite what is not zero already. */
				unsigned char *cur = malloc(run - i);
				if (!cur)
					return -ENOMEM;
				ssize_t got = pread(rw->fd, cur, run - i, (off_t)(u->offset + i));
				if (got != (ssize_t)(run - i) || !buf_is_zero(cur, run - i))
					r = pwrite_full(rw->fd, u->data + i, run - i, u->offset + i);
				free(cur);
			} else {
				r = pwrite_full(rw->fd, u->data + i, run - i, u->offset + i);
			}
			if (r < 0)
				return r;
		}
		i = run;
	}
	return 0;
}

static void set_err(raw_writer *rw, const img_unit *u, int r)
{
	pthread_mutex_lock(&rw->err_lock);
	if (!rw->base.err[0])
		snprintf(rw->base.err, sizeof(rw->base.err), "writing at offset %llu: %s",
		         (unsigned long long)u->offset, strerror(-r));
	pthread_mutex_unlock(&rw->err_lock);
}

/* Files and block devices are written by position, so order does not
 * matter: every worker writes its own unit right after producing it, while
 * the bytes are still in its cache, and the kernel copies run on every core
 * instead of queueing behind one committing thread. */
static int raw_encode(img_writer *w, img_unit *u)
{
	raw_writer *rw = (raw_writer *)w;
	if (rw->kind == RAW_PIPE)
		return 0;
	if (!u->all_zero_hint && buf_is_zero(u->data, u->length))
		u->all_zero_hint = true;
	if (u->all_zero_hint && (rw->kind == RAW_FILE || rw->kind == RAW_ZEROED))
		return 0;
	int r = commit_sparse(rw, u);
	if (r < 0)
		set_err(rw, u, r);
	return r;
}

/* Only a pipe needs order. */
static int raw_commit(img_writer *w, img_unit *u)
{
	raw_writer *rw = (raw_writer *)w;
	if (rw->kind == RAW_PIPE) {
		int r = write_full(rw->fd, u->data, u->length);
		if (r < 0) {
			set_err(rw, u, r);
			return r;
		}
	}
	return 0;
}

static void raw_discard(img_writer *w, img_unit *u)
{
	(void)w;
	(void)u;
}

static int raw_finish(img_writer *w)
{
	raw_writer *rw = (raw_writer *)w;
	if (rw->kind == RAW_FILE && ftruncate(rw->fd, (off_t)w->virtual_size) < 0) {
		int e = errno;
		snprintf(w->err, sizeof(w->err), "cannot set the output size: %s", strerror(e));
		return -e;
	}
	if (rw->kind != RAW_PIPE && fsync(rw->fd) < 0) {
		int e = errno;
		snprintf(w->err, sizeof(w->err), "fsync of the output failed: %s", strerror(e));
		return -e;
	}
	return 0;
}

static void raw_free(img_writer *w)
{
	pthread_mutex_destroy(&((raw_writer *)w)->err_lock);
	free(w);
}

static const img_writer_ops raw_writer_ops = {
	.encode = raw_encode,
	.commit = raw_commit,
	.discard = raw_discard,
	.finish = raw_finish,
	.free = raw_free,
};

void raw_writer_set_block_zero(img_writer *w, raw_block_zero mode)
{
	((raw_writer *)w)->zero_mode = mode;
}

int raw_writer_new_zeroed(int fd, uint64_t virtual_size, img_writer **ret)
{
	int r = raw_writer_new(fd, virtual_size, false, ret);
	if (r == 0) {
		raw_writer *rw = (raw_writer *)*ret;
		rw->kind = RAW_ZEROED;
		rw->base.unordered = true;
		rw->base.skips_zero_units = true;
	}
	return r;
}

int raw_writer_new(int fd, uint64_t virtual_size, bool is_pipe, img_writer **ret)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	raw_writer *rw = calloc(1, sizeof(*rw));
	if (!rw)
		return -ENOMEM;
	rw->base.ops = &raw_writer_ops;
	rw->base.virtual_size = virtual_size;
	rw->fd = fd;
	pthread_mutex_init(&rw->err_lock, NULL);
	rw->kind = is_pipe || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) ? RAW_PIPE
	           : S_ISBLK(st.st_mode)                                      ? RAW_BLOCK
	                                                                      : RAW_FILE;
	rw->base.unordered = rw->kind != RAW_PIPE;
	rw->base.skips_zero_units = rw->kind == RAW_FILE;
	*ret = &rw->base;
	return 0;
}
