/* SPDX-License-Identifier: MIT */
/* Parsing of profile files (see imgfetch_resolve_profile()); pure, for fuzzing. */
#pragma once

#include <stddef.h>

typedef struct profile {
	char *url, *format, *os, *series, *version, *sha256, *sums_url, *arch, *description, *homepage, *vendor;
	char *signature_url; /* a detached signature over sums_url (or over the image without one) */
} profile;

/* 0, -EBADMSG/-EFBIG with a message in err, or -ENOMEM. */
int profile_parse(const char *text, size_t len, profile *p, char *err, size_t errlen);
void profile_clear(profile *p);
