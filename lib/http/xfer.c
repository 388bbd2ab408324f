/* SPDX-License-Identifier: MIT */
#include "http/xfer.h"
#include "http/curl_run.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/cleanup.h"
#include "util/dynbuf.h"
#include "util/strutil.h"

#define VALIDATOR_MAX 512
#define WWW_AUTH_MAX 8193

/* State of the transfer across attempts. */
typedef struct xfer {
	imgfetch_ctx *ctx;
	const xfer_request *req;
	const xfer_sink *sink;
	const char *label;
	CURL *curl;
	CURLM *multi;             /* owns the connection cache across attempts */
	uint64_t have;            /* bytes accepted by the sink */
	char etag[VALIDATOR_MAX]; /* strong ETag from the first full response, or "" */
	char last_modified[VALIDATOR_MAX];
	int64_t total;            /* size of the whole file when a response said so, else -1 */
	uint64_t resumed;

	/* Per response; reset on every status line. */
	long status;
	bool headers_done;
	bool accept_body;
	bool range_sent;
	int64_t range_start;      /* Content-Range "bytes S-E/T" of this response, -1 when absent */
	int64_t range_end;
	int64_t range_total;      /* also set by "bytes * /T" (416) */
	int64_t length;           /* Content-Length, -1 when absent */
	char resp_etag[VALIDATOR_MAX];
	char resp_last_modified[VALIDATOR_MAX];
	char resp_www_auth[WWW_AUTH_MAX];
	char resp_dcd[VALIDATOR_MAX];   /* Docker-Content-Digest */
	uint64_t body_base;       /* `have` when this response's body began */

	/* Per attempt. */
	struct timespec started;
	struct timespec last_data;
	const char *abort_reason; /* set by callbacks that abort the transfer */
	bool restart;             /* the bytes held are not part of the file now served */
	int sink_error;
	struct timespec last_progress;
} xfer;

static double since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void now(struct timespec *t)
{
	clock_gettime(CLOCK_MONOTONIC, t);
}

/* Copies a header value, trimmed, capped; values that do not fit are dropped
 * rather than truncated (a truncated validator would be wrong). */
static void header_value(const char *v, size_t n, char *out, size_t cap)
{
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= cap) {
		out[0] = '\0';
		return;
	}
	memcpy(out, v, n);
	out[n] = '\0';
}

static bool header_is(const char *line, size_t n, const char *name, const char **ret_value, size_t *ret_len)
{
	size_t l = strlen(name);
	if (n <= l || strncasecmp(line, name, l) != 0 || line[l] != ':')
		return false;
	*ret_value = line + l + 1;
	*ret_len = n - l - 1;
	return true;
}

/* Empties the sink. Used when the bytes we hold cannot be trusted to be a
 * prefix of the file the server is sending now. */
static int reset_sink(xfer *x)
{
	int r = x->sink->reset(x->sink->u);
	if (r < 0)
		return r;
	x->have = 0;
	x->body_base = 0;
	x->resumed = 0;
	return 0;
}

static void end_of_headers(xfer *x)
{
	x->headers_done = true;
	now(&x->last_data);
	x->body_base = x->have;

	if (x->status == 200 && x->range_sent && x->have > 0) {
		/* The server ignored Range (or If-Range told it the file changed): every
		 * byte we have may be stale, so start over with a fresh hash. */
		ifx_log(x->ctx, IMGFETCH_LOG_INFO, "%s: server sent the whole file instead of a range; restarting from zero",
		        x->label);
		int r = reset_sink(x);
		if (r < 0) {
			x->sink_error = r;
			x->abort_reason = "reset";
			return;
		}
	}
	if (x->status == 206) {
		if (!x->range_sent || x->range_start != (int64_t)x->have) {
			x->abort_reason = "the server answered with a different range than requested";
			x->restart = true;
			return;
		}
		/* Servers that ignore If-Range still tell the truth in ETag and size. */
		if ((x->etag[0] && x->resp_etag[0] && strcmp(x->etag, x->resp_etag) != 0) ||
		    (x->total >= 0 && x->range_total >= 0 && x->range_total != x->total)) {
			x->abort_reason = "the file changed on the server during the download";
			x->restart = true;
			return;
		}
		if (x->total < 0 && x->range_total >= 0)
			x->total = x->range_total;
		x->resumed += x->have;
	}
	if (x->status == 200 || x->status == 206) {
		x->accept_body = true;
		if (x->status == 200 && x->have == 0) {
			x->total = x->length;
			/* Remember validators of the full response for a later If-Range. Weak
			 * ETags may not be used with If-Range (RFC 9110 13.1.5). */
			if (x->resp_etag[0] && strncmp(x->resp_etag, "W/", 2) != 0)
				memcpy(x->etag, x->resp_etag, sizeof(x->etag));
			else
				x->etag[0] = '\0';
			memcpy(x->last_modified, x->resp_last_modified, sizeof(x->last_modified));
		}
	}
}

