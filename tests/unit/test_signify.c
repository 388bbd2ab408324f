/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the signify(1) verifier (lib/trust/signify.c).
 *
 * The test data are C string literals below (this tree has no tests/data/,
 * and the unit tests run from the build directory with no path to the source
 * tree), byte for byte the files they come from:
 *
 *  - OPENBSD_76_SIG: OpenBSD 7.6 amd64 SHA256.sig (embedded form), taken
 *    from the GitHub repository unman/Qubes_OpenBSD at commit e019d696, file
 *    SHA256.sig (sha256 2d572c27b75da2e89ce2b04941d51b68e9e6ff80cb60043eadc3fdc816ce4b6c).
 *    `signify -V -e -p openbsd-76-base.pub` says "Signature Verified".
 *  - OPENBSD_76_PUB / OPENBSD_77_PUB: etc/signify/openbsd-76-base.pub and
 *    openbsd-77-base.pub of OpenBSD's src tree, from an indexed copy of it
 *    (sha256 a7d8b3b3… and c9f446fd…).
 *  - TEST_*: generated for these tests with signify-openbsd 31 (Debian):
 *      signify -G -n -c "imgfetch test key A" -p a.pub -s a.sec  (and B)
 *      signify -S -e -s a.sec -m msg -x msg.esig     (embedded)
 *      signify -S    -s a.sec -m msg -x msg.sig      (detached)
 *      signify -S -e -s a.sec -m empty -x empty.esig (embedded, empty message)
 *    The secret keys were not kept.
 */
#include "trust/signify.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tap.h"

static const char OPENBSD_76_SIG[] =
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
static const char OPENBSD_76_PUB[] =
	"untrusted comment: openbsd 7.6 base public key\n"
	"RWTkuwn4mbq8ouJbfO4VfNH8+FdiZUosz2qIR0V0C9bm6CnVEt7CGkV0\n";
static const char OPENBSD_77_PUB[] =
	"untrusted comment: openbsd 7.7 base public key\n"
	"RWSbCCUoGpcxVRmNb/XFYBbthxWMK7G6fNbJhb993Ohuh29WFaT9vhe2\n";
static const char TEST_A_PUB[] =
	"untrusted comment: imgfetch test key A public key\n"
	"RWQ/ZLmLVlyzr9x6jULfCo7d4SIX138v8aq6m0kjXoLn6uCKzjJZEY84\n";
static const char TEST_B_PUB[] =
	"untrusted comment: imgfetch test key B public key\n"
	"RWR6yCHBMEwHVdNF9yM7W2s6fGkvNs/LyvYM0uvh7kFHEN8dgwb/sDyM\n";
static const char TEST_MSG[] =
	"SHA256 (test.img) = ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb\n";
static const char TEST_MSG_ESIG[] =
	"untrusted comment: verify with a.pub\n"
	"RWQ/ZLmLVlyzr3Ek7m4KkGOtlZgE9BV5JTGLOn15OhCuuG1+auMylZwXZjDM4z+xaXjFFAt9808z+cbbfJRXUeZ9WBOHHmSSwAU=\n"
	"SHA256 (test.img) = ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb\n";
static const char TEST_MSG_SIG[] =
	"untrusted comment: verify with a.pub\n"
	"RWQ/ZLmLVlyzr3Ek7m4KkGOtlZgE9BV5JTGLOn15OhCuuG1+auMylZwXZjDM4z+xaXjFFAt9808z+cbbfJRXUeZ9WBOHHmSSwAU=\n";
static const char TEST_EMPTY_ESIG[] =
	"untrusted comment: verify with a.pub\n"
	"RWQ/ZLmLVlyzr2wqKNisiyTm6swPpfFikEZjgpTwejFbnAVU3GVVIavHcZ2E7cb7B+ajcIrIRwlP9jFCC2hWbP+A08GsWaecAg4=\n";

/* A line of the 7.6 message, to show the message is the SHA256 list. */
#define BSD_RD_LINE "SHA256 (bsd.rd) = 029ee654ab8e5c777f61c5becc1fa1e4f42078dda61f185bcd8d7904e86a9795\n"
#define OPENBSD_76_MSG_LEN 2172u
#define OPENBSD_76_KEYNUM "e4bb09f899babca2"
#define OPENBSD_77_KEYNUM "9b0825281a973155"

#define LEN(lit) (sizeof(lit) - 1)

/* ------------------------------------------------------------ helpers */

/* Exact-size heap copy: ASan then catches any read past the end, and the
 * parser cannot lean on a terminator. */
static char *dup_n(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);
	if (!p)
		abort();
	if (n)
		memcpy(p, s, n);
	return p;
}

