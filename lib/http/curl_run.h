/* SPDX-License-Identifier: MIT */
/* What every libcurl user in the library does the same way: run a transfer
 * with its own timers checked often, and wait between retries. */
#pragma once

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/ctx.h"

/* curl_easy_perform() through `multi`, calling expired(u) every 100 ms at
 * most; true aborts with CURLE_ABORTED_BY_CALLBACK. libcurl calls its
 * progress callback only about once a second while no data flows, too
 * coarse for sub-second stall timeouts and prompt cancellation. */
CURLcode curl_run_polled(CURLM *multi, CURL *easy, bool (*expired)(void *u), void *u);

/* Sleeps ms in short slices; false as soon as ctx is cancelled. */
bool http_sleep_cancellable(imgfetch_ctx *ctx, uint32_t ms);

/* A number in [0, 1) for backoff jitter: independent between processes
 * that failed together (no cryptographic quality needed). */
double http_jitter_random(void);
