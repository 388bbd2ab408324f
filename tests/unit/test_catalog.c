/* SPDX-License-Identifier: MIT */
/* Unit tests for the catalog's shared pieces: version ordering, manifest
 * UUIDs, directory listings, profiles and mirror specs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <imgfetch/imgfetch.h>

#include "catalog/catalog.h"
#include "catalog/profile.h"
#include "catalog/vendors/smartos.h"
#include "tap.h"

static void versions(void)
{
	static const struct { const char *a, *b; int want; } v[] = {
		{ "9.10", "9.9", 1 },       { "9.9", "9.10", -1 },        { "10", "9", 1 },
		{ "3.23.4", "3.23.4", 0 },  { "3.23.10", "3.23.9", 1 },   { "Build16", "Build9", 1 },
		{ "15.0", "14.3", 1 },      { "v1.11.5", "v1.9.0", 1 },   { "20261101.1", "20261101.10", -1 },
		{ "1.0", "1.0.1", -1 },     { "r151054", "r151052", 1 },  { "010", "9", 1 },
		{ "0009", "9", 0 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int c = version_cmp(v[i].a, v[i].b);
		int got = c < 0 ? -1 : c > 0 ? 1 : 0;
		TAP_CHECK_INT_EQ(got, v[i].want, "version_cmp(%s, %s)", v[i].a, v[i].b);
	}
	TAP_CHECK(version_is_numeric("3.23.4"), "3.23.4 is numeric");
	TAP_CHECK(!version_is_numeric("3.25_alpha1"), "an alpha is not");
	TAP_CHECK(!version_is_numeric("41 Beta"), "a beta is not");
	TAP_CHECK(!version_is_numeric("1..2") && !version_is_numeric(".1") && !version_is_numeric(""), "odd forms are not");
}

static void uuids(void)
{
	char u[37];
	/* The test vector shared with tritonadm. */
	TAP_CHECK_INT_EQ(imgfetch_image_uuid("5c3ddb00f60bc455dac0862fabe9d8bacec46c33ac1751143c5c3683404b110d", u),
	                 IMGFETCH_OK, "uuid of a sha256");
	TAP_CHECK_STR_EQ(u, "57fe71d0-ba70-5536-b4ae-c87222727b19", "matches tritonadm's vector");
	TAP_CHECK_INT_EQ(imgfetch_image_uuid("5C3DDB00F60BC455DAC0862FABE9D8BACEC46C33AC1751143C5C3683404B110D", u),
	                 IMGFETCH_OK, "upper-case hex accepted");
	TAP_CHECK_STR_EQ(u, "57fe71d0-ba70-5536-b4ae-c87222727b19", "and lower-cased before hashing");
	TAP_CHECK_INT_EQ(imgfetch_image_uuid("xyz", u), IMGFETCH_E_INVALID, "not a digest");
}

static void listings(void)
{
	const char *html =
		"<html><body><h1>Index of /x/</h1><pre><a href=\"../\">../</a>\n"
		"<a href=\"v3.23/\">v3.23/</a>\n<a href=\"a%20b.qcow2\">a b.qcow2</a>\n"
		"<a href='CHECKSUM'>CHECKSUM</a> <A HREF=plain.txt>p</A>\n"
		"<a href=\"?C=N;O=D\">Name</a><a href=\"/abs/\">abs</a><a href=\"http://x/y\">x</a>\n"
		"<a href=\"sub/deeper.txt\">d</a><a href=\"./dot.txt\">d</a><a href=\"x&amp;y\">e</a>\n"
		"<a href=\"%2e%2e/\">enc</a><a href=\"bad%2fslash\">s</a><a href=\"q%3Fx.qcow2\">q</a>"
		"<a href=\".hidden\">h</a><a href=\"%25.img\">p</a></pre></body></html>";
	char **v = NULL;
	TAP_CHECK_INT_EQ(listing_parse(html, strlen(html), &v), 0, "nginx/apache style listing parses");
	const char *want[] = { "v3.23/", "CHECKSUM", "plain.txt", "dot.txt", "x&y", NULL };
	size_t n = strv_len(v);
	TAP_CHECK_INT_EQ(n, 5, "five usable direct children");
	for (size_t i = 0; want[i] && i < n; i++)
		TAP_CHECK_STR_EQ(v[i], want[i], "entry %zu", i);
	strv_free(v);
	TAP_CHECK_INT_EQ(listing_parse("", 0, &v), 0, "empty page");
	TAP_CHECK_INT_EQ(strv_len(v), 0, "has no entries");
	strv_free(v);
}

