/* SPDX-License-Identifier: MIT */
/*
 * Debian: the archive's dists/<suite>/Release maps a suite (stable, …) to
 * its codename and version, so no codename table goes stale; the per-image
 * JSON manifest beside the rolling image in cloud/<codename>/latest/ names
 * the dated (pinned) image and its SHA-512. When a manifest is missing, the
 * rolling image is checked against SHA512SUMS in the same directory.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog/catalog.h"
#include "catalog/vendors/debian.h"
#include "util/cleanup.h"

static const char *const bases[] = { "cloud", "https://cloud.debian.org/images/cloud/", "archive",
	                             "https://deb.debian.org/debian/", NULL };

/* The suites whose Release carries a Version, newest first. */
static const char *const released_suites[] = { "stable", "oldstable", "oldoldstable" };
#define N_RELEASED (sizeof(released_suites) / sizeof(released_suites[0]))

/* Release fields longer than this are not codenames or versions. */
#define FIELD_MAX 128u

void debian_suite_clear(debian_suite *s)
{
	free(s->codename);
	free(s->version);
	*s = (debian_suite){ 0 };
}

void debian_image_clear(debian_image *img)
{
	free(img->ref);
	free(img->serial);
	free(img->sha512);
	*img = (debian_image){ 0 };
}

