/* SPDX-License-Identifier: MIT */
/*
 * FreeBSD: no machine-readable feed. VM-IMAGES/ lists X.Y-RELEASE/
 * directories; the newest is the numerically highest (15.0 > 14.10 > 14.3,
 * which a lexical sort gets wrong). Each release has <arch>/Latest/ with the
 * images and a BSD-format CHECKSUM.SHA256 covering the compressed files.
 * We take the BASIC-CLOUDINIT UFS raw image: cloud-init (nuageinit) aware,
 * and UFS needs no ZFS pool import on first boot.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/vendors/freebsd.h"
#include "util/cleanup.h"

/* The signed checksums of a release's VM images are not beside them but in
 * the web site's release notes tree, clearsigned by the release engineer. */
static const char *const bases[] = { "download", "https://download.freebsd.org/releases/VM-IMAGES/",
	                             "www", "https://www.freebsd.org/", NULL };

/* "X.Y-RELEASE/" → length of "X.Y", or 0 when the entry is something else
 * (BETA/RC dirs, files, README). */
static size_t release_len(const char *n)
{
	const char *dash = strstr(n, "-RELEASE");
	if (!dash || strcmp(dash, "-RELEASE/") != 0)
		return 0;
	size_t l = (size_t)(dash - n);
	/* Two numeric parts exactly; 32 bounds the copies below. */
	char tmp[32];
	if (l == 0 || l >= sizeof(tmp))
		return 0;
	memcpy(tmp, n, l);
	tmp[l] = '\0';
	if (!version_is_numeric(tmp) || !strchr(tmp, '.') || strchr(tmp, '.') != strrchr(tmp, '.'))
		return 0;
	return l;
}

static int cmp_desc(const void *a, const void *b)
{
	return version_cmp(*(char *const *)b, *(char *const *)a);
}

int freebsd_pick_release(char *const *listing, const char *release, char **ret, char ***known)
{
	*ret = NULL;
	*known = NULL;
	size_t n = 0;
	for (size_t i = 0; listing && listing[i]; i++)
		n += release_len(listing[i]) > 0;
	char **v = calloc(n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; listing && listing[i]; i++) {
		size_t l = release_len(listing[i]);
		if (!l)
			continue;
		bool dup = false;
		for (size_t j = 0; j < k && !dup; j++)
			dup = strlen(v[j]) == l && strncmp(v[j], listing[i], l) == 0;
		if (dup) /* index pages link an entry twice */
			continue;
		if (!(v[k++] = strndup(listing[i], l))) {
			strv_free(v);
			return -ENOMEM;
		}
	}
	qsort(v, k, sizeof(*v), cmp_desc);
	/* "14.3-RELEASE" and "14.3" name the same release. */
	char want[32] = "";
	if (strcmp(release, "latest") != 0) {
		size_t rl = strlen(release);
		if (rl > 8 && strcmp(release + rl - 8, "-RELEASE") == 0)
			rl -= 8;
		if (rl < sizeof(want))
			snprintf(want, sizeof(want), "%.*s", (int)rl, release);
		else
			snprintf(want, sizeof(want), "-"); /* too long to be a release */
	}
	for (size_t i = 0; i < k; i++) {
		if (!want[0] || strcmp(v[i], want) == 0) {
			if (!(*ret = strdup(v[i]))) {
				strv_free(v);
				return -ENOMEM;
			}
			strv_free(v);
			return 0;
		}
	}
	*known = v;
	return -ENOENT;
}

bool freebsd_arch_tokens(const char *arch, const char **dir, const char **file)
{
	if (strcmp(arch, "x86_64") == 0) {
		*dir = "amd64";
		*file = "amd64";
		return true;
	}
	if (strcmp(arch, "aarch64") == 0) {
		*dir = "aarch64";
		*file = "arm64-aarch64";
		return true;
	}
	return false;
}

