/* SPDX-License-Identifier: MIT */
/*
 * OpenPGP verification (lib/trust/pgp.c) against real vendor signatures and
 * the shipped keys, and the clearsign framing (lib/trust/clearsign.c).
 *
 * Real files in data/trust/, each checked by gpgv against the key before it
 * was committed (origins, as facts):
 *   noble-release-20260705.SHA256SUMS{,.gpg}  Ubuntu 24.04 build directory,
 *       from github.com/shaztechio/sandfort @2e4697c3 (a base64 test fixture),
 *       signed 2026-07-25 by D2EB44626FDDC30B513D5BB71A5D6C4C7DB87C81
 *   Fedora-Cloud-44-1.7-aarch64-CHECKSUM      clearsigned by the Fedora 44 key,
 *       same repository, signed 2026-04-24
 *   CHECKSUM.SHA256-FreeBSD-14.3-RELEASE-amd64-vm.asc  clearsigned by
 *       82563B84D0620EDC0DFB86413897F2E22E65AD3F, from freebsd/freebsd-doc
 *       @81cb0456 website/content/en/releases/14.3R/checksums/
 *   Leap-16.0-Minimal-VM.aarch64-Cloud-Build18.7.qcow2.sha256{,.asc}  openSUSE
 *       (a v3 signature packet), from shaztechio/sandfort @2e4697c3
 * and Debian's InRelease files from this machine's apt lists, against
 * /usr/share/keyrings/debian-archive-keyring.gpg.
 */
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "trust/clearsign.h"
#include "trust/keys.h"
#include "trust/pgp.h"
#include "util/fileio.h"

static char *slurp(const char *path, size_t *len)
{
	char *d = NULL;
	if (read_file_capped(path, 64u << 20, &d, len) < 0)
		return NULL;
	return d;
}

static char *data(const char *name, size_t *len)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/trust/%s", TEST_DATA_DIR, name);
	return slurp(p, len);
}

static imgfetch_status verify(imgfetch_ctx *ctx, const char *keyring, const char *sig, size_t slen, const char *msg,
                              size_t mlen, char **text, imgfetch_signature *s)
{
	trust_keys k;
	imgfetch_status st = trust_keys_load(ctx, keyring, NULL, &k);
	if (st < 0)
		return st;
	size_t tl = 0;
	st = pgp_verify(ctx, &k, "test file", sig, slen, msg, mlen, -1, text, &tl, s);
	trust_keys_clear(&k);
	return st;
}

static void detached(imgfetch_ctx *ctx)
{
	size_t sl, ml;
	char *sig = data("noble-release-20260705.SHA256SUMS.gpg", &sl), *msg = data("noble-release-20260705.SHA256SUMS", &ml);
	if (!TAP_CHECK(sig && msg, "Ubuntu samples readable"))
		return;
	imgfetch_signature s = { 0 };
	imgfetch_status st = verify(ctx, KEYS_DIR "/ubuntu.asc", sig, sl, msg, ml, NULL, &s);
	TAP_CHECK_INT_EQ(st, IMGFETCH_OK, "Ubuntu SHA256SUMS.gpg (armoured, detached) verifies: %s", imgfetch_ctx_error(ctx));
	TAP_CHECK_STR_EQ(s.fingerprint ? s.fingerprint : "", "D2EB44626FDDC30B513D5BB71A5D6C4C7DB87C81", "signer named");
	TAP_CHECK(s.uid && strstr(s.uid, "UEC Image Automatic Signing Key"), "uid %s", s.uid ? s.uid : "(none)");
	TAP_CHECK(s.key_file && strstr(s.key_file, "ubuntu.asc"), "key file named");
	TAP_CHECK(s.created > 1780000000, "creation time %lld", (long long)s.created);
	signature_clear(&s);

	st = verify(ctx, KEYS_DIR "/fedora.asc", sig, sl, msg, ml, NULL, &s);
	TAP_CHECK_INT_EQ(st, IMGFETCH_E_VERIFY, "refused with another vendor's keys");
	TAP_CHECK(strstr(imgfetch_ctx_error(ctx), "7DB87C81") && strstr(imgfetch_ctx_error(ctx), "not among the trusted"),
	          "names the unknown key: %s", imgfetch_ctx_error(ctx));

	msg[100] ^= 1;
	st = verify(ctx, KEYS_DIR "/ubuntu.asc", sig, sl, msg, ml, NULL, &s);
	TAP_CHECK_INT_EQ(st, IMGFETCH_E_VERIFY, "one bit changed in SHA256SUMS: refused");
	TAP_CHECK(strstr(imgfetch_ctx_error(ctx), "BAD signature") != NULL, "says bad: %s", imgfetch_ctx_error(ctx));
	msg[100] ^= 1;

	st = verify(ctx, KEYS_DIR "/ubuntu.asc", msg, ml, sig, sl, NULL, &s);
	TAP_CHECK_INT_EQ(st, IMGFETCH_E_VERIFY, "data given as signature: refused");
	free(sig);
	free(msg);

	sig = data("Leap-16.0-Minimal-VM.aarch64-Cloud-Build18.7.qcow2.sha256.asc", &sl);
	msg = data("Leap-16.0-Minimal-VM.aarch64-Cloud-Build18.7.qcow2.sha256", &ml);
	st = verify(ctx, KEYS_DIR "/opensuse.asc", sig, sl, msg, ml, NULL, &s);
	TAP_CHECK_INT_EQ(st, IMGFETCH_OK, "openSUSE v3 signature verifies: %s", imgfetch_ctx_error(ctx));
	TAP_CHECK_STR_EQ(s.fingerprint ? s.fingerprint : "", "AD485664E901B867051AB15F35A2F86E29B700A4", "openSUSE key");
	signature_clear(&s);
	free(sig);
	free(msg);
}

