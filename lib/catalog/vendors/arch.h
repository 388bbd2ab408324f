/* SPDX-License-Identifier: MIT */
/* Arch Linux's listing parser: pure, for the resolver and its fuzz target. */
#pragma once

#include <stddef.h>

/* Picks the build for `release` ("latest", "v20261101.123456",
 * "20261101.123456") from a listing of images/ (entries "v<date>.<id>/").
 * 0 with *ret = "20261101.123456" (caller frees); -ENOENT (*known: the
 * builds that exist, newest first, NULL-terminated, strv_free); -ENOMEM. */
int arch_pick_build(char *const *listing, const char *release, char **ret, char ***known);
