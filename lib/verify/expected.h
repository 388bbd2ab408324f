/* SPDX-License-Identifier: MIT */
/* Works out, before any large download starts, which digest the file must have:
 * pinned by the caller, looked up in a checksum file, or read from a sidecar. */
#pragma once

#include "core/ctx.h"

typedef struct expected_digest {
	imgfetch_verifier kind;   /* NONE: nothing to compare against */
	imgfetch_checksum sum;
	char *source;             /* where the digest came from (URL), or NULL when pinned */
} expected_digest;

/* Validates the verification options and resolves the digest. `name` is the
 * file name to look up in a checksum file. Fetches at most IMGFETCH_SUMS_MAX_BYTES. */
IMGFETCH_WARN_UNUSED imgfetch_status expected_resolve(imgfetch_ctx *ctx, const imgfetch_get_opts *o, const char *name,
                                                      expected_digest *ret);
void expected_clear(expected_digest *e);
