/* SPDX-License-Identifier: MIT */
/* Fedora's releases.json parser: pure, for the resolver and its fuzz target. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct fedora_pick {
	char *version;  /* "44" */
	char *link;     /* absolute URL as the feed gives it */
	char *sha256;   /* lowercase hex */
	uint64_t size;  /* 0 when the feed does not say */
} fedora_pick;

/* Picks the Generic Cloud_Base qcow2 of `release` ("latest" or "44") for
 * `arch` from releases.json (a JSON array of artifacts). 0; -ENOENT (unknown
 * release; *known gets the numeric versions that have a cloud image, caller
 * frees with strv_free); -EXDEV (release exists but not for arch; *known gets
 * its arches); -EBADMSG with a message in err; -ENOMEM. */
int fedora_parse_releases(const char *json, size_t len, const char *release, const char *arch, fedora_pick *ret,
                          char ***known, char *err, size_t errlen);
void fedora_pick_clear(fedora_pick *p);

/* The path of an image link below ".../pub/fedora/linux/" (so that it can be
 * put on the download base, which a mirror may replace), or NULL. Points into
 * link. */
const char *fedora_link_path(const char *link);
