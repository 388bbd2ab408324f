/* SPDX-License-Identifier: MIT */
/*
 * imgfetch push / index create: blob uploads (HEAD → skip, else POST → PATCH
 * chunks following the newest Location → PUT ?digest=), then an OCI image
 * manifest or index PUT. The registry requests use libcurl directly (the
 * transfer engine only GETs), with the context's HTTP options (CA bundle,
 * timeouts, user agent). Auth: a 401 challenge is answered with a token for
 * repository:<repo>:pull,push (Bearer) or the credentials (Basic); the
 * Authorization header goes to the registry's origin only and never into a
 * message.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ctx.h"
#include "oci/auth.h"
#include "oci/authfile.h"
#include "oci/client.h"
#include "oci/manifest.h"
#include "oci/ref.h"
#include "oci/www_auth.h"
#include "util/cleanup.h"
#include "util/dynbuf.h"
#include "verify/digest.h"

#define PUSH_DEFAULT_CHUNK (8u << 20)
#define PUSH_MIN_CHUNK (4u << 10)
#define PUSH_MAX_CHUNK (256u << 20)
#define RESP_BODY_MAX (64u << 10)
#define TOKEN_MAX (64u << 10)
#define HDR_MAX 8192
#define CONFIG_BLOB_MAX (1u << 20)
#define MAX_REDIRECTS 5
#define OCI_MT_EMPTY "application/vnd.oci.empty.v1+json"
#define OCI_MT_IMAGE_CONFIG "application/vnd.oci.image.config.v1+json"
#define DOCKER_MT_IMAGE_CONFIG "application/vnd.docker.container.image.v1+json"

typedef struct session {
	imgfetch_ctx *ctx;
	oci_ref ref;
	char *origin; /* "https://host[:port]" */
	char *where;  /* "host[:port]/repo" */
	char *scope;  /* "repository:<repo>:pull,push" */
	const char *username, *password; /* borrowed or from `found`; NULL: anonymous */
	oci_credentials found;           /* from an auth file when none were given */
	oci_auth auth; /* the Authorization header once known */
	CURL *curl;
} session;

typedef struct response {
	long status;
	char location[HDR_MAX];
	char www_auth[HDR_MAX];
	char dcd[256];
	char content_type[256];
	dynbuf body;
} response;

static void session_free(session *s)
{
	oci_ref_clear(&s->ref);
	free(s->origin);
	free(s->where);
	free(s->scope);
	oci_auth_clear(&s->auth);
	oci_credentials_clear(&s->found);
	if (s->curl)
		curl_easy_cleanup(s->curl);
	*s = (session){ 0 };
}

static imgfetch_status oom(imgfetch_ctx *ctx)
{
	return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
}

static imgfetch_status session_init(session *s, imgfetch_ctx *ctx, const char *refstr, const char *user,
                                    const char *password, const char *authfile)
{
	char err[256];
	*s = (session){ .ctx = ctx };
	if (!refstr || oci_ref_parse(refstr, &s->ref, err, sizeof(err)) < 0)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "invalid reference '%s': %s", refstr ? refstr : "",
		                refstr ? err : "missing");
	if (!user != !password)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "username and password go together");
	const char *host = strcmp(s->ref.host, "docker.io") == 0 ? "registry-1.docker.io" : s->ref.host;
	char port[8] = "";
	if (s->ref.port)
		snprintf(port, sizeof(port), ":%u", s->ref.port);
	if (asprintf(&s->origin, "https://%s%s", host, port) < 0)
		s->origin = NULL;
	if (asprintf(&s->where, "%s%s/%s", s->ref.host, port, s->ref.repository) < 0)
		s->where = NULL;
	if (asprintf(&s->scope, "repository:%s:pull,push", s->ref.repository) < 0)
		s->scope = NULL;
	s->curl = curl_easy_init();
	if (!s->origin || !s->where || !s->scope || !s->curl)
		return oom(ctx);
	/* Explicit credentials win; otherwise the auth files. */
	if (!user) {
		imgfetch_status st = oci_authfile_lookup(ctx, authfile, &s->ref, &s->found);
		if (st < 0)
			return st;
		user = s->found.username;
		password = s->found.password;
	}
	s->username = user;
	s->password = password;
	s->auth = (oci_auth){ .ctx = ctx, .where = s->where, .username = user, .password = password };
	return IMGFETCH_OK;
}

/* ------------------------------------------------------------- one request */

static void copy_value(const char *v, size_t n, char *out, size_t cap)
{
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= cap)
		n = 0; /* too long: dropped rather than truncated */
	memcpy(out, v, n);
	out[n] = '\0';
}

static size_t on_header(char *line, size_t size, size_t nitems, void *u)
{
	response *r = u;
	size_t n = size * nitems;
	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue, say): forget the old headers */
		r->location[0] = r->www_auth[0] = r->dcd[0] = r->content_type[0] = '\0';
		return n;
	}
	const char *colon = memchr(line, ':', n);
	if (!colon)
		return n;
	size_t klen = (size_t)(colon - line);
	const char *v = colon + 1;
	size_t vlen = n - klen - 1;
