/* SPDX-License-Identifier: MIT */
/*
 * Parallel gzip compression, pigz-style: the input is cut into fixed chunks,
 * each compressed by a worker with zlib using the previous 32 KiB of input as
 * its dictionary and ending with a sync flush, so the pieces join into ONE
 * standard gzip member (RFC 1952) that gzip -t and every inflater accept.
 * CRC-32s of the chunks are combined. The output depends only on the input
 * and the level, never on the thread count: byte-reproducible. The header
 * carries no file name and mtime 0.
 *
 * Memory: a ring of (2 x threads + 2) chunks of PGZIP_CHUNK bytes, each with
 * 32 KiB of dictionary and its compressed buffer, plus one zlib stream
 * (about 270 KiB) per thread: under 4 MiB on two threads. pgzip_write
 * blocks while the ring is full.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define PGZIP_CHUNK (256u * 1024)
#define PGZIP_DEFAULT_LEVEL 4

/* Receives compressed bytes, in order, never concurrently (possibly from a
 * worker thread). Return 0, or a negative errno to stop the compressor. */
typedef int (*pgzip_sink_fn)(void *u, const void *buf, size_t n);

typedef struct pgzip pgzip;

/* threads: 0 = one per online CPU (at most 16); level 1..9. 0 or negative
 * errno. The caller owns *ret (pgzip_free); sink and u must outlive it. */
int pgzip_new(unsigned threads, int level, pgzip_sink_fn sink, void *u, pgzip **ret);
/* Appends input (copied). One caller thread at a time. Returns 0 or the first
 * error (a sink error, -ENOMEM, ...); after an error every call fails. The
 * signature matches decoder_out_fn (void *u first) through pgzip_push. */
int pgzip_write(pgzip *z, const void *buf, size_t n);
int pgzip_push(void *z, const void *buf, size_t n);
/* Compresses what is left, writes the trailer, waits for the sink. 0 or the
 * first error; calling it again returns the same. Writes after it fail. */
int pgzip_finish(pgzip *z);
uint64_t pgzip_total_in(const pgzip *z);
uint64_t pgzip_total_out(const pgzip *z);
/* "" when none; owned by z. */
const char *pgzip_error(const pgzip *z);
/* Stops the workers (if still running: after the sink call in progress, if
 * any, returns) and frees everything. Without a successful pgzip_finish the
 * output is incomplete. NULL is fine. */
void pgzip_free(pgzip *z);
