/* SPDX-License-Identifier: MIT */
/*
 * Random access to the blocks of an .xz file.
 *
 * The index at the end of every xz stream records where each block starts in
 * the file and where its output starts in the decompressed data. A file with
 * several blocks (xz -T, --block-size) can therefore be decoded block by block
 * on different threads, each output going straight to its own offset: the
 * memory per thread is one LZMA dictionary, not the whole block that
 * liblzma's threaded decoder keeps (it must hand output back in order).
 *
 * Each block is checked as thoroughly as by a sequential decode: its header,
 * its compressed and uncompressed sizes against the index, and its integrity
 * check (CRC32/CRC64/SHA-256; a check type liblzma cannot verify is refused at
 * open, check type NONE is accepted, see xz.c); the stream headers, footers, indexes and
 * padding are checked by liblzma's index reader at open. Messages number
 * blocks from 1, as xz --list does.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct xz_blocks xz_blocks;
typedef struct xz_block_reader xz_block_reader;

/* Reads the indexes and every block header of the .xz file on fd (a regular
 * file; borrowed until xz_blocks_free). -EBADMSG for a corrupt file,
 * -ENOTSUP for what this reader does not handle (a caller then decodes the
 * file sequentially, which reports problems with their byte offsets). */
int xz_blocks_open(int fd, xz_blocks **ret, char *err, size_t errlen);
void xz_blocks_free(xz_blocks *b);

size_t xz_blocks_count(const xz_blocks *b);
/* Total decompressed size. */
uint64_t xz_blocks_size(const xz_blocks *b);
/* Where block i's output goes and how long it is. */
void xz_blocks_extent(const xz_blocks *b, size_t i, uint64_t *ret_offset, uint64_t *ret_length);
/* The most memory one block's decoder needs (the largest dictionary). */
uint64_t xz_blocks_memusage(const xz_blocks *b);
/* Whether some stream of the file has no integrity check (xz --check=none). */
bool xz_blocks_unchecked(const xz_blocks *b);

/* One decoding thread's state, reused from block to block. */
int xz_block_reader_new(const xz_blocks *b, xz_block_reader **ret);
void xz_block_reader_free(xz_block_reader *r);
/* Starts decoding block i. 0 or negative errno with a message in err. */
int xz_block_begin(xz_block_reader *r, size_t i, char *err, size_t errlen);
/* Decodes up to cap bytes of the current block into buf; *got receives the
 * count. Returns 1 when the block is complete and verified (its last bytes
 * may come with that call), 0 when more is to come, or a negative errno with a
 * message in err (-EBADMSG for corrupt data). */
int xz_block_read(xz_block_reader *r, uint8_t *buf, size_t cap, size_t *got, char *err, size_t errlen);