#define IS(name) (klen == sizeof(name) - 1 && strncasecmp(line, name, klen) == 0)
	if (IS("location"))
		copy_value(v, vlen, r->location, sizeof(r->location));
	else if (IS("www-authenticate") && !r->www_auth[0])
		copy_value(v, vlen, r->www_auth, sizeof(r->www_auth));
	else if (IS("docker-content-digest"))
		copy_value(v, vlen, r->dcd, sizeof(r->dcd));
	else if (IS("content-type"))
		copy_value(v, vlen, r->content_type, sizeof(r->content_type));
#undef IS
	return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *u)
{
	response *r = u;
	size_t n = size * nmemb;
	/* Beyond the cap the rest is dropped: only error documents and manifests
	 * are read, and a manifest over the cap fails its own size check. */
	if (r->body.len + n <= r->body.max)
		(void)dynbuf_append(&r->body, data, n);
	else
		r->body.max = 0; /* mark as truncated */
	return n;
}

static int on_progress(void *u, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return ifx_cancelled(u) ? 1 : 0;
}

static bool same_origin(const session *s, const char *url)
{
	size_t n = strlen(s->origin);
	return strncasecmp(url, s->origin, n) == 0 && (url[n] == '/' || url[n] == '\0' || url[n] == '?');
}

/*
 * One request. body/len: the request body (NULL: none; with a method other
 * than GET/HEAD an empty body is sent). headers: NULL-terminated extra
 * "Name: value" lines. auth: sent only when url is on the registry's origin
 * (or when force_auth, for the token realm). Fills *r (r->body must be
 * initialised by the caller).
 */
static imgfetch_status perform(session *s, const char *method, const char *url, const char *const *headers,
                               const char *auth, bool force_auth, const void *body, size_t len, uint64_t max_body,
                               response *r)
{
	imgfetch_ctx *ctx = s->ctx;
	const imgfetch_http_opts *o = &ctx->http;
	CURL *c = s->curl;
	char ua[128], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hl = NULL, *t;
	bool ok = true;

	if (ifx_cancelled(ctx))
		return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled");
	r->status = 0;
	r->location[0] = r->www_auth[0] = r->dcd[0] = r->content_type[0] = '\0';
	dynbuf_free(&r->body);
	dynbuf_init(&r->body, max_body ? (size_t)max_body : RESP_BODY_MAX);

	curl_easy_reset(c);
	snprintf(ua, sizeof(ua), "imgfetch/%s", IMGFETCH_VERSION);
	if (auth && (force_auth || same_origin(s, url)))
		ok = ok && (t = curl_slist_append(hl, auth)) && (hl = t);
	if (headers)
		for (const char *const *h = headers; *h && ok; h++)
			ok = (t = curl_slist_append(hl, *h)) && (hl = t);
	/* No "Expect: 100-continue" round trip. */
	ok = ok && (t = curl_slist_append(hl, "Expect:")) && (hl = t);
	if (!ok) {
		curl_slist_free_all(hl);
		return oom(ctx);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, o->user_agent ? o->user_agent : ua);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
	if (o->stall_timeout_ms) {
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)((o->stall_timeout_ms + 999) / 1000));
	}
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (o->cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, ctx);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	CURLcode cr = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hl);
	if (cr == CURLE_ABORTED_BY_CALLBACK && ifx_cancelled(ctx))
		return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled");
	if (cr != CURLE_OK) {
		bool tls = cr == CURLE_PEER_FAILED_VERIFICATION || cr == CURLE_SSL_CACERT_BADFILE ||
		           cr == CURLE_SSL_CONNECT_ERROR;
		return ifx_fail(ctx, IMGFETCH_E_NETWORK, "%s %s: %s%s", method, s->where,
		                errbuf[0] ? errbuf : curl_easy_strerror(cr),
		                tls ? " (a private CA? pass it with --cacert FILE)" : "");
	}
	return IMGFETCH_OK;
}

static imgfetch_status fetch_token(void *u, const oci_auth_challenge *ch)
{
	session *s = u;
	imgfetch_ctx *ctx = s->ctx;
	const char *realm = oci_auth_realm(&s->auth, ch);
	const char *service = oci_auth_param_get(ch, "service");
	if (!realm)
		return IMGFETCH_E_AUTH;

	char *esc_scope = curl_easy_escape(s->curl, s->scope, 0);
	char *esc_service = service ? curl_easy_escape(s->curl, service, 0) : NULL;
	_cleanup_free_ char *url = NULL;
	int rc = -1;
	if (esc_scope && (!service || esc_service))
		rc = asprintf(&url, "%s%sscope=%s%s%s", realm, strchr(realm, '?') ? "&" : "?", esc_scope,
		              service ? "&service=" : "", service ? esc_service : "");
	curl_free(esc_scope);
	curl_free(esc_service);
	if (rc < 0)
		return oom(ctx);
	char *basic = s->username ? oci_auth_basic(s->username, s->password) : NULL;
	if (s->username && !basic)
		return oom(ctx);
	ifx_log(ctx, IMGFETCH_LOG_INFO, "requesting a token for %s from %s%s", s->scope, realm,
	        s->username ? " with credentials" : " anonymously");
	static const char *const hdr[] = { "Accept: application/json", NULL };
	response r = { 0 };
	imgfetch_status st = perform(s, "GET", url, hdr, basic, true, NULL, 0, TOKEN_MAX, &r);
	oci_auth_wipe_free(basic);
	if (st == IMGFETCH_OK)
		st = oci_auth_take_token(&s->auth, realm, r.status, r.body.data, r.body.len, TOKEN_MAX);
	if (r.body.data)
		OPENSSL_cleanse(r.body.data, r.body.len);
	dynbuf_free(&r.body);
	return st;
}

