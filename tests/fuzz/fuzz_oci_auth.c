/* SPDX-License-Identifier: MIT */
/* libFuzzer target: WWW-Authenticate headers. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci/www_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	oci_auth_challenges c;
	char err[256] = "";
	int r = oci_www_auth_parse((const char *)data, size, &c, err, sizeof(err));
	if (r < 0) {
		if ((r != -ENOMEM && !err[0]) || c.n || c.v)
			abort();
		return 0;
	}
	if (c.n == 0)
		abort();
	size_t total = 0;
	for (size_t i = 0; i < c.n; i++) {
		const oci_auth_challenge *ch = &c.v[i];
		if (!ch->scheme || !ch->scheme[0] || (ch->token68 && ch->n_params))
			abort();
		total += ch->n_params;
		for (size_t j = 0; j < ch->n_params; j++) {
			const oci_auth_param *p = &ch->params[j];
			if (!p->key[0] || oci_auth_param_get(ch, p->key) != p->value)
				abort(); /* keys are unique, so the lookup finds this one */
			for (const char *k = p->key; *k; k++)
				if (*k >= 'A' && *k <= 'Z')
					abort();
			for (const char *v = p->value; *v; v++)
				if ((unsigned char)*v < 0x20 && *v != '\t')
					abort();
		}
	}
	if (total > OCI_AUTH_MAX_PARAMS)
		abort();
	oci_www_auth_clear(&c);
	return 0;
}
