/* SPDX-License-Identifier: MIT */
/*
 * Fedora Cloud: releases.json is a flat array of artifacts with their sha256
 * inline, so the image is PINNED by the feed. Pre-releases ("41 Beta") sit in
 * the same array and are skipped; several Cloud_Base artifacts exist per arch
 * (GCE tarball, EC2 raw.xz, Azure, Vagrant, UKI), only the Generic qcow2 is
 * taken. The feed's links are absolute on download.fedoraproject.org; the path
 * below /pub/fedora/linux/ is re-based onto the "download" base so that
 * --mirror covers the image too.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/vendors/fedora.h"
#include "util/cleanup.h"

static const char *const bases[] = { "www", "https://fedoraproject.org/", "download",
	                             "https://download.fedoraproject.org/pub/fedora/linux/", NULL };

#define LINUX_DIR "/pub/fedora/linux/"

void fedora_pick_clear(fedora_pick *p)
{
	free(p->version);
	free(p->link);
	free(p->sha256);
	*p = (fedora_pick){ 0 };
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

const char *fedora_link_path(const char *link)
{
	const char *p = strstr(link, LINUX_DIR);
	if (!p || (strncmp(link, "https://", 8) != 0 && strncmp(link, "http://", 7) != 0))
		return NULL;
	p += strlen(LINUX_DIR);
	/* The path is appended to a base URL: no way out of it, nothing that
	 * would change what the URL means. */
	if (!*p || strstr(p, "..") || strpbrk(p, "?#% \t\r\n\\"))
		return NULL;
	return p;
}

/* The generic cloud qcow2 entries: Cloud_Base (not _UKI), a .qcow2 link whose
 * file name says Generic (F40+; Vagrant and UKI images are qcow2 too). */
static bool is_cloud_image(json_t *e)
{
	const char *variant = json_string_value(json_object_get(e, "variant"));
	const char *sub = json_string_value(json_object_get(e, "subvariant"));
	const char *link = json_string_value(json_object_get(e, "link"));
	if (!variant || !sub || !link || strcmp(variant, "Cloud") != 0 || strcmp(sub, "Cloud_Base") != 0 ||
	    !ends_with(link, ".qcow2"))
		return false;
	const char *base = strrchr(link, '/');
	return base && strstr(base, "-Generic") != NULL;
}

static bool is_hex64(const char *s)
{
	if (!s || strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))
			return false;
	return true;
}

