/* SPDX-License-Identifier: MIT */
/* Incremental SHA-256/SHA-512 over OpenSSL's EVP interface. */
#pragma once

#include <stddef.h>

#include <imgfetch/imgfetch.h>

typedef struct digest digest;

/* NULL on failure (out of memory, algorithm unavailable). */
digest *digest_new(imgfetch_hash h);
int digest_update(digest *d, const void *buf, size_t n);
int digest_reset(digest *d);
/* Writes lowercase hex (129 bytes suffice) and resets the context. */
int digest_final_hex(digest *d, char *out);
void digest_free(digest *d);
/* The lowercase hex digest of one buffer (out: 129 bytes suffice). 0 or a
 * negative errno. */
int digest_hex_of(imgfetch_hash h, const void *buf, size_t n, char *out);
