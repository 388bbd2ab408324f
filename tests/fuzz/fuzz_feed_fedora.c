/* SPDX-License-Identifier: MIT */
/* libFuzzer target: Fedora's releases.json parser and link re-basing. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <imgfetch/imgfetch.h>

#include "catalog/catalog.h"
#include "catalog/vendors/fedora.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const releases[] = { "latest", "44", "43", "45 Beta" };
	static const char *const arches[] = { "x86_64", "aarch64" };
	for (size_t i = 0; i < sizeof(releases) / sizeof(releases[0]); i++)
		for (size_t a = 0; a < 2; a++) {
			fedora_pick p;
			char **known = NULL;
			char err[256] = "";
			int r = fedora_parse_releases((const char *)data, size, releases[i], arches[a], &p, &known, err,
			                              sizeof(err));
			if (r == 0) {
				if (!p.version || !p.link || !p.sha256 || strlen(p.sha256) != 64)
					abort();
				(void)fedora_link_path(p.link);
				fedora_pick_clear(&p);
			} else if (r == -EBADMSG && !err[0]) {
				abort();
			} else if (r != -ENOENT && r != -EXDEV && r != -EBADMSG && r != -ENOMEM) {
				abort();
			}
			strv_free(known);
		}
	return 0;
}
