/* SPDX-License-Identifier: MIT */
#include "verify/digest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include "util/strutil.h"

struct digest {
	EVP_MD_CTX *md;
	const EVP_MD *type;
};

digest *digest_new(imgfetch_hash h)
{
	const EVP_MD *type = h == IMGFETCH_HASH_SHA256 ? EVP_sha256() : h == IMGFETCH_HASH_SHA512 ? EVP_sha512() : NULL;
	if (!type)
		return NULL;
	digest *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->type = type;
	d->md = EVP_MD_CTX_new();
	if (!d->md || EVP_DigestInit_ex(d->md, type, NULL) != 1) {
		digest_free(d);
		return NULL;
	}
	return d;
}

int digest_update(digest *d, const void *buf, size_t n)
{
	return EVP_DigestUpdate(d->md, buf, n) == 1 ? 0 : -EIO;
}

int digest_reset(digest *d)
{
	return EVP_DigestInit_ex(d->md, d->type, NULL) == 1 ? 0 : -EIO;
}

int digest_final_hex(digest *d, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (EVP_DigestFinal_ex(d->md, md, &n) != 1)
		return -EIO;
	hex_encode(md, n, out);
	return digest_reset(d);
}

void digest_free(digest *d)
{
	if (!d)
		return;
	EVP_MD_CTX_free(d->md);
	free(d);
}

int digest_hex_of(imgfetch_hash h, const void *buf, size_t n, char *out)
{
	digest *d = digest_new(h);
	int r = d ? digest_update(d, buf, n) : -ENOMEM;
	if (r == 0)
		r = digest_final_hex(d, out);
	digest_free(d);
	return r;
}