/* The imgfetch arch names of the arch dirs in a release's listing. */
static void arches_of(char *const *names, char *buf, size_t len)
{
	bool x = false, a = false;
	for (size_t i = 0; names && names[i]; i++) {
		x |= strcmp(names[i], "amd64/") == 0;
		a |= strcmp(names[i], "aarch64/") == 0;
	}
	snprintf(buf, len, "%s%s%s", x ? "x86_64" : "", x && a ? " " : "", a ? "aarch64" : "");
	if (!buf[0])
		snprintf(buf, len, "none");
}

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	const char *dir_arch, *file_arch;
	if (!freebsd_arch_tokens(req->arch, &dir_arch, &file_arch))
		return fail_unknown_arch(req, req->vendor->pub.arches);
	_cleanup_free_ char *top = vendor_url(req, "download", "%s", "");
	if (!top)
		return IMGFETCH_E_FAILED;
	char **names = NULL;
	imgfetch_status st = listing_get(req, top, &names);
	if (st == IMGFETCH_E_NOT_FOUND)
		return ifx_fail(req->ctx, st, "freebsd: no release index at %s", top);
	if (st < 0)
		return st;
	_cleanup_free_ char *ver = NULL;
	char **known = NULL;
	int e = freebsd_pick_release(names, req->release, &ver, &known);
	strv_free(names);
	names = NULL;
	if (e == -ENOMEM)
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	if (e == -ENOENT) {
		size_t n = strv_len(known);
		/* An index without a single release is not FreeBSD's VM-IMAGES. */
		st = n == 0 ? ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "freebsd: malformed listing %s: no X.Y-RELEASE/ "
		                                                    "directories", top)
		            : fail_unknown_release(req, known, n);
		strv_free(known);
		return st;
	}

	/* The release directory says which architectures were built. */
	_cleanup_free_ char *rel = vendor_url(req, "download", "%s-RELEASE/", ver);
	if (!rel)
		return IMGFETCH_E_FAILED;
	if ((st = listing_get(req, rel, &names)) < 0)
		return st == IMGFETCH_E_NOT_FOUND ? ifx_fail(req->ctx, st, "freebsd %s: %s is listed but missing", ver, rel)
		                                  : st;
	char arches[64];
	arches_of(names, arches, sizeof(arches));
	strv_free(names);
	if (!word_in_list(arches, req->arch))
		return fail_unknown_arch(req, arches);

	char file[160];
	snprintf(file, sizeof(file), "FreeBSD-%s-RELEASE-%s-BASIC-CLOUDINIT-ufs.raw.xz", ver, file_arch);
	char series[32];
	snprintf(series, sizeof(series), "%.*s", (int)strcspn(ver, "."), ver);
	r->verifier = IMGFETCH_VERIFIER_SUMS;
	if (!(r->url = vendor_url(req, "download", "%s-RELEASE/%s/Latest/%s", ver, dir_arch, file)) ||
	    !(r->sums_url = vendor_url(req, "www", "releases/%sR/checksums/CHECKSUM.SHA256-FreeBSD-%s-RELEASE-%s-vm.asc",
	                               ver, ver, file_arch)))
		return IMGFETCH_E_FAILED;
	r->evidence = IMGFETCH_EVIDENCE_SIGNATURE;
	if (!set_str(&r->series, series) || !set_str(&r->version, ver) || !set_str(&r->file_name, file) ||
	    !set_str(&r->description, "FreeBSD BASIC-CLOUDINIT VM image (UFS)"))
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	return IMGFETCH_OK;
}

const vendor_def vendor_freebsd = {
	.pub = {
		.name = "freebsd",
		.title = "FreeBSD",
		.os = "bsd",
		.releases = "latest, release (14.3, 15.0 or 14.3-RELEASE)",
		.arches = "x86_64 aarch64",
		.format = "raw.xz",
		.verifier = "www.freebsd.org/releases/<X.Y>R/checksums/CHECKSUM.SHA256-FreeBSD-<X.Y>-RELEASE-<arch>-vm.asc "
		            "(BSD), clearsigned",
		.evidence = "signature",
		.signature = "CHECKSUM.SHA256-…-vm.asc clearsigned by 82563B84D0620EDC0DFB86413897F2E22E65AD3F",
		.homepage = "https://www.freebsd.org",
		.bases = bases,
	},
	.resolve = resolve,
};
