/* SPDX-License-Identifier: MIT */
/* libFuzzer target: Alpine's releases.json parser and image picker. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <imgfetch/imgfetch.h>

#include "catalog/catalog.h"
#include "catalog/vendors/alpine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const releases[] = { "latest", "3.23", "v3.22", "3.23.4", "edge" };
	for (size_t i = 0; i < sizeof(releases) / sizeof(releases[0]); i++) {
		alpine_pick p;
		char **known = NULL;
		char err[256] = "";
		int r = alpine_parse_releases((const char *)data, size, releases[i], &p, &known, err, sizeof(err));
		if (r == 0) {
			if (!p.branch || !p.version || !p.arches)
				abort();
			alpine_pick_clear(&p);
		} else if (r == -EBADMSG && !err[0]) {
			abort();
		} else if (r != -ENOENT && r != -EBADMSG && r != -ENOMEM) {
			abort();
		}
		strv_free(known);
	}
	/* The same bytes as a directory listing for the image picker. */
	char **names = NULL;
	if (listing_parse((const char *)data, size, &names) == 0) {
		free(alpine_pick_image(names, "3.23.4", "x86_64"));
		strv_free(names);
	}
	return 0;
}
