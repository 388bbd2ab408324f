/* SPDX-License-Identifier: MIT */
/* Unit tests for the checksum-file parsers (lib/verify/sums.c). */
#include <imgfetch/imgfetch.h>

#include <stdlib.h>
#include <string.h>

#include "tap.h"

/* Digests of "a".."e" (SHA-256) and "a".."c" (SHA-512): real values, distinct. */
#define A256 "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
#define B256 "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
#define C256 "2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6"
#define D256 "18ac3e7343f016890c510e93f935261169d9e3f565436429830faf0934f4f8e4"
#define E256 "3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea"
#define A512                                                                                                   \
	"1f40fc92da241694750979ee6cf582f2d5d7d28e18335de05abc54d0560e0f5302860c652bf08d560252aa5e74210546f369fbbb" \
	"ce8c12cfc7957b2652fe9a75"
#define B512                                                                                                   \
	"5267768822ee624d48fce15ec5ca79cbd602cb7f4c2157a516556991f22ef8c7b5ef7b18d1ff41c59370efb0858651d44a936c11" \
	"b7b144c48fe04df3c6a3e8da"
#define C512                                                                                                   \
	"acc28db2beb7b42baa1cb0243d401ccb4e3fce44d7b02879a52799aadff541522d8822598b2fa664f9d5156c00c924805d75c386" \
	"8bd56c2acb81d37e98e35adc"
/* MD5 of "a": the right shape for an MD5SUMS file, the wrong length for us. */
#define A_MD5 "0cc175b9c0f1b6a831c399e269772661"

#define S256 IMGFETCH_HASH_SHA256
#define S512 IMGFETCH_HASH_SHA512

/* The line cap documented in sums.c: content longer than this is skipped. */
#define LINE_CAP 4096u

/* ------------------------------------------------------------ helpers */

static void fill_sentinel(imgfetch_checksum *c)
{
	memset(c, 0x5a, sizeof(*c));
}

static bool is_sentinel(const imgfetch_checksum *c)
{
	imgfetch_checksum s;
	fill_sentinel(&s);
	return memcmp(c, &s, sizeof(s)) == 0;
}

static void upper(const char *in, char *out)
{
	size_t i = 0;
	for (; in[i]; i++)
		out[i] = (in[i] >= 'a' && in[i] <= 'z') ? (char)(in[i] - 'a' + 'A') : in[i];
	out[i] = '\0';
}

/* Local: imgfetch_status_name() lives in the core, which this test does not link. */
static const char *status_str(imgfetch_status s)
{
	switch (s) {
	case IMGFETCH_OK: return "OK";
	case IMGFETCH_E_INVALID: return "E_INVALID";
	case IMGFETCH_E_VERIFY: return "E_VERIFY";
	case IMGFETCH_E_NOT_FOUND: return "E_NOT_FOUND";
	default: return "other";
	}
}

static void check_ok(imgfetch_status st, const imgfetch_checksum *c, const char *why, imgfetch_hash hash,
                     const char *hex, const char *desc)
{
	if (!TAP_CHECK_INT_EQ(st, IMGFETCH_OK, "%s: status OK", desc))
		tap_diag("why: %s", why ? why : "(null)");
	TAP_CHECK_STR_EQ(imgfetch_hash_name(c->hash), imgfetch_hash_name(hash), "%s: algorithm", desc);
	TAP_CHECK_STR_EQ(st == IMGFETCH_OK ? c->hex : "(failed)", hex, "%s: digest", desc);
}

static void check_fail(imgfetch_status st, const imgfetch_checksum *c, const char *why, imgfetch_status want,
                       const char *why_part, const char *desc)
{
	TAP_CHECK_INT_EQ(st, want, "%s: status %s", desc, status_str(want));
	if (!TAP_CHECK(why && strstr(why, why_part), "%s: reason mentions \"%s\"", desc, why_part))
		tap_diag("why: %s", why ? why : "(null)");
	TAP_CHECK(is_sentinel(c), "%s: result untouched", desc);
}

static void lookup_ok_n(const char *text, size_t len, const char *name, imgfetch_hash hash, const char *hex,
                        const char *desc)
{
	imgfetch_checksum c;
	const char *why = NULL;
	fill_sentinel(&c);
	imgfetch_status st = imgfetch_sums_lookup(text, len, name, &c, &why);
	check_ok(st, &c, why, hash, hex, desc);
}

static void lookup_ok(const char *text, const char *name, imgfetch_hash hash, const char *hex, const char *desc)
{
	lookup_ok_n(text, strlen(text), name, hash, hex, desc);
}

static void lookup_fail_n(const char *text, size_t len, const char *name, imgfetch_status want,
                          const char *why_part, const char *desc)
{
	imgfetch_checksum c;
	const char *why = NULL;
	fill_sentinel(&c);
	imgfetch_status st = imgfetch_sums_lookup(text, len, name, &c, &why);
	check_fail(st, &c, why, want, why_part, desc);
}

static void lookup_fail(const char *text, const char *name, imgfetch_status want, const char *why_part,
                        const char *desc)
{
	lookup_fail_n(text, strlen(text), name, want, why_part, desc);
}

static void sidecar_ok_n(const char *text, size_t len, imgfetch_hash hash, const char *hex, const char *desc)
{
	imgfetch_checksum c;
	const char *why = NULL;
	fill_sentinel(&c);
	imgfetch_status st = imgfetch_sidecar_parse(text, len, &c, &why);
	check_ok(st, &c, why, hash, hex, desc);
}

static void sidecar_ok(const char *text, imgfetch_hash hash, const char *hex, const char *desc)
{
	sidecar_ok_n(text, strlen(text), hash, hex, desc);
}

static void sidecar_fail_n(const char *text, size_t len, imgfetch_status want, const char *why_part,
                           const char *desc)
{
	imgfetch_checksum c;
	const char *why = NULL;
	fill_sentinel(&c);
	imgfetch_status st = imgfetch_sidecar_parse(text, len, &c, &why);
	check_fail(st, &c, why, want, why_part, desc);
}

static void sidecar_fail(const char *text, imgfetch_status want, const char *why_part, const char *desc)
{
	sidecar_fail_n(text, strlen(text), want, why_part, desc);
}

