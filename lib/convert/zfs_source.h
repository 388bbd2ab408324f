/* SPDX-License-Identifier: MIT */
/* A zvol's zfs send stream as a conversion source: the stream file (plain,
 * or inside any supported compression) decoded into the disk it holds. */
#pragma once

#include "compress/decompress.h"
#include "zfs/send_reader.h"

/* Decodes the whole of fd from offset 0; out() gets the disk in order (buf
 * NULL: zeros). max_size caps the volume. On success info is filled in.
 * Errors as zfs_recv_feed and decompress_fd, message in err. */
int zfs_source_decode(int fd, compress_kind container, unsigned threads, uint64_t max_size, zfs_recv_out_fn out,
                      void *u, zfs_recv_info *info, char *err, size_t errlen, bool *ret_unchecked);
