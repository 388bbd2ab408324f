/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the OpenBSD (GitHub releases array) parser. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <imgfetch/imgfetch.h>

#include "catalog/catalog.h"
#include "catalog/vendors/openbsd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const releases[] = { "latest", "7.8", "v7.8_2025-10-22-15-14", "7.8_2025-10-22-15-14" };
	for (size_t i = 0; i < sizeof(releases) / sizeof(releases[0]); i++) {
		openbsd_pick p;
		char **known = NULL;
		char err[256] = "";
		int r = openbsd_parse_releases((const char *)data, size, releases[i], &p, &known, err, sizeof(err));
		if (r == 0) {
			if (!p.tag || !p.series || strpbrk(p.tag, "/?#% "))
				abort();
			openbsd_pick_clear(&p);
		} else if ((r == -EBADMSG && !err[0]) || (r != -ENOENT && r != -EBADMSG && r != -ENOMEM) ||
		           (r == -ENOENT && !known)) {
			abort();
		}
		strv_free(known);
	}
	return 0;
}
