/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the signify(1) parsers and verifier.
 *
 * The input is parsed as a public key and as a signature. Besides the
 * sanitizers, the contract of lib/trust/signify.h is checked, and above all
 * that nothing forged verifies: against OpenBSD's real 7.6 base key, a
 * signature verifies only when the input is the real 7.6 amd64 SHA256.sig,
 * byte for byte apart from its (unsigned) comment line, and a key verifies
 * the real signature only when it is the real key. A violation aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trust/signify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* etc/signify/openbsd-76-base.pub of OpenBSD's src tree, decoded. */
static const signify_key KEY76 = {
	.keynum = { 0xe4, 0xbb, 0x09, 0xf8, 0x99, 0xba, 0xbc, 0xa2 },
	.pub = { 0xe2, 0x5b, 0x7c, 0xee, 0x15, 0x7c, 0xd1, 0xfc, 0xf8, 0x57, 0x62, 0x65, 0x4a, 0x2c, 0xcf, 0x6a,
	         0x88, 0x47, 0x45, 0x74, 0x0b, 0xd6, 0xe6, 0xe8, 0x29, 0xd5, 0x12, 0xde, 0xc2, 0x1a, 0x45, 0x74 },
};

/* The Ed25519 signature of the real SHA256.sig below, decoded by hand here
 * so that the check does not rest on the parser it checks. */
static const uint8_t REAL_SIG[64] = {
	0x46, 0xc2, 0xbe, 0x06, 0x3e, 0xab, 0x15, 0x82, 0xff, 0x54, 0x98, 0x8b, 0x48, 0x20, 0x32, 0x7d,
	0x6f, 0x60, 0xd1, 0x35, 0x9a, 0x17, 0xc9, 0x41, 0x3d, 0xe9, 0xc8, 0x8e, 0x69, 0xd1, 0x2e, 0xf2,
	0x90, 0x77, 0x33, 0xb4, 0xab, 0x8f, 0x1f, 0x9b, 0x2e, 0x8c, 0xf7, 0xb4, 0x9e, 0xe6, 0x59, 0x4c,
	0xb1, 0x24, 0x17, 0xa4, 0x51, 0x54, 0xb1, 0xbe, 0xd8, 0x1e, 0xd5, 0xa0, 0xa2, 0x91, 0x93, 0x03,
};

/* OpenBSD 7.6 amd64 SHA256.sig, from the GitHub repository
 * unman/Qubes_OpenBSD at commit e019d696 (file SHA256.sig); also
 * tests/fuzz/corpus/signify/openbsd-7.6-amd64-SHA256.sig. */
