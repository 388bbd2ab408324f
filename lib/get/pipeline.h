/* SPDX-License-Identifier: MIT */
/*
 * The byte path of a download or a cache check: bytes go to an optional output
 * file and to SHA-256 (always) and SHA-512 (when a verifier needs it), each on
 * its own thread, so hashing overlaps with the network and the disk.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "http/xfer.h"
#include "stream/fanout.h"
#include "verify/digest.h"

typedef struct pipeline {
	int out_fd;          /* -1: hash only */
	uint64_t written;    /* bytes written to out_fd (writer thread only) */
	uint64_t flushed;    /* bytes whose write-back was started */
	digest *sha256;
	digest *sha512;      /* NULL when not needed */
	fanout *fan;
	xfer_sink sink;      /* feeds the pipeline; for xfer_run() */
} pipeline;

/* 0 or negative errno. */
int pipeline_init(pipeline *p, int out_fd, bool want_sha512);
int pipeline_feed(pipeline *p, const void *buf, size_t n);
/* Waits for every consumer, then writes the hex digests (sha512_hex untouched
 * when not computed). 0 or negative errno (e.g. a write error). */
int pipeline_finish(pipeline *p, char sha256_hex[65], char sha512_hex[129]);
void pipeline_free(pipeline *p);

/* Reads fd from its start to EOF through the pipeline. 0 or negative errno;
 * -ECANCELED when the context was cancelled. */
int pipeline_feed_fd(pipeline *p, int fd, imgfetch_ctx *ctx, const char *label, uint64_t size);
