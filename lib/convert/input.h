/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "compress/decompress.h"
#include "core/ctx.h"
#include "formats/image.h"
#include "zfs/send_reader.h"

typedef struct conv_input_opts {
	uint64_t max_size;   /* cap on decoded stream output and on the data a qcow2/vmdk describes */
	const char *tmp_dir; /* where a compressed qcow2/vmdk is unpacked */
	unsigned threads;
	bool allow_unpack;   /* false: refuse a qcow2/vmdk inside a stream */
	bool need_size;      /* a raw stream of unknown size (gzip, bzip2) is unpacked first */
	bool input_raw;      /* take the bytes as a raw disk, whatever they look like (--input-format raw) */
	bool report_foreign; /* a format imgfetch does not read opens as in->foreign (for info) instead of failing */
} conv_input_opts;

typedef struct conv_input {
	int fd;                  /* the file as given */
	int tmp_fd;              /* unpacked image, or -1 */
	dev_t dev;
	ino_t ino;
	uint64_t file_size;
	compress_kind container; /* stream compression around the image */
	bool stream;             /* raw inside a stream: decode sequentially from fd */
	img_reader *reader;      /* random access (not in stream mode) */
	uint64_t virtual_size;
	bool size_known;         /* false for a gzip/bzip2 stream until decoded */
	bool data_known;         /* data_bytes is the sum of the map's data extents (conv_input_count_data) */
	uint64_t data_bytes;
	bool zfs;                /* a zvol's zfs send stream (decoded sequentially unless unpacked) */
	const char *format;      /* static; what the input is ("zvol"), NULL: the reader's format */
	const img_foreign *foreign; /* report_foreign: a format imgfetch does not read (no reader then) */
	zfs_recv_info zfs_info;  /* zfs and unpacked: what the stream said */
	bool unchecked;          /* a decode met an xz stream without integrity check */
	bool unchecked_said;     /* ... and the warning was given */
} conv_input;

/* Opens path, or, when fd >= 0, reads fd (borrowed; path then only names it
 * in messages). */
IMGFETCH_WARN_UNUSED imgfetch_status conv_input_open(imgfetch_ctx *ctx, const char *path, int fd,
                                                     const conv_input_opts *o, conv_input *ret);
/* Walks the reader's map (metadata only) and sets data_bytes, the guest
 * bytes stored as data; more than max_size is IMGFETCH_E_FORMAT. Done by
 * conv_input_open for qcow2 and vmdk, whose tables can alias clusters. */
IMGFETCH_WARN_UNUSED imgfetch_status conv_input_count_data(imgfetch_ctx *ctx, conv_input *in, const char *what,
                                                           uint64_t max_size);
/* Warns, once per input, when in->unchecked was set by a decode (an xz
 * stream made with --check=none: decoded, see lib/compress/xz.c). */
void conv_input_say_unchecked(imgfetch_ctx *ctx, conv_input *in, const char *what);
void conv_input_close(conv_input *in);
