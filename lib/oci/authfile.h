/* SPDX-License-Identifier: MIT */
/*
 * Registry credentials from container auth files (containers-auth.json(5) and
 * Docker's config.json): `auths`, `credHelpers` and `credsStore`, the latter
 * two through `docker-credential-<name> get`.
 *
 * Which file: an explicit path (--authfile; must exist), else
 * $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json, else
 * $DOCKER_CONFIG/config.json or ~/.docker/config.json: the first one that
 * exists is used, the others are not consulted. Inside a file, for the
 * registry "host[:port]": credHelpers[host] wins, then credsStore, then
 * auths (an exact key, else a "https://host/v1/"-style key). A helper that
 * answers "credentials not found" (or fails) means no credentials.
 *
 * Credentials are wiped when freed and never logged.
 */
#pragma once

#include <stddef.h>

#include "core/ctx.h"
#include "oci/ref.h"

#define OCI_AUTHFILE_MAX_BYTES (1024u * 1024)
#define OCI_HELPER_OUTPUT_MAX (64u * 1024)
#define OCI_HELPER_TIMEOUT_MS 10000
#define OCI_HELPER_NAME_MAX 64

typedef struct oci_credentials {
	char *username; /* both NULL: none */
	char *password;
} oci_credentials;

/* Wipes and frees both strings; the struct is left zeroed. */
void oci_credentials_clear(oci_credentials *c);

/* Overwrites every string in a parsed JSON document (a token server's answer,
 * an auth file) before it is freed; depth: 0 for the root. */
struct json_t;
void oci_json_wipe(struct json_t *v, int depth);

typedef enum oci_authfile_found {
	OCI_AUTHFILE_NONE = 0,   /* nothing for this registry */
	OCI_AUTHFILE_CREDS = 1,  /* *creds filled */
	OCI_AUTHFILE_HELPER = 2, /* *helper = the helper's name ([A-Za-z0-9._-]+) */
} oci_authfile_found;

/*
 * Pure parser (no I/O; fuzzed): looks up registry ("host[:port]") in the auth
 * file text (len bytes, not necessarily NUL-terminated). Returns an
 * oci_authfile_found value (>= 0), -EINVAL for a malformed file (message in
 * err, never containing a secret) or -ENOMEM. On success *creds / *helper
 * are owned by the caller (oci_credentials_clear(), free()).
 */
int oci_authfile_parse(const char *text, size_t len, const char *registry, oci_credentials *creds, char **helper,
                       char *err, size_t errlen);

/*
 * Pure parser of a credential helper's `get` output:
 * {"ServerURL":..., "Username":..., "Secret":...}. 1 with *creds filled,
 * 0 when the output says "credentials not found" (or has an empty secret),
 * -EINVAL when it is not usable (message in err), -ENOMEM.
 */
int oci_authfile_parse_helper_output(const char *text, size_t len, oci_credentials *creds, char *err,
                                     size_t errlen);

/*
 * Finds credentials for ref's registry (see the top of this file). authfile:
 * an explicit path or NULL. IMGFETCH_OK with *creds filled or left empty
 * (none found); IMGFETCH_E_INVALID for a missing explicit file or a malformed
 * file; IMGFETCH_E_FAILED for an unreadable file or out of memory. A helper
 * that fails or times out is a warning and gives no credentials.
 */
IMGFETCH_WARN_UNUSED imgfetch_status oci_authfile_lookup(imgfetch_ctx *ctx, const char *authfile, const oci_ref *ref,
                                                         oci_credentials *creds);
