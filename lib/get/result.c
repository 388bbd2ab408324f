/* SPDX-License-Identifier: MIT */
#include <jansson.h>
#include <stdlib.h>

#include <imgfetch/imgfetch.h>

const char *imgfetch_verifier_name(imgfetch_verifier v)
{
	switch (v) {
	case IMGFETCH_VERIFIER_NONE: return "none";
	case IMGFETCH_VERIFIER_PINNED: return "pinned";
	case IMGFETCH_VERIFIER_SUMS: return "sums";
	case IMGFETCH_VERIFIER_SIDECAR: return "sidecar";
	}
	return "unknown";
}

void imgfetch_get_result_free(imgfetch_get_result *r)
{
	if (!r)
		return;
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
	bad |= json_object_set_new(j, "attempts", json_integer(r->attempts));
	bad |= json_object_set_new(j, "resumed_bytes", json_integer((json_int_t)r->resumed_bytes));
	bad |= json_object_set_new(j, "from_cache", json_boolean(r->from_cache));
	char *out = bad ? NULL : json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	return out;
}
