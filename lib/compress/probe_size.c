/* SPDX-License-Identifier: MIT */
/*
 * Uncompressed size of a compressed file without decoding it: xz from the
 * indexes (read from the end of the file backwards by liblzma's file-info
 * decoder), zstd from the frame headers (walking frames and blocks from the
 * start). Only headers are read, so this is cheap even for a huge file.
 */
#include "compress/decompress.h"
#include "compress/xz_index.h"
#include "util/bytes.h"
#include "util/strutil.h"
#include "util/fileio.h"

#include <errno.h>
#include <lzma.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getFrameHeader */
#include <zstd.h>

/* Walking more frames than this is not worth it (each costs a few reads). */
#define ZSTD_MAX_FRAMES (1u << 20)
#define ZSTD_SKIPPABLE_MASK 0xfffffff0u
#define ZSTD_SKIPPABLE_START 0x184d2a50u

/* Reads len bytes at off, fewer only at the end of the file (unlike
 * util/fileio.h's pread_full: a short file is an answer here, not an error). */
static int file_size(int fd, uint64_t *ret, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return errmsg(err, errlen, -errno, "cannot stat the file: %s", strerror(errno));
	/* Sizes come from the end of the file (xz) or need it as a bound (zstd). */
	if (!S_ISREG(st.st_mode))
		return errmsg(err, errlen, -ENOTSUP, "not a regular file: the size can only be found by decoding");
	*ret = (uint64_t)st.st_size;
	return 0;
}

static int probe_xz(int fd, uint64_t size, uint64_t *ret_size, char *err, size_t errlen)
{
	lzma_index *idx = NULL;
	int r = xz_read_index(fd, size, &idx, err, errlen);
	if (r < 0)
		return r;
	/* A size is only worth giving for a file that will decode. */
	if ((r = xz_index_checks(idx, NULL, err, errlen)) < 0) {
		lzma_index_end(idx, NULL);
		return r;
	}
	*ret_size = lzma_index_uncompressed_size(idx);
	lzma_index_end(idx, NULL);
	return 0;
}

/* Offset just past the blocks (and checksum) of the frame whose blocks start
 * at pos. Block headers: 3 bytes little-endian, bit 0 = last block, bits 1-2
 * = type (0 raw, 1 RLE with one byte of content, 2 compressed, 3 reserved),
 * bits 3-23 = size. */
static int zstd_skip_blocks(int fd, uint64_t pos, uint64_t size, bool checksum, uint64_t frame, uint64_t *ret_end,
                            char *err, size_t errlen)
{
	for (;;) {
		uint8_t h[3];
		ssize_t n = pread_upto(fd, h, sizeof(h), pos);
		if (n < 0)
			return errmsg(err, errlen, -errno, "cannot read at byte %llu: %s", (unsigned long long)pos,
			                  strerror(errno));
		if (n < (ssize_t)sizeof(h))
			return errmsg(err, errlen, -EBADMSG, "zstd frame %llu is truncated", (unsigned long long)frame);
		uint32_t hdr = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16;
		uint32_t type = (hdr >> 1) & 3, bsize = hdr >> 3;
		if (type == 3 || bsize > ZSTD_BLOCKSIZE_MAX)
			return errmsg(err, errlen, -EBADMSG, "zstd frame %llu has an invalid block at byte %llu",
			                  (unsigned long long)frame, (unsigned long long)pos);
		pos += sizeof(h) + (type == 1 ? 1 : bsize);
		if (pos > size)
			return errmsg(err, errlen, -EBADMSG, "zstd frame %llu is truncated", (unsigned long long)frame);
		if (hdr & 1)
			break;
	}
	if (checksum)
		pos += 4;
	if (pos > size)
		return errmsg(err, errlen, -EBADMSG, "zstd frame %llu is truncated", (unsigned long long)frame);
	*ret_end = pos;
	return 0;
}

