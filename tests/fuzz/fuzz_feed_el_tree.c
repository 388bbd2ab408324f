/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the listing parsers of the EL rebuild trees (AlmaLinux, Rocky). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <imgfetch/imgfetch.h>

#include "catalog/catalog.h"
#include "catalog/vendors/el_tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char **names = NULL;
	if (listing_parse((const char *)data, size, &names) < 0)
		return 0;
	static const char *const releases[] = { "latest", "9", "9.10", "10.2" };
	for (size_t i = 0; i < sizeof(releases) / sizeof(releases[0]); i++) {
		char *dir = NULL, **known = NULL;
		int r = el_pick_release(names, releases[i], &dir, &known);
		if (r == 0 && !dir)
			abort();
		if (r != 0 && r != -ENOENT && r != -ENOMEM)
			abort();
		for (size_t a = 0; a < 2; a++) {
			static const char *const names_[][2] = { { "AlmaLinux-", "-GenericCloud-" },
				                                  { "Rocky-", "-GenericCloud-Base-" } };
			for (size_t f = 0; f < 2; f++) {
				char *version = NULL;
				char *file = el_pick_image(names, names_[f][0], names_[f][1], dir ? dir : releases[i],
				                           a ? "aarch64" : "x86_64", &version);
				if (file && (!version || !name_is_safe(file)))
					abort();
				free(file);
				free(version);
			}
		}
		free(dir);
		strv_free(known);
	}
	strv_free(names);
	return 0;
}
