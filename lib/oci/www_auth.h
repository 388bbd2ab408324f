/* SPDX-License-Identifier: MIT */
/* WWW-Authenticate header values (RFC 7235 challenges); pure, for fuzzing. */
#pragma once

#include <stddef.h>

#define OCI_AUTH_MAX_BYTES 8192u
#define OCI_AUTH_MAX_PARAMS 32u

typedef enum oci_auth_scheme {
	OCI_AUTH_OTHER,
	OCI_AUTH_BASIC,
	OCI_AUTH_BEARER,
} oci_auth_scheme;

typedef struct oci_auth_param {
	char *key;   /* lowercased: parameter names are case-insensitive */
	char *value; /* unquoted, escapes resolved */
} oci_auth_param;

typedef struct oci_auth_challenge {
	oci_auth_scheme kind;
	char *scheme; /* as sent */
	char *token68; /* the rare "Scheme token68" form, else NULL */
	oci_auth_param *params;
	size_t n_params;
} oci_auth_challenge;

typedef struct oci_auth_challenges {
	oci_auth_challenge *v;
	size_t n;
} oci_auth_challenges;

/* Parses one header value (several challenges allowed, comma-separated).
 * Everything in *out is owned by it: release with oci_www_auth_clear().
 * 0, -EBADMSG/-EFBIG with a message in err, or -ENOMEM; *out is empty on error. */
int oci_www_auth_parse(const char *hdr, size_t len, oci_auth_challenges *out, char *err, size_t errlen);
void oci_www_auth_clear(oci_auth_challenges *c);
/* The value of parameter key (case-insensitive), borrowed from c; NULL if absent. */
const char *oci_auth_param_get(const oci_auth_challenge *c, const char *key);
/* The first challenge of the given kind, borrowed from c; NULL if none. */
const oci_auth_challenge *oci_auth_find(const oci_auth_challenges *c, oci_auth_scheme kind);
