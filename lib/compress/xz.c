/* SPDX-License-Identifier: MIT */
/*
 * xz backend: one .xz stream per restart. Streams are not decoded with
 * LZMA_CONCATENATED: decoder.c handles stream padding and the next stream's
 * magic itself, so that trailing garbage is reported with its offset (with
 * LZMA_CONCATENATED it is an anonymous LZMA_DATA_ERROR, and fewer than 12
 * garbage bytes even look like truncation).
 */
#include "compress/backend.h"

#include <errno.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>

/* Above this the threaded decoder falls back to one thread instead of
 * allocating more (a soft limit; liblzma's default is no threading at all).
 * It keeps each block whole in memory, so with the 24 MiB blocks of xz -T
 * it rarely runs more than one thread: output to a file or device is decoded
 * block-parallel without that cost (xz_blocks.c); this path serves pipes
 * and qcow2 output, with memory bounded whatever the block size. */
#define XZ_MEMLIMIT_THREADING (UINT64_C(40) << 20)
/* Each decoding thread holds a whole block in memory: past a few dozen
 * threads, more only cost memory. */
#define XZ_MAX_THREADS 256u

typedef struct xz_state {
	lzma_stream s;
	uint32_t threads;
} xz_state;

static int xz_init_stream(xz_state *x, char *err, size_t errlen)
{
	lzma_ret ret;
	/* The window is the format's business (xz has no default decoder
	 * memory limit either): no hard stop. */
	if (x->threads == 1) {
		ret = lzma_stream_decoder(&x->s, UINT64_MAX, 0);
	} else {
		lzma_mt mt = {
			.flags = 0,
			.threads = x->threads,
			.timeout = 0,
			.memlimit_threading = XZ_MEMLIMIT_THREADING,
			.memlimit_stop = UINT64_MAX,
		};
		ret = lzma_stream_decoder_mt(&x->s, &mt);
	}
	if (ret == LZMA_OK)
		return 0;
	snprintf(err, errlen, "cannot start the xz decoder (liblzma error %d)", (int)ret);
	return ret == LZMA_MEM_ERROR ? -ENOMEM : -EINVAL;
}

static int xz_create(unsigned threads, void **ret)
{
	xz_state *x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->s = (lzma_stream)LZMA_STREAM_INIT;
	if (threads == 0)
		threads = lzma_cputhreads();
	if (threads == 0)
		threads = 1;
	x->threads = threads > XZ_MAX_THREADS ? XZ_MAX_THREADS : threads;
	char err[128];
	int r = xz_init_stream(x, err, sizeof(err));
	if (r < 0) {
		lzma_end(&x->s);
		free(x);
		return r;
	}
	*ret = x;
	return 0;
}

static int xz_restart(void *st, char *err, size_t errlen)
{
	/* Re-initialising the same lzma_stream reuses liblzma's allocations. */
	return xz_init_stream(st, err, errlen);
}

static const char *xz_reason(lzma_ret ret)
{
	switch (ret) {
	case LZMA_FORMAT_ERROR: return "not in the xz format";
	case LZMA_OPTIONS_ERROR: return "unsupported xz options (a newer xz version may be needed)";
	case LZMA_DATA_ERROR: return "compressed data is corrupt";
	case LZMA_MEM_ERROR: return "out of memory";
	case LZMA_MEMLIMIT_ERROR: return "memory usage limit reached";
	case LZMA_UNSUPPORTED_CHECK: return "unsupported integrity check";
	default: return "internal liblzma error";
	}
}

static int xz_code(void *st, const uint8_t **in, size_t *in_len, uint8_t **out, size_t *out_room, bool finish,
                   char *err, size_t errlen)
{
	xz_state *x = st;
	x->s.next_in = *in;
	x->s.avail_in = *in_len;
	x->s.next_out = *out;
	x->s.avail_out = *out_room;
	lzma_ret ret = lzma_code(&x->s, finish ? LZMA_FINISH : LZMA_RUN);
	*in = x->s.next_in;
	*in_len = x->s.avail_in;
	*out = x->s.next_out;
	*out_room = x->s.avail_out;
	switch (ret) {
	case LZMA_OK:
	case LZMA_BUF_ERROR: /* no progress possible: decoder.c decides what that means */
		return BACKEND_OK;
	case LZMA_STREAM_END:
		return BACKEND_STREAM_END;
	default:
		snprintf(err, errlen, "%s", xz_reason(ret));
		if (ret == LZMA_MEM_ERROR)
			return -ENOMEM;
		return ret == LZMA_PROG_ERROR ? -EINVAL : -EBADMSG;
	}
}

static void xz_destroy(void *st)
{
	xz_state *x = st;
	if (!x)
		return;
	lzma_end(&x->s);
	free(x);
}

const backend_ops backend_xz = {
	.kind = COMPRESS_XZ,
	.name = "xz",
	.magic_len = 6,
	.magic_prefix = xz_magic_prefix,
	.zero_padding = true,
	.create = xz_create,
	.restart = xz_restart,
	.code = xz_code,
	.destroy = xz_destroy,
};