static signify_key key_of(const char *text, size_t len)
{
	signify_key k;
	const char *why = NULL;
	char *copy = dup_n(text, len);
	int r = signify_parse_key(copy, len, &k, &why);
	free(copy);
	if (r != 0) {
		tap_diag("test key does not parse: %s", why ? why : "?");
		abort();
	}
	return k;
}

static void check_sig_fail(const char *text, size_t len, int want, const char *why_part, const char *desc)
{
	signify_sig s;
	memset(&s, 0x5a, sizeof(s));
	signify_sig before = s;
	const char *why = NULL;
	char *copy = dup_n(text, len);
	int r = signify_parse_sig(copy, len, &s, &why);
	free(copy);
	TAP_CHECK_INT_EQ(r, want, "%s: parse_sig fails", desc);
	if (!TAP_CHECK(why && strstr(why, why_part), "%s: reason mentions \"%s\"", desc, why_part))
		tap_diag("why: %s", why ? why : "(null)");
	TAP_CHECK(memcmp(&s, &before, sizeof(s)) == 0, "%s: result untouched", desc);
}

static void check_key_fail(const char *text, size_t len, int want, const char *why_part, const char *desc)
{
	signify_key k;
	memset(&k, 0x5a, sizeof(k));
	signify_key before = k;
	const char *why = NULL;
	char *copy = dup_n(text, len);
	int r = signify_parse_key(copy, len, &k, &why);
	free(copy);
	TAP_CHECK_INT_EQ(r, want, "%s: parse_key fails", desc);
	if (!TAP_CHECK(why && strstr(why, why_part), "%s: reason mentions \"%s\"", desc, why_part))
		tap_diag("why: %s", why ? why : "(null)");
	TAP_CHECK(memcmp(&k, &before, sizeof(k)) == 0, "%s: result untouched", desc);
}

/* A signify file built from parts: the test's own base64 (OpenSSL's) of a
 * record, so that records the tool would never write can be made. Returns
 * the length written into out (cap bytes). */
static size_t build_file(char *out, size_t cap, const char *comment, const uint8_t *rec, size_t rec_len,
                         const char *tail, size_t tail_len)
{
	char b64[256];
	if (4 * ((rec_len + 2) / 3) + 1 > sizeof(b64))
		abort();
	int n = EVP_EncodeBlock((unsigned char *)b64, rec, (int)rec_len);
	size_t need = strlen("untrusted comment: ") + strlen(comment) + 1 + (size_t)n + 1 + tail_len;
	if (n < 0 || need > cap)
		abort();
	size_t o = 0;
	memcpy(out + o, "untrusted comment: ", 19);
	o += 19;
	memcpy(out + o, comment, strlen(comment));
	o += strlen(comment);
	out[o++] = '\n';
	memcpy(out + o, b64, (size_t)n);
	o += (size_t)n;
	out[o++] = '\n';
	if (tail_len)
		memcpy(out + o, tail, tail_len);
	return o + tail_len;
}

static size_t sig_record(uint8_t rec[74], const char pkalg[2], const uint8_t keynum[8], const uint8_t sig[64])
{
	memcpy(rec, pkalg, 2);
	memcpy(rec + 2, keynum, 8);
	memcpy(rec + 10, sig, 64);
	return 74;
}

/* Offset of the message in a well-formed file: after the second newline. */
static size_t body_offset(const char *text, size_t len)
{
	const char *a = memchr(text, '\n', len);
	const char *b = memchr(a + 1, '\n', len - (size_t)(a + 1 - text));
	return (size_t)(b + 1 - text);
}

/* -------------------------------------------------------------- tests */

static void test_looks_like(void)
{
	TAP_CHECK(signify_looks_like(OPENBSD_76_SIG, LEN(OPENBSD_76_SIG)), "looks_like: real SHA256.sig");
	TAP_CHECK(signify_looks_like(OPENBSD_76_PUB, LEN(OPENBSD_76_PUB)), "looks_like: real key");
	TAP_CHECK(signify_looks_like("untrusted comment: ", 19), "looks_like: bare prefix");
	TAP_CHECK(!signify_looks_like("untrusted comment:", 18), "looks_like: prefix without the space");
	TAP_CHECK(!signify_looks_like("Untrusted comment: x\n", 21), "looks_like: case matters");
	TAP_CHECK(!signify_looks_like("SHA256 (bsd.rd) = 00\n", 21), "looks_like: a plain SHA256 list");
	TAP_CHECK(!signify_looks_like(NULL, 0), "looks_like: NULL");
}

