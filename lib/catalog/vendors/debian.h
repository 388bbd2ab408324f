/* SPDX-License-Identifier: MIT */
/* Debian's feed parsers: pure, for the resolver and its fuzz target. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Codename and version of a suite, from the archive's dists/<suite>/Release. */
typedef struct debian_suite {
	char *codename; /* "trixie" ([a-z0-9-] only: it becomes a URL path component) */
	char *version;  /* "13.4"; NULL for testing and sid, whose Release has none */
	unsigned major; /* leading integer of version; 0 without one */
} debian_suite;

/* Parses a Release file (plain, or the clearsigned InRelease body: the
 * armor is skipped, the signature is NOT checked). 0; -EBADMSG with a
 * message in err (no Codename, bad characters, oversized); -ENOMEM. */
int debian_parse_release(const char *text, size_t len, debian_suite *ret, char *err, size_t errlen);
void debian_suite_clear(debian_suite *s);

/* The Upload of one image format out of a per-image JSON manifest. */
typedef struct debian_image {
	char *ref;    /* path below the cloud base: "trixie/20250814-2204/debian-13-…-20250814-2204.qcow2" */
	char *serial; /* "20250814-2204" */
	char *sha512; /* lowercase hex, 128 digits */
} debian_image;

/* Picks the Upload item whose image-format label is `format` ("qcow2").
 * 0; -ENOENT (no such Upload); -EBADMSG with a message in err; -ENOMEM. */
int debian_parse_manifest(const char *json, size_t len, const char *format, debian_image *ret, char *err,
                          size_t errlen);
void debian_image_clear(debian_image *img);

/* "sha512:<base64, padding optional>" → 128 lowercase hex digits in out
 * (at least 129 bytes). 0 or -EBADMSG. */
int debian_digest_hex(const char *digest, char *out, size_t outlen);

/* True when a SHA512SUMS file (GNU format: "<128 hex>  <name>", '*' binary
 * marker or a path prefix allowed) has a line for `name`. */
bool debian_sums_lists(const char *text, size_t len, const char *name);
