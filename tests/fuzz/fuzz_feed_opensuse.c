/* SPDX-License-Identifier: MIT */
/* libFuzzer target: openSUSE's MirrorCache JSON / HTML directory parser,
 * Leap version list and image picker. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <imgfetch/imgfetch.h>

#include "catalog/catalog.h"
#include "catalog/vendors/opensuse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char **names = NULL;
	int r = opensuse_parse_dir((const char *)data, size, &names);
	if (r < 0) {
		if (names || (r != -EBADMSG && r != -ENOMEM))
			abort();
		return 0;
	}
	for (size_t i = 0; names[i]; i++) { /* direct children only: no path escapes */
		const char *n = names[i], *slash = strchr(n, '/');
		if (!n[0] || n[0] == '/' || strcmp(n, "..") == 0 || strcmp(n, "../") == 0 || (slash && slash[1]))
			abort();
	}
	char **vers = opensuse_leap_versions(names);
	for (size_t i = 0; vers && vers[i]; i++)
		if (!version_is_numeric(vers[i]))
			abort();
	static const char *const arches[] = { "x86_64", "aarch64" };
	for (size_t a = 0; a < 2; a++) {
		free(opensuse_pick_image(names, NULL, arches[a]));
		free(opensuse_pick_image(names, "16.0", arches[a]));
		if (vers && vers[0])
			free(opensuse_pick_image(names, vers[0], arches[a]));
	}
	strv_free(vers);
	strv_free(names);
	return 0;
}