/* -------------------------------------------------------------- tests */

static void test_hash_helpers(void)
{
	TAP_CHECK_INT_EQ(imgfetch_hash_hexlen(IMGFETCH_HASH_SHA256), 64, "hexlen sha256");
	TAP_CHECK_INT_EQ(imgfetch_hash_hexlen(IMGFETCH_HASH_SHA512), 128, "hexlen sha512");
	TAP_CHECK_INT_EQ(imgfetch_hash_hexlen((imgfetch_hash)0), 0, "hexlen of 0 is 0");
	TAP_CHECK_INT_EQ(imgfetch_hash_hexlen((imgfetch_hash)3), 0, "hexlen of 3 is 0");
	TAP_CHECK_STR_EQ(imgfetch_hash_name(IMGFETCH_HASH_SHA256), "sha256", "name sha256");
	TAP_CHECK_STR_EQ(imgfetch_hash_name(IMGFETCH_HASH_SHA512), "sha512", "name sha512");
	TAP_CHECK_STR_EQ(imgfetch_hash_name((imgfetch_hash)0), "unknown", "name of 0");
	TAP_CHECK_STR_EQ(imgfetch_hash_name((imgfetch_hash)-1), "unknown", "name of -1");
}

static void test_gnu_forms(void)
{
	lookup_ok(A256 "  foo.img\n", "foo.img", S256, A256, "GNU two spaces");
	lookup_ok(A256 " *foo.img\n", "foo.img", S256, A256, "GNU binary marker");
	lookup_ok(A256 " foo.img\n", "foo.img", S256, A256, "GNU single space");
	lookup_ok(A256 "\tfoo.img\n", "foo.img", S256, A256, "tab separator");
	lookup_ok(A512 "  foo.img\n", "foo.img", S512, A512, "GNU sha512 by length");
	lookup_ok("  \t" A256 "  foo.img\n", "foo.img", S256, A256, "leading whitespace");
	lookup_ok(A256 "  foo.img  \t\n", "foo.img", S256, A256, "trailing blanks ignored");
	lookup_ok(A256 "  my disk image.iso\n", "my disk image.iso", S256, A256, "name with spaces");
	lookup_ok(A256 "  *foo.img\n", "*foo.img", S256, A256, "two spaces then '*' is part of the name");
	lookup_fail(A256 "  *foo.img\n", "foo.img", IMGFETCH_E_NOT_FOUND, "no entry",
	            "text-mode marker consumed, so '*foo.img' is not foo.img");
	lookup_ok(B256 "  bar.img\n" A256 "  foo.img\n" C256 "  baz.img\n", "foo.img", S256, A256,
	          "middle of several entries");
	lookup_ok(A256 "  foo.img", "foo.img", S256, A256, "no trailing newline");
	lookup_ok(B256 "  bar.img\n" A256 " *foo.img", "foo.img", S256, A256, "last line without newline");
	lookup_fail(A256 "\n" A256 "  \n", "foo.img", IMGFETCH_E_NOT_FOUND, "no entry", "digest without a name");
	lookup_fail(A256 " *\n", "*", IMGFETCH_E_NOT_FOUND, "no entry", "binary marker without a name");
}

static void test_bsd_forms(void)
{
	lookup_ok("SHA256 (foo.img) = " A256 "\n", "foo.img", S256, A256, "BSD SHA256");
	lookup_ok("SHA512 (foo.img) = " A512 "\n", "foo.img", S512, A512, "BSD SHA512");
	lookup_ok("sha256 (foo.img) = " A256 "\n", "foo.img", S256, A256, "BSD tag lowercase");
	lookup_ok("Sha512 (foo.img) = " A512 "\n", "foo.img", S512, A512, "BSD tag mixed case");
	lookup_ok("SHA256 (my image.iso) = " A256 "\n", "my image.iso", S256, A256, "BSD name with spaces");
	lookup_ok("SHA256 (disk (copy).img) = " A256 "\n", "disk (copy).img", S256, A256,
	          "BSD name with parentheses");
	lookup_ok("SHA256 (a (b) = c.img) = " A256 "\n", "a (b) = c.img", S256, A256,
	          "BSD name containing ') = ': last one ends the name");
	lookup_ok("SHA256 (foo.img) = " A256 "  \n", "foo.img", S256, A256, "BSD trailing blanks");
	lookup_ok("SHA256 (./foo.img) = " A256 "\n", "foo.img", S256, A256, "BSD ./name");
	lookup_ok("MD5 (foo.img) = " A_MD5 "\nSHA1 (foo.img) = 86f7e437faa5a7fce15d1ddcb9eaeaea377667b8\n"
	          "SHA256 (foo.img) = " A256 "\n",
	          "foo.img", S256, A256, "MD5/SHA1 lines ignored next to SHA256");
	lookup_fail("MD5 (foo.img) = " A_MD5 "\n", "foo.img", IMGFETCH_E_NOT_FOUND, "only other algorithms",
	            "only an MD5 line: not found");
	lookup_fail("SHA256 (foo.img) = " A512 "\n", "foo.img", IMGFETCH_E_VERIFY, "malformed",
	            "SHA256 tag with a 128-digit digest");
	lookup_fail("SHA512 (foo.img) = " A256 "\n", "foo.img", IMGFETCH_E_VERIFY, "malformed",
	            "SHA512 tag with a 64-digit digest");
	lookup_fail("SHA256 (foo.img) = \n", "foo.img", IMGFETCH_E_VERIFY, "malformed", "BSD empty digest");
	lookup_fail("SHA256 () = " A256 "\n", "foo.img", IMGFETCH_E_NOT_FOUND, "no entry", "BSD empty name");
	lookup_fail("SHA256 (foo.img)= " A256 "\n", "foo.img", IMGFETCH_E_NOT_FOUND, "no entry",
	            "BSD without ' = ' is not an entry");
	/* A GNU line whose name starts with '(' must not be taken for BSD. */
	lookup_ok(A256 " (foo) = bar.img\n", "(foo) = bar.img", S256, A256, "GNU single space, name with ') = '");
	lookup_ok("SHA256 (foo.img) = " A256 "\n" B256 "  bar.img\n", "bar.img", S256, B256,
	          "GNU and BSD lines in one file");
}

