/* SPDX-License-Identifier: MIT */
/*
 * Alpine Linux: releases.json names the branches and their releases (newest
 * first); the image's revision (-rN) is only known from the directory
 * listing, so it is read rather than assumed to be r0.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/vendors/alpine.h"
#include "util/cleanup.h"

static const char *const bases[] = { "www", "https://alpinelinux.org/", "cdn", "https://dl-cdn.alpinelinux.org/alpine/",
	                             NULL };

void alpine_pick_clear(alpine_pick *p)
{
	free(p->branch);
	free(p->version);
	free(p->arches);
	*p = (alpine_pick){ 0 };
}

/* The newest stable (X.Y.Z) release of a branch, or NULL. */
static const char *first_release(json_t *branch)
{
	json_t *rels = json_object_get(branch, "releases"), *rel;
	size_t i;
	json_array_foreach(rels, i, rel) {
		const char *v = json_string_value(json_object_get(rel, "version"));
		if (v && version_is_numeric(v) && strchr(v, '.') != strrchr(v, '.'))
			return v;
	}
	return NULL;
}

static int fill(json_t *branch, const char *version, alpine_pick *ret)
{
	char arches[256] = "";
	size_t used = 0, i;
	json_t *a;
	json_array_foreach(json_object_get(branch, "arches"), i, a) {
		const char *s = json_string_value(a);
		if (s && used + strlen(s) + 2 < sizeof(arches))
			used += (size_t)snprintf(arches + used, sizeof(arches) - used, "%s%s", used ? " " : "", s);
	}
	ret->branch = strdup(json_string_value(json_object_get(branch, "rel_branch")));
	ret->version = strdup(version);
	ret->arches = strdup(arches);
	if (!ret->branch || !ret->version || !ret->arches) {
		alpine_pick_clear(ret);
		return -ENOMEM;
	}
	return 0;
}

int alpine_parse_releases(const char *text, size_t len, const char *release, alpine_pick *ret, char ***known,
                          char *err, size_t errlen)
{
	*ret = (alpine_pick){ 0 };
	*known = NULL;
	if (len > FEED_MAX_BYTES) {
		snprintf(err, errlen, "larger than %u bytes", FEED_MAX_BYTES);
		return -EBADMSG;
	}
	json_error_t je;
	json_t *root = json_loadb(text, len, 0, &je);
	json_t *branches = json_object_get(root, "release_branches");
	const char *latest = json_string_value(json_object_get(root, "latest_stable"));
	if (!json_is_array(branches) || !latest) {
		snprintf(err, errlen, "%s", !root ? je.text : "no latest_stable or release_branches");
		json_decref(root);
		return -EBADMSG;
	}
	/* "3.23" and "v3.23" name the same branch. */
	char want_branch[64] = "";
	if (strcmp(release, "latest") == 0)
		snprintf(want_branch, sizeof(want_branch), "%s", latest);
	else if (release[0] == 'v' || strchr(release, '.') == strrchr(release, '.'))
		snprintf(want_branch, sizeof(want_branch), "v%s", release + (release[0] == 'v'));
	int r = -ENOENT;
	size_t i, nknown = 0;
	json_t *b;
	json_array_foreach(branches, i, b) {
		const char *name = json_string_value(json_object_get(b, "rel_branch"));
		const char *first = first_release(b);
		/* Only "v<X.Y>": the branch becomes a path on the mirror. */
		if (!name || name[0] != 'v' || !version_is_numeric(name + 1) || strchr(name + 1, '.') != strrchr(name, '.') ||
		    !first || !json_is_array(json_object_get(b, "arches")))
			continue; /* edge, a branch not released yet, or nonsense */
		if (r == -ENOENT && want_branch[0] && strcmp(name, want_branch) == 0)
			r = fill(b, first, ret);
		json_t *rel;
		size_t j;
		json_array_foreach(json_object_get(b, "releases"), j, rel) {
			const char *v = json_string_value(json_object_get(rel, "version"));
			if (r == -ENOENT && !want_branch[0] && v && strcmp(v, release) == 0)
				r = fill(b, v, ret);
		}
		if (r == -ENOENT && strv_push(known, &nknown, name + (name[0] == 'v')) < 0)
			r = -ENOMEM;
	}
	if (r != -ENOENT) {
		strv_free(*known);
		*known = NULL;
	}
	json_decref(root);
	return r;
}

