/* SPDX-License-Identifier: MIT */
/* imgfetch_deliver() before anything leaves the machine: the manifest's
 * checks and the status each failure maps to, the FILE target's command
 * (shell quoting), and option checks. No network, no child processes. */
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <imgfetch/imgfetch.h>

#define UUID "2f0b7c1e-8d3a-5b6c-9e4f-0a1b2c3d4e5f"
/* 20 bytes: a gzip header's magic, then anything (nothing decompresses it here) */
static const unsigned char gz[20] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
#define SHA1 "da39a3ee5e6b4b0d3255bfef95601890afd80709" /* not gz's: nothing here hashes the file */

static char dir[64];
static char mpath[128], fpath[128];

static void write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

static void manifest(const char *text)
{
	write_file(mpath, text, strlen(text));
}

/* A manifest with files[0] given as JSON text. */
static void manifest_files(const char *files)
{
	char buf[1024];
	snprintf(buf, sizeof(buf), "{\"v\":2,\"uuid\":\"" UUID "\",\"name\":\"t\",\"version\":\"1\",\"type\":\"zvol\","
	         "\"os\":\"linux\",\"files\":%s}", files);
	manifest(buf);
}

static imgfetch_status deliver(imgfetch_ctx *ctx, imgfetch_deliver_target target, imgfetch_deliver_result **r)
{
	imgfetch_deliver_opts o = { .target = target, .manifest_path = mpath, .file_path = fpath };
	return imgfetch_deliver(ctx, &o, r);
}

static imgfetch_status status_of(imgfetch_ctx *ctx)
{
	imgfetch_deliver_result *r = NULL;
	imgfetch_status st = deliver(ctx, IMGFETCH_DELIVER_FILE, &r);
	if (st == IMGFETCH_OK)
		TAP_CHECK(r != NULL, "a result on success");
	else
		TAP_CHECK(r == NULL, "no result on failure");
	imgfetch_deliver_result_free(r);
	return st;
}

#define GOOD_FILES "[{\"sha1\":\"" SHA1 "\",\"size\":20,\"compression\":\"gzip\"}]"