static void test_line_ends_comments(void)
{
	lookup_ok(B256 "  bar.img\r\n" A256 "  foo.img\r\n", "foo.img", S256, A256, "CRLF");
	lookup_ok("SHA256 (foo.img) = " A256 "\r\n", "foo.img", S256, A256, "CRLF BSD");
	lookup_ok(A256 "  foo.img\r", "foo.img", S256, A256, "CR at end of input");
	lookup_ok("# checksums\n\n\n" A256 "  foo.img\n\n# end\n", "foo.img", S256, A256, "comments and blank lines");
	lookup_ok("   # " B256 "  foo.img\n" A256 "  foo.img\n", "foo.img", S256, A256,
	          "indented comment containing an entry is ignored");
	lookup_fail("# " A256 "  foo.img\n", "foo.img", IMGFETCH_E_NOT_FOUND, "no entry", "commented-out entry");
	lookup_ok("\r\n \t \r\n" A256 "  foo.img\n", "foo.img", S256, A256, "whitespace-only lines");
}

static void test_paths(void)
{
	lookup_ok(A256 "  ./foo.img\n", "foo.img", S256, A256, "./name");
	lookup_ok(A256 "  ././foo.img\n", "foo.img", S256, A256, "././name");
	lookup_ok(A256 "  foo.img\n", "./foo.img", S256, A256, "looked-up name with ./");
	lookup_ok(A256 "  ./dir/foo.img\n", "foo.img", S256, A256, "./dir/name by basename");
	lookup_ok(A256 "  dir/sub/foo.img\n", "foo.img", S256, A256, "dir/sub/name by basename");
	lookup_ok("SHA512 (amd64/foo.img) = " A512 "\n", "foo.img", S512, A512, "BSD dir/name by basename");
	lookup_ok(B256 "  dir/foo.img\n" A256 "  foo.img\n", "foo.img", S256, A256, "exact beats basename (after)");
	lookup_ok(A256 "  ./foo.img\n" B256 "  dir/foo.img\n", "foo.img", S256, A256,
	          "exact beats basename (before)");
	lookup_ok(A256 "  dir/foo.img\n", "dir/foo.img", S256, A256, "a name with a directory matches exactly");
	lookup_fail(A256 "  dir/\n", "dir", IMGFETCH_E_NOT_FOUND, "no entry", "trailing slash is not a file");
	lookup_fail(A256 "  foo.img/x\n", "foo.img", IMGFETCH_E_NOT_FOUND, "no entry",
	            "a directory component does not match");
	lookup_ok(A256 "  a/foo.img\n" A256 "  b/foo.img\n", "foo.img", S256, A256,
	          "two directories, same digest: fine");
	lookup_fail(A256 "  a/foo.img\n" B256 "  b/foo.img\n", "foo.img", IMGFETCH_E_VERIFY, "ambiguous",
	            "two directories, different digests");
	lookup_fail(A256 "  a/foo.img\n" B256 "  ./a/foo.img\n", "foo.img", IMGFETCH_E_VERIFY, "conflicting",
	            "same directory entry twice, different digests");
}

static void test_prefix_suffix(void)
{
	const char *text = A256 "  foo.img.xz\n" B256 "  xfoo.img\n" C256 "  foo.im\n" D256 "  oo.img\n";
	lookup_fail(text, "foo.img", IMGFETCH_E_NOT_FOUND, "no entry", "prefix/suffix names do not match");
	lookup_fail(A256 "  foo.img\n", "foo.img.xz", IMGFETCH_E_NOT_FOUND, "no entry", "longer name not matched");
	lookup_fail(A256 "  dir/xfoo.img\n", "foo.img", IMGFETCH_E_NOT_FOUND, "no entry",
	            "basename suffix not matched");
	lookup_ok("SHA256 (foo.img.xz) = " A256 "\nSHA256 (foo.img) = " B256 "\n", "foo.img", S256, B256,
	          "foo.img next to foo.img.xz");
	lookup_ok("SHA256 (foo.img.xz) = " A256 "\nSHA256 (foo.img) = " B256 "\n", "foo.img.xz", S256, A256,
	          "foo.img.xz next to foo.img");
	lookup_fail(A256 "  FOO.IMG\n", "foo.img", IMGFETCH_E_NOT_FOUND, "no entry", "names are case-sensitive");
}

static void test_duplicates(void)
{
	lookup_ok(A256 "  foo.img\n" A256 " *foo.img\n", "foo.img", S256, A256, "same entry twice");
	lookup_ok(A256 "  foo.img\n" "SHA256 (./foo.img) = " A256 "\n", "foo.img", S256, A256,
	          "same digest in GNU and BSD form");
	char up[129];
	upper(A256, up);
	char text[512];
	snprintf(text, sizeof(text), "%s  foo.img\n%s  foo.img\n", A256, up);
	lookup_ok(text, "foo.img", S256, A256, "duplicate differing only in hex case");
	lookup_fail(A256 "  foo.img\n" B256 "  foo.img\n", "foo.img", IMGFETCH_E_VERIFY, "conflicting",
	            "conflicting duplicates");
	lookup_fail(A256 "  foo.img\n" B256 "  ./foo.img\n", "foo.img", IMGFETCH_E_VERIFY, "conflicting",
	            "conflicting ./ duplicate");
	lookup_fail(A512 "  foo.img\n" B512 "  foo.img\n" A256 "  foo.img\n", "foo.img", IMGFETCH_E_VERIFY,
	            "conflicting", "conflicting sha512 duplicates");
	lookup_fail(A512 "  foo.img\n" A256 "  foo.img\n" B256 "  foo.img\n", "foo.img", IMGFETCH_E_VERIFY,
	            "conflicting", "conflicting sha256 next to a consistent sha512");
	lookup_ok(A256 "  bar.img\n" B256 "  bar.img\n" C256 "  foo.img\n", "foo.img", S256, C256,
	          "conflict for another file does not matter");
	lookup_ok(A256 "  foo.img\n" B256 "  dir/foo.img\n" C256 "  other/foo.img\n", "foo.img", S256, A256,
	          "ambiguous directories do not matter when an exact entry exists");
}

