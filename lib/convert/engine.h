/* SPDX-License-Identifier: MIT */
/*
 * The conversion engine: moves a virtual disk from a source into a writer in
 * fixed-size units, on every core, committing strictly in order.
 *
 *   random-access source (img_reader): workers claim units in order, map and
 *     read them (decompressing qcow2/vmdk clusters in parallel), encode them;
 *   sequential source (a decoded stream): the caller pushes bytes, workers
 *     encode full units;
 * and one committer thread hands encoded units to the writer in order.
 * Memory is bounded by the ring: (2 x workers + 2) units.
 */
#pragma once

#include "core/ctx.h"
#include "formats/image.h"
#include "writers/writer.h"

#define ENGINE_UNIT (2u * 1024 * 1024)

typedef struct engine engine;

typedef struct engine_stats {
	uint64_t data_bytes;  /* bytes of data extents (random) or non-zero units (stream) */
	uint64_t total;       /* bytes committed */
} engine_stats;

/* Random-access conversion of the whole reader. On failure a message is in ctx. */
imgfetch_status engine_run_reader(imgfetch_ctx *ctx, img_reader *reader, img_writer *writer, unsigned threads,
                                  const char *label, engine_stats *ret);

/* Sequential conversion: start, push bytes (any sizes), finish. The total is
 * whatever was pushed; expected_size (0 if unknown) only feeds progress. */
imgfetch_status engine_stream_start(imgfetch_ctx *ctx, img_writer *writer, unsigned threads, const char *label,
                                    uint64_t expected_size, engine **ret);
/* A decoder_out_fn: returns 0 or a negative errno (the engine failed).
 * buf NULL pushes n zero bytes (a hole in a zfs send stream): a unit made
 * only of those reaches the writer marked all-zero, without a scan. */
int engine_stream_push(void *engine, const void *buf, size_t n);
/* Flushes the last unit, waits for the writer; frees the engine. `ok` false
 * aborts (after a decoder error): the engine only cleans up. */
imgfetch_status engine_stream_finish(engine *e, bool ok, engine_stats *ret);

/*
 * Independent segments: a source made of pieces that each decode only from
 * their own start (the blocks of a multi-block xz file). Every worker takes
 * whole segments and streams each straight into the writer at its offset,
 * so the writer must be unordered (w->unordered). Memory: one unit and one
 * segment reader per worker.
 */
typedef struct engine_segments {
	void *src;
	size_t count;
	uint64_t size; /* total bytes, the sum of the segments */
	void (*extent)(void *src, size_t i, uint64_t *ret_offset, uint64_t *ret_length);
	/* Per-worker reader state. */
	int (*reader_new)(void *src, void **ret);
	void (*reader_free)(void *reader);
	/* Start segment i; then read until it returns 1 (done, verified).
	 * Errors: negative errno and a message in err. */
	int (*begin)(void *reader, size_t i, char *err, size_t errlen);
	int (*read)(void *reader, unsigned char *buf, size_t cap, size_t *got, char *err, size_t errlen);
} engine_segments;

/* Converts every segment with up to `threads` workers. Bad input is
 * IMGFETCH_E_FORMAT; on failure a message is in ctx. */
imgfetch_status engine_run_segments(imgfetch_ctx *ctx, const engine_segments *src, img_writer *writer,
                                    unsigned threads, const char *label, engine_stats *ret);
