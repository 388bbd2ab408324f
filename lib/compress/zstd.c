/* SPDX-License-Identifier: MIT */
/*
 * zstd backend: one frame (regular or skippable) per restart. ZSTD_DStream
 * stops consuming input at the end of each frame and returns 0 there, which
 * is exactly the stream boundary decoder.c needs.
 *
 * Each frame header is handed to ZSTD_decompressStream() whole and alone,
 * in a call of its own. When a header completes, libzstd (1.5.4, and
 * upstream at the time of writing) may take a single-pass shortcut if the
 * whole frame is in that call's input, and the shortcut differs from the
 * streaming path: it parses the frame from the start of the call's input
 * (with a header split across calls, the middle of the header, which can
 * parse as a different, e.g. skippable, frame), and it rejects frames the
 * streaming path accepts (an empty compressed block). The same file would
 * then decode or fail depending on how its input happened to be cut (found
 * by fuzz_detect). A call holding only the header never has a whole frame,
 * so every frame takes the streaming path.
 *
 * The frame content size is checked here as well: libzstd's streaming path
 * does not check it when a frame ends with an empty last block (its
 * single-pass path does), and a size that lies would also make
 * compress_probe_size() disagree with the decoded stream.
 */
#include "compress/backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getFrameHeader, ZSTD_FRAMEHEADERSIZE_MAX */
#include <zstd.h>
#include <zstd_errors.h>

/* 128 MiB, zstd's own default: covers every level including -19 and
 * --long=27, and bounds decoder memory against a hostile frame header. */
#define ZSTD_WINDOW_LOG_MAX 27

typedef struct zstd_state {
	ZSTD_DStream *ds;
	bool at_start;                         /* nothing of the current frame given to ds yet */
	uint8_t hdr[ZSTD_FRAMEHEADERSIZE_MAX]; /* a frame header collected across calls */
	size_t hdr_len;
	unsigned long long want;               /* the frame's content size, or ZSTD_CONTENTSIZE_UNKNOWN */
	uint64_t made;                         /* output of the current frame so far */
} zstd_state;

static int zstd_create(unsigned threads, void **ret)
{
	(void)threads; /* single-threaded decoder */
	zstd_state *z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->ds = ZSTD_createDStream();
	if (!z->ds) {
		free(z);
		return -ENOMEM;
	}
	if (ZSTD_isError(ZSTD_DCtx_setParameter(z->ds, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX))) {
		ZSTD_freeDStream(z->ds);
		free(z);
		return -EINVAL;
	}
	z->at_start = true;
	*ret = z;
	return 0;
}

static int zstd_restart(void *st, char *err, size_t errlen)
{
	zstd_state *z = st;
	/* The session only: the window limit stays set. */
	if (ZSTD_isError(ZSTD_DCtx_reset(z->ds, ZSTD_reset_session_only))) {
		snprintf(err, errlen, "cannot reset the zstd decoder");
		return -EINVAL;
	}
	z->at_start = true;
	z->hdr_len = 0;
	return 0;
}

static int zstd_error(size_t ret, char *err, size_t errlen)
{
	switch (ZSTD_getErrorCode(ret)) {
	case ZSTD_error_memory_allocation:
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	case ZSTD_error_frameParameter_windowTooLarge:
		snprintf(err, errlen, "the frame needs a window larger than %u MiB (made with --long=28 or more?)",
		         1u << (ZSTD_WINDOW_LOG_MAX - 20));
		return -EBADMSG;
	default:
		snprintf(err, errlen, "%s", ZSTD_getErrorName(ret));
		return -EBADMSG;
	}
}

static int zstd_stream(zstd_state *z, const uint8_t **in, size_t *in_len, uint8_t **out, size_t *out_room,
                       char *err, size_t errlen)
{
	ZSTD_inBuffer ib = { .src = *in, .size = *in_len, .pos = 0 };
	ZSTD_outBuffer ob = { .dst = *out, .size = *out_room, .pos = 0 };
	size_t ret = ZSTD_decompressStream(z->ds, &ob, &ib);
	*in += ib.pos;
	*in_len -= ib.pos;
	*out += ob.pos;
	*out_room -= ob.pos;
	z->made += ob.pos;
	if (ZSTD_isError(ret))
		return zstd_error(ret, err, errlen);
	if (ret != 0)
		return BACKEND_OK;
	if (z->want != ZSTD_CONTENTSIZE_UNKNOWN && z->made != z->want) {
		snprintf(err, errlen, "the frame holds %llu bytes, its header says %llu", (unsigned long long)z->made,
		         z->want);
		return -EBADMSG;
	}
	return BACKEND_STREAM_END;
}

