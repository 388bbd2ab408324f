/* SPDX-License-Identifier: MIT */
/*
 * Sequential decoders for compressed streams: xz (multi-stream, multi-block,
 * liblzma's threaded decoder), gzip (multi-member), zstd (multi-frame), bzip2
 * (multi-stream). One interface over all of them; the kind is detected from
 * magic bytes, never from a file name.
 *
 * Every decoder enforces an output cap (a decompression bomb fails with
 * -EFBIG), reports truncated input as -EPIPE and trailing garbage after the
 * last complete stream as -EBADMSG; corrupt data is -EBADMSG too.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum compress_kind {
	COMPRESS_NONE = 0,
	COMPRESS_XZ,
	COMPRESS_GZIP,
	COMPRESS_ZSTD,
	COMPRESS_BZIP2,
} compress_kind;

/* Detects the compression from the first bytes of a stream (6 are enough). */
compress_kind compress_detect(const void *head, size_t len);
/* "xz", "gzip", "zstd", "bzip2", "none". */
const char *compress_name(compress_kind k);

typedef struct decoder decoder;

/* Called with each piece of decoded output; return 0 or a negative errno to stop. */
typedef int (*decoder_out_fn)(void *u, const void *buf, size_t n);

/* threads: 0 = as many as the machine has (used by xz when the file has
 * several blocks; others ignore it). max_out: output cap in bytes. */
int decoder_new(compress_kind k, unsigned threads, uint64_t max_out, decoder **ret);
/* Decodes `n` input bytes, passing output to out(). */
int decoder_feed(decoder *d, const void *in, size_t n, decoder_out_fn out, void *u);
/* Input is over: flushes remaining output; -EPIPE if the stream was cut short. */
int decoder_finish(decoder *d, decoder_out_fn out, void *u);
uint64_t decoder_total_out(const decoder *d);
/* A message for the last error ("" when none). */
const char *decoder_error(const decoder *d);
/* Whether a stream decoded so far carries no integrity check at all (xz
 * --check=none): decoded (the download's digest vouches for the compressed
 * bytes), but worth a warning. A check type the library cannot verify is
 * refused instead (-EBADMSG, naming the check id). */
bool decoder_unchecked(const decoder *d);
void decoder_free(decoder *d);

/* Convenience: decodes the whole of fd (from offset 0) through out().
 * err receives a message on failure. */
int decompress_fd(int fd, compress_kind k, unsigned threads, uint64_t max_out, decoder_out_fn out, void *u,
                  char *err, size_t errlen);
/* The same; *ret_unchecked (when not NULL) is set to true when
 * decoder_unchecked() was true at the end (also after a failure), and left
 * alone otherwise. */
int decompress_fd_ex(int fd, compress_kind k, unsigned threads, uint64_t max_out, decoder_out_fn out, void *u,
                     char *err, size_t errlen, bool *ret_unchecked);

/*
 * Uncompressed size without a full decode, where the format allows it:
 *   xz:   from the index of every stream (multi-stream included)
 *   zstd: sum of every frame's content size (fails if a frame omits it)
 * Returns 0 and the size, -ENOTSUP for gzip (ISIZE is only the size modulo
 * 2^32 and is never trusted alone) and bzip2 (no size recorded), -EBADMSG for
 * corrupt input.
 */
int compress_probe_size(int fd, compress_kind k, uint64_t *ret_size, char *err, size_t errlen);