/* A request to the registry with the 401 dance: at most two answers to a
 * challenge per request (one when the session's authorization was fresh). */
static imgfetch_status request(session *s, const char *method, const char *url, const char *const *headers,
                               const void *body, size_t len, uint64_t max_body, response *r)
{
	oci_auth_round round;
	oci_auth_round_start(&s->auth, &round);
	for (;;) {
		imgfetch_status st = perform(s, method, url, headers, s->auth.header, false, body, len, max_body, r);
		if (st < 0)
			return st;
		if (r->status != 401)
			return IMGFETCH_OK;
		/* Only the registry's own challenge is answered: a 401 from another
		 * host (an upload Location elsewhere) must not draw credentials. */
		if (!same_origin(s, url))
			return ifx_fail(s->ctx, IMGFETCH_E_AUTH, "authentication failed for %s: %s is not the registry and "
			                "asks for credentials", s->where, "the upload location");
		st = oci_auth_on_401(&s->auth, &round, r->www_auth, fetch_token, s);
		if (st < 0)
			return st;
	}
}

/* The registry's {"errors":[{"code":..,"message":..}]} as "CODE: message", or "". */
static void registry_error(const response *r, char *out, size_t cap)
{
	out[0] = '\0';
	if (!r->body.data || !r->body.len)
		return;
	json_t *doc = json_loadb(r->body.data, r->body.len, 0, NULL);
	json_t *e0 = json_array_get(json_object_get(doc, "errors"), 0);
	const char *code = json_string_value(json_object_get(e0, "code"));
	const char *msg = json_string_value(json_object_get(e0, "message"));
	if (code || msg)
		snprintf(out, cap, ": %s%s%s", code ? code : "", code && msg ? ": " : "", msg ? msg : "");
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	json_decref(doc);
}

static imgfetch_status unexpected(session *s, const char *what, const response *r)
{
	char err[512];
	registry_error(r, err, sizeof(err));
	imgfetch_status st = r->status == 404   ? IMGFETCH_E_NOT_FOUND
	                     : r->status == 403 ? IMGFETCH_E_AUTH
	                     : r->status >= 500 ? IMGFETCH_E_NETWORK
	                                        : IMGFETCH_E_FAILED;
	return ifx_fail(s->ctx, st, "%s on %s: HTTP %ld%s", what, s->where, r->status, err);
}

/* An absolute URL for a Location header (absolute, or relative to the origin). */
static char *resolve_location(session *s, const char *loc)
{
	char *u = NULL;
	if (strncasecmp(loc, "https://", 8) == 0 || strncasecmp(loc, "http://", 7) == 0)
		return strdup(loc);
	if (loc[0] == '/' && loc[1] != '/') {
		if (asprintf(&u, "%s%s", s->origin, loc) < 0)
			return NULL;
		return u;
	}
	return NULL;
}

/* ------------------------------------------------------------------ blobs */

typedef struct blob {
	const char *path;
	char digest[140];
	uint64_t size;
} blob;

static imgfetch_status hash_file(imgfetch_ctx *ctx, blob *b)
{
	_cleanup_close_ int fd = open(b->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ifx_fail(ctx, errno == ENOENT ? IMGFETCH_E_NOT_FOUND : IMGFETCH_E_FAILED, "cannot open %s: %s",
		                b->path, strerror(errno));
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "%s is not a regular file", b->path);
	digest *d = digest_new(IMGFETCH_HASH_SHA256);
	char *buf = malloc(1u << 20);
	if (!d || !buf) {
		digest_free(d);
		free(buf);
		return oom(ctx);
	}
	uint64_t total = 0;
	imgfetch_status st = IMGFETCH_OK;
	for (;;) {
		if (ifx_cancelled(ctx)) {
			st = ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled");
			break;
		}
		ssize_t n = read(fd, buf, 1u << 20);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot read %s: %s", b->path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if (digest_update(d, buf, (size_t)n) < 0) {
			st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot compute a digest");
			break;
		}
		total += (uint64_t)n;
	}
	char hex[129];
	if (st == IMGFETCH_OK && digest_final_hex(d, hex) < 0)
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot compute a digest");
	if (st == IMGFETCH_OK) {
		snprintf(b->digest, sizeof(b->digest), "sha256:%s", hex);
		b->size = total;
	}
	digest_free(d);
	free(buf);
	return st;
}

