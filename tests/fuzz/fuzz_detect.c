/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the stream detector, the decoders and the size probe.
 *
 * The kind is detected from the input; a compressed input is decoded twice,
 * once in a few uneven pieces and once whole (through liblzma's threaded
 * decoder for xz, unless fuzz_one_thread), with a 4 MiB output cap. Besides the sanitizers, the
 * contract is checked and a violation aborts: both runs agree on the result
 * and the output, the callback never sees more than the cap, every failure
 * is one of the documented errors with a message, and a size probe that
 * succeeds on a stream that decodes agrees with the decoded size. xz files
 * are also decoded block by block through their index (xz_blocks.c), which
 * must give the sequential decoder's output whenever that one succeeds.
 */
#include "compress/decompress.h"
#include "compress/xz_blocks.h"
#include "fuzz_init.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OUT ((uint64_t)4 << 20)
#define MAX_PIECE ((size_t)1 << 20)

static void require(int cond)
{
	if (!cond)
		abort();
}

/* The first run keeps its output; the second compares against it. */
static uint8_t *first_out;

typedef struct sink {
	uint64_t total;
	bool compare;
	bool differs; /* compare mode: output other than the first run's */
} sink;

static int sink_out(void *u, const void *buf, size_t n)
{
	sink *s = u;
	require(n > 0 && n <= MAX_PIECE);
	require(s->total + n <= MAX_OUT);
	if (!s->compare)
		memcpy(first_out + s->total, buf, n);
	else if (!s->differs)
		s->differs = memcmp(first_out + s->total, buf, n) != 0;
	s->total += n;
	return 0;
}

static void check_error(const decoder *d, int r)
{
	require(r == -EBADMSG || r == -EPIPE || r == -EFBIG || r == -ENOMEM);
	require(decoder_error(d)[0] != '\0');
}

/* Decodes data[0..size) fed in pieces ending at the given cut points. */
static int decode(compress_kind k, unsigned threads, const uint8_t *data, size_t size, const size_t *cuts,
                  size_t ncuts, sink *s)
{
	decoder *d = NULL;
	int r = decoder_new(k, threads, MAX_OUT, &d);
	if (r < 0) {
		require(r == -ENOMEM);
		return r;
	}
	s->total = 0;
	s->differs = false;
	size_t off = 0;
	for (size_t i = 0; i <= ncuts && r == 0; i++) {
		size_t end = i < ncuts ? cuts[i] : size;
		r = decoder_feed(d, data + off, end - off, sink_out, s);
		off = end;
	}
	if (r == 0)
		r = decoder_finish(d, sink_out, s);
	if (r < 0)
		check_error(d, r);
	else
		require(decoder_total_out(d) == s->total);
	if (r == -EFBIG)
		require(s->total == MAX_OUT);
	/* Every later call repeats the first failure. */
	if (r < 0)
		require(decoder_feed(d, data, size, sink_out, s) == r && decoder_finish(d, sink_out, s) == r);
	decoder_free(d);
	return r;
}

/* Block-by-block decode, in reverse block order to catch state leaking from
 * one block into the next. */