static void test_algorithms(void)
{
	lookup_ok(A256 "  foo.img\n" A512 "  foo.img\n", "foo.img", S512, A512, "sha512 preferred (after)");
	lookup_ok(A512 "  foo.img\n" A256 "  foo.img\n", "foo.img", S512, A512, "sha512 preferred (before)");
	lookup_ok("SHA256 (foo.img) = " A256 "\nSHA512 (foo.img) = " A512 "\n", "foo.img", S512, A512,
	          "sha512 preferred, BSD");
	lookup_ok(A256 "  dir/foo.img\n" A512 "  dir/foo.img\n", "foo.img", S512, A512,
	          "sha512 preferred by basename");
	lookup_ok(A256 "  foo.img\n" A512 "  dir/foo.img\n", "foo.img", S256, A256,
	          "exact sha256 beats basename sha512");
}

static void test_hex(void)
{
	char up[129], text[512];
	upper(A256, up);
	snprintf(text, sizeof(text), "%s  foo.img\n", up);
	lookup_ok(text, "foo.img", S256, A256, "uppercase hex normalised");
	upper(A512, up);
	snprintf(text, sizeof(text), "SHA512 (foo.img) = %s\n", up);
	lookup_ok(text, "foo.img", S512, A512, "uppercase BSD hex normalised");
	lookup_ok("CA978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48BB  foo.img\n", "foo.img", S256, A256,
	          "mixed-case hex normalised");

	lookup_fail("ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48b  foo.img\n", "foo.img",
	            IMGFETCH_E_VERIFY, "malformed", "63-digit digest");
	lookup_fail(A256 "0  foo.img\n", "foo.img", IMGFETCH_E_VERIFY, "malformed", "65-digit digest");
	lookup_fail(A_MD5 "  foo.img\n", "foo.img", IMGFETCH_E_VERIFY, "malformed", "MD5-length digest");
	lookup_fail("ga978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb  foo.img\n", "foo.img",
	            IMGFETCH_E_VERIFY, "malformed", "non-hex digest");
	lookup_fail("0xa978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb  foo.img\n", "foo.img",
	            IMGFETCH_E_VERIFY, "malformed", "0x prefix");
	lookup_fail("SHA256 (foo.img) = ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bz\n", "foo.img",
	            IMGFETCH_E_VERIFY, "malformed", "BSD non-hex digest");
	lookup_ok(A_MD5 "  foo.img\n" A256 "  foo.img\n", "foo.img", S256, A256,
	          "malformed line ignored when a valid entry exists (after)");
	lookup_ok(A256 "  foo.img\n" A_MD5 "  foo.img\n", "foo.img", S256, A256,
	          "malformed line ignored when a valid entry exists (before)");
	lookup_ok(A_MD5 "  bar.img\nxyz  bar.img\n" A256 "  foo.img\n", "foo.img", S256, A256,
	          "malformed lines for another file ignored");
	lookup_fail(A_MD5 "  bar.img\n", "foo.img", IMGFETCH_E_NOT_FOUND, "no entry",
	            "malformed line for another file is not an error");
	lookup_fail(A_MD5 "  foo.img\n" A256 "  dir/foo.img\n", "foo.img", IMGFETCH_E_VERIFY, "malformed",
	            "malformed exact entry not replaced by a basename match");
	lookup_fail(A_MD5 "  dir/foo.img\n", "foo.img", IMGFETCH_E_VERIFY, "malformed",
	            "malformed basename entry");
}

static void test_escaped_names(void)
{
	lookup_ok("\\" A256 "  foo\\\\bar.img\n", "foo\\bar.img", S256, A256, "escaped backslash");
	lookup_ok("\\" A256 "  two\\nlines.img\n", "two\nlines.img", S256, A256, "escaped newline");
	lookup_ok("\\" A256 "  cr\\r.img\n", "cr\r.img", S256, A256, "escaped carriage return");
	lookup_ok("\\" A256 " *dir/a\\\\b.img\n", "a\\b.img", S256, A256, "escaped name, binary, basename");
	lookup_ok("\\SHA256 (foo\\\\bar.img) = " A256 "\n", "foo\\bar.img", S256, A256, "escaped BSD line");
	lookup_ok(A256 "  foo\\\\bar.img\n", "foo\\\\bar.img", S256, A256, "unescaped line keeps backslashes");
	lookup_fail("\\" A256 "  foo\\\\bar.img\n", "foo\\\\bar.img", IMGFETCH_E_NOT_FOUND, "no entry",
	            "escaped line does not match the raw form");
	lookup_fail("\\" A256 "  foo\\qbar.img\n", "foo\\qbar.img", IMGFETCH_E_NOT_FOUND, "no entry",
	            "unknown escape: line ignored");
	lookup_fail("\\" A256 "  foo.img\\\n", "foo.img\\", IMGFETCH_E_NOT_FOUND, "no entry",
	            "dangling backslash: line ignored");
	lookup_fail("\\" A_MD5 "  foo\\\\bar.img\n", "foo\\bar.img", IMGFETCH_E_VERIFY, "malformed",
	            "escaped line with a bad digest");
}

static void test_empty_and_args(void)
{
	lookup_fail("", "foo.img", IMGFETCH_E_NOT_FOUND, "no entry", "empty input");
	lookup_fail_n(NULL, 0, "foo.img", IMGFETCH_E_NOT_FOUND, "no entry", "NULL input of length 0");
	lookup_fail("\n\n\r\n", "foo.img", IMGFETCH_E_NOT_FOUND, "no entry", "only newlines");
	lookup_fail("# nothing here\n", "foo.img", IMGFETCH_E_NOT_FOUND, "no entry", "only a comment");
	lookup_fail_n(NULL, 5, "foo.img", IMGFETCH_E_INVALID, "invalid", "NULL input with a length");
	lookup_fail(A256 "  foo.img\n", "", IMGFETCH_E_INVALID, "name", "empty name");
	lookup_fail(A256 "  foo.img\n", "./", IMGFETCH_E_INVALID, "name", "name that is only ./");

	static const char one[] = A256 "  foo.img\n";
	const size_t one_len = sizeof(one) - 1;
	imgfetch_checksum c;
	const char *why = "unchanged";
	TAP_CHECK_INT_EQ(imgfetch_sums_lookup(one, one_len, NULL, &c, &why), IMGFETCH_E_INVALID,
	                 "NULL name");
	TAP_CHECK_INT_EQ(imgfetch_sums_lookup(one, one_len, "foo.img", NULL, &why), IMGFETCH_E_INVALID,
	                 "NULL result");
	fill_sentinel(&c);
	TAP_CHECK_INT_EQ(imgfetch_sums_lookup("nothing\n", 8, "foo.img", &c, NULL), IMGFETCH_E_NOT_FOUND,
	                 "NULL ret_why is allowed on failure");
	TAP_CHECK(is_sentinel(&c), "NULL ret_why: result untouched");
	why = "unchanged";
	TAP_CHECK_INT_EQ(imgfetch_sums_lookup(one, one_len, "foo.img", &c, &why), IMGFETCH_OK,
	                 "success");
	TAP_CHECK_STR_EQ(why, "unchanged", "ret_why not written on success");
}

