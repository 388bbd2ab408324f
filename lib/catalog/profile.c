/* SPDX-License-Identifier: MIT */
/*
 * Profiles: an image no built-in vendor covers, described in a small file.
 * JSON (an object of strings) or the TOML subset such files need (top-level
 * `key = "value"` lines, # comments, booleans ignored), at most 64 KiB.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/profile.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/strutil.h"

#define PROFILE_MAX_BYTES (64u << 10)

static const char *const keys[] = { "url",    "format",  "os",          "series",   "version", "sha256",
	                            "sums_url", "arch", "description", "homepage", "vendor",  "ssh_key", "signature_url", NULL };

static int key_index(const char *k, size_t n)
{
	for (int i = 0; keys[i]; i++)
		if (strlen(keys[i]) == n && memcmp(keys[i], k, n) == 0)
			return i;
	return -1;
}

static int set_field(profile *p, int idx, const char *v, size_t n)
{
	char **slot[] = { &p->url,      &p->format, &p->os,     &p->series,      &p->version, &p->sha256,
		          &p->sums_url, &p->arch,   &p->description, &p->homepage, &p->vendor, NULL, &p->signature_url };
	if (!slot[idx])
		return 0;
	char *c = strndup(v, n);
	if (!c)
		return -ENOMEM;
	free(*slot[idx]);
	*slot[idx] = c;
	return 0;
}

void profile_clear(profile *p)
{
	char *f[] = { p->url,      p->format, p->os,     p->series,      p->version, p->sha256,
		      p->sums_url, p->arch,   p->description, p->homepage, p->vendor, p->signature_url };
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		free(f[i]);
	*p = (profile){ 0 };
}

static int parse_json(const char *text, size_t len, profile *p, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root || !json_is_object(root)) {
		snprintf(err, errlen, "not a JSON object%s%s", root ? "" : ": ", root ? "" : je.text);
		json_decref(root);
		return -EBADMSG;
	}
	const char *k;
	json_t *v;
	int r = 0;
	json_object_foreach(root, k, v) {
		int idx = key_index(k, strlen(k));
		if (idx < 0) {
			snprintf(err, errlen, "unknown key \"%.64s\"", k);
			r = -EBADMSG;
			break;
		}
		if (json_is_boolean(v) && strcmp(k, "ssh_key") == 0)
			continue;
		if (!json_is_string(v)) {
			snprintf(err, errlen, "\"%s\" must be a string", k);
			r = -EBADMSG;
			break;
		}
		if ((r = set_field(p, idx, json_string_value(v), json_string_length(v))) < 0)
			break;
	}
	json_decref(root);
	return r;
}

static int parse_toml(const char *text, size_t len, profile *p, char *err, size_t errlen)
{
	size_t pos = 0;
	unsigned line = 0;
	while (pos < len) {
		line++;
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		pos += n + (nl ? 1 : 0);
		size_t i = 0;
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == n || s[i] == '#' || s[i] == '\r')
			continue;
		size_t k0 = i;
		while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-'))
			i++;
		size_t k1 = i;
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (k1 == k0 || i == n || s[i] != '=') {
			snprintf(err, errlen, "line %u: expected key = \"value\"", line);
			return -EBADMSG;
		}
		int idx = key_index(s + k0, k1 - k0);
		if (idx < 0) {
			snprintf(err, errlen, "line %u: unknown key \"%.*s\"", line, (int)(k1 - k0 > 64 ? 64 : k1 - k0),
			         s + k0);
			return -EBADMSG;
		}
		i++;
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i < n && (s[i] == '"' || s[i] == '\'')) {
			char q = s[i++];
			size_t v0 = i;
			while (i < n && s[i] != q) {
				if (q == '"' && s[i] == '\\') {
					snprintf(err, errlen, "line %u: escapes are not supported", line);
					return -EBADMSG;
				}
				i++;
			}
			if (i == n) {
				snprintf(err, errlen, "line %u: unterminated string", line);
				return -EBADMSG;
			}
			int r = set_field(p, idx, s + v0, i - v0);
			if (r < 0)
				return r;
			i++;
		} else if (strcmp(keys[idx], "ssh_key") == 0 && i < n && (s[i] == 't' || s[i] == 'f')) {
			while (i < n && isalpha((unsigned char)s[i]))
				i++;
		} else {
			snprintf(err, errlen, "line %u: \"%s\" needs a quoted string", line, keys[idx]);
			return -EBADMSG;
		}
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
			i++;
		if (i < n && s[i] != '#') {
			snprintf(err, errlen, "line %u: unexpected text after the value", line);
			return -EBADMSG;
		}
	}
	return 0;
}

int profile_parse(const char *text, size_t len, profile *p, char *err, size_t errlen)
{
	*p = (profile){ 0 };
	if (len > PROFILE_MAX_BYTES) {
		snprintf(err, errlen, "larger than %u bytes", PROFILE_MAX_BYTES);
		return -EFBIG;
	}
	size_t i = 0;
	while (i < len && isspace((unsigned char)text[i]))
		i++;
	int r = i < len && text[i] == '{' ? parse_json(text, len, p, err, errlen) : parse_toml(text, len, p, err, errlen);
	if (r == 0) {
		if (!p->url || !p->version || !p->format) {
			snprintf(err, errlen, "url, format and version are required");
			r = -EBADMSG;
		} else if (p->sha256 && !hex_valid(p->sha256, 64)) {
			snprintf(err, errlen, "sha256 must be 64 hex digits");
			r = -EBADMSG;
		}
	}
	if (r < 0)
		profile_clear(p);
	return r;
}

/* Profile formats, with the names tritonadm profiles use too. */
static const char *canonical_format(const char *f)
{
	static const char *const map[][2] = { { "qcow2", "qcow2" }, { "raw", "raw" },       { "vmdk", "vmdk" },
		                              { "xz", "raw.xz" },   { "raw.xz", "raw.xz" }, { "raw_gz", "raw.gz" },
		                              { "raw.gz", "raw.gz" }, { "gz", "raw.gz" },    { "qcow2.xz", "qcow2.xz" } };
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(f, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

imgfetch_status imgfetch_resolve_profile(imgfetch_ctx *ctx, const char *path, imgfetch_resolved **ret)
{
	ctx->error[0] = '\0';
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int e = read_file_capped(path, PROFILE_MAX_BYTES + 1, &text, &len);
	if (e < 0)
		return ifx_fail(ctx, e == -ENOENT ? IMGFETCH_E_NOT_FOUND : IMGFETCH_E_FAILED, "cannot read profile %s: %s",
		                path, strerror(-e));
	profile p;
	char err[256] = "";
	e = profile_parse(text, len, &p, err, sizeof(err));
	if (e == -ENOMEM)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	if (e < 0)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "profile %s: %s", path, err);
	imgfetch_status st = IMGFETCH_OK;
	const char *fmt = canonical_format(p.format);
	const char *arch = p.arch ? p.arch : "x86_64";
	if (!fmt)
		st = ifx_fail(ctx, IMGFETCH_E_INVALID, "profile %s: unknown format \"%s\" (qcow2, raw, raw.xz, raw.gz, vmdk)",
		              path, p.format);
	else if (strcmp(arch, "x86_64") != 0 && strcmp(arch, "aarch64") != 0)
		st = ifx_fail(ctx, IMGFETCH_E_INVALID, "profile %s: arch must be x86_64 or aarch64", path);
	imgfetch_resolved *r = st == IMGFETCH_OK ? calloc(1, sizeof(*r)) : NULL;
	if (st == IMGFETCH_OK && !r)
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	if (st == IMGFETCH_OK) {
		r->verifier = p.sha256 ? IMGFETCH_VERIFIER_PINNED : p.sums_url ? IMGFETCH_VERIFIER_SUMS
		              : p.signature_url ? IMGFETCH_VERIFIER_SIGNATURE : IMGFETCH_VERIFIER_NONE;
		char *sha = NULL;
		if (p.sha256 && (sha = strdup(p.sha256)))
			hex_lower(p.sha256, 64, sha);
		bool ok = set_str(&r->vendor, p.vendor ? p.vendor : "custom") && set_str(&r->release, p.version) &&
		          set_str(&r->series, p.series ? p.series : p.version) && set_str(&r->version, p.version) &&
		          set_str(&r->arch, arch) && set_str(&r->url, p.url) && set_str(&r->format, fmt) &&
		          set_str(&r->sums_url, p.sums_url) && set_str(&r->signature_url, p.signature_url) &&
		          set_str(&r->os, p.os ? p.os : "linux") &&
		          set_str(&r->description, p.description) && set_str(&r->homepage, p.homepage) &&
		          (!p.sha256 || sha);
		r->sha256 = sha;
		r->evidence = p.signature_url               ? IMGFETCH_EVIDENCE_SIGNATURE
		              : p.sha256                    ? IMGFETCH_EVIDENCE_PINNED
		              : p.sums_url                  ? IMGFETCH_EVIDENCE_CHECKSUM
		                                            : IMGFETCH_EVIDENCE_NONE;
		const char *n = strrchr(p.url, '/');
		ok = ok && set_str(&r->file_name, n ? n + 1 : p.url);
		char u[37];
		if (ok && r->sha256 && imgfetch_image_uuid(r->sha256, u) == IMGFETCH_OK)
			ok = set_str(&r->uuid, u);
		if (ok && r->verifier == IMGFETCH_VERIFIER_NONE)
			ok = set_str(&r->notice, "the profile gives neither sha256 nor sums_url");
		if (!ok) {
			imgfetch_resolved_free(r);
			st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		} else {
			*ret = r;
		}
	}
	profile_clear(&p);
	return st;
}
