/* SPDX-License-Identifier: MIT */
/*
 * The trees of the Enterprise Linux rebuilds (AlmaLinux, Rocky Linux): no
 * machine-readable feed. The root lists integer major directories (symlinks
 * to the newest minor) beside major.minor ones (9.10 sorts after 9.9:
 * version_cmp, never strcmp); the images directory holds rolling aliases
 * (-latest, .latest.), other variants (ext4, LVM, OpenNebula, EC2, Azure...)
 * and the dated GenericCloud builds, of which the newest dated one is taken,
 * so the result does not change under the user's feet. The directory's
 * CHECKSUM (GNU or BSD format) lists it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/vendors/el_tree.h"
#include "util/cleanup.h"

/* Release directory names are short; anything longer is not one. */
#define DIR_MAX 16

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

int el_pick_release(char *const *listing, const char *release, char **ret_dir, char ***known)
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
		if (strv_push_unique(known, &nknown, d) < 0) {
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

char *el_pick_image(char *const *listing, const char *name_head, const char *name_tail, const char *dir, const char *arch,
                    char **ret_version)
{
	*ret_version = NULL;
	char major[DIR_MAX + 1], prefix[64], suffix[64];
	snprintf(major, sizeof(major), "%.*s", (int)strcspn(dir, "."), dir);
	snprintf(prefix, sizeof(prefix), "%s%s%s", name_head, major, name_tail);
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

imgfetch_status el_resolve(const vendor_req *req, const el_tree *t, imgfetch_resolved *r)
{
	const char *vname = req->vendor->pub.name;
	_cleanup_free_ char *root = vendor_url(req, t->base, "%s", "");
	if (!root)
		return IMGFETCH_E_FAILED;
	char **names = NULL, **known = NULL;
	imgfetch_status st = listing_get(req, root, &names);
	if (st < 0)
		return st;
	_cleanup_free_ char *ver = NULL, *images = NULL, *file = NULL, *version = NULL;
	int e = el_pick_release(names, req->release, &ver, &known);
	strv_free(names);
	names = NULL;
	if (e == -ENOENT) {
		/* No release directories at all: not the vendor's tree. */
		st = known ? fail_unknown_release(req, known, strv_len(known))
		           : ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "%s: %s lists no release directories", vname, root);
		strv_free(known);
		return st;
	}
	if (e < 0)
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	images = t->cloud_dir ? vendor_url(req, t->base, "%s/cloud/%s/images/", ver, req->arch)
	                      : vendor_url(req, t->base, "%s/images/%s/", ver, req->arch);
	if (!images)
		return IMGFETCH_E_FAILED;
	st = listing_get(req, images, &names);
	if (st == IMGFETCH_E_NOT_FOUND)
		return ifx_fail(req->ctx, IMGFETCH_E_NOT_FOUND, "%s %s: no %s images (%s not found)", vname, ver,
		                req->arch, images);
	if (st < 0)
		return st;
	file = el_pick_image(names, t->name_head, t->name_tail, ver, req->arch, &version);
	strv_free(names);
	if (!file)
		return ifx_fail(req->ctx, IMGFETCH_E_NOT_FOUND, "%s %s: no dated GenericCloud %s qcow2 image in %s", vname,
		                ver, req->arch, images);
	r->verifier = IMGFETCH_VERIFIER_SUMS;
	if (!(r->url = vendor_url(req, t->base, "%s%s", images + strlen(root), file)) ||
	    !(r->sums_url = vendor_url(req, t->base, "%sCHECKSUM", images + strlen(root))) ||
	    (t->signed_checksum && !(r->signature_url = vendor_url(req, t->base, "%sCHECKSUM.asc", images + strlen(root)))))
		return IMGFETCH_E_FAILED;
	if (t->signed_checksum)
		r->evidence = IMGFETCH_EVIDENCE_SIGNATURE;
	char series[DIR_MAX + 1];
	snprintf(series, sizeof(series), "%.*s", (int)strcspn(ver, "."), ver);
	if (!set_str(&r->series, series) || !set_str(&r->version, version) || !set_str(&r->file_name, file) ||
	    !set_str(&r->description, t->description))
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	return IMGFETCH_OK;
}
