/* SPDX-License-Identifier: MIT */
/* libFuzzer target: FreeBSD's VM-IMAGES release picker over a listing. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <imgfetch/imgfetch.h>

#include "catalog/catalog.h"
#include "catalog/vendors/freebsd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const releases[] = { "latest", "15.0", "14.3-RELEASE", "-RELEASE", "" };
	char **names = NULL;
	if (listing_parse((const char *)data, size, &names) < 0)
		return 0;
	for (size_t i = 0; i < sizeof(releases) / sizeof(releases[0]); i++) {
		char *ver = NULL;
		char **known = NULL;
		int r = freebsd_pick_release(names, releases[i], &ver, &known);
		if (r == 0 && (!ver || !version_is_numeric(ver) || known))
			abort();
		if (r == -ENOENT && (ver || !known))
			abort();
		if (r != 0 && r != -ENOENT && r != -ENOMEM)
			abort();
		free(ver);
		strv_free(known);
	}
	strv_free(names);
	return 0;
}