static void test_size_limits(void)
{
	const size_t max = IMGFETCH_SUMS_MAX_BYTES;
	char *buf = malloc(max + 1);
	if (!TAP_CHECK(buf != NULL, "allocate %zu bytes", max + 1))
		return;

	/* Fill with entries for other files, then ours as the very last bytes. */
	static const char filler[] = B256 "  other.img\n";
	static const char ours[] = "\n" A256 "  foo.img";
	size_t fl = sizeof(filler) - 1, ol = sizeof(ours) - 1;
	for (size_t i = 0; i < max + 1; i++)
		buf[i] = filler[i % fl];
	memcpy(buf + max - ol, ours, ol);
	lookup_ok_n(buf, max, "foo.img", S256, A256, "input of exactly IMGFETCH_SUMS_MAX_BYTES");
	lookup_ok_n(buf, max, "other.img", S256, B256, "many duplicate lines at the size limit");

	memcpy(buf + max + 1 - ol, ours, ol);
	lookup_fail_n(buf, max + 1, "foo.img", IMGFETCH_E_INVALID, "larger", "input one byte over the limit");
	sidecar_fail_n(buf, max + 1, IMGFETCH_E_INVALID, "larger", "sidecar one byte over the limit");

	memcpy(buf, A512 "  side.img\n", 129 + 10);
	sidecar_ok_n(buf, max, S512, A512, "sidecar of exactly IMGFETCH_SUMS_MAX_BYTES");
	free(buf);
}

static void test_long_lines(void)
{
	static const char entry[] = A256 "  foo.img";
	const size_t el = sizeof(entry) - 1;
	char *buf = malloc(3 * LINE_CAP);
	if (!TAP_CHECK(buf != NULL, "allocate line buffer"))
		return;

	/* Leading blanks pad the entry to the length under test. */
	memset(buf, ' ', LINE_CAP - el);
	memcpy(buf + LINE_CAP - el, entry, el);
	lookup_ok_n(buf, LINE_CAP, "foo.img", S256, A256, "line of exactly the cap");
	buf[LINE_CAP] = '\n';
	lookup_ok_n(buf, LINE_CAP + 1, "foo.img", S256, A256, "line of exactly the cap plus LF");
	buf[LINE_CAP] = '\r';
	buf[LINE_CAP + 1] = '\n';
	lookup_ok_n(buf, LINE_CAP + 2, "foo.img", S256, A256, "line of exactly the cap plus CRLF");

	memset(buf, ' ', LINE_CAP + 1 - el);
	memcpy(buf + LINE_CAP + 1 - el, entry, el);
	buf[LINE_CAP + 1] = '\n';
	lookup_fail_n(buf, LINE_CAP + 2, "foo.img", IMGFETCH_E_NOT_FOUND, "no entry", "line one over the cap skipped");

	/* A huge line of garbage does not hide the next line. */
	memset(buf, 'x', 2 * LINE_CAP);
	buf[2 * LINE_CAP] = '\n';
	memcpy(buf + 2 * LINE_CAP + 1, entry, el);
	lookup_ok_n(buf, 2 * LINE_CAP + 1 + el, "foo.img", S256, A256, "entry after an over-long line");

	/* A long name (as long as a line allows) still matches. */
	char *name = malloc(LINE_CAP);
	if (TAP_CHECK(name != NULL, "allocate name")) {
		size_t nl = LINE_CAP - 66;
		memset(name, 'n', nl);
		name[nl] = '\0';
		memcpy(buf, A256 "  ", 66);
		memcpy(buf + 66, name, nl);
		lookup_ok_n(buf, LINE_CAP, name, S256, A256, "name filling the line cap");
		lookup_fail_n(buf, LINE_CAP - 1, name, IMGFETCH_E_NOT_FOUND, "no entry", "truncated long name");
	}
	free(name);

	/* Over-long first line of a sidecar: only the first token matters. */
	memcpy(buf, A256 "  ", 66);
	memset(buf + 66, 'n', 2 * LINE_CAP);
	sidecar_ok_n(buf, 2 * LINE_CAP, S256, A256, "sidecar with an over-long name");
	free(buf);
}

static void test_nul_bytes(void)
{
	static const char t1[] = A256 "  foo.img\0junk\n" B256 "  bar.img\n";
	lookup_fail_n(t1, sizeof(t1) - 1, "foo.img", IMGFETCH_E_NOT_FOUND, "no entry",
	              "name followed by NUL does not match");
	lookup_ok_n(t1, sizeof(t1) - 1, "bar.img", S256, B256, "line after a NUL byte still parsed");

	static const char t2[] = "\0\0\0\n\0\n" A256 "  foo.img\n";
	lookup_ok_n(t2, sizeof(t2) - 1, "foo.img", S256, A256, "NUL-only lines skipped");

	static const char t3[] = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48b\0  foo.img\n";
	lookup_fail_n(t3, sizeof(t3) - 1, "foo.img", IMGFETCH_E_VERIFY, "malformed", "NUL inside a digest");

	static const char t4[] = A256 "  foo.img\n\0";
	lookup_ok_n(t4, sizeof(t4) - 1, "foo.img", S256, A256, "trailing NUL after the last line");

	static const char t5[] = A256 "\0" "\0";
	sidecar_fail_n(t5, sizeof(t5) - 1, IMGFETCH_E_VERIFY, "does not start", "sidecar digest followed by NUL");
	static const char t6[] = "\0" A256;
	sidecar_fail_n(t6, sizeof(t6) - 1, IMGFETCH_E_VERIFY, "does not start", "sidecar starting with NUL");
}

