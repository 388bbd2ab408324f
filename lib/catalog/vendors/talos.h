/* SPDX-License-Identifier: MIT */
/* Talos's feed parsers: pure, for the resolver and its fuzz target. */
#pragma once

#include <stddef.h>

/* The tag a release token names: "latest" stays "latest"; "1.11.5" and
 * "v1.11.5" give "v1.11.5". 0, or -EINVAL when the token is neither (only
 * vMAJOR.MINOR.PATCH exists on the Image Factory). */
int talos_tag_for(const char *release, char *out, size_t outlen);

/* The series of a tag: "v1.11.5" → "v1.11". 0 or -EINVAL. */
int talos_series(const char *tag, char *out, size_t outlen);

/* The tag_name of one GitHub release object (releases/latest or
 * releases/tags/<tag>). 0 with *ret_tag (caller frees); -ENOENT when the
 * release is a draft or a prerelease; -EBADMSG with a message in err;
 * -ENOMEM. */
int talos_parse_release(const char *json, size_t len, char **ret_tag, char *err, size_t errlen);

/* The stable versions in the factory's GET /versions array, newest first,
 * at most max of them: NULL-terminated, caller frees with strv_free(); NULL
 * when the document is not such an array or out of memory. */
char **talos_parse_versions(const char *json, size_t len, size_t max);