static size_t on_header(char *line, size_t size, size_t nitems, void *u)
{
	xfer *x = u;
	size_t n = size * nitems;
	const char *v;
	size_t vn;

	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* A new response (also after 1xx): forget the previous one's headers. */
		const char *sp = memchr(line, ' ', n);
		x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		x->headers_done = false;
		x->accept_body = false;
		x->range_start = x->range_end = x->range_total = x->length = -1;
		x->resp_etag[0] = x->resp_last_modified[0] = '\0';
		x->resp_www_auth[0] = x->resp_dcd[0] = '\0';
	} else if (n <= 2 && (line[0] == '\r' || line[0] == '\n')) {
		if (x->status >= 200)
			end_of_headers(x);
		if (x->abort_reason)
			return 0;
	} else if (header_is(line, n, "etag", &v, &vn)) {
		header_value(v, vn, x->resp_etag, sizeof(x->resp_etag));
	} else if (header_is(line, n, "www-authenticate", &v, &vn)) {
		if (!x->resp_www_auth[0])
			header_value(v, vn, x->resp_www_auth, sizeof(x->resp_www_auth));
	} else if (header_is(line, n, "docker-content-digest", &v, &vn)) {
		header_value(v, vn, x->resp_dcd, sizeof(x->resp_dcd));
	} else if (header_is(line, n, "last-modified", &v, &vn)) {
		header_value(v, vn, x->resp_last_modified, sizeof(x->resp_last_modified));
	} else if (header_is(line, n, "content-range", &v, &vn)) {
		char buf[128];
		header_value(v, vn, buf, sizeof(buf));
		unsigned long long a, b, t;
		if (sscanf(buf, "bytes %llu-%llu/%llu", &a, &b, &t) == 3 && a <= b && b < t && t <= INT64_MAX) {
			x->range_start = (int64_t)a;
			x->range_end = (int64_t)b;
			x->range_total = (int64_t)t;
		} else if (sscanf(buf, "bytes %llu-%llu/*", &a, &b) == 2 && a <= b && b <= INT64_MAX) {
			x->range_start = (int64_t)a;
			x->range_end = (int64_t)b;
		} else if (sscanf(buf, "bytes */%llu", &t) == 1 && t <= INT64_MAX) {
			x->range_total = (int64_t)t;
		}
	} else if (header_is(line, n, "content-length", &v, &vn)) {
		char buf[32];
		header_value(v, vn, buf, sizeof(buf));
		char *end;
		errno = 0;
		unsigned long long l = strtoull(buf, &end, 10);
		if (buf[0] >= '0' && buf[0] <= '9' && *end == '\0' && errno == 0 && l <= INT64_MAX)
			x->length = (int64_t)l;
	}
	return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *u)
{
	xfer *x = u;
	size_t n = size * nmemb;

	if (!x->headers_done && x->status == 0) {
		/* file:// has no headers: the body is the file. */
		x->headers_done = true;
		x->accept_body = true;
		x->body_base = x->have;
		if (x->range_sent && x->have > 0)
			x->resumed += x->have;
	}
	if (!x->accept_body)
		return n; /* an error page: not ours to keep */
	int r = x->sink->write(x->sink->u, data, n);
	if (r < 0) {
		x->sink_error = r;
		return 0;
	}
	x->have += n;
	/* After the write: a slow disk holding up the ring is not a network stall. */
	now(&x->last_data);
	return n;
}

/* Timers libcurl does not offer at the granularity we need: the first-byte
 * timeout and the stall timeout. Returns true when the attempt must stop. */
