/* SPDX-License-Identifier: MIT */
/* libFuzzer target: Talos's GitHub release object and factory /versions parsers. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <imgfetch/imgfetch.h>

#include "catalog/catalog.h"
#include "catalog/vendors/talos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *tag = NULL;
	char err[256] = "";
	int r = talos_parse_release((const char *)data, size, &tag, err, sizeof(err));
	if (r == 0) {
		char series[64];
		/* A tag the parser accepted always has a series. */
		if (!tag || talos_series(tag, series, sizeof(series)) < 0)
			abort();
	} else if ((r == -EBADMSG && !err[0]) || tag || (r != -ENOENT && r != -EBADMSG && r != -ENOMEM)) {
		abort();
	}
	free(tag);
	char **v = talos_parse_versions((const char *)data, size, 12);
	if (v && strv_len(v) > 12)
		abort();
	strv_free(v);
	/* The same bytes as a release token (NUL-terminated copy). */
	char tok[80], out[64];
	size_t n = size < sizeof(tok) - 1 ? size : sizeof(tok) - 1;
	memcpy(tok, data, n);
	tok[n] = '\0';
	if (talos_tag_for(tok, out, sizeof(out)) == 0 && strcmp(out, "latest") != 0 &&
	    talos_series(out, tok, sizeof(tok)) < 0)
		abort();
	return 0;
}
