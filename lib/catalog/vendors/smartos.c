/* SPDX-License-Identifier: MIT */
/*
 * SmartOS: a rolling release; each build is a Manta directory named by its
 * timestamp (20261105T000000Z/) holding smartos-<id>-USB.img.gz and a GNU
 * sha256sums.txt. The `latest` file beside them is a one-line pointer to the
 * current build's directory. The USB image is the platform image a SmartOS
 * host boots, not a cloud-init guest image.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/vendors/smartos.h"
#include "util/cleanup.h"

static const char *const bases[] = { "manta", "https://us-central.manta.mnx.io/Joyent_Dev/public/SmartOS/", NULL };

#define ID_MAX 48

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* The modifier's number: 0 for none, N for "_uN", -1 when s is no release. */
static int modifier(const char *s)
{
	size_t n = strlen(s);
	if (n < 16 || !digits(s, 8) || s[8] != 'T' || !digits(s + 9, 6) || s[15] != 'Z')
		return -1;
	if (n == 16)
		return 0;
	/* Old releases were re-spun as "<id>_u1", "<id>_u2"…: 1 to 3 digits, no
	 * leading zero, so that each number has one spelling. Nothing else
	 * follows an id; an unknown suffix is not guessed at. */
	if (n < 19 || n > 21 || s[16] != '_' || s[17] != 'u' || s[18] == '0' || !digits(s + 18, n - 18))
		return -1;
	return atoi(s + 18);
}

bool smartos_is_release(const char *s)
{
	return modifier(s) >= 0;
}

int smartos_parse_latest(const char *text, size_t len, char *out, size_t outlen)
{
	/* One short line; anything long is not the pointer file. */
	if (len > 4096 || memchr(text, '\0', len))
		return -EBADMSG;
	size_t end = 0;
	while (end < len && text[end] != '\n' && text[end] != '\r')
		end++;
	while (end > 0 && (text[end - 1] == ' ' || text[end - 1] == '\t' || text[end - 1] == '/'))
		end--;
	size_t start = end;
	while (start > 0 && text[start - 1] != '/')
		start--;
	/* Either a Manta path or a bare id; a relative path is neither. */
	if (start > 0 && text[0] != '/')
		return -EBADMSG;
	char id[ID_MAX];
	if (end - start >= sizeof(id) || end - start >= outlen)
		return -EBADMSG;
	memcpy(id, text + start, end - start);
	id[end - start] = '\0';
	if (!smartos_is_release(id))
		return -EBADMSG;
	memcpy(out, id, end - start + 1);
	return 0;
}

/* Time order of two release ids: the fixed-width timestamps compare as
 * bytes, and a re-spin follows its base build in the order of its number
 * (id < id_u1 < id_u2 < id_u10). */
int smartos_release_cmp(const char *a, const char *b)
{
	int c = strncmp(a, b, 16);
	if (c)
		return c < 0 ? -1 : 1;
	int ma = modifier(a), mb = modifier(b);
	return ma < mb ? -1 : ma > mb ? 1 : 0;
}

static int cmp_desc(const void *a, const void *b)
{
	return smartos_release_cmp(*(char *const *)b, *(char *const *)a);
}

/* Listings beyond the cap are cut, not refused: the newest builds come first. */
static int add(char ***v, size_t *n, const char *s)
{
	int r = strv_push_unique(v, n, s);
	return r == -EFBIG ? 0 : r;
}

char **smartos_parse_dir(const char *text, size_t len, size_t max)
{
	char **v = calloc(1, sizeof(*v));
	size_t n = 0;
	if (!v || len > LISTING_MAX_BYTES)
		return v;
	/* Manta: newline-separated JSON objects. */
	for (size_t off = 0; off < len;) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t l = nl ? (size_t)(nl - (text + off)) : len - off;
		json_t *o = json_loadb(text + off, l, 0, NULL);
		const char *name = json_string_value(json_object_get(o, "name"));
		const char *type = json_string_value(json_object_get(o, "type"));
		int e = name && type && strcmp(type, "directory") == 0 && smartos_is_release(name) ? add(&v, &n, name) : 0;
		json_decref(o);
		if (e < 0)
			goto oom;
		off += l + 1;
	}
	if (n == 0) {
		/* An HTML index (a plain mirror of the tree). */
		char **names = NULL;
		if (listing_parse(text, len, &names) == 0) {
			for (size_t i = 0; names[i]; i++) {
				size_t l = strlen(names[i]);
				if (l < 2 || names[i][l - 1] != '/')
					continue;
				names[i][l - 1] = '\0';
				if (smartos_is_release(names[i]) && add(&v, &n, names[i]) < 0) {
					strv_free(names);
					goto oom;
				}
			}
			strv_free(names);
		}
	}
	qsort(v, n, sizeof(*v), cmp_desc);
	for (size_t i = max; i < n; i++) {
		free(v[i]);
		v[i] = NULL;
	}
	return v;
