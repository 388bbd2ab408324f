/* SPDX-License-Identifier: MIT */
#include "core/ctx.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *imgfetch_version(void)
{
	return IMGFETCH_VERSION;
}

const char *imgfetch_status_name(imgfetch_status s)
{
	switch (s) {
	case IMGFETCH_OK: return "ok";
	case IMGFETCH_E_FAILED: return "failed";
	case IMGFETCH_E_INVALID: return "invalid argument";
	case IMGFETCH_E_VERIFY: return "verification failed";
	case IMGFETCH_E_NETWORK: return "transfer failed";
	case IMGFETCH_E_NOT_FOUND: return "not found";
	case IMGFETCH_E_CANCELLED: return "cancelled";
	case IMGFETCH_E_LOCKED: return "locked";
	case IMGFETCH_E_FORMAT: return "bad image";
	case IMGFETCH_E_AUTH: return "authentication failed";
	}
	return "unknown status";
}

void imgfetch_http_opts_init(imgfetch_http_opts *o)
{
	*o = (imgfetch_http_opts){
		.connect_timeout_ms = 30000,
		.first_byte_timeout_ms = 30000,
		.stall_timeout_ms = 60000,
		.max_attempts = 5,
		.retry_base_ms = 500,
		.retry_max_ms = 16000,
		.retry_after_cap_ms = 60000,
		.max_redirects = 10,
	};
}

imgfetch_ctx *imgfetch_ctx_new(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	imgfetch_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		curl_global_cleanup();
		return NULL;
	}
	imgfetch_http_opts_init(&ctx->http);
	return ctx;
}

void imgfetch_ctx_free(imgfetch_ctx *ctx)
{
	if (!ctx)
		return;
	free(ctx->cacert);
	free(ctx->keys_dir);
	free(ctx->user_agent);
	free(ctx);
	curl_global_cleanup();
}

void imgfetch_ctx_set_log(imgfetch_ctx *ctx, imgfetch_log_fn fn, void *userdata)
{
	ctx->log_fn = fn;
	ctx->log_user = userdata;
}

void imgfetch_ctx_set_progress(imgfetch_ctx *ctx, imgfetch_progress_fn fn, void *userdata)
{
	ctx->progress_fn = fn;
	ctx->progress_user = userdata;
}

void imgfetch_ctx_cancel(imgfetch_ctx *ctx)
{
	atomic_store(&ctx->cancel, 1);
}

void imgfetch_ctx_clear_cancel(imgfetch_ctx *ctx)
{
	atomic_store(&ctx->cancel, 0);
}

bool imgfetch_ctx_cancelled(const imgfetch_ctx *ctx)
{
	return ifx_cancelled(ctx);
}

const char *imgfetch_ctx_error(const imgfetch_ctx *ctx)
{
	return ctx->error;
}

imgfetch_status imgfetch_ctx_set_http(imgfetch_ctx *ctx, const imgfetch_http_opts *o)
{
	if (o->max_attempts < 1 || o->max_attempts > 100)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "retry attempts must be between 1 and 100, not %u",
		                o->max_attempts);
	if (o->stall_timeout_ms < 100)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "stall timeout must be at least 0.1 s");
	if (o->connect_timeout_ms < 100 || o->first_byte_timeout_ms < 100)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "connect and first-byte timeouts must be at least 0.1 s");
	if (o->retry_max_ms > 3600000)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "the retry ceiling may be at most one hour, not %u ms",
		                o->retry_max_ms);
	if (o->retry_max_ms < o->retry_base_ms)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "retry ceiling (%u ms) is below the first delay (%u ms)",
		                o->retry_max_ms, o->retry_base_ms);
	if (o->max_redirects > 50)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "at most 50 redirects can be allowed");

	char *cacert = o->cacert ? strdup(o->cacert) : NULL;
	char *ua = o->user_agent ? strdup(o->user_agent) : NULL;
	if ((o->cacert && !cacert) || (o->user_agent && !ua)) {
		free(cacert);
		free(ua);
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	}
	free(ctx->cacert);
	free(ctx->user_agent);
	ctx->http = *o;
	ctx->cacert = cacert;
	ctx->user_agent = ua;
	ctx->http.cacert = cacert;
	ctx->http.user_agent = ua;
	return IMGFETCH_OK;
}

__attribute__((format(printf, 3, 0))) static void vlog(imgfetch_ctx *ctx, imgfetch_log_level level, const char *fmt, va_list ap)
{
	if (!ctx->log_fn)
		return;
	char buf[2048];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	ctx->log_fn(ctx->log_user, level, buf);
}

void ifx_log(imgfetch_ctx *ctx, imgfetch_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(ctx, level, fmt, ap);
	va_end(ap);
}

imgfetch_status ifx_fail(imgfetch_ctx *ctx, imgfetch_status status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctx->error, sizeof(ctx->error), fmt, ap);
	va_end(ap);
	return status;
}

void ifx_fail_append(imgfetch_ctx *ctx, const char *fmt, ...)
{
	size_t n = strlen(ctx->error);
	if (n + 3 >= sizeof(ctx->error))
		return;
	if (n > 0) {
		memcpy(ctx->error + n, "; ", 3);
		n += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctx->error + n, sizeof(ctx->error) - n, fmt, ap);
	va_end(ap);
}

void ifx_progress(imgfetch_ctx *ctx, const char *label, uint64_t done, uint64_t total, bool finished)
{
	if (!ctx->progress_fn)
		return;
	imgfetch_progress p = { .label = label, .done = done, .total = total, .finished = finished };
	ctx->progress_fn(ctx->progress_user, &p);
}

imgfetch_status imgfetch_ctx_set_keys_dir(imgfetch_ctx *ctx, const char *dir)
{
	char *d = NULL;
	if (dir && !(d = strdup(dir)))
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	free(ctx->keys_dir);
	ctx->keys_dir = d;
	return IMGFETCH_OK;
}