static void test_real_openbsd(void)
{
	signify_key k76 = key_of(OPENBSD_76_PUB, LEN(OPENBSD_76_PUB));
	signify_key k77 = key_of(OPENBSD_77_PUB, LEN(OPENBSD_77_PUB));
	char hex[17];
	signify_keynum_hex(k76.keynum, hex);
	TAP_CHECK_STR_EQ(hex, OPENBSD_76_KEYNUM, "7.6 key: keynum");
	signify_keynum_hex(k77.keynum, hex);
	TAP_CHECK_STR_EQ(hex, OPENBSD_77_KEYNUM, "7.7 key: keynum");

	char *text = dup_n(OPENBSD_76_SIG, LEN(OPENBSD_76_SIG));
	size_t len = LEN(OPENBSD_76_SIG);
	signify_sig s;
	const char *why = NULL;
	int r = signify_parse_sig(text, len, &s, &why);
	if (!TAP_CHECK_INT_EQ(r, 0, "7.6 SHA256.sig parses"))
		tap_diag("why: %s", why ? why : "(null)");
	signify_keynum_hex(s.keynum, hex);
	TAP_CHECK_STR_EQ(hex, OPENBSD_76_KEYNUM, "7.6 SHA256.sig: keynum is the 7.6 key's");
	TAP_CHECK(s.message == text + body_offset(text, len), "7.6 SHA256.sig: message points into the text");
	TAP_CHECK_INT_EQ(s.message_len, OPENBSD_76_MSG_LEN, "7.6 SHA256.sig: message length");
	TAP_CHECK(s.message_len >= 24 && memcmp(s.message, "SHA256 (BOOTIA32.EFI) = ", 24) == 0,
	          "7.6 SHA256.sig: message starts with the first SHA256 line");
	TAP_CHECK(memmem(s.message, s.message_len, BSD_RD_LINE, LEN(BSD_RD_LINE)) != NULL,
	          "7.6 SHA256.sig: message lists bsd.rd");

	size_t which = 99;
	why = "untouched";
	r = signify_verify(&k76, 1, &s, s.message, s.message_len, &which, &why);
	TAP_CHECK_INT_EQ(r, 0, "7.6 SHA256.sig verifies with the 7.6 key");
	TAP_CHECK_INT_EQ(which, 0, "7.6 SHA256.sig: key index 0");
	TAP_CHECK_STR_EQ(why, "untouched", "success leaves *why alone");

	signify_key both[2] = { k77, k76 };
	which = 99;
	r = signify_verify(both, 2, &s, s.message, s.message_len, &which, NULL);
	TAP_CHECK_INT_EQ(r, 0, "7.6 SHA256.sig verifies with {7.7, 7.6}");
	TAP_CHECK_INT_EQ(which, 1, "7.6 SHA256.sig: the 7.6 key, index 1, was used");
	TAP_CHECK_INT_EQ(signify_verify(both, 2, &s, s.message, s.message_len, NULL, NULL), 0, "which may be NULL");

	which = 99;
	why = NULL;
	r = signify_verify(&k77, 1, &s, s.message, s.message_len, &which, &why);
	TAP_CHECK_INT_EQ(r, -ENOKEY, "7.6 SHA256.sig with the 7.7 key alone: -ENOKEY");
	TAP_CHECK(why && strstr(why, "not trusted"), "-ENOKEY: reason");
	TAP_CHECK_INT_EQ(which, 99, "-ENOKEY: *which untouched");
	TAP_CHECK_INT_EQ(signify_verify(NULL, 0, &s, s.message, s.message_len, NULL, NULL), -ENOKEY,
	                 "no keys at all: -ENOKEY");

	/* The 7.7 public key under the 7.6 keynum: selected, and must fail. */
	signify_key impostor = k77;
	memcpy(impostor.keynum, k76.keynum, 8);
	why = NULL;
	r = signify_verify(&impostor, 1, &s, s.message, s.message_len, &which, &why);
	TAP_CHECK_INT_EQ(r, -EBADMSG, "keynum matches, public key differs: -EBADMSG");
	TAP_CHECK(why && strstr(why, "does not verify"), "-EBADMSG: reason");
	/* ... and the real key after it still wins. */
	signify_key pair[2] = { impostor, k76 };
	which = 99;
	TAP_CHECK_INT_EQ(signify_verify(pair, 2, &s, s.message, s.message_len, &which, NULL), 0,
	                 "two keys with the same keynum: each is tried");
	TAP_CHECK_INT_EQ(which, 1, "two keys with the same keynum: the one that verifies is reported");

	/* One byte of the message, anywhere: first, middle, last (the final '\n'). */
	size_t off = body_offset(text, len);
	size_t spots[] = { off, off + OPENBSD_76_MSG_LEN / 2, len - 1 };
	for (size_t i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
		text[spots[i]] ^= 0x01;
		signify_sig t;
		TAP_CHECK_INT_EQ(signify_parse_sig(text, len, &t, NULL), 0, "message byte %zu flipped: still parses",
		                 spots[i] - off);
		TAP_CHECK_INT_EQ(signify_verify(&k76, 1, &t, t.message, t.message_len, NULL, NULL), -EBADMSG,
		                 "message byte %zu flipped: -EBADMSG", spots[i] - off);
		text[spots[i]] ^= 0x01;
	}
	/* The message cut short by its last byte, or grown by one. */
	TAP_CHECK_INT_EQ(signify_verify(&k76, 1, &s, s.message, s.message_len - 1, NULL, NULL), -EBADMSG,
	                 "message one byte short: -EBADMSG");
	char *longer = malloc(s.message_len + 1);
	if (!longer)
		abort();
	memcpy(longer, s.message, s.message_len);
	longer[s.message_len] = '\n';
	TAP_CHECK_INT_EQ(signify_verify(&k76, 1, &s, longer, s.message_len + 1, NULL, NULL), -EBADMSG,
	                 "message one byte longer: -EBADMSG");
	free(longer);

	/* One bit of the signature, in the struct and in the text. */
	for (size_t i = 0; i < 64; i += 21) {
		signify_sig t = s;
		t.sig[i] ^= 0x80;
		TAP_CHECK_INT_EQ(signify_verify(&k76, 1, &t, t.message, t.message_len, NULL, NULL), -EBADMSG,
		                 "signature byte %zu flipped: -EBADMSG", i);
	}
	size_t b64_at = (size_t)((const char *)memchr(text, '\n', len) + 1 - text);
	size_t c = b64_at + 60; /* inside the signature part of the record */
	char was = text[c];
	text[c] = was == 'A' ? 'B' : 'A';
	signify_sig t;
	TAP_CHECK_INT_EQ(signify_parse_sig(text, len, &t, NULL), 0, "base64 character of the signature changed: parses");
	TAP_CHECK_INT_EQ(signify_verify(&k76, 1, &t, t.message, t.message_len, NULL, NULL), -EBADMSG,
	                 "base64 character of the signature changed: -EBADMSG");
	text[c] = was;

	/* The comment is not signed: another comment still verifies. */
	char buf[4096];
	uint8_t rec[74];
	size_t n = build_file(buf, sizeof(buf), "anything at all", rec, sig_record(rec, "Ed", s.keynum, s.sig),
	                      s.message, s.message_len);
	TAP_CHECK_INT_EQ(signify_parse_sig(buf, n, &t, NULL), 0, "rebuilt with another comment: parses");
	TAP_CHECK_INT_EQ(signify_verify(&k76, 1, &t, t.message, t.message_len, NULL, NULL), 0,
	                 "rebuilt with another comment: still verifies (the comment is untrusted)");

	/* Another keynum in the record: the keynum is not signed, it only picks
	 * the key, so this is "no such key" rather than a bad signature. */
	uint8_t other[8];
	memcpy(other, s.keynum, 8);
	other[7] ^= 1;
	n = build_file(buf, sizeof(buf), "x", rec, sig_record(rec, "Ed", other, s.sig), s.message, s.message_len);
	TAP_CHECK_INT_EQ(signify_parse_sig(buf, n, &t, NULL), 0, "keynum changed: parses");
	TAP_CHECK_INT_EQ(signify_verify(&k76, 1, &t, t.message, t.message_len, NULL, NULL), -ENOKEY,
	                 "keynum changed: -ENOKEY with the 7.6 key");

	/* Other algorithms. */
	n = build_file(buf, sizeof(buf), "x", rec, sig_record(rec, "Ex", s.keynum, s.sig), s.message, s.message_len);
	check_sig_fail(buf, n, -EBADMSG, "algorithm", "pkalg \"Ex\"");
	n = build_file(buf, sizeof(buf), "x", rec, sig_record(rec, "ed", s.keynum, s.sig), s.message, s.message_len);
	check_sig_fail(buf, n, -EBADMSG, "algorithm", "pkalg \"ed\"");
	uint8_t krec[42];
	memcpy(krec, "EC", 2);
	memcpy(krec + 2, k76.keynum, 8);
	memcpy(krec + 10, k76.pub, 32);
	n = build_file(buf, sizeof(buf), "x", krec, sizeof(krec), NULL, 0);
	check_key_fail(buf, n, -EBADMSG, "algorithm", "key pkalg \"EC\"");

	free(text);
}

