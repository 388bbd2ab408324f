/* SPDX-License-Identifier: MIT */
/* The vendor table, mirrors, and imgfetch_resolve(). */
#include "catalog/catalog.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "util/cleanup.h"

static const vendor_def *const vendors[] = {
	&vendor_almalinux, &vendor_alpine, &vendor_arch, &vendor_centos_stream, &vendor_debian,
	&vendor_fedora,    &vendor_freebsd, &vendor_omnios, &vendor_openbsd,     &vendor_opensuse,
	&vendor_oracle,    &vendor_rocky,   &vendor_smartos, &vendor_talos,      &vendor_ubuntu,
};
#define NVENDORS (sizeof(vendors) / sizeof(vendors[0]))

size_t imgfetch_vendor_count(void)
{
	return NVENDORS;
}

const imgfetch_vendor *imgfetch_vendor_at(size_t i)
{
	return i < NVENDORS ? &vendors[i]->pub : NULL;
}

static const vendor_def *find(const char *name)
{
	for (size_t i = 0; name && i < NVENDORS; i++)
		if (strcmp(vendors[i]->pub.name, name) == 0)
			return vendors[i];
	return NULL;
}

const imgfetch_vendor *imgfetch_vendor_find(const char *name)
{
	const vendor_def *v = find(name);
	return v ? &v->pub : NULL;
}

/* ---- mirrors ------------------------------------------------------------ */

void mirror_table_clear(mirror_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].vendor);
		free(t->v[i].key);
		free(t->v[i].url);
	}
	free(t->v);
	*t = (mirror_table){ 0 };
}

static bool has_base(const vendor_def *v, const char *key)
{
	for (const char *const *b = v->pub.bases; b && b[0]; b += 2)
		if (strcmp(b[0], key) == 0)
			return true;
	return false;
}

int mirror_table_add(mirror_table *t, const char *spec, char *err, size_t errlen)
{
	const char *eq = strchr(spec, '=');
	if (!eq || eq == spec || !eq[1]) {
		snprintf(err, errlen, "mirror '%s' is not VENDOR=URL or VENDOR.BASE=URL", spec);
		return -EINVAL;
	}
	_cleanup_free_ char *name = strndup(spec, (size_t)(eq - spec));
	if (!name)
		return -ENOMEM;
	char *dot = strchr(name, '.');
	if (dot)
		*dot++ = '\0';
	const vendor_def *v = find(name);
	if (!v) {
		snprintf(err, errlen, "mirror '%s': no vendor named '%s' (see imgfetch vendors)", spec, name);
		return -ENOENT;
	}
	if (dot && !has_base(v, dot)) {
		snprintf(err, errlen, "mirror '%s': %s has no base '%s' (see imgfetch vendors --json)", spec, name, dot);
		return -ENOENT;
	}
	const char *url = eq + 1;
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0 && strncmp(url, "file://", 7) != 0) {
		snprintf(err, errlen, "mirror '%s': the URL must be http://, https:// or file://", spec);
		return -EINVAL;
	}
	mirror_entry *nv = realloc(t->v, (t->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	t->v = nv;
	mirror_entry *m = &t->v[t->n];
	size_t ul = strlen(url);
	m->vendor = strdup(name);
	m->key = dot ? strdup(dot) : NULL;
	m->url = malloc(ul + 2);
	if (!m->vendor || (dot && !m->key) || !m->url) {
		free(m->vendor);
		free(m->key);
		free(m->url);
		return -ENOMEM;
	}
	memcpy(m->url, url, ul + 1);
	if (ul == 0 || url[ul - 1] != '/')
		strcat(m->url, "/");
	t->n++;
	return 0;
}

/* Later entries win, so the command line (added after the config) does. */
static const char *lookup_base(const vendor_req *req, const char *key, bool *under_key)
{
	const mirror_table *t = req->mirrors;
	for (size_t i = t ? t->n : 0; i-- > 0;) {
		const mirror_entry *m = &t->v[i];
		if (strcmp(m->vendor, req->vendor->pub.name) != 0)
			continue;
		if (m->key && strcmp(m->key, key) == 0) {
			*under_key = false;
			return m->url;
		}
		if (!m->key) {
			*under_key = true;
			return m->url;
		}
	}
	*under_key = false;
	for (const char *const *b = req->vendor->pub.bases; b && b[0]; b += 2)
		if (strcmp(b[0], key) == 0)
			return b[1];
	return NULL;
}

char *vendor_url(const vendor_req *req, const char *key, const char *fmt, ...)
{
	bool under_key;
	const char *base = lookup_base(req, key, &under_key);
	if (!base) {
		ifx_fail(req->ctx, IMGFETCH_E_FAILED, "internal error: %s has no base '%s'", req->vendor->pub.name, key);
		return NULL;
	}
	_cleanup_free_ char *path = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&path, fmt, ap);
	va_end(ap);
	char *url = NULL;
	if (n < 0 || asprintf(&url, "%s%s%s%s", base, under_key ? key : "", under_key ? "/" : "", path) < 0) {
		ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
		return NULL;
	}
	return url;
}

