/* SPDX-License-Identifier: MIT */
#include "oci/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/xfer.h"
#include "oci/auth.h"
#include "oci/authfile.h"
#include "oci/manifest.h"
#include "oci/www_auth.h"
#include "util/cleanup.h"
#include "util/dynbuf.h"
#include "verify/digest.h"

#define TOKEN_MAX_BYTES (64u * 1024)

struct oci_client {
	imgfetch_ctx *ctx;
	const oci_ref *ref;
	char *origin;   /* "https://host[:port]" */
	char *where;    /* "host[:port]/repo", for messages */
	char *username; /* NULL: anonymous */
	char *password;
	oci_auth auth;  /* the Authorization header once known */
};

oci_client *oci_client_new(imgfetch_ctx *ctx, const oci_ref *ref, const char *username, const char *password)
{
	oci_client *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->ctx = ctx;
	c->ref = ref;
	/* Docker Hub's API lives on another host than its references name. */
	const char *host = strcmp(ref->host, "docker.io") == 0 ? "registry-1.docker.io" : ref->host;
	char port[8] = "";
	if (ref->port)
		snprintf(port, sizeof(port), ":%u", ref->port);
	if (asprintf(&c->origin, "https://%s%s", host, port) < 0)
		c->origin = NULL;
	if (asprintf(&c->where, "%s%s/%s", ref->host, port, ref->repository) < 0)
		c->where = NULL;
	if (username && password) {
		c->username = strdup(username);
		c->password = strdup(password);
	}
	if (!c->origin || !c->where || (username && password && (!c->username || !c->password))) {
		oci_client_free(c);
		return NULL;
	}
	c->auth = (oci_auth){ .ctx = ctx, .where = c->where, .username = c->username, .password = c->password };
	return c;
}

void oci_client_free(oci_client *c)
{
	if (!c)
		return;
	free(c->origin);
	free(c->where);
	oci_auth_wipe_free(c->username);
	oci_auth_wipe_free(c->password);
	oci_auth_clear(&c->auth);
	free(c);
}

void oci_fetched_clear(oci_fetched *f)
{
	free(f->body);
	free(f->media_type);
	free(f->digest);
	*f = (oci_fetched){ 0 };
}

static int mem_write(void *u, const void *buf, size_t n)
{
	return dynbuf_append(u, buf, n);
}

static int mem_reset(void *u)
{
	dynbuf_reset(u);
	return 0;
}

/* One GET into memory. 401 is returned as an ordinary status in res->http_status. */
static imgfetch_status get(oci_client *c, const char *url, const char *const *headers, const char *auth,
                           size_t max, const char *label, dynbuf *body, xfer_result *res)
{
	static const long allow[] = { 401, 0 };
	const char *origin_headers[2] = { auth, NULL };
	xfer_sink sink = { .write = mem_write, .reset = mem_reset, .u = body };
	xfer_request req = {
		.url = url,
		.label = label,
		.headers = headers,
		.origin_headers = auth ? origin_headers : NULL,
		.allow_status = allow,
		.max_size = max,
	};
	return xfer_run(c->ctx, &req, &sink, res);
}

