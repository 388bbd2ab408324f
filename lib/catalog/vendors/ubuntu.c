/* SPDX-License-Identifier: MIT */
/*
 * Ubuntu: the simplestreams feed of released server images lists every
 * release (product per version and arch) with its builds (serials) and each
 * build's files with sha256 — one document gives the pinned image and its
 * digest. "latest" is the newest supported LTS, as tritonadm picks it.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/vendors/ubuntu.h"
#include "util/cleanup.h"

static const char *const bases[] = { "cloud", "https://cloud-images.ubuntu.com/", NULL };

#define PRODUCT_PREFIX "com.ubuntu.cloud:server:"
/* The simplestreams mirror root: item paths are relative to the directory
 * that holds streams/ (what multipass requests), not to the host root. */
#define STREAM_ROOT "releases/"

void ubuntu_pick_clear(ubuntu_pick *p)
{
	free(p->release);
	free(p->version);
	free(p->title);
	free(p->serial);
	free(p->path);
	free(p->sha256);
	*p = (ubuntu_pick){ 0 };
}

/* Codenames end up in file names and messages: lowercase letters only. */
static bool is_codename(const char *s)
{
	if (!s || !s[0] || strlen(s) > 32)
		return false;
	for (; *s; s++)
		if (*s < 'a' || *s > 'z')
			return false;
	return true;
}

/* Serials are YYYYMMDD or YYYYMMDD.N: digits and dots, which sort lexically. */
static bool is_serial(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= 32 && strspn(s, "0123456789.") == n && s[0] != '.';
}

static bool is_sha256(const char *s)
{
	return s && strlen(s) == 64 && strspn(s, "0123456789abcdefABCDEF") == 64;
}

/* A path is appended to the mirror root: it must stay below it. */
static bool is_safe_path(const char *path)
{
	size_t n = path ? strlen(path) : 0;
	if (n == 0 || n > 512 || path[0] == '/' || path[n - 1] == '/' || strstr(path, "//"))
		return false;
	for (const char *c = path; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '?' || *c == '#' || *c == '%' || *c == '\\' ||
		    *c == ':')
			return false;
	for (const char *seg = path; seg; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL)
		if (seg[0] == '.' && (seg[1] == '/' || seg[1] == '\0' || (seg[1] == '.' && (seg[2] == '/' || !seg[2]))))
			return false;
	return true;
}

/* The disk1.img of the newest build of a product that has a usable one, or
 * NULL; *serial gets its version key. */
static json_t *newest_disk(json_t *product, const char **serial)
{
	json_t *best = NULL, *ver;
	const char *key;
	*serial = NULL;
	json_object_foreach(json_object_get(product, "versions"), key, ver) {
		json_t *item = json_object_get(json_object_get(ver, "items"), "disk1.img");
		if (!is_serial(key) || !is_safe_path(json_string_value(json_object_get(item, "path"))) ||
		    !is_sha256(json_string_value(json_object_get(item, "sha256"))))
			continue;
		if (!*serial || version_cmp(key, *serial) > 0) {
			*serial = key;
			best = item;
		}
	}
	return best;
}

static int fill(json_t *product, const char *serial, json_t *disk, ubuntu_pick *ret)
{
	const char *title = json_string_value(json_object_get(product, "release_title"));
	json_t *size = json_object_get(disk, "size");
	ret->release = strdup(json_string_value(json_object_get(product, "release")));
	ret->version = strdup(json_string_value(json_object_get(product, "version")));
	ret->title = strdup(title ? title : ret->version ? ret->version : "");
	ret->serial = strdup(serial);
	ret->path = strdup(json_string_value(json_object_get(disk, "path")));
	ret->sha256 = strdup(json_string_value(json_object_get(disk, "sha256")));
	ret->size = json_is_integer(size) && json_integer_value(size) > 0 ? (uint64_t)json_integer_value(size) : 0;
	if (!ret->release || !ret->version || !ret->title || !ret->serial || !ret->path || !ret->sha256) {
		ubuntu_pick_clear(ret);
		return -ENOMEM;
	}
	/* The feed may use uppercase hex; the verifier compares lowercase. */
	for (char *c = ret->sha256; *c; c++)
		if (*c >= 'A' && *c <= 'F')
			*c = (char)(*c - 'A' + 'a');
	return 0;
}