/* Framing errors, each a small edit of the real 7.6 files. */
static void test_framing(void)
{
	const char *sig = OPENBSD_76_SIG;
	size_t sig_len = LEN(OPENBSD_76_SIG);
	size_t b64_at = (size_t)((const char *)memchr(sig, '\n', sig_len) + 1 - sig);
	size_t body = body_offset(sig, sig_len);
	size_t b64_len = body - 1 - b64_at; /* 100 */
	char buf[4096];
	size_t n;

	/* Truncated base64: one, four and all characters missing. */
	size_t cuts[] = { 1, 4, b64_len };
	for (size_t i = 0; i < 3; i++) {
		memcpy(buf, sig, b64_at + b64_len - cuts[i]);
		n = b64_at + b64_len - cuts[i];
		memcpy(buf + n, sig + body - 1, sig_len - (body - 1));
		n += sig_len - (body - 1);
		char desc[64];
		snprintf(desc, sizeof(desc), "base64 line short by %zu", cuts[i]);
		check_sig_fail(buf, n, -EBADMSG, "length", desc);
	}
	/* The file cut inside the base64 line: no newline after it. */
	check_sig_fail(sig, b64_at + 50, -EBADMSG, "no newline", "cut inside the base64 line");
	check_sig_fail(sig, body - 1, -EBADMSG, "no newline", "cut before the base64 line's newline");
	check_sig_fail(sig, b64_at, -EBADMSG, "no newline", "cut after the comment line");
	check_sig_fail(sig, b64_at - 1, -EBADMSG, "no newline", "cut before the comment line's newline");
	check_sig_fail(sig, 0, -EBADMSG, "untrusted comment", "empty input");
	check_key_fail(OPENBSD_76_PUB, LEN(OPENBSD_76_PUB) - 1, -EBADMSG, "no newline", "key without its final newline");

	/* Extra bytes on the base64 line. */
	const char *extras[] = { "A", " ", "\t", "=", "AAAA", "\r " };
	for (size_t i = 0; i < sizeof(extras) / sizeof(extras[0]); i++) {
		size_t e = strlen(extras[i]);
		memcpy(buf, sig, body - 1);
		memcpy(buf + body - 1, extras[i], e);
		memcpy(buf + body - 1 + e, sig + body - 1, sig_len - (body - 1));
		char desc[64];
		snprintf(desc, sizeof(desc), "extra bytes on the base64 line (case %zu)", i);
		check_sig_fail(buf, sig_len + e, -EBADMSG, "signify", desc);
	}
	/* ... and before it. */
	memcpy(buf, sig, b64_at);
	buf[b64_at] = ' ';
	memcpy(buf + b64_at + 1, sig + b64_at, sig_len - b64_at);
	check_sig_fail(buf, sig_len + 1, -EBADMSG, "length", "blank before the base64");
	/* The same for the key: one more base64 character, and a trailing blank. */
	size_t kb = LEN(OPENBSD_76_PUB);
	memcpy(buf, OPENBSD_76_PUB, kb - 1);
	memcpy(buf + kb - 1, "A\n", 2);
	check_key_fail(buf, kb + 1, -EBADMSG, "length", "key base64 line one character longer");
	memcpy(buf + kb - 1, " \n", 2);
	check_key_fail(buf, kb + 1, -EBADMSG, "length", "key base64 line with a trailing blank");
	memcpy(buf, OPENBSD_76_PUB, kb);
	buf[kb] = '\n';
	check_key_fail(buf, kb + 1, -EBADMSG, "data after", "key file followed by an empty line");
	memcpy(buf, OPENBSD_76_PUB, kb);
	memcpy(buf + kb, OPENBSD_77_PUB, LEN(OPENBSD_77_PUB));
	check_key_fail(buf, kb + LEN(OPENBSD_77_PUB), -EBADMSG, "data after", "two key files concatenated");

	/* Non-canonical base64: the sig line ends "wM="; "wN=" decodes to the
	 * same bytes (the low bits are padding) and must still be refused. */
	memcpy(buf, sig, sig_len);
	if (!TAP_CHECK(buf[body - 3] == 'M' && buf[body - 2] == '=', "sample's base64 ends in \"M=\""))
		return;
	buf[body - 3] = 'N';
	check_sig_fail(buf, sig_len, -EBADMSG, "canonical", "non-canonical padding bits");
	memcpy(buf, sig, sig_len);
	buf[b64_at + 10] = '*';
	check_sig_fail(buf, sig_len, -EBADMSG, "base64", "character outside the alphabet");
	memcpy(buf, sig, sig_len);
	buf[b64_at + 10] = '\0';
	check_sig_fail(buf, sig_len, -EBADMSG, "base64", "NUL in the base64 line");
	memcpy(buf, sig, sig_len);
	buf[b64_at + 96] = '=';
	check_sig_fail(buf, sig_len, -EBADMSG, "base64", "padding inside the line");

	/* CRLF, on either line or both. */
	memcpy(buf, sig, b64_at - 1);
	memcpy(buf + b64_at - 1, "\r", 1);
	memcpy(buf + b64_at, sig + b64_at - 1, sig_len - (b64_at - 1));
	check_sig_fail(buf, sig_len + 1, -EBADMSG, "CRLF", "CRLF after the comment");
	memcpy(buf, sig, body - 1);
	buf[body - 1] = '\r';
	memcpy(buf + body, sig + body - 1, sig_len - (body - 1));
	check_sig_fail(buf, sig_len + 1, -EBADMSG, "CRLF", "CRLF after the base64 line");
	n = 0;
	for (size_t i = 0; i < LEN(OPENBSD_76_PUB); i++) {
		if (OPENBSD_76_PUB[i] == '\n')
			buf[n++] = '\r';
		buf[n++] = OPENBSD_76_PUB[i];
	}
	check_key_fail(buf, n, -EBADMSG, "CRLF", "key file with CRLF line ends");

	/* The comment line. */
	check_key_fail("Untrusted comment: x\nRWTkuwn4mbq8ouJbfO4VfNH8+FdiZUosz2qIR0V0C9bm6CnVEt7CGkV0\n", 77, -EBADMSG,
	               "untrusted comment", "wrong case in the prefix");
	check_key_fail("untrusted comment:x\nRWTkuwn4mbq8ouJbfO4VfNH8+FdiZUosz2qIR0V0C9bm6CnVEt7CGkV0\n", 76, -EBADMSG,
	               "untrusted comment", "no space after the colon");
	check_key_fail("untrusted comment: \nRWTkuwn4mbq8ouJbfO4VfNH8+FdiZUosz2qIR0V0C9bm6CnVEt7CGkV0\n", 77, -EBADMSG,
	               "empty", "empty comment");
	check_key_fail("RWTkuwn4mbq8ouJbfO4VfNH8+FdiZUosz2qIR0V0C9bm6CnVEt7CGkV0\n", 57, -EBADMSG, "untrusted comment",
	               "no comment line");
	check_key_fail("untrusted comment: a\0b\nRWTkuwn4mbq8ouJbfO4VfNH8+FdiZUosz2qIR0V0C9bm6CnVEt7CGkV0\n", 80,
	               -EBADMSG, "NUL", "NUL in the comment");
	check_key_fail("untrusted comment: a\rb\nRWTkuwn4mbq8ouJbfO4VfNH8+FdiZUosz2qIR0V0C9bm6CnVEt7CGkV0\n", 80,
	               -EBADMSG, "CR", "CR in the comment");

	/* 1023 bytes of comment text is signify's maximum; 1024 is too many. */
	signify_key k76 = key_of(OPENBSD_76_PUB, LEN(OPENBSD_76_PUB));
	uint8_t krec[42];
	memcpy(krec, "Ed", 2);
	memcpy(krec + 2, k76.keynum, 8);
	memcpy(krec + 10, k76.pub, 32);
	char comment[1025];
	memset(comment, 'c', 1024);
	comment[1023] = '\0';
	n = build_file(buf, sizeof(buf), comment, krec, sizeof(krec), NULL, 0);
	signify_key k;
	char *copy = dup_n(buf, n);
	TAP_CHECK_INT_EQ(signify_parse_key(copy, n, &k, NULL), 0, "1023-byte comment accepted");
	free(copy);
	TAP_CHECK(memcmp(&k, &k76, sizeof(k)) == 0, "1023-byte comment: same key");
	comment[1023] = 'c';
	comment[1024] = '\0';
	n = build_file(buf, sizeof(buf), comment, krec, sizeof(krec), NULL, 0);
	check_key_fail(buf, n, -EBADMSG, "longer than 1023", "1024-byte comment");
}