static void test_vendor_files(void)
{
	/* Ubuntu releases: SHA256SUMS with binary-mode names. */
	static const char ubuntu[] =
		"bb82030dbc2bcaba32a90bf2e207a84a856fc5f033b77c480836ab6f77f40f19 *ubuntu-24.04.1-desktop-amd64.iso\n"
		"6ca202c88e549dff68c09bfafbfc60b2fac074debc1e6777e9ba4b6c703ed114 *ubuntu-24.04.1-live-server-amd64.iso\n";
	lookup_ok(ubuntu, "ubuntu-24.04.1-live-server-amd64.iso", S256,
	          "6ca202c88e549dff68c09bfafbfc60b2fac074debc1e6777e9ba4b6c703ed114", "Ubuntu SHA256SUMS");
	lookup_fail(ubuntu, "ubuntu-24.04.1-desktop-arm64.iso", IMGFETCH_E_NOT_FOUND, "no entry",
	            "Ubuntu SHA256SUMS: other architecture not listed");

	/* Ubuntu cloud images: same form, .img and derived files side by side. */
	static const char cloud[] =
		"011e39efe22590f4a339ad19cd180f4d855e32feba602d1ec8e154780838c99c *noble-server-cloudimg-amd64-azure.vhd.tar.gz\n"
		"3f524cdc07a11d7c6220bdb049fe8dd41b27483c96cc59b581e022d547290d69 *noble-server-cloudimg-amd64.img\n"
		"e4ab4e3b1493d5a997b4e51cdefbaa10570ef3ea9432bd72e7b6a89654ceb7f6 *noble-server-cloudimg-amd64.img.manifest\n"
		"625e0f649de27800fc3bcf4c118ef79f69dcb762c2e73fbb1cfce0e7a86f6b80 *noble-server-cloudimg-arm64.img\n";
	lookup_ok(cloud, "noble-server-cloudimg-amd64.img", S256,
	          "3f524cdc07a11d7c6220bdb049fe8dd41b27483c96cc59b581e022d547290d69",
	          "Ubuntu cloud SHA256SUMS: .img not confused with .img.manifest");

	/* Fedora: clearsigned CHECKSUM, '#' size comments and BSD lines. */
	static const char fedora[] =
		"-----BEGIN PGP SIGNED MESSAGE-----\n"
		"Hash: SHA256\n"
		"\n"
		"# Fedora-Cloud-Base-Generic-41-1.4.x86_64.qcow2: 525729792 bytes\n"
		"SHA256 (Fedora-Cloud-Base-Generic-41-1.4.x86_64.qcow2) = "
		"7dc96f776c8423e57a2785489a3f9c43fb6e756876d6ad9a9cac4aa4e72ec193\n"
		"# Fedora-Cloud-Base-Generic-41-1.4.x86_64.raw.xz: 477663168 bytes\n"
		"SHA256 (Fedora-Cloud-Base-Generic-41-1.4.x86_64.raw.xz) = "
		"4814d92093ac8a0f4a2163ab87dee509ba306a58f5888be0edcb2fcd0712028b\n"
		"# Fedora-Cloud-Base-AmazonEC2-41-1.4.x86_64.raw.xz: 478117300 bytes\n"
		"SHA256 (Fedora-Cloud-Base-AmazonEC2-41-1.4.x86_64.raw.xz) = "
		"76a8277347f52530e1cf979175a178980b3a180d176165c985d85f7e142f1eed\n"
		"-----BEGIN PGP SIGNATURE-----\n"
		"\n"
		"iQIzBAEBCAAdFiEEllPgV8jLPWRWl7mi+IpSdSdDXq4FAmcQz1UACgkQ+IpSdSdD\n"
		"Xq7PyBAAt9n0Vh+oUyzc6m3q8dUxrsY0PcGdAyYh0fW1wQZ4tNT2Gvn2Fw+e4kgx\n"
		"=Ab3x\n"
		"-----END PGP SIGNATURE-----\n";
	lookup_ok(fedora, "Fedora-Cloud-Base-Generic-41-1.4.x86_64.qcow2", S256,
	          "7dc96f776c8423e57a2785489a3f9c43fb6e756876d6ad9a9cac4aa4e72ec193", "Fedora CHECKSUM qcow2");
	lookup_ok(fedora, "Fedora-Cloud-Base-Generic-41-1.4.x86_64.raw.xz", S256,
	          "4814d92093ac8a0f4a2163ab87dee509ba306a58f5888be0edcb2fcd0712028b", "Fedora CHECKSUM raw.xz");
	lookup_fail(fedora, "Fedora-Cloud-Base-Generic-41-1.4.x86_64.raw", IMGFETCH_E_NOT_FOUND, "no entry",
	            "Fedora CHECKSUM: .raw is not .raw.xz");

	/* Fedora as served by some mirrors: CRLF line ends. */
	static const char fedora_crlf[] =
		"# Fedora-Workstation-Live-x86_64-41-1.4.iso: 2398523392 bytes\r\n"
		"SHA256 (Fedora-Workstation-Live-x86_64-41-1.4.iso) = "
		"486bacc5c2d8a71a73d51bf8e522deaa264ec2628dca2955da1e9b8e00f21943\r\n";
	lookup_ok(fedora_crlf, "Fedora-Workstation-Live-x86_64-41-1.4.iso", S256,
	          "486bacc5c2d8a71a73d51bf8e522deaa264ec2628dca2955da1e9b8e00f21943", "Fedora CHECKSUM with CRLF");

	/* FreeBSD: CHECKSUM.SHA256-FreeBSD-14.1-RELEASE-amd64, BSD form, .iso and .iso.xz. */
	static const char freebsd[] =
		"SHA256 (FreeBSD-14.1-RELEASE-amd64-bootonly.iso) = "
		"bb82030dbc2bcaba32a90bf2e207a84a856fc5f033b77c480836ab6f77f40f19\n"
		"SHA256 (FreeBSD-14.1-RELEASE-amd64-bootonly.iso.xz) = "
		"6ca202c88e549dff68c09bfafbfc60b2fac074debc1e6777e9ba4b6c703ed114\n"
		"SHA256 (FreeBSD-14.1-RELEASE-amd64-disc1.iso) = "
		"011e39efe22590f4a339ad19cd180f4d855e32feba602d1ec8e154780838c99c\n"
		"SHA256 (FreeBSD-14.1-RELEASE-amd64-disc1.iso.xz) = "
		"3f524cdc07a11d7c6220bdb049fe8dd41b27483c96cc59b581e022d547290d69\n"
		"SHA256 (FreeBSD-14.1-RELEASE-amd64-memstick.img) = "
		"e4ab4e3b1493d5a997b4e51cdefbaa10570ef3ea9432bd72e7b6a89654ceb7f6\n";
	lookup_ok(freebsd, "FreeBSD-14.1-RELEASE-amd64-disc1.iso", S256,
	          "011e39efe22590f4a339ad19cd180f4d855e32feba602d1ec8e154780838c99c", "FreeBSD CHECKSUM.SHA256 iso");
	lookup_ok(freebsd, "FreeBSD-14.1-RELEASE-amd64-disc1.iso.xz", S256,
	          "3f524cdc07a11d7c6220bdb049fe8dd41b27483c96cc59b581e022d547290d69",
	          "FreeBSD CHECKSUM.SHA256 iso.xz");

	/* Debian: SHA512SUMS, text mode, several flavours. */
	static const char debian[] =
		"7ae67b25bc5d93c6de53216001b0426b7c8f37a10170201b694ca511279f9b0bc6b4c72a070de1440757e380ac7a54af7a62d66f"
		"01937431177773e72a5e967d  debian-12.7.0-amd64-netinst.iso\n"
		"cf3a25726887ffddb20a544c64c5bc4807a03a47ef79c03c195a9f46c036263a91f15193934371372f08f8f0cda83b5a7f5ab766"
		"6fd93ec1d81d2a40c5ebf837  debian-edu-12.7.0-amd64-netinst.iso\n"
		"eaddf5edcc5994d3b3e9d790d2061619c31a80471a38b1632da328cd6e74a42ea68b18755cab97b36ca3fa117bb5fb199dff9376"
		"4ea4f5e771bd3617030a31ca  debian-mac-12.7.0-amd64-netinst.iso\n";
	lookup_ok(debian, "debian-12.7.0-amd64-netinst.iso", S512,
	          "7ae67b25bc5d93c6de53216001b0426b7c8f37a10170201b694ca511279f9b0bc6b4c72a070de1440757e380ac7a54af7a62d66f"
	          "01937431177773e72a5e967d",
	          "Debian SHA512SUMS");
	lookup_ok(debian, "debian-edu-12.7.0-amd64-netinst.iso", S512,
	          "cf3a25726887ffddb20a544c64c5bc4807a03a47ef79c03c195a9f46c036263a91f15193934371372f08f8f0cda83b5a7f5ab766"
	          "6fd93ec1d81d2a40c5ebf837",
	          "Debian SHA512SUMS edu flavour");

	/* A mirror tree listing files under their directories (find . | xargs sha256sum). */
	static const char tree[] =
		A256 "  ./images/netboot/mini.iso\n"
		B256 "  ./images/cloud/generic.qcow2\n"
		C256 "  ./images/cloud/generic.qcow2.sig\n";
	lookup_ok(tree, "generic.qcow2", S256, B256, "directory tree listing by basename");

	/* Rocky/Alma style: BSD SHA256 lines with size comments and a CHECKSUM of both algorithms. */
	static const char rocky[] =
		"# Rocky-9.4-x86_64-minimal.iso: 1921007616 bytes\n"
		"SHA256 (Rocky-9.4-x86_64-minimal.iso) = " D256 "\n"
		"SHA512 (Rocky-9.4-x86_64-minimal.iso) = " C512 "\n";
	lookup_ok(rocky, "Rocky-9.4-x86_64-minimal.iso", S512, C512, "Rocky CHECKSUM, sha512 preferred");
}

