/* SPDX-License-Identifier: MIT */
/*
 * openSUSE Leap and Tumbleweed Minimal-VM Cloud images.
 *
 * download.opensuse.org runs MirrorCache, which answers `<dir>?json` with a
 * JSON array of entries; plain mirrors ignore the query and send their HTML
 * index, which we then parse instead. Leap "latest" is the newest X.Y/ that
 * actually has a Cloud image (a new X.Y/ directory appears empty well before
 * the release). Image names changed with Leap 16 (openSUSE-Leap-15.6-… →
 * Leap-16.0-…), so both spellings are accepted for any version. Each image
 * has a GNU .sha256 sidecar; a rolling name's sidecar may name the
 * build-numbered file, which the sidecar verifier accepts (one record).
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/vendors/opensuse.h"
#include "util/cleanup.h"

static const char *const bases[] = { "download", "https://download.opensuse.org/", NULL };

/* Bounds the name prefixes built below. */
#define VERSION_MAX 16

int opensuse_parse_dir(const char *text, size_t len, char ***ret)
{
	*ret = NULL;
	if (len > LISTING_MAX_BYTES)
		return -EBADMSG;
	size_t i = 0;
	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
		i++;
	if (i == len || (text[i] != '[' && text[i] != '{'))
		return listing_parse(text, len, ret);
	/* It claims to be JSON: then it must be MirrorCache's. */
	json_t *root = json_loadb(text, len, 0, NULL);
	json_t *arr = json_is_object(root) ? json_object_get(root, "data") : root;
	if (!json_is_array(arr) || json_array_size(arr) > LISTING_MAX_ENTRIES) {
		json_decref(root);
		return -EBADMSG;
	}
	char **v = NULL;
	size_t n = 0, k;
	json_t *e;
	int r = 0;
	json_array_foreach(arr, k, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		if (!name) {
			r = -EBADMSG;
			break;
		}
		/* Same rules as listing_parse: plain direct children only. */
		size_t nl = strlen(name);
		char plain[256];
		if (nl == 0 || nl >= sizeof(plain))
			continue;
		memcpy(plain, name, nl + 1);
		if (plain[nl - 1] == '/')
			plain[nl - 1] = '\0';
		if (!name_is_safe(plain))
			continue;
		if ((r = strv_push(&v, &n, name)) < 0)
			break;
	}
	json_decref(root);
	if (r == 0 && !v && !(v = calloc(1, sizeof(*v))))
		r = -ENOMEM;
	if (r < 0) {
		strv_free(v);
		return r;
	}
	*ret = v;
	return 0;
}

/* "X.Y/" with numeric X and Y → length of "X.Y", else 0. */
static size_t leap_len(const char *s)
{
	size_t l = strlen(s);
	if (l < 4 || l > VERSION_MAX || s[l - 1] != '/')
		return 0;
	char tmp[VERSION_MAX + 1];
	memcpy(tmp, s, l - 1);
	tmp[l - 1] = '\0';
	if (!version_is_numeric(tmp) || !strchr(tmp, '.') || strchr(tmp, '.') != strrchr(tmp, '.'))
		return 0;
	return l - 1;
}

static int cmp_desc(const void *a, const void *b)
{
	return version_cmp(*(char *const *)b, *(char *const *)a);
}

char **opensuse_leap_versions(char *const *listing)
{
	char **v = calloc(1, sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; v && listing && listing[i]; i++) {
		size_t l = leap_len(listing[i]);
		bool dup = false;
		for (size_t j = 0; j < n && !dup; j++)
			dup = strlen(v[j]) == l && strncmp(v[j], listing[i], l) == 0;
		if (!l || dup)
			continue;
		char tmp[VERSION_MAX + 1];
		snprintf(tmp, sizeof(tmp), "%.*s", (int)l, listing[i]);
		if (strv_push(&v, &n, tmp) < 0) {
			strv_free(v);
			return NULL;
		}
	}
	if (v)
		qsort(v, n, sizeof(*v), cmp_desc);
	return v;
}

