/* SPDX-License-Identifier: MIT */
/*
 * Uncompressed size of a compressed file without decoding it: xz from the
 * indexes (read from the end of the file backwards by liblzma's file-info
 * decoder), zstd from the frame headers (walking frames and blocks from the
 * start). Only headers are read, so this is cheap even for a huge file.
 */
#include "compress/decompress.h"
#include "util/bytes.h"

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

/* The combined index of a file with many blocks can be large; beyond this
 * the size is simply "unknown" rather than a big allocation. */
#define XZ_INDEX_MEMLIMIT (UINT64_C(64) << 20)
#define XZ_READ_SIZE ((size_t)64 << 10)
/* Walking more frames than this is not worth it (each costs a few reads). */
#define ZSTD_MAX_FRAMES (1u << 20)
#define ZSTD_SKIPPABLE_MASK 0xfffffff0u
#define ZSTD_SKIPPABLE_START 0x184d2a50u

__attribute__((format(printf, 4, 5))) static int probe_fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* Reads len bytes at off, fewer only at the end of the file (unlike
 * util/fileio.h's pread_full: a short file is an answer here, not an error). */
static ssize_t pread_upto(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int file_size(int fd, uint64_t *ret, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return probe_fail(err, errlen, -errno, "cannot stat the file: %s", strerror(errno));
	/* Sizes come from the end of the file (xz) or need it as a bound (zstd). */
	if (!S_ISREG(st.st_mode))
		return probe_fail(err, errlen, -ENOTSUP, "not a regular file: the size can only be found by decoding");
	*ret = (uint64_t)st.st_size;
	return 0;
}

static const char *xz_reason(lzma_ret ret)
{
	switch (ret) {
	case LZMA_FORMAT_ERROR: return "not in the xz format";
	case LZMA_OPTIONS_ERROR: return "unsupported xz options";
	case LZMA_DATA_ERROR: return "the file is corrupt or has trailing garbage";
	case LZMA_BUF_ERROR: return "the file is truncated";
	default: return "internal liblzma error";
	}
}

static int probe_xz(int fd, uint64_t size, uint64_t *ret_size, char *err, size_t errlen)
{
	uint8_t *buf = malloc(XZ_READ_SIZE);
	if (!buf)
		return -ENOMEM;
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_index *idx = NULL;
	int r;
	lzma_ret ret = lzma_file_info_decoder(&s, &idx, XZ_INDEX_MEMLIMIT, size);
	if (ret != LZMA_OK) {
		r = probe_fail(err, errlen, ret == LZMA_MEM_ERROR ? -ENOMEM : -EINVAL, "cannot start the xz index reader");
		goto out;
	}
	/* The decoder says where it wants to read next (LZMA_SEEK_NEEDED):
	 * the footer at the end, then each index, stream by stream backwards. */
	uint64_t pos = 0;
	for (;;) {
		if (s.avail_in == 0) {
			ssize_t n = pread_upto(fd, buf, XZ_READ_SIZE, pos);
			if (n < 0) {
				r = probe_fail(err, errlen, -errno, "cannot read at byte %llu: %s", (unsigned long long)pos,
				               strerror(errno));
				goto out;
			}
			if (n == 0) {
				r = probe_fail(err, errlen, -EBADMSG, "xz: the file ended at byte %llu while reading its index",
				               (unsigned long long)pos);
				goto out;
			}
			s.next_in = buf;
			s.avail_in = (size_t)n;
			pos += (uint64_t)n;
		}
		ret = lzma_code(&s, LZMA_RUN);
		if (ret == LZMA_STREAM_END)
			break;
		if (ret == LZMA_SEEK_NEEDED) {
			pos = s.seek_pos;
			s.avail_in = 0;
			continue;
		}
		if (ret == LZMA_OK)
			continue;
		if (ret == LZMA_MEM_ERROR)
			r = probe_fail(err, errlen, -ENOMEM, "xz: out of memory reading the index");
		else if (ret == LZMA_MEMLIMIT_ERROR)
			r = probe_fail(err, errlen, -ENOTSUP, "xz: the index needs more than %llu MiB of memory",
			               (unsigned long long)(XZ_INDEX_MEMLIMIT >> 20));
		else
			r = probe_fail(err, errlen, ret == LZMA_PROG_ERROR ? -EINVAL : -EBADMSG, "xz: %s", xz_reason(ret));
		goto out;
	}
	*ret_size = lzma_index_uncompressed_size(idx);
	r = 0;
out:
	lzma_index_end(idx, NULL);
	lzma_end(&s);
	free(buf);
	return r;
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
			return probe_fail(err, errlen, -errno, "cannot read at byte %llu: %s", (unsigned long long)pos,
			                  strerror(errno));
		if (n < (ssize_t)sizeof(h))
			return probe_fail(err, errlen, -EBADMSG, "zstd frame %llu is truncated", (unsigned long long)frame);
		uint32_t hdr = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16;
		uint32_t type = (hdr >> 1) & 3, bsize = hdr >> 3;
		if (type == 3 || bsize > ZSTD_BLOCKSIZE_MAX)
			return probe_fail(err, errlen, -EBADMSG, "zstd frame %llu has an invalid block at byte %llu",
			                  (unsigned long long)frame, (unsigned long long)pos);
		pos += sizeof(h) + (type == 1 ? 1 : bsize);
		if (pos > size)
			return probe_fail(err, errlen, -EBADMSG, "zstd frame %llu is truncated", (unsigned long long)frame);
		if (hdr & 1)
			break;
	}
	if (checksum)
		pos += 4;
	if (pos > size)
		return probe_fail(err, errlen, -EBADMSG, "zstd frame %llu is truncated", (unsigned long long)frame);
	*ret_end = pos;
	return 0;
}

static int probe_zstd(int fd, uint64_t size, uint64_t *ret_size, char *err, size_t errlen)
{
	uint64_t off = 0, total = 0, frames = 0;
	if (size == 0)
		return probe_fail(err, errlen, -EBADMSG, "zstd: the file is empty");
	while (off < size) {
		if (frames == ZSTD_MAX_FRAMES)
			return probe_fail(err, errlen, -ENOTSUP, "zstd: more than %u frames", ZSTD_MAX_FRAMES);
		uint8_t h[ZSTD_FRAMEHEADERSIZE_MAX];
		ssize_t n = pread_upto(fd, h, sizeof(h), off);
		if (n < 0)
			return probe_fail(err, errlen, -errno, "cannot read at byte %llu: %s", (unsigned long long)off,
			                  strerror(errno));
		uint32_t magic = n >= 4 ? le32(h) : 0;
		if ((magic & ZSTD_SKIPPABLE_MASK) == ZSTD_SKIPPABLE_START) {
			/* Skippable: 8-byte header with the content size, no output. */
			if (n < 8 || le32(h + 4) > size - off - 8)
				return probe_fail(err, errlen, -EBADMSG, "zstd: skippable frame at byte %llu is truncated",
				                  (unsigned long long)off);
			off += 8 + (uint64_t)le32(h + 4);
			frames++;
			continue;
		}
		if (magic != ZSTD_MAGICNUMBER)
			return probe_fail(err, errlen, -EBADMSG, "zstd: no frame at byte %llu (trailing garbage?)",
			                  (unsigned long long)off);
		ZSTD_frameHeader fh;
		size_t zr = ZSTD_getFrameHeader(&fh, h, (size_t)n);
		if (ZSTD_isError(zr))
			return probe_fail(err, errlen, -EBADMSG, "zstd: frame %llu at byte %llu: %s", (unsigned long long)frames,
			                  (unsigned long long)off, ZSTD_getErrorName(zr));
		if (zr > 0)
			return probe_fail(err, errlen, -EBADMSG, "zstd frame %llu is truncated", (unsigned long long)frames);
		if (fh.frameContentSize == ZSTD_CONTENTSIZE_UNKNOWN)
			return probe_fail(err, errlen, -ENOTSUP, "zstd frame %llu does not record its size",
			                  (unsigned long long)frames);
		if (fh.frameContentSize == ZSTD_CONTENTSIZE_ERROR)
			return probe_fail(err, errlen, -EBADMSG, "zstd frame %llu has an invalid header",
			                  (unsigned long long)frames);
		if (fh.frameContentSize > UINT64_MAX - total)
			return probe_fail(err, errlen, -EBADMSG, "zstd: the frame sizes add up to more than 2^64 bytes");
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
		return probe_fail(err, errlen, -ENOTSUP,
		                  "gzip does not record the uncompressed size (ISIZE is only the size modulo 4 GiB)");
	case COMPRESS_BZIP2:
		return probe_fail(err, errlen, -ENOTSUP, "bzip2 does not record the uncompressed size");
	case COMPRESS_NONE:
		break;
	}
	return probe_fail(err, errlen, -EINVAL, "not a compressed stream");
}
