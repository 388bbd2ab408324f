/* SPDX-License-Identifier: MIT */
#include "convert/zfs_source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (1u << 20)

static int feed(void *u, const void *buf, size_t n)
{
	return zfs_recv_feed(u, buf, n);
}

int zfs_source_decode(int fd, compress_kind container, unsigned threads, uint64_t max_size, zfs_recv_out_fn out,
                      void *u, zfs_recv_info *info, char *err, size_t errlen, bool *ret_unchecked)
{
	zfs_recv *r = NULL;
	int e = zfs_recv_new(max_size, out, u, &r);
	if (e < 0) {
		snprintf(err, errlen, "%s", strerror(-e));
		return e;
	}
	char derr[256] = "";
	if (container == COMPRESS_NONE) {
		unsigned char *buf = malloc(READ_CHUNK);
		e = buf ? 0 : -ENOMEM;
		for (off_t off = 0; e == 0;) {
			ssize_t n = pread(fd, buf, READ_CHUNK, off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				e = -errno;
			if (n <= 0)
				break;
			off += n;
			e = zfs_recv_feed(r, buf, (size_t)n);
		}
		free(buf);
	} else {
		/* Records add at most 312 bytes per 512-byte block to the volume,
		 * plus a bounded header: anything beyond is not a volume's stream. */
		uint64_t cap = max_size > UINT64_MAX / 2 - (64u << 20) ? UINT64_MAX : 2 * max_size + (64u << 20);
		bool unchecked = false;
		e = decompress_fd_ex(fd, container, threads, cap, feed, r, derr, sizeof(derr), &unchecked);
		if (unchecked && ret_unchecked)
			*ret_unchecked = true;
	}
	if (e == 0)
		e = zfs_recv_finish(r);
	if (e < 0) {
		const char *why = zfs_recv_error(r)[0] ? zfs_recv_error(r) : derr[0] ? derr : strerror(-e);
		snprintf(err, errlen, "zfs send stream: %s", why);
	} else {
		zfs_recv_get_info(r, info);
	}
	zfs_recv_free(r);
	return e;
}