/* A key where a signature belongs and the reverse, and a secret key. */
static void test_wrong_kind(void)
{
	check_sig_fail(OPENBSD_76_PUB, LEN(OPENBSD_76_PUB), -EBADMSG, "public key, not a signature",
	               "key file fed as a signature");
	check_key_fail(TEST_MSG_SIG, LEN(TEST_MSG_SIG), -EBADMSG, "signature, not a public key",
	               "detached signature fed as a key");
	check_key_fail(OPENBSD_76_SIG, LEN(OPENBSD_76_SIG), -EBADMSG, "signature, not a public key",
	               "embedded signature fed as a key");
	/* signify's secret key record is 104 bytes ("Ed", "BK", rounds, salt,
	 * checksum, keynum, key); the content does not matter here. */
	uint8_t srec[104];
	memset(srec, 0x11, sizeof(srec));
	memcpy(srec, "EdBK", 4);
	char buf[512];
	size_t n = build_file(buf, sizeof(buf), "x secret key", srec, sizeof(srec), NULL, 0);
	check_key_fail(buf, n, -EBADMSG, "SECRET key", "secret key fed as a public key");
	check_sig_fail(buf, n, -EBADMSG, "SECRET key", "secret key fed as a signature");
}

static void test_generated(void)
{
	signify_key ka = key_of(TEST_A_PUB, LEN(TEST_A_PUB));
	signify_key kb = key_of(TEST_B_PUB, LEN(TEST_B_PUB));
	char hex[17];
	signify_keynum_hex(ka.keynum, hex);
	TAP_CHECK_STR_EQ(hex, "3f64b98b565cb3af", "test key A: keynum");

	/* Embedded. */
	char *e = dup_n(TEST_MSG_ESIG, LEN(TEST_MSG_ESIG));
	signify_sig s;
	TAP_CHECK_INT_EQ(signify_parse_sig(e, LEN(TEST_MSG_ESIG), &s, NULL), 0, "generated embedded sig parses");
	TAP_CHECK(s.message_len == LEN(TEST_MSG) && s.message && memcmp(s.message, TEST_MSG, LEN(TEST_MSG)) == 0,
	          "generated embedded sig: message is msg");
	size_t which = 99;
	TAP_CHECK_INT_EQ(signify_verify(&ka, 1, &s, s.message, s.message_len, &which, NULL), 0,
	                 "generated embedded sig verifies with key A");
	TAP_CHECK_INT_EQ(signify_verify(&kb, 1, &s, s.message, s.message_len, NULL, NULL), -ENOKEY,
	                 "generated embedded sig with key B: -ENOKEY");
	signify_key kb_as_a = kb;
	memcpy(kb_as_a.keynum, ka.keynum, 8);
	TAP_CHECK_INT_EQ(signify_verify(&kb_as_a, 1, &s, s.message, s.message_len, NULL, NULL), -EBADMSG,
	                 "key B's public key under key A's keynum: -EBADMSG");
	free(e);

	/* Detached: the same signature (Ed25519 is deterministic), no message. */
	char *d = dup_n(TEST_MSG_SIG, LEN(TEST_MSG_SIG));
	signify_sig ds;
	TAP_CHECK_INT_EQ(signify_parse_sig(d, LEN(TEST_MSG_SIG), &ds, NULL), 0, "generated detached sig parses");
	TAP_CHECK(ds.message == NULL && ds.message_len == 0, "detached sig: message NULL, length 0");
	TAP_CHECK(memcmp(ds.sig, s.sig, 64) == 0, "detached and embedded signatures are the same bytes");
	char *m = dup_n(TEST_MSG, LEN(TEST_MSG));
	TAP_CHECK_INT_EQ(signify_verify(&ka, 1, &ds, m, LEN(TEST_MSG), NULL, NULL), 0,
	                 "detached sig verifies against the separate message");
	m[7] ^= 0x20;
	TAP_CHECK_INT_EQ(signify_verify(&ka, 1, &ds, m, LEN(TEST_MSG), NULL, NULL), -EBADMSG,
	                 "detached sig against an altered message: -EBADMSG");
	TAP_CHECK_INT_EQ(signify_verify(&ka, 1, &ds, NULL, 0, NULL, NULL), -EBADMSG,
	                 "detached sig against an empty message: -EBADMSG");
	free(m);
	free(d);

	/* Embedded over an empty message: indistinguishable from detached. */
	char *z = dup_n(TEST_EMPTY_ESIG, LEN(TEST_EMPTY_ESIG));
	signify_sig zs;
	TAP_CHECK_INT_EQ(signify_parse_sig(z, LEN(TEST_EMPTY_ESIG), &zs, NULL), 0, "empty-message sig parses");
	TAP_CHECK(zs.message == NULL && zs.message_len == 0, "empty-message sig: no message");
	TAP_CHECK_INT_EQ(signify_verify(&ka, 1, &zs, NULL, 0, NULL, NULL), 0, "empty-message sig verifies (NULL, 0)");
	TAP_CHECK_INT_EQ(signify_verify(&ka, 1, &zs, "", 0, NULL, NULL), 0, "empty-message sig verifies (\"\", 0)");
	TAP_CHECK_INT_EQ(signify_verify(&ka, 1, &zs, "\n", 1, NULL, NULL), -EBADMSG,
	                 "empty-message sig against \"\\n\": -EBADMSG");
	free(z);

	/* A message with NUL bytes and CRs is just bytes: only the framing is text. */
	char buf[512];
	uint8_t rec[74];
	size_t n = build_file(buf, sizeof(buf), "x", rec, sig_record(rec, "Ed", ka.keynum, s.sig), "a\0\r\n", 4);
	signify_sig bs;
	TAP_CHECK_INT_EQ(signify_parse_sig(buf, n, &bs, NULL), 0, "binary embedded message parses");
	TAP_CHECK(bs.message_len == 4 && memcmp(bs.message, "a\0\r\n", 4) == 0, "binary embedded message kept whole");
}