static int probe_zstd(int fd, uint64_t size, uint64_t *ret_size, char *err, size_t errlen)
{
	uint64_t off = 0, total = 0, frames = 0;
	if (size == 0)
		return errmsg(err, errlen, -EBADMSG, "zstd: the file is empty");
	while (off < size) {
		if (frames == ZSTD_MAX_FRAMES)
			return errmsg(err, errlen, -ENOTSUP, "zstd: more than %u frames", ZSTD_MAX_FRAMES);
		uint8_t h[ZSTD_FRAMEHEADERSIZE_MAX];
		ssize_t n = pread_upto(fd, h, sizeof(h), off);
		if (n < 0)
			return errmsg(err, errlen, -errno, "cannot read at byte %llu: %s", (unsigned long long)off,
			                  strerror(errno));
		uint32_t magic = n >= 4 ? le32(h) : 0;
		if ((magic & ZSTD_SKIPPABLE_MASK) == ZSTD_SKIPPABLE_START) {
			/* Skippable: 8-byte header with the content size, no output. */
			if (n < 8 || le32(h + 4) > size - off - 8)
				return errmsg(err, errlen, -EBADMSG, "zstd: skippable frame at byte %llu is truncated",
				                  (unsigned long long)off);
			off += 8 + (uint64_t)le32(h + 4);
			frames++;
			continue;
		}
		if (magic != ZSTD_MAGICNUMBER)
			return errmsg(err, errlen, -EBADMSG, "zstd: no frame at byte %llu (trailing garbage?)",
			                  (unsigned long long)off);
		ZSTD_frameHeader fh;
		size_t zr = ZSTD_getFrameHeader(&fh, h, (size_t)n);
		if (ZSTD_isError(zr))
			return errmsg(err, errlen, -EBADMSG, "zstd: frame %llu at byte %llu: %s", (unsigned long long)frames,
			                  (unsigned long long)off, ZSTD_getErrorName(zr));
		if (zr > 0)
			return errmsg(err, errlen, -EBADMSG, "zstd frame %llu is truncated", (unsigned long long)frames);
		if (fh.frameContentSize == ZSTD_CONTENTSIZE_UNKNOWN)
			return errmsg(err, errlen, -ENOTSUP, "zstd frame %llu does not record its size",
			                  (unsigned long long)frames);
		if (fh.frameContentSize == ZSTD_CONTENTSIZE_ERROR)
			return errmsg(err, errlen, -EBADMSG, "zstd frame %llu has an invalid header",
			                  (unsigned long long)frames);
		if (fh.frameContentSize > UINT64_MAX - total)
			return errmsg(err, errlen, -EBADMSG, "zstd: the frame sizes add up to more than 2^64 bytes");
		total += fh.frameContentSize;
		int r = zstd_skip_blocks(fd, off + fh.headerSize, size, fh.checksumFlag != 0, frames, &off, err, errlen);
		if (r < 0)
			return r;
		frames++;
	}
	*ret_size = total;
	return 0;
}

int compress_probe_size(int fd, compress_kind k, uint64_t *ret_size, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!ret_size)
		return -EINVAL;
	uint64_t size;
	int r;
	switch (k) {
	case COMPRESS_XZ:
		r = file_size(fd, &size, err, errlen);
		return r < 0 ? r : probe_xz(fd, size, ret_size, err, errlen);
	case COMPRESS_ZSTD:
		r = file_size(fd, &size, err, errlen);
		return r < 0 ? r : probe_zstd(fd, size, ret_size, err, errlen);
	case COMPRESS_GZIP:
		return errmsg(err, errlen, -ENOTSUP,
		                  "gzip does not record the uncompressed size (ISIZE is only the size modulo 4 GiB)");
	case COMPRESS_BZIP2:
		return errmsg(err, errlen, -ENOTSUP, "bzip2 does not record the uncompressed size");
	case COMPRESS_NONE:
		break;
	}
	return errmsg(err, errlen, -EINVAL, "not a compressed stream");
}