/* The Bearer dance: a token for repository:<repo>:pull from the challenge's realm. */
static imgfetch_status fetch_token(void *u, const oci_auth_challenge *ch)
{
	oci_client *c = u;
	imgfetch_ctx *ctx = c->ctx;
	const char *realm = oci_auth_realm(&c->auth, ch);
	const char *service = oci_auth_param_get(ch, "service");
	if (!realm)
		return IMGFETCH_E_AUTH;

	CURL *e = curl_easy_init();
	if (!e)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	_cleanup_free_ char *scope = NULL;
	if (asprintf(&scope, "repository:%s:pull", c->ref->repository) < 0)
		scope = NULL;
	/* The challenge may name several scopes, space-separated: each goes as
	 * its own scope= parameter (the token spec's form), ours first and once. */
	const char *chscope = oci_auth_param_get(ch, "scope");
	dynbuf q;
	dynbuf_init(&q, 16384);
	bool qok = scope != NULL;
	for (const char *p = scope, *next = chscope; qok && p;) {
		size_t n = strcspn(p, " ");
		char one[1024];
		if (n > 0 && n < sizeof(one)) {
			memcpy(one, p, n);
			one[n] = '\0';
			bool dup = p != scope && strcmp(one, scope) == 0;
			char *esc = dup ? NULL : curl_easy_escape(e, one, 0);
			if (!dup)
				qok = esc && dynbuf_append(&q, "&scope=", 7) == 0 && dynbuf_append(&q, esc, strlen(esc)) == 0;
			curl_free(esc);
		}
		p += n;
		while (*p == ' ')
			p++;
		if (!*p) {
			p = next;
			next = NULL;
		}
	}
	char *esc_service = service ? curl_easy_escape(e, service, 0) : NULL;
	_cleanup_free_ char *url = NULL;
	int r = -1;
	if (qok && (!service || esc_service))
		r = asprintf(&url, "%s%s%.*s%s%s", realm, strchr(realm, '?') ? "&" : "?", (int)(q.len - 1),
		             (const char *)q.data + 1, service ? "&service=" : "", service ? esc_service : "");
	dynbuf_free(&q);
	curl_free(esc_service);
	curl_easy_cleanup(e);
	if (r < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");

	char *basic = c->username ? oci_auth_basic(c->username, c->password) : NULL;
	if (c->username && !basic)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	static const char *const accept[] = { "Accept: application/json", NULL };
	dynbuf b;
	dynbuf_init(&b, TOKEN_MAX_BYTES);
	xfer_result res;
	ifx_log(ctx, IMGFETCH_LOG_INFO, "requesting a token for %s from %s%s", scope, realm,
	        c->username ? " with credentials" : " anonymously");
	imgfetch_status st = get(c, url, accept, basic, TOKEN_MAX_BYTES, "token", &b, &res);
	oci_auth_wipe_free(basic);
	if (st == IMGFETCH_OK)
		st = oci_auth_take_token(&c->auth, realm, res.http_status, b.data, b.len, TOKEN_MAX_BYTES);
	xfer_result_clear(&res);
	if (b.data)
		OPENSSL_cleanse(b.data, b.len);
	dynbuf_free(&b);
	return st;
}

static imgfetch_status hash_hex(imgfetch_ctx *ctx, imgfetch_hash h, const char *body, size_t len, char *out)
{
	digest *d = digest_new(h);
	if (!d || digest_update(d, body, len) < 0 || digest_final_hex(d, out) < 0) {
		digest_free(d);
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot compute a digest");
	}
	digest_free(d);
	return IMGFETCH_OK;
}

imgfetch_status oci_client_get_manifest(oci_client *c, const char *reference, oci_fetched *ret)
{
	imgfetch_ctx *ctx = c->ctx;
	static const char *const headers[] = { "Accept: " OCI_MANIFEST_ACCEPT, NULL };
	_cleanup_free_ char *url = NULL, *label = NULL;
	bool by_digest = oci_digest_valid(reference);

	*ret = (oci_fetched){ 0 };
	if (!by_digest && !oci_tag_valid(reference, strlen(reference)))
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "'%s' is neither a tag nor a digest", reference);
	if (asprintf(&url, "%s/v2/%s/manifests/%s", c->origin, c->ref->repository, reference) < 0 ||
	    asprintf(&label, "%s%s%s", c->where, by_digest ? "@" : ":", reference) < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");

	dynbuf b;
	xfer_result res = { 0 };
	imgfetch_status st = IMGFETCH_OK;
	oci_auth_round round;
	oci_auth_round_start(&c->auth, &round);
	for (;;) {
		dynbuf_init(&b, OCI_MANIFEST_MAX_BYTES);
		st = get(c, url, headers, c->auth.header, OCI_MANIFEST_MAX_BYTES, label, &b, &res);
		if (st < 0)
			goto fail;
		if (res.http_status != 401)
			break;
		st = oci_auth_on_401(&c->auth, &round, res.www_authenticate, fetch_token, c);
		if (st < 0)
			goto fail;
		xfer_result_clear(&res);
		dynbuf_free(&b);
		ifx_log(ctx, IMGFETCH_LOG_INFO, "retrying %s with authorization", label);
	}

	/* The body's digest, in the algorithm of the digest asked for (sha256 by tag). */
	imgfetch_hash h = by_digest && strncmp(reference, "sha512:", 7) == 0 ? IMGFETCH_HASH_SHA512
	                                                                    : IMGFETCH_HASH_SHA256;
	char hex[129];
	st = hash_hex(ctx, h, b.data ? b.data : "", b.len, hex);
	if (st < 0)
		goto fail;
	char got[140];
	snprintf(got, sizeof(got), "%s:%s", h == IMGFETCH_HASH_SHA512 ? "sha512" : "sha256", hex);
	if (by_digest && strcmp(got, reference) != 0) {
		st = ifx_fail(ctx, IMGFETCH_E_VERIFY, "manifest digest mismatch for %s: the registry sent %s", label,
		              got);
		goto fail;
	}
	if (!by_digest && res.docker_content_digest && strncmp(res.docker_content_digest, "sha256:", 7) == 0 &&
	    strcmp(res.docker_content_digest, got) != 0) {
		st = ifx_fail(ctx, IMGFETCH_E_VERIFY,
		              "manifest digest mismatch for %s: Docker-Content-Digest says %s, the body is %s", label,
		              res.docker_content_digest, got);
		goto fail;
	}
	if (res.content_type) {
		size_t n = strcspn(res.content_type, "; \t");
		ret->media_type = strndup(res.content_type, n);
	}
	ret->digest = strdup(got);
	ret->body = dynbuf_take(&b, &ret->len);
	if (!ret->body) {
		ret->body = strdup("");
		ret->len = 0;
	}
	bool oom = !ret->digest || !ret->body || (res.content_type && !ret->media_type);
	xfer_result_clear(&res);
	if (oom) {
		oci_fetched_clear(ret);
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	}
	return IMGFETCH_OK;

fail:
	xfer_result_clear(&res);
	dynbuf_free(&b);
	return st;
}

imgfetch_status oci_client_get_blob(oci_client *c, const char *blob_digest, uint64_t size, const xfer_sink *sink,
                                    xfer_result *res)
{
	imgfetch_ctx *ctx = c->ctx;
	static const long allow[] = { 401, 0 };
	_cleanup_free_ char *url = NULL, *label = NULL;

	*res = (xfer_result){ 0 };
	if (!oci_digest_valid(blob_digest))
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "'%s' is not a digest", blob_digest);
	if (asprintf(&url, "%s/v2/%s/blobs/%s", c->origin, c->ref->repository, blob_digest) < 0 ||
	    asprintf(&label, "%s@%s", c->where, blob_digest) < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");

	oci_auth_round round;
	oci_auth_round_start(&c->auth, &round);
	for (;;) {
		const char *origin_headers[2] = { c->auth.header, NULL };
		xfer_request req = {
			.url = url,
			.label = label,
			.origin_headers = c->auth.header ? origin_headers : NULL,
			.allow_status = allow,
			.max_size = size,
			.report_progress = true,
		};
		imgfetch_status st = xfer_run(ctx, &req, sink, res);
		if (st < 0)
			return st;
		if (res->http_status != 401)
			return IMGFETCH_OK;
		st = oci_auth_on_401(&c->auth, &round, res->www_authenticate, fetch_token, c);
		xfer_result_clear(res);
		if (st < 0)
			return st;
		/* Bytes of an attempt before the 401 must not prefix the retry's. */
		if (sink->reset && sink->reset(sink->u) < 0)
			return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot restart the download of %s", label);
		ifx_log(ctx, IMGFETCH_LOG_INFO, "retrying %s with authorization", label);
	}
}
