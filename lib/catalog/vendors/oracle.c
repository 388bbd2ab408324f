/* SPDX-License-Identifier: MIT */
/*
 * Oracle Linux: one template JSON per major and arch on yum.oracle.com,
 * naming the current update's KVM image and its sha256 (Oracle publishes no
 * checksum file, so the digest from the template is pinned). There is no
 * index of majors: "latest" is the highest major whose template exists,
 * probed downwards from MAJOR_MAX. When the templates are missing or
 * unreadable, the landing page generated from them is read instead.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/vendors/oracle.h"
#include "util/cleanup.h"

static const char *const bases[] = { "yum", "https://yum.oracle.com/", NULL };

/* Majors probed for "latest" and for the list of what exists; OL7 has no
 * cloud-init KVM image worth offering. */
#define MAJOR_MIN 8
#define MAJOR_MAX 15
/* A template is a few KiB. */
#define TEMPLATE_MAX_BYTES (256u << 10)

void oracle_pick_clear(oracle_pick *p)
{
	free(p->version);
	free(p->path);
	free(p->file);
	free(p->sha256);
	*p = (oracle_pick){ 0 };
}

/* A JSON value as text: Oracle writes "9" but a number would mean the same. */
static bool scalar(json_t *v, char *buf, size_t len)
{
	if (json_is_string(v))
		return (size_t)snprintf(buf, len, "%s", json_string_value(v)) < len;
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		return (size_t)snprintf(buf, len, "%lld", (long long)json_integer_value(v)) < len;
	return false;
}

/* Path characters we pass on to a URL: no scheme, query, "..", spaces
 * (and the caller refuses "//", which would make the path host-relative). */
static bool safe_path(const char *s, bool allow_slash)
{
	if (!s[0] || strstr(s, ".."))
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-' || (allow_slash && c == '/')))
			return false;
	}
	return true;
}

int oracle_parse_template(const char *text, size_t len, const char *arch, oracle_pick *ret, char *err,
                          size_t errlen)
{
	*ret = (oracle_pick){ 0 };
	if (len > TEMPLATE_MAX_BYTES) {
		snprintf(err, errlen, "larger than %u bytes", TEMPLATE_MAX_BYTES);
		return -EBADMSG;
	}
	json_error_t je;
	json_t *root = json_loadb(text, len, 0, &je);
	if (!json_is_object(root)) {
		snprintf(err, errlen, "%s", root ? "not a JSON object" : je.text);
		json_decref(root);
		return -EBADMSG;
	}
	char major[16], update[16];
	const char *base = json_string_value(json_object_get(root, "base_url"));
	json_t *img = NULL;
	if (strcmp(arch, "aarch64") == 0)
		img = json_object_get(root, "kvm-cloud");
	if (!json_is_object(img))
		img = json_object_get(root, "kvm");
	const char *file = json_string_value(json_object_get(img, "image"));
	const char *sum = json_string_value(json_object_get(img, "sha256"));
	int r = -EBADMSG;
	if (!scalar(json_object_get(root, "version"), major, sizeof(major)) ||
	    !scalar(json_object_get(root, "release"), update, sizeof(update)) || !version_is_numeric(major) ||
	    !version_is_numeric(update))
		snprintf(err, errlen, "no numeric version and release");
	else if (!base || base[0] != '/' || strstr(base, "//") || !safe_path(base + 1, true))
		snprintf(err, errlen, "no usable base_url");
	else if (!file || !safe_path(file, false))
		snprintf(err, errlen, "no usable kvm image name");
	else if (!sum || strlen(sum) != 64 || strspn(sum, "0123456789abcdefABCDEF") != 64)
		snprintf(err, errlen, "no sha256 for %s", file);
	else
		r = 0;
	if (r == 0) {
		size_t bl = strlen(base);
		while (bl > 1 && base[bl - 1] == '/') /* "…/x86_64/" and "…/x86_64" alike */
			bl--;
		if (asprintf(&ret->version, "%s.%s", major, update) < 0)
			ret->version = NULL;
		if (asprintf(&ret->path, "%.*s/%s", (int)(bl - 1), base + 1, file) < 0)
			ret->path = NULL;
		ret->file = strdup(file);
		ret->sha256 = strdup(sum);
		if (!ret->version || !ret->path || !ret->file || !ret->sha256) {
			oracle_pick_clear(ret);
			r = -ENOMEM;
		} else {
			for (char *p = ret->sha256; *p; p++)
				if (*p >= 'A' && *p <= 'F')
					*p = (char)(*p - 'A' + 'a');
		}
	}
	json_decref(root);
	return r;
}

/* Landing page size cap. */
#define HTML_MAX_BYTES (2u << 20)

/* The value of the first attribute or element text after `from` that
 * follows `marker`, up to `end`; NULL if none. */
static const char *find_after(const char *from, const char *stop, const char *marker)
{
	size_t ml = strlen(marker);
	for (const char *p = from; p + ml <= stop; p++)
		if (memcmp(p, marker, ml) == 0)
			return p + ml;
	return NULL;
}

