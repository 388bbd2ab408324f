/* SPDX-License-Identifier: MIT */
/* libFuzzer target: SmartOS's latest pointer and directory listing parsers. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <imgfetch/imgfetch.h>

#include "catalog/catalog.h"
#include "catalog/vendors/smartos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long respin(const char *id)
{
	return id[16] ? strtol(id + 18, NULL, 10) : 0;
}

static bool newer(const char *a, const char *b)
{
	int c = memcmp(a, b, 16);
	return c > 0 || (c == 0 && respin(a) > respin(b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[64];
	int r = smartos_parse_latest((const char *)data, size, id, sizeof(id));
	/* Whatever the pointer names is used in a URL: it must be an id. */
	if (r == 0 && !smartos_is_release(id))
		abort();
	if (r != 0 && r != -EBADMSG)
		abort();
	char **v = smartos_parse_dir((const char *)data, size, 10);
	for (size_t i = 0; v && v[i]; i++) {
		if (i >= 10 || !smartos_is_release(v[i]))
			abort();
		/* Newest first, each build once. Checked here without the
		 * library's comparator: timestamps never increase, and a build's
		 * re-spins ("_uN") come before it, the higher number first. */
		if (i > 0 && !newer(v[i - 1], v[i]))
			abort();
	}
	strv_free(v);
	return 0;
}
