/* SPDX-License-Identifier: MIT */
/*
 * A registry session for one reference: manifest GETs through the transfer
 * engine with the Accept header registries need, and the auth dance on 401
 * (Bearer: token from the challenge's realm for repository:<repo>:pull;
 * Basic: the credentials). Credentials are sent only to the registry's origin
 * (and to the token realm) and never appear in messages.
 */
#pragma once

#include <stddef.h>

#include "core/ctx.h"
#include "oci/ref.h"

/* The Accept header value for manifest GETs: OCI index/manifest, Docker list/manifest. */
#define OCI_MANIFEST_ACCEPT                                                                            \
	"application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "        \
	"application/vnd.docker.distribution.manifest.list.v2+json, "                                  \
	"application/vnd.docker.distribution.manifest.v2+json"

typedef struct oci_client oci_client;

/* A session for ref (borrowed: it must outlive the client). username/password
 * are copied; both NULL for anonymous access. NULL on OOM. */
oci_client *oci_client_new(imgfetch_ctx *ctx, const oci_ref *ref, const char *username, const char *password);
/* Wipes the credentials and frees everything; NULL is fine. */
void oci_client_free(oci_client *c);

typedef struct oci_fetched {
	char *body;        /* the manifest bytes, NUL-terminated */
	size_t len;
	char *media_type;  /* Content-Type without parameters, or NULL */
	char *digest;      /* "sha256:<hex>": the digest asked for, or the body's own when
	                      fetched by tag (checked against Docker-Content-Digest) */
} oci_fetched;

/* GETs /v2/<repo>/manifests/<reference> (a tag or a digest), at most
 * OCI_MANIFEST_MAX_BYTES. A digest reference is verified against the body
 * (IMGFETCH_E_VERIFY on mismatch); by tag, a Docker-Content-Digest that
 * disagrees with the body is IMGFETCH_E_VERIFY too. Credentials rejected
 * (or missing where required): IMGFETCH_E_AUTH. *ret is owned by the caller:
 * oci_fetched_clear(). */
IMGFETCH_WARN_UNUSED imgfetch_status oci_client_get_manifest(oci_client *c, const char *reference, oci_fetched *ret);
void oci_fetched_clear(oci_fetched *f);

/* GETs /v2/<repo>/blobs/<digest> into sink, following redirects (the session's
 * Authorization goes to the registry origin only, never to the host a blob is
 * redirected to), with retries and Range resume by the transfer engine, and
 * the same 401 handling as manifests. Verifies nothing: the caller hashes the
 * stream. *res is owned by the caller: xfer_result_clear(). */
struct xfer_sink;
struct xfer_result;
IMGFETCH_WARN_UNUSED imgfetch_status oci_client_get_blob(oci_client *c, const char *blob_digest, uint64_t size,
                                                         const struct xfer_sink *sink, struct xfer_result *res);
