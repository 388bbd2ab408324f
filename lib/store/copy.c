/* SPDX-License-Identifier: MIT */
#include "store/copy.h"
#include "util/fileio.h"

#include <errno.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int copy_rw(imgfetch_ctx *ctx, int in_fd, int out_fd, off_t off)
{
	enum { BUFSZ = 1024 * 1024 };
	char *buf = malloc(BUFSZ);
	if (!buf)
		return -ENOMEM;
	int r = 0;
	for (;;) {
		if (ifx_cancelled(ctx)) {
			r = -ECANCELED;
			break;
		}
		ssize_t n = pread(in_fd, buf, BUFSZ, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		r = pwrite_full(out_fd, buf, (size_t)n, (uint64_t)off);
		if (r < 0)
			break;
		off += n;
	}
	free(buf);
	return r;
}

int copy_whole_file(imgfetch_ctx *ctx, int in_fd, int out_fd)
{
	if (ioctl(out_fd, FICLONE, in_fd) == 0)
		return 0;
	off_t in_off = 0, out_off = 0;
	for (;;) {
		if (ifx_cancelled(ctx))
			return -ECANCELED;
		/* 64 MiB steps keep cancellation prompt. */
		ssize_t n = copy_file_range(in_fd, &in_off, out_fd, &out_off, 64u << 20, 0);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* Cross-device or unsupported: fall back from where we are. */
			if (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)
				return copy_rw(ctx, in_fd, out_fd, in_off);
			return -errno;
		}
	}
}
