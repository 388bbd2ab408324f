/* SPDX-License-Identifier: MIT */
/*
 * IMGAPI client: one libcurl request per call, driven through a multi handle
 * so that the context's timeouts (first byte, stall) and cancellation are
 * checked every 100 ms rather than when libcurl next reports progress
 * (http/curl_run.c, shared with the transfer engine). The transfer engine
 * only GETs into sinks, hence requests of its own here.
 */
#include "smartos/imgapi.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/curl_run.h"
#include "util/cleanup.h"
#include "util/dynbuf.h"
#include "util/strutil.h"

#define ERROR_BODY_MAX (64u << 10)
#define IMAGE_BODY_MAX (1u << 20)  /* a manifest, as deliver.c accepts them */
#define SERVER_MESSAGE_MAX 300     /* of the server's "message" quoted in an error */

struct imgapi_client {
	imgfetch_ctx *ctx;
	const imgfetch_http_opts *http;
	char *base;   /* without a trailing '/' */
	char *where;  /* base without user:password, for messages */
	CURL *curl;
	CURLM *multi; /* keeps the connection between calls */
};

/* The request body streamed from a file (AddImageFile). */
typedef struct upload {
	int fd;
	const char *label;
	uint64_t size;
	uint64_t sent;
	EVP_MD_CTX *sha1;
	int read_errno;
	bool ended_early;
	struct timespec finished;  /* when the last byte was handed to libcurl */
	struct timespec last_report;
} upload;

/* One request in flight. */
typedef struct call {
	imgapi_client *c;
	upload *up;                /* NULL: no streamed body */
	long status;               /* of the response being received */
	bool headers_done;         /* a final (>= 200) response's headers are in */
	dynbuf body;
	bool truncated;
	struct timespec started;
	struct timespec last_data; /* bytes moved either way */
	const char *abort_reason;
} call;

/* ------------------------------------------------------------ small helpers */

static void now(struct timespec *t)
{
	clock_gettime(CLOCK_MONOTONIC, t);
}

static double since(const struct timespec *t)
{
	struct timespec n;
	now(&n);
	return (double)(n.tv_sec - t->tv_sec) + (double)(n.tv_nsec - t->tv_nsec) / 1e9;
}

static imgfetch_status oom(imgfetch_ctx *ctx)
{
	return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
}

/* A UUID is all that goes into a path; checked here too so that no caller
 * can make this client request some other resource. */
