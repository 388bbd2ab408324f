/* SPDX-License-Identifier: MIT */
/*
 * Answering a registry's 401, shared by the client (manifests, blobs) and
 * push (uploads): Basic from the credentials, or a Bearer token from the
 * challenge's realm. Each side fetches the token its own way (bearer
 * callback); the decisions and the header live here.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "core/ctx.h"
#include "oci/www_auth.h"

typedef struct oci_auth {
	imgfetch_ctx *ctx;
	const char *where;    /* "host/repository", for messages (borrowed) */
	const char *username; /* NULL: anonymous (borrowed) */
	const char *password;
	char *header;         /* "Authorization: ..." to send, or NULL; owned, wiped when replaced */
} oci_auth;

/* Fetches a token for a Bearer challenge and stores it with oci_auth_take_token(). */
typedef imgfetch_status (*oci_bearer_fn)(void *u, const oci_auth_challenge *ch);

/* One request's 401 dance: authorization reused from an earlier request may
 * have expired and earns one fresh answer, so does a token refused as
 * invalid_token right after it was issued; never more than two answers. */
typedef struct oci_auth_round {
	bool reused;
	unsigned answers;
} oci_auth_round;

void oci_auth_round_start(const oci_auth *a, oci_auth_round *r);
/* After a 401 with this WWW-Authenticate (NULL or "" when absent): sets
 * a->header for a retry (IMGFETCH_OK), or fails with IMGFETCH_E_AUTH. */
imgfetch_status oci_auth_on_401(oci_auth *a, oci_auth_round *r, const char *www_auth, oci_bearer_fn bearer, void *u);

/* The realm of a Bearer challenge, checked: an http(s) URL, and https when
 * credentials would go there. NULL after failing with IMGFETCH_E_AUTH. */
const char *oci_auth_realm(oci_auth *a, const oci_auth_challenge *ch);
/* "Authorization: Basic base64(user:password)" for the token server or the
 * registry; NULL on OOM. Wipe it (oci_auth_wipe_free) after use. */
char *oci_auth_basic(const char *user, const char *password);
/* The token server's answer (HTTP status, JSON body of at most max bytes)
 * becomes a->header; the body's copy of the token is wiped by the caller,
 * the parsed one here. IMGFETCH_E_AUTH when it holds no usable token. */
imgfetch_status oci_auth_take_token(oci_auth *a, const char *realm, long status, const void *body, size_t len,
                                    size_t max);
void oci_auth_clear(oci_auth *a);
void oci_auth_wipe_free(char *s);