static const char REAL_SIG_FILE[] =
	"untrusted comment: verify with openbsd-76-base.pub\n"
	"RWTkuwn4mbq8okbCvgY+qxWC/1SYi0ggMn1vYNE1mhfJQT3pyI5p0S7ykHcztKuPH5sujPe0nuZZTLEkF6RRVLG+2B7VoKKRkwM=\n"
	"SHA256 (BOOTIA32.EFI) = d247251fbde091a12fc37c61e2aca158a9fe9bb503caa21659a5779e68137307\n"
	"SHA256 (BOOTX64.EFI) = 63a0651534bcab13f6a5eddd022ece146a2fc725f2b05c85b03ccc6c93694579\n"
	"SHA256 (BUILDINFO) = 7dce27e41a01ddca0b137af3f1392dede6a712103d0ed6fc58781bca7669acf2\n"
	"SHA256 (INSTALL.amd64) = 01c17c85553d345f5fd1814ca9e50233ccc877528142277484a229fc06df5f86\n"
	"SHA256 (base76.tgz) = fba80e6060d2652769e3ff55e699b476c3ab6369ddec923eb2565a3271c9a07d\n"
	"SHA256 (bsd) = 43a4acfc69d42b0d8fc54dea9bac54b59c077059170a83b616fce61d7864c0d8\n"
	"SHA256 (bsd.mp) = bc03dcf439e4a7d122fad8a059bf2f90db03660463fe4cf537d224b5eb66efa1\n"
	"SHA256 (bsd.rd) = 029ee654ab8e5c777f61c5becc1fa1e4f42078dda61f185bcd8d7904e86a9795\n"
	"SHA256 (cd76.iso) = 368018b06d18b79b07865a26f541eca21bbc9ee6934c5bf32c9960bce0928faf\n"
	"SHA256 (cdboot) = b0c1492e4a55bb839434a9aca570d3bc17117894d4062bc2da68ffa682633cb0\n"
	"SHA256 (cdbr) = cac7cad049a319c6d756589c26f18ae6a89e989c38c4b0ce59cf6038ff634185\n"
	"SHA256 (comp76.tgz) = 316cfee93555b02a489051e419dc5805212ae94e4b871e1f933c6c12ae7a1f05\n"
	"SHA256 (floppy76.img) = 1c15d59762a463d6657c4a21a4eac826fe85fcfc3fb809859019c5507c06afb8\n"
	"SHA256 (game76.tgz) = 04286d95426edf8c45a0482b0dce76e8054123ee6dc8a9163a936b0694fbb23f\n"
	"SHA256 (install76.img) = 973dfa837e4998f6c0f29d0afc9f40d85e29a3d2b25fcea8b3f13b4491fbedc0\n"
	"SHA256 (install76.img) = 973dfa837e4998f6c0f29d0afc9f40d85e29a3d2b25fcea8b3f13b4491fbedc0\n"
	"SHA256 (install76.iso) = 60cba8cb391b50bba8fa10fc768bd0529636f5345d82133c93e22c798d8e5269\n"
	"SHA256 (install76.iso) = 60cba8cb391b50bba8fa10fc768bd0529636f5345d82133c93e22c798d8e5269\n"
	"SHA256 (man76.tgz) = 8084391a6b111038f08ad0bfb81cf91b947ba203bd5fae08bf2215b989486e4b\n"
	"SHA256 (miniroot76.img) = 3133370f2cfa7aeb83735b23f8c06ed71fc375c33134f7524fb1222cbde533a6\n"
	"SHA256 (pxeboot) = 54d62e93343d8885e2e991c1a7701ae4133c8f62afd372f3666c755f1be6c30d\n"
	"SHA256 (xbase76.tgz) = 086901ca3125764f721a4803b1b999e40a76af702990b8ad8265687858637bfb\n"
	"SHA256 (xfont76.tgz) = 74145d00073d7e1e79fb3bd473cad4b94ebf821f3c5b2c496d7daf7bcf8cf90e\n"
	"SHA256 (xserv76.tgz) = 9cbe5ad5781f2e2d3c67a3e3ab60f990bc6d7351d808d0a319d912427c05cd2d\n"
	"SHA256 (xshare76.tgz) = 6ff0a0703c544d1247851e3b7939263179805b14450a263c9eee2c4401e8ae13\n";

#define REAL_LEN (sizeof(REAL_SIG_FILE) - 1)
_Static_assert(REAL_LEN == 2324, "the real SHA256.sig is 2324 bytes");
/* The base64 line and the message: the part of the file that is signed or
 * selects the key, i.e. all of it but the comment line. */
#define REAL_TAIL_AT 51u
#define REAL_MSG_AT (REAL_TAIL_AT + 101u)

/* Stored in *why before each call: success must leave it alone. */
static const char why_sentinel[] = "sentinel";

static void require(int cond)
{
	if (!cond)
		abort();
}

static void check_parse_result(int r, const char *why, const char *text, size_t size)
{
	require(r == 0 || r == -EBADMSG || r == -EFBIG);
	require((r == -EFBIG) == (size > SIGNIFY_MAX_BYTES));
	if (r == 0) {
		require(why == why_sentinel);
		require(signify_looks_like(text, size));
	} else {
		require(why != why_sentinel && why != NULL && why[0] != '\0');
	}
}