static imgfetch_status hash_mem(imgfetch_ctx *ctx, const void *p, size_t n, char out[140])
{
	char hex[129];
	if (digest_hex_of(IMGFETCH_HASH_SHA256, p, n, hex) < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot compute a digest");
	snprintf(out, 140, "sha256:%s", hex);
	return IMGFETCH_OK;
}

/* Whether the registry already has the blob: HEAD 200 (or a redirect to it). */
static imgfetch_status blob_exists(session *s, const char *dg, bool *ret)
{
	_cleanup_free_ char *url = NULL;
	if (asprintf(&url, "%s/v2/%s/blobs/%s", s->origin, s->ref.repository, dg) < 0)
		return oom(s->ctx);
	response r = { 0 };
	imgfetch_status st = request(s, "HEAD", url, NULL, NULL, 0, 0, &r);
	if (st == IMGFETCH_OK) {
		if (r.status == 200 || r.status == 307 || r.status == 302 || r.status == 303 || r.status == 308)
			*ret = true;
		else if (r.status == 404)
			*ret = false;
		else
			st = unexpected(s, "HEAD blob", &r);
	}
	dynbuf_free(&r.body);
	return st;
}

typedef struct blob_source {
	const char *path; /* a file, or */
	const void *mem;  /* bytes in memory */
	size_t mem_len;
} blob_source;

/* The next Location of an upload session, resolved; the old one freed. */
static imgfetch_status next_location(session *s, const response *r, char **loc, const char *what)
{
	if (!r->location[0])
		return ifx_fail(s->ctx, IMGFETCH_E_FAILED, "%s on %s: HTTP %ld without a Location", what, s->where,
		                r->status);
	char *u = resolve_location(s, r->location);
	if (!u)
		return ifx_fail(s->ctx, IMGFETCH_E_FAILED, "%s on %s: unusable Location", what, s->where);
	free(*loc);
	*loc = u;
	return IMGFETCH_OK;
}

static imgfetch_status upload_blob(session *s, const blob *b, const blob_source *src, uint64_t chunk,
                                   uint64_t *uploaded)
{
	imgfetch_ctx *ctx = s->ctx;
	_cleanup_free_ char *url = NULL, *loc = NULL, *put = NULL;
	_cleanup_close_ int fd = -1;
	char *buf = NULL;
	response r = { 0 };
	imgfetch_status st;

	if (asprintf(&url, "%s/v2/%s/blobs/uploads/", s->origin, s->ref.repository) < 0)
		return oom(ctx);
	if (src->path) {
		fd = open(src->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot open %s: %s", src->path, strerror(errno));
		buf = malloc(chunk);
		if (!buf)
			return oom(ctx);
	}
	static const char *const post_hdr[] = { "Content-Length: 0", NULL };
	st = request(s, "POST", url, post_hdr, NULL, 0, 0, &r);
	if (st < 0)
		goto out;
	if (r.status == 201)
		goto out; /* already there (mounted) */
	if (r.status != 202) {
		st = unexpected(s, "starting a blob upload", &r);
		goto out;
	}
	st = next_location(s, &r, &loc, "starting a blob upload");
	if (st < 0)
		goto out;

	uint64_t off = 0;
	while (off < b->size) {
		size_t n = (size_t)(b->size - off < chunk ? b->size - off : chunk);
		const void *data;
		if (src->path) {
			size_t got = 0;
			while (got < n) {
				ssize_t k = pread(fd, buf + got, n - got, (off_t)(off + got));
				if (k < 0 && errno == EINTR)
					continue;
				if (k <= 0) {
					st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot read %s: %s", src->path,
					              k < 0 ? strerror(errno) : "the file shrank while being pushed");
					goto out;
				}
				got += (size_t)k;
			}
			data = buf;
		} else {
			data = (const char *)src->mem + off;
		}
		char range[80];
		snprintf(range, sizeof(range), "Content-Range: %" PRIu64 "-%" PRIu64, off, off + n - 1);
		const char *hdr[] = { "Content-Type: application/octet-stream", range, NULL };
		st = request(s, "PATCH", loc, hdr, data, n, 0, &r);
		if (st < 0)
			goto out;
		if (r.status != 202) {
			st = unexpected(s, "uploading a blob chunk", &r);
			goto out;
		}
		st = next_location(s, &r, &loc, "uploading a blob chunk");
		if (st < 0)
			goto out;
		off += n;
		*uploaded += n;
		ifx_progress(ctx, src->path ? src->path : "config", off, b->size, off == b->size);
	}
	if (asprintf(&put, "%s%sdigest=%s", loc, strchr(loc, '?') ? "&" : "?", b->digest) < 0) {
		put = NULL;
		st = oom(ctx);
		goto out;
	}
	static const char *const put_hdr[] = { "Content-Type: application/octet-stream", NULL };
	st = request(s, "PUT", put, put_hdr, NULL, 0, 0, &r);
	if (st < 0)
		goto out;
	if (r.status != 201) {
		st = unexpected(s, "completing a blob upload", &r);
		goto out;
	}
	if (r.dcd[0] && strcmp(r.dcd, b->digest) != 0)
		st = ifx_fail(ctx, IMGFETCH_E_VERIFY, "the registry stored %s as %s", b->digest, r.dcd);
out:
	free(buf);
	dynbuf_free(&r.body);
	return st;
}

static imgfetch_status push_blob(session *s, const blob *b, const blob_source *src, uint64_t chunk,
                                 imgfetch_push_result *res)
{
	bool exists = false;
	imgfetch_status st = blob_exists(s, b->digest, &exists);
	if (st < 0)
		return st;
	if (exists) {
		ifx_log(s->ctx, IMGFETCH_LOG_INFO, "%s: %s already in %s, not uploaded", src->path ? src->path : "blob",
		        b->digest, s->where);
		res->blobs_skipped++;
		return IMGFETCH_OK;
	}
	ifx_log(s->ctx, IMGFETCH_LOG_INFO, "uploading %s (%s, %" PRIu64 " bytes) to %s", src->path ? src->path : "blob",
	        b->digest, b->size, s->where);
	st = upload_blob(s, b, src, chunk, &res->bytes_uploaded);
	if (st == IMGFETCH_OK)
		res->blobs_uploaded++;
	return st;
}

/* PUTs a manifest or index by tag (or by its digest when tag is NULL). */
static imgfetch_status put_manifest(session *s, const char *tag, const char *media_type, const char *body,
                                    size_t len, imgfetch_push_result *res)
{
	imgfetch_ctx *ctx = s->ctx;
	char dg[140];
	imgfetch_status st = hash_mem(ctx, body, len, dg);
	if (st < 0)
		return st;
	_cleanup_free_ char *url = NULL, *ct = NULL;
	if (asprintf(&url, "%s/v2/%s/manifests/%s", s->origin, s->ref.repository, tag ? tag : dg) < 0 ||
	    asprintf(&ct, "Content-Type: %s", media_type) < 0)
		return oom(ctx);
	const char *hdr[] = { ct, NULL };
	response r = { 0 };
	st = request(s, "PUT", url, hdr, body, len, 0, &r);
	if (st == IMGFETCH_OK && r.status != 201)
		st = unexpected(s, "putting the manifest", &r);
	if (st == IMGFETCH_OK && r.dcd[0] && strcmp(r.dcd, dg) != 0)
		st = ifx_fail(ctx, IMGFETCH_E_VERIFY, "the registry stored the manifest as %s, not %s", r.dcd, dg);
	dynbuf_free(&r.body);
	if (st < 0)
		return st;
	char port[8] = "";
	if (s->ref.port)
		snprintf(port, sizeof(port), ":%u", s->ref.port);
	res->digest = strdup(dg);
	res->size = len;
	if (asprintf(&res->reference, "%s%s/%s%s%s@%s", s->ref.host, port, s->ref.repository, tag ? ":" : "",
	             tag ? tag : "", dg) < 0)
		res->reference = NULL;
	if (!res->digest || !res->reference)
		return oom(ctx);
	return IMGFETCH_OK;
}

/* --------------------------------------------------------------- manifest */

static json_t *descriptor_json(const char *mt, const char *dg, uint64_t size)
{
	return json_pack("{s:s, s:s, s:I}", "mediaType", mt, "digest", dg, "size", (json_int_t)size);
}

static bool platform_valid(const char *p)
{
	if (!p || !*p || p[0] == '/' || p[strlen(p) - 1] == '/' || strstr(p, "//"))
		return false;
	size_t slashes = 0;
	for (const char *q = p; *q; q++) {
		if (*q == '/')
			slashes++;
		else if ((unsigned char)*q <= ' ' || *q == '"' || *q == '\\')
			return false;
	}
	return slashes >= 1 && slashes <= 2;
}

static bool annotations_valid(imgfetch_ctx *ctx, const imgfetch_oci_annotation *a, size_t n, imgfetch_status *st)
{
	for (size_t i = 0; i < n; i++) {
		if (!a[i].key || !*a[i].key || !a[i].value) {
			*st = ifx_fail(ctx, IMGFETCH_E_INVALID, "an annotation needs KEY=VALUE with a non-empty key");
			return false;
		}
	}
	return true;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

void imgfetch_push_result_free(imgfetch_push_result *r)
{
	if (!r)
		return;
	free(r->reference);
	free(r->digest);
	free(r);
}

imgfetch_status imgfetch_push(imgfetch_ctx *ctx, const imgfetch_push_opts *opts, imgfetch_push_result **ret)
{
	*ret = NULL;
	if (ifx_cancelled(ctx))
		return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled");
	if (!opts || !opts->ref || (opts->n_files && !opts->files))
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "push needs a reference");
	if (opts->platform && !platform_valid(opts->platform))
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "--platform needs OS/ARCH[/VARIANT], not '%s'", opts->platform);
	if (!!opts->config_path != !!opts->config_media_type)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "the config needs FILE:MEDIATYPE");
	uint64_t chunk = opts->chunk_size ? opts->chunk_size : PUSH_DEFAULT_CHUNK;
	if (chunk < PUSH_MIN_CHUNK || chunk > PUSH_MAX_CHUNK)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "the chunk size must be between 4 KiB and 256 MiB");
	imgfetch_status st = IMGFETCH_OK;
	if (!annotations_valid(ctx, opts->annotations, opts->n_annotations, &st))
		return st;

	session s;
	blob *blobs = NULL;
	json_t *doc = NULL;
	char *text = NULL;
	imgfetch_push_result *res = calloc(1, sizeof(*res));
	st = res ? session_init(&s, ctx, opts->ref, opts->username, opts->password, opts->authfile) : oom(ctx);
	if (!res)
		return st;
	if (st < 0)
		goto out;
	if (s.ref.digest) {
		st = ifx_fail(ctx, IMGFETCH_E_INVALID, "push needs a tag, not a digest: %s", opts->ref);
		goto out;
	}
	blobs = calloc(opts->n_files + 1, sizeof(*blobs));
	if (!blobs) {
		st = oom(ctx);
		goto out;
	}
	for (size_t i = 0; i < opts->n_files; i++) {
		blobs[i].path = opts->files[i].path;
		st = hash_file(ctx, &blobs[i]);
		if (st < 0)
			goto out;
	}
	blob cfg = { 0 };
	static const char empty[] = "{}";
	blob_source cfg_src = { 0 };
	if (opts->config_path) {
		cfg.path = opts->config_path;
		st = hash_file(ctx, &cfg);
		cfg_src.path = opts->config_path;
	} else {
		cfg.path = NULL;
		st = hash_mem(ctx, empty, 2, cfg.digest);
		cfg.size = 2;
		cfg_src.mem = empty;
		cfg_src.mem_len = 2;
	}
	if (st < 0)
		goto out;

	/* blobs first, then the config, then the manifest */
	for (size_t i = 0; i < opts->n_files; i++) {
		blob_source src = { .path = blobs[i].path };
		st = push_blob(&s, &blobs[i], &src, chunk, res);
		if (st < 0)
			goto out;
	}
	st = push_blob(&s, &cfg, &cfg_src, chunk, res);
	if (st < 0)
		goto out;

	doc = json_object();
	json_t *layers = json_array();
	bool ok = doc && layers && json_object_set_new(doc, "schemaVersion", json_integer(2)) == 0 &&
	          json_object_set_new(doc, "mediaType", json_string(OCI_MT_MANIFEST)) == 0;
	if (ok && opts->artifact_type)
		ok = json_object_set_new(doc, "artifactType", json_string(opts->artifact_type)) == 0;
	if (ok)
		ok = json_object_set_new(doc, "config",
		                         descriptor_json(opts->config_media_type ? opts->config_media_type : OCI_MT_EMPTY,
		                                         cfg.digest, cfg.size)) == 0;
	for (size_t i = 0; ok && i < opts->n_files; i++) {
		const imgfetch_push_file *f = &opts->files[i];
		json_t *d = descriptor_json(f->media_type ? f->media_type : "application/octet-stream", blobs[i].digest,
		                            blobs[i].size);
		json_t *ann = json_pack("{s:s}", OCI_ANNOTATION_TITLE, f->title ? f->title : base_name(f->path));
		ok = d && ann && json_object_set_new(d, "annotations", ann) == 0 && json_array_append_new(layers, d) == 0;
		if (!ok) {
			json_decref(d);
			json_decref(ann);
		}
	}
	ok = ok && json_object_set(doc, "layers", layers) == 0;
	if (ok && (opts->n_annotations || opts->platform)) {
		json_t *ann = json_object();
		ok = ann != NULL;
		for (size_t i = 0; ok && i < opts->n_annotations; i++)
			ok = json_object_set_new(ann, opts->annotations[i].key,
			                         json_string(opts->annotations[i].value)) == 0;
		if (ok && opts->platform)
			ok = json_object_set_new(ann, IMGFETCH_OCI_ANNOTATION_PLATFORM, json_string(opts->platform)) == 0;
		ok = ok && json_object_set_new(doc, "annotations", ann) == 0;
		if (!ok)
			json_decref(ann);
	}
	json_decref(layers);
	text = ok ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (!text) {
		st = ifx_fail(ctx, IMGFETCH_E_INVALID, "cannot build the manifest (an annotation or media type is not "
		              "valid UTF-8?)");
		goto out;
	}
	st = put_manifest(&s, s.ref.tag, OCI_MT_MANIFEST, text, strlen(text), res);
	if (st == IMGFETCH_OK)
		ifx_log(ctx, IMGFETCH_LOG_NOTICE, "pushed %s (%zu blob%s uploaded, %zu already present)", res->reference,
		        res->blobs_uploaded, res->blobs_uploaded == 1 ? "" : "s", res->blobs_skipped);
