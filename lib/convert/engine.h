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
/* A decoder_out_fn: returns 0 or a negative errno (the engine failed). */
int engine_stream_push(void *engine, const void *buf, size_t n);
/* Flushes the last unit, waits for the writer; frees the engine. `ok` false
 * aborts (after a decoder error): the engine only cleans up. */
imgfetch_status engine_stream_finish(engine *e, bool ok, engine_stats *ret);