static void test_manifest_checks(imgfetch_ctx *ctx)
{
	manifest_files(GOOD_FILES);
	TAP_CHECK_INT_EQ(status_of(ctx), IMGFETCH_OK, "a well-formed pair");

	manifest_files("[{\"sha1\":\"DA39A3EE5E6B4B0D3255BFEF95601890AFD80709\",\"size\":20,\"compression\":\"gzip\"}]");
	TAP_CHECK_INT_EQ(status_of(ctx), IMGFETCH_OK, "an uppercase sha1");

	/* the manifest itself */
	manifest("{\"uuid\": ");
	TAP_CHECK_INT_EQ(status_of(ctx), IMGFETCH_E_FORMAT, "not JSON");
	TAP_CHECK(strstr(imgfetch_ctx_error(ctx), "not valid JSON") != NULL, "says so: %s", imgfetch_ctx_error(ctx));
	manifest("[1, 2]");
	TAP_CHECK_INT_EQ(status_of(ctx), IMGFETCH_E_FORMAT, "a JSON array");
	manifest("{\"uuid\":\"" UUID "\",\"uuid\":\"" UUID "\",\"files\":" GOOD_FILES "}");
	TAP_CHECK_INT_EQ(status_of(ctx), IMGFETCH_E_FORMAT, "a duplicate key");
	manifest("{\"files\":" GOOD_FILES "}");
	TAP_CHECK_INT_EQ(status_of(ctx), IMGFETCH_E_FORMAT, "no uuid");
	static const char *const bad_uuids[] = {
		"2f0b7c1e-8d3a-5b6c-9e4f-0a1b2c3d4e5",   /* short */
		"2f0b7c1e-8d3a-5b6c-9e4f-0a1b2c3d4e5f0", /* long */
		"2f0b7c1e08d3a-5b6c-9e4f-0a1b2c3d4e5f",  /* a dash missing */
		"2f0b7c1g-8d3a-5b6c-9e4f-0a1b2c3d4e5f",  /* not hex */
		"../../../../etc/passwd-0000-0000-0000",
	};
	for (size_t i = 0; i < sizeof(bad_uuids) / sizeof(*bad_uuids); i++) {
		char buf[512];
		snprintf(buf, sizeof(buf), "{\"uuid\":\"%s\",\"files\":" GOOD_FILES "}", bad_uuids[i]);
		manifest(buf);
		TAP_CHECK_INT_EQ(status_of(ctx), IMGFETCH_E_FORMAT, "uuid '%s' refused", bad_uuids[i]);
	}
	manifest("{\"uuid\":\"2F0B7C1E-8D3A-5B6C-9E4F-0A1B2C3D4E5F\",\"files\":" GOOD_FILES "}");
	TAP_CHECK_INT_EQ(status_of(ctx), IMGFETCH_OK, "an uppercase UUID");

	/* files[0]: without it the file cannot be verified */
	manifest("{\"uuid\":\"" UUID "\"}");
	TAP_CHECK_INT_EQ(status_of(ctx), IMGFETCH_E_VERIFY, "no files");
	manifest_files("[]");
	TAP_CHECK_INT_EQ(status_of(ctx), IMGFETCH_E_VERIFY, "files empty");
	manifest_files("{\"sha1\":\"" SHA1 "\"}");
	TAP_CHECK_INT_EQ(status_of(ctx), IMGFETCH_E_VERIFY, "files an object, not an array");
	manifest_files("[" "{\"sha1\":\"" SHA1 "\",\"size\":20,\"compression\":\"gzip\"},"
	               "{\"sha1\":\"" SHA1 "\",\"size\":20,\"compression\":\"gzip\"}]");
	TAP_CHECK_INT_EQ(status_of(ctx), IMGFETCH_E_FORMAT, "two files");
	static const char *const bad_files[] = {
		"[{\"size\":20,\"compression\":\"gzip\"}]",
		"[{\"sha1\":\"da39a3ee5e6b4b0d3255bfef95601890afd8070\",\"size\":20,\"compression\":\"gzip\"}]",
		"[{\"sha1\":\"da39a3ee5e6b4b0d3255bfef95601890afd807090\",\"size\":20,\"compression\":\"gzip\"}]",
		"[{\"sha1\":\"za39a3ee5e6b4b0d3255bfef95601890afd80709\",\"size\":20,\"compression\":\"gzip\"}]",
		"[{\"sha1\":40,\"size\":20,\"compression\":\"gzip\"}]",
		"[{\"sha1\":\"" SHA1 "\",\"compression\":\"gzip\"}]",
		"[{\"sha1\":\"" SHA1 "\",\"size\":\"20\",\"compression\":\"gzip\"}]",
		"[{\"sha1\":\"" SHA1 "\",\"size\":20.0,\"compression\":\"gzip\"}]",
		"[{\"sha1\":\"" SHA1 "\",\"size\":-20,\"compression\":\"gzip\"}]",
		"[{\"sha1\":\"" SHA1 "\",\"size\":21,\"compression\":\"gzip\"}]",
		"[{\"sha1\":\"" SHA1 "\",\"size\":0,\"compression\":\"gzip\"}]",
	};
	for (size_t i = 0; i < sizeof(bad_files) / sizeof(*bad_files); i++) {
		manifest_files(bad_files[i]);
		TAP_CHECK_INT_EQ(status_of(ctx), IMGFETCH_E_VERIFY, "files %s refused", bad_files[i]);
	}
	manifest_files("[{\"sha1\":\"" SHA1 "\",\"size\":21,\"compression\":\"gzip\"}]");
	(void)status_of(ctx);
	TAP_CHECK(strstr(imgfetch_ctx_error(ctx), "20 bytes") && strstr(imgfetch_ctx_error(ctx), "says 21"),
	          "a size mismatch names both sizes: %s", imgfetch_ctx_error(ctx));
	manifest_files("[{\"sha1\":\"" SHA1 "\",\"size\":20}]");
	TAP_CHECK_INT_EQ(status_of(ctx), IMGFETCH_E_FORMAT, "no compression");
	manifest_files("[{\"sha1\":\"" SHA1 "\",\"size\":20,\"compression\":\"bzip2\"}]");
	TAP_CHECK_INT_EQ(status_of(ctx), IMGFETCH_E_FORMAT, "bzip2 compression");

	/* size limit: 1 MiB */
	size_t big = (1u << 20) + 1;
	char *text = malloc(big + 1);
	if (text) {
		memset(text, ' ', big);
		text[0] = '{';
		text[big - 1] = '}';
		text[big] = '\0';
		manifest(text);
		TAP_CHECK_INT_EQ(status_of(ctx), IMGFETCH_E_FORMAT, "a manifest over 1 MiB");
		free(text);
	}
}

static void test_file_checks(imgfetch_ctx *ctx)
{
	manifest_files(GOOD_FILES);
	unsigned char plain[20] = "not gzip at all....";
	write_file(fpath, plain, sizeof(plain));
	TAP_CHECK_INT_EQ(status_of(ctx), IMGFETCH_E_FORMAT, "a file that is not gzip");
	write_file(fpath, gz, sizeof(gz));

	char keep[128];
	snprintf(keep, sizeof(keep), "%s", fpath);
	snprintf(fpath, sizeof(fpath), "%s/nope.zfs.gz", dir);
	TAP_CHECK_INT_EQ(status_of(ctx), IMGFETCH_E_NOT_FOUND, "a missing file");
	snprintf(fpath, sizeof(fpath), "%s", dir);
	TAP_CHECK_INT_EQ(status_of(ctx), IMGFETCH_E_INVALID, "a directory");
	snprintf(fpath, sizeof(fpath), "%s", keep);

	snprintf(keep, sizeof(keep), "%s", mpath);
	snprintf(mpath, sizeof(mpath), "%s/nope.json", dir);
	TAP_CHECK_INT_EQ(status_of(ctx), IMGFETCH_E_NOT_FOUND, "a missing manifest");
	snprintf(mpath, sizeof(mpath), "%s", keep);
}

