/* SPDX-License-Identifier: MIT */
/*
 * xz backend: one .xz stream per restart. Streams are not decoded with
 * LZMA_CONCATENATED: decoder.c handles stream padding and the next stream's
 * magic itself, so that trailing garbage is reported with its offset (with
 * LZMA_CONCATENATED it is an anonymous LZMA_DATA_ERROR, and fewer than 12
 * garbage bytes even look like truncation).
 *
 * Integrity checks: every decoder is started with LZMA_TELL_UNSUPPORTED_CHECK
 * and LZMA_TELL_NO_CHECK. Without the first, liblzma decodes a stream whose
 * check type it does not implement (ids 2, 3, 5, ... are reserved; a build
 * may also leave out CRC64 or SHA-256) and silently skips the check; such a
 * stream is refused here (-EBADMSG: a bad image, exit 6), naming the check
 * id, since nothing would vouch for the decoded bytes at the xz layer and a
 * file that claims a check nobody can compute is damaged or hostile. A
 * stream made with `xz --check=none` claims nothing: it is decoded, and the
 * backend remembers it (backend_ops.unchecked), so that the caller can warn.
 * An xz check guards against the compressed bytes changing between
 * compression and decoding; imgfetch verifies those bytes against the
 * publisher's digest or signature before decoding them, so for a download
 * the missing check costs nothing. A local file given to `convert` has no
 * such digest, which is what the warning is for.
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
	bool unchecked; /* a stream so far had check type NONE */
} xz_state;

#define XZ_DECODER_FLAGS (LZMA_TELL_UNSUPPORTED_CHECK | LZMA_TELL_NO_CHECK)

static int xz_init_stream(xz_state *x, char *err, size_t errlen)
{
	lzma_ret ret;
	/* The window is the format's business (xz has no default decoder
	 * memory limit either): no hard stop. */
	if (x->threads == 1) {
		ret = lzma_stream_decoder(&x->s, UINT64_MAX, XZ_DECODER_FLAGS);
	} else {
		lzma_mt mt = {
			.flags = XZ_DECODER_FLAGS,
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
	lzma_ret ret;
	for (;;) {
		ret = lzma_code(&x->s, finish ? LZMA_FINISH : LZMA_RUN);
		if (ret != LZMA_NO_CHECK)
			break;
		/* Said once per stream, after its header; decoding goes on. */
		x->unchecked = true;
	}
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
	case LZMA_UNSUPPORTED_CHECK:
		/* Said after the stream header, before any of its data is decoded. */
		snprintf(err, errlen,
		         "xz stream uses integrity check type %u, which this build of liblzma cannot verify; refusing "
		         "to decode unchecked data",
		         (unsigned)lzma_get_check(&x->s));
		return -EBADMSG;
	default:
		snprintf(err, errlen, "%s", xz_reason(ret));
		if (ret == LZMA_MEM_ERROR)
			return -ENOMEM;
		return ret == LZMA_PROG_ERROR ? -EINVAL : -EBADMSG;
	}
}

static bool xz_unchecked(const void *st)
{
	return ((const xz_state *)st)->unchecked;
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
	.unchecked = xz_unchecked,
	.destroy = xz_destroy,
};