out:
	free(text);
	json_decref(doc);
	free(blobs);
	session_free(&s);
	if (st < 0) {
		imgfetch_push_result_free(res);
		return st;
	}
	*ret = res;
	return IMGFETCH_OK;
}

/* ------------------------------------------------------------------ index */

/* GETs a manifest (by tag or digest) of the session's repository, verified. */
static imgfetch_status get_manifest(session *s, const char *reference, response *r, char dg[140])
{
	_cleanup_free_ char *url = NULL;
	if (asprintf(&url, "%s/v2/%s/manifests/%s", s->origin, s->ref.repository, reference) < 0)
		return oom(s->ctx);
	static const char *const hdr[] = { "Accept: " OCI_MANIFEST_ACCEPT, NULL };
	imgfetch_status st = request(s, "GET", url, hdr, NULL, 0, OCI_MANIFEST_MAX_BYTES, r);
	if (st < 0)
		return st;
	if (r->status != 200)
		return unexpected(s, reference, r);
	if (r->body.max == 0)
		return ifx_fail(s->ctx, IMGFETCH_E_FORMAT, "manifest %s is larger than 4 MiB", reference);
	st = hash_mem(s->ctx, r->body.data ? r->body.data : "", r->body.len, dg);
	if (st < 0)
		return st;
	if (oci_digest_valid(reference) && strcmp(reference, dg) != 0)
		return ifx_fail(s->ctx, IMGFETCH_E_VERIFY, "manifest digest mismatch for %s@%s: the registry sent %s",
		                s->where, reference, dg);
	return IMGFETCH_OK;
}