static void test_size_cap(void)
{
	/* A valid signature whose embedded message fills the file up to the cap. */
	size_t head = body_offset(TEST_MSG_ESIG, LEN(TEST_MSG_ESIG));
	char *big = malloc(SIGNIFY_MAX_BYTES + 1);
	if (!big)
		abort();
	memcpy(big, TEST_MSG_ESIG, head);
	memset(big + head, 'x', SIGNIFY_MAX_BYTES + 1 - head);
	signify_sig s;
	const char *why = NULL;
	TAP_CHECK_INT_EQ(signify_parse_sig(big, SIGNIFY_MAX_BYTES, &s, &why), 0, "exactly 1 MiB: accepted");
	TAP_CHECK_INT_EQ(s.message_len, SIGNIFY_MAX_BYTES - head, "exactly 1 MiB: message runs to the end");
	char *over = dup_n(big, SIGNIFY_MAX_BYTES + 1);
	free(big);
	memset(&s, 0x5a, sizeof(s));
	signify_sig before = s;
	TAP_CHECK_INT_EQ(signify_parse_sig(over, SIGNIFY_MAX_BYTES + 1, &s, &why), -EFBIG, "1 MiB + 1: -EFBIG");
	TAP_CHECK(why && strstr(why, "1 MiB"), "-EFBIG: reason");
	TAP_CHECK(memcmp(&s, &before, sizeof(s)) == 0, "-EFBIG: result untouched");
	signify_key k;
	TAP_CHECK_INT_EQ(signify_parse_key(over, SIGNIFY_MAX_BYTES + 1, &k, NULL), -EFBIG, "key, 1 MiB + 1: -EFBIG");
	free(over);

	/* A megabyte without a newline: refused at the comment length limit. */
	char *flat = malloc(SIGNIFY_MAX_BYTES);
	if (!flat)
		abort();
	memcpy(flat, "untrusted comment: ", 19);
	memset(flat + 19, 'c', SIGNIFY_MAX_BYTES - 19);
	check_sig_fail(flat, SIGNIFY_MAX_BYTES, -EBADMSG, "longer than 1023", "1 MiB comment line");
	free(flat);
}