static bool uuid_safe(const char *u)
{
	if (!u || strlen(u) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? u[i] != '-' : !isxdigit((unsigned char)u[i]))
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------ client */

imgfetch_status imgapi_client_new(imgfetch_ctx *ctx, const char *base_url, const imgfetch_http_opts *http,
                                  imgapi_client **ret)
{
	*ret = NULL;
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	imgfetch_status st = IMGFETCH_OK;
	if (!u)
		return oom(ctx);
	if (!base_url || curl_url_set(u, CURLUPART_URL, base_url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		st = ifx_fail(ctx, IMGFETCH_E_INVALID, "the IMGAPI URL must be http://HOST[:PORT] or https://..., not '%s'",
		              base_url ? base_url : "");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		path = NULL;
	char *q = NULL;
	if (curl_url_get(u, CURLUPART_QUERY, &q, 0) == CURLUE_OK) {
		curl_free(q);
		st = ifx_fail(ctx, IMGFETCH_E_INVALID, "the IMGAPI URL must not have a query: '%s'", base_url);
		goto out;
	}

	imgapi_client *c = calloc(1, sizeof(*c));
	if (!c) {
		st = oom(ctx);
		goto out;
	}
	c->ctx = ctx;
	c->http = http;
	c->base = strdup(base_url);
	if (c->base)
		c->base[strcspn(c->base, "#")] = '\0';
	for (size_t n = c->base ? strlen(c->base) : 0; n > 0 && c->base[n - 1] == '/'; n--)
		c->base[n - 1] = '\0';
	const char *p = path && strcmp(path, "/") != 0 ? path : "";
	size_t plen = strlen(p);
	while (plen > 0 && p[plen - 1] == '/')
		plen--;
	if (asprintf(&c->where, "%s://%s%s%s%.*s", scheme, host, port ? ":" : "", port ? port : "", (int)plen, p) < 0)
		c->where = NULL;
	c->curl = curl_easy_init();
	c->multi = curl_multi_init();
	if (!c->base || !c->where || !c->curl || !c->multi) {
		imgapi_client_free(c);
		st = oom(ctx);
		goto out;
	}
	*ret = c;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return st;
}

void imgapi_client_free(imgapi_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	if (c->multi)
		curl_multi_cleanup(c->multi);
	free(c->base);
	free(c->where);
	free(c);
}

/* ------------------------------------------------------------- callbacks */

static size_t on_header(char *line, size_t size, size_t nitems, void *u)
{
	call *k = u;
	size_t n = size * nitems;
	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* a new response (also after 100 Continue): forget the previous one */
		const char *sp = memchr(line, ' ', n);
		k->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		k->headers_done = false;
	} else if (n <= 2 && (line[0] == '\r' || line[0] == '\n') && k->status >= 200) {
		k->headers_done = true;
	}
	now(&k->last_data);
	return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *u)
{
	call *k = u;
	size_t n = size * nmemb;
	/* Past the cap the rest is dropped: an error document is only quoted and
	 * an image object over the cap is refused by its reader. */
	if (!k->truncated && dynbuf_append(&k->body, data, n) < 0)
		k->truncated = true;
	now(&k->last_data);
	return n;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *u)
{
	call *k = u;
	upload *up = k->up;
	size_t want = size * nitems;
	uint64_t left = up->size - up->sent;
	if (left == 0)
		return 0;
	if (want > left)
		want = (size_t)left;
	ssize_t n;
	do
		n = pread(up->fd, buf, want, (off_t)up->sent);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		up->read_errno = errno;
		return CURL_READFUNC_ABORT;
	}
	if (n == 0) {
		up->ended_early = true;
		return CURL_READFUNC_ABORT;
	}
	if (EVP_DigestUpdate(up->sha1, buf, (size_t)n) != 1) {
		up->read_errno = ENOMEM;
		return CURL_READFUNC_ABORT;
	}
	up->sent += (uint64_t)n;
	now(&k->last_data);
	bool done = up->sent == up->size;
	if (done)
		now(&up->finished);
	if (done || since(&up->last_report) >= 0.1) {
		now(&up->last_report);
		ifx_progress(k->c->ctx, up->label, up->sent, up->size, done);
	}
	return (size_t)n;
}

/* The first-byte and stall timers, and cancellation. True: stop now. */
static bool timer_expired(call *k)
{
	const imgfetch_http_opts *o = k->c->http;
	if (ifx_cancelled(k->c->ctx)) {
		k->abort_reason = "cancelled";
		return true;
	}
	bool sending = k->up && k->up->sent < k->up->size;
	if (!k->headers_done && !sending) {
		/* Waiting for the answer: from when the request (body included) was sent. */
		double waited;
		if (k->up && k->up->size > 0) {
			waited = since(&k->up->finished);
		} else {
			curl_off_t pre = 0;
			curl_easy_getinfo(k->c->curl, CURLINFO_PRETRANSFER_TIME_T, &pre);
			waited = pre > 0 ? since(&k->started) - (double)pre / 1e6 : 0;
		}
		if (waited > o->first_byte_timeout_ms / 1000.0) {
			k->abort_reason = "no response";
			return true;
		}
	} else if (since(&k->last_data) > o->stall_timeout_ms / 1000.0) {
		k->abort_reason = "stalled";
		return true;
	}
	return false;
}

static int on_progress(void *u, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return timer_expired(u) ? 1 : 0;
}

static bool call_expired(void *u)
{
	return timer_expired(u);
}

static CURLcode run_multi(call *k)
{
	return curl_run_polled(k->c->multi, k->c->curl, call_expired, k);
}

/* ---------------------------------------------------------------- requests */

typedef struct request {
	const char *method;     /* GET, POST, PUT */
	const char *path;       /* "/images/<uuid>?action=import", appended to the base URL */
	const char *content_type;
	const char *body;       /* in memory, or */
	size_t body_len;
	upload *up;             /* streamed from a file */
	size_t max_body;        /* of the response kept */
} request;

/*
 * One attempt. Transport failures are recorded in ctx and returned;
 * *ret_transient says whether trying again could help. Any HTTP status is
 * IMGFETCH_OK here: the caller reads k->status.
 */
static imgfetch_status perform(imgapi_client *c, const request *rq, call *k, bool *ret_transient)
{
	imgfetch_ctx *ctx = c->ctx;
	const imgfetch_http_opts *o = c->http;
	CURL *h = c->curl;
	char ua[128], errbuf[CURL_ERROR_SIZE] = "", ct[128];
	_cleanup_free_ char *url = NULL;
	struct curl_slist *hl = NULL, *t;
	bool ok = true;

	*ret_transient = false;
	if (ifx_cancelled(ctx))
		return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled");
	if (asprintf(&url, "%s%s", c->base, rq->path) < 0)
		return oom(ctx);
	dynbuf_free(&k->body);
	dynbuf_init(&k->body, rq->max_body);
	k->truncated = false;
	k->status = 0;
	k->headers_done = false;
	k->abort_reason = NULL;
	now(&k->started);
	k->last_data = k->started;

	if (rq->content_type) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", rq->content_type);
		ok = (t = curl_slist_append(hl, ct)) && (hl = t);
	}
	ok = ok && (t = curl_slist_append(hl, "Accept: application/json")) && (hl = t);
	/* A streamed file keeps libcurl's "Expect: 100-continue", so a refusal
	 * (no such image, already activated) comes before gigabytes are sent;
	 * small bodies skip the round trip. */
	if (!rq->up)
		ok = ok && (t = curl_slist_append(hl, "Expect:")) && (hl = t);
	if (!ok) {
		curl_slist_free_all(hl);
		return oom(ctx);
	}
	snprintf(ua, sizeof(ua), "imgfetch/%s", IMGFETCH_VERSION);

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, o->user_agent ? o->user_agent : ua);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (o->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, o->cacert);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, k);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, k);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, k);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (rq->up) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L); /* PUT with Content-Length */
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->up->size);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, k);
		if (rq->up->size == 0)
			now(&rq->up->finished);
	} else if (strcmp(rq->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(rq->body ? rq->body_len : 0));
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	ifx_log(ctx, IMGFETCH_LOG_INFO, "%s %s%s", rq->method, c->where, rq->path);
	CURLcode res = run_multi(k);
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hl);
	k->status = code;

	const char *what = rq->method, *path = rq->path;
	if (ifx_cancelled(ctx))
		return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "%s %s: cancelled", what, path);
	if (rq->up && (rq->up->read_errno || rq->up->ended_early)) {
		if (rq->up->ended_early)
			return ifx_fail(ctx, IMGFETCH_E_VERIFY, "%s ended after %" PRIu64 " of %" PRIu64 " bytes while it "
			                "was uploaded: it changed since it was checked", rq->up->label, rq->up->sent,
			                rq->up->size);
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot read %s: %s", rq->up->label,
		                strerror(rq->up->read_errno));
	}
	if (res == CURLE_OK)
		return IMGFETCH_OK;
	*ret_transient = true;
	if (res == CURLE_ABORTED_BY_CALLBACK && k->abort_reason && strcmp(k->abort_reason, "stalled") == 0)
		return ifx_fail(ctx, IMGFETCH_E_NETWORK, "%s %s on %s: stalled, no data for %.1f s", what, path,
		                c->where, o->stall_timeout_ms / 1000.0);
	if (res == CURLE_ABORTED_BY_CALLBACK && k->abort_reason)
		return ifx_fail(ctx, IMGFETCH_E_NETWORK, "%s %s on %s: no response within %.1f s", what, path,
		                c->where, o->first_byte_timeout_ms / 1000.0);
	*ret_transient = false;
	if (res == CURLE_SSL_CACERT_BADFILE)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "cannot use the CA file %s: %s",
		                o->cacert ? o->cacert : "(system)", errbuf[0] ? errbuf : curl_easy_strerror(res));
	if (res == CURLE_PEER_FAILED_VERIFICATION || res == CURLE_SSL_CERTPROBLEM)
		return ifx_fail(ctx, IMGFETCH_E_NETWORK, "TLS verification failed for %s: %s; if the IMGAPI uses a "
		                "private CA, pass its certificate (--cacert FILE)", c->where,
		                errbuf[0] ? errbuf : curl_easy_strerror(res));
	*ret_transient = res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST ||
	                 res == CURLE_OPERATION_TIMEDOUT || res == CURLE_RECV_ERROR || res == CURLE_SEND_ERROR ||
	                 res == CURLE_GOT_NOTHING || res == CURLE_PARTIAL_FILE || res == CURLE_SSL_CONNECT_ERROR;
	return ifx_fail(ctx, IMGFETCH_E_NETWORK, "%s %s on %s: %s", what, path, c->where,
	                errbuf[0] ? errbuf : curl_easy_strerror(res));
}