static void clearsigned(imgfetch_ctx *ctx, const char *file, const char *keys, const char *fpr, const char *line)
{
	size_t l;
	char *cs = data(file, &l), *text = NULL;
	if (!TAP_CHECK(cs != NULL, "%s readable", file))
		return;
	imgfetch_signature s = { 0 };
	imgfetch_status st = verify(ctx, keys, cs, l, NULL, 0, &text, &s);
	TAP_CHECK_INT_EQ(st, IMGFETCH_OK, "%s verifies: %s", file, imgfetch_ctx_error(ctx));
	TAP_CHECK_STR_EQ(s.fingerprint ? s.fingerprint : "", fpr, "%s signer", file);
	TAP_CHECK(text && strstr(text, line) && !strstr(text, "PGP"), "signed text holds the digest line, no armour");
	signature_clear(&s);

	/* The framing read without the signature: the same text. */
	char *body = NULL;
	size_t bl = 0;
	const char *why = NULL;
	TAP_CHECK_INT_EQ(clearsign_body(cs, l, &body, &bl, &why), 0, "framing of %s reads", file);
	TAP_CHECK(body && text && strncmp(body, text, strlen(text) > 0 ? strlen(text) - 1 : 0) == 0,
	          "framing gives the signed text");
	free(body);
	free(text);
	text = NULL;

	/* An unsigned line after the signature is never part of the text. */
	char *more = malloc(l + 200);
	int n = snprintf(more, l + 200, "%.*sSHA256 (evil.img) = %064d\n", (int)l, cs, 0);
	st = verify(ctx, keys, more, (size_t)n, NULL, 0, &text, &s);
	TAP_CHECK_INT_EQ(st, IMGFETCH_OK, "appended line: the signed part still verifies");
	TAP_CHECK(text && !strstr(text, "evil.img"), "appended line not in the signed text");
	free(text);
	text = NULL;
	signature_clear(&s);
	TAP_CHECK(clearsign_body(more, (size_t)n, &body, &bl, &why) == 0 && !strstr(body, "evil.img"),
	          "appended line not in the framed text");
	free(body);

	/* Before the header: refused. */
	n = snprintf(more, l + 200, "SHA256 (evil.img) = %064d\n%.*s", 0, (int)l, cs);
	st = verify(ctx, keys, more, (size_t)n, NULL, 0, &text, &s);
	TAP_CHECK_INT_EQ(st, IMGFETCH_E_VERIFY, "prepended line: refused");
	TAP_CHECK(clearsign_body(more, (size_t)n, &body, &bl, &why) == -EBADMSG, "prepended line: framing refused");
	free(text);
	text = NULL;

	/* A digit of a digest changed inside: bad signature. */
	memcpy(more, cs, l);
	char *d = strstr(more, line);
	d[strlen(line) + 5] = d[strlen(line) + 5] == '0' ? '1' : '0';
	st = verify(ctx, keys, more, l, NULL, 0, &text, &s);
	TAP_CHECK_INT_EQ(st, IMGFETCH_E_VERIFY, "changed digest inside: refused (%s)", imgfetch_ctx_error(ctx));
	TAP_CHECK(text == NULL, "no text handed out for a bad signature");
	free(more);
	free(cs);
}

