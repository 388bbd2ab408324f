/* SPDX-License-Identifier: MIT */
/* Internal view of the context: settings, callbacks, error slot, cancel flag. */
#pragma once

#include <stdatomic.h>

#include <imgfetch/imgfetch.h>

struct imgfetch_ctx {
	imgfetch_log_fn log_fn;
	void *log_user;
	imgfetch_progress_fn progress_fn;
	void *progress_user;
	imgfetch_http_opts http;      /* strings below are owned copies */
	char *cacert;
	char *user_agent;
	char *keys_dir;                /* shipped keys; NULL: IMGFETCH_KEYS_DIR */
	atomic_int cancel;            /* lock-free: written from signal handlers and other threads */
	char error[1024];
};

void ifx_log(imgfetch_ctx *ctx, imgfetch_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records the message as the context's error and returns `status`, so that
 * failures read as one line: `return ifx_fail(ctx, IMGFETCH_E_VERIFY, "...", ...);` */
imgfetch_status ifx_fail(imgfetch_ctx *ctx, imgfetch_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Appends "; <text>" to the recorded error (e.g. "; cached copy removed"). */
void ifx_fail_append(imgfetch_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void ifx_progress(imgfetch_ctx *ctx, const char *label, uint64_t done, uint64_t total, bool finished);

static inline bool ifx_cancelled(const imgfetch_ctx *ctx)
{
	return atomic_load(&((imgfetch_ctx *)ctx)->cancel) != 0;
}
