/* SPDX-License-Identifier: MIT */
/* libFuzzer target: OCI references; a parsed reference must survive a
 * format/parse round trip unchanged. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci/ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool str_eq(const char *a, const char *b)
{
	return a && b ? strcmp(a, b) == 0 : a == b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	oci_ref r;
	char err[256] = "";
	int rc = oci_ref_parse(s, &r, err, sizeof(err));
	if (rc == 0) {
		if (!r.host || !r.repository || (!r.tag && !r.digest))
			abort();
		if (r.digest && !oci_digest_valid(r.digest))
			abort();
		if (!oci_repository_valid(r.repository, strlen(r.repository)) || (r.tag && !oci_tag_valid(r.tag, strlen(r.tag))))
			abort();
		char *f = oci_ref_format(&r);
		if (f) {
			oci_ref r2;
			if (oci_ref_parse(f, &r2, NULL, 0) != 0)
				abort();
			if (!str_eq(r.host, r2.host) || r.port != r2.port || !str_eq(r.repository, r2.repository) ||
			    !str_eq(r.tag, r2.tag) || !str_eq(r.digest, r2.digest) || r.scheme != r2.scheme)
				abort();
			char *f2 = oci_ref_format(&r2);
			if (f2 && strcmp(f, f2) != 0)
				abort();
			free(f2);
			oci_ref_clear(&r2);
			free(f);
		}
		oci_ref_clear(&r);
	} else {
		if (rc != -ENOMEM && !err[0])
			abort();
		if (r.host || r.repository || r.tag || r.digest)
			abort();
	}
	free(s);
	return 0;
}
