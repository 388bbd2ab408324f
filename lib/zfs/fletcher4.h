/* SPDX-License-Identifier: MIT */
/*
 * Fletcher-4 as zfs send streams use it: four 64-bit sums over 32-bit
 * little-endian words, carried across the whole stream. The sums of a piece
 * can be computed on their own (from zero) and folded into the running state
 * later, so payload checksums are computed on every core and only the record
 * headers are summed in stream order.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct fletcher4 {
	uint64_t a, b, c, d;
} fletcher4;

/* Adds `len` bytes (a multiple of 4) to the state. */
void fletcher4_update(fletcher4 *f, const void *buf, size_t len);
/* The state after feeding a piece of `len` bytes (a multiple of 4) whose own
 * sums, started from zero, are `piece`: as if fletcher4_update had seen it. */
void fletcher4_combine(fletcher4 *f, const fletcher4 *piece, size_t len);
/* Stores the state as four little-endian u64 (32 bytes), as zio_cksum_t. */
void fletcher4_store(const fletcher4 *f, unsigned char out[32]);
