/* SPDX-License-Identifier: MIT */
/*
 * The ZFS command builder (--builder zfs): the zfs send stream of a zvol made
 * by real ZFS, for hosts that prefer it to the native stream writer.
 *
 *   sweep:    zfs list; destroy <parent>/imgfetch-build-* older than an hour
 *   lock:     one build per lock_name at a time (flock in lock_dir)
 *   create:   zfs create -s -V <volsize> -o volblocksize=<bs> <parent>/imgfetch-build-<uuid>
 *   fill:     the caller writes the decoded disk to <zvol_dir>/<dataset>
 *   snapshot: zfs snapshot <dataset>@final
 *   send:     zfs send <dataset>@final, its stdout streamed into `out`
 *   destroy:  zfs destroy -r <dataset>, always: after success, failure or
 *             cancellation (children are signalled first and reaped)
 * The parent dataset: opts->dataset, else "zones" in the global zone, else
 * "zones/<zonename>/data", which must have zoned=on (refused otherwise).
 * Commands are run with fork/exec (no shell), found on PATH.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/ctx.h"
#include "store/gz_output.h"

/* Writes the whole decoded disk to `device` (an existing zvol device or, in
 * tests, a file), skipping zero blocks. IMGFETCH_OK or a failure with the
 * message in ctx. */
typedef imgfetch_status (*zfs_fill_fn)(void *u, imgfetch_ctx *ctx, const char *device);

typedef struct zfs_build {
	const imgfetch_zvol_opts *opts; /* dataset, zvol_dir, lock_dir, lock_name */
	const char *uuid;
	uint64_t volsize;               /* bytes, a multiple of volblocksize */
	uint32_t volblocksize;
	zfs_fill_fn fill;
	void *fill_u;
	gz_output *out;                 /* receives the uncompressed zfs send stream */
} zfs_build;

/* Runs the whole sequence. Errors: IMGFETCH_E_INVALID for a refused
 * environment (non-global zone without zoned=on, no zfs command),
 * IMGFETCH_E_CANCELLED, IMGFETCH_E_FAILED with the failing command's stderr. */
imgfetch_status zfs_build_run(imgfetch_ctx *ctx, const zfs_build *b);
