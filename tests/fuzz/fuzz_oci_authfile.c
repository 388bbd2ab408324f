/* SPDX-License-Identifier: MIT */
/* libFuzzer target: auth files (auths/credHelpers/credsStore) and credential helper output. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci/authfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_creds(const oci_credentials *c)
{
	if (!c->username || !c->password || !c->username[0] || !c->password[0] || strchr(c->username, ':'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const registries[] = { "127.0.0.1:5000", "docker.io", "quay.io", "localhost" };
	char err[160];
	for (size_t i = 0; i < sizeof(registries) / sizeof(registries[0]); i++) {
		oci_credentials c;
		char *helper = (char *)1;
		err[0] = 'x';
		int r = oci_authfile_parse((const char *)data, size, registries[i], &c, &helper, err, sizeof(err));
		if (r < 0) {
			if ((r != -ENOMEM && !err[0]) || c.username || c.password || helper)
				abort();
		} else if (r == OCI_AUTHFILE_CREDS) {
			check_creds(&c);
			if (helper)
				abort();
		} else if (r == OCI_AUTHFILE_HELPER) {
			if (!helper || !helper[0] || strchr(helper, '/') || c.username || c.password)
				abort();
		} else if (r != OCI_AUTHFILE_NONE || c.username || c.password || helper) {
			abort();
		}
		oci_credentials_clear(&c);
		free(helper);
	}
	oci_credentials c;
	int r = oci_authfile_parse_helper_output((const char *)data, size, &c, err, sizeof(err));
	if (r == 1)
		check_creds(&c);
	else if (c.username || c.password || (r < 0 && r != -ENOMEM && !err[0]) || r > 1)
		abort();
	oci_credentials_clear(&c);
	return 0;
}