static void test_arguments(void)
{
	signify_sig s;
	signify_key k;
	const char *why = NULL;
	TAP_CHECK_INT_EQ(signify_parse_sig(NULL, 5, &s, &why), -EINVAL, "parse_sig(NULL, 5): -EINVAL");
	TAP_CHECK_INT_EQ(signify_parse_sig(TEST_MSG_SIG, LEN(TEST_MSG_SIG), NULL, &why), -EINVAL,
	                 "parse_sig(ret NULL): -EINVAL");
	TAP_CHECK_INT_EQ(signify_parse_key(NULL, 5, &k, NULL), -EINVAL, "parse_key(NULL, 5): -EINVAL");
	TAP_CHECK_INT_EQ(signify_parse_key(NULL, 0, &k, &why), -EBADMSG, "parse_key(NULL, 0): -EBADMSG");
	k = key_of(TEST_A_PUB, LEN(TEST_A_PUB));
	TAP_CHECK_INT_EQ(signify_parse_sig(TEST_MSG_SIG, LEN(TEST_MSG_SIG), &s, NULL), 0, "why may be NULL");
	TAP_CHECK_INT_EQ(signify_verify(&k, 1, NULL, "", 0, NULL, &why), -EINVAL, "verify(sig NULL): -EINVAL");
	TAP_CHECK_INT_EQ(signify_verify(NULL, 1, &s, "", 0, NULL, &why), -EINVAL, "verify(keys NULL, n 1): -EINVAL");
	TAP_CHECK_INT_EQ(signify_verify(&k, 1, &s, NULL, 3, NULL, &why), -EINVAL, "verify(msg NULL, len 3): -EINVAL");

	uint8_t kn[8] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
	char hex[17];
	memset(hex, 'z', sizeof(hex));
	signify_keynum_hex(kn, hex);
	TAP_CHECK_STR_EQ(hex, "0123456789abcdef", "keynum_hex: lowercase, NUL-terminated");
}

int main(void)
{
	test_looks_like();
	test_real_openbsd();
	test_framing();
	test_wrong_kind();
	test_generated();
	test_size_cap();
	test_arguments();
	return tap_done();
}
