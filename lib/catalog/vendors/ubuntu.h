/* SPDX-License-Identifier: MIT */
/* Ubuntu's simplestreams parser: pure, for the resolver and its fuzz target. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct ubuntu_pick {
	char *release;  /* codename: "noble" */
	char *version;  /* "24.04" */
	char *title;    /* "24.04 LTS" */
	char *serial;   /* newest version key: "20261101" or "20240605.1" */
	char *path;     /* disk1.img path, relative to the directory holding streams/ */
	char *sha256;   /* lowercase hex */
	uint64_t size;  /* 0 when the feed does not say */
} ubuntu_pick;

/* Picks the disk1.img of `release` ("latest": newest supported LTS; a version
 * "24.04"; a codename "noble") for `arch` ("amd64", "arm64") from
 * com.ubuntu.cloud:released:download.json (products:1.0). 0; -ENOENT
 * (unknown release; *known lists the releases that have images, caller frees
 * with strv_free); -ENXIO (the release has no image for arch; *known lists
 * its arches); -EBADMSG with a message in err; -ENOMEM. */
int ubuntu_parse_products(const char *json, size_t len, const char *release, const char *arch, ubuntu_pick *ret,
                          char ***known, char *err, size_t errlen);
void ubuntu_pick_clear(ubuntu_pick *p);
