/* SPDX-License-Identifier: MIT */
/* libFuzzer target: Oracle's template JSON parser and its landing-page fallback. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <imgfetch/imgfetch.h>

#include "catalog/catalog.h"
#include "catalog/vendors/oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const arches[] = { "x86_64", "aarch64" };
	for (size_t i = 0; i < 2; i++) {
		oracle_pick p;
		char err[256] = "";
		int r = oracle_parse_template((const char *)data, size, arches[i], &p, err, sizeof(err));
		if (r == 0) {
			/* The path goes into a URL under the yum base: it must stay there. */
			if (!p.version || !p.path || !p.file || !p.sha256 || strlen(p.sha256) != 64 ||
			    strstr(p.path, "..") || p.path[0] == '/' || strstr(p.path, "://") || strchr(p.file, '/'))
				abort();
			oracle_pick_clear(&p);
		} else if ((r == -EBADMSG && !err[0]) || (r != -EBADMSG && r != -ENOMEM)) {
			abort();
		}
		for (unsigned major = 0; major <= 9; major += 9) {
			err[0] = '\0';
			r = oracle_parse_html((const char *)data, size, arches[i], major, &p, err, sizeof(err));
			if (r == 0) {
				if (!p.version || !p.path || !p.file || !p.sha256 || strlen(p.sha256) != 64 ||
				    strstr(p.path, "..") || p.path[0] == '/' || strstr(p.path, "//") || strchr(p.file, '/'))
					abort();
				oracle_pick_clear(&p);
			} else if ((r == -EBADMSG && !err[0]) || (r != -EBADMSG && r != -ENOMEM && r != -ENOENT)) {
				abort();
			}
		}
	}
	return 0;
}