static void test_command(imgfetch_ctx *ctx)
{
	manifest_files(GOOD_FILES);
	imgfetch_deliver_result *r = NULL;
	if (TAP_CHECK_INT_EQ(deliver(ctx, IMGFETCH_DELIVER_FILE, &r), IMGFETCH_OK, "FILE target")) {
		char want[512];
		snprintf(want, sizeof(want), "imgadm install -m %s -f %s", mpath, fpath);
		TAP_CHECK_STR_EQ(r->command, want, "the command, paths as they are");
		TAP_CHECK_STR_EQ(r->uuid, UUID, "uuid");
		TAP_CHECK(!r->already_present, "not already present");
	}
	imgfetch_deliver_result_free(r);

	/* names a shell would split or expand are single-quoted, quotes escaped */
	char odd_m[128], odd_f[128];
	snprintf(odd_m, sizeof(odd_m), "%s/it's $HOME.json", dir);
	snprintf(odd_f, sizeof(odd_f), "%s/a b*.zfs.gz", dir);
	rename(mpath, odd_m);
	rename(fpath, odd_f);
	imgfetch_deliver_opts o = { .manifest_path = odd_m, .file_path = odd_f };
	r = NULL;
	if (TAP_CHECK_INT_EQ(imgfetch_deliver(ctx, &o, &r), IMGFETCH_OK, "odd names")) {
		char want[512];
		snprintf(want, sizeof(want), "imgadm install -m '%s/it'\\''s $HOME.json' -f '%s/a b*.zfs.gz'", dir, dir);
		TAP_CHECK_STR_EQ(r->command, want, "quoted for a POSIX shell");
	}
	imgfetch_deliver_result_free(r);
	rename(odd_m, mpath);
	rename(odd_f, fpath);
}

static void test_options(imgfetch_ctx *ctx)
{
	manifest_files(GOOD_FILES);
	imgfetch_deliver_result *r = NULL;
	imgfetch_deliver_opts o = { .target = IMGFETCH_DELIVER_IMGAPI, .manifest_path = mpath, .file_path = fpath };
	TAP_CHECK_INT_EQ(imgfetch_deliver(ctx, &o, &r), IMGFETCH_E_INVALID, "IMGAPI without a URL");
	o.imgapi_url = "ftp://imgapi.example/";
	TAP_CHECK_INT_EQ(imgfetch_deliver(ctx, &o, &r), IMGFETCH_E_INVALID, "an ftp:// IMGAPI");
	o.imgapi_url = "http://imgapi.example/?x=1";
	TAP_CHECK_INT_EQ(imgfetch_deliver(ctx, &o, &r), IMGFETCH_E_INVALID, "an IMGAPI URL with a query");
	imgfetch_http_opts h;
	imgfetch_http_opts_init(&h);
	h.max_attempts = 0;
	o.imgapi_url = "http://127.0.0.1:9";
	o.http = &h;
	TAP_CHECK_INT_EQ(imgfetch_deliver(ctx, &o, &r), IMGFETCH_E_INVALID, "zero attempts");
	imgfetch_http_opts_init(&h);
	h.cacert = "/nonexistent/ca.pem";
	TAP_CHECK_INT_EQ(imgfetch_deliver(ctx, &o, &r), IMGFETCH_E_INVALID, "an unreadable CA file");
	o = (imgfetch_deliver_opts){ .target = (imgfetch_deliver_target)7, .manifest_path = mpath, .file_path = fpath };
	TAP_CHECK_INT_EQ(imgfetch_deliver(ctx, &o, &r), IMGFETCH_E_INVALID, "an unknown target");
	o = (imgfetch_deliver_opts){ .manifest_path = mpath };
	TAP_CHECK_INT_EQ(imgfetch_deliver(ctx, &o, &r), IMGFETCH_E_INVALID, "no file");
	TAP_CHECK_INT_EQ(imgfetch_deliver(ctx, NULL, &r), IMGFETCH_E_INVALID, "no options");
	TAP_CHECK(r == NULL, "no result from any of these");

	imgfetch_ctx_cancel(ctx);
	TAP_CHECK_INT_EQ(status_of(ctx), IMGFETCH_E_CANCELLED, "a cancelled context");
	imgfetch_ctx_clear_cancel(ctx);
	imgfetch_deliver_result_free(NULL);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/imgfetch-test-deliver-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(mpath, sizeof(mpath), "%s/img.json", dir);
	snprintf(fpath, sizeof(fpath), "%s/img.zfs.gz", dir);
	write_file(fpath, gz, sizeof(gz));
	imgfetch_ctx *ctx = imgfetch_ctx_new();
	if (!TAP_CHECK(ctx != NULL, "context"))
		return tap_done();

	test_manifest_checks(ctx);
	test_file_checks(ctx);
	test_command(ctx);
	test_options(ctx);

	imgfetch_ctx_free(ctx);
	unlink(mpath);
	unlink(fpath);
	rmdir(dir);
	return tap_done();
}
