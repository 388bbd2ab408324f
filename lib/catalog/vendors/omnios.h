/* SPDX-License-Identifier: MIT */
/* OmniOS's listing parser: pure, for the resolver and its fuzz target. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The build id of an image file name: "omnios-r151054r.cloud.vmdk" →
 * "r151054r", "omnios-bloody-20260319.cloud.vmdk" → "bloody-20260319";
 * false for anything else. */
bool omnios_image_id(const char *name, char *id, size_t idlen);

/* The newest cloud image (by version_cmp of its id) in a channel listing
 * whose id is `want` or, when want is a release line "rNNNNNN", one of its
 * refreshes "rNNNNNN<letter>"; any image when want is NULL. Its file name
 * (caller frees), or NULL when there is none. */
char *omnios_pick_image(char *const *listing, const char *want);
