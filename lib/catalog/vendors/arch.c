/* SPDX-License-Identifier: MIT */
/*
 * Arch Linux (arch-boxes): no feed. images/ lists v<YYYYMMDD>.<pipeline>/
 * directories (and a rolling latest/, which we avoid so that the version we
 * report is the one we download). The newest is the lexically highest: the
 * date leads and has a fixed width. Each image has a GNU-format
 * <image>.SHA256 sidecar; its upper-case extension is not one the
 * downloader's sidecar mode tries, so it is used as a one-line sums file.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/vendors/arch.h"
#include "util/cleanup.h"

static const char *const bases[] = { "images", "https://geo.mirror.pkgbuild.com/images/", NULL };

/* Longest build token we accept ("20261101.123456" is 15); bounds copies. */
#define BUILD_MAX 40

/* "<digits>.<digits>" */
static bool is_build(const char *s, size_t l)
{
	if (l == 0 || l > BUILD_MAX)
		return false;
	/* YYYYMMDD.N: a fixed-width date, so that "99.1" is not a build. */
	size_t d = strspn(s, "0123456789");
	if (d != 8 || d >= l || s[d] != '.')
		return false;
	size_t d2 = strspn(s + d + 1, "0123456789");
	return d2 > 0 && d + 1 + d2 == l;
}

static int cmp_desc(const void *a, const void *b)
{
	return version_cmp(*(char *const *)b, *(char *const *)a);
}

int arch_pick_build(char *const *listing, const char *release, char **ret, char ***known)
{
	*ret = NULL;
	*known = NULL;
	size_t n = 0;
	for (size_t i = 0; listing && listing[i]; i++)
		n++;
	char **v = calloc(n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; listing && listing[i]; i++) {
		const char *s = listing[i];
		size_t l = strlen(s);
		if (s[0] != 'v' || l < 3 || s[l - 1] != '/' || !is_build(s + 1, l - 2))
			continue;
		bool dup = false;
		for (size_t j = 0; j < k && !dup; j++)
			dup = strlen(v[j]) == l - 2 && strncmp(v[j], s + 1, l - 2) == 0;
		if (dup)
			continue;
		if (!(v[k++] = strndup(s + 1, l - 2))) {
			strv_free(v);
			return -ENOMEM;
		}
	}
	qsort(v, k, sizeof(*v), cmp_desc);
	const char *want = strcmp(release, "latest") == 0 ? NULL : release + (release[0] == 'v');
	for (size_t i = 0; i < k; i++) {
		if (!want || strcmp(v[i], want) == 0) {
			*ret = strdup(v[i]);
			strv_free(v);
			return *ret ? 0 : -ENOMEM;
		}
	}
	*known = v;
	return -ENOENT;
}

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	/* arch-boxes builds x86_64 only; the catalog refuses other arches from
	 * .arches before we get here, this keeps the resolver honest on its own. */
	if (strcmp(req->arch, "x86_64") != 0)
		return fail_unknown_arch(req, "x86_64");
	_cleanup_free_ char *top = vendor_url(req, "images", "%s", "");
	if (!top)
		return IMGFETCH_E_FAILED;
	char **names = NULL;
	imgfetch_status st = listing_get(req, top, &names);
	if (st == IMGFETCH_E_NOT_FOUND)
		return ifx_fail(req->ctx, st, "arch: no image index at %s", top);
	if (st < 0)
		return st;
	_cleanup_free_ char *build = NULL;
	char **known = NULL;
	int e = arch_pick_build(names, req->release, &build, &known);
	strv_free(names);
	if (e == -ENOMEM)
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	if (e == -ENOENT) {
		size_t n = strv_len(known);
		st = n == 0 ? ifx_fail(req->ctx, IMGFETCH_E_FORMAT,
		                       "arch: malformed listing %s: no v<date>.<build>/ directories", top)
		            : fail_unknown_release(req, known, n);
		strv_free(known);
		return st;
	}
	char file[128];
	snprintf(file, sizeof(file), "Arch-Linux-x86_64-cloudimg-%s.qcow2", build);
	char series[16];
	/* The build date names the release line (YYYYMMDD). */
	snprintf(series, sizeof(series), "%.*s", (int)strcspn(build, "."), build);
	r->verifier = IMGFETCH_VERIFIER_SUMS;
	if (!(r->url = vendor_url(req, "images", "v%s/%s", build, file)) ||
	    !(r->sums_url = vendor_url(req, "images", "v%s/%s.SHA256", build, file)) ||
	    !(r->signature_url = vendor_url(req, "images", "v%s/%s.SHA256.sig", build, file)))
		return IMGFETCH_E_FAILED;
	r->evidence = IMGFETCH_EVIDENCE_SIGNATURE;
	if (!set_str(&r->series, series) || !set_str(&r->version, build) || !set_str(&r->file_name, file) ||
	    !set_str(&r->description, "Arch Linux cloud image (arch-boxes, cloud-init)"))
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	return IMGFETCH_OK;
}

const vendor_def vendor_arch = {
	.pub = {
		.name = "arch",
		.title = "Arch Linux",
		.os = "linux",
		.releases = "latest, build (v20261101.123456 or 20261101.123456)",
		.arches = "x86_64",
		.format = "qcow2",
		.verifier = "<image>.SHA256 (GNU) as a sums file, signed (<image>.SHA256.sig)",
		.evidence = "signature",
		.signature = "<image>.SHA256.sig by 1B9A16984A4E8CB448712D2AE0B78BF4326C6F8F (subkey 656E4C5A…, expires 2027-05-28)",
		.homepage = "https://archlinux.org",
		.bases = bases,
	},
	.resolve = resolve,
};