/* A request; GETs are tried again on transient failures. */
static imgfetch_status request_run(imgapi_client *c, const request *rq, call *k)
{
	const imgfetch_http_opts *o = c->http;
	uint32_t attempts = strcmp(rq->method, "GET") == 0 ? o->max_attempts : 1;
	for (uint32_t a = 1;; a++) {
		bool transient = false;
		imgfetch_status st = perform(c, rq, k, &transient);
		if (st == IMGFETCH_OK) {
			transient = k->status == 429 || k->status == 502 || k->status == 503 || k->status == 504;
			if (!transient || a >= attempts)
				return IMGFETCH_OK; /* the caller explains the status */
			ifx_fail(c->ctx, IMGFETCH_E_NETWORK, "%s %s on %s: HTTP %ld", rq->method, rq->path, c->where,
			         k->status);
		} else if (!transient || a >= attempts) {
			if (transient && attempts > 1)
				ifx_fail_append(c->ctx, "giving up after %u attempts", a);
			return st;
		}
		uint32_t delay = imgfetch_backoff_ms(a, o->retry_base_ms, o->retry_max_ms, http_jitter_random());
		ifx_log(c->ctx, IMGFETCH_LOG_WARNING, "%s; retrying in %.1f s (attempt %u of %u)",
		        imgfetch_ctx_error(c->ctx), delay / 1000.0, a + 1, attempts);
		if (!http_sleep_cancellable(c->ctx, delay))
			return ifx_fail(c->ctx, IMGFETCH_E_CANCELLED, "%s %s: cancelled", rq->method, rq->path);
	}
}

