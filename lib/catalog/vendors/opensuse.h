/* SPDX-License-Identifier: MIT */
/* openSUSE's listing parsers: pure, for the resolver and its fuzz target. */
#pragma once

#include <stddef.h>

/* The entries of a directory as served by download.opensuse.org: the
 * MirrorCache `?json` array ([{"name": "16.0/", ...}]) or its `?jsontable`
 * form ({"data": [...]}) — or, when the reply is not JSON (a mirror without
 * MirrorCache ignores the query and sends its HTML index), the HTML
 * listing. NULL-terminated, strv_free. 0; -EBADMSG; -ENOMEM. */
int opensuse_parse_dir(const char *text, size_t len, char ***ret);

/* The Leap versions ("X.Y/" entries) of a listing of distribution/leap/,
 * newest first, without the slash. NULL-terminated, strv_free; NULL when out
 * of memory. */
char **opensuse_leap_versions(char *const *listing);

/* The cloud image of `arch` for Leap `version` (NULL: Tumbleweed) in a
 * listing of its appliances/ directory: the rolling name when listed, else
 * the newest build- or snapshot-numbered one (compared numerically).
 * Caller frees; NULL when there is none. */
char *opensuse_pick_image(char *const *listing, const char *version, const char *arch);
