/* SPDX-License-Identifier: MIT */
/* libFuzzer target: Debian's Release, image-manifest, digest and SHA512SUMS parsers. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <imgfetch/imgfetch.h>

#include "catalog/catalog.h"
#include "catalog/vendors/debian.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256] = "";
	debian_suite s;
	int r = debian_parse_release((const char *)data, size, &s, err, sizeof(err));
	if (r == 0) {
		if (!s.codename || !s.codename[0] || strchr(s.codename, '/') || (s.version && !s.major))
			abort();
		debian_suite_clear(&s);
	} else if ((r == -EBADMSG && !err[0]) || (r != -EBADMSG && r != -ENOMEM)) {
		abort();
	}

	err[0] = '\0';
	debian_image img;
	r = debian_parse_manifest((const char *)data, size, "qcow2", &img, err, sizeof(err));
	if (r == 0) {
		if (!img.ref || img.ref[0] == '/' || strstr(img.ref, "..") == img.ref || !img.serial ||
		    strchr(img.serial, '/') || !img.sha512 || strlen(img.sha512) != 128)
			abort();
		debian_image_clear(&img);
	} else if ((r != -ENOENT && r != -EBADMSG && r != -ENOMEM) || !err[0]) {
		abort();
	}

	/* The bytes as a digest annotation (NUL-terminated copy). */
	char *str = malloc(size + 1);
	if (!str)
		return 0;
	memcpy(str, data, size);
	str[size] = '\0';
	char hex[129];
	if (debian_digest_hex(str, hex, sizeof(hex)) == 0 && strlen(hex) != 128)
		abort();
	free(str);

	(void)debian_sums_lists((const char *)data, size, "debian-13-genericcloud-amd64.qcow2");
	return 0;
}
