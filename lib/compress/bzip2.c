/* SPDX-License-Identifier: MIT */
/* bzip2 backend (libbz2): one stream per restart; decoder.c finds the next one. */
#include "compress/backend.h"

#include <bzlib.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct bzip2_state {
	bz_stream s;
	bool live; /* BZ2_bzDecompressInit succeeded and End not called yet */
} bzip2_state;

static int bzip2_init_stream(bzip2_state *b)
{
	b->s = (bz_stream){ 0 };
	/* small = 0: the fast decoder (about 3.7 MB for 900k blocks). */
	int r = BZ2_bzDecompressInit(&b->s, 0, 0);
	b->live = r == BZ_OK;
	return r == BZ_OK ? 0 : r == BZ_MEM_ERROR ? -ENOMEM : -EINVAL;
}

static int bzip2_create(unsigned threads, void **ret)
{
	(void)threads; /* single-threaded decoder */
	bzip2_state *b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	int r = bzip2_init_stream(b);
	if (r < 0) {
		free(b);
		return r;
	}
	*ret = b;
	return 0;
}

static int bzip2_restart(void *st, char *err, size_t errlen)
{
	bzip2_state *b = st;
	/* libbz2 has no reset: a stream that ended must be re-initialised. */
	if (b->live)
		BZ2_bzDecompressEnd(&b->s);
	b->live = false;
	int r = bzip2_init_stream(b);
	if (r < 0)
		snprintf(err, errlen, "cannot start the bzip2 decoder");
	return r;
}

static int bzip2_code(void *st, const uint8_t **in, size_t *in_len, uint8_t **out, size_t *out_room, bool finish,
                      char *err, size_t errlen)
{
	(void)finish; /* the end of input needs no special call */
	bzip2_state *b = st;
	unsigned in_n = *in_len > UINT_MAX ? UINT_MAX : (unsigned)*in_len;
	unsigned out_n = *out_room > UINT_MAX ? UINT_MAX : (unsigned)*out_room;
	b->s.next_in = (char *)(uintptr_t)*in; /* libbz2's API is not const-correct */
	b->s.avail_in = in_n;
	b->s.next_out = (char *)*out;
	b->s.avail_out = out_n;
	int r = BZ2_bzDecompress(&b->s);
	*in += in_n - b->s.avail_in;
	*in_len -= in_n - b->s.avail_in;
	*out += out_n - b->s.avail_out;
	*out_room -= out_n - b->s.avail_out;
	switch (r) {
	case BZ_OK:
		return BACKEND_OK;
	case BZ_STREAM_END:
		return BACKEND_STREAM_END;
	case BZ_DATA_ERROR:
		snprintf(err, errlen, "compressed data is corrupt (a block or stream CRC does not match)");
		return -EBADMSG;
	case BZ_DATA_ERROR_MAGIC:
		snprintf(err, errlen, "not in the bzip2 format");
		return -EBADMSG;
	case BZ_MEM_ERROR:
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	default:
		snprintf(err, errlen, "internal libbz2 error %d", r);
		return -EINVAL;
	}
}

static void bzip2_destroy(void *st)
{
	bzip2_state *b = st;
	if (!b)
		return;
	if (b->live)
		BZ2_bzDecompressEnd(&b->s);
	free(b);
}

const backend_ops backend_bzip2 = {
	.kind = COMPRESS_BZIP2,
	.name = "bzip2",
	.magic_len = 4,
	.magic_prefix = bzip2_magic_prefix,
	.zero_padding = false,
	.create = bzip2_create,
	.restart = bzip2_restart,
	.code = bzip2_code,
	.destroy = bzip2_destroy,
};
