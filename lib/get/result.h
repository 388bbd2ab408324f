/* SPDX-License-Identifier: MIT */
/* What results of every verifying command share: the evidence chain. */
#pragma once

#include <imgfetch/imgfetch.h>

struct json_t;
/* {"level", "digest_source", "signature": {...} or null, "image_sha256"}. NULL: out of memory. */
struct json_t *evidence_json(imgfetch_evidence e, const char *digest_source, const imgfetch_signature *sig,
                             const char *image_sha256);
/* A deep copy (NULL when out of memory), and its release (NULL is fine). */
imgfetch_signature *signature_dup(const imgfetch_signature *s);
void signature_free(imgfetch_signature *s);
