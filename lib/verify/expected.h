/* SPDX-License-Identifier: MIT */
/* Works out, before any large download starts, which digest the file must have
 * and how strong the evidence for it is: pinned by the caller, looked up in a
 * checksum file or sidecar — whose signature, detached or clearsigned, is
 * verified first where the policy asks for it — or, when a detached signature
 * covers the file itself, the signature to check the download against. */
#pragma once

#include "core/ctx.h"
#include "trust/keys.h"

typedef struct expected_digest {
	imgfetch_verifier kind;   /* NONE: nothing to compare against */
	imgfetch_checksum sum;    /* unused with IMGFETCH_VERIFIER_SIGNATURE */
	char *source;             /* where the digest came from (URL), or NULL when pinned */
	imgfetch_evidence evidence;
	imgfetch_signature sig;   /* evidence SIGNATURE: who signed what */
	/* IMGFETCH_VERIFIER_SIGNATURE: the detached signature over the file
	 * itself, checked against the downloaded bytes, and the keys for it. */
	char *file_sig;
	size_t file_sig_len;
	trust_keys keys;
} expected_digest;

/* Validates the verification options and resolves the digest. `name` is the
 * file name to look up in a checksum file. Fetches at most IMGFETCH_SUMS_MAX_BYTES
 * per document. */
IMGFETCH_WARN_UNUSED imgfetch_status expected_resolve(imgfetch_ctx *ctx, const imgfetch_get_opts *o, const char *name,
                                                      expected_digest *ret);
/* IMGFETCH_VERIFIER_SIGNATURE: verifies e->file_sig over the file open at
 * fd (read from offset 0 to its end) and fills e->sig. `url` names it. */
IMGFETCH_WARN_UNUSED imgfetch_status expected_check_file_signature(imgfetch_ctx *ctx, expected_digest *e, int fd,
                                                                   const char *url);
void expected_clear(expected_digest *e);
