/* SPDX-License-Identifier: MIT */
/* imgfetch_inspect(): a manifest or index from a registry, nothing downloaded. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctx.h"
#include "oci/authfile.h"
#include "oci/client.h"
#include "oci/manifest.h"
#include "oci/ref.h"

static char *dup_or_null(const char *s, bool *oom)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

static void annotations_free(imgfetch_oci_annotation *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].key);
		free(a[i].value);
	}
	free(a);
}

static imgfetch_oci_annotation *annotations_copy(const oci_annotation *a, size_t n, bool *oom)
{
	if (n == 0)
		return NULL;
	imgfetch_oci_annotation *r = calloc(n, sizeof(*r));
	if (!r) {
		*oom = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		r[i].key = dup_or_null(a[i].key, oom);
		r[i].value = dup_or_null(a[i].value, oom);
	}
	return r;
}

static void descriptor_clear(imgfetch_oci_descriptor *d)
{
	free(d->media_type);
	free(d->digest);
	free(d->artifact_type);
	free(d->platform);
	free(d->title);
	annotations_free(d->annotations, d->n_annotations);
	*d = (imgfetch_oci_descriptor){ 0 };
}

static void descriptor_copy(imgfetch_oci_descriptor *out, const oci_descriptor *d, bool *oom)
{
	out->media_type = dup_or_null(d->media_type, oom);
	out->digest = dup_or_null(d->digest, oom);
	out->size = (uint64_t)d->size;
	out->artifact_type = dup_or_null(d->artifact_type, oom);
	if (d->platform && d->platform->os && d->platform->architecture) {
		const oci_platform *p = d->platform;
		if (asprintf(&out->platform, "%s/%s%s%s", p->os, p->architecture, p->variant ? "/" : "",
		             p->variant ? p->variant : "") < 0) {
			out->platform = NULL;
			*oom = true;
		}
	}
	out->title = dup_or_null(oci_descriptor_title(d), oom);
	out->annotations = annotations_copy(d->annotations, d->n_annotations, oom);
	if (out->annotations)
		out->n_annotations = d->n_annotations;
}

static imgfetch_oci_descriptor *descriptors_copy(const oci_descriptor *d, size_t n, bool *oom)
{
	if (n == 0)
		return NULL;
	imgfetch_oci_descriptor *r = calloc(n, sizeof(*r));
	if (!r) {
		*oom = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		descriptor_copy(&r[i], &d[i], oom);
	return r;
}

static void manifest_clear(imgfetch_oci_manifest *m)
{
	free(m->digest);
	free(m->media_type);
	free(m->artifact_type);
	if (m->config) {
		descriptor_clear(m->config);
		free(m->config);
	}
	for (size_t i = 0; i < m->n_layers; i++)
		descriptor_clear(&m->layers[i]);
	free(m->layers);
	for (size_t i = 0; i < m->n_manifests; i++)
		descriptor_clear(&m->manifests[i]);
	free(m->manifests);
	annotations_free(m->annotations, m->n_annotations);
	free(m->raw);
	*m = (imgfetch_oci_manifest){ 0 };
}

/* Fetches and parses one manifest/index into *out (and the parsed form into *parsed). */
static imgfetch_status fetch_one(imgfetch_ctx *ctx, oci_client *c, const char *reference, imgfetch_oci_manifest *out,
                                 oci_manifest *parsed)
{
	oci_fetched f;
	char err[256];
	imgfetch_status st = oci_client_get_manifest(c, reference, &f);
	if (st < 0)
		return st;
	if (oci_manifest_parse(f.body, f.len, parsed, err, sizeof(err)) < 0) {
		st = ifx_fail(ctx, IMGFETCH_E_FORMAT, "the manifest %s is not valid: %s", f.digest, err);
		oci_fetched_clear(&f);
		return st;
	}
	bool oom = false;
	const oci_manifest *m = parsed;
	out->is_index = oci_kind_is_index(m->kind);
	out->digest = f.digest;
	out->media_type = f.media_type ? f.media_type : dup_or_null(m->media_type, &oom);
	out->raw = f.body;
	out->raw_len = f.len;
	f = (oci_fetched){ 0 };
	out->artifact_type = dup_or_null(m->artifact_type, &oom);
	if (m->config) {
		out->config = calloc(1, sizeof(*out->config));
		if (out->config)
			descriptor_copy(out->config, m->config, &oom);
		else
			oom = true;
	}
	out->layers = descriptors_copy(m->layers, m->n_layers, &oom);
	if (out->layers)
		out->n_layers = m->n_layers;
	out->manifests = descriptors_copy(m->manifests, m->n_manifests, &oom);
	if (out->manifests)
		out->n_manifests = m->n_manifests;
	out->annotations = annotations_copy(m->annotations, m->n_annotations, &oom);
	if (out->annotations)
		out->n_annotations = m->n_annotations;
	if (oom)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	return IMGFETCH_OK;
}

