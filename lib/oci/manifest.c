/* SPDX-License-Identifier: MIT */
/*
 * Manifests and indexes. Everything a registry sends is untrusted: each
 * descriptor is checked here (digest syntax, size range, media type shape),
 * so that later stages can use digests as file names and sizes as limits
 * without checking again. Docker v2 schema 2 documents share the OCI layout
 * and are read by the same code; schema 1 is refused.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci/manifest.h"
#include "oci/ref.h"
#include "util/strutil.h"

#define MAX_SIZE ((int64_t)1 << 53)

typedef struct pctx {
	size_t descriptors;
	char *err;
	size_t errlen;
} pctx;

oci_kind oci_kind_from_media_type(const char *mt)
{
	if (!mt)
		return OCI_KIND_UNKNOWN;
	if (strcmp(mt, OCI_MT_MANIFEST) == 0)
		return OCI_KIND_MANIFEST;
	if (strcmp(mt, OCI_MT_INDEX) == 0)
		return OCI_KIND_INDEX;
	if (strcmp(mt, OCI_MT_DOCKER_MANIFEST) == 0)
		return OCI_KIND_DOCKER_MANIFEST;
	if (strcmp(mt, OCI_MT_DOCKER_LIST) == 0)
		return OCI_KIND_DOCKER_LIST;
	return OCI_KIND_UNKNOWN;
}

/* Strings are copied out of jansson; an embedded NUL would make the C copy
 * say something other than the document, so it is refused. */
static int dup_string(pctx *c, json_t *v, const char *what, size_t max, char **out)
{
	if (!json_is_string(v))
		return errmsg(c->err, c->errlen, -EBADMSG, "%s must be a string", what);
	size_t n = json_string_length(v);
	const char *s = json_string_value(v);
	if (memchr(s, '\0', n))
		return errmsg(c->err, c->errlen, -EBADMSG, "%s contains a NUL byte", what);
	if (n > max)
		return errmsg(c->err, c->errlen, -EFBIG, "%s longer than %zu bytes", what, max);
	if (!(*out = strndup(s, n)))
		return -ENOMEM;
	return 0;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static int get_media_type(pctx *c, json_t *v, const char *what, char **out)
{
	int r = dup_string(c, v, what, OCI_MEDIA_TYPE_MAX, out);
	if (r < 0)
		return r;
	if (!**out || !printable(*out)) {
		r = errmsg(c->err, c->errlen, -EBADMSG, "%s must be printable ASCII without spaces", what);
		free(*out);
		*out = NULL;
	}
	return r;
}

static void annotations_free(oci_annotation *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].key);
		free(a[i].value);
	}
	free(a);
}

static int parse_annotations(pctx *c, json_t *obj, oci_annotation **out, size_t *n_out)
{
	if (!obj)
		return 0;
	if (!json_is_object(obj))
		return errmsg(c->err, c->errlen, -EBADMSG, "annotations must be an object");
	size_t n = json_object_size(obj);
	if (n > OCI_MAX_ANNOTATIONS)
		return errmsg(c->err, c->errlen, -EFBIG, "more than %u annotations", OCI_MAX_ANNOTATIONS);
	if (n == 0)
		return 0;
	oci_annotation *a = calloc(n, sizeof(*a));
	if (!a)
		return -ENOMEM;
	size_t i = 0;
	const char *k;
	json_t *v;
	int r = 0;
	json_object_foreach(obj, k, v) {
		if (i >= n)
			break;
		/* Keys from jansson are NUL-terminated, so an embedded NUL would
		 * shorten them silently; strlen against the limit is enough here. */
		if (strlen(k) > OCI_ANNOTATION_MAX_BYTES) {
			r = errmsg(c->err, c->errlen, -EFBIG, "annotation key longer than %u bytes", OCI_ANNOTATION_MAX_BYTES);
			break;
		}
		if (!(a[i].key = strdup(k))) {
			r = -ENOMEM;
			break;
		}
		if ((r = dup_string(c, v, "an annotation value", OCI_ANNOTATION_MAX_BYTES, &a[i].value)) < 0) {
			i++;
			break;
		}
		i++;
	}
	if (r < 0) {
		annotations_free(a, i);
		return r;
	}
	*out = a;
	*n_out = i;
	return 0;
}

static void platform_free(oci_platform *p)
{
	if (!p)
		return;
	free(p->os);
	free(p->architecture);
	free(p->variant);
	free(p->os_version);
	free(p);
}

