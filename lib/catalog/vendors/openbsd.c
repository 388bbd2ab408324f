/* SPDX-License-Identifier: MIT */
/*
 * OpenBSD: there are no official cloud images; hcartiaux/openbsd-cloud-image
 * publishes openbsd-min.qcow2 (cloud-init) and openbsd-min.qcow2.sha256 as
 * GitHub release assets, one release per build, tagged
 * v<version>_<YYYY-MM-DD-HH-MM>. The releases list is read (rather than
 * releases/latest) so that a version token can pick the newest build of
 * that version. Asset URLs are built from the "download" base rather than
 * taken from browser_download_url, so that a mirror serves them too; tags
 * are restricted to URL-safe characters for the same reason.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/vendors/openbsd.h"
#include "util/cleanup.h"

static const char *const bases[] = { "api", "https://api.github.com/repos/hcartiaux/openbsd-cloud-image/", "download",
	                             "https://github.com/hcartiaux/openbsd-cloud-image/releases/download/", NULL };

void openbsd_pick_clear(openbsd_pick *p)
{
	free(p->tag);
	free(p->series);
	*p = (openbsd_pick){ 0 };
}

/* The version of a tag: "v7.8_2025-10-22-15-14" → "7.8"; false when the tag
 * is not of that shape or not URL-safe. */
static bool tag_series(const char *tag, char *out, size_t outlen)
{
	size_t tl = strlen(tag);
	if (tl == 0 || tl > 100 ||
	    strspn(tag, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != tl)
		return false;
	const char *s = tag + (tag[0] == 'v');
	size_t n = strcspn(s, "_");
	if (n == 0 || n >= outlen)
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return version_is_numeric(out);
}

static bool has_asset(json_t *rel, const char *name)
{
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(rel, "assets"), i, a) {
		const char *n = json_string_value(json_object_get(a, "name"));
		if (n && strcmp(n, name) == 0)
			return true;
	}
	return false;
}

int openbsd_parse_releases(const char *text, size_t len, const char *release, openbsd_pick *ret, char ***known,
                           char *err, size_t errlen)
{
	*ret = (openbsd_pick){ 0 };
	*known = NULL;
	if (len > FEED_MAX_BYTES) {
		snprintf(err, errlen, "larger than %u bytes", FEED_MAX_BYTES);
		return -EBADMSG;
	}
	json_error_t je;
	json_t *root = json_loadb(text, len, 0, &je);
	if (!json_is_array(root)) {
		snprintf(err, errlen, "%s", !root ? je.text : "not an array of releases");
		json_decref(root);
		return -EBADMSG;
	}
	bool latest = strcmp(release, "latest") == 0;
	const char *best = NULL;
	char best_series[32] = "";
	size_t i, nknown = 0, usable = 0;
	int r = 0;
	json_t *rel;
	json_array_foreach(root, i, rel) {
		const char *tag = json_string_value(json_object_get(rel, "tag_name"));
		char series[32];
		if (!tag || !tag_series(tag, series, sizeof(series)) || json_is_true(json_object_get(rel, "draft")) ||
		    json_is_true(json_object_get(rel, "prerelease")) || !has_asset(rel, OPENBSD_IMAGE) ||
		    !has_asset(rel, OPENBSD_IMAGE ".sha256"))
			continue;
		usable++;
		bool match = latest || strcmp(release, series) == 0 || strcmp(release, tag) == 0 ||
		             (tag[0] == 'v' && strcmp(release, tag + 1) == 0);
		if (match && (!best || version_cmp(tag, best) > 0)) {
			best = tag;
			snprintf(best_series, sizeof(best_series), "%s", series);
		}
		if (r == 0 && (strv_push_unique(known, &nknown, series) < 0 || strv_push_unique(known, &nknown, tag) < 0))
			r = -ENOMEM;
	}
	if (r == 0 && usable == 0) {
		/* An empty list is what GitHub returns for a repository that lost
		 * its releases or for a page past the end: not a usable feed. */
		snprintf(err, errlen, "no release with %s and %s.sha256 assets", OPENBSD_IMAGE, OPENBSD_IMAGE);
		r = -EBADMSG;
	} else if (r == 0 && !best) {
		r = -ENOENT;
	} else if (r == 0 && (!(ret->tag = strdup(best)) || !(ret->series = strdup(best_series)))) {
		openbsd_pick_clear(ret);
		r = -ENOMEM;
	}
	if (r != -ENOENT) {
		strv_free(*known);
		*known = NULL;
	}
	json_decref(root);
	return r;
}

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	if (strcmp(req->arch, "x86_64") != 0)
		return fail_unknown_arch(req, "x86_64");
	/* 100 is GitHub's page maximum; a build a week stays within it for
	 * about two years, older builds are of no use to anyone. */
	_cleanup_free_ char *feed_url = vendor_url(req, "api", "releases?per_page=100");
	if (!feed_url)
		return IMGFETCH_E_FAILED;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	imgfetch_status st = feed_get(req, feed_url, FEED_MAX_BYTES, "release list", &text, &len);
	if (st < 0)
		return st;
	openbsd_pick p;
	char **known = NULL;
	char err[256] = "";
	int e = openbsd_parse_releases(text, len, req->release, &p, &known, err, sizeof(err));
	if ((st = parse_status(req, e, known, "release list", feed_url, err)) < 0)
		return st;
	/* The .sha256 asset is <image>.sha256 and holds one GNU line
	 * ("<hex>  images/openbsd-min.qcow2"): a sidecar. */
	r->verifier = IMGFETCH_VERIFIER_SIDECAR;
	if (!(r->url = vendor_url(req, "download", "%s/%s", p.tag, OPENBSD_IMAGE)))
		st = IMGFETCH_E_FAILED;
	else if (!set_str(&r->series, p.series) || !set_str(&r->version, p.tag) || !set_str(&r->file_name, OPENBSD_IMAGE) ||
	         !set_str(&r->description,
	                  "OpenBSD minimal cloud image (cloud-init), built by hcartiaux/openbsd-cloud-image (unofficial)"))
		st = ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	openbsd_pick_clear(&p);
	return st;
}

const vendor_def vendor_openbsd = {
	.pub = {
		.name = "openbsd",
		.title = "OpenBSD (hcartiaux/openbsd-cloud-image)",
		.os = "bsd",
		.releases = "latest, release tag (v7.8_2025-10-22-15-14) or version (7.8)",
		.arches = "x86_64",
		.format = "qcow2",
		.verifier = "sidecar .sha256 release asset",
		.evidence = "checksum",
		.homepage = "https://www.openbsd.org",
		.bases = bases,
	},
	.resolve = resolve,
};
