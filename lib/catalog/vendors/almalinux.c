/* SPDX-License-Identifier: MIT */
/*
 * AlmaLinux OS: no machine-readable feed. The repository root lists integer
 * major directories (symlinks to the newest minor) beside major.minor ones;
 * the images directory holds the rolling -latest names, ext4 and OpenNebula
 * variants and the dated GenericCloud builds, of which the newest is taken
 * (a dated name, so the result does not change under the user's feet). The
 * directory's CHECKSUM (GNU format) lists it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/vendors/almalinux.h"
#include "util/cleanup.h"

static const char *const bases[] = { "repo", "https://repo.almalinux.org/almalinux/", NULL };

/* Release directory names are short; anything longer is not one. */
#define DIR_MAX 16

static int add_unique(char ***v, size_t *n, const char *s, size_t len)
{
	for (size_t i = 0; i < *n; i++)
		if (strlen((*v)[i]) == len && memcmp((*v)[i], s, len) == 0)
			return 0;
	char **nv = realloc(*v, (*n + 2) * sizeof(**v));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	if (!(nv[*n] = strndup(s, len)))
		return -ENOMEM;
	nv[++*n] = NULL;
	return 0;
}

/* "10/" or "9.6/" → its length without the '/', else 0. */
static size_t release_dir(const char *e)
{
	size_t n = strlen(e);
	if (n < 2 || n > DIR_MAX || e[n - 1] != '/')
		return 0;
	char buf[DIR_MAX + 1];
	memcpy(buf, e, n - 1);
	buf[n - 1] = 0;
	/* one dot at most: major or major.minor */
	return version_is_numeric(buf) && strchr(buf, '.') == strrchr(buf, '.') ? n - 1 : 0;
}

int almalinux_pick_release(char *const *listing, const char *release, char **ret_dir, char ***known)
{
	*ret_dir = NULL;
	*known = NULL;
	bool latest = strcmp(release, "latest") == 0;
	char best[DIR_MAX + 1] = "";
	size_t nknown = 0;
	for (size_t i = 0; listing && listing[i]; i++) {
		size_t n = release_dir(listing[i]);
		if (!n)
			continue;
		char d[DIR_MAX + 1];
		memcpy(d, listing[i], n);
		d[n] = 0;
		if (latest ? !strchr(d, '.') && (!best[0] || version_cmp(d, best) > 0) : strcmp(d, release) == 0)
			memcpy(best, d, n + 1);
		if (add_unique(known, &nknown, d, n) < 0) {
			strv_free(*known);
			*known = NULL;
			return -ENOMEM;
		}
	}
	if (!best[0])
		return -ENOENT;
	strv_free(*known);
	*known = NULL;
	return (*ret_dir = strdup(best)) ? 0 : -ENOMEM;
}

/* "<N.M>-<YYYYMMDD>[.<n>]" of major N (and exactly `minor` when given). */
static bool dated_build(const char *s, size_t len, const char *major, const char *minor)
{
	const char *dash = memchr(s, '-', len);
	if (!dash || (size_t)(dash - s) > DIR_MAX)
		return false;
	char ver[DIR_MAX + 1];
	memcpy(ver, s, (size_t)(dash - s));
	ver[dash - s] = 0;
	size_t ml = strlen(major);
	if (!version_is_numeric(ver) || strncmp(ver, major, ml) != 0 || ver[ml] != '.' || strchr(ver + ml + 1, '.') ||
	    (minor && strcmp(ver, minor) != 0))
		return false;
	const char *d = dash + 1, *end = s + len;
	if (end - d < 8 || strspn(d, "0123456789") < 8)
		return false;
	d += 8;
	if (d == end)
		return true;
	if (*d != '.' || d + 1 == end)
		return false;
	for (d++; d < end; d++)
		if (*d < '0' || *d > '9')
			return false;
	return true;
}