static void test_sidecar(void)
{
	sidecar_ok(A256, S256, A256, "bare hex");
	sidecar_ok(A512, S512, A512, "bare sha512 hex");
	sidecar_ok(A256 "\n", S256, A256, "hex + newline");
	sidecar_ok(A256 "\r\n", S256, A256, "hex + CRLF");
	sidecar_ok(A256 "  foo.img\n", S256, A256, "hex + name");
	sidecar_ok(A512 " *foo.img\n", S512, A512, "hex + binary name");
	sidecar_ok(A256 "\tfoo.img", S256, A256, "hex + tab + name");
	sidecar_ok("\n\n  \t" A256 "  foo.img\n", S256, A256, "leading blank lines and whitespace");
	sidecar_ok("\r\n\r\n" A256 "\r\n", S256, A256, "leading CRLF blank lines");
	sidecar_ok("# sha256 of foo.img\n" A256 "\n", S256, A256, "leading comment line");
	sidecar_ok(A256 "  foo.img\n" B256 "  bar.img\n", S256, A256, "first entry of several");
	sidecar_ok("\\" A256 "  foo\\\\bar.img\n", S256, A256, "escaped-name marker");
	sidecar_ok("SHA256 (foo.img) = " A256 "\n", S256, A256, "BSD-form sidecar");
	sidecar_ok("SHA512 (foo (1).img) = " A512 "\n", S512, A512, "BSD-form sha512 sidecar");
	sidecar_ok("sha256 (foo.img) = " A256, S256, A256, "BSD-form, lowercase tag, no newline");
	sidecar_ok("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n" A256 "  foo.iso\n"
	           "-----BEGIN PGP SIGNATURE-----\n\niQIz\n-----END PGP SIGNATURE-----\n",
	           S256, A256, "clearsigned sidecar");
	char up[129];
	upper(A512, up);
	sidecar_ok(up, S512, A512, "uppercase hex normalised");

	sidecar_fail("", IMGFETCH_E_VERIFY, "empty", "empty");
	sidecar_fail_n(NULL, 0, IMGFETCH_E_VERIFY, "empty", "NULL of length 0");
	sidecar_fail(" \n\t\r\n", IMGFETCH_E_VERIFY, "empty", "whitespace only");
	sidecar_fail("# nothing\n", IMGFETCH_E_VERIFY, "empty", "comment only");
	sidecar_fail("<html><body>404 Not Found</body></html>\n", IMGFETCH_E_VERIFY, "does not start", "garbage");
	sidecar_fail("ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48b\n", IMGFETCH_E_VERIFY,
	             "does not start", "63-digit digest");
	sidecar_fail(A256 "0\n", IMGFETCH_E_VERIFY, "does not start", "65-digit digest");
	sidecar_fail(A256 "*foo.img\n", IMGFETCH_E_VERIFY, "does not start", "digest glued to a name");
	sidecar_fail(A_MD5 "  foo.img\n", IMGFETCH_E_VERIFY, "does not start", "MD5 digest");
	sidecar_fail("ga978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb\n", IMGFETCH_E_VERIFY,
	             "does not start", "non-hex digest");
	sidecar_fail("foo.img  " A256 "\n", IMGFETCH_E_VERIFY, "does not start", "name before digest");
	sidecar_fail("SHA256 (foo.img) = " A512 "\n", IMGFETCH_E_VERIFY, "malformed", "BSD tag/length mismatch");
	sidecar_fail("SHA256 (foo.img) = xyz\n", IMGFETCH_E_VERIFY, "malformed", "BSD with a bad digest");
	sidecar_fail("MD5 (foo.img) = " A_MD5 "\n", IMGFETCH_E_VERIFY, "other than", "BSD MD5 sidecar");
	sidecar_fail_n(NULL, 3, IMGFETCH_E_INVALID, "invalid", "NULL with a length");
	TAP_CHECK_INT_EQ(imgfetch_sidecar_parse(A256, 64, NULL, NULL), IMGFETCH_E_INVALID, "NULL result");
}