int fedora_parse_releases(const char *text, size_t len, const char *release, const char *arch, fedora_pick *ret,
                          char ***known, char *err, size_t errlen)
{
	*ret = (fedora_pick){ 0 };
	*known = NULL;
	if (len > FEED_MAX_BYTES) {
		snprintf(err, errlen, "larger than %u bytes", FEED_MAX_BYTES);
		return -EBADMSG;
	}
	json_error_t je;
	json_t *root = json_loadb(text, len, 0, &je);
	if (!json_is_array(root)) {
		snprintf(err, errlen, "%s", !root ? je.text : "not a JSON array");
		json_decref(root);
		return -EBADMSG;
	}
	/* Pass 1: the version wanted, among stable versions with a cloud image
	 * of any arch (so that an arch miss is told apart from a release miss). */
	const char *want = NULL;
	size_t i, nknown = 0, ncloud = 0;
	json_t *e;
	int r = 0;
	json_array_foreach(root, i, e) {
		const char *v = json_string_value(json_object_get(e, "version"));
		if (!is_cloud_image(e) || !v)
			continue;
		ncloud++;
		if (!version_is_numeric(v) || strlen(v) > 16)
			continue; /* "41 Beta" and other pre-releases */
		if (strcmp(release, "latest") == 0 ? (!want || version_cmp(v, want) > 0) : strcmp(v, release) == 0)
			want = v;
		if (strv_push_unique(known, &nknown, v) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (ncloud == 0) {
		snprintf(err, errlen, "no Cloud_Base Generic qcow2 entries");
		r = -EBADMSG;
		goto out;
	}
	if (!want) {
		r = -ENOENT;
		goto out;
	}
	/* Pass 2: its entry for arch; else the arches it has. */
	strv_free(*known);
	*known = NULL;
	nknown = 0;
	json_t *found = NULL;
	json_array_foreach(root, i, e) {
		const char *v = json_string_value(json_object_get(e, "version"));
		const char *a = json_string_value(json_object_get(e, "arch"));
		if (!is_cloud_image(e) || !v || !a || strcmp(v, want) != 0)
			continue;
		if (strcmp(a, arch) == 0) {
			found = e;
			break;
		}
		if (strv_push_unique(known, &nknown, a) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (!found) {
		r = -EXDEV;
		goto out;
	}
	strv_free(*known);
	*known = NULL;
	const char *link = json_string_value(json_object_get(found, "link"));
	const char *sha = json_string_value(json_object_get(found, "sha256"));
	json_t *size = json_object_get(found, "size");
	if (!is_hex64(sha)) {
		snprintf(err, errlen, "%s %s: no valid sha256", want, arch);
		r = -EBADMSG;
		goto out;
	}
	/* size is a string in the real feed; accept a number too. */
	uint64_t sz = 0;
	if (json_is_string(size)) {
		const char *s = json_string_value(size);
		char *end;
		unsigned long long n = strtoull(s, &end, 10);
		if (*s < '0' || *s > '9' || *end) {
			snprintf(err, errlen, "%s %s: size '%.32s' is not a number", want, arch, s);
			r = -EBADMSG;
			goto out;
		}
		sz = n;
	} else if (json_is_integer(size) && json_integer_value(size) >= 0) {
		sz = (uint64_t)json_integer_value(size);
	}
	ret->version = strdup(want);
	ret->link = strdup(link);
	ret->sha256 = strdup(sha);
	ret->size = sz;
	if (!ret->version || !ret->link || !ret->sha256) {
		fedora_pick_clear(ret);
		r = -ENOMEM;
		goto out;
	}
	for (char *c = ret->sha256; *c; c++)
		if (*c >= 'A' && *c <= 'F')
			*c = (char)(*c - 'A' + 'a');
out:
	if (r != -ENOENT && r != -EXDEV) {
		strv_free(*known);
		*known = NULL;
	}
	json_decref(root);
	return r;
}

/* "44-1.7" from "Fedora-Cloud-Base-Generic-44-1.7.x86_64.qcow2" (F41+) or
 * "Fedora-Cloud-Base-Generic.x86_64-40-1.14.qcow2" (F40); just the release
 * when the name has no build id. */
static char *build_id(const char *file, const char *version)
{
	char pat[32];
	snprintf(pat, sizeof(pat), "-%s-", version);
	const char *p = strstr(file, pat);
	if (p) {
		p += strlen(pat);
		size_t n = strspn(p, "0123456789.");
		while (n && p[n - 1] == '.')
			n--;
		if (n && n < 32) {
			char *s = NULL;
			if (asprintf(&s, "%s-%.*s", version, (int)n, p) < 0)
				return NULL;
			return s;
		}
	}
	return strdup(version);
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
	fedora_pick p;
	char **known = NULL;
	char err[256] = "";
	int e = fedora_parse_releases(text, len, req->release, req->arch, &p, &known, err, sizeof(err));
	if (e == -ENOENT) {
		st = fail_unknown_release(req, known, strv_len(known));
		strv_free(known);
		return st;
	}
	if (e == -EXDEV) {
		char arches[256] = "";
		size_t used = 0;
		for (size_t i = 0; known && known[i] && used < sizeof(arches) - 40; i++)
			used += (size_t)snprintf(arches + used, sizeof(arches) - used, "%s%.32s", i ? " " : "", known[i]);
		strv_free(known);
		return fail_unknown_arch(req, arches);
	}
	if (e == -ENOMEM)
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	if (e < 0)
		return ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "fedora: malformed release feed %s: %s", feed_url, err);

	const char *path = fedora_link_path(p.link);
	const char *file = strrchr(p.link, '/') + 1; /* is_cloud_image() saw a '/' */
	_cleanup_free_ char *version = NULL;
	if (!path) {
		st = ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "fedora: malformed release feed %s: link %.200s is not under %s",
		              feed_url, p.link, LINUX_DIR);
		goto out;
	}
	if (!(r->url = vendor_url(req, "download", "%s", path))) {
		st = IMGFETCH_E_FAILED;
		goto out;
	}
	r->verifier = IMGFETCH_VERIFIER_PINNED;
	r->size = p.size;
	/* releases.json is unsigned; the image directory's CHECKSUM
	 * ("Fedora-Cloud-<version>-<build>-<arch>-CHECKSUM") is clearsigned by
	 * the release's key. Without a build id its name is unknown. */
	if ((version = build_id(file, p.version)) && strchr(version, '-')) {
		size_t dirlen = (size_t)(strrchr(path, '/') - path);
		if (!(r->sums_url = vendor_url(req, "download", "%.*s/Fedora-Cloud-%s-%s-CHECKSUM", (int)dirlen, path,
		                               version, req->arch))) {
			st = IMGFETCH_E_FAILED;
			goto out;
		}
		r->evidence = IMGFETCH_EVIDENCE_SIGNATURE;
	}
	if (!version || !set_str(&r->series, p.version) || !set_str(&r->version, version) ||
	    !set_str(&r->file_name, file) || !set_str(&r->sha256, p.sha256) ||
	    !set_str(&r->description, "Fedora Cloud Base image (Generic, cloud-init)"))
		st = ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
out:
	fedora_pick_clear(&p);
	return st;
}

const vendor_def vendor_fedora = {
	.pub = {
		.name = "fedora",
		.title = "Fedora Cloud",
		.os = "linux",
		.releases = "latest, release (44); Beta releases are skipped",
		.arches = "x86_64 aarch64",
		.format = "qcow2",
		.verifier = "the image directory's CHECKSUM (BSD), clearsigned by the release key; sha256 pinned by "
		            "releases.json with --verify checksum",
		.evidence = "signature",
		.signature = "Fedora-Cloud-<N>-<build>-<arch>-CHECKSUM clearsigned by the Fedora <N> key",
		.homepage = "https://fedoraproject.org",
		.bases = bases,
	},
	.resolve = resolve,
};