static bool timer_expired(xfer *x)
{
	const imgfetch_http_opts *o = &x->ctx->http;

	if (ifx_cancelled(x->ctx)) {
		x->abort_reason = "cancelled";
		return true;
	}
	if (!x->headers_done) {
		curl_off_t pre = 0;
		curl_easy_getinfo(x->curl, CURLINFO_PRETRANSFER_TIME_T, &pre);
		/* Count from the moment the request went out, not from connect. */
		if (pre > 0 && since(&x->started) - (double)pre / 1e6 > o->first_byte_timeout_ms / 1000.0) {
			x->abort_reason = "no response";
			return true;
		}
	} else if (since(&x->last_data) > o->stall_timeout_ms / 1000.0) {
		x->abort_reason = "stalled";
		return true;
	}
	return false;
}

static int on_progress(void *u, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	xfer *x = u;

	if (timer_expired(x))
		return 1;
	if (x->req->report_progress && x->accept_body && since(&x->last_progress) >= 0.1) {
		now(&x->last_progress);
		uint64_t total = dltotal > 0 ? x->body_base + (uint64_t)dltotal : 0;
		ifx_progress(x->ctx, x->label, x->have, total, false);
	}
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return 0;
}

static bool xfer_expired(void *u)
{
	return timer_expired(u);
}

static CURLcode perform(xfer *x)
{
	return curl_run_polled(x->multi, x->curl, xfer_expired, x);
}

typedef enum { ATTEMPT_OK, ATTEMPT_RETRY, ATTEMPT_FATAL } attempt_outcome;

static bool status_allowed(const xfer_request *req, long code)
{
	if (req->allow_status)
		for (const long *s = req->allow_status; *s; s++)
			if (*s == code)
				return true;
	return false;
}

static bool same_origin(const char *a, const char *b)
{
	bool same = false;
	CURLU *ua = curl_url(), *ub = curl_url();
	char *sa = NULL, *sb = NULL, *ha = NULL, *hb = NULL, *pa = NULL, *pb = NULL;
	if (ua && ub && curl_url_set(ua, CURLUPART_URL, a, 0) == CURLUE_OK &&
	    curl_url_set(ub, CURLUPART_URL, b, 0) == CURLUE_OK &&
	    curl_url_get(ua, CURLUPART_SCHEME, &sa, 0) == CURLUE_OK &&
	    curl_url_get(ub, CURLUPART_SCHEME, &sb, 0) == CURLUE_OK &&
	    curl_url_get(ua, CURLUPART_HOST, &ha, 0) == CURLUE_OK &&
	    curl_url_get(ub, CURLUPART_HOST, &hb, 0) == CURLUE_OK &&
	    curl_url_get(ua, CURLUPART_PORT, &pa, CURLU_DEFAULT_PORT) == CURLUE_OK &&
	    curl_url_get(ub, CURLUPART_PORT, &pb, CURLU_DEFAULT_PORT) == CURLUE_OK)
		same = strcasecmp(sa, sb) == 0 && strcasecmp(ha, hb) == 0 && strcmp(pa, pb) == 0;
	curl_free(sa);
	curl_free(sb);
	curl_free(ha);
	curl_free(hb);
	curl_free(pa);
	curl_free(pb);
	curl_url_cleanup(ua);
	curl_url_cleanup(ub);
	return same;
}

static bool is_https(const char *url)
{
	return strncasecmp(url, "https://", 8) == 0;
}