static bool zero_padded(const imgfetch_checksum *c)
{
	size_t n = imgfetch_hash_hexlen(c->hash);
	if (n == 0)
		return false;
	for (size_t i = n; i < sizeof(c->hex); i++)
		if (c->hex[i] != '\0')
			return false;
	return true;
}

/* Cases found by fuzzing or review, kept so they stay fixed. */
static void test_regressions(void)
{
	/* Fuzzer: the result's hex buffer carried uninitialised stack bytes after
	 * the NUL (an exact sha256 entry next to a sha512 entry in a directory), so
	 * two identical calls did not give byte-identical results. */
	static const char fz1[] = A256 "  foo.img\n"
	                          "3e23" "CA978112CA1BBDCAFAC231B39A23DC4DA786EFF8147C4E72B9807785AFEE48BB"
	                          "e8160039594a33894f6564e1b1340bbd7a0088d42c4acb73eeaed59c009d 1b1348bbd7a0088d42c4ac9/foo.img\n";
	imgfetch_checksum r1, r2;
	const char *why = NULL;
	fill_sentinel(&r1);
	fill_sentinel(&r2);
	TAP_CHECK_INT_EQ(imgfetch_sums_lookup(fz1, sizeof(fz1) - 1, "foo.img", &r1, &why), IMGFETCH_OK,
	                 "fuzz 1: exact sha256 next to a basename sha512");
	TAP_CHECK_STR_EQ(r1.hex, A256, "fuzz 1: exact entry wins");
	TAP_CHECK(zero_padded(&r1), "fuzz 1: hex zero-padded after the digest");
	TAP_CHECK_INT_EQ(imgfetch_sums_lookup(fz1, sizeof(fz1) - 1, "foo.img", &r2, &why), IMGFETCH_OK,
	                 "fuzz 1: second call");
	TAP_CHECK(memcmp(&r1, &r2, sizeof(r1)) == 0, "fuzz 1: identical calls give identical results");
	fill_sentinel(&r1);
	TAP_CHECK_INT_EQ(imgfetch_sums_lookup(fz1, sizeof(fz1) - 1, "1b1348bbd7a0088d42c4ac9/foo.img", &r1, &why),
	                 IMGFETCH_OK, "fuzz 1: the directory entry by its full name");
	TAP_CHECK_INT_EQ(r1.hash, S512, "fuzz 1: directory entry is sha512");
	fill_sentinel(&r1);
	TAP_CHECK_INT_EQ(imgfetch_sidecar_parse(A256 "  x\n", 68, &r1, &why), IMGFETCH_OK, "sidecar result");
	TAP_CHECK(zero_padded(&r1), "sidecar hex zero-padded after the digest");
	fill_sentinel(&r1);
	TAP_CHECK_INT_EQ(imgfetch_sidecar_parse("SHA256 (x) = " A256, 77, &r1, &why), IMGFETCH_OK,
	                 "BSD sidecar result");
	TAP_CHECK(zero_padded(&r1), "BSD sidecar hex zero-padded after the digest");

	/* Backslash alone / backslash + blank: the escape marker with nothing after it. */
	lookup_fail("\\\n\\ \n\\\\\n", "foo.img", IMGFETCH_E_NOT_FOUND, "no entry", "lone escape markers");
	sidecar_fail("\\", IMGFETCH_E_VERIFY, "does not start", "sidecar of a lone backslash");
	/* " (" with nothing else, and ") = " overlapping " (". */
	lookup_fail("SHA256 (\nSHA256 () = \n) = (\n", "foo.img", IMGFETCH_E_NOT_FOUND, "no entry",
	            "degenerate BSD shapes");
	lookup_fail("SHA256 (foo.img) = ", "foo.img", IMGFETCH_E_VERIFY, "malformed", "BSD entry cut at ' = '");
	sidecar_fail("SHA256 ( = ", IMGFETCH_E_VERIFY, "does not start", "sidecar with a broken BSD shape");
}

int main(void)
{
	test_hash_helpers();
	test_gnu_forms();
	test_bsd_forms();
	test_line_ends_comments();
	test_paths();
	test_prefix_suffix();
	test_duplicates();
	test_algorithms();
	test_hex();
	test_escaped_names();
	test_empty_and_args();
	test_size_limits();
	test_long_lines();
	test_nul_bytes();
	test_vendor_files();
	test_sidecar();
	test_regressions();
	return tap_done();
}