oom:
	strv_free(v);
	return NULL;
}

/* An unknown release: list the newest builds in the SmartOS directory. */
static imgfetch_status unknown_release(const vendor_req *req)
{
	_cleanup_free_ char *url = vendor_url(req, "manta", "%s", "");
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	char **known = NULL;
	if (url && feed_get(req, url, LISTING_MAX_BYTES, "release directory", &text, &len) == IMGFETCH_OK)
		known = smartos_parse_dir(text, len, 10);
	char *fallback[] = { (char *)"latest", NULL };
	imgfetch_status st =
		fail_unknown_release(req, known && known[0] ? known : fallback, known && known[0] ? strv_len(known) : 1);
	strv_free(known);
	return st;
}

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	if (strcmp(req->arch, "x86_64") != 0)
		return fail_unknown_arch(req, "x86_64");
	bool latest = strcmp(req->release, "latest") == 0;
	char id[ID_MAX];
	_cleanup_free_ char *ptr_url = NULL;
	if (latest) {
		if (!(ptr_url = vendor_url(req, "manta", "latest")))
			return IMGFETCH_E_FAILED;
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		imgfetch_status st = feed_get(req, ptr_url, 4096, "latest pointer", &text, &len);
		if (st < 0)
			return st;
		if (smartos_parse_latest(text, len, id, sizeof(id)) < 0)
			return ifx_fail(req->ctx, IMGFETCH_E_FORMAT,
			                "smartos: malformed latest pointer %s: expected one line naming a release "
			                "directory (.../YYYYMMDDTHHMMSSZ)",
			                ptr_url);
	} else if (smartos_is_release(req->release)) {
		snprintf(id, sizeof(id), "%s", req->release);
	} else {
		return unknown_release(req);
	}

	char file[ID_MAX + 32];
	snprintf(file, sizeof(file), "smartos-%s-USB.img.gz", id);
	if (!(r->sums_url = vendor_url(req, "manta", "%s/sha256sums.txt", id)))
		return IMGFETCH_E_FAILED;
	/* Read the sums now so that an unknown release, or a build without the
	 * USB image, is reported by resolve rather than after a download. */
	_cleanup_free_ char *sums = NULL;
	size_t len = 0;
	imgfetch_status st = feed_get(req, r->sums_url, IMGFETCH_SUMS_MAX_BYTES, "checksum list", &sums, &len);
	if (st == IMGFETCH_E_NOT_FOUND && !latest)
		return unknown_release(req);
	if (st == IMGFETCH_E_NOT_FOUND)
		return ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "smartos: %s points at %s, which has no %s", ptr_url, id,
		                r->sums_url);
	if (st < 0)
		return st;
	imgfetch_checksum c;
	const char *why = NULL;
	st = imgfetch_sums_lookup(sums, len, file, &c, &why);
	if (st < 0)
		return ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "smartos: %s: %s %s", r->sums_url,
		                st == IMGFETCH_E_NOT_FOUND ? "no entry for" : why ? why : "malformed entry for", file);
	r->verifier = IMGFETCH_VERIFIER_SUMS;
	if (!(r->url = vendor_url(req, "manta", "%s/%s", id, file)))
		return IMGFETCH_E_FAILED;
	/* A rolling release has no series; "rolling" keeps output names
	 * (smartos-rolling-<id>) readable. */
	if (!set_str(&r->series, "rolling") || !set_str(&r->version, id) || !set_str(&r->file_name, file) ||
	    !set_str(&r->description, "SmartOS platform image (USB, raw): boots a SmartOS host; not a cloud-init "
	                              "guest image"))
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	return IMGFETCH_OK;
}

const vendor_def vendor_smartos = {
	.pub = {
		.name = "smartos",
		.title = "SmartOS",
		.os = "illumos",
		.releases = "latest, release (20261105T000000Z)",
		.arches = "x86_64",
		.format = "raw.gz",
		.verifier = "sha256sums.txt in the release directory",
		.evidence = "checksum",
		.homepage = "https://www.tritondatacenter.com/smartos",
		.bases = bases,
	},
	.resolve = resolve,
};