/* GETs a small blob (the image config), following redirects without credentials. */
static bool blob_matches(const char *dg, uint64_t size, const dynbuf *b)
{
	bool sha512 = strncmp(dg, "sha512:", 7) == 0;
	if (b->len != size || (!sha512 && strncmp(dg, "sha256:", 7) != 0))
		return false;
	digest *d = digest_new(sha512 ? IMGFETCH_HASH_SHA512 : IMGFETCH_HASH_SHA256);
	char hex[129];
	bool ok = d && digest_update(d, b->data ? b->data : "", b->len) == 0 && digest_final_hex(d, hex) == 0 &&
	          strcmp(hex, dg + 7) == 0;
	digest_free(d);
	return ok;
}

static imgfetch_status get_blob_small(session *s, const char *dg, response *r)
{
	_cleanup_free_ char *url = NULL;
	if (asprintf(&url, "%s/v2/%s/blobs/%s", s->origin, s->ref.repository, dg) < 0)
		return oom(s->ctx);
	for (int hops = 0;; hops++) {
		imgfetch_status st = request(s, "GET", url, NULL, NULL, 0, CONFIG_BLOB_MAX, r);
		if (st < 0)
			return st;
		if (r->status == 200)
			return r->body.max ? IMGFETCH_OK
			                   : ifx_fail(s->ctx, IMGFETCH_E_FORMAT, "config %s is too large", dg);
		if ((r->status == 301 || r->status == 302 || r->status == 303 || r->status == 307 || r->status == 308) &&
		    r->location[0] && hops < MAX_REDIRECTS) {
			char *u = resolve_location(s, r->location);
			if (!u || strncasecmp(u, "https://", 8) != 0) {
				free(u);
				return ifx_fail(s->ctx, IMGFETCH_E_NETWORK, "unusable redirect for blob %s", dg);
			}
			free(url);
			url = u;
			continue;
		}
		return unexpected(s, "GET config blob", r);
	}
}

