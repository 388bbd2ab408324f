/* SPDX-License-Identifier: MIT */
/* gzip backend (zlib): one member per restart; decoder.c finds the next one. */
#include "compress/backend.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

typedef struct gzip_state {
	z_stream z;
} gzip_state;

static int gzip_create(unsigned threads, void **ret)
{
	(void)threads; /* single-threaded decoder */
	gzip_state *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	/* 16 + MAX_WBITS: the gzip wrapper only (its header and CRC-32/ISIZE
	 * trailer are checked by zlib), no raw deflate or zlib streams. */
	int zr = inflateInit2(&g->z, 16 + MAX_WBITS);
	if (zr != Z_OK) {
		free(g);
		return zr == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
	}
	*ret = g;
	return 0;
}

static int gzip_restart(void *st, char *err, size_t errlen)
{
	gzip_state *g = st;
	if (inflateReset(&g->z) != Z_OK) {
		snprintf(err, errlen, "cannot reset the gzip decoder");
		return -EINVAL;
	}
	return 0;
}

static int gzip_code(void *st, const uint8_t **in, size_t *in_len, uint8_t **out, size_t *out_room, bool finish,
                     char *err, size_t errlen)
{
	(void)finish; /* the end of input needs no special call */
	gzip_state *g = st;
	/* zlib counts in uInt: hand it at most that much per call. */
	uInt in_n = *in_len > UINT_MAX ? UINT_MAX : (uInt)*in_len;
	uInt out_n = *out_room > UINT_MAX ? UINT_MAX : (uInt)*out_room;
	g->z.next_in = (Bytef *)(uintptr_t)*in; /* zlib's API is not const-correct */
	g->z.avail_in = in_n;
	g->z.next_out = *out;
	g->z.avail_out = out_n;
	int zr = inflate(&g->z, Z_NO_FLUSH);
	*in += in_n - g->z.avail_in;
	*in_len -= in_n - g->z.avail_in;
	*out += out_n - g->z.avail_out;
	*out_room -= out_n - g->z.avail_out;
	switch (zr) {
	case Z_OK:
	case Z_BUF_ERROR: /* no progress possible: decoder.c decides what that means */
		return BACKEND_OK;
	case Z_STREAM_END:
		return BACKEND_STREAM_END;
	case Z_NEED_DICT:
		snprintf(err, errlen, "the stream needs a preset dictionary");
		return -EBADMSG;
	case Z_MEM_ERROR:
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	case Z_DATA_ERROR:
		snprintf(err, errlen, "%s", g->z.msg ? g->z.msg : "compressed data is corrupt");
		return -EBADMSG;
	default:
		snprintf(err, errlen, "internal zlib error %d", zr);
		return -EINVAL;
	}
}

static void gzip_destroy(void *st)
{
	gzip_state *g = st;
	if (!g)
		return;
	inflateEnd(&g->z);
	free(g);
}

const backend_ops backend_gzip = {
	.kind = COMPRESS_GZIP,
	.name = "gzip",
	.magic_len = 2,
	.magic_prefix = gzip_magic_prefix,
	.zero_padding = false,
	.create = gzip_create,
	.restart = gzip_restart,
	.code = gzip_code,
	.destroy = gzip_destroy,
};