/* OL<M>U<U>_<arch>-kvm[-cloud]-b<build>.qcow2 */
static bool parse_name(const char *f, const char *arch, unsigned *m, unsigned *u, unsigned *b, bool *cloud)
{
	char a[16];
	int n = 0;
	if (sscanf(f, "OL%uU%u_%15[a-z0-9_]-kvm-%n", m, u, a, &n) != 3 || n == 0 || strcmp(a, arch) != 0)
		return false;
	const char *rest = f + n;
	*cloud = strncmp(rest, "cloud-", 6) == 0;
	if (*cloud)
		rest += 6;
	int k = 0;
	if (sscanf(rest, "b%u.qcow2%n", b, &k) != 1 || k == 0 || rest[k] != '\0')
		return false;
	return true;
}

/* Newer major, then update, then the preferred variant, then build. */
static bool key_newer(const unsigned a[4], const unsigned b[4])
{
	for (int i = 0; i < 4; i++)
		if (a[i] != b[i])
			return a[i] > b[i];
	return false;
}

int oracle_parse_html(const char *html, size_t len, const char *arch, unsigned major, oracle_pick *ret, char *err,
                      size_t errlen)
{
	*ret = (oracle_pick){ 0 };
	if (len > HTML_MAX_BYTES) {
		snprintf(err, errlen, "larger than %u bytes", HTML_MAX_BYTES);
		return -EBADMSG;
	}
	const char *end = html + len, *p = html;
	bool want_cloud = strcmp(arch, "aarch64") == 0;
	unsigned best[4] = { 0 }; /* major, update, cloud, build */
	char best_path[512] = "", best_sum[65] = "";
	bool found = false, rows = false;
	while ((p = find_after(p, end, "class=\"kvm-image\"")) != NULL) {
		rows = true;
		const char *h = find_after(p, end, "href=\"");
		if (!h)
			break;
		const char *he = memchr(h, '"', (size_t)(end - h));
		if (!he || he - h >= (long)sizeof(best_path))
			break;
		/* The digest of this row: before the next row's image. */
		const char *next = find_after(he, end, "class=\"kvm-image\"");
		const char *t = find_after(he, next ? next : end, "class=\"kvm-sha256\">");
		if (!t || end - t < 64) {
			p = he;
			continue;
		}
		p = t;
		char href[512], sum[65];
		snprintf(href, sizeof(href), "%.*s", (int)(he - h), h);
		snprintf(sum, sizeof(sum), "%.64s", t);
		if (strspn(sum, "0123456789abcdefABCDEF") != 64)
			continue;
		/* Absolute or host-relative: keep the path only, so mirrors work. */
		const char *path = href;
		if (strncmp(path, "https://", 8) == 0 || strncmp(path, "http://", 7) == 0) {
			path = strchr(path + 8 - (path[4] == ':'), '/');
			if (!path)
				continue;
		}
		while (*path == '/')
			path++;
		const char *file = strrchr(path, '/');
		file = file ? file + 1 : path;
		unsigned m, u, b;
		bool cloud;
		if (!safe_path(path, true) || strstr(path, "//") || !parse_name(file, arch, &m, &u, &b, &cloud))
			continue;
		if (major && m != major)
			continue;
		unsigned key[4] = { m, u, cloud == want_cloud, b };
		if (found && !key_newer(key, best))
			continue;
		memcpy(best, key, sizeof(best));
		snprintf(best_path, sizeof(best_path), "%s", path);
		snprintf(best_sum, sizeof(best_sum), "%s", sum);
		found = true;
	}
	if (!rows) {
		snprintf(err, errlen, "no kvm-image rows");
		return -EBADMSG;
	}
	if (!found)
		return -ENOENT;
	const char *file = strrchr(best_path, '/');
	if (asprintf(&ret->version, "%u.%u", best[0], best[1]) < 0)
		ret->version = NULL;
	ret->path = strdup(best_path);
	ret->file = strdup(file ? file + 1 : best_path);
	ret->sha256 = strdup(best_sum);
	if (!ret->version || !ret->path || !ret->file || !ret->sha256) {
		oracle_pick_clear(ret);
		return -ENOMEM;
	}
	for (char *q = ret->sha256; *q; q++)
		if (*q >= 'A' && *q <= 'F')
			*q = (char)(*q - 'A' + 'a');
	return 0;
}

/* Resolves from the landing page when the templates are of no use. */
static imgfetch_status from_html(const vendor_req *req, unsigned major, oracle_pick *p)
{
	_cleanup_free_ char *url = vendor_url(req, "yum", "oracle-linux-templates.html"), *text = NULL;
	if (!url)
		return IMGFETCH_E_FAILED;
	size_t len = 0;
	imgfetch_status st = feed_get(req, url, HTML_MAX_BYTES, "templates page", &text, &len);
	if (st < 0)
		return st;
	char err[256] = "";
	int e = oracle_parse_html(text, len, req->arch, major, p, err, sizeof(err));
	if (e == -ENOMEM)
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	if (e == -ENOENT)
		return IMGFETCH_E_NOT_FOUND;
	if (e < 0)
		return ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "oracle: malformed templates page %s: %s", url, err);
	ifx_log(req->ctx, IMGFETCH_LOG_NOTICE, "oracle: no usable template JSON; resolved from %s", url);
	return IMGFETCH_OK;
}

