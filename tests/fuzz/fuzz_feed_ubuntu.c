/* SPDX-License-Identifier: MIT */
/* libFuzzer target: Ubuntu's simplestreams products parser. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <imgfetch/imgfetch.h>

#include "catalog/catalog.h"
#include "catalog/vendors/ubuntu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const releases[] = { "latest", "24.04", "noble", "22.04" };
	static const char *const arches[] = { "amd64", "arm64" };
	for (size_t i = 0; i < sizeof(releases) / sizeof(releases[0]); i++) {
		ubuntu_pick p;
		char **known = NULL;
		char err[256] = "";
		int r = ubuntu_parse_products((const char *)data, size, releases[i], arches[i % 2], &p, &known, err,
		                              sizeof(err));
		if (r == 0) {
			if (!p.release || !p.version || !p.serial || !p.path || p.path[0] == '/' || !p.sha256 ||
			    strlen(p.sha256) != 64 || strchr(p.release, '/') || strchr(p.serial, '/'))
				abort();
			ubuntu_pick_clear(&p);
		} else if (r == -EBADMSG && !err[0]) {
			abort();
		} else if (r != -ENOENT && r != -ENXIO && r != -EBADMSG && r != -ENOMEM) {
			abort();
		}
		strv_free(known);
	}
	return 0;
}
