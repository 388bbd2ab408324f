/* SPDX-License-Identifier: MIT */
/*
 * OmniOS: https://downloads.omnios.org/media/<channel>/ holds the current
 * images of each channel (stable, lts, bloody), among them
 * omnios-<id>.cloud.vmdk (stable/lts: rNNNNNN, LTS refreshes add a letter
 * such as r151054r; bloody: bloody-YYYYMMDD) with a bare-hex <image>.sha256
 * beside it. Old releases are not kept, so a release id is looked up in the
 * stable and then the lts channel.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/vendors/omnios.h"
#include "util/cleanup.h"

static const char *const bases[] = { "media", "https://downloads.omnios.org/media/", NULL };

static const char *const channels[] = { "stable", "lts", "bloody" };

#define PREFIX "omnios-"
#define SUFFIX ".cloud.vmdk"

static bool all_digits(const char *s, size_t n)
{
	return strspn(s, "0123456789") >= n;
}

bool omnios_image_id(const char *name, char *id, size_t idlen)
{
	size_t nl = strlen(name), pl = strlen(PREFIX), sl = strlen(SUFFIX);
	if (nl <= pl + sl || strncmp(name, PREFIX, pl) != 0 || strcmp(name + nl - sl, SUFFIX) != 0)
		return false;
	const char *s = name + pl;
	size_t n = nl - pl - sl;
	bool ok = (n == 7 && s[0] == 'r' && all_digits(s + 1, 6)) ||
	          (n == 8 && s[0] == 'r' && all_digits(s + 1, 6) && s[7] >= 'a' && s[7] <= 'z') ||
	          (n == 15 && strncmp(s, "bloody-", 7) == 0 && all_digits(s + 7, 8));
	if (!ok || n >= idlen)
		return false;
	memcpy(id, s, n);
	id[n] = '\0';
	return true;
}

char *omnios_pick_image(char *const *listing, const char *want)
{
	const char *best = NULL;
	char best_id[32] = "";
	size_t wl = want ? strlen(want) : 0;
	/* "r151054" also names its refreshes; "r151054r" names only itself. */
	bool line = want && wl == 7 && want[0] == 'r' && all_digits(want + 1, 6);
	for (size_t i = 0; listing && listing[i]; i++) {
		char id[32];
		if (!omnios_image_id(listing[i], id, sizeof(id)))
			continue;
		if (want && strcmp(id, want) != 0 && !(line && strncmp(id, want, wl) == 0 && strlen(id) == wl + 1))
			continue;
		if (!best || version_cmp(id, best_id) > 0) {
			best = listing[i];
			snprintf(best_id, sizeof(best_id), "%s", id);
		}
	}
	return best ? strdup(best) : NULL;
}

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	if (strcmp(req->arch, "x86_64") != 0)
		return fail_unknown_arch(req, "x86_64");
	const char *rel = strcmp(req->release, "latest") == 0 ? "stable" : req->release;
	bool is_channel = false;
	for (size_t i = 0; i < 3; i++)
		is_channel |= strcmp(rel, channels[i]) == 0;
	/* A release id is searched in stable, then lts (bloody builds are
	 * named by date and asked for by channel). */
	const char *const search_ids[] = { "stable", "lts" };
	const char *const *search = is_channel ? &rel : search_ids;
	size_t nsearch = is_channel ? 1 : 2;

	imgfetch_status st = IMGFETCH_OK;
	char **known = NULL;
	size_t nknown = 0;
	for (size_t i = 0; i < 3; i++)
		if (strv_push_unique(&known, &nknown, channels[i]) < 0)
			goto oom;
	for (size_t i = 0; i < nsearch; i++) {
		_cleanup_free_ char *dir = vendor_url(req, "media", "%s/", search[i]);
		char **names = NULL;
		if (!dir) {
			st = IMGFETCH_E_FAILED;
			goto out;
		}
		if ((st = listing_get(req, dir, &names)) < 0)
			goto out;
		_cleanup_free_ char *file = omnios_pick_image(names, is_channel ? NULL : rel);
		_cleanup_free_ char *any = file ? NULL : omnios_pick_image(names, NULL);
		for (size_t j = 0; !file && names[j]; j++) {
			char id[32];
			if (omnios_image_id(names[j], id, sizeof(id)) && strv_push_unique(&known, &nknown, id) < 0) {
				strv_free(names);
				goto oom;
			}
		}
		strv_free(names);
		if (!file && !any) {
			/* Every channel always has a current image: an empty one
			 * is a broken or changed page, not an unknown release. */
			st = ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "omnios: no omnios-<id>" SUFFIX " image in %s", dir);
			goto out;
		}
		if (!file)
			continue;
		char id[32];
		omnios_image_id(file, id, sizeof(id));
		r->verifier = IMGFETCH_VERIFIER_SIDECAR;
		if (!(r->url = vendor_url(req, "media", "%s/%s", search[i], file))) {
			st = IMGFETCH_E_FAILED;
			goto out;
		}
		const char *version = strncmp(id, "bloody-", 7) == 0 ? id + 7 : id;
		if (!set_str(&r->series, search[i]) || !set_str(&r->version, version) || !set_str(&r->file_name, file) ||
		    !set_str(&r->description, "OmniOS Community Edition cloud image (illumos)"))
			goto oom;
		goto out;
	}
	st = fail_unknown_release(req, known, nknown);
	goto out;
oom:
	st = ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
out:
	strv_free(known);
	return st;
}

const vendor_def vendor_omnios = {
	.pub = {
		.name = "omnios",
		.title = "OmniOS",
		.os = "illumos",
		.releases = "latest (= stable), stable, lts, bloody, release (r151054)",
		.arches = "x86_64",
		.format = "vmdk",
		.verifier = "sidecar <image>.sha256",
		.evidence = "checksum",
		.homepage = "https://omnios.org",
		.bases = bases,
	},
	.resolve = resolve,
};
