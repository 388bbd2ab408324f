/* SPDX-License-Identifier: MIT */
/*
 * CentOS Stream: no machine-readable feed. The cloud root lists <N>-stream/
 * directories; <N>-stream/<arch>/images/ holds the -latest alias, ec2/Azure/
 * container variants, a second "GenericCloud-<arch>-<N>" image, and the dated
 * GenericCloud builds. The newest build is sometimes listed hours before its
 * CHECKSUM line appears (VENDORS.md 1.2), so the directory's CHECKSUM is read
 * and the newest build that it lists is taken. cloud.centos.org refuses
 * requests without a User-Agent; the library always sends one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/vendors/centos-stream.h"
#include "util/cleanup.h"

static const char *const bases[] = { "cloud", "https://cloud.centos.org/centos/", NULL };

/* Stream numbers are short; anything longer is not one. */
#define STREAM_MAX 8
/* Dated builds kept per directory; the real ones hold a few dozen. */
#define IMAGES_MAX 4096

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* "10-stream/" → 2 (the length of "10"), else 0. */
static size_t stream_dir(const char *e)
{
	const char *dash = strchr(e, '-');
	if (!dash || strcmp(dash, "-stream/") != 0)
		return 0;
	size_t n = (size_t)(dash - e);
	return n <= STREAM_MAX && all_digits(e, n) ? n : 0;
}

int centos_stream_pick_release(char *const *listing, const char *release, char **ret_stream, char ***known)
{
	*ret_stream = NULL;
	*known = NULL;
	bool latest = strcmp(release, "latest") == 0;
	/* "10-stream" names stream 10 too. */
	size_t rl = strcspn(release, "-");
	if (!latest && release[rl] && strcmp(release + rl, "-stream") != 0)
		rl = 0;
	char best[STREAM_MAX + 1] = "";
	size_t nknown = 0;
	for (size_t i = 0; listing && listing[i]; i++) {
		size_t n = stream_dir(listing[i]);
		if (!n)
			continue;
		char d[STREAM_MAX + 1];
		memcpy(d, listing[i], n);
		d[n] = 0;
		if (latest ? !best[0] || version_cmp(d, best) > 0 : (n == rl && memcmp(d, release, n) == 0))
			memcpy(best, d, n + 1);
		bool dup = false;
		for (size_t j = 0; j < nknown; j++)
			dup = dup || strcmp((*known)[j], d) == 0;
		if (dup)
			continue;
		char **nv = realloc(*known, (nknown + 2) * sizeof(**known));
		if (!nv || !(nv[nknown] = strdup(d))) {
			if (nv)
				nv[nknown] = NULL;
			strv_free(nv ? nv : *known);
			*known = NULL;
			return -ENOMEM;
		}
		*known = nv;
		nv[++nknown] = NULL;
	}
	if (!best[0])
		return -ENOENT;
	strv_free(*known);
	*known = NULL;
	return (*ret_stream = strdup(best)) ? 0 : -ENOMEM;
}

/* Newest first; the build part "YYYYMMDD.k" compares numerically. */
static int newer_first(const void *a, const void *b)
{
	return version_cmp(*(char *const *)b, *(char *const *)a);
}

