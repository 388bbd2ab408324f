/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the clearsign framing (lib/trust/clearsign.c), the
 * one imgfetch reads when a signature is not checked (--verify checksum).
 * Besides the sanitizers, checked independently of the parser: the text
 * returned is never longer than the input, holds no NUL, and its lines occur
 * in order in the input before the last signature block begins (a cleartext
 * line may itself hold the armour marker, mid-line or dash-escaped).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trust/clearsign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = NULL;
	size_t n = 0;
	const char *why = NULL;
	int r = clearsign_body((const char *)data, size, &out, &n, &why);
	if (r < 0) {
		require(out == NULL && (r == -EBADMSG || r == -EFBIG || r == -ENOMEM));
		require(r != -EBADMSG || why != NULL);
		return 0;
	}
	require(out != NULL && n <= size && strlen(out) == n);
	/* Every line of the text occurs, in order, in the input before its
	 * last signature block starts (dash-escaping only removes bytes). */
	size_t before = size;
	for (const char *p = (const char *)data; (p = memmem(p, size - (size_t)(p - (const char *)data),
	                                                     "-----BEGIN PGP SIGNATURE-----", 29));
	     p++)
		before = (size_t)(p - (const char *)data);
	require(before < size);
	const char *hay = (const char *)data;
	size_t left = before;
	for (char *line = out, *next; line; line = next) {
		next = strchr(line, '\n');
		size_t l = next ? (size_t)(next - line) : strlen(line);
		if (next)
			next++;
		if (l == 0)
			continue;
		const char *at = memmem(hay, left, line, l);
		require(at != NULL);
		left -= (size_t)(at - hay) + l;
		hay = at + l;
	}
	free(out);
	return 0;
}