/* os/architecture/variant end up joined by '/' in messages and matched
 * against user input, so they are kept to a plain word. */
static int platform_word(pctx *c, json_t *v, const char *what, char **out)
{
	int r = dup_string(c, v, what, 64, out);
	if (r < 0)
		return r;
	bool ok = **out != '\0';
	for (const char *s = *out; ok && *s; s++)
		ok = (unsigned char)*s > 0x20 && (unsigned char)*s < 0x7f && *s != '/' && *s != ',';
	if (ok)
		return 0;
	free(*out);
	*out = NULL;
	return errmsg(c->err, c->errlen, -EBADMSG, "%s must be a non-empty word without '/' or ','", what);
}

static int parse_platform(pctx *c, json_t *obj, oci_platform **out)
{
	if (!json_is_object(obj))
		return errmsg(c->err, c->errlen, -EBADMSG, "platform must be an object");
	oci_platform *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	int r;
	json_t *os = json_object_get(obj, "os"), *arch = json_object_get(obj, "architecture");
	json_t *variant = json_object_get(obj, "variant"), *osv = json_object_get(obj, "os.version");
	if (!os || !arch)
		r = errmsg(c->err, c->errlen, -EBADMSG, "platform needs os and architecture");
	else if ((r = platform_word(c, os, "platform os", &p->os)) < 0 ||
	         (r = platform_word(c, arch, "platform architecture", &p->architecture)) < 0)
		;
	else if (variant && (r = platform_word(c, variant, "platform variant", &p->variant)) < 0)
		;
	else if (osv)
		r = dup_string(c, osv, "platform os.version", 255, &p->os_version);
	if (r < 0) {
		platform_free(p);
		return r;
	}
	*out = p;
	return 0;
}

static void descriptor_free(oci_descriptor *d)
{
	if (!d)
		return;
	free(d->media_type);
	free(d->digest);
	free(d->artifact_type);
	platform_free(d->platform);
	annotations_free(d->annotations, d->n_annotations);
	*d = (oci_descriptor){ 0 };
}

static int parse_descriptor(pctx *c, json_t *obj, bool with_platform, const char *what, oci_descriptor *d)
{
	*d = (oci_descriptor){ 0 };
	if (++c->descriptors > OCI_MAX_DESCRIPTORS)
		return errmsg(c->err, c->errlen, -EFBIG, "more than %u descriptors", OCI_MAX_DESCRIPTORS);
	if (!json_is_object(obj))
		return errmsg(c->err, c->errlen, -EBADMSG, "%s must be an object", what);
	json_t *mt = json_object_get(obj, "mediaType"), *dg = json_object_get(obj, "digest");
	json_t *sz = json_object_get(obj, "size"), *at = json_object_get(obj, "artifactType");
	json_t *pl = json_object_get(obj, "platform");
	int r = 0;
	if (!mt || !dg || !sz)
		r = errmsg(c->err, c->errlen, -EBADMSG, "%s needs mediaType, digest and size", what);
	else if ((r = get_media_type(c, mt, "a descriptor's mediaType", &d->media_type)) < 0)
		;
	else if ((r = dup_string(c, dg, "a digest", 160, &d->digest)) < 0)
		;
	else if (!oci_digest_valid(d->digest))
		r = errmsg(c->err, c->errlen, -EBADMSG, "%s has an invalid digest \"%.140s\"", what, d->digest);
	else if (!json_is_integer(sz) || json_integer_value(sz) < 0 || json_integer_value(sz) > MAX_SIZE)
		/* 2^53: the largest size every JSON implementation holds exactly. */
		r = errmsg(c->err, c->errlen, -EBADMSG, "%s has an invalid size (an integer 0 .. 2^53)", what);
	else if (at && (r = get_media_type(c, at, "artifactType", &d->artifact_type)) < 0)
		;
	else if (with_platform && pl && (r = parse_platform(c, pl, &d->platform)) < 0)
		;
	else
		r = parse_annotations(c, json_object_get(obj, "annotations"), &d->annotations, &d->n_annotations);
	if (r == 0)
		d->size = (int64_t)json_integer_value(sz);
	else
		descriptor_free(d);
	return r;
}

