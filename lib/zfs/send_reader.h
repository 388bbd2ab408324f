/* SPDX-License-Identifier: MIT */
/*
 * Reading the full zfs send stream of a zvol back into the disk it holds,
 * sequentially, from bytes pushed in any pieces. Both record orders are
 * understood: modern OpenZFS (object 1's data right after its OBJECT record)
 * and older illumos/zfs-fuse (all OBJECT records first, data after).
 *
 * Every record's checksum (where the sender wrote one) and the END checksum
 * are verified. Refused cleanly: a byte-swapped (big-endian) or compound
 * stream, feature flags (compressed, embedded, large blocks, raw...),
 * incremental or clone streams, objects a zvol does not have, WRITE records
 * out of order or overlapping, data past the volume size, a missing END,
 * truncation, trailing bytes, and anything above the size caps.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Receives the disk in order; buf == NULL means n zero bytes. Return 0 or a
 * negative errno to stop. */
typedef int (*zfs_recv_out_fn)(void *u, const void *buf, size_t n);

typedef struct zfs_recv zfs_recv;

/* max_size: cap on the volume size and on data offsets (a bomb fails with
 * -EFBIG). */
int zfs_recv_new(uint64_t max_size, zfs_recv_out_fn out, void *u, zfs_recv **ret);
/* Errors: -EBADMSG corrupt, -ENOTSUP unsupported, -EFBIG over the cap, or
 * what out() returned; a message in zfs_recv_error(). */
int zfs_recv_feed(zfs_recv *r, const void *buf, size_t n);
/* The input is over: needs a complete stream (END seen, else -EPIPE); emits
 * the zeros from the last data block to the end of the volume. */
int zfs_recv_finish(zfs_recv *r);
const char *zfs_recv_error(const zfs_recv *r);

typedef struct zfs_recv_info {
	uint64_t volsize;       /* from the property ZAP ("size") */
	uint32_t volblocksize;  /* object 1's block size */
	uint64_t data_bytes;    /* bytes in WRITE records of object 1 */
	uint64_t creation_time;
	char toname[256];
	const char *order;      /* "openzfs" or "illumos" (static) */
} zfs_recv_info;

/* Valid after a successful finish (volsize 0 before). */
void zfs_recv_get_info(const zfs_recv *r, zfs_recv_info *ret);
void zfs_recv_free(zfs_recv *r);

/* True when `head` starts with a zfs send BEGIN record (either byte order);
 * at least 16 bytes needed. */
bool zfs_stream_probe(const void *head, size_t len);
