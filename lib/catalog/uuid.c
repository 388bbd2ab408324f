/* SPDX-License-Identifier: MIT */
/* Manifest UUIDs: RFC 4122 version 5 (SHA-1, name-based). */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "core/ctx.h"
#include "util/strutil.h"

/* uuid_v5(NAMESPACE_URL, "https://tritondatacenter.com/tritonadm/nocloud"). */
static const unsigned char image_ns[16] = { 0xbd, 0xf8, 0x33, 0xc1, 0x72, 0x63, 0x58, 0xe2,
	                                    0x89, 0x1e, 0xa8, 0xe8, 0x46, 0x42, 0x75, 0x62 };

static int uuid_v5(const unsigned char ns[16], const char *name, size_t len, char out[37])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c && EVP_DigestInit_ex(c, EVP_sha1(), NULL) && EVP_DigestUpdate(c, ns, 16) &&
	         EVP_DigestUpdate(c, name, len) && EVP_DigestFinal_ex(c, md, &mdlen);
	EVP_MD_CTX_free(c);
	if (!ok || mdlen < 16)
		return -1;
	md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);
	md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
	char hex[33];
	hex_encode(md, 16, hex);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
	return 0;
}

imgfetch_status imgfetch_image_uuid(const char *sha256_hex, char out[37])
{
	if (!sha256_hex || !hex_valid(sha256_hex, 64))
		return IMGFETCH_E_INVALID;
	char lower[65];
	hex_lower(sha256_hex, 64, lower);
	return uuid_v5(image_ns, lower, 64, out) == 0 ? IMGFETCH_OK : IMGFETCH_E_FAILED;
}
