/* SPDX-License-Identifier: MIT */
/*
 * A gzip-compressed output file that appears atomically, with the SHA-1 and
 * size of the compressed bytes computed while they are written (never by
 * reading the file back): what an IMGAPI manifest's files[0] needs.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct gz_output gz_output;

/* Creates the temp file beside `path` (atomic_file) and a pgzip on `threads`
 * (0: every CPU) at `level` (1..9). 0 or negative errno, message in err. */
int gz_output_open(const char *path, unsigned threads, int level, gz_output **ret, char *err, size_t errlen);
/* Appends uncompressed bytes; usable as a decoder_out_fn (u = the gz_output). */
int gz_output_push(void *g, const void *buf, size_t n);
/* Finishes the gzip member, fsyncs and installs the file under its name.
 * sha1_hex: 41 bytes, lowercase; ret_size may be NULL. 0 or negative errno,
 * message in err. Called once: after a failure only gz_output_free is left. */
int gz_output_commit(gz_output *g, char sha1_hex[41], uint64_t *ret_size, char *err, size_t errlen);
/* Message for a failed push ("" when none); owned by g. */
const char *gz_output_error(const gz_output *g);
/* Discards an uncommitted file; frees. NULL is fine. */
void gz_output_free(gz_output *g);