/* Sets up the handle for one request to `url`. */
static imgfetch_status prepare(xfer *x, const char *url, struct curl_slist **headers)
{
	imgfetch_ctx *ctx = x->ctx;
	const imgfetch_http_opts *o = &ctx->http;
	CURL *c = x->curl;
	char range[32], ifrange[VALIDATOR_MAX + 16], ua[128];

	curl_easy_reset(c);
	curl_slist_free_all(*headers);
	*headers = NULL;

	snprintf(ua, sizeof(ua), "imgfetch/%s", IMGFETCH_VERSION);
	x->range_sent = false;
	if (x->have > 0) {
		snprintf(range, sizeof(range), "%" PRIu64 "-", x->have);
		curl_easy_setopt(c, CURLOPT_RANGE, range);
		x->range_sent = true;
		const char *validator = x->etag[0] ? x->etag : x->last_modified;
		if (validator[0]) {
			snprintf(ifrange, sizeof(ifrange), "If-Range: %s", validator);
			*headers = curl_slist_append(*headers, ifrange);
		}
	}
	if (x->req->origin_headers && same_origin(url, x->req->url))
		for (const char *const *h = x->req->origin_headers; *h; h++)
			*headers = curl_slist_append(*headers, *h);
	if (x->req->headers)
		for (const char *const *h = x->req->headers; *h; h++)
			*headers = curl_slist_append(*headers, *h);

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, o->user_agent ? o->user_agent : ua);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *headers);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (o->cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	/* A proxy's "200 Connection established" is not the origin's answer. */
	curl_easy_setopt(c, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);

	x->status = 0;
	x->headers_done = false;
	x->accept_body = false;
	x->range_start = x->range_end = x->range_total = x->length = -1;
	x->resp_www_auth[0] = x->resp_dcd[0] = '\0';
	x->abort_reason = NULL;
	x->restart = false;
	x->sink_error = 0;
	now(&x->started);
	now(&x->last_data);
	return IMGFETCH_OK;
}

static bool transient_curl_error(CURLcode res)
{
	switch (res) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_HTTP3:
	case CURLE_QUIC_CONNECT_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
		return true;
	default:
		return false;
	}
}

/* Drops every byte received so far and the validators that vouched for them. */
static imgfetch_status restart_from_zero(xfer *x, imgfetch_status *ret_status)
{
	int r = reset_sink(x);
	if (r < 0)
		return *ret_status = ifx_fail(x->ctx, IMGFETCH_E_FAILED, "resetting %s: %s", x->label, strerror(-r));
	x->etag[0] = x->last_modified[0] = '\0';
	x->total = -1;
	return IMGFETCH_OK;
}

/*
 * Runs one attempt (following redirects). On ATTEMPT_RETRY/FATAL the reason is
 * in ctx->error and *ret_status says what to return if it is the last word.
 */