static int parse_descriptor_array(pctx *c, json_t *arr, bool with_platform, const char *what, oci_descriptor **out,
                                  size_t *n_out)
{
	if (!json_is_array(arr))
		return errmsg(c->err, c->errlen, -EBADMSG, "%s must be an array", what);
	size_t n = json_array_size(arr);
	if (n > OCI_MAX_DESCRIPTORS)
		return errmsg(c->err, c->errlen, -EFBIG, "more than %u descriptors", OCI_MAX_DESCRIPTORS);
	if (n == 0)
		return 0;
	oci_descriptor *v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	char name[64];
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s[%zu]", what, i);
		int r = parse_descriptor(c, json_array_get(arr, i), with_platform, name, &v[i]);
		if (r < 0) {
			for (size_t j = 0; j < i; j++)
				descriptor_free(&v[j]);
			free(v);
			return r;
		}
	}
	*out = v;
	*n_out = n;
	return 0;
}

static int parse_single(pctx *c, json_t *obj, const char *what, oci_descriptor **out)
{
	oci_descriptor *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	int r = parse_descriptor(c, obj, false, what, d);
	if (r < 0) {
		free(d);
		return r;
	}
	*out = d;
	return 0;
}

void oci_manifest_clear(oci_manifest *m)
{
	free(m->media_type);
	free(m->artifact_type);
	descriptor_free(m->config);
	free(m->config);
	for (size_t i = 0; i < m->n_layers; i++)
		descriptor_free(&m->layers[i]);
	free(m->layers);
	for (size_t i = 0; i < m->n_manifests; i++)
		descriptor_free(&m->manifests[i]);
	free(m->manifests);
	descriptor_free(m->subject);
	free(m->subject);
	annotations_free(m->annotations, m->n_annotations);
	*m = (oci_manifest){ 0 };
}

static int parse_root(pctx *c, json_t *root, oci_manifest *m)
{
	if (!json_is_object(root))
		return errmsg(c->err, c->errlen, -EBADMSG, "manifest is not a JSON object");
	json_t *sv = json_object_get(root, "schemaVersion");
	if (!json_is_integer(sv) || json_integer_value(sv) != 2)
		return errmsg(c->err, c->errlen, -EBADMSG,
		              "schemaVersion must be 2 (Docker schema 1 manifests are not supported)");
	json_t *mt = json_object_get(root, "mediaType");
	json_t *layers = json_object_get(root, "layers"), *manifests = json_object_get(root, "manifests");
	int r;
	if (mt) {
		if ((r = get_media_type(c, mt, "mediaType", &m->media_type)) < 0)
			return r;
		m->kind = oci_kind_from_media_type(m->media_type);
		if (m->kind == OCI_KIND_UNKNOWN)
			return errmsg(c->err, c->errlen, -EBADMSG, "unsupported manifest media type \"%s\"", m->media_type);
	} else if (manifests && layers) {
		return errmsg(c->err, c->errlen, -EBADMSG, "no mediaType, and both \"manifests\" and \"layers\"");
	} else if (manifests) {
		m->kind = OCI_KIND_INDEX;
	} else if (layers) {
		m->kind = OCI_KIND_MANIFEST;
	} else {
		return errmsg(c->err, c->errlen, -EBADMSG, "neither a manifest nor an index (no mediaType, layers or manifests)");
	}
	bool index = oci_kind_is_index(m->kind);
	/* A document that is both would be read differently by other clients;
	 * the image spec forbids it. */
	if (index ? layers || json_object_get(root, "config") : manifests != NULL)
		return errmsg(c->err, c->errlen, -EBADMSG, "mediaType %s contradicts the document's fields",
		              m->media_type ? m->media_type : "(absent)");
	json_t *at = json_object_get(root, "artifactType"), *subject = json_object_get(root, "subject");
	if (at && (r = get_media_type(c, at, "artifactType", &m->artifact_type)) < 0)
		return r;
	if (index) {
		if (!manifests)
			return errmsg(c->err, c->errlen, -EBADMSG, "index without \"manifests\"");
		if ((r = parse_descriptor_array(c, manifests, true, "manifests", &m->manifests, &m->n_manifests)) < 0)
			return r;
		if (m->kind == OCI_KIND_DOCKER_LIST)
			for (size_t i = 0; i < m->n_manifests; i++)
				if (!m->manifests[i].platform)
					return errmsg(c->err, c->errlen, -EBADMSG, "manifest list entry %zu has no platform", i);
	} else {
		json_t *config = json_object_get(root, "config");
		if (!config || !layers)
			return errmsg(c->err, c->errlen, -EBADMSG, "manifest needs \"config\" and \"layers\"");
		if ((r = parse_single(c, config, "config", &m->config)) < 0 ||
		    (r = parse_descriptor_array(c, layers, false, "layers", &m->layers, &m->n_layers)) < 0)
			return r;
	}
	if (subject && (r = parse_single(c, subject, "subject", &m->subject)) < 0)
		return r;
	return parse_annotations(c, json_object_get(root, "annotations"), &m->annotations, &m->n_annotations);
}

