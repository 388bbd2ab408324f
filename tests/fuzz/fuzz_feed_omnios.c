/* SPDX-License-Identifier: MIT */
/* libFuzzer target: OmniOS's channel listing picker and image-id parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <imgfetch/imgfetch.h>

#include "catalog/catalog.h"
#include "catalog/vendors/omnios.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const wants[] = { "r151054", "r151054r", "bloody-20261115" };
	char **names = NULL;
	if (listing_parse((const char *)data, size, &names) == 0) {
		for (size_t i = 0; i <= sizeof(wants) / sizeof(wants[0]); i++) {
			char *f = omnios_pick_image(names, i < 3 ? wants[i] : NULL);
			char id[32];
			/* Whatever is picked must be an image name. */
			if (f && !omnios_image_id(f, id, sizeof(id)))
				abort();
			free(f);
		}
		strv_free(names);
	}
	char name[64], id[32];
	size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
	memcpy(name, data, n);
	name[n] = '\0';
	if (omnios_image_id(name, id, sizeof(id)) && strlen(id) >= n)
		abort();
	return 0;
}
