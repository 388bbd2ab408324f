/* SPDX-License-Identifier: MIT */
/*
 * A minimal client of Triton's Image API (IMGAPI), the operator calls an
 * import needs: GetImage, AdminImportImage, AddImageFile, ActivateImage.
 * It knows HTTP and the API's shapes, not the delivery rules (which answer
 * means "already there", when to upload): deliver.c decides those.
 *
 * Every request uses the HTTP options given (CA bundle, user agent,
 * connect/first-byte/stall timeouts) and stops on cancellation. Only GET is
 * retried (transient failures, 429/502/503/504, with the usual backoff): the
 * other calls change state on the server, and a rerun of the whole delivery
 * picks up from whatever state they reached.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ctx.h"

typedef struct imgapi_client imgapi_client;

/* A client for base_url ("http[s]://host[:port][/prefix]"). Both base_url
 * and *http are borrowed and must outlive the client. Errors:
 * IMGFETCH_E_INVALID (not an http/https URL), IMGFETCH_E_FAILED (OOM).
 * *ret: imgapi_client_free(). */
IMGFETCH_WARN_UNUSED imgfetch_status imgapi_client_new(imgfetch_ctx *ctx, const char *base_url,
                                                       const imgfetch_http_opts *http, imgapi_client **ret);
void imgapi_client_free(imgapi_client *c);

/* What GetImage says about one UUID. */
typedef struct imgapi_image {
	bool exists;      /* false: the server answered 404 */
	char state[32];   /* "active", "unactivated", "disabled", ... ("" when absent or odd) */
	bool has_file;    /* files[0] with a well-formed sha1 */
	char sha1[41];    /* files[0].sha1, lowercase; "" without a file */
	uint64_t size;    /* files[0].size */
} imgapi_image;

/* GET /images/<uuid>. A 404 is not an error: ret->exists is false. */
IMGFETCH_WARN_UNUSED imgfetch_status imgapi_get_image(imgapi_client *c, const char *uuid, imgapi_image *ret);

/* POST /images/<uuid>?action=import with the manifest bytes as the JSON
 * body. A 409 (someone imported the UUID first) is not an error:
 * *ret_conflict is set and the caller looks again. */
IMGFETCH_WARN_UNUSED imgfetch_status imgapi_import(imgapi_client *c, const char *uuid, const char *manifest,
                                                   size_t len, bool *ret_conflict);

/* PUT /images/<uuid>/file?compression=..&sha1=..&size=.., streaming `size`
 * bytes of the open file fd from offset 0 (Content-Length: size). The SHA-1
 * of the bytes actually sent is written to ret_sent_sha1 (41 bytes) whenever
 * the whole body went out, even when the server then refused it, so the
 * caller can tell a changed file from a server problem. A file that ends
 * early is IMGFETCH_E_VERIFY. `label` names the file in messages and
 * progress reports. */
IMGFETCH_WARN_UNUSED imgfetch_status imgapi_add_file(imgapi_client *c, const char *uuid, int fd, const char *label,
                                                     uint64_t size, const char *sha1, const char *compression,
                                                     char ret_sent_sha1[41]);

/* POST /images/<uuid>?action=activate. */
IMGFETCH_WARN_UNUSED imgfetch_status imgapi_activate(imgapi_client *c, const char *uuid);
