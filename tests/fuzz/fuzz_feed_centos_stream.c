/* SPDX-License-Identifier: MIT */
/* libFuzzer target: CentOS Stream's stream and image pickers over a directory
 * listing, and the CHECKSUM lookup the resolver does with the result. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <imgfetch/imgfetch.h>

#include "catalog/catalog.h"
#include "catalog/vendors/centos-stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char **names = NULL;
	if (listing_parse((const char *)data, size, &names) < 0)
		return 0;
	static const char *const releases[] = { "latest", "9", "10-stream", "10-x" };
	for (size_t i = 0; i < sizeof(releases) / sizeof(releases[0]); i++) {
		char *stream = NULL, **known = NULL;
		int r = centos_stream_pick_release(names, releases[i], &stream, &known);
		if (r == 0 && !stream)
			abort();
		if (r != 0 && r != -ENOENT && r != -ENOMEM)
			abort();
		char **c = centos_stream_images(names, stream ? stream : "10", i % 2 ? "aarch64" : "x86_64");
		for (size_t j = 0; c && c[j]; j++) {
			imgfetch_checksum sum;
			(void)!imgfetch_sums_lookup((const char *)data, size, c[j], &sum, NULL);
		}
		strv_free(c);
		free(stream);
		strv_free(known);
	}
	strv_free(names);
	return 0;
}