static void check_verify_result(int r, const char *why, size_t which, bool keynum_matches)
{
	require(r == 0 || r == -ENOKEY || r == -EBADMSG || r == -ENOMEM);
	require((r == -ENOKEY) == !keynum_matches);
	if (r == 0)
		require(why == why_sentinel && which == 0);
	else
		require(why != why_sentinel && why != NULL && why[0] != '\0' && which == (size_t)-1);
}

static void fuzz_key(const char *text, size_t size)
{
	signify_key k, untouched;
	memset(&k, 0x5a, sizeof(k));
	untouched = k;
	const char *why = why_sentinel;
	int r = signify_parse_key(text, size, &k, &why);
	check_parse_result(r, why, text, size);
	if (r != 0) {
		require(memcmp(&k, &untouched, sizeof(k)) == 0);
		return;
	}
	/* Any key that verifies the real signature must be the real key. */
	bool same_keynum = memcmp(k.keynum, KEY76.keynum, 8) == 0;
	signify_sig real = { .message = REAL_SIG_FILE + REAL_MSG_AT, .message_len = REAL_LEN - REAL_MSG_AT };
	memcpy(real.keynum, KEY76.keynum, 8);
	memcpy(real.sig, REAL_SIG, 64);
	size_t which = (size_t)-1;
	why = why_sentinel;
	int v = signify_verify(&k, 1, &real, real.message, real.message_len, &which, &why);
	check_verify_result(v, why, which, same_keynum);
	if (v == 0)
		require(memcmp(k.pub, KEY76.pub, 32) == 0);
}

static void fuzz_sig(const char *text, size_t size)
{
	signify_sig s, untouched;
	memset(&s, 0x5a, sizeof(s));
	untouched = s;
	const char *why = why_sentinel;
	int r = signify_parse_sig(text, size, &s, &why);
	check_parse_result(r, why, text, size);
	if (r != 0) {
		require(memcmp(&s, &untouched, sizeof(s)) == 0);
		return;
	}
	/* The embedded message is the rest of the input, in place. */
	require((s.message == NULL) == (s.message_len == 0));
	if (s.message)
		require(s.message > text && s.message + s.message_len == text + size);

	/* Pure: the same answer twice. */
	signify_sig again;
	require(signify_parse_sig(text, size, &again, NULL) == 0 && memcmp(&s, &again, sizeof(s)) == 0);

	bool same_keynum = memcmp(s.keynum, KEY76.keynum, 8) == 0;
	/* A detached signature is tried against the input itself, which cannot
	 * have been signed since it contains the signature. */
	const void *msg = s.message ? s.message : text;
	size_t msg_len = s.message ? s.message_len : size;
	size_t which = (size_t)-1;
	why = why_sentinel;
	int v = signify_verify(&KEY76, 1, &s, msg, msg_len, &which, &why);
	check_verify_result(v, why, which, same_keynum);
	if (v == 0) {
		/* Only the real file, its comment line aside. */
		size_t tail = REAL_LEN - REAL_TAIL_AT;
		require(s.message != NULL && size > tail && text[size - tail - 1] == '\n');
		require(memcmp(text + size - tail, REAL_SIG_FILE + REAL_TAIL_AT, tail) == 0);
		require(memcmp(s.sig, REAL_SIG, 64) == 0);
	}

	/* The signature alone against the real message: Ed25519 as OpenSSL
	 * checks it admits no second encoding of a valid signature. */
	if (same_keynum) {
		which = (size_t)-1;
		why = why_sentinel;
		v = signify_verify(&KEY76, 1, &s, REAL_SIG_FILE + REAL_MSG_AT, REAL_LEN - REAL_MSG_AT, &which, &why);
		check_verify_result(v, why, which, true);
		if (v == 0)
			require(memcmp(s.sig, REAL_SIG, 64) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A private exact-size copy, so that any read past the end is caught by
	 * ASan and the parsers cannot rely on a terminator. */
	char *text = malloc(size ? size : 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	fuzz_key(text, size);
	fuzz_sig(text, size);
	free(text);
	return 0;
}
