/* SPDX-License-Identifier: MIT */
/* libFuzzer target: directory listings. Every entry must be a direct child. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <imgfetch/imgfetch.h>

#include "catalog/catalog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char **v = NULL;
	int r = listing_parse((const char *)data, size, &v);
	if (r < 0) {
		if (r != -EBADMSG && r != -ENOMEM && r != -EFBIG)
			abort();
		return 0;
	}
	for (size_t i = 0; v[i]; i++) {
		const char *s = v[i];
		size_t n = strlen(s);
		const char *slash = strchr(s, '/');
		if (n == 0 || s[0] == '/' || (slash && slash != s + n - 1) || strcmp(s, "../") == 0 ||
		    strcmp(s, "..") == 0 || strchr(s, '\n'))
			abort();
	}
	strv_free(v);
	return 0;
}
