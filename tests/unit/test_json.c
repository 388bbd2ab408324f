/* SPDX-License-Identifier: MIT */
/* The --json result object: field names, types, and omissions. */
#include "tap.h"

#include <jansson.h>
#include <stdlib.h>

#include <imgfetch/imgfetch.h>

static json_t *render(const imgfetch_get_result *r)
{
	char *s = imgfetch_get_result_to_json(r);
	if (!s)
		return NULL;
	TAP_CHECK(strchr(s, '\n') == NULL, "one line, no trailing newline");
	json_error_t err;
	json_t *j = json_loads(s, 0, &err);
	free(s);
	return j;
}

int main(void)
{
	imgfetch_get_result r = {
		.path = "/srv/images/debian-13-genericcloud-amd64.qcow2",
		.url = "https://mirror.example/debian-13-genericcloud-amd64.qcow2",
		.sha256 = "5c3ddb00f60bc455dac0862fabe9d8bacec46c33ac1751143c5c3683404b110d",
		.size = 5000000000ull,
		.verified = true,
		.verifier = IMGFETCH_VERIFIER_SUMS,
		.attempts = 3,
		.resumed_bytes = 123456789,
	};
	json_t *j = render(&r);
	if (!TAP_CHECK(j != NULL, "result renders as valid JSON"))
		return tap_done();
	TAP_CHECK_STR_EQ(json_string_value(json_object_get(j, "path")), r.path, "path");
	TAP_CHECK_STR_EQ(json_string_value(json_object_get(j, "url")), r.url, "url");
	TAP_CHECK_STR_EQ(json_string_value(json_object_get(j, "sha256")), r.sha256, "sha256");
	TAP_CHECK(json_integer_value(json_object_get(j, "size")) == 5000000000ll, "size beyond 32 bits is exact");
	TAP_CHECK(json_is_true(json_object_get(j, "verified")), "verified is a JSON true");
	TAP_CHECK_STR_EQ(json_string_value(json_object_get(j, "verifier")), "sums", "verifier name");
	TAP_CHECK_INT_EQ(json_integer_value(json_object_get(j, "attempts")), 3, "attempts");
	TAP_CHECK(json_integer_value(json_object_get(j, "resumed_bytes")) == 123456789, "resumed_bytes");
	TAP_CHECK(json_is_false(json_object_get(j, "from_cache")), "from_cache false");
	TAP_CHECK(json_object_get(j, "sha512") == NULL, "sha512 omitted when not computed");
	json_t *ev = json_object_get(j, "evidence");
	TAP_CHECK(json_is_object(ev) && json_is_string(json_object_get(ev, "level")) &&
	          json_object_get(ev, "signature") && json_object_get(ev, "digest_source"),
	          "evidence: level, digest_source, signature");
	TAP_CHECK_INT_EQ(json_object_size(j), 10, "exactly the documented keys");
	json_decref(j);

	static const char sha512[] = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318"
	                             "d2877eec2f63b931bd47417a81a538327af927da3e";
	r.sha512 = (char *)sha512;
	r.verified = false;
	r.verifier = IMGFETCH_VERIFIER_NONE;
	r.from_cache = true;
	r.path = "dir with \"quotes\" and \\ backslash";
	j = render(&r);
	TAP_CHECK_STR_EQ(json_string_value(json_object_get(j, "sha512")), sha512, "sha512 present when computed");
	TAP_CHECK(json_is_false(json_object_get(j, "verified")), "unverified is false");
	TAP_CHECK_STR_EQ(json_string_value(json_object_get(j, "verifier")), "none", "verifier none");
	TAP_CHECK(json_is_true(json_object_get(j, "from_cache")), "from_cache true");
	TAP_CHECK_STR_EQ(json_string_value(json_object_get(j, "path")), r.path, "special characters survive escaping");
	json_decref(j);

	TAP_CHECK_STR_EQ(imgfetch_verifier_name(IMGFETCH_VERIFIER_PINNED), "pinned", "pinned name");
	TAP_CHECK_STR_EQ(imgfetch_verifier_name(IMGFETCH_VERIFIER_SIDECAR), "sidecar", "sidecar name");
	imgfetch_get_result_free(NULL);
	TAP_CHECK(true, "freeing NULL is allowed");
	return tap_done();
}