char *almalinux_pick_image(char *const *listing, const char *dir, const char *arch, char **ret_version)
{
	*ret_version = NULL;
	char major[DIR_MAX + 1], prefix[64], suffix[64];
	snprintf(major, sizeof(major), "%.*s", (int)strcspn(dir, "."), dir);
	snprintf(prefix, sizeof(prefix), "AlmaLinux-%s-GenericCloud-", major);
	snprintf(suffix, sizeof(suffix), ".%s.qcow2", arch);
	size_t pl = strlen(prefix), sl = strlen(suffix);
	const char *best = NULL;
	char best_ver[64] = "";
	for (size_t i = 0; listing && listing[i]; i++) {
		const char *n = listing[i];
		size_t len = strlen(n);
		if (len <= pl + sl || len - pl - sl >= sizeof(best_ver) || strncmp(n, prefix, pl) != 0 ||
		    strcmp(n + len - sl, suffix) != 0)
			continue;
		char ver[64];
		snprintf(ver, sizeof(ver), "%.*s", (int)(len - pl - sl), n + pl);
		if (!dated_build(ver, strlen(ver), major, strchr(dir, '.') ? dir : NULL))
			continue;
		if (!best || version_cmp(ver, best_ver) > 0) {
			best = n;
			snprintf(best_ver, sizeof(best_ver), "%s", ver);
		}
	}
	if (!best)
		return NULL;
	char *file = strdup(best);
	if (!file || !(*ret_version = strdup(best_ver))) {
		free(file);
		return NULL;
	}
	return file;
}

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	_cleanup_free_ char *root = vendor_url(req, "repo", "%s", "");
	if (!root)
		return IMGFETCH_E_FAILED;
	char **names = NULL, **known = NULL;
	imgfetch_status st = listing_get(req, root, &names);
	if (st < 0)
		return st;
	_cleanup_free_ char *ver = NULL, *images = NULL, *file = NULL, *version = NULL;
	int e = almalinux_pick_release(names, req->release, &ver, &known);
	strv_free(names);
	names = NULL;
	if (e == -ENOENT) {
		/* No release directories at all: not the repository index. */
		st = known ? fail_unknown_release(req, known, strv_len(known))
		           : ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "almalinux: %s lists no release directories", root);
		strv_free(known);
		return st;
	}
	if (e < 0)
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	if (!(images = vendor_url(req, "repo", "%s/cloud/%s/images/", ver, req->arch)))
		return IMGFETCH_E_FAILED;
	st = listing_get(req, images, &names);
	if (st == IMGFETCH_E_NOT_FOUND)
		return ifx_fail(req->ctx, IMGFETCH_E_NOT_FOUND, "almalinux %s: no %s images (%s not found)", ver,
		                req->arch, images);
	if (st < 0)
		return st;
	file = almalinux_pick_image(names, ver, req->arch, &version);
	strv_free(names);
	if (!file)
		return ifx_fail(req->ctx, IMGFETCH_E_NOT_FOUND,
		                "almalinux %s: no dated AlmaLinux-%.*s-GenericCloud-*.%s.qcow2 image in %s", ver,
		                (int)strcspn(ver, "."), ver, req->arch, images);
	r->verifier = IMGFETCH_VERIFIER_SUMS;
	if (!(r->url = vendor_url(req, "repo", "%s/cloud/%s/images/%s", ver, req->arch, file)) ||
	    !(r->sums_url = vendor_url(req, "repo", "%s/cloud/%s/images/CHECKSUM", ver, req->arch)))
		return IMGFETCH_E_FAILED;
	char series[DIR_MAX + 1];
	snprintf(series, sizeof(series), "%.*s", (int)strcspn(ver, "."), ver);
	if (!set_str(&r->series, series) || !set_str(&r->version, version) || !set_str(&r->file_name, file) ||
	    !set_str(&r->description, "AlmaLinux OS Generic Cloud image (cloud-init)"))
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	return IMGFETCH_OK;
}

const vendor_def vendor_almalinux = {
	.pub = {
		.name = "almalinux",
		.title = "AlmaLinux OS",
		.os = "linux",
		.releases = "latest, major (9, 10) or major.minor (9.6)",
		.arches = "x86_64 aarch64",
		.format = "qcow2",
		.verifier = "CHECKSUM (GNU) in the image directory",
		.homepage = "https://almalinux.org",
		.bases = bases,
	},
	.resolve = resolve,
};
