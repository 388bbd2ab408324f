/* SPDX-License-Identifier: MIT */
/* FreeBSD's listing parsers: pure, for the resolver and its fuzz target. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Picks the release for `release` ("latest", "14.3", "14.3-RELEASE") from a
 * listing of VM-IMAGES/ (entries "X.Y-RELEASE/"). 0 with *ret = "X.Y"
 * (caller frees); -ENOENT (unknown release, or none listed: *known gets the
 * X.Y that exist, newest first, NULL-terminated, caller frees with
 * strv_free); -ENOMEM. */
int freebsd_pick_release(char *const *listing, const char *release, char **ret, char ***known);

/* FreeBSD's directory and file tokens for an architecture ("x86_64" →
 * amd64/amd64, "aarch64" → aarch64/arm64-aarch64); false for others. */
bool freebsd_arch_tokens(const char *arch, const char **dir, const char **file);
