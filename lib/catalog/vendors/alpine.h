/* SPDX-License-Identifier: MIT */
/* Alpine's feed parsers: pure, for the resolver and its fuzz target. */
#pragma once

#include <stddef.h>

typedef struct alpine_pick {
	char *branch;   /* "v3.23" */
	char *version;  /* "3.23.4" */
	char *arches;   /* space-separated arches of the branch */
} alpine_pick;

/* Picks the release for `release` ("latest", "3.23", "v3.23", "3.23.4") from
 * releases.json. 0; -ENOENT (unknown release; *known gets a NULL-terminated
 * list of accepted tokens, caller frees with strv_free); -EBADMSG with a
 * message in err; -ENOMEM. */
int alpine_parse_releases(const char *json, size_t len, const char *release, alpine_pick *ret, char ***known,
                          char *err, size_t errlen);
void alpine_pick_clear(alpine_pick *p);

/* The newest revision of the cloud-init UEFI nocloud image of `version` for
 * `arch` in a listing of releases/cloud/: its file name (caller frees), or
 * NULL when there is none. */
char *alpine_pick_image(char *const *listing, const char *version, const char *arch);