static attempt_outcome attempt(xfer *x, char **final_url, uint32_t *retry_after_ms, imgfetch_status *ret_status)
{
	imgfetch_ctx *ctx = x->ctx;
	const imgfetch_http_opts *o = &ctx->http;
	_cleanup_free_ char *url = strdup(x->req->url);
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE];
	attempt_outcome out = ATTEMPT_FATAL;

	*retry_after_ms = 0;
	*ret_status = IMGFETCH_E_NETWORK;
	if (!url) {
		*ret_status = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		return ATTEMPT_FATAL;
	}

	if (x->have > 0 && !x->etag[0] && !x->last_modified[0]) {
		/* Nothing proves the bytes we hold belong to the file the server has now. */
		ifx_log(ctx, IMGFETCH_LOG_INFO, "%s: the server gave no ETag or Last-Modified; restarting from zero",
		        x->label);
		if (restart_from_zero(x, ret_status) < 0)
			return ATTEMPT_FATAL;
	}
	uint32_t hops = 0;
	for (;;) {
		prepare(x, url, &headers);
		errbuf[0] = '\0';
		curl_easy_setopt(x->curl, CURLOPT_ERRORBUFFER, errbuf);
		ifx_log(ctx, IMGFETCH_LOG_INFO, "GET %s%s", url, x->range_sent ? " (resuming)" : "");
		CURLcode res = perform(x);

		if (ifx_cancelled(ctx)) {
			*ret_status = ifx_fail(ctx, IMGFETCH_E_CANCELLED, "%s: cancelled", x->label);
			goto done;
		}
		if (x->sink_error == -EFBIG) {
			*ret_status = ifx_fail(ctx, IMGFETCH_E_VERIFY, "%s is larger than the %" PRIu64 " byte limit",
			                       url, x->req->max_size);
			goto done;
		}
		if (x->sink_error < 0) {
			*ret_status = ifx_fail(ctx, IMGFETCH_E_FAILED, "writing %s failed: %s", x->label,
			                       strerror(-x->sink_error));
			goto done;
		}
		if (res == CURLE_ABORTED_BY_CALLBACK || (res == CURLE_WRITE_ERROR && x->abort_reason)) {
			if (x->abort_reason && strcmp(x->abort_reason, "stalled") == 0)
				ifx_fail(ctx, IMGFETCH_E_NETWORK, "%s stalled: no data for %.1f s after %" PRIu64 " bytes",
				         url, o->stall_timeout_ms / 1000.0, x->have);
			else if (x->abort_reason && strcmp(x->abort_reason, "no response") == 0)
				ifx_fail(ctx, IMGFETCH_E_NETWORK, "%s: no response within %.1f s", url,
				         o->first_byte_timeout_ms / 1000.0);
			else
				ifx_fail(ctx, IMGFETCH_E_NETWORK, "%s: %s", url,
				         x->abort_reason ? x->abort_reason : "aborted");
			if (x->restart && restart_from_zero(x, ret_status) < 0)
				goto done;
			out = ATTEMPT_RETRY;
			goto done;
		}
		if (res == CURLE_SSL_CACERT_BADFILE) {
			ifx_fail(ctx, IMGFETCH_E_INVALID, "cannot use the CA file %s: %s", o->cacert ? o->cacert : "(system)",
			         errbuf[0] ? errbuf : curl_easy_strerror(res));
			*ret_status = IMGFETCH_E_INVALID;
			goto done;
		}
		if (res == CURLE_PEER_FAILED_VERIFICATION || res == CURLE_SSL_CERTPROBLEM) {
			ifx_fail(ctx, IMGFETCH_E_NETWORK,
			         "TLS verification failed for %s: %s; if the server uses a private CA, pass its "
			         "certificate (imgfetch --cacert FILE)",
			         url, errbuf[0] ? errbuf : curl_easy_strerror(res));
			goto done;
		}
		if (res == CURLE_FILE_COULDNT_READ_FILE) {
			/* Only a missing file is "not found"; a permission problem is not. */
			char *path = NULL;
			CURLU *u = curl_url();
			bool missing = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
			               curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) == CURLUE_OK &&
			               access(path, F_OK) != 0 && errno == ENOENT;
			curl_free(path);
			curl_url_cleanup(u);
			*ret_status = ifx_fail(ctx, missing ? IMGFETCH_E_NOT_FOUND : IMGFETCH_E_FAILED, "%s: %s", url,
			                       missing ? "no such file" : errbuf[0] ? errbuf : "cannot read the file");
			goto done;
		}
		if (res == CURLE_PARTIAL_FILE) {
			curl_off_t cl = -1;
			curl_easy_getinfo(x->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
			if (cl >= 0)
				ifx_fail(ctx, IMGFETCH_E_NETWORK,
				         "download truncated: %s ended after %" PRIu64 " of %" PRIu64 " bytes", url, x->have,
				         x->body_base + (uint64_t)cl);
			else
				ifx_fail(ctx, IMGFETCH_E_NETWORK, "download truncated: %s ended after %" PRIu64 " bytes: %s",
				         url, x->have, errbuf);
			out = ATTEMPT_RETRY;
			goto done;
		}
		if (res != CURLE_OK) {
			ifx_fail(ctx, IMGFETCH_E_NETWORK, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(res));
			out = transient_curl_error(res) ? ATTEMPT_RETRY : ATTEMPT_FATAL;
			goto done;
		}

		long code = x->status;
		if (code >= 300 && code < 400 && code != 304) {
			char *loc = NULL;
			curl_easy_getinfo(x->curl, CURLINFO_REDIRECT_URL, &loc);
			if (!loc) {
				ifx_fail(ctx, IMGFETCH_E_NETWORK, "%s: HTTP %ld redirect without a Location", url, code);
				goto done;
			}
			if (++hops > o->max_redirects) {
				ifx_fail(ctx, IMGFETCH_E_NETWORK, "too many redirects (more than %u) starting at %s",
				         o->max_redirects, x->req->url);
				goto done;
			}
			if (is_https(url) && !is_https(loc)) {
				ifx_fail(ctx, IMGFETCH_E_NETWORK, "refusing redirect from %s to %s: it leaves HTTPS", url,
				         loc);
				goto done;
			}
			if (strncasecmp(loc, "http://", 7) != 0 && !is_https(loc)) {
				ifx_fail(ctx, IMGFETCH_E_NETWORK, "refusing redirect from %s to %s: only HTTP(S) is allowed",
				         url, loc);
				goto done;
			}
			ifx_log(ctx, IMGFETCH_LOG_INFO, "HTTP %ld redirect to %s", code, loc);
			char *next = strdup(loc);
			if (!next) {
				*ret_status = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
				goto done;
			}
			free(url);
			url = next;
			continue;
		}
		if (code == 200 || code == 206 || code == 0) {
			curl_off_t cl = -1;
			curl_easy_getinfo(x->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
			uint64_t want = x->total >= 0 ? (uint64_t)x->total : cl >= 0 ? x->body_base + (uint64_t)cl : 0;
			if (code == 206 && x->total >= 0 && x->have < want && x->range_end >= 0 &&
			    x->have == (uint64_t)x->range_end + 1 && x->have > x->body_base) {
				/* A complete 206 for less than the rest of the file (range-capping
				 * CDNs): not a failure, ask for the next part right away. */
				ifx_log(ctx, IMGFETCH_LOG_INFO, "%s: server sent a partial range; continuing at byte %" PRIu64,
				        x->label, x->have);
				continue;
			}
			if ((x->total >= 0 || cl >= 0) && x->have < want) {
				ifx_fail(ctx, IMGFETCH_E_NETWORK, "download truncated: %s ended after %" PRIu64 " of %" PRIu64
				         " bytes", url, x->have, want);
				out = ATTEMPT_RETRY;
				goto done;
			}
			if (x->total >= 0 && x->have > (uint64_t)x->total) {
				ifx_fail(ctx, IMGFETCH_E_NETWORK, "%s sent %" PRIu64 " bytes for a %" PRId64 "-byte file", url,
				         x->have, x->total);
				if (restart_from_zero(x, ret_status) == 0)
					out = ATTEMPT_RETRY;
				goto done;
			}
			free(*final_url);
			*final_url = TAKE_PTR(url);
			out = ATTEMPT_OK;
			*ret_status = IMGFETCH_OK;
			goto done;
		}
		/* Only the origin's answer counts: a 401 from a host a redirect
		 * led to must not make the caller send credentials anywhere. */
		if (status_allowed(x->req, code) && same_origin(url, x->req->url)) {
			free(*final_url);
			*final_url = TAKE_PTR(url);
			out = ATTEMPT_OK;
			*ret_status = IMGFETCH_OK;
			goto done;
		}
		if (code == 404 || code == 410) {
			*ret_status = ifx_fail(ctx, IMGFETCH_E_NOT_FOUND, "%s: HTTP %ld, not found", url, code);
			goto done;
		}
		if (code == 416 && x->range_sent && x->range_total >= 0 && (uint64_t)x->range_total == x->have &&
		    (x->total < 0 || x->total == x->range_total)) {
			/* Every byte had arrived; only the end of the last response was lost.
			 * The digest check decides whether the bytes are right. */
			free(*final_url);
			*final_url = TAKE_PTR(url);
			out = ATTEMPT_OK;
			*ret_status = IMGFETCH_OK;
			goto done;
		}
		if (code == 416 && x->range_sent) {
			/* Our offset is past what the server has: the file changed. */
			ifx_fail(ctx, IMGFETCH_E_NETWORK, "%s: HTTP 416 for a resume at byte %" PRIu64, url, x->have);
			if (restart_from_zero(x, ret_status) < 0)
				goto done;
			out = ATTEMPT_RETRY;
			goto done;
		}
		if (code == 408 || code == 429 || (code >= 500 && code <= 599)) {
			curl_off_t ra = 0;
			if (curl_easy_getinfo(x->curl, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0) {
				uint64_t ms = (uint64_t)ra * 1000;
				*retry_after_ms = ms > o->retry_after_cap_ms ? o->retry_after_cap_ms : (uint32_t)ms;
			}
			ifx_fail(ctx, IMGFETCH_E_NETWORK, "%s: HTTP %ld", url, code);
			out = ATTEMPT_RETRY;
			goto done;
		}
		ifx_fail(ctx, IMGFETCH_E_NETWORK, "%s: HTTP %ld (not retried: the server refuses this request)", url,
		         code);
		goto done;
	}
done:
	curl_easy_setopt(x->curl, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(x->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	return out;
}

imgfetch_status xfer_run(imgfetch_ctx *ctx, const xfer_request *req, const xfer_sink *sink, xfer_result *ret)
{
	const imgfetch_http_opts *o = &ctx->http;
	_cleanup_free_ char *name = url_file_name(req->url);
	xfer x = {
		.ctx = ctx,
		.req = req,
		.sink = sink,
		.label = req->label ? req->label : name ? name : req->url,
		.total = -1,
	};
	char *final_url = NULL;
	imgfetch_status st = IMGFETCH_E_NETWORK;

	*ret = (xfer_result){ 0 };
	if (o->cacert && access(o->cacert, R_OK) != 0)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "cannot read CA file %s: %s", o->cacert, strerror(errno));
	x.curl = curl_easy_init();
	x.multi = curl_multi_init();
	if (!x.curl || !x.multi) {
		curl_easy_cleanup(x.curl);
		curl_multi_cleanup(x.multi);
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot create an HTTP handle");
	}

	uint32_t a;
	for (a = 1; a <= o->max_attempts; a++) {
		uint32_t retry_after = 0;
		attempt_outcome out = attempt(&x, &final_url, &retry_after, &st);
		if (out == ATTEMPT_OK)
			break;
		if (out == ATTEMPT_FATAL)
			goto fail;
		if (a == o->max_attempts) {
			st = IMGFETCH_E_NETWORK;
			ifx_fail_append(ctx, "giving up after %u attempts", a);
			goto fail;
		}
		uint32_t delay = imgfetch_backoff_ms(a, o->retry_base_ms, o->retry_max_ms, http_jitter_random());
		if (retry_after > delay)
			delay = retry_after;
		ifx_log(ctx, IMGFETCH_LOG_WARNING, "%s; retrying in %.1f s (attempt %u of %u)", imgfetch_ctx_error(ctx),
		        delay / 1000.0, a + 1, o->max_attempts);
		if (!http_sleep_cancellable(ctx, delay)) {
			st = ifx_fail(ctx, IMGFETCH_E_CANCELLED, "%s: cancelled", x.label);
			goto fail;
		}
	}

	char *ct = NULL;
	curl_easy_getinfo(x.curl, CURLINFO_CONTENT_TYPE, &ct);
	ret->content_type = ct ? strdup(ct) : NULL;
	ret->final_url = final_url;
	ret->size = x.have;
	ret->attempts = a;
	ret->resumed_bytes = x.resumed;
	ret->http_status = x.status;
	ret->www_authenticate = x.resp_www_auth[0] ? strdup(x.resp_www_auth) : NULL;
	ret->docker_content_digest = x.resp_dcd[0] ? strdup(x.resp_dcd) : NULL;
	if (req->report_progress)
		ifx_progress(ctx, x.label, x.have, x.have, true);
	curl_easy_cleanup(x.curl);
	curl_multi_cleanup(x.multi);
	ctx->error[0] = '\0';
	return IMGFETCH_OK;

fail:
	ret->attempts = a > o->max_attempts ? o->max_attempts : a;
	ret->http_status = x.status;
	free(final_url);
	curl_easy_cleanup(x.curl);
	curl_multi_cleanup(x.multi);
	return st;
}

void xfer_result_clear(xfer_result *r)
{
	free(r->final_url);
	free(r->content_type);
	free(r->www_authenticate);
	free(r->docker_content_digest);
	*r = (xfer_result){ 0 };
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

imgfetch_status xfer_fetch_mem(imgfetch_ctx *ctx, const char *url, size_t max, const char *what, char **ret,
                               size_t *ret_len, char **ret_final_url)
{
	dynbuf b;
	dynbuf_init(&b, max);
	xfer_sink sink = { .write = mem_write, .reset = mem_reset, .u = &b };
	xfer_request req = { .url = url, .label = what, .max_size = max };
	xfer_result res;

	imgfetch_status st = xfer_run(ctx, &req, &sink, &res);
	if (st < 0) {
		dynbuf_free(&b);
		return st;
	}
	char *data = dynbuf_take(&b, ret_len);
	if (!data) {
		xfer_result_clear(&res);
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	}
	*ret = data;
	if (ret_final_url)
		*ret_final_url = TAKE_PTR(res.final_url);
	xfer_result_clear(&res);
	return IMGFETCH_OK;
}