static void xz_by_blocks(int fd, int decoded, uint64_t total)
{
	char err[256] = "";
	xz_blocks *b = NULL;
	int r = xz_blocks_open(fd, &b, err, sizeof(err));
	if (r < 0) {
		require(err[0] != '\0');
		require(r == -EBADMSG || r == -ENOTSUP || r == -ENOMEM || r == -EIO);
		return;
	}
	if (decoded == 0)
		require(xz_blocks_size(b) == total);
	if (xz_blocks_size(b) > MAX_OUT) {
		xz_blocks_free(b);
		return;
	}
	xz_block_reader *rd = NULL;
	if (xz_block_reader_new(b, &rd) < 0) {
		xz_blocks_free(b);
		return;
	}
	static uint8_t buf[64 << 10];
	bool all_ok = true;
	for (size_t i = xz_blocks_count(b); i-- > 0;) {
		uint64_t off, len, pos = 0;
		xz_blocks_extent(b, i, &off, &len);
		require(off + len <= xz_blocks_size(b));
		r = xz_block_begin(rd, i, err, sizeof(err));
		while (r == 0) {
			size_t got = 0;
			r = xz_block_read(rd, buf, sizeof(buf), &got, err, sizeof(err));
			require(got <= sizeof(buf) && pos + got <= len);
			if (decoded == 0)
				require(memcmp(first_out + off + pos, buf, got) == 0);
			pos += got;
		}
		if (r < 0) {
			require(err[0] != '\0');
			all_ok = false;
		} else {
			require(r == 1 && pos == len);
		}
	}
	if (decoded == 0)
		require(all_ok);
	xz_block_reader_free(rd);
	xz_blocks_free(b);
}

static void probe(compress_kind k, const uint8_t *data, size_t size, int decoded, uint64_t total)
{
	int fd = memfd_create("fuzz_detect", MFD_CLOEXEC);
	if (fd < 0)
		return;
	size_t off = 0;
	while (off < size) {
		ssize_t w = write(fd, data + off, size - off);
		if (w <= 0) {
			close(fd);
			return;
		}
		off += (size_t)w;
	}
	char err[256] = "";
	uint64_t got = UINT64_MAX;
	int r = compress_probe_size(fd, k, &got, err, sizeof(err));
	if (k == COMPRESS_XZ)
		xz_by_blocks(fd, decoded, total);
	close(fd);
	if (k == COMPRESS_GZIP || k == COMPRESS_BZIP2) {
		require(r == -ENOTSUP && err[0]);
		return;
	}
	if (r < 0) {
		require(err[0] != '\0');
		require(r == -EBADMSG || r == -ENOTSUP || r == -ENOMEM);
		/* A stream that decodes has valid headers throughout. */
		if (decoded == 0)
			require(r != -EBADMSG);
		return;
	}
	if (decoded == 0)
		require(got == total);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	compress_kind k = compress_detect(data, size);
	require(k == COMPRESS_NONE || k == COMPRESS_XZ || k == COMPRESS_GZIP || k == COMPRESS_ZSTD ||
	        k == COMPRESS_BZIP2);
	require(strcmp(compress_name(k), "") != 0);
	if (k == COMPRESS_NONE)
		return 0;

	/* A private exact-size copy: reads past the end are caught by ASan. */
	uint8_t *copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);

	/* Uneven pieces, one of them a single byte, so that magic and headers
	 * straddle feeds. */
	size_t cuts[3] = { size / 3, size / 3 + 1, size - size / 4 };
	if (cuts[1] > size)
		cuts[1] = size;
	if (cuts[2] < cuts[1])
		cuts[2] = cuts[1];
	if (!first_out && !(first_out = malloc(MAX_OUT)))
		abort();
	sink pieces = { .compare = false }, whole = { .compare = true };
	int r1 = decode(k, 1, copy, size, cuts, 3, &pieces);
	int r2 = decode(k, fuzz_one_thread ? 1 : 2, copy, size, NULL, 0, &whole);
	if (r1 != -ENOMEM && r2 != -ENOMEM) {
		/* liblzma's threaded decoder holds a block's output until the block
		 * checks out, so it may see corruption where the streaming decoder
		 * first hits the cap; otherwise the two runs must agree. Output
		 * before an error may differ in how far it got; a success or the cap
		 * is exact. */
		require(k == COMPRESS_XZ ? (r1 == 0) == (r2 == 0) : r1 == r2);
		if ((r1 == 0 && r2 == 0) || (r1 == -EFBIG && r2 == -EFBIG))
			require(pieces.total == whole.total && !whole.differs);
	}
	probe(k, copy, size, r1, pieces.total);
	free(copy);
	return 0;
}