int ubuntu_parse_products(const char *text, size_t len, const char *release, const char *arch, ubuntu_pick *ret,
                          char ***known, char *err, size_t errlen)
{
	*ret = (ubuntu_pick){ 0 };
	*known = NULL;
	if (len > FEED_MAX_BYTES) {
		snprintf(err, errlen, "larger than %u bytes", FEED_MAX_BYTES);
		return -EBADMSG;
	}
	json_error_t je;
	json_t *root = json_loadb(text, len, 0, &je);
	json_t *products = json_object_get(root, "products");
	if (!json_is_object(products)) {
		snprintf(err, errlen, "%s", !root ? je.text : "no products object");
		json_decref(root);
		return -EBADMSG;
	}
	bool latest = strcmp(release, "latest") == 0;
	json_t *pick = NULL, *pick_disk = NULL, *product;
	const char *pick_serial = NULL, *key;
	char **arches = NULL;
	size_t nknown = 0, narches = 0;
	int r = 0;
	json_object_foreach(products, key, product) {
		const char *rel = json_string_value(json_object_get(product, "release"));
		const char *ver = json_string_value(json_object_get(product, "version"));
		const char *parch = json_string_value(json_object_get(product, "arch"));
		const char *title = json_string_value(json_object_get(product, "release_title"));
		const char *serial;
		json_t *disk;
		/* Only server images, with names safe for file names; products
		 * without a usable disk1.img (EOL ones keep no builds) do not
		 * count as releases that exist. */
		if (strncmp(key, PRODUCT_PREFIX, strlen(PRODUCT_PREFIX)) != 0 || !is_codename(rel) || !ver ||
		    strlen(ver) > 16 || !version_is_numeric(ver) || !parch || !(disk = newest_disk(product, &serial)))
			continue;
		bool match;
		if (latest)
			match = title && strstr(title, "LTS") && json_is_true(json_object_get(product, "supported"));
		else
			match = strcmp(release, ver) == 0 || strcmp(release, rel) == 0;
		if (match && strcmp(parch, arch) == 0) {
			const char *pver = pick ? json_string_value(json_object_get(pick, "version")) : NULL;
			if (!pick || (latest && version_cmp(ver, pver) > 0)) {
				pick = product;
				pick_disk = disk;
				pick_serial = serial;
			}
		} else if (match && strv_push_unique(&arches, &narches, parch) < 0) {
			r = -ENOMEM;
			goto out;
		}
		char tok[64];
		snprintf(tok, sizeof(tok), "%s (%s)", ver, rel);
		if (strv_push_unique(known, &nknown, tok) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (pick) {
		r = fill(pick, pick_serial, pick_disk, ret);
	} else if (latest && !narches) {
		snprintf(err, errlen, "no supported LTS release with a disk1.img");
		r = -EBADMSG;
	} else if (narches) {
		strv_free(*known);
		*known = arches;
		arches = NULL;
		r = -ENXIO;
	} else {
		r = -ENOENT;
	}
out:
	strv_free(arches);
	if (r != -ENOENT && r != -ENXIO) {
		strv_free(*known);
		*known = NULL;
	}
	json_decref(root);
	return r;
}

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	const char *arch = arch_dpkg_name(req);
	_cleanup_free_ char *feed_url =
		vendor_url(req, "cloud", STREAM_ROOT "streams/v1/com.ubuntu.cloud:released:download.json");
	if (!feed_url)
		return IMGFETCH_E_FAILED;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	imgfetch_status st = feed_get(req, feed_url, FEED_MAX_BYTES, "simplestreams feed", &text, &len);
	if (st < 0)
		return st;
	ubuntu_pick p;
	char **known = NULL;
	char err[256] = "";
	int e = ubuntu_parse_products(text, len, req->release, arch, &p, &known, err, sizeof(err));
	if (e == -ENOENT || e == -ENXIO) {
		if (e == -ENOENT) {
			st = fail_unknown_release(req, known, strv_len(known));
		} else {
			/* The feed's arch names, in this tool's spelling where it has one. */
			char avail[256] = "";
			size_t used = 0;
			for (size_t i = 0; known && known[i]; i++) {
				const char *a = strcmp(known[i], "amd64") == 0   ? "x86_64"
				                : strcmp(known[i], "arm64") == 0 ? "aarch64"
				                                                 : known[i];
				if (used + strlen(a) + 2 < sizeof(avail))
					used += (size_t)snprintf(avail + used, sizeof(avail) - used, "%s%s", used ? " " : "", a);
			}
			st = fail_unknown_arch(req, avail);
		}
		strv_free(known);
		return st;
	}
	if (e == -ENOMEM)
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	if (e < 0)
		return ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "ubuntu: malformed simplestreams feed %s: %s", feed_url, err);

	char version[64], desc[160];
	snprintf(version, sizeof(version), "%s-%s", p.version, p.serial);
	snprintf(desc, sizeof(desc), "Ubuntu %s (%s) server cloud image", p.title, p.release);
	const char *base = strrchr(p.path, '/');
	r->verifier = IMGFETCH_VERIFIER_PINNED;
	r->size = p.size;
	/* The feed is unsigned; the build directory's SHA256SUMS is signed
	 * (SHA256SUMS.gpg, armoured despite its name), and that is what a
	 * signature policy checks. The feed's digest stays for --verify
	 * checksum and for the UUID. */
	int dirlen = base ? (int)(base - p.path) : 0;
	r->evidence = base ? IMGFETCH_EVIDENCE_SIGNATURE : IMGFETCH_EVIDENCE_CHECKSUM;
	if (!(r->url = vendor_url(req, "cloud", STREAM_ROOT "%s", p.path)) ||
	    (base && (!(r->sums_url = vendor_url(req, "cloud", STREAM_ROOT "%.*s/SHA256SUMS", dirlen, p.path)) ||
	              !(r->signature_url = vendor_url(req, "cloud", STREAM_ROOT "%.*s/SHA256SUMS.gpg", dirlen, p.path)))))
		st = IMGFETCH_E_FAILED;
	else if (!set_str(&r->series, p.release) || !set_str(&r->version, version) ||
	         !set_str(&r->file_name, base ? base + 1 : p.path) || !set_str(&r->sha256, p.sha256) ||
	         !set_str(&r->description, desc))
		st = ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	ubuntu_pick_clear(&p);
	return st;
}

const vendor_def vendor_ubuntu = {
	.pub = {
		.name = "ubuntu",
		.title = "Ubuntu",
		.os = "linux",
		.releases = "latest (newest supported LTS), version (24.04), codename (noble)",
		.arches = "x86_64 aarch64",
		.format = "qcow2",
		.verifier = "SHA256SUMS of the build directory, signed (SHA256SUMS.gpg); sha256 pinned by simplestreams "
		            "with --verify checksum",
		.evidence = "signature",
		.signature = "SHA256SUMS.gpg by D2EB44626FDDC30B513D5BB71A5D6C4C7DB87C81 (or 4A3CE3CD565D7EB5C810E2B97FF3F408476CF100)",
		.homepage = "https://ubuntu.com",
		.bases = bases,
	},
	.resolve = resolve,
};
