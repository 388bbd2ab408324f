/* SPDX-License-Identifier: MIT */
/* A raw disk image: the file is the disk. Holes in a sparse file are reported
 * as holes (SEEK_DATA/SEEK_HOLE), so conversions stay sparse. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/image.h"

typedef struct raw_reader {
	img_reader base;
	int fd;
} raw_reader;

static int raw_map(img_reader *r, uint64_t off, uint64_t max, img_extent *e)
{
	raw_reader *rr = (raw_reader *)r;
	uint64_t end = r->info.virtual_size;
	if (max > end - off)
		max = end - off;
	*e = (img_extent){ .offset = off, .length = max, .kind = IMG_EXTENT_DATA };
	off_t data = lseek(rr->fd, (off_t)off, SEEK_DATA);
	if (data < 0) {
		if (errno == ENXIO) { /* only a hole until the end */
			e->kind = IMG_EXTENT_HOLE;
			return 0;
		}
		return 0; /* no SEEK_DATA support: everything is data */
	}
	if ((uint64_t)data > off) {
		e->kind = IMG_EXTENT_HOLE;
		if ((uint64_t)data - off < e->length)
			e->length = (uint64_t)data - off;
		return 0;
	}
	off_t hole = lseek(rr->fd, (off_t)off, SEEK_HOLE);
	if (hole > 0 && (uint64_t)hole > off && (uint64_t)hole - off < e->length)
		e->length = (uint64_t)hole - off;
	return 0;
}

static int raw_read(img_reader *r, uint64_t off, void *buf, size_t len)
{
	raw_reader *rr = (raw_reader *)r;
	char *p = buf;
	while (len > 0) {
		ssize_t n = pread(rr->fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			img_reader_set_error(r, "reading at offset %llu: %s", (unsigned long long)off, strerror(e));
			return -e;
		}
		if (n == 0) {
			img_reader_set_error(r, "file shrank while being read (offset %llu)", (unsigned long long)off);
			return -EIO;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static void raw_close(img_reader *r)
{
	img_reader_destroy(r);
	free(r);
}

static const img_reader_ops raw_ops = { .map = raw_map, .read = raw_read, .close = raw_close };

int raw_open(int fd, img_reader **ret, char *err, size_t errlen)
{
	uint64_t size;
	int rc = img_file_size(fd, &size, err, errlen);
	if (rc < 0)
		return rc;
	raw_reader *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	img_reader_init(&r->base, &raw_ops, "raw");
	r->fd = fd;
	r->base.info.virtual_size = size;
	r->base.info.file_size = size;
	*ret = &r->base;
	return 0;
}