/* "os/arch[/variant]" for a manifest: its platform annotation, KubeSolo's
 * architecture annotation, or its image config's os/architecture. NULL when
 * none is known (or on OOM: *st says). */
static char *detect_platform(session *s, const oci_manifest *m, imgfetch_status *st)
{
	char *p = NULL;
	const char *a = oci_annotation_get(m->annotations, m->n_annotations, IMGFETCH_OCI_ANNOTATION_PLATFORM);
	if (a && platform_valid(a))
		return strdup(a);
	a = oci_annotation_get(m->annotations, m->n_annotations, "io.kubesolo.os.architecture");
	if (a && *a && !strchr(a, '/')) {
		if (asprintf(&p, "linux/%s", a) < 0)
			p = NULL;
		return p;
	}
	if (!m->config || !m->config->media_type ||
	    (strcmp(m->config->media_type, OCI_MT_IMAGE_CONFIG) != 0 &&
	     strcmp(m->config->media_type, DOCKER_MT_IMAGE_CONFIG) != 0))
		return NULL;
	response r = { 0 };
	*st = get_blob_small(s, m->config->digest, &r);
	/* Parse only a config that is the one the manifest names. */
	if (*st == IMGFETCH_OK && !blob_matches(m->config->digest, (uint64_t)m->config->size, &r.body))
		*st = ifx_fail(s->ctx, IMGFETCH_E_VERIFY, "the image config %s does not match its digest or size",
		               m->config->digest);
	if (*st == IMGFETCH_OK) {
		json_t *doc = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
		const char *os = json_string_value(json_object_get(doc, "os"));
		const char *arch = json_string_value(json_object_get(doc, "architecture"));
		const char *var = json_string_value(json_object_get(doc, "variant"));
		if (os && arch && *os && *arch &&
		    asprintf(&p, "%s/%s%s%s", os, arch, var && *var ? "/" : "", var && *var ? var : "") < 0)
			p = NULL;
		if (p && !platform_valid(p)) {
			free(p);
			p = NULL;
		}
		json_decref(doc);
	}
	dynbuf_free(&r.body);
	return p;
}

static json_t *platform_json(const char *p)
{
	char *dup = strdup(p);
	if (!dup)
		return NULL;
	char *arch = strchr(dup, '/');
	*arch++ = '\0';
	char *var = strchr(arch, '/');
	if (var)
		*var++ = '\0';
	json_t *j = json_pack("{s:s, s:s}", "architecture", arch, "os", dup);
	if (j && var && json_object_set_new(j, "variant", json_string(var)) < 0) {
		json_decref(j);
		j = NULL;
	}
	free(dup);
	return j;
}

/* The tag or digest a MANIFEST argument names in the session's repository. */
static imgfetch_status child_reference(session *s, const char *arg, char **ret)
{
	*ret = NULL;
	if (oci_digest_valid(arg) || oci_tag_valid(arg, strlen(arg))) {
		*ret = strdup(arg);
		return *ret ? IMGFETCH_OK : oom(s->ctx);
	}
	oci_ref r;
	char err[256];
	if (oci_ref_parse(arg, &r, err, sizeof(err)) < 0)
		return ifx_fail(s->ctx, IMGFETCH_E_INVALID, "invalid manifest reference '%s': %s", arg, err);
	bool same = strcmp(r.host, s->ref.host) == 0 && r.port == s->ref.port &&
	            strcmp(r.repository, s->ref.repository) == 0;
	if (same)
		*ret = strdup(r.digest ? r.digest : r.tag);
	oci_ref_clear(&r);
	if (!same)
		return ifx_fail(s->ctx, IMGFETCH_E_INVALID, "manifest '%s' is not in %s: an index can only list "
		                "manifests of its own repository", arg, s->where);
	return *ret ? IMGFETCH_OK : oom(s->ctx);
}

