/* SPDX-License-Identifier: MIT */
/*
 * Talos Linux: the GitHub releases API names the release (tag_name); the
 * image is built by the Image Factory for a schematic (the empty one unless
 * --schematic is given). The public factory answers <image>.sha256 with
 * HTTP 402 (checksums are an enterprise feature), so the sidecar is probed
 * at resolve time: 200 → sidecar verification; 402 → trust-only with a
 * notice (fetch then wants --expected-sha256); anything else fails closed,
 * since it means the artifact or the factory is not what we expect.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/vendors/talos.h"
#include "util/cleanup.h"

static const char *const bases[] = { "github", "https://api.github.com/repos/siderolabs/talos/", "factory",
	                             "https://factory.talos.dev/", NULL };

/* The default schematic: no extensions, no extra kernel arguments. */
#define TALOS_EMPTY_SCHEMATIC "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"

/* "X.Y.Z" with each part 1-6 digits: the only shape of a Talos release tag
 * (pre-releases carry a -alpha.N / -beta.N suffix and are not offered). */
static bool is_semver3(const char *s)
{
	for (int part = 0; part < 3; part++) {
		size_t n = strspn(s, "0123456789");
		if (n == 0 || n > 6)
			return false;
		s += n;
		if (part < 2 && *s++ != '.')
			return false;
	}
	return *s == '\0';
}

int talos_tag_for(const char *release, char *out, size_t outlen)
{
	if (strcmp(release, "latest") == 0) {
		snprintf(out, outlen, "latest");
		return 0;
	}
	const char *v = release + (release[0] == 'v');
	if (!is_semver3(v) || (size_t)snprintf(out, outlen, "v%s", v) >= outlen)
		return -EINVAL;
	return 0;
}

int talos_series(const char *tag, char *out, size_t outlen)
{
	if (tag[0] != 'v' || !is_semver3(tag + 1))
		return -EINVAL;
	size_t n = (size_t)(strrchr(tag, '.') - tag);
	if (n + 1 > outlen)
		return -EINVAL;
	memcpy(out, tag, n);
	out[n] = '\0';
	return 0;
}

int talos_parse_release(const char *text, size_t len, char **ret_tag, char *err, size_t errlen)
{
	*ret_tag = NULL;
	if (len > FEED_MAX_BYTES) {
		snprintf(err, errlen, "larger than %u bytes", FEED_MAX_BYTES);
		return -EBADMSG;
	}
	json_error_t je;
	json_t *root = json_loadb(text, len, 0, &je);
	const char *tag = json_string_value(json_object_get(root, "tag_name"));
	if (!json_is_object(root) || !tag) {
		snprintf(err, errlen, "%s", !root ? je.text : "no tag_name in the release object");
		json_decref(root);
		return -EBADMSG;
	}
	if (tag[0] != 'v' || !is_semver3(tag + 1)) {
		/* A tag the factory would not know (e.g. v1.12.0-beta.1 marked as
		 * a full release by mistake): refuse rather than build a bad URL. */
		bool pre = strchr(tag, '-') != NULL;
		if (!pre)
			snprintf(err, errlen, "tag_name '%.64s' is not vX.Y.Z", tag);
		json_decref(root);
		return pre ? -ENOENT : -EBADMSG;
	}
	int r = 0;
	if (json_is_true(json_object_get(root, "draft")) || json_is_true(json_object_get(root, "prerelease")))
		r = -ENOENT;
	else if (!(*ret_tag = strdup(tag)))
		r = -ENOMEM;
	json_decref(root);
	return r;
}

static int cmp_desc(const void *a, const void *b)
{
	return version_cmp(*(char *const *)b, *(char *const *)a);
}

char **talos_parse_versions(const char *text, size_t len, size_t max)
{
	if (len > FEED_MAX_BYTES)
		return NULL;
	json_t *root = json_loadb(text, len, 0, NULL);
	if (!json_is_array(root) || json_array_size(root) > LISTING_MAX_ENTRIES) {
		json_decref(root);
		return NULL;
	}
	size_t n = 0, i;
	char **v = calloc(json_array_size(root) + 1, sizeof(*v));
	json_t *e;
	json_array_foreach(root, i, e) {
		const char *s = json_string_value(e);
		if (!v || !s || s[0] != 'v' || !is_semver3(s + 1))
			continue;
		if (!(v[n] = strdup(s))) {
			strv_free(v);
			v = NULL;
			continue;
		}
		n++;
	}
	json_decref(root);
	if (!v)
		return NULL;
	qsort(v, n, sizeof(*v), cmp_desc);
	for (i = max; i < n; i++) {
		free(v[i]);
		v[i] = NULL;
	}
	return v;
}