static imgfetch_status load_config(imgfetch_ctx *ctx, const imgfetch_catalog_opts *o, mirror_table *t)
{
	_cleanup_free_ char *dflt = NULL;
	const char *path = o ? o->config_file : NULL;
	bool explicit_path = path != NULL;
	if (!path) {
		if (o && o->no_config)
			return IMGFETCH_OK;
		const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
		if (xdg && xdg[0] == '/')
			(void)!asprintf(&dflt, "%s/imgfetch/mirrors.conf", xdg);
		else if (home && home[0])
			(void)!asprintf(&dflt, "%s/.config/imgfetch/mirrors.conf", home);
		if (!dflt)
			return IMGFETCH_OK;
		path = dflt;
	}
	FILE *f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !explicit_path)
			return IMGFETCH_OK;
		return ifx_fail(ctx, explicit_path && errno == ENOENT ? IMGFETCH_E_NOT_FOUND : IMGFETCH_E_FAILED,
		                "cannot read the mirror config %s: %s", path, strerror(errno));
	}
	char line[4096];
	unsigned lineno = 0;
	imgfetch_status st = IMGFETCH_OK;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			st = ifx_fail(ctx, IMGFETCH_E_INVALID, "%s line %u: longer than %zu bytes", path, lineno,
			              sizeof(line) - 2);
			break;
		}
		char *s = line + strspn(line, " \t");
		s[strcspn(s, "\r\n")] = '\0';
		size_t l = strlen(s);
		while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t'))
			s[--l] = '\0';
		if (!s[0] || s[0] == '#')
			continue;
		char err[512] = "";
		int r = mirror_table_add(t, s, err, sizeof(err));
		if (r == -ENOMEM) {
			st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
			break;
		}
		if (r < 0) {
			st = ifx_fail(ctx, IMGFETCH_E_INVALID, "%s line %u: %s", path, lineno, err);
			break;
		}
	}
	fclose(f);
	return st;
}

static imgfetch_status build_mirrors(imgfetch_ctx *ctx, const imgfetch_catalog_opts *o, mirror_table *t)
{
	imgfetch_status st = load_config(ctx, o, t);
	if (st < 0)
		return st;
	for (const char *const *m = o ? o->mirrors : NULL; m && *m; m++) {
		char err[512] = "";
		int r = mirror_table_add(t, *m, err, sizeof(err));
		if (r == -ENOMEM)
			return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		if (r < 0)
			return ifx_fail(ctx, IMGFETCH_E_INVALID, "--mirror: %s", err);
	}
	return IMGFETCH_OK;
}

/* ---- helpers for vendors ------------------------------------------------- */

bool set_str(char **field, const char *value)
{
	char *c = value ? strdup(value) : NULL;
	if (value && !c)
		return false;
	free(*field);
	*field = c;
	return true;
}

imgfetch_status fail_unknown_release(const vendor_req *req, char *const *known, size_t n)
{
	char list[1024] = "";
	size_t used = 0;
	for (size_t i = 0; i < n && used < sizeof(list) - 64; i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", known[i]);
	if (n == 0)
		snprintf(list, sizeof(list), "none");
	return ifx_fail(req->ctx, IMGFETCH_E_NOT_FOUND, "%s has no release '%s' for %s; available: %s (and %s)",
	                req->vendor->pub.name, req->release, req->arch, list, req->vendor->pub.releases);
}

imgfetch_status parse_status(const vendor_req *req, int e, char **known, const char *what, const char *url,
                             const char *err)
{
	imgfetch_status st = IMGFETCH_OK;
	if (e == -ENOENT)
		st = fail_unknown_release(req, known, strv_len(known));
	else if (e == -ENOMEM)
		st = ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	else if (e < 0)
		st = ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "%s: malformed %s %s: %s", req->vendor->pub.name, what, url,
		              err && err[0] ? err : "unreadable");
	strv_free(known);
	return st;
}