/* The server's {"code": ..., "message": ...} as " (Code: message)", bounded
 * and on one line; "" when the body has neither. */
static void server_error(const call *k, char *out, size_t cap)
{
	out[0] = '\0';
	if (!k->body.data || !k->body.len || k->truncated)
		return;
	json_t *doc = json_loadb(k->body.data, k->body.len, 0, NULL);
	const char *code = json_string_value(json_object_get(doc, "code"));
	const char *msg = json_string_value(json_object_get(doc, "message"));
	if (code || msg)
		snprintf(out, cap, " (%s%s%.*s)", code ? code : "", code && msg ? ": " : "", SERVER_MESSAGE_MAX,
		         msg ? msg : "");
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	json_decref(doc);
}

static imgfetch_status http_error(imgapi_client *c, const request *rq, const call *k)
{
	char err[SERVER_MESSAGE_MAX + 128];
	server_error(k, err, sizeof(err));
	imgfetch_status st = k->status == 404                        ? IMGFETCH_E_NOT_FOUND
	                     : k->status == 401 || k->status == 403  ? IMGFETCH_E_AUTH
	                     : k->status >= 500 || k->status == 429 ? IMGFETCH_E_NETWORK
	                                                             : IMGFETCH_E_FAILED;
	return ifx_fail(c->ctx, st, "%s %s on %s: HTTP %ld%s", rq->method, rq->path, c->where, k->status, err);
}

/* -------------------------------------------------------------- the calls */

static void read_image(const json_t *doc, imgapi_image *ret)
{
	const char *state = json_string_value(json_object_get(doc, "state"));
	if (state && strlen(state) < sizeof(ret->state))
		snprintf(ret->state, sizeof(ret->state), "%s", state);
	json_t *f0 = json_array_get(json_object_get(doc, "files"), 0);
	const char *sha1 = json_string_value(json_object_get(f0, "sha1"));
	json_t *size = json_object_get(f0, "size");
	if (sha1 && strlen(sha1) == 40 && hex_valid(sha1, 40)) {
		hex_lower(sha1, 40, ret->sha1);
		ret->has_file = true;
		ret->size = json_is_integer(size) && json_integer_value(size) >= 0 ? (uint64_t)json_integer_value(size)
		                                                                    : 0;
	}
}

