/* SPDX-License-Identifier: MIT */
/* libFuzzer target: Arch's images/ build picker over a listing. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <imgfetch/imgfetch.h>

#include "catalog/catalog.h"
#include "catalog/vendors/arch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const releases[] = { "latest", "v20261101.123456", "20261101.123456", "v", "" };
	char **names = NULL;
	if (listing_parse((const char *)data, size, &names) < 0)
		return 0;
	for (size_t i = 0; i < sizeof(releases) / sizeof(releases[0]); i++) {
		char *b = NULL;
		char **known = NULL;
		int r = arch_pick_build(names, releases[i], &b, &known);
		/* A build goes into a URL and a file name: digits and one dot only. */
		if (r == 0 && (!b || strspn(b, "0123456789.") != strlen(b) || strchr(b, '.') != strrchr(b, '.')))
			abort();
		if (r == -ENOENT && (b || !known))
			abort();
		if (r != 0 && r != -ENOENT && r != -ENOMEM)
			abort();
		free(b);
		strv_free(known);
	}
	strv_free(names);
	return 0;
}