const char *arch_dpkg_name(const vendor_req *req)
{
	/* imgfetch_resolve() accepts only these two. */
	return strcmp(req->arch, "aarch64") == 0 ? "arm64" : "amd64";
}

imgfetch_status fail_unknown_arch(const vendor_req *req, const char *available)
{
	return ifx_fail(req->ctx, IMGFETCH_E_NOT_FOUND, "%s publishes no %s image of release '%s'; architectures: %s",
	                req->vendor->pub.name, req->arch, req->release, available);
}

/* ---- resolve --------------------------------------------------------------- */

static const char *normalize_arch(const char *a)
{
	struct utsname u;
	if (!a) {
		/* Only the machines vendors publish images for; a ppc64le host must
		 * say which it wants rather than silently get x86_64. */
		if (uname(&u) < 0)
			return NULL;
		a = u.machine;
	}
	if (strcmp(a, "x86_64") == 0 || strcmp(a, "amd64") == 0 || strcmp(a, "x86-64") == 0)
		return "x86_64";
	if (strcmp(a, "aarch64") == 0 || strcmp(a, "arm64") == 0)
		return "aarch64";
	return NULL;
}

void imgfetch_resolved_free(imgfetch_resolved *r)
{
	if (!r)
		return;
	char **f[] = { &r->vendor, &r->release, &r->series, &r->version, &r->arch, &r->url, &r->file_name,
		       &r->format, &r->sums_url, &r->sha256, &r->sha512, &r->uuid, &r->os, &r->description,
		       &r->homepage, &r->notice, &r->signature_url };
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		free(*f[i]);
	free(r);
}

/* True when url is one of the vendor's (mirror-aware) bases followed by a
 * safe relative path. */
static bool under_a_base(const vendor_req *req, const char *url)
{
	for (const char *const *b = req->vendor->pub.bases; b && b[0]; b += 2) {
		char *base = vendor_url(req, b[0], "%s", "");
		if (!base)
			return false;
		size_t n = strlen(base);
		bool ok = strncmp(url, base, n) == 0 && url_path_is_safe(url + n);
		free(base);
		if (ok)
			return true;
	}
	return false;
}

static bool hex_digest(char *s, size_t len)
{
	if (!s || strlen(s) != len || strspn(s, "0123456789abcdefABCDEF") != len)
		return false;
	for (char *p = s; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	return true;
}

/* The library's promises about every resolved image, checked in one place
 * rather than trusted to each vendor's parser. */
static imgfetch_status check_resolved(const vendor_req *req, imgfetch_resolved *r)
{
	const char *name = req->vendor->pub.name;
	if (!r->url || !r->version || !r->series)
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "internal error: %s resolved an incomplete image", name);
	const char *urls[] = { r->url, r->sums_url, r->signature_url };
	for (size_t i = 0; i < 3; i++)
		if (urls[i] && !under_a_base(req, urls[i]))
			return ifx_fail(req->ctx, IMGFETCH_E_FORMAT,
			                "%s: refusing %s: not a plain path below the vendor's base URLs", name, urls[i]);
	if (r->evidence == IMGFETCH_EVIDENCE_NONE && r->verifier != IMGFETCH_VERIFIER_NONE)
		r->evidence = IMGFETCH_EVIDENCE_CHECKSUM;
	if (r->evidence == IMGFETCH_EVIDENCE_SIGNATURE && !r->signature_url && !r->sums_url)
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "internal error: %s: signed without a signed file", name);
	if (!name_is_safe(r->series) || !name_is_safe(r->version))
		return ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "%s: refusing series/version \"%.64s\" / \"%.64s\" from the feed",
		                name, r->series, r->version);
	if ((r->sha256 && !hex_digest(r->sha256, 64)) || (r->sha512 && !hex_digest(r->sha512, 128)) ||
	    (r->verifier == IMGFETCH_VERIFIER_PINNED && !r->sha256 && !r->sha512) ||
	    (r->verifier == IMGFETCH_VERIFIER_SUMS && !r->sums_url))
		return ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "%s: the feed's digest for %s is malformed", name, r->url);
	if (r->verifier == IMGFETCH_VERIFIER_NONE && !r->notice)
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "internal error: %s: trust-only without a notice", name);
	return IMGFETCH_OK;
}