char *opensuse_pick_image(char *const *listing, const char *version, const char *arch)
{
	char prefixes[2][96];
	size_t np;
	if (version) {
		if (strlen(version) > VERSION_MAX)
			return NULL;
		snprintf(prefixes[0], sizeof(prefixes[0]), "Leap-%s-Minimal-VM.%s-", version, arch);
		snprintf(prefixes[1], sizeof(prefixes[1]), "openSUSE-Leap-%s-Minimal-VM.%s-", version, arch);
		np = 2;
	} else {
		snprintf(prefixes[0], sizeof(prefixes[0]), "openSUSE-Tumbleweed-Minimal-VM.%s-", arch);
		np = 1;
	}
	const char *best = NULL;
	for (size_t i = 0; listing && listing[i]; i++) {
		const char *n = listing[i];
		for (size_t p = 0; p < np; p++) {
			size_t pl = strlen(prefixes[p]);
			if (strncmp(n, prefixes[p], pl) != 0)
				continue;
			const char *rest = n + pl;
			if (strcmp(rest, "Cloud.qcow2") == 0)
				return strdup(n); /* the rolling name */
			/* "15.6.0-Cloud-Build19.143.qcow2", "1.0.0-Cloud-Snapshot20261101.qcow2",
			 * "Cloud-Build16.2.qcow2"; not -kvm-and-xen- and the like. */
			const char *c = strstr(rest, "Cloud-");
			size_t rl = strlen(rest);
			if (!c || rl < 6 || strcmp(rest + rl - 6, ".qcow2") != 0 ||
			    (strncmp(c + 6, "Build", 5) != 0 && strncmp(c + 6, "Snapshot", 8) != 0))
				continue;
			if (c != rest && strspn(rest, "0123456789.") != (size_t)(c - rest - 1))
				continue;
			if (!best || version_cmp(n, best) > 0)
				best = n;
		}
	}
	return best ? strdup(best) : NULL;
}

/* Reads a directory the MirrorCache way, falling back to its HTML index. */
static imgfetch_status dir_get(const vendor_req *req, const char *url, char ***ret)
{
	*ret = NULL;
	if (strncmp(url, "file://", 7) == 0) /* a copied tree: no query strings */
		return listing_get(req, url, ret);
	_cleanup_free_ char *q = NULL, *text = NULL;
	if (asprintf(&q, "%s?json", url) < 0)
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	size_t len = 0;
	imgfetch_status st = feed_get(req, q, LISTING_MAX_BYTES, "directory listing", &text, &len);
	if (st < 0)
		return st;
	int r = opensuse_parse_dir(text, len, ret);
	if (r == -ENOMEM)
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	if (r < 0)
		return ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "opensuse: malformed directory listing %s", q);
	return IMGFETCH_OK;
}

/* The arches with a Cloud image in an appliances listing, for messages. */
static void arches_of(char *const *names, const char *version, char *buf, size_t len)
{
	static const char *const all[] = { "x86_64", "aarch64" };
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < 2; i++) {
		char *f = opensuse_pick_image(names, version, all[i]);
		if (f)
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? " " : "", all[i]);
		free(f);
	}
}

static imgfetch_status finish(const vendor_req *req, imgfetch_resolved *r, const char *dir, const char *file,
                              const char *series, const char *version, const char *what)
{
	r->verifier = IMGFETCH_VERIFIER_SIDECAR;
	/* <image>.sha256.asc: an armoured signature over the sidecar (a v3
	 * signature packet, which RNP reads). */
	r->evidence = IMGFETCH_EVIDENCE_SIGNATURE;
	if (asprintf(&r->url, "%s%s", dir, file) < 0 || asprintf(&r->signature_url, "%s%s.sha256.asc", dir, file) < 0) {
		r->url = r->signature_url = NULL;
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	}
	if (!set_str(&r->series, series) || !set_str(&r->version, version) || !set_str(&r->file_name, file) ||
	    !set_str(&r->description, what))
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	return IMGFETCH_OK;
}

