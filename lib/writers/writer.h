/* SPDX-License-Identifier: MIT */
/*
 * Image writers. The converter cuts the virtual disk into units (a fixed
 * size, a multiple of the output's cluster size, except the last) and runs each unit through
 * the writer in two steps:
 *
 *   encode(unit)  on any worker thread, concurrently for different units:
 *                 the expensive, independent part (finding zero blocks,
 *                 compressing clusters); results are kept in unit->priv.
 *   commit(unit)  on one thread, strictly in ascending offset order: the part
 *                 that needs order (allocating space, writing, bookkeeping).
 *
 * then finish() once after the last unit (flush metadata, fsync); units
 * encoded but never committed (after a failure) are released with discard(),
 * and free() releases the writer in every case. In-order commits make output reproducible and let writers
 * stream (stdout) or flush metadata as soon as a range is complete.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct img_unit {
	uint64_t offset;      /* guest offset of the unit */
	size_t length;        /* bytes in data */
	unsigned char *data;  /* guest bytes; zeros where the source had holes/zeros */
	bool all_zero_hint;   /* the source says the whole unit is unallocated or zero */
	void *priv;           /* writer state between encode and commit (freed by commit/abort) */
} img_unit;

typedef struct img_writer img_writer;

typedef struct img_writer_ops {
	int (*encode)(img_writer *w, img_unit *u);          /* thread-safe */
	int (*commit)(img_writer *w, img_unit *u);          /* in order, one thread */
	void (*discard)(img_writer *w, img_unit *u);        /* free u->priv of an uncommitted unit */
	int (*finish)(img_writer *w);
	void (*free)(img_writer *w);                        /* after finish or on failure */
} img_writer_ops;

struct img_writer {
	const img_writer_ops *ops;
	uint64_t virtual_size;
	/* encode() does all the writing and commit() nothing: units may then be
	 * encoded in any order and commit() skipped (files written by position). */
	bool unordered;
	/* A unit with all_zero_hint set is never looked at: the engine need not
	 * clear its buffer. */
	bool skips_zero_units;
	char err[512];        /* message for the first failure */
};

/* Writes a sparse raw image into fd (a regular file, block device or pipe);
 * `sparse` seeks over zero blocks (regular files) and truncates to the final size. */
int raw_writer_new(int fd, uint64_t virtual_size, bool is_pipe, img_writer **ret);

/* Writes into a device (block, character, or a file standing in for one)
 * that is known to read as zeros everywhere, like a freshly created sparse
 * zvol: zero blocks are skipped without reading, data is written in place,
 * the size is left alone. */
int raw_writer_new_zeroed(int fd, uint64_t virtual_size, img_writer **ret);

typedef enum raw_block_zero { RAW_ZERO_CHECK, RAW_ZERO_ZEROOUT, RAW_ZERO_DISCARD } raw_block_zero;
/* Block devices only: how zero ranges are made zero (default: check, write where needed). */
void raw_writer_set_block_zero(img_writer *w, raw_block_zero mode);

typedef enum qcow2_compression {
	QCOW2_COMPRESS_NONE = 0,
	QCOW2_COMPRESS_ZLIB = 1, /* raw deflate, qcow2 compression type 0 */
	QCOW2_COMPRESS_ZSTD = 2, /* qcow2 compression type 1 (incompatible bit 3) */
} qcow2_compression;

/* Writes a qcow2 v3 image into fd (regular file, empty, positioned anywhere:
 * pwrite only). cluster_size: power of two, 512 B … 2 MiB (qemu's limits);
 * the converter's unit size is a multiple of it. */
int qcow2_writer_new(int fd, uint64_t virtual_size, uint32_t cluster_size, qcow2_compression comp,
                     img_writer **ret);
