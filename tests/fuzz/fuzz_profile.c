/* SPDX-License-Identifier: MIT */
/* libFuzzer target: profile files (JSON and the TOML subset). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "catalog/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	profile p;
	char err[256] = "";
	int r = profile_parse((const char *)data, size, &p, err, sizeof(err));
	if (r == 0) {
		if (!p.url || !p.version || !p.format)
			abort();
		profile_clear(&p);
	} else if (r != -ENOMEM && !err[0]) {
		abort();
	}
	return 0;
}