static char *template_url(const vendor_req *req, unsigned major)
{
	if (strcmp(req->arch, "aarch64") == 0)
		return vendor_url(req, "yum", "templates/OracleLinux/ol%u_aarch64-cloud-template.json", major);
	return vendor_url(req, "yum", "templates/OracleLinux/ol%u-template.json", major);
}

/* Fetches the template of a major: OK, NOT_FOUND (no such template), or an
 * error with the message set. */
static imgfetch_status get_template(const vendor_req *req, unsigned major, char **url, char **text, size_t *len)
{
	if (!(*url = template_url(req, major)))
		return IMGFETCH_E_FAILED;
	return feed_get(req, *url, TEMPLATE_MAX_BYTES, "template", text, len);
}

static imgfetch_status fail_unknown(const vendor_req *req)
{
	char *known[MAJOR_MAX - MAJOR_MIN + 2] = { 0 };
	char bufs[MAJOR_MAX - MAJOR_MIN + 1][8];
	size_t n = 0;
	for (unsigned m = MAJOR_MAX; m >= MAJOR_MIN; m--) {
		_cleanup_free_ char *url = NULL, *text = NULL;
		size_t len = 0;
		imgfetch_status st = get_template(req, m, &url, &text, &len);
		if (st == IMGFETCH_E_NOT_FOUND)
			continue;
		if (st < 0)
			return st;
		snprintf(bufs[n], sizeof(bufs[n]), "%u", m);
		known[n] = bufs[n];
		n++;
	}
	return fail_unknown_release(req, known, n);
}

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	_cleanup_free_ char *url = NULL, *text = NULL;
	size_t len = 0;
	imgfetch_status st = IMGFETCH_E_NOT_FOUND;
	unsigned major = 0; /* 0: latest */
	if (strcmp(req->release, "latest") == 0) {
		for (unsigned m = MAJOR_MAX; m >= MAJOR_MIN && st == IMGFETCH_E_NOT_FOUND; m--) {
			free(url);
			url = NULL;
			st = get_template(req, m, &url, &text, &len);
		}
	} else {
		/* "9", "ol9" and "OL9" name the same major. */
		const char *tok = req->release;
		if ((tok[0] == 'o' || tok[0] == 'O') && (tok[1] == 'l' || tok[1] == 'L'))
			tok += 2;
		char *end;
		unsigned long m = strtoul(tok, &end, 10);
		if (tok[0] < '0' || tok[0] > '9' || *end || m < MAJOR_MIN || m > MAJOR_MAX)
			return fail_unknown(req);
		major = (unsigned)m;
		st = get_template(req, major, &url, &text, &len);
	}
	if (st < 0 && st != IMGFETCH_E_NOT_FOUND)
		return st;
	oracle_pick p = { 0 };
	char err[256] = "";
	int e = st == IMGFETCH_OK ? oracle_parse_template(text, len, req->arch, &p, err, sizeof(err)) : -ENOENT;
	if (e == -ENOMEM)
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	if (e < 0) {
		/* No template, or one that does not parse: the landing page. */
		imgfetch_status hst = from_html(req, major, &p);
		if (hst < 0 && e == -EBADMSG)
			return ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "oracle: malformed template %s: %s", url, err);
		if (hst == IMGFETCH_E_NOT_FOUND)
			return major ? fail_unknown(req)
			             : ifx_fail(req->ctx, hst, "oracle: no %s template for Oracle Linux %u to %u",
			                        req->arch, MAJOR_MIN, MAJOR_MAX);
		if (hst < 0)
			return hst;
	}
	char series[16];
	snprintf(series, sizeof(series), "%.*s", (int)strcspn(p.version, "."), p.version);
	r->verifier = IMGFETCH_VERIFIER_PINNED;
	st = IMGFETCH_OK;
	if (!(r->url = vendor_url(req, "yum", "%s", p.path)))
		st = IMGFETCH_E_FAILED;
	else if (!set_str(&r->series, series) || !set_str(&r->version, p.version) || !set_str(&r->file_name, p.file) ||
	         !set_str(&r->sha256, p.sha256) ||
	         !set_str(&r->description, "Oracle Linux KVM template (cloud-init)"))
		st = ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	oracle_pick_clear(&p);
	return st;
}

const vendor_def vendor_oracle = {
	.pub = {
		.name = "oracle",
		.title = "Oracle Linux",
		.os = "linux",
		.releases = "latest, major (8, 9, 10)",
		.arches = "x86_64 aarch64",
		.format = "qcow2",
		.verifier = "sha256 pinned by the template JSON",
		.evidence = "checksum",
		.homepage = "https://www.oracle.com/linux/",
		.bases = bases,
	},
	.resolve = resolve,
};