static void debian_inrelease(imgfetch_ctx *ctx)
{
	glob_t g;
	if (glob("/var/lib/apt/lists/*_InRelease", 0, NULL, &g) != 0 || g.gl_pathc == 0) {
		TAP_CHECK(false, "this machine's apt lists hold InRelease files (run apt-get update)");
		return;
	}
	for (size_t i = 0; i < g.gl_pathc; i++) {
		size_t l;
		char *t = slurp(g.gl_pathv[i], &l), *text = NULL;
		imgfetch_signature s = { 0 };
		imgfetch_status st = verify(ctx, "/usr/share/keyrings/debian-archive-keyring.gpg", t, l, NULL, 0, &text, &s);
		TAP_CHECK_INT_EQ(st, IMGFETCH_OK, "%s verifies against debian-archive-keyring: %s", g.gl_pathv[i],
		                 imgfetch_ctx_error(ctx));
		TAP_CHECK(s.uid && strstr(s.uid, "Debian"), "signed by %s (%s)", s.fingerprint ? s.fingerprint : "?",
		          s.uid ? s.uid : "?");
		TAP_CHECK(text && strstr(text, "SHA256:") && strstr(text, "Suite:"), "signed text is the Release file");
		signature_clear(&s);
		free(text);
		free(t);
	}
	globfree(&g);
}

static void framing(void)
{
	const char *why = NULL;
	char *b = NULL;
	size_t bl;
	const char ok[] = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n- -dash\nline\n"
	                  "-----BEGIN PGP SIGNATURE-----\nxx\n-----END PGP SIGNATURE-----\nafter\n";
	TAP_CHECK(clearsign_body(ok, sizeof(ok) - 1, &b, &bl, &why) == 0 && strcmp(b, "-dash\nline") == 0,
	          "dash-escape undone, trailing text dropped");
	free(b);
	const char *bad[] = {
		"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nline\n",
		"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nline\n-----BEGIN PGP SIGNATURE-----\nxx\n",
		"-----BEGIN PGP SIGNED MESSAGE-----\nHash SHA256\n\nline\n-----BEGIN PGP SIGNATURE-----\n-----END PGP SIGNATURE-----\n",
		"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n--not escaped\n-----BEGIN PGP SIGNATURE-----\n-----END PGP SIGNATURE-----\n",
		"x\n-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nl\n-----BEGIN PGP SIGNATURE-----\n-----END PGP SIGNATURE-----\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		TAP_CHECK(clearsign_body(bad[i], strlen(bad[i]), &b, &bl, &why) == -EBADMSG, "malformed framing %zu refused",
		          i);
}

int main(void)
{
	imgfetch_ctx *ctx = imgfetch_ctx_new();
	/* Only the keys named here: no site directories from the machine. */
	setenv("XDG_CONFIG_HOME", "/nonexistent", 1);
	detached(ctx);
	clearsigned(ctx, "Fedora-Cloud-44-1.7-aarch64-CHECKSUM", KEYS_DIR "/fedora.asc",
	            "36F612DCF27F7D1A48A835E4DBFCF71C6D9F90A6", "SHA256 (Fedora-Cloud-Base-Generic-44-1.7.aarch64.qcow2) = ");
	clearsigned(ctx, "CHECKSUM.SHA256-FreeBSD-14.3-RELEASE-amd64-vm.asc", KEYS_DIR "/freebsd.asc",
	            "82563B84D0620EDC0DFB86413897F2E22E65AD3F",
	            "SHA256 (FreeBSD-14.3-RELEASE-amd64-BASIC-CLOUDINIT-ufs.raw.xz) = ");
	debian_inrelease(ctx);
	framing();
	imgfetch_ctx_free(ctx);
	return tap_done();
}