imgfetch_status imgfetch_index_create(imgfetch_ctx *ctx, const imgfetch_index_opts *opts,
                                      imgfetch_push_result **ret)
{
	*ret = NULL;
	if (ifx_cancelled(ctx))
		return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled");
	if (!opts || !opts->ref || !opts->n_manifests || !opts->manifests)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "index create needs a reference and at least one manifest");
	if (opts->n_manifests > OCI_MAX_DESCRIPTORS)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "too many manifests");
	for (size_t i = 0; opts->platforms && i < opts->n_manifests; i++)
		if (opts->platforms[i] && !platform_valid(opts->platforms[i]))
			return ifx_fail(ctx, IMGFETCH_E_INVALID, "a platform needs OS/ARCH[/VARIANT], not '%s'",
			                opts->platforms[i]);
	imgfetch_status st = IMGFETCH_OK;
	if (!annotations_valid(ctx, opts->annotations, opts->n_annotations, &st))
		return st;

	session s;
	json_t *doc = NULL, *list = NULL;
	char *text = NULL;
	imgfetch_push_result *res = calloc(1, sizeof(*res));
	st = res ? session_init(&s, ctx, opts->ref, opts->username, opts->password, opts->authfile) : oom(ctx);
	if (!res)
		return st;
	if (st < 0)
		goto out;
	if (s.ref.digest) {
		st = ifx_fail(ctx, IMGFETCH_E_INVALID, "index create needs a tag, not a digest: %s", opts->ref);
		goto out;
	}
	doc = json_pack("{s:i, s:s}", "schemaVersion", 2, "mediaType", OCI_MT_INDEX);
	list = json_array();
	if (!doc || !list) {
		st = oom(ctx);
		goto out;
	}
	for (size_t i = 0; i < opts->n_manifests; i++) {
		_cleanup_free_ char *child = NULL, *plat = NULL;
		st = child_reference(&s, opts->manifests[i], &child);
		if (st < 0)
			goto out;
		response r = { 0 };
		char dg[140];
		oci_manifest m = { 0 };
		char err[256];
		st = get_manifest(&s, child, &r, dg);
		if (st == IMGFETCH_OK && oci_manifest_parse(r.body.data ? r.body.data : "", r.body.len, &m, err,
		                                            sizeof(err)) < 0)
			st = ifx_fail(ctx, IMGFETCH_E_FORMAT, "%s@%s: %s", s.where, child, err);
		if (st == IMGFETCH_OK && oci_kind_is_index(m.kind))
			st = ifx_fail(ctx, IMGFETCH_E_INVALID, "%s is an index, not a manifest", opts->manifests[i]);
		const char *mt = NULL;
		if (st == IMGFETCH_OK) {
			size_t n = strcspn(r.content_type, "; \t");
			r.content_type[n] = '\0';
			mt = m.media_type ? m.media_type : r.content_type[0] ? r.content_type : OCI_MT_MANIFEST;
			if (opts->platforms && opts->platforms[i])
				plat = strdup(opts->platforms[i]);
			else
				plat = detect_platform(&s, &m, &st);
		}
		if (st == IMGFETCH_OK) {
			json_t *d = descriptor_json(mt, dg, r.body.len);
			bool ok = d != NULL;
			if (ok && m.artifact_type)
				ok = json_object_set_new(d, "artifactType", json_string(m.artifact_type)) == 0;
			if (ok && plat)
				ok = json_object_set_new(d, "platform", platform_json(plat)) == 0;
			ok = ok && json_array_append_new(list, d) == 0;
			if (!ok) {
				json_decref(d);
				st = oom(ctx);
			}
			if (ok)
				ifx_log(ctx, IMGFETCH_LOG_INFO, "index entry %s %s (%s)", dg, plat ? plat : "(no platform)",
				        mt);
		}
		oci_manifest_clear(&m);
		dynbuf_free(&r.body);
		if (st < 0)
			goto out;
	}
	if (json_object_set(doc, "manifests", list) < 0) {
		st = oom(ctx);
		goto out;
	}
	if (opts->n_annotations) {
		json_t *ann = json_object();
		bool ok = ann != NULL;
		for (size_t i = 0; ok && i < opts->n_annotations; i++)
			ok = json_object_set_new(ann, opts->annotations[i].key,
			                         json_string(opts->annotations[i].value)) == 0;
		ok = ok && json_object_set_new(doc, "annotations", ann) == 0;
		if (!ok) {
			json_decref(ann);
			st = ifx_fail(ctx, IMGFETCH_E_INVALID, "cannot add the annotations (not valid UTF-8?)");
			goto out;
		}
	}
	text = json_dumps(doc, JSON_COMPACT);
	if (!text) {
		st = oom(ctx);
		goto out;
	}
	st = put_manifest(&s, s.ref.tag, OCI_MT_INDEX, text, strlen(text), res);
	if (st == IMGFETCH_OK)
		ifx_log(ctx, IMGFETCH_LOG_NOTICE, "pushed index %s (%zu manifests)", res->reference, opts->n_manifests);
out:
	free(text);
	json_decref(list);
	json_decref(doc);
	session_free(&s);
	if (st < 0) {
		imgfetch_push_result_free(res);
		return st;
	}
	*ret = res;
	return IMGFETCH_OK;
}