/* An unknown version: list the newest stable versions the factory knows
 * (GET /versions), or just "latest" when that list cannot be had. */
static imgfetch_status unknown_release(const vendor_req *req)
{
	_cleanup_free_ char *url = vendor_url(req, "factory", "versions");
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	char **known = NULL;
	if (url && feed_get(req, url, FEED_MAX_BYTES, "version list", &text, &len) == IMGFETCH_OK)
		known = talos_parse_versions(text, len, 12);
	char *fallback[] = { (char *)"latest", NULL };
	bool have = known && known[0];
	imgfetch_status st = fail_unknown_release(req, have ? known : fallback, have ? strv_len(known) : 1);
	strv_free(known);
	return st;
}

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	const char *arch = arch_dpkg_name(req);

	char want[64];
	if (talos_tag_for(req->release, want, sizeof(want)) < 0)
		return unknown_release(req);
	_cleanup_free_ char *feed_url = strcmp(want, "latest") == 0 ? vendor_url(req, "github", "releases/latest")
	                                                            : vendor_url(req, "github", "releases/tags/%s", want);
	if (!feed_url)
		return IMGFETCH_E_FAILED;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	imgfetch_status st = feed_get(req, feed_url, FEED_MAX_BYTES, "release", &text, &len);
	if (st == IMGFETCH_E_NOT_FOUND && strcmp(want, "latest") != 0)
		return unknown_release(req);
	if (st < 0)
		return st;
	_cleanup_free_ char *tag = NULL;
	char err[256] = "";
	int e = talos_parse_release(text, len, &tag, err, sizeof(err));
	if (e == -ENOENT)
		return unknown_release(req); /* a draft or prerelease is not offered */
	if (e == -ENOMEM)
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	if (e < 0)
		return ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "talos: malformed release document %s: %s", feed_url, err);
	if (strcmp(want, "latest") != 0 && strcmp(tag, want) != 0)
		return ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "talos: %s names release %s, not %s", feed_url, tag, want);
	char series[64];
	if (talos_series(tag, series, sizeof(series)) < 0)
		return ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "talos: malformed tag in %s", feed_url);

	const char *schematic = req->schematic ? req->schematic : TALOS_EMPTY_SCHEMATIC;
	char file[64];
	snprintf(file, sizeof(file), "nocloud-%s.raw.xz", arch);
	if (!(r->url = vendor_url(req, "factory", "image/%s/%s/%s", schematic, tag, file)))
		return IMGFETCH_E_FAILED;
	_cleanup_free_ char *sidecar = NULL;
	if (asprintf(&sidecar, "%s.sha256", r->url) < 0)
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	long http = 0;
	st = feed_probe(req, sidecar, &http);
	if (http == 200 && st == IMGFETCH_OK) {
		r->verifier = IMGFETCH_VERIFIER_SIDECAR;
	} else if (http == 402) {
		r->verifier = IMGFETCH_VERIFIER_NONE;
		if (!set_str(&r->notice, "the Image Factory serves checksums only to paying customers (HTTP 402 for "
		                         "<image>.sha256), so this image can be trusted only as far as TLS to the "
		                         "factory; pin a digest obtained elsewhere with --expected-sha256"))
			return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	} else {
		/* Fail closed: a 404 here means an unknown schematic or artifact,
		 * anything else a factory we cannot judge. */
		return ifx_fail(req->ctx, http == 404 || http == 410 ? IMGFETCH_E_NOT_FOUND
		                          : st < 0                   ? st
		                                                     : IMGFETCH_E_NETWORK,
		                "talos %s: the Image Factory answered %s%ld for %s (expected 200, or 402 from the "
		                "public factory); check --schematic",
		                tag, http ? "HTTP " : "no HTTP status ", http, sidecar);
	}
	char desc[256];
	snprintf(desc, sizeof(desc),
	         "Talos Linux %s nocloud image, schematic %s (machine config from NoCloud user-data; no "
	         "cloud-init, no SSH)",
	         tag, schematic);
	if (!set_str(&r->series, series) || !set_str(&r->version, tag) || !set_str(&r->file_name, file) ||
	    !set_str(&r->description, desc))
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	return IMGFETCH_OK;
}

const vendor_def vendor_talos = {
	.pub = {
		.name = "talos",
		.title = "Talos Linux",
		.os = "linux",
		.releases = "latest, version (v1.11.5 or 1.11.5); --schematic ID",
		.arches = "x86_64 aarch64",
		.format = "raw.xz",
		.verifier = "<image>.sha256 when the factory serves it, else trust-only (with a notice)",
		.evidence = "checksum",
		.homepage = "https://www.talos.dev",
		.bases = bases,
	},
	.resolve = resolve,
};