static imgfetch_status tumbleweed(const vendor_req *req, imgfetch_resolved *r)
{
	/* aarch64 builds live under ports/. */
	_cleanup_free_ char *dir = strcmp(req->arch, "aarch64") == 0
	                                   ? vendor_url(req, "download", "ports/aarch64/tumbleweed/appliances/")
	                                   : vendor_url(req, "download", "tumbleweed/appliances/");
	if (!dir)
		return IMGFETCH_E_FAILED;
	char **names = NULL;
	imgfetch_status st = dir_get(req, dir, &names);
	if (st == IMGFETCH_E_NOT_FOUND)
		return ifx_fail(req->ctx, st, "opensuse tumbleweed: no %s appliances at %s", req->arch, dir);
	if (st < 0)
		return st;
	_cleanup_free_ char *file = opensuse_pick_image(names, NULL, req->arch);
	strv_free(names);
	if (!file)
		return ifx_fail(req->ctx, IMGFETCH_E_NOT_FOUND,
		                "opensuse tumbleweed: no openSUSE-Tumbleweed-Minimal-VM.%s-Cloud image in %s", req->arch,
		                dir);
	/* The snapshot date when the name carries one; the rolling name does not. */
	char version[32] = "current";
	const char *s = strstr(file, "-Snapshot");
	if (s && strspn(s + 9, "0123456789") >= 8)
		snprintf(version, sizeof(version), "%.*s", (int)strspn(s + 9, "0123456789"), s + 9);
	return finish(req, r, dir, file, "tumbleweed", version, "openSUSE Tumbleweed Minimal-VM Cloud image");
}

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	if (strcmp(req->release, "tumbleweed") == 0)
		return tumbleweed(req, r);
	_cleanup_free_ char *top = vendor_url(req, "download", "distribution/leap/");
	if (!top)
		return IMGFETCH_E_FAILED;
	char **names = NULL;
	imgfetch_status st = dir_get(req, top, &names);
	if (st == IMGFETCH_E_NOT_FOUND)
		return ifx_fail(req->ctx, st, "opensuse: no Leap index at %s", top);
	if (st < 0)
		return st;
	char **vers = opensuse_leap_versions(names);
	strv_free(names);
	if (!vers)
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	size_t nv = strv_len(vers);
	bool latest = strcmp(req->release, "latest") == 0;
	/* "leap-16.0" is the same as "16.0". */
	const char *want = strncmp(req->release, "leap-", 5) == 0 ? req->release + 5 : req->release;
	if (nv == 0) {
		strv_free(vers);
		return ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "opensuse: malformed listing %s: no X.Y/ directories", top);
	}
	bool found = latest;
	for (size_t i = 0; i < nv && !found; i++)
		found = strcmp(vers[i], want) == 0;
	if (!found) {
		st = fail_unknown_release(req, vers, nv);
		strv_free(vers);
		return st;
	}
	st = IMGFETCH_E_NOT_FOUND;
	char arches[64] = ""; /* of the asked version, when its appliances exist */
	for (size_t i = 0; i < nv && st == IMGFETCH_E_NOT_FOUND; i++) {
		if (!latest && strcmp(vers[i], want) != 0)
			continue;
		_cleanup_free_ char *dir = vendor_url(req, "download", "distribution/leap/%s/appliances/", vers[i]);
		if (!dir) {
			st = IMGFETCH_E_FAILED;
			break;
		}
		char **files = NULL;
		st = dir_get(req, dir, &files);
		if (st == IMGFETCH_E_NOT_FOUND)
			continue; /* a version without appliances yet */
		if (st < 0)
			break;
		_cleanup_free_ char *file = opensuse_pick_image(files, vers[i], req->arch);
		if (!latest)
			arches_of(files, vers[i], arches, sizeof(arches));
		strv_free(files);
		if (!file) {
			st = IMGFETCH_E_NOT_FOUND;
			continue;
		}
		st = finish(req, r, dir, file, vers[i], vers[i], "openSUSE Leap Minimal-VM Cloud image");
	}
	if (st == IMGFETCH_E_NOT_FOUND) {
		if (!latest && arches[0])
			st = fail_unknown_arch(req, arches);
		else if (!latest)
			st = ifx_fail(req->ctx, st, "opensuse: Leap %s publishes no Minimal-VM Cloud images (yet) under %s",
			              req->release, top);
		else
			st = ifx_fail(req->ctx, st, "opensuse: no Leap version under %s has a Minimal-VM %s Cloud image",
			              top, req->arch);
	}
	strv_free(vers);
	return st;
}

const vendor_def vendor_opensuse = {
	.pub = {
		.name = "opensuse",
		.title = "openSUSE Leap / Tumbleweed",
		.os = "linux",
		.releases = "latest (newest Leap), Leap version (16.0, 15.6), tumbleweed",
		.arches = "x86_64 aarch64",
		.format = "qcow2",
		.verifier = "sidecar <image>.sha256, signed (<image>.sha256.asc)",
		.evidence = "signature",
		.signature = "<image>.sha256.asc by AD485664E901B867051AB15F35A2F86E29B700A4",
		.homepage = "https://www.opensuse.org",
		.bases = bases,
	},
	.resolve = resolve,
};
