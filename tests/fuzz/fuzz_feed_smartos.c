/* SPDX-License-Identifier: MIT */
/* libFuzzer target: SmartOS's latest pointer and directory listing parsers. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <imgfetch/imgfetch.h>

#include "catalog/catalog.h"
#include "catalog/vendors/smartos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	for (size_t i = 0; v && v[i]; i++)
		if (i >= 10 || !smartos_is_release(v[i]) || (i > 0 && strcmp(v[i - 1], v[i]) <= 0))
			abort();
	strv_free(v);
	return 0;
}
