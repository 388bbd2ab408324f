/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the qcow2 reader.
 *
 * The input is the image file (in a memfd). If it opens, map() and read()
 * walk the first MiBs of the virtual disk, plus a window at an offset taken
 * from the input, with a bounded amount of work per input. Besides the
 * sanitizers, results are checked against the contract in image.h: extents
 * start where asked, are 1..max bytes long and end inside the disk, zero and
 * hole extents read as zeros, errors carry a message. A violation aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "formats/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_READ_TOTAL (8u << 20)
#define MAX_STEPS 256u
#define STEP (1u << 20)

static void require(int cond)
{
	if (!cond)
		abort();
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One map + read at off; returns the bytes covered, 0 to stop. */
static uint64_t probe(img_reader *r, uint64_t off, uint64_t max, size_t *budget)
{
	uint64_t size = r->info.virtual_size;
	img_extent e;
	memset(&e, 0x5a, sizeof(e));
	int rc = img_map(r, off, max, &e);
	if (rc < 0) {
		require(img_reader_error(r)[0] != '\0');
		return 0;
	}
	require(e.offset == off && e.length >= 1 && e.length <= max && e.length <= size - off);
	require(e.kind == IMG_EXTENT_DATA || e.kind == IMG_EXTENT_ZERO || e.kind == IMG_EXTENT_HOLE);
	require(!e.compressed || e.kind == IMG_EXTENT_DATA);

	size_t len = e.length < *budget ? (size_t)e.length : *budget;
	if (len == 0)
		return 0;
	/* Exact size, so ASan sees any write past the requested length. */
	uint8_t *buf = malloc(len);
	if (!buf)
		return 0;
	rc = img_read(r, off, buf, len);
	if (rc < 0) {
		require(img_reader_error(r)[0] != '\0');
	} else if (e.kind != IMG_EXTENT_DATA) {
		/* All zeros: the first byte is, and each equals the next. */
		require(buf[0] == 0 && memcmp(buf, buf + 1, len - 1) == 0);
	}
	free(buf);
	*budget -= len;
	return rc < 0 ? 0 : e.length;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz_qcow2", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write_all(fd, data, size) < 0) {
		close(fd);
		return 0;
	}
	img_reader *r = NULL;
	char err[512];
	err[0] = '\0';
	int rc = qcow2_open(fd, &r, err, sizeof(err));
	if (rc < 0) {
		require(err[0] != '\0' && r == NULL);
		close(fd);
		return 0;
	}
	require(rc == 0 && r != NULL);
	uint64_t vsize = r->info.virtual_size;
	require(vsize <= IMG_MAX_VIRTUAL_SIZE && r->info.file_size == size);
	require(r->info.version == 2 || r->info.version == 3);

	size_t budget = MAX_READ_TOTAL;
	uint64_t off = 0;
	/* The start of the disk, in extents of at most a MiB. */
	for (unsigned i = 0; i < MAX_STEPS && off < vsize && budget > 0; i++) {
		/* Vary the limit so extents end at odd places too. */
		uint64_t max = (i & 3) == 3 ? 4096 + 511 * i : STEP;
		uint64_t n = probe(r, off, max, &budget);
		if (n == 0)
			break;
		off += n;
	}
	/* A window somewhere else, chosen by the input's last bytes. */
	if (vsize > 0 && size >= 8) {
		uint64_t h = 0;
		memcpy(&h, data + size - 8, 8);
		off = h % vsize;
		budget = STEP;
		for (unsigned i = 0; i < 16 && off < vsize && budget > 0; i++) {
			uint64_t n = probe(r, off, 65536 + 4095, &budget);
			if (n == 0)
				break;
			off += n;
		}
		/* The last byte. */
		budget = 1;
		probe(r, vsize - 1, UINT64_MAX, &budget);
	}
	img_close(r);
	close(fd);
	return 0;
}