imgfetch_status imgapi_get_image(imgapi_client *c, const char *uuid, imgapi_image *ret)
{
	*ret = (imgapi_image){ 0 };
	if (!uuid_safe(uuid))
		return ifx_fail(c->ctx, IMGFETCH_E_INVALID, "not a UUID: '%s'", uuid ? uuid : "");
	char path[64];
	snprintf(path, sizeof(path), "/images/%s", uuid);
	request rq = { .method = "GET", .path = path, .max_body = IMAGE_BODY_MAX };
	call k = { .c = c };
	imgfetch_status st = request_run(c, &rq, &k);
	if (st == IMGFETCH_OK) {
		if (k.status == 404) {
			ret->exists = false;
		} else if (k.status != 200) {
			st = http_error(c, &rq, &k);
		} else {
			json_t *doc = k.truncated ? NULL : json_loadb(k.body.data ? k.body.data : "", k.body.len, 0, NULL);
			if (!json_is_object(doc)) {
				st = ifx_fail(c->ctx, IMGFETCH_E_FORMAT, "GET %s on %s: HTTP 200 but %s", path, c->where,
				              k.truncated ? "the answer is larger than 1 MiB" : "not an image object (JSON)");
			} else {
				ret->exists = true;
				read_image(doc, ret);
			}
			json_decref(doc);
		}
	}
	dynbuf_free(&k.body);
	return st;
}

imgfetch_status imgapi_import(imgapi_client *c, const char *uuid, const char *manifest, size_t len,
                              bool *ret_conflict)
{
	*ret_conflict = false;
	if (!uuid_safe(uuid))
		return ifx_fail(c->ctx, IMGFETCH_E_INVALID, "not a UUID: '%s'", uuid ? uuid : "");
	char path[80];
	snprintf(path, sizeof(path), "/images/%s?action=import", uuid);
	request rq = { .method = "POST", .path = path, .content_type = "application/json", .body = manifest,
	               .body_len = len, .max_body = ERROR_BODY_MAX };
	call k = { .c = c };
	imgfetch_status st = request_run(c, &rq, &k);
	if (st == IMGFETCH_OK && k.status == 409)
		*ret_conflict = true;
	else if (st == IMGFETCH_OK && (k.status < 200 || k.status > 299))
		st = http_error(c, &rq, &k);
	dynbuf_free(&k.body);
	return st;
}

imgfetch_status imgapi_add_file(imgapi_client *c, const char *uuid, int fd, const char *label, uint64_t size,
                                const char *sha1, const char *compression, char ret_sent_sha1[41])
{
	ret_sent_sha1[0] = '\0';
	if (!uuid_safe(uuid) || !sha1 || strlen(sha1) != 40 || !hex_valid(sha1, 40) || !compression ||
	    strspn(compression, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(compression))
		return ifx_fail(c->ctx, IMGFETCH_E_INVALID, "AddImageFile needs a UUID, a sha1 and a compression name");
	char path[192];
	snprintf(path, sizeof(path), "/images/%s/file?compression=%s&sha1=%s&size=%" PRIu64, uuid, compression, sha1,
	         size);
	upload up = { .fd = fd, .label = label, .size = size, .sha1 = EVP_MD_CTX_new() };
	if (!up.sha1 || EVP_DigestInit_ex(up.sha1, EVP_sha1(), NULL) != 1) {
		EVP_MD_CTX_free(up.sha1);
		return ifx_fail(c->ctx, IMGFETCH_E_FAILED, "cannot compute SHA-1 (OpenSSL)");
	}
	now(&up.last_report);
	ifx_progress(c->ctx, label, 0, size, false);
	request rq = { .method = "PUT", .path = path, .content_type = "application/octet-stream", .up = &up,
	               .max_body = ERROR_BODY_MAX };
	call k = { .c = c, .up = &up };
	imgfetch_status st = request_run(c, &rq, &k);
	if (up.sent == size && !up.read_errno && !up.ended_early) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		if (EVP_DigestFinal_ex(up.sha1, md, &mdlen) == 1 && mdlen == 20)
			hex_encode(md, 20, ret_sent_sha1);
	}
	EVP_MD_CTX_free(up.sha1);
	if (st == IMGFETCH_OK && (k.status < 200 || k.status > 299))
		st = http_error(c, &rq, &k);
	dynbuf_free(&k.body);
	return st;
}

imgfetch_status imgapi_activate(imgapi_client *c, const char *uuid)
{
	if (!uuid_safe(uuid))
		return ifx_fail(c->ctx, IMGFETCH_E_INVALID, "not a UUID: '%s'", uuid ? uuid : "");
	char path[80];
	snprintf(path, sizeof(path), "/images/%s?action=activate", uuid);
	request rq = { .method = "POST", .path = path, .max_body = ERROR_BODY_MAX };
	call k = { .c = c };
	imgfetch_status st = request_run(c, &rq, &k);
	if (st == IMGFETCH_OK && (k.status < 200 || k.status > 299))
		st = http_error(c, &rq, &k);
	dynbuf_free(&k.body);
	return st;
}
