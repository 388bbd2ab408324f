/* SPDX-License-Identifier: MIT */
/* AlmaLinux's listing parsers: pure, for the resolver and its fuzz target. */
#pragma once

#include <stddef.h>

/* Picks the release directory for `release` ("latest": the highest major;
 * "10"; "9.6") from the listing of the repository root. 0 with *ret_dir
 * ("10", "9.6"; caller frees); -ENOENT (*known gets the release directories,
 * caller frees with strv_free); -ENOMEM. */
int almalinux_pick_release(char *const *listing, const char *release, char **ret_dir, char ***known);

/* The newest dated GenericCloud qcow2 for `arch` in a listing of
 * <dir>/cloud/<arch>/images/ — AlmaLinux-<N>-GenericCloud-<N.M>-<YYYYMMDD>[.<n>].<arch>.qcow2
 * with N the major of dir (and N.M == dir when dir has a minor) — or NULL.
 * *ret_version gets "<N.M>-<YYYYMMDD>[.<n>]". Caller frees both. */
char *almalinux_pick_image(char *const *listing, const char *dir, const char *arch, char **ret_version);