static void smartos_ids(void)
{
	const char *good[] = { "20261105T000000Z", "20140124T065316Z_u1", "20140124T065316Z_u999" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		TAP_CHECK(smartos_is_release(good[i]), "SmartOS id %s", good[i]);
	/* The fuzzer's find (issue 18) and its relatives: no release has them. */
	const char *bad[] = { "09013787T000000Z_Bs0902757B", "09013787T000000Z_Bs90275", "20261105T000000Z_",
		              "20261105T000000Z_u", "20261105T000000Z_u0", "20261105T000000Z_u01",
		              "20261105T000000Z_u1000", "20261105T000000Z_U1", "20261105T000000Z_u1x",
		              "20261105T000000Zx", "2026110T0000000Z", "20261105t000000Z", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		TAP_CHECK(!smartos_is_release(bad[i]), "not a SmartOS id: \"%s\"", bad[i]);

	const char *min = "<a href=\"09013787T000000Z_Bs0902757B/\">x</a>\n<a href=\"09013787T000000Z_Bs90275/\">y</a>\n";
	char **v = smartos_parse_dir(min, strlen(min), 10);
	TAP_CHECK(v && strv_len(v) == 0, "issue 18's listing names no release");
	strv_free(v);

	const char *html = "<a href=\"20240101T000000Z_u2/\">a</a>\n<a href=\"20240101T000000Z/\">b</a>\n"
	                   "<a href=\"20240101T000000Z_u10/\">c</a>\n<a href=\"20230101T000000Z_u9/\">d</a>\n"
	                   "<a href=\"20250101T000000Z/\">e</a>\n<a href=\"20240101T000000Z_u1/\">f</a>\n"
	                   "<a href=\"20240101T000000Z/\">dup</a>\n<a href=\"latest\">latest</a>\n";
	const char *want[] = { "20250101T000000Z", "20240101T000000Z_u10", "20240101T000000Z_u2", "20240101T000000Z_u1",
		               "20240101T000000Z", "20230101T000000Z_u9" };
	v = smartos_parse_dir(html, strlen(html), 10);
	size_t n = strv_len(v);
	TAP_CHECK_INT_EQ(n, 6, "six releases, the duplicate once");
	for (size_t i = 0; i < n && i < 6; i++)
		TAP_CHECK_STR_EQ(v[i], want[i], "newest first: entry %zu", i);
	strv_free(v);
	v = smartos_parse_dir(html, strlen(html), 2);
	TAP_CHECK(strv_len(v) == 2 && strcmp(v[1], "20240101T000000Z_u10") == 0, "capped to the two newest");
	strv_free(v);

	char id[64];
	const char *latest = "/Joyent_Dev/public/SmartOS/20261105T000000Z/\n";
	TAP_CHECK_INT_EQ(smartos_parse_latest(latest, strlen(latest), id, sizeof(id)), 0, "latest pointer");
	TAP_CHECK_STR_EQ(id, "20261105T000000Z", "names the build");
	TAP_CHECK_INT_EQ(smartos_parse_latest("/x/09013787T000000Z_Bs90275\n", 27, id, sizeof(id)), -EBADMSG,
	                 "a pointer to no release is refused");
}

static void safety(void)
{
	TAP_CHECK(url_path_is_safe("trixie/20260110-2350/debian-13-genericcloud-amd64-20260110-2350.qcow2"), "dated ref");
	const char *bad[] = { "", "/etc/passwd", "a/../b", "..", "a/./b", "a//b", "a?b", "a#b", "a b", "a%2e", "a\\b",
		              "http://x", "a\tb", "\x7f", "\xc3\xa9" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		TAP_CHECK(!url_path_is_safe(bad[i]), "unsafe path %zu refused", i);
	TAP_CHECK(name_is_safe("3.23.4") && !name_is_safe("a/b") && !name_is_safe(".x") && !name_is_safe("a b"),
	          "file-name components");
	TAP_CHECK(word_in_list("x86_64 aarch64", "aarch64") && !word_in_list("x86_64_v2 aarch64", "x86_64") &&
	          !word_in_list("", "x86_64"), "whole words only");
}

static void profiles(void)
{
	profile p;
	char err[256];
	const char *toml = "# x\nurl = \"https://e.org/i.qcow2\"\nformat = 'qcow2'\nversion = \"1\"  # c\nssh_key = true\n";
	TAP_CHECK_INT_EQ(profile_parse(toml, strlen(toml), &p, err, sizeof(err)), 0, "TOML profile");
	TAP_CHECK_STR_EQ(p.url, "https://e.org/i.qcow2", "url");
	TAP_CHECK_STR_EQ(p.format, "qcow2", "single-quoted format");
	profile_clear(&p);
	const char *json = "{\"url\":\"file:///a\",\"format\":\"xz\",\"version\":\"2\",\"sha256\":\"00\"}";
	TAP_CHECK_INT_EQ(profile_parse(json, strlen(json), &p, err, sizeof(err)), -EBADMSG, "a short sha256 refused");
	TAP_CHECK(strstr(err, "sha256") != NULL, "message names sha256: %s", err);
	const char *bad[] = { "url = \"x\"\n", "url = x\n", "nope = \"1\"\n", "[section]\n", "{\"url\": 1}",
		              "url = \"a\nformat=\"b\"" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		TAP_CHECK_INT_EQ(profile_parse(bad[i], strlen(bad[i]), &p, err, sizeof(err)), -EBADMSG, "bad profile %zu",
		                 i);
		TAP_CHECK(err[0] != '\0', "with a message");
	}
}

static void mirrors(void)
{
	mirror_table t = { 0 };
	char err[256];
	TAP_CHECK_INT_EQ(mirror_table_add(&t, "debian=http://127.0.0.1:1/deb", err, sizeof(err)), 0, "VENDOR=URL");
	TAP_CHECK_STR_EQ(t.v[0].url, "http://127.0.0.1:1/deb/", "a trailing slash is added");
	TAP_CHECK_INT_EQ(mirror_table_add(&t, "debian.archive=file:///srv/a/", err, sizeof(err)), 0, "VENDOR.BASE=URL");
	TAP_CHECK_INT_EQ(mirror_table_add(&t, "debian.nope=file:///x", err, sizeof(err)), -ENOENT, "unknown base");
	TAP_CHECK_INT_EQ(mirror_table_add(&t, "nosuch=file:///x", err, sizeof(err)), -ENOENT, "unknown vendor");
	TAP_CHECK_INT_EQ(mirror_table_add(&t, "debian=ftp://x", err, sizeof(err)), -EINVAL, "unsupported scheme");
	TAP_CHECK_INT_EQ(mirror_table_add(&t, "debian", err, sizeof(err)), -EINVAL, "no URL");
	mirror_table_clear(&t);
}

int main(void)
{
	versions();
	uuids();
	listings();
	smartos_ids();
	safety();
	profiles();
	mirrors();
	return tap_done();
}
