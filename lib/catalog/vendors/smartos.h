/* SPDX-License-Identifier: MIT */
/* SmartOS's feed parsers: pure, for the resolver and its fuzz target. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* A release id: YYYYMMDDTHHMMSSZ, optionally followed by a re-spin
 * modifier "_uN" (N = 1..999, no leading zero); nothing else. */
bool smartos_is_release(const char *s);

/* Time order of two release ids (<0, 0, >0); both must be releases. */
int smartos_release_cmp(const char *a, const char *b);

/* The release named by the `latest` pointer file (one line, a Manta path
 * such as "/Joyent_Dev/public/SmartOS/20261105T000000Z", maybe with a
 * trailing '/'): 0 with the id in out, or -EBADMSG. */
int smartos_parse_latest(const char *text, size_t len, char *out, size_t outlen);

/* The release directories of the SmartOS directory, newest first, at most
 * max: from a Manta listing (one JSON object per line, {"name": …, "type":
 * "directory"}) or, failing that, an HTML index. NULL-terminated, caller
 * frees with strv_free(); NULL when out of memory. */
char **smartos_parse_dir(const char *text, size_t len, size_t max);