int oci_manifest_parse(const char *json, size_t len, oci_manifest *m, char *err, size_t errlen)
{
	*m = (oci_manifest){ 0 };
	if (len > OCI_MANIFEST_MAX_BYTES)
		return errmsg(err, errlen, -EFBIG, "manifest larger than %u bytes", OCI_MANIFEST_MAX_BYTES);
	json_error_t je;
	/* Duplicate keys are refused: two "layers" could be read one way here
	 * and another way by the registry or a signer. */
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return errmsg(err, errlen, -EBADMSG, "manifest is not valid JSON: %s", je.text);
	pctx c = { 0, err, errlen };
	int r = parse_root(&c, root, m);
	json_decref(root);
	if (r < 0) {
		if (r == -ENOMEM)
			errmsg(err, errlen, r, "out of memory");
		oci_manifest_clear(m);
	}
	return r;
}

const char *oci_annotation_get(const oci_annotation *a, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i].key, key) == 0)
			return a[i].value;
	return NULL;
}

static bool title_ok(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 255 || t[0] == '.' || strstr(t, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)t[i];
		if (ch < 0x20 || ch == 0x7f || ch == '/' || ch == '\\')
			return false;
	}
	return true;
}

const char *oci_descriptor_title(const oci_descriptor *d)
{
	const char *t = oci_annotation_get(d->annotations, d->n_annotations, OCI_ANNOTATION_TITLE);
	return t && title_ok(t) ? t : NULL;
}

char *oci_title_sanitize(const char *title)
{
	return title && title_ok(title) ? strdup(title) : NULL;
}

static const char *norm_variant(const char *arch, const char *variant)
{
	if ((!variant || !*variant) && strcmp(arch, "arm64") == 0)
		return "v8";
	return variant && *variant ? variant : NULL;
}

bool oci_platform_matches(const oci_platform *p, const char *want)
{
	if (!p || !p->os || !p->architecture || !want)
		return false;
	const char *s1 = strchr(want, '/');
	if (!s1)
		return false;
	const char *s2 = strchr(s1 + 1, '/');
	size_t oslen = (size_t)(s1 - want);
	size_t archlen = s2 ? (size_t)(s2 - s1 - 1) : strlen(s1 + 1);
	if (strlen(p->os) != oslen || memcmp(p->os, want, oslen) != 0 || strlen(p->architecture) != archlen ||
	    memcmp(p->architecture, s1 + 1, archlen) != 0)
		return false;
	const char *wv = norm_variant(p->architecture, s2 ? s2 + 1 : NULL);
	if (!wv)
		return true;
	const char *pv = norm_variant(p->architecture, p->variant);
	return pv && strcmp(pv, wv) == 0;
}

const oci_descriptor *oci_index_select(const oci_manifest *m, const char *want)
{
	for (size_t i = 0; i < m->n_manifests; i++)
		if (oci_platform_matches(m->manifests[i].platform, want))
			return &m->manifests[i];
	return NULL;
}

char *oci_platforms_list(const oci_manifest *m)
{
	/* Each word is at most 64 bytes (platform_word), so 200 per entry. */
	size_t cap = m->n_manifests * 200 + 1;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < m->n_manifests; i++) {
		const oci_platform *p = m->manifests[i].platform;
		/* Attestation manifests of buildx carry unknown/unknown. */
		if (!p || strcmp(p->os, "unknown") == 0)
			continue;
		char one[200];
		snprintf(one, sizeof(one), "%s/%s%s%s", p->os, p->architecture, p->variant ? "/" : "",
		         p->variant ? p->variant : "");
		char *dup = NULL;
		for (char *s = out; (s = strstr(s, one)); s++)
			if ((s == out || s[-1] == ' ') && (s[strlen(one)] == ',' || s[strlen(one)] == '\0')) {
				dup = s;
				break;
			}
		if (dup)
			continue;
		len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? ", " : "", one);
	}
	return out;
}