char **centos_stream_images(char *const *listing, const char *stream, const char *arch)
{
	char prefix[64], suffix[64];
	snprintf(prefix, sizeof(prefix), "CentOS-Stream-GenericCloud-%s-", stream);
	snprintf(suffix, sizeof(suffix), ".%s.qcow2", arch);
	size_t pl = strlen(prefix), sl = strlen(suffix), n = 0;
	char **v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	for (size_t i = 0; listing && listing[i] && n < IMAGES_MAX; i++) {
		const char *s = listing[i];
		size_t len = strlen(s);
		if (len <= pl + sl || strncmp(s, prefix, pl) != 0 || strcmp(s + len - sl, suffix) != 0)
			continue;
		/* "<YYYYMMDD>[.<k>]" between them: not "latest", not "x86_64-10-…" */
		const char *b = s + pl;
		size_t bl = len - pl - sl, dot = strcspn(b, ".");
		if (dot > bl)
			dot = bl;
		if (dot != 8 || !all_digits(b, 8) || (dot < bl && !all_digits(b + dot + 1, bl - dot - 1)))
			continue;
		bool dup = false;
		for (size_t j = 0; j < n; j++)
			dup = dup || strcmp(v[j], s) == 0;
		if (dup)
			continue; /* index pages link an entry twice */
		char **nv = realloc(v, (n + 2) * sizeof(*v));
		if (!nv || !(nv[n] = strdup(s))) {
			if (nv)
				nv[n] = NULL;
			strv_free(nv ? nv : v);
			return NULL;
		}
		v = nv;
		v[++n] = NULL;
	}
	qsort(v, n, sizeof(*v), newer_first);
	return v;
}

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	_cleanup_free_ char *root = vendor_url(req, "cloud", "%s", "");
	if (!root)
		return IMGFETCH_E_FAILED;
	char **names = NULL, **known = NULL, **cands = NULL;
	imgfetch_status st = listing_get(req, root, &names);
	if (st < 0)
		return st;
	_cleanup_free_ char *stream = NULL, *images = NULL, *sums_url = NULL, *sums = NULL;
	int e = centos_stream_pick_release(names, req->release, &stream, &known);
	strv_free(names);
	names = NULL;
	if (e == -ENOENT) {
		/* No stream directories at all: not the cloud index. */
		st = known ? fail_unknown_release(req, known, strv_len(known))
		           : ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "centos-stream: %s lists no <N>-stream directories",
		                      root);
		strv_free(known);
		return st;
	}
	if (e < 0)
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	if (!(images = vendor_url(req, "cloud", "%s-stream/%s/images/", stream, req->arch)) ||
	    !(sums_url = vendor_url(req, "cloud", "%s-stream/%s/images/CHECKSUM", stream, req->arch)))
		return IMGFETCH_E_FAILED;
	st = listing_get(req, images, &names);
	if (st == IMGFETCH_E_NOT_FOUND)
		return ifx_fail(req->ctx, IMGFETCH_E_NOT_FOUND, "centos-stream %s: no %s images (%s not found)", stream,
		                req->arch, images);
	if (st < 0)
		return st;
	cands = centos_stream_images(names, stream, req->arch);
	strv_free(names);
	if (!cands)
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	if (!cands[0]) {
		st = ifx_fail(req->ctx, IMGFETCH_E_NOT_FOUND,
		              "centos-stream %s: no dated CentOS-Stream-GenericCloud-%s-*.%s.qcow2 image in %s", stream,
		              stream, req->arch, images);
		goto out;
	}
	size_t len = 0;
	st = feed_get(req, sums_url, IMGFETCH_SUMS_MAX_BYTES, "checksum file", &sums, &len);
	if (st == IMGFETCH_E_NOT_FOUND)
		st = ifx_fail(req->ctx, IMGFETCH_E_NOT_FOUND, "centos-stream %s: %s not found", stream, sums_url);
	if (st < 0)
		goto out;
	/* The newest build that CHECKSUM already lists. */
	const char *file = NULL;
	for (size_t i = 0; cands[i] && !file; i++) {
		imgfetch_checksum c;
		if (imgfetch_sums_lookup(sums, len, cands[i], &c, NULL) == IMGFETCH_OK)
			file = cands[i];
	}
	if (!file) {
		st = ifx_fail(req->ctx, IMGFETCH_E_NOT_FOUND, "centos-stream %s: %s lists none of the %zu %s images in %s",
		              stream, sums_url, strv_len(cands), req->arch, images);
		goto out;
	}
	r->verifier = IMGFETCH_VERIFIER_SUMS;
	/* version: "10-20260720.0" from "CentOS-Stream-GenericCloud-10-20260720.0.x86_64.qcow2" */
	const char *b = file + strlen("CentOS-Stream-GenericCloud-");
	char *version = strndup(b, strlen(b) - strlen(req->arch) - strlen("..qcow2"));
	if (!version || !(r->url = vendor_url(req, "cloud", "%s-stream/%s/images/%s", stream, req->arch, file)) ||
	    !set_str(&r->version, version) || !set_str(&r->sums_url, sums_url) || !set_str(&r->series, stream) ||
	    !set_str(&r->file_name, file) ||
	    !set_str(&r->description, "CentOS Stream Generic Cloud image (cloud-init)"))
		st = ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	free(version);
out:
	strv_free(cands);
	return st;
}

const vendor_def vendor_centos_stream = {
	.pub = {
		.name = "centos-stream",
		.title = "CentOS Stream",
		.os = "linux",
		.releases = "latest, stream (9, 10 or 10-stream)",
		.arches = "x86_64 aarch64",
		.format = "qcow2",
		.verifier = "CHECKSUM (BSD) in the image directory",
		.evidence = "checksum",
		.homepage = "https://www.centos.org",
		.bases = bases,
	},
	.resolve = resolve,
};
