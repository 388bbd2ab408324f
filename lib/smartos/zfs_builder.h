/* SPDX-License-Identifier: MIT */
/*
 * The ZFS command builder (--builder zfs): the zfs send stream of a zvol made
 * by real ZFS, for hosts that prefer it to the native stream writer.
 *
 *   lock:     one build per lock_name at a time: flock on
 *             <lock_dir>/<lock_name>.lock (directory made 0700; the name with
 *             anything outside [A-Za-z0-9._-] and a leading '.' made '_');
 *             waiting is logged and cancellable
 *   sweep:    zfs list; destroy <parent>/imgfetch-build-* older than an hour
 *             (builds killed before their cleanup); a failure is only a warning
 *   create:   zfs create -s -V <volsize> -o volblocksize=<bs> <parent>/imgfetch-build-<uuid>
 *   fill:     the caller writes the decoded disk to <zvol_dir>/<dataset>,
 *             once the device node exists (waited for up to 10 s)
 *   snapshot: zfs snapshot <dataset>@final
 *   send:     zfs send <dataset>@final, its stdout streamed into `out` as it
 *             arrives (never through a temporary file)
 *   destroy:  zfs destroy -r <dataset>, always once created (or create was
 *             cancelled, when it may have been): after success,
 *             failure or cancellation (children are signalled first and
 *             reaped); retried while the volume is busy; not cancellable
 * The parent dataset: opts->dataset, else "zones" in the global zone (or
 * where there is no zonename command), else "zones/<zonename>/data", which
 * must have zoned=on (refused otherwise). zvol_dir defaults to
 * /dev/zvol/rdsk on illumos, /dev/zvol elsewhere.
 * Commands are run with fork/exec (no shell), found on PATH, each logged at
 * debug level (smartos/command.h). The caller's error message survives the
 * cleanup; a failed cleanup is appended to it (or, after success, logged as
 * a warning) with the command to run by hand.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/ctx.h"
#include "store/gz_output.h"

/* Writes the whole decoded disk to `device` (an existing zvol device or, in
 * tests, a file), skipping zero blocks, and closes it before returning (an
 * open zvol cannot be destroyed). IMGFETCH_OK or a failure with the message
 * in ctx; it should return IMGFETCH_E_CANCELLED soon after ctx is cancelled. */
typedef imgfetch_status (*zfs_fill_fn)(void *u, imgfetch_ctx *ctx, const char *device);

typedef struct zfs_build {
	const imgfetch_zvol_opts *opts; /* dataset, zvol_dir, lock_dir, lock_name */
	const char *uuid;
	uint64_t volsize;               /* bytes, a multiple of volblocksize */
	uint32_t volblocksize;
	zfs_fill_fn fill;
	void *fill_u;
	gz_output *out;                 /* receives the uncompressed zfs send stream; borrowed: the
	                                   caller commits or frees it */
} zfs_build;

/* Runs the whole sequence; everything in b is borrowed for the call.
 * Errors: IMGFETCH_E_INVALID for a refused environment (non-global zone
 * without zoned=on, no zfs command) or a bad description (name, sizes),
 * IMGFETCH_E_CANCELLED, IMGFETCH_E_FAILED with the failing command's
 * stderr, or whatever the fill returned. */
imgfetch_status zfs_build_run(imgfetch_ctx *ctx, const zfs_build *b);