/* Notes the content size of the frame whose whole header is in b[0..n). */
static void frame_begins(zstd_state *z, const uint8_t *b, size_t n)
{
	ZSTD_frameHeader fh;
	size_t r = ZSTD_getFrameHeader(&fh, b, n);
	bool known = !ZSTD_isError(r) && r == 0 && fh.frameType == ZSTD_frame &&
	             fh.frameContentSize != ZSTD_CONTENTSIZE_ERROR;
	z->want = known ? fh.frameContentSize : ZSTD_CONTENTSIZE_UNKNOWN;
	z->made = 0;
	z->at_start = false;
}

/* How many bytes the header in b[0..n) needs in all; 0 if it cannot be
 * known (bad magic, reserved bits): then libzstd reports the error. */
static size_t header_size(const uint8_t *b, size_t n)
{
	ZSTD_frameHeader fh;
	size_t r = ZSTD_getFrameHeader(&fh, b, n);
	if (ZSTD_isError(r))
		return 0;
	return r == 0 ? fh.headerSize : r;
}

/* Gives libzstd exactly the header h[0..n) of the frame that begins. */
static int feed_header(zstd_state *z, const uint8_t *h, size_t n, uint8_t **out, size_t *out_room, char *err,
                       size_t errlen)
{
	frame_begins(z, h, n);
	int r = zstd_stream(z, &h, &n, out, out_room, err, errlen);
	if (r < 0 || r == BACKEND_STREAM_END) /* an empty skippable frame ends right here */
		return r;
	if (n != 0) {
		snprintf(err, errlen, "the decoder did not take the frame header");
		return -EINVAL;
	}
	return BACKEND_OK;
}

static int zstd_code(void *st, const uint8_t **in, size_t *in_len, uint8_t **out, size_t *out_room, bool finish,
                     char *err, size_t errlen)
{
	zstd_state *z = st;
	(void)finish; /* the end of input needs no special call */
	if (!z->at_start)
		return zstd_stream(z, in, in_len, out, out_room, err, errlen);

	if (z->hdr_len == 0) {
		size_t need = header_size(*in, *in_len);
		if (need == 0) {
			/* A bad header: libzstd says why. */
			frame_begins(z, *in, *in_len);
			return zstd_stream(z, in, in_len, out, out_room, err, errlen);
		}
		if (need <= *in_len) {
			const uint8_t *h = *in;
			*in += need;
			*in_len -= need;
			return feed_header(z, h, need, out, out_room, err, errlen);
		}
	}
	/* The header straddles calls: collect it, taking no byte beyond it. */
	for (;;) {
		size_t need = header_size(z->hdr, z->hdr_len);
		if (need == 0 && z->hdr_len > 0)
			break; /* bad: libzstd says why */
		if (need == 0)
			need = 1;
		if (need <= z->hdr_len || need > sizeof(z->hdr))
			break;
		if (*in_len == 0)
			return BACKEND_OK;
		size_t take = need - z->hdr_len < *in_len ? need - z->hdr_len : *in_len;
		memcpy(z->hdr + z->hdr_len, *in, take);
		z->hdr_len += take;
		*in += take;
		*in_len -= take;
	}
	size_t n = z->hdr_len;
	z->hdr_len = 0;
	return feed_header(z, z->hdr, n, out, out_room, err, errlen);
}

static void zstd_destroy(void *st)
{
	zstd_state *z = st;
	if (!z)
		return;
	ZSTD_freeDStream(z->ds);
	free(z);
}

const backend_ops backend_zstd = {
	.kind = COMPRESS_ZSTD,
	.name = "zstd",
	.magic_len = 4,
	.magic_prefix = zstd_magic_prefix,
	.zero_padding = false,
	.create = zstd_create,
	.restart = zstd_restart,
	.code = zstd_code,
	.destroy = zstd_destroy,
};
