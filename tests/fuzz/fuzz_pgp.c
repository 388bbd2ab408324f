/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for OpenPGP verification as imgfetch drives RNP
 * (lib/trust/pgp.c): armour, binary packets and clearsign framing of
 * untrusted signatures, against one fixed key.
 *
 * Input layout: the first byte picks the form — 0 mod 3: the rest is a
 * clearsigned (or inline-signed) message; 1: a detached signature over the
 * fixed data below; 2: a key file (armoured blocks amid text, or binary),
 * checked with a fixed good signature, which may verify only with the fuzz
 * key itself. Besides the sanitizers: a message that
 * verifies must come with its text, no larger than the input, never holding
 * the signature armour; a detached signature that verifies names the key.
 * The key and the seeds (tests/fuzz/corpus/pgp/) were made with gpg 2.2 for
 * this target: ed25519, "imgfetch fuzz <fuzz@example.invalid>".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trust/keys.h"
#include "trust/pgp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char key[] =
	"-----BEGIN PGP PUBLIC KEY BLOCK-----\n"
	"\n"
	"mDMEaxdddBYJKwYBBAHaRw8BAQdA38aZfqeLtCmhqhONRBgqBh9uPwgjgLJFc+T4\n"
	"YOo8Axi0JGltZ2ZldGNoIGZ1enogPGZ1enpAZXhhbXBsZS5pbnZhbGlkPoiQBBMW\n"
	"CAA4FiEE9XU6EMO6UysYcl4HRCX7E4/lWksFAmsXXXQCGwMFCwkIBwIGFQoJCAsC\n"
	"BBYCAwECHgECF4AACgkQRCX7E4/lWkuXFAEAiQDQHUup1m4JjWrVCPHEalrn/3ef\n"
	"kZXSbpqU/up0pqMA/jW7aRhGAB9IsDqtTBDqjFgnCSXjw0+ktxUEwrYN0AsG\n"
	"=bboB\n"
	"-----END PGP PUBLIC KEY BLOCK-----\n";
static const char good_sig[] =
	"-----BEGIN PGP SIGNATURE-----\n"
	"\n"
	"iHUEABYIAB0WIQT1dToQw7pTKxhyXgdEJfsTj+VaSwUCaxddewAKCRBEJfsTj+Va\n"
	"S9yJAP0btweo1V4brq8zti2rErEFyKJxaaKBwHgpHWTvKyvEXwEAmTEcGv08e5Gr\n"
	"zZXN6IpyKQFECea6akCSXN0Qt12dIgQ=\n"
	"=YGvy\n"
	"-----END PGP SIGNATURE-----\n";
static const char key_fpr[] = "F5753A10C3BA532B18725E074425FB138FE55A4B";
static const char signed_data[] = "imgfetch fuzz data\n";

static void require(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > IMGFETCH_SUMS_MAX_BYTES)
		return 0;
	imgfetch_ctx *ctx = imgfetch_ctx_new();
	if (!ctx)
		return 0;
	trust_key_file f = { .path = (char *)"fuzz.asc", .data = (char *)key, .len = sizeof(key) - 1 };
	trust_keys keys = { .v = &f, .n = 1, .searched = (char *)"fuzz.asc" };
	imgfetch_signature s = { 0 };
	char *text = NULL;
	size_t tlen = 0;
	const char *sig = (const char *)data + 1;
	size_t slen = size - 1;
	imgfetch_status st;
	if (data[0] % 3 == 2) {
		/* The input is the keyring. */
		trust_key_file kf = { .path = (char *)"input.asc", .data = (char *)sig, .len = slen };
		trust_keys k2 = { .v = &kf, .n = 1, .searched = (char *)"input.asc" };
		st = pgp_verify(ctx, &k2, "fuzz", good_sig, sizeof(good_sig) - 1, signed_data, sizeof(signed_data) - 1,
		                -1, NULL, NULL, &s);
		if (st == IMGFETCH_OK)
			require(strcmp(s.fingerprint, key_fpr) == 0);
	} else if (data[0] % 3 == 0) {
		(void)pgp_is_clearsigned(sig, slen);
		st = pgp_verify(ctx, &keys, "fuzz", sig, slen, NULL, 0, -1, &text, &tlen, &s);
		if (st == IMGFETCH_OK) {
			require(text != NULL && tlen <= slen && strlen(text) <= tlen);
			require(strstr(text, "-----BEGIN PGP SIGNATURE-----") == NULL);
		} else {
			require(text == NULL);
		}
	} else {
		st = pgp_verify(ctx, &keys, "fuzz", sig, slen, signed_data, sizeof(signed_data) - 1, -1, NULL, NULL, &s);
	}
	if (st == IMGFETCH_OK)
		require(s.fingerprint && strlen(s.fingerprint) == 40 && s.scheme && strcmp(s.scheme, "openpgp") == 0);
	else
		require(imgfetch_ctx_error(ctx)[0] != '\0');
	free(text);
	signature_clear(&s);
	imgfetch_ctx_free(ctx);
	return 0;
}