char *alpine_pick_image(char *const *listing, const char *version, const char *arch)
{
	char prefix[160];
	snprintf(prefix, sizeof(prefix), "nocloud_alpine-%s-%s-uefi-cloudinit-r", version, arch);
	size_t pl = strlen(prefix);
	const char *best = NULL;
	long best_rev = -1;
	for (size_t i = 0; listing && listing[i]; i++) {
		const char *n = listing[i];
		if (strncmp(n, prefix, pl) != 0)
			continue;
		if (n[pl] < '0' || n[pl] > '9')
			continue;
		char *end;
		long rev = strtol(n + pl, &end, 10);
		if (end == n + pl || strcmp(end, ".qcow2") != 0 || rev < 0)
			continue;
		if (rev > best_rev) {
			best_rev = rev;
			best = n;
		}
	}
	return best ? strdup(best) : NULL;
}

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	_cleanup_free_ char *feed_url = vendor_url(req, "www", "releases.json");
	if (!feed_url)
		return IMGFETCH_E_FAILED;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	imgfetch_status st = feed_get(req, feed_url, FEED_MAX_BYTES, "release feed", &text, &len);
	if (st < 0)
		return st;
	alpine_pick p;
	char **known = NULL;
	char err[256] = "";
	int e = alpine_parse_releases(text, len, req->release, &p, &known, err, sizeof(err));
	if ((st = parse_status(req, e, known, "release feed", feed_url, err)) < 0)
		return st;

	char **names = NULL;
	_cleanup_free_ char *dir = NULL, *file = NULL;
	if (!word_in_list(p.arches, req->arch)) {
		st = fail_unknown_arch(req, p.arches);
		goto out;
	}
	if (!(dir = vendor_url(req, "cdn", "%s/releases/cloud/", p.branch))) {
		st = IMGFETCH_E_FAILED;
		goto out;
	}
	if ((st = listing_get(req, dir, &names)) < 0)
		goto out;
	file = alpine_pick_image(names, p.version, req->arch);
	if (!file) {
		st = ifx_fail(req->ctx, IMGFETCH_E_NOT_FOUND, "alpine %s: no nocloud_alpine-%s-%s-uefi-cloudinit image in %s",
		              p.version, p.version, req->arch, dir);
		goto out;
	}
	r->verifier = IMGFETCH_VERIFIER_SIDECAR;
	if (!(r->url = vendor_url(req, "cdn", "%s/releases/cloud/%s", p.branch, file))) {
		st = IMGFETCH_E_FAILED;
		goto out;
	}
	if (!set_str(&r->series, p.branch + (p.branch[0] == 'v')) || !set_str(&r->version, p.version) ||
	    !set_str(&r->file_name, file) || !set_str(&r->description, "Alpine Linux cloud image (cloud-init, UEFI)"))
		st = ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
out:
	strv_free(names);
	alpine_pick_clear(&p);
	return st;
}

const vendor_def vendor_alpine = {
	.pub = {
		.name = "alpine",
		.title = "Alpine Linux",
		.os = "linux",
		.releases = "latest, branch (3.23 or v3.23), version (3.23.4)",
		.arches = "x86_64 aarch64",
		.format = "qcow2",
		.verifier = "sidecar <image>.sha256 / .sha512",
		.evidence = "checksum",
		.homepage = "https://alpinelinux.org",
		.bases = bases,
	},
	.resolve = resolve,
};
