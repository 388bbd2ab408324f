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
	char *auth;     /* "Authorization: ..." once known, else NULL */
};

static void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

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
	return c;
}

void oci_client_free(oci_client *c)
{
	if (!c)
		return;
	free(c->origin);
	free(c->where);
	wipe_free(c->username);
	wipe_free(c->password);
	wipe_free(c->auth);
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

/* "Authorization: Basic base64(user:password)"; NULL on OOM. */
static char *basic_header(const char *user, const char *password)
{
	size_t n = strlen(user) + 1 + strlen(password);
	char *plain = malloc(n + 1);
	if (!plain)
		return NULL;
	snprintf(plain, n + 1, "%s:%s", user, password);
	size_t enc_len = 4 * ((n + 2) / 3);
	static const char prefix[] = "Authorization: Basic ";
	char *h = malloc(sizeof(prefix) + enc_len + 1);
	if (h) {
		memcpy(h, prefix, sizeof(prefix) - 1);
		EVP_EncodeBlock((unsigned char *)h + sizeof(prefix) - 1, (const unsigned char *)plain, (int)n);
	}
	OPENSSL_cleanse(plain, n);
	free(plain);
	return h;
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

static imgfetch_status auth_failed(oci_client *c, const char *why)
{
	return ifx_fail(c->ctx, IMGFETCH_E_AUTH, "authentication failed for %s: %s", c->where, why);
}

/* The Bearer dance: a token for repository:<repo>:pull from the challenge's realm. */
static imgfetch_status fetch_token(oci_client *c, const oci_auth_challenge *ch)
{
	imgfetch_ctx *ctx = c->ctx;
	const char *realm = oci_auth_param_get(ch, "realm");
	const char *service = oci_auth_param_get(ch, "service");

	if (!realm || (strncasecmp(realm, "https://", 8) != 0 && strncasecmp(realm, "http://", 7) != 0))
		return ifx_fail(ctx, IMGFETCH_E_AUTH, "authentication failed for %s: the Bearer challenge has no "
		                "usable realm", c->where);
	if (c->username && strncasecmp(realm, "https://", 8) != 0)
		return ifx_fail(ctx, IMGFETCH_E_AUTH, "authentication failed for %s: refusing to send credentials "
		                "to the token realm %s over plain HTTP", c->where, realm);

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

	char *basic = c->username ? basic_header(c->username, c->password) : NULL;
	if (c->username && !basic)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	static const char *const accept[] = { "Accept: application/json", NULL };
	dynbuf b;
	dynbuf_init(&b, TOKEN_MAX_BYTES);
	xfer_result res;
	ifx_log(ctx, IMGFETCH_LOG_INFO, "requesting a token for %s from %s%s", scope, realm,
	        c->username ? " with credentials" : " anonymously");
	imgfetch_status st = get(c, url, accept, basic, TOKEN_MAX_BYTES, "token", &b, &res);
	wipe_free(basic);
	if (st < 0) {
		dynbuf_free(&b);
		return st;
	}
	long code = res.http_status;
	xfer_result_clear(&res);
	if (code == 401) {
		dynbuf_free(&b);
		return auth_failed(c, c->username ? "the token server refused the credentials"
		                                  : "the token server requires credentials (--username, --password-stdin)");
	}

	json_error_t jerr;
	json_t *doc = json_loadb(b.data ? b.data : "", b.len, 0, &jerr);
	if (b.data)
		OPENSSL_cleanse(b.data, b.len);
	dynbuf_free(&b);
	const char *tok = NULL;
	if (json_is_object(doc)) {
		tok = json_string_value(json_object_get(doc, "token"));
		if (!tok || !*tok)
			tok = json_string_value(json_object_get(doc, "access_token"));
	}
	/* A token goes into a header line: nothing that could end or fold it. */
	bool ok = tok && *tok && strlen(tok) < TOKEN_MAX_BYTES && !strpbrk(tok, "\r\n");
	if (ok) {
		wipe_free(c->auth);
		if (asprintf(&c->auth, "Authorization: Bearer %s", tok) < 0)
			c->auth = NULL;
	}
	oci_json_wipe(doc, 0);
	json_decref(doc);
	if (!ok)
		return ifx_fail(ctx, IMGFETCH_E_AUTH, "authentication failed for %s: the token server at %s sent no "
		                "usable token", c->where, realm);
	if (!c->auth)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	return IMGFETCH_OK;
}

/* Reacts to a 401's challenge: sets c->auth for the retry. */
static imgfetch_status answer_challenge(oci_client *c, const char *www_auth)
{
	char err[256];
	oci_auth_challenges chs = { 0 };
	if (!www_auth)
		return auth_failed(c, "HTTP 401 without a WWW-Authenticate challenge");
	if (oci_www_auth_parse(www_auth, strlen(www_auth), &chs, err, sizeof(err)) < 0)
		return ifx_fail(c->ctx, IMGFETCH_E_AUTH, "authentication failed for %s: unusable challenge: %s",
		                c->where, err);
	imgfetch_status st;
	const oci_auth_challenge *bearer = oci_auth_find(&chs, OCI_AUTH_BEARER);
	if (bearer) {
		st = fetch_token(c, bearer);
	} else if (oci_auth_find(&chs, OCI_AUTH_BASIC)) {
		if (!c->username) {
			st = auth_failed(c, "the registry requires credentials (--username, --password-stdin)");
		} else {
			wipe_free(c->auth);
			c->auth = basic_header(c->username, c->password);
			st = c->auth ? IMGFETCH_OK : ifx_fail(c->ctx, IMGFETCH_E_FAILED, "out of memory");
		}
	} else {
		st = auth_failed(c, "no supported challenge (Basic or Bearer)");
	}
	oci_www_auth_clear(&chs);
	return st;
}

/* Whether the header holds a Bearer challenge with error=<what>. */
static bool bearer_error_is(const char *www_auth, const char *what)
{
	char err[64];
	oci_auth_challenges chs = { 0 };
	if (!www_auth || oci_www_auth_parse(www_auth, strlen(www_auth), &chs, err, sizeof(err)) < 0)
		return false;
	const oci_auth_challenge *b = oci_auth_find(&chs, OCI_AUTH_BEARER);
	const char *e = b ? oci_auth_param_get(b, "error") : NULL;
	bool is = e && strcmp(e, what) == 0;
	oci_www_auth_clear(&chs);
	return is;
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
	/* Authorization from an earlier request of this session may have expired:
	 * a 401 for it earns one fresh answer to the challenge. So does a 401 with
	 * error="invalid_token" for a token just issued (already expired). Never
	 * more than two answers per request. */
	bool reused = c->auth != NULL;
	unsigned answers = 0;
	for (;;) {
		dynbuf_init(&b, OCI_MANIFEST_MAX_BYTES);
		st = get(c, url, headers, c->auth, OCI_MANIFEST_MAX_BYTES, label, &b, &res);
		if (st < 0)
			goto fail;
		if (res.http_status != 401)
			break;
		bool stale = c->auth && ((reused && answers == 0) ||
		                         (answers == 1 && bearer_error_is(res.www_authenticate, "invalid_token")));
		if (answers >= 2 || (c->auth && !stale)) {
			st = auth_failed(c, c->username ? "the credentials were refused"
			                                : "anonymous access is not allowed (--username, --password-stdin)");
			goto fail;
		}
		if (stale)
			ifx_log(ctx, IMGFETCH_LOG_INFO, "%s: authorization expired or invalid; authenticating again", label);
		st = answer_challenge(c, res.www_authenticate);
		if (st < 0)
			goto fail;
		answers++;
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

	bool reused = c->auth != NULL;
	unsigned answers = 0;
	for (;;) {
		const char *origin_headers[2] = { c->auth, NULL };
		xfer_request req = {
			.url = url,
			.label = label,
			.origin_headers = c->auth ? origin_headers : NULL,
			.allow_status = allow,
			.max_size = size,
			.report_progress = true,
		};
		imgfetch_status st = xfer_run(ctx, &req, sink, res);
		if (st < 0)
			return st;
		if (res->http_status != 401)
			return IMGFETCH_OK;
		bool stale = c->auth && ((reused && answers == 0) ||
		                         (answers == 1 && bearer_error_is(res->www_authenticate, "invalid_token")));
		if (answers >= 2 || (c->auth && !stale)) {
			xfer_result_clear(res);
			return auth_failed(c, c->username ? "the credentials were refused"
			                                  : "anonymous access is not allowed (--username, --password-stdin)");
		}
		st = answer_challenge(c, res->www_authenticate);
		xfer_result_clear(res);
		if (st < 0)
			return st;
		/* Bytes of an attempt before the 401 must not prefix the retry's. */
		if (sink->reset && sink->reset(sink->u) < 0)
			return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot restart the download of %s", label);
		answers++;
		ifx_log(ctx, IMGFETCH_LOG_INFO, "retrying %s with authorization", label);
	}
}
