/* SPDX-License-Identifier: MIT */
#include "oci/auth.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oci/authfile.h"

void oci_auth_wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void oci_auth_clear(oci_auth *a)
{
	oci_auth_wipe_free(a->header);
	a->header = NULL;
}

static imgfetch_status failed(oci_auth *a, const char *why)
{
	return ifx_fail(a->ctx, IMGFETCH_E_AUTH, "authentication failed for %s: %s", a->where, why);
}

char *oci_auth_basic(const char *user, const char *password)
{
	size_t n = strlen(user) + 1 + strlen(password);
	char *plain = malloc(n + 1);
	if (!plain)
		return NULL;
	snprintf(plain, n + 1, "%s:%s", user, password);
	static const char prefix[] = "Authorization: Basic ";
	char *h = malloc(sizeof(prefix) + 4 * ((n + 2) / 3) + 1);
	if (h) {
		memcpy(h, prefix, sizeof(prefix) - 1);
		EVP_EncodeBlock((unsigned char *)h + sizeof(prefix) - 1, (const unsigned char *)plain, (int)n);
	}
	OPENSSL_cleanse(plain, n);
	free(plain);
	return h;
}

const char *oci_auth_realm(oci_auth *a, const oci_auth_challenge *ch)
{
	const char *realm = oci_auth_param_get(ch, "realm");
	if (!realm || (strncasecmp(realm, "https://", 8) != 0 && strncasecmp(realm, "http://", 7) != 0)) {
		failed(a, "the Bearer challenge has no usable realm");
		return NULL;
	}
	if (a->username && strncasecmp(realm, "https://", 8) != 0) {
		ifx_fail(a->ctx, IMGFETCH_E_AUTH,
		         "authentication failed for %s: refusing to send credentials to the token realm %s over plain HTTP",
		         a->where, realm);
		return NULL;
	}
	return realm;
}

imgfetch_status oci_auth_take_token(oci_auth *a, const char *realm, long status, const void *body, size_t len,
                                    size_t max)
{
	if (status == 401 || status == 403)
		return failed(a, a->username ? "the token server refused the credentials"
		                             : "the token server requires credentials (--username, --password-stdin)");
	json_t *doc = status == 200 ? json_loadb(body ? body : "", len, 0, NULL) : NULL;
	const char *tok = NULL;
	if (json_is_object(doc)) {
		tok = json_string_value(json_object_get(doc, "token"));
		if (!tok || !*tok)
			tok = json_string_value(json_object_get(doc, "access_token"));
	}
	/* A token goes into a header line: nothing that could end or fold it. */
	bool good = tok && *tok && strlen(tok) < max && !strpbrk(tok, "\r\n");
	char *h = NULL;
	if (good && asprintf(&h, "Authorization: Bearer %s", tok) < 0)
		h = NULL;
	oci_json_wipe(doc, 0);
	json_decref(doc);
	if (!good)
		return ifx_fail(a->ctx, IMGFETCH_E_AUTH,
		                "authentication failed for %s: the token server at %s sent no usable token (HTTP %ld)", a->where,
		                realm, status);
	if (!h)
		return ifx_fail(a->ctx, IMGFETCH_E_FAILED, "out of memory");
	oci_auth_wipe_free(a->header);
	a->header = h;
	return IMGFETCH_OK;
}

/* Whether the header holds a Bearer challenge with error=<what>. */
static bool bearer_error_is(const char *www_auth, const char *what)
{
	char err[64];
	oci_auth_challenges chs = { 0 };
	if (!www_auth || !*www_auth || oci_www_auth_parse(www_auth, strlen(www_auth), &chs, err, sizeof(err)) < 0)
		return false;
	const oci_auth_challenge *b = oci_auth_find(&chs, OCI_AUTH_BEARER);
	const char *e = b ? oci_auth_param_get(b, "error") : NULL;
	bool is = e && strcmp(e, what) == 0;
	oci_www_auth_clear(&chs);
	return is;
}

static imgfetch_status answer(oci_auth *a, const char *www_auth, oci_bearer_fn bearer, void *u)
{
	char err[256];
	oci_auth_challenges chs = { 0 };
	if (!www_auth || !*www_auth)
		return failed(a, "HTTP 401 without a WWW-Authenticate challenge");
	if (oci_www_auth_parse(www_auth, strlen(www_auth), &chs, err, sizeof(err)) < 0)
		return ifx_fail(a->ctx, IMGFETCH_E_AUTH, "authentication failed for %s: unusable challenge: %s", a->where,
		                err);
	imgfetch_status st;
	const oci_auth_challenge *b = oci_auth_find(&chs, OCI_AUTH_BEARER);
	if (b) {
		st = bearer(u, b);
	} else if (oci_auth_find(&chs, OCI_AUTH_BASIC)) {
		if (!a->username) {
			st = failed(a, "the registry requires credentials (--username, --password-stdin)");
		} else {
			oci_auth_wipe_free(a->header);
			a->header = oci_auth_basic(a->username, a->password);
			st = a->header ? IMGFETCH_OK : ifx_fail(a->ctx, IMGFETCH_E_FAILED, "out of memory");
		}
	} else {
		st = failed(a, "no supported challenge (Basic or Bearer)");
	}
	oci_www_auth_clear(&chs);
	return st;
}

void oci_auth_round_start(const oci_auth *a, oci_auth_round *r)
{
	*r = (oci_auth_round){ .reused = a->header != NULL };
}

imgfetch_status oci_auth_on_401(oci_auth *a, oci_auth_round *r, const char *www_auth, oci_bearer_fn bearer, void *u)
{
	bool stale = a->header && ((r->reused && r->answers == 0) ||
	                           (r->answers == 1 && bearer_error_is(www_auth, "invalid_token")));
	if (r->answers >= 2 || (a->header && !stale))
		return failed(a, a->username ? "the credentials were refused"
		                             : "anonymous access is not allowed (--username, --password-stdin)");
	if (stale)
		ifx_log(a->ctx, IMGFETCH_LOG_INFO, "%s: authorization expired or invalid; authenticating again", a->where);
	imgfetch_status st = answer(a, www_auth, bearer, u);
	if (st == IMGFETCH_OK)
		r->answers++;
	return st;
}
