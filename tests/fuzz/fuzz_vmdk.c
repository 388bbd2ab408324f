/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the vmdk reader (lib/formats/vmdk.c).
 *
 * The input is the image file, held in a memfd. When vmdk_open accepts it,
 * the disk is walked with map() and read with read() up to a bounded amount
 * of work, and every answer is checked against the contract in image.h:
 * extents tile the disk, holes and zero extents read as zeros, reads are
 * repeatable, and every failure is a negative errno with a message. A
 * violation aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "formats/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Bounds on the work per input, so that a tiny file claiming a huge disk
 * cannot make one execution slow. */
#define MAX_MAP_CALLS 64u
#define MAX_READ_TOTAL (8u << 20)
#define MAX_READ_ONE (1u << 20)
#define MAX_READ_HOLE (64u << 10)

static void require(int cond)
{
	if (!cond)
		abort();
}

static void require_errno(img_reader *r, int rc)
{
	require(rc == -EBADMSG || rc == -EIO || rc == -ENOMEM);
	require(img_reader_error(r)[0] != '\0');
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads [off, off + len) twice; the answers must agree, and a hole or zero
 * extent must read as zeros. Returns false once the reader reported an error. */
static bool check_read(img_reader *r, uint8_t *a, uint8_t *b, uint64_t off, size_t len, const img_extent *e,
                       size_t *budget)
{
	if (len > *budget)
		len = *budget;
	if (len == 0)
		return true;
	*budget -= len;
	int rc = img_read(r, off, a, len);
	if (rc != 0) {
		require_errno(r, rc);
		return false;
	}
	if (e && e->kind != IMG_EXTENT_DATA)
		require(all_zero(a, len));
	require(img_read(r, off, b, len) == 0 && memcmp(a, b, len) == 0);
	return true;
}

static void exercise(img_reader *r)
{
	const img_info *info = &r->info;
	uint64_t size = info->virtual_size;
	require(strcmp(info->format, "vmdk") == 0);
	require(size <= IMG_MAX_VIRTUAL_SIZE && size % 512 == 0);
	require(info->cluster_size >= 4096 && info->cluster_size <= (1u << 20));
	require((info->cluster_size & (info->cluster_size - 1)) == 0);
	require(info->version >= 1 && info->version <= 3);
	require(strcmp(info->subformat, "streamOptimized") == 0 || strcmp(info->subformat, "monolithicSparse") == 0);

	uint8_t *a = malloc(MAX_READ_ONE), *b = malloc(MAX_READ_ONE);
	require(a && b);
	size_t budget = MAX_READ_TOTAL;
	uint64_t off = 0;
	bool ok = true;
	for (unsigned calls = 0; ok && off < size && calls < MAX_MAP_CALLS; calls++) {
		img_extent e;
		int rc = img_map(r, off, UINT64_MAX, &e);
		if (rc != 0) {
			require_errno(r, rc);
			break;
		}
		require(e.offset == off && e.length >= 1 && e.length <= size - off);
		require(e.kind == IMG_EXTENT_DATA || e.kind == IMG_EXTENT_ZERO || e.kind == IMG_EXTENT_HOLE);
		require(!e.compressed || e.kind == IMG_EXTENT_DATA);
		/* A bounded map agrees with the unbounded one. */
		img_extent s;
		require(img_map(r, off, 1, &s) == 0 && s.length == 1 && s.kind == e.kind);

		/* Holes cost nothing to read: spend the budget on data. */
		size_t one = e.kind == IMG_EXTENT_DATA ? MAX_READ_ONE : MAX_READ_HOLE;
		size_t n = e.length < one ? (size_t)e.length : one;
		ok = check_read(r, a, b, off, n, &e, &budget);
		/* A read straddling the extent's end, from inside a grain. */
		if (ok && e.length > 100 && off + e.length < size) {
			uint64_t start = off + e.length - 100, left = size - start;
			ok = check_read(r, a, b, start, left < 300 ? (size_t)left : 300, NULL, &budget);
		}
		off += e.length;
	}
	/* The last bytes of the disk, unaligned. */
	if (ok && size > 0)
		check_read(r, a, b, size - (size < 777 ? size : 777), size < 777 ? (size_t)size : 777, NULL, &budget);
	uint8_t x;
	require(img_read(r, size, &x, 1) == -EINVAL);
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz_vmdk", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write_all(fd, data, size) != 0) {
		close(fd);
		return 0;
	}
	img_reader *r = NULL;
	char err[512] = "";
	int rc = vmdk_open(fd, &r, err, sizeof(err));
	if (rc == 0) {
		exercise(r);
		img_close(r);
	} else {
		require(rc == -EBADMSG || rc == -ENOTSUP || rc == -EFBIG || rc == -ENOMEM || rc == -EIO);
		require(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
		require(r == NULL);
	}
	close(fd);
	return 0;
}
