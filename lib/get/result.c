/* SPDX-License-Identifier: MIT */
#include <jansson.h>
#include <stdlib.h>

#include <string.h>
#include <unistd.h>

#include "get/result.h"
#include "trust/pgp.h"

const char *imgfetch_verifier_name(imgfetch_verifier v)
{
	switch (v) {
	case IMGFETCH_VERIFIER_NONE: return "none";
	case IMGFETCH_VERIFIER_PINNED: return "pinned";
	case IMGFETCH_VERIFIER_SUMS: return "sums";
	case IMGFETCH_VERIFIER_SIDECAR: return "sidecar";
	case IMGFETCH_VERIFIER_SIGNATURE: return "signature";
	}
	return "unknown";
}

const char *imgfetch_evidence_name(imgfetch_evidence e)
{
	switch (e) {
	case IMGFETCH_EVIDENCE_NONE: return "none";
	case IMGFETCH_EVIDENCE_CHECKSUM: return "checksum";
	case IMGFETCH_EVIDENCE_PINNED: return "pinned";
	case IMGFETCH_EVIDENCE_SIGNATURE: return "signature";
	}
	return "unknown";
}

static const char *const policy_names[] = { "auto", "signature", "checksum", "none" };

const char *imgfetch_verify_policy_name(imgfetch_verify_policy p)
{
	return (unsigned)p < 4 ? policy_names[p] : NULL;
}

int imgfetch_verify_policy_parse(const char *s, imgfetch_verify_policy *ret)
{
	for (unsigned i = 0; s && i < 4; i++)
		if (strcmp(s, policy_names[i]) == 0) {
			*ret = (imgfetch_verify_policy)i;
			return 0;
		}
	return -1;
}

void signature_free(imgfetch_signature *s)
{
	if (!s)
		return;
	signature_clear(s);
	free(s);
}

imgfetch_signature *signature_dup(const imgfetch_signature *s)
{
	imgfetch_signature *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->created = s->created;
	char **dst[] = { &d->scheme, &d->fingerprint, &d->signing_key, &d->uid, &d->key_file,
		         &d->signature_url, &d->signed_url, &d->signed_sha256 };
	const char *src[] = { s->scheme, s->fingerprint, s->signing_key, s->uid, s->key_file,
		              s->signature_url, s->signed_url, s->signed_sha256 };
	for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++)
		if (src[i] && !(*dst[i] = strdup(src[i]))) {
			signature_free(d);
			return NULL;
		}
	return d;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *evidence_json(imgfetch_evidence e, const char *digest_source, const imgfetch_signature *sig,
                      const char *image_sha256)
{
	json_t *o = json_object(), *sj = json_null();
	if (!o)
		return NULL;
	if (sig) {
		sj = json_object();
		if (sj) {
			json_object_set_new(sj, "scheme", str_or_null(sig->scheme));
			json_object_set_new(sj, "fingerprint", str_or_null(sig->fingerprint));
			json_object_set_new(sj, "signing_key", str_or_null(sig->signing_key));
			json_object_set_new(sj, "uid", str_or_null(sig->uid));
			json_object_set_new(sj, "key_file", str_or_null(sig->key_file));
			json_object_set_new(sj, "created", sig->created ? json_integer(sig->created) : json_null());
			json_object_set_new(sj, "signature_url", str_or_null(sig->signature_url));
			json_object_set_new(sj, "signed_url", str_or_null(sig->signed_url));
			json_object_set_new(sj, "signed_sha256", str_or_null(sig->signed_sha256));
		}
	}
	json_object_set_new(o, "level", json_string(imgfetch_evidence_name(e)));
	json_object_set_new(o, "digest_source", str_or_null(digest_source));
	json_object_set_new(o, "signature", sj ? sj : json_null());
	json_object_set_new(o, "image_sha256", str_or_null(image_sha256));
	return o;
}

void imgfetch_get_result_free(imgfetch_get_result *r)
{
	if (!r)
		return;
	signature_free(r->signature);
	free(r->digest_source);
	if (r->fd >= 0)
		close(r->fd);
	free(r->path);
	free(r->url);
	free(r->sha256);
	free(r->sha512);
	free(r);
}

char *imgfetch_get_result_to_json(const imgfetch_get_result *r)
{
	json_t *j = json_object();
	if (!j)
		return NULL;
	/* json_*_new() steal references and json_object_set_new() tolerates NULL
	 * values by failing, so a partial object means out of memory. */
	int bad = 0;
	bad |= json_object_set_new(j, "path", json_string(r->path ? r->path : ""));
	bad |= json_object_set_new(j, "size", json_integer((json_int_t)r->size));
	bad |= json_object_set_new(j, "sha256", json_string(r->sha256 ? r->sha256 : ""));
	if (r->sha512)
		bad |= json_object_set_new(j, "sha512", json_string(r->sha512));
	bad |= json_object_set_new(j, "url", json_string(r->url ? r->url : ""));
	bad |= json_object_set_new(j, "verified", json_boolean(r->verified));
	bad |= json_object_set_new(j, "verifier", json_string(imgfetch_verifier_name(r->verifier)));
	bad |= json_object_set_new(j, "evidence", evidence_json(r->evidence, r->digest_source, r->signature, r->sha256));
	bad |= json_object_set_new(j, "attempts", json_integer(r->attempts));
	bad |= json_object_set_new(j, "resumed_bytes", json_integer((json_int_t)r->resumed_bytes));
	bad |= json_object_set_new(j, "from_cache", json_boolean(r->from_cache));
	char *out = bad ? NULL : json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	return out;
}
