/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the zfs send stream reader (lib/zfs/send_reader.c).
 *
 * The first byte picks how the input is cut into feeds (the reader must not
 * care); the rest is the stream. Checked: every failure is a known negative
 * errno with a message; on success the disk delivered is exactly the volume
 * size and the data bytes reported fit inside it; the disk is never longer
 * than the cap.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zfs/send_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP (64u << 20)

static void require(int cond)
{
	if (!cond)
		abort();
}

static int count(void *u, const void *buf, size_t n)
{
	(void)buf;
	*(uint64_t *)u += n;
	require(*(uint64_t *)u <= CAP);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = 1 + (size_t)data[0] * 97;
	data++;
	size--;
	uint64_t total = 0;
	zfs_recv *r = NULL;
	require(zfs_recv_new(CAP, count, &total, &r) == 0);
	int e = 0;
	for (size_t off = 0; e == 0 && off < size; off += step)
		e = zfs_recv_feed(r, data + off, size - off < step ? size - off : step);
	if (e == 0)
		e = zfs_recv_finish(r);
	if (e < 0) {
		require(e == -EBADMSG || e == -ENOTSUP || e == -EFBIG || e == -EPIPE || e == -ENOMEM);
		require(zfs_recv_error(r)[0] != '\0');
	} else {
		zfs_recv_info info;
		zfs_recv_get_info(r, &info);
		require(total == info.volsize && info.volsize > 0);
		require(info.data_bytes <= info.volsize || info.data_bytes <= total);
		require(info.volblocksize >= 512 && info.order != NULL);
	}
	zfs_recv_free(r);
	return 0;
}