imgfetch_status imgfetch_resolve(imgfetch_ctx *ctx, const imgfetch_catalog_opts *o, const char *vendor,
                                 const char *release, const char *arch, imgfetch_resolved **ret)
{
	ctx->error[0] = '\0';
	const vendor_def *v = find(vendor);
	if (!v) {
		char names[512] = "";
		size_t used = 0;
		for (size_t i = 0; i < NVENDORS; i++)
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "",
			                         vendors[i]->pub.name);
		return ifx_fail(ctx, IMGFETCH_E_NOT_FOUND, "no vendor named '%s'; vendors: %s", vendor ? vendor : "",
		                names);
	}
	const char *a = normalize_arch(arch);
	if (!a && !arch)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "this host's architecture has no vendor images; pass --arch x86_64 "
		                "or --arch aarch64");
	if (!a)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "unknown architecture '%s' (x86_64 or aarch64)", arch);
	if (!release || !release[0])
		release = "latest";
	if (o && o->schematic) {
		size_t l = strlen(o->schematic);
		if (l != 64 || strspn(o->schematic, "0123456789abcdef") != l)
			return ifx_fail(ctx, IMGFETCH_E_INVALID, "--schematic needs a 64-digit lowercase hex ID");
	}
	mirror_table mt = { 0 };
	imgfetch_status st = build_mirrors(ctx, o, &mt);
	if (st < 0) {
		mirror_table_clear(&mt);
		return st;
	}
	vendor_req req = { .ctx = ctx, .vendor = v, .release = release, .arch = a,
		           .schematic = o ? o->schematic : NULL, .mirrors = &mt };
	if (!word_in_list(v->pub.arches, a)) {
		st = fail_unknown_arch(&req, v->pub.arches);
		mirror_table_clear(&mt);
		return st;
	}
	imgfetch_resolved *r = calloc(1, sizeof(*r));
	if (!r || !set_str(&r->vendor, v->pub.name) || !set_str(&r->release, release) || !set_str(&r->arch, a) ||
	    !set_str(&r->os, v->pub.os) || !set_str(&r->homepage, v->pub.homepage) ||
	    !set_str(&r->format, v->pub.format)) {
		imgfetch_resolved_free(r);
		mirror_table_clear(&mt);
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	}
	st = v->resolve(&req, r);
	if (st == IMGFETCH_OK)
		st = check_resolved(&req, r);
	mirror_table_clear(&mt);
	if (st == IMGFETCH_OK && !r->file_name) {
		char *n = strrchr(r->url, '/');
		if (!set_str(&r->file_name, n ? n + 1 : r->url))
			st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	}
	if (st == IMGFETCH_OK && r->sha256 && !r->uuid) {
		char u[37];
		if (imgfetch_image_uuid(r->sha256, u) == IMGFETCH_OK && !set_str(&r->uuid, u))
			st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	}
	if (st < 0) {
		imgfetch_resolved_free(r);
		return st;
	}
	*ret = r;
	return IMGFETCH_OK;
}

static int set_or_null(json_t *o, const char *k, const char *v)
{
	return json_object_set_new(o, k, v ? json_string(v) : json_null());
}

json_t *resolved_json(const imgfetch_resolved *r)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	set_or_null(o, "vendor", r->vendor);
	set_or_null(o, "release", r->release);
	set_or_null(o, "series", r->series);
	set_or_null(o, "version", r->version);
	set_or_null(o, "arch", r->arch);
	set_or_null(o, "url", r->url);
	set_or_null(o, "file_name", r->file_name);
	set_or_null(o, "format", r->format);
	json_object_set_new(o, "size", r->size ? json_integer((json_int_t)r->size) : json_null());
	json_object_set_new(o, "verifier",
	                    json_string(r->verifier == IMGFETCH_VERIFIER_NONE ? "trust-only"
	                                                                       : imgfetch_verifier_name(r->verifier)));
	set_or_null(o, "sums_url", r->sums_url);
	set_or_null(o, "signature_url", r->signature_url);
	json_object_set_new(o, "evidence", json_string(imgfetch_evidence_name(r->evidence)));
	set_or_null(o, "sha256", r->sha256);
	set_or_null(o, "sha512", r->sha512);
	set_or_null(o, "uuid", r->uuid);
	set_or_null(o, "os", r->os);
	set_or_null(o, "description", r->description);
	set_or_null(o, "homepage", r->homepage);
	set_or_null(o, "notice", r->notice);
	return o;
}

char *imgfetch_resolved_to_json(const imgfetch_resolved *r)
{
	json_t *o = resolved_json(r);
	if (!o)
		return NULL;
	char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	return s;
}
