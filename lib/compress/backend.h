/* SPDX-License-Identifier: MIT */
/*
 * The per-format half of a decoder (internal to lib/compress).
 *
 * A backend decodes exactly one stream (an xz stream, a gzip member, a zstd
 * frame, a bzip2 stream) and says where it ended. Everything between and
 * after streams — stream padding, the magic of the next stream, trailing
 * garbage — as well as the output cap, output buffering and error messages
 * with byte offsets is handled once, in decoder.c. That keeps the rules
 * identical across formats and lets decoder.c report the exact offset of
 * trailing garbage, which the libraries' own multi-stream modes cannot.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compress/decompress.h"

/* code() results besides a negative errno. */
enum {
	BACKEND_OK = 0,         /* progress made, or more input needed */
	BACKEND_STREAM_END = 1, /* the stream is complete and all of its output was produced */
};

typedef struct backend_ops {
	compress_kind kind;
	const char *name;
	/* Bytes of a stream's magic that decoder.c checks before starting the
	 * next stream (at most 8), and the check itself: true when b[0..n) can
	 * still be the start of a stream. */
	size_t magic_len;
	bool (*magic_prefix)(const uint8_t *b, size_t n);
	/* xz only: zero bytes between and after streams, in multiples of 4. */
	bool zero_padding;

	/* Allocates the state, ready for the first stream. 0, -ENOMEM. */
	int (*create)(unsigned threads, void **ret);
	/* Makes the state ready for the next stream. 0 or negative errno + err. */
	int (*restart)(void *st, char *err, size_t errlen);
	/*
	 * Decodes from *in (*in_len bytes) into *out (*out_room bytes), advancing
	 * both. `finish`: no more input will come. Never returns BACKEND_OK with
	 * input left and room left unless it made progress. Returns BACKEND_OK,
	 * BACKEND_STREAM_END (input after the end stays unconsumed), or a
	 * negative errno with the library's reason in err (-EBADMSG for bad data).
	 */
	int (*code)(void *st, const uint8_t **in, size_t *in_len, uint8_t **out, size_t *out_room, bool finish,
	            char *err, size_t errlen);
	/* Optional: whether a stream decoded so far carried no integrity check
	 * (xz --check=none), which the decoder accepts but the caller should say. */
	bool (*unchecked)(const void *st);
	void (*destroy)(void *st);
} backend_ops;

extern const backend_ops backend_xz;
extern const backend_ops backend_gzip;
extern const backend_ops backend_zstd;
extern const backend_ops backend_bzip2;

/* Magic checks shared by detect.c and the backends. */
bool xz_magic_prefix(const uint8_t *b, size_t n);
bool gzip_magic_prefix(const uint8_t *b, size_t n);
bool zstd_magic_prefix(const uint8_t *b, size_t n);
bool bzip2_magic_prefix(const uint8_t *b, size_t n);
