/* SPDX-License-Identifier: MIT */
/*
 * The full zfs send stream of a zvol, written from the decoded disk in one
 * streaming pass, without ZFS: what `zfs send pool/vol@snap` would print for
 * a volume holding that disk. Record order of modern OpenZFS:
 *
 *   BEGIN (features 0, flags FREERECORDS, objset ZVOL, toname)
 *   OBJECT 1 (DMU_OT_ZVOL, blksz = volblocksize)  FREE 1 [volsize, end)
 *     (FREE 1 [0, end) when the size is only known at the end)
 *   WRITE 1 / FREE 1 in ascending offsets (all-zero blocks are FREE runs)
 *   OBJECT 2 (DMU_OT_ZVOL_PROP, 512 B)  FREE 2 [512, end)
 *   WRITE 2 (the microzap {"size": volsize})  FREE 2 [512, 1536)
 *   FREEOBJECTS [3, 32)  END (Fletcher-4 of everything before it)
 *
 * It is an img_writer: encode() (any thread) finds the zero blocks of a unit
 * and checksums the others; commit() (in order) emits the records through
 * the sink. Bytes past the disk up to volsize are zeros.
 */
#pragma once

#include <stdint.h>

#include "writers/writer.h"

typedef struct zfs_send_params {
	uint64_t volsize;       /* a multiple of volblocksize, >= the disk's size; or 0: the disk's
	                           size (known at finish) rounded up to size_unit */
	uint64_t size_unit;     /* with volsize 0: a multiple of volblocksize (1 MiB for IMGAPI) */
	uint32_t volblocksize;  /* power of two, 512 B ... 128 KiB */
	uint64_t toguid;        /* non-zero */
	uint64_t creation_time; /* seconds since the epoch */
	uint64_t zap_salt;      /* non-zero */
	const char *toname;     /* "pool/dataset@snapshot", < 256 bytes (copied) */
} zfs_send_params;

/* Receives the stream, in order, from the committing thread. */
typedef int (*zfs_send_sink_fn)(void *u, const void *buf, size_t n);

/* disk_size: the guest bytes the engine will deliver (<= volsize).
 * 0 or -EINVAL for bad parameters, -ENOMEM. */
int zfs_send_writer_new(const zfs_send_params *p, uint64_t disk_size, zfs_send_sink_fn sink, void *u,
                        img_writer **ret);
/* Bytes of stream written so far. */
uint64_t zfs_send_writer_stream_bytes(const img_writer *w);
/* The volume size (after finish when it was deferred). */
uint64_t zfs_send_writer_volsize(const img_writer *w);