imgfetch_status imgfetch_inspect(imgfetch_ctx *ctx, const imgfetch_inspect_opts *opts, imgfetch_inspect_result **ret)
{
	char err[256];
	oci_ref ref = { 0 };
	oci_manifest top = { 0 }, sel = { 0 };
	oci_client *c = NULL;
	imgfetch_status st;

	*ret = NULL;
	if (ifx_cancelled(ctx))
		return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled");
	if (!opts || !opts->ref)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "no reference given");
	if (!opts->username != !opts->password)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "a username needs a password and a password a username");
	if (oci_ref_parse(opts->ref, &ref, err, sizeof(err)) < 0)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "invalid reference '%s': %s", opts->ref, err);

	/* explicit credentials win; otherwise look in the auth files */
	oci_credentials fc = { 0 };
	if (!opts->username) {
		st = oci_authfile_lookup(ctx, opts->authfile, &ref, &fc);
		if (st < 0) {
			oci_ref_clear(&ref);
			return st;
		}
	}
	imgfetch_inspect_result *r = calloc(1, sizeof(*r));
	c = opts->username ? oci_client_new(ctx, &ref, opts->username, opts->password)
	                   : oci_client_new(ctx, &ref, fc.username, fc.password);
	oci_credentials_clear(&fc);
	if (!r || !c) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		goto out;
	}
	r->reference = oci_ref_format(&ref);
	r->repository = strdup(ref.repository);
	r->tag = ref.tag ? strdup(ref.tag) : NULL;
	if (ref.port) {
		if (asprintf(&r->registry, "%s:%u", ref.host, ref.port) < 0)
			r->registry = NULL;
	} else {
		r->registry = strdup(ref.host);
	}
	if (!r->reference || !r->repository || !r->registry || (ref.tag && !r->tag)) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		goto out;
	}

	st = fetch_one(ctx, c, ref.digest ? ref.digest : ref.tag, &r->manifest, &top);
	if (st < 0)
		goto out;
	if (opts->platform && oci_kind_is_index(top.kind)) {
		const oci_descriptor *d = oci_index_select(&top, opts->platform);
		if (!d) {
			char *list = oci_platforms_list(&top);
			st = ifx_fail(ctx, IMGFETCH_E_NOT_FOUND, "%s has no manifest for platform %s; it has: %s",
			              r->reference, opts->platform, list ? (*list ? list : "(none)") : "?");
			free(list);
			goto out;
		}
		r->selected = calloc(1, sizeof(*r->selected));
		if (!r->selected) {
			st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
			goto out;
		}
		st = fetch_one(ctx, c, d->digest, r->selected, &sel);
		if (st < 0)
			goto out;
	}
	*ret = r;
	r = NULL;
	st = IMGFETCH_OK;
out:
	imgfetch_inspect_result_free(r);
	oci_manifest_clear(&top);
	oci_manifest_clear(&sel);
	oci_client_free(c);
	oci_ref_clear(&ref);
	return st;
}

void imgfetch_inspect_result_free(imgfetch_inspect_result *r)
{
	if (!r)
		return;
	free(r->reference);
	free(r->registry);
	free(r->repository);
	free(r->tag);
	manifest_clear(&r->manifest);
	if (r->selected) {
		manifest_clear(r->selected);
		free(r->selected);
	}
	free(r);
}

/* ------------------------------------------------------------------ JSON */

static int set_str(json_t *o, const char *k, const char *v)
{
	return json_object_set_new(o, k, v ? json_string(v) : json_null());
}

static json_t *annotations_json(const imgfetch_oci_annotation *a, size_t n)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < n; i++)
		if (json_object_set_new(o, a[i].key, json_string(a[i].value)) < 0) {
			json_decref(o);
			return NULL;
		}
	return o;
}

static json_t *descriptor_json(const imgfetch_oci_descriptor *d)
{
	json_t *o = json_object();
	if (!o || set_str(o, "media_type", d->media_type) < 0 || set_str(o, "digest", d->digest) < 0 ||
	    json_object_set_new(o, "size", json_integer((json_int_t)d->size)) < 0 ||
	    (d->artifact_type && set_str(o, "artifact_type", d->artifact_type) < 0) ||
	    (d->platform && set_str(o, "platform", d->platform) < 0) ||
	    (d->title && set_str(o, "title", d->title) < 0) ||
	    json_object_set_new(o, "annotations", annotations_json(d->annotations, d->n_annotations)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *descriptors_json(const imgfetch_oci_descriptor *d, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, descriptor_json(&d[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static int manifest_json_into(json_t *o, const imgfetch_oci_manifest *m)
{
	if (set_str(o, "kind", m->is_index ? "index" : "manifest") < 0 || set_str(o, "digest", m->digest) < 0 ||
	    set_str(o, "media_type", m->media_type) < 0 || set_str(o, "artifact_type", m->artifact_type) < 0 ||
	    json_object_set_new(o, "size", json_integer((json_int_t)m->raw_len)) < 0)
		return -1;
	if (m->is_index) {
		if (json_object_set_new(o, "manifests", descriptors_json(m->manifests, m->n_manifests)) < 0)
			return -1;
	} else {
		if (json_object_set_new(o, "config", m->config ? descriptor_json(m->config) : json_null()) < 0 ||
		    json_object_set_new(o, "layers", descriptors_json(m->layers, m->n_layers)) < 0)
			return -1;
	}
	return json_object_set_new(o, "annotations", annotations_json(m->annotations, m->n_annotations));
}

char *imgfetch_inspect_result_to_json(const imgfetch_inspect_result *r)
{
	json_t *o = json_object();
	char *s = NULL;
	if (!o || set_str(o, "reference", r->reference) < 0 || set_str(o, "registry", r->registry) < 0 ||
	    set_str(o, "repository", r->repository) < 0 || set_str(o, "tag", r->tag) < 0 ||
	    manifest_json_into(o, &r->manifest) < 0)
		goto out;
	if (r->selected) {
		json_t *sel = json_object();
		if (!sel || manifest_json_into(sel, r->selected) < 0) {
			json_decref(sel);
			goto out;
		}
		if (json_object_set_new(o, "selected", sel) < 0) /* takes sel either way */
			goto out;
	}
	s = json_dumps(o, JSON_COMPACT);
out:
	json_decref(o);
	return s;
}