/* A name that is safe as one URL path component and one file-name part. */
static bool is_codename(const char *s)
{
	if (!s[0] || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

/* Build serials ("20250814-2204") end up in a file name: no '/', no dots
 * runs, nothing but [A-Za-z0-9._-]. */
static bool is_serial(const char *s)
{
	if (!s[0] || strlen(s) > 64 || s[0] == '.' || s[0] == '-')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return false;
	return true;
}

/* Copies the value of one "Name: value" line into out, trimmed. */
static void field_value(const char *p, const char *eol, char *out, size_t outlen)
{
	while (p < eol && (*p == ' ' || *p == '\t'))
		p++;
	while (eol > p && (eol[-1] == ' ' || eol[-1] == '\t' || eol[-1] == '\r'))
		eol--;
	size_t n = (size_t)(eol - p);
	if (n >= outlen)
		n = outlen - 1; /* the caller rejects values this long */
	memcpy(out, p, n);
	out[n] = '\0';
}

int debian_parse_release(const char *text, size_t len, debian_suite *ret, char *err, size_t errlen)
{
	*ret = (debian_suite){ 0 };
	if (len > LISTING_MAX_BYTES) {
		snprintf(err, errlen, "larger than %u bytes", LISTING_MAX_BYTES);
		return -EBADMSG;
	}
	const char *p = text, *end = text + len;
	char codename[FIELD_MAX + 2] = "", version[FIELD_MAX + 2] = "";
	bool armored = false, first = true;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		size_t ll = (size_t)(eol - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (first && ll >= 34 && memcmp(p, "-----BEGIN PGP SIGNED MESSAGE-----", 34) == 0) {
			/* InRelease: skip the armor headers ("Hash: SHA256") up to
			 * the blank line; the body follows. */
			armored = true;
			while (p < end) {
				const char *e = memchr(p, '\n', (size_t)(end - p));
				size_t l = e ? (size_t)(e - p) : (size_t)(end - p);
				if (l > 0 && p[l - 1] == '\r')
					l--;
				p = e ? e + 1 : end;
				if (l == 0)
					break;
			}
			first = false;
			continue;
		}
		first = false;
		if (ll == 0)
			break; /* end of the first (only) paragraph */
		if (armored && ll >= 5 && memcmp(p, "-----", 5) == 0)
			break; /* the signature block */
		if (p[0] != ' ' && p[0] != '\t') {
			const char *colon = memchr(p, ':', ll);
			if (colon) {
				size_t nl = (size_t)(colon - p);
				if (nl == 8 && strncasecmp(p, "Codename", 8) == 0)
					field_value(colon + 1, p + ll, codename, sizeof(codename));
				else if (nl == 7 && strncasecmp(p, "Version", 7) == 0)
					field_value(colon + 1, p + ll, version, sizeof(version));
			}
		}
		p = eol < end ? eol + 1 : end;
	}
	if (!codename[0]) {
		snprintf(err, errlen, "no Codename field");
		return -EBADMSG;
	}
	if (strlen(codename) > FIELD_MAX || !is_codename(codename)) {
		snprintf(err, errlen, "bad Codename '%.64s'", codename);
		return -EBADMSG;
	}
	if (version[0]) {
		/* The major number names the image ("debian-13-…"): digits only,
		 * and a sane number of them. */
		size_t nd = strspn(version, "0123456789");
		if (nd == 0 || nd > 4 || strlen(version) > FIELD_MAX) {
			snprintf(err, errlen, "bad Version '%.64s'", version);
			return -EBADMSG;
		}
		ret->major = (unsigned)strtoul(version, NULL, 10);
		if (ret->major == 0) {
			snprintf(err, errlen, "bad Version '%.64s'", version);
			return -EBADMSG;
		}
	}
	ret->codename = strdup(codename);
	ret->version = version[0] ? strdup(version) : NULL;
	if (!ret->codename || (version[0] && !ret->version)) {
		debian_suite_clear(ret);
		return -ENOMEM;
	}
	return 0;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int debian_digest_hex(const char *digest, char *out, size_t outlen)
{
	static const char prefix[] = "sha512:";
	if (!digest || outlen < 129 || strncmp(digest, prefix, sizeof(prefix) - 1) != 0)
		return -EBADMSG;
	const char *s = digest + sizeof(prefix) - 1;
	/* 64 bytes are 86 base64 digits (the last holding 2 bits of padding),
	 * then "==" when the padding was kept. */
	size_t n = strlen(s);
	if (n == 88 && s[86] == '=' && s[87] == '=')
		n = 86;
	if (n != 86)
		return -EBADMSG;
	unsigned char bin[66];
	size_t nb = 0;
	unsigned acc = 0, bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value((unsigned char)s[i]);
		if (v < 0)
			return -EBADMSG;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (nb >= sizeof(bin))
				return -EBADMSG;
			bin[nb++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Left-over bits must be zero, or the text is not a canonical encoding. */
	if (nb != 64 || acc != 0)
		return -EBADMSG;
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < 64; i++) {
		out[2 * i] = hex[bin[i] >> 4];
		out[2 * i + 1] = hex[bin[i] & 15];
	}
	out[128] = '\0';
	return 0;
}

static const char *label(json_t *item, const char *name)
{
	return json_string_value(json_object_get(json_object_get(json_object_get(item, "metadata"), "labels"), name));
}

/* A ref is appended to the cloud base: it must stay below it. */
static bool is_safe_ref(const char *ref)
{
	size_t n = strlen(ref);
	if (n == 0 || n > 512 || ref[0] == '/' || ref[n - 1] == '/' || strstr(ref, "//"))
		return false;
	for (const char *c = ref; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '?' || *c == '#' || *c == '%' || *c == '\\' ||
		    *c == ':')
			return false;
	for (const char *seg = ref; seg; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL)
		if (seg[0] == '.' && (seg[1] == '/' || seg[1] == '\0' || (seg[1] == '.' && (seg[2] == '/' || !seg[2]))))
			return false;
	return true;
}

int debian_parse_manifest(const char *text, size_t len, const char *format, debian_image *ret, char *err,
                          size_t errlen)
{
	*ret = (debian_image){ 0 };
	if (len > FEED_MAX_BYTES) {
		snprintf(err, errlen, "larger than %u bytes", FEED_MAX_BYTES);
		return -EBADMSG;
	}
	json_error_t je;
	json_t *root = json_loadb(text, len, 0, &je);
	json_t *items = json_object_get(root, "items");
	if (!json_is_array(items)) {
		snprintf(err, errlen, "%s", !root ? je.text : "no items list");
		json_decref(root);
		return -EBADMSG;
	}
	/* The Build item's serial, in case the Upload does not carry one. */
	const char *build_serial = NULL;
	json_t *item, *upload = NULL;
	size_t i;
	json_array_foreach(items, i, item) {
		const char *kind = json_string_value(json_object_get(item, "kind"));
		if (!kind)
			continue;
		if (strcmp(kind, "Build") == 0 && !build_serial)
			build_serial = label(item, "cloud.debian.org/version");
		const char *fmt = label(item, "upload.cloud.debian.org/image-format");
		if (strcmp(kind, "Upload") == 0 && fmt && strcmp(fmt, format) == 0 && !upload)
			upload = item;
	}
	int r = 0;
	if (!upload) {
		snprintf(err, errlen, "no Upload item of image-format %s", format);
		r = -ENOENT;
		goto out;
	}
	const char *ref = json_string_value(json_object_get(json_object_get(upload, "data"), "ref"));
	const char *serial = label(upload, "cloud.debian.org/version");
	if (!serial)
		serial = build_serial;
	const char *digest = json_string_value(
		json_object_get(json_object_get(json_object_get(upload, "metadata"), "annotations"), "cloud.debian.org/digest"));
	char hex[129];
	if (!ref || !is_safe_ref(ref)) {
		snprintf(err, errlen, "%s Upload: missing or unsafe data.ref", format);
		r = -EBADMSG;
	} else if (!serial || !is_serial(serial)) {
		snprintf(err, errlen, "%s Upload: missing or bad label cloud.debian.org/version", format);
		r = -EBADMSG;
	} else if (debian_digest_hex(digest, hex, sizeof(hex)) < 0) {
		snprintf(err, errlen, "%s Upload: annotation cloud.debian.org/digest is not sha512:<base64 of 64 bytes>",
		         format);
		r = -EBADMSG;
	} else {
		ret->ref = strdup(ref);
		ret->serial = strdup(serial);
		ret->sha512 = strdup(hex);
		if (!ret->ref || !ret->serial || !ret->sha512) {
			debian_image_clear(ret);
			r = -ENOMEM;
		}
	}
out:
	json_decref(root);
	return r;
}

bool debian_sums_lists(const char *text, size_t len, const char *name)
{
	size_t nl = strlen(name);
	const char *p = text, *end = text + (len > LISTING_MAX_BYTES ? LISTING_MAX_BYTES : len);
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		size_t ll = (size_t)(eol - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		/* 128 hex digits, a space, then ' ' or '*', then the name, matched
		 * on its last path component. */
		size_t nhex = 0; /* the line is not NUL-terminated: count within it */
		while (nhex < ll && isxdigit((unsigned char)p[nhex]))
			nhex++;
		if (ll > 130 && nhex == 128 && p[128] == ' ' && (p[129] == ' ' || p[129] == '*')) {
			const char *f = p + 130, *fe = p + ll;
			for (const char *c = f; c < fe; c++)
				if (*c == '/')
					f = c + 1;
			if ((size_t)(fe - f) == nl && memcmp(f, name, nl) == 0)
				return true;
		}
		p = eol < end ? eol + 1 : end;
	}
	return false;
}

/* Fetches and parses dists/<suite>/Release. On failure ctx has the message,
 * except for IMGFETCH_E_NOT_FOUND, which callers word themselves. */
static imgfetch_status get_suite(const vendor_req *req, const char *suite, debian_suite *ret)
{
	*ret = (debian_suite){ 0 };
	_cleanup_free_ char *url = vendor_url(req, "archive", "dists/%s/Release", suite);
	if (!url)
		return IMGFETCH_E_FAILED;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	imgfetch_status st = feed_get(req, url, LISTING_MAX_BYTES, "Release file", &text, &len);
	if (st < 0)
		return st;
	char err[160] = "";
	int e = debian_parse_release(text, len, ret, err, sizeof(err));
	if (e == -ENOMEM)
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	if (e < 0)
		return ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "debian: malformed Release file %s: %s", url, err);
	return IMGFETCH_OK;
}

/* A released suite must say its version: the image name needs the major. */
static imgfetch_status get_released_suite(const vendor_req *req, const char *suite, debian_suite *ret)
{
	imgfetch_status st = get_suite(req, suite, ret);
	if (st >= 0 && !ret->version) {
		_cleanup_free_ char *url = vendor_url(req, "archive", "dists/%s/Release", suite);
		debian_suite_clear(ret);
		return ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "debian: malformed Release file %s: no Version field",
		                url ? url : suite);
	}
	return st;
}

/* "debian has no release 'x'; known: …" with the tokens and what the
 * released suites are called today (best effort: a suite that cannot be
 * read is left out of the list, not turned into a second error). */
static imgfetch_status fail_unknown(const vendor_req *req)
{
	char *known[4 + 2 * N_RELEASED + 2] = { "latest", "stable", "oldstable", "oldoldstable", NULL };
	char buf[2 * N_RELEASED][80];
	size_t n = 4, nb = 0;
	for (size_t i = 0; i < N_RELEASED; i++) {
		debian_suite s;
		if (get_suite(req, released_suites[i], &s) < 0)
			continue;
		snprintf(buf[nb], sizeof(buf[nb]), "%s", s.codename);
		known[n++] = buf[nb++];
		if (s.major) {
			snprintf(buf[nb], sizeof(buf[nb]), "%u", s.major);
			known[n++] = buf[nb++];
		}
		debian_suite_clear(&s);
	}
	known[n++] = "testing";
	known[n++] = "sid";
	return fail_unknown_release(req, known, n);
}

static bool all_digits(const char *s)
{
	return s[0] && strspn(s, "0123456789") == strlen(s);
}

/* Which image a token names. */
typedef struct debian_target {
	char codename[80];
	char major[16]; /* "13", or "sid" */
	bool daily;
} debian_target;

static imgfetch_status pick_target(const vendor_req *req, debian_target *t)
{
	const char *tok = req->release;
	debian_suite s = { 0 };
	imgfetch_status st;
	*t = (debian_target){ 0 };
	if (strcmp(tok, "sid") == 0 || strcmp(tok, "unstable") == 0) {
		snprintf(t->codename, sizeof(t->codename), "sid");
		snprintf(t->major, sizeof(t->major), "sid");
		t->daily = true;
		return IMGFETCH_OK;
	}
	if (strcmp(tok, "latest") == 0)
		tok = "stable";
	for (size_t i = 0; i < N_RELEASED; i++)
		if (strcmp(tok, released_suites[i]) == 0) {
			if ((st = get_released_suite(req, tok, &s)) < 0)
				return st == IMGFETCH_E_NOT_FOUND ? ifx_fail(req->ctx, st, "debian: no Release file for %s", tok)
				                                 : st;
			goto found;
		}
	if (all_digits(tok)) {
		/* A major number: one of the released suites has it. */
		for (size_t i = 0; i < N_RELEASED; i++) {
			st = get_released_suite(req, released_suites[i], &s);
			if (st == IMGFETCH_E_NOT_FOUND)
				continue; /* e.g. no oldoldstable right after a release */
			if (st < 0)
				return st;
			if (strlen(tok) <= 4 && s.major == (unsigned)strtoul(tok, NULL, 10))
				goto found;
			debian_suite_clear(&s);
		}
		return fail_unknown(req);
	}
	if (strcmp(tok, "testing") == 0 || is_codename(tok)) {
		if ((st = get_suite(req, tok, &s)) == IMGFETCH_E_NOT_FOUND)
			return fail_unknown(req);
		if (st < 0)
			return st;
		if (s.version)
			goto found;
		/* No Version: testing (or its codename), which has daily images
		 * only, named with the next major number after stable's. */
		debian_suite testing = { 0 }, stable = { 0 };
		if (strcmp(tok, "testing") != 0 && (st = get_suite(req, "testing", &testing)) < 0) {
			debian_suite_clear(&s);
			return st;
		}
		bool is_testing = strcmp(tok, "testing") == 0 || strcmp(testing.codename, s.codename) == 0;
		debian_suite_clear(&testing);
		if (!is_testing) {
			debian_suite_clear(&s);
			return fail_unknown(req);
		}
		if ((st = get_released_suite(req, "stable", &stable)) < 0) {
			debian_suite_clear(&s);
			return st;
		}
		snprintf(t->codename, sizeof(t->codename), "%s", s.codename);
		snprintf(t->major, sizeof(t->major), "%u", stable.major + 1);
		t->daily = true;
		debian_suite_clear(&s);
		debian_suite_clear(&stable);
		return IMGFETCH_OK;
	}
	return fail_unknown(req);
found:
	snprintf(t->codename, sizeof(t->codename), "%s", s.codename);
	snprintf(t->major, sizeof(t->major), "%u", s.major);
	debian_suite_clear(&s);
	return IMGFETCH_OK;
}

static imgfetch_status oom(const vendor_req *req)
{
	return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
}

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	const char *arch = arch_dpkg_name(req);
	debian_target t;
	imgfetch_status st = pick_target(req, &t);
	if (st < 0)
		return st;

	/* The rolling image's directory and name stem. */
	char dir[128], stem[160];
	snprintf(dir, sizeof(dir), "%s/%s", t.codename, t.daily ? "daily/latest" : "latest");
	snprintf(stem, sizeof(stem), "debian-%s-genericcloud-%s%s", t.major, arch, t.daily ? "-daily" : "");

	_cleanup_free_ char *manifest_url = vendor_url(req, "cloud", "%s/%s.json", dir, stem);
	if (!manifest_url)
		return IMGFETCH_E_FAILED;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	st = feed_get(req, manifest_url, FEED_MAX_BYTES, "image manifest", &text, &len);
	char version[160];
	if (st == IMGFETCH_E_NOT_FOUND) {
		/* No manifest: the rolling image, checked against SHA512SUMS of
		 * its directory (fetched with the image, so it matches it). */
		snprintf(version, sizeof(version), "%s-%s", t.major, t.daily ? "daily" : "latest");
		r->verifier = IMGFETCH_VERIFIER_SUMS;
		if (!(r->url = vendor_url(req, "cloud", "%s/%s.qcow2", dir, stem)) ||
		    !(r->sums_url = vendor_url(req, "cloud", "%s/SHA512SUMS", dir)))
			return IMGFETCH_E_FAILED;
		char file[200];
		snprintf(file, sizeof(file), "%s.qcow2", stem);
		/* Read it now, so that an image that is not published (an arch
		 * the release lacks) fails here and not halfway through a fetch. */
		_cleanup_free_ char *sums = NULL;
		size_t sums_len = 0;
		st = feed_get(req, r->sums_url, LISTING_MAX_BYTES, "SHA512SUMS", &sums, &sums_len);
		if (st < 0 && st != IMGFETCH_E_NOT_FOUND)
			return st;
		if (st < 0 || !debian_sums_lists(sums, sums_len, file))
			return ifx_fail(req->ctx, IMGFETCH_E_NOT_FOUND,
			                "debian %s: no %s (no image manifest %s, and %s does not list it)", t.codename, file,
			                manifest_url, r->sums_url);
		if (!set_str(&r->file_name, file) ||
		    !set_str(&r->notice, "no image manifest: rolling image, build serial unknown"))
			return oom(req);
	} else if (st < 0) {
		return st;
	} else {
		debian_image img;
		char err[200] = "";
		int e = debian_parse_manifest(text, len, "qcow2", &img, err, sizeof(err));
		if (e == -ENOMEM)
			return oom(req);
		if (e < 0)
			return ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "debian: malformed image manifest %s: %s", manifest_url,
			                err);
		const char *base = strrchr(img.ref, '/');
		snprintf(version, sizeof(version), "%s-%s", t.major, img.serial);
		r->verifier = IMGFETCH_VERIFIER_PINNED;
		bool ok = (r->url = vendor_url(req, "cloud", "%s", img.ref)) != NULL;
		if (ok && (!set_str(&r->file_name, base ? base + 1 : img.ref) || !set_str(&r->sha512, img.sha512)))
			ok = false, oom(req);
		debian_image_clear(&img);
		if (!ok)
			return IMGFETCH_E_FAILED;
	}
	char desc[200];
	snprintf(desc, sizeof(desc), "Debian %s (%s) generic cloud image%s (cloud-init)", t.major, t.codename,
	         t.daily ? ", daily build" : "");
	if (!set_str(&r->series, t.codename) || !set_str(&r->version, version) || !set_str(&r->description, desc))
		return oom(req);
	return IMGFETCH_OK;
}

const vendor_def vendor_debian = {
	.pub = {
		.name = "debian",
		.title = "Debian",
		.os = "linux",
		.releases = "stable, oldstable, oldoldstable, testing, sid, codename (trixie), major (13); latest = stable",
		.arches = "x86_64 aarch64",
		.format = "qcow2",
		.verifier = "sha512 pinned by the image's JSON manifest; SHA512SUMS (GNU) without one",
		.evidence = "checksum",
		.homepage = "https://www.debian.org",
		.bases = bases,
	},
	.resolve = resolve,
};
