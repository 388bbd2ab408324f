/* SPDX-License-Identifier: MIT */
/* OpenBSD (hcartiaux/openbsd-cloud-image) feed parser: pure, for the
 * resolver and its fuzz target. */
#pragma once

#include <stddef.h>

#define OPENBSD_IMAGE "openbsd-min.qcow2"

typedef struct openbsd_pick {
	char *tag;    /* "v7.8_2025-10-22-15-14" */
	char *series; /* "7.8" */
} openbsd_pick;

/* Picks the release for `release` ("latest", a version "7.8", or a tag with
 * or without its leading 'v') from the GitHub API's releases array: the
 * newest (by tag) published release, neither draft nor prerelease, that has
 * both the OPENBSD_IMAGE and OPENBSD_IMAGE.sha256 assets. 0; -ENOENT (*known
 * gets the accepted versions and tags, caller frees with strv_free);
 * -EBADMSG with a message in err; -ENOMEM. */
int openbsd_parse_releases(const char *json, size_t len, const char *release, openbsd_pick *ret, char ***known,
                           char *err, size_t errlen);
void openbsd_pick_clear(openbsd_pick *p);
