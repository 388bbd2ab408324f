/* SPDX-License-Identifier: MIT */
/* The retry schedule: 500 ms doubling to a 16 s ceiling, ±20 % jitter. */
#include "tap.h"

#include <stdint.h>

#include <imgfetch/imgfetch.h>

int main(void)
{
	/* random01 = 0.5 is the jitter factor 1.0: the bare schedule. */
	static const uint32_t expect[] = { 500, 1000, 2000, 4000, 8000, 16000, 16000, 16000 };
	for (uint32_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
		TAP_CHECK_INT_EQ(imgfetch_backoff_ms(i + 1, 500, 16000, 0.5), expect[i], "retry %u waits %u ms", i + 1,
		                 expect[i]);

	TAP_CHECK_INT_EQ(imgfetch_backoff_ms(0, 500, 16000, 0.5), 0, "no delay before the first attempt");
	TAP_CHECK_INT_EQ(imgfetch_backoff_ms(1, 500, 16000, 0.0), 400, "jitter low end is -20%%");
	TAP_CHECK_INT_EQ(imgfetch_backoff_ms(1, 500, 16000, 0.999999), 600, "jitter high end is +20%%");
	TAP_CHECK_INT_EQ(imgfetch_backoff_ms(6, 500, 16000, 0.0), 12800, "ceiling is jittered too (low)");
	TAP_CHECK_INT_EQ(imgfetch_backoff_ms(6, 500, 16000, 0.999999), 19200, "ceiling is jittered too (high)");
	TAP_CHECK_INT_EQ(imgfetch_backoff_ms(1000000, 500, 16000, 0.5), 16000, "huge retry counts do not overflow");
	TAP_CHECK_INT_EQ(imgfetch_backoff_ms(3, 50, 16000, 0.5), 200, "a smaller base scales the schedule");
	TAP_CHECK_INT_EQ(imgfetch_backoff_ms(2, 500, 16000, -1.0), 1000, "out-of-range random means no jitter");
	TAP_CHECK_INT_EQ(imgfetch_backoff_ms(2, 500, 16000, 1.0), 1000, "random of 1.0 is out of range too");

	/* Every jittered delay stays within ±20 % of the bare one. */
	bool within = true;
	for (uint32_t retry = 1; retry <= 8; retry++)
		for (int k = 0; k < 100; k++) {
			uint32_t d = imgfetch_backoff_ms(retry, 500, 16000, k / 100.0);
			uint32_t bare = expect[retry - 1];
			if (d < bare * 8 / 10 || d > bare * 12 / 10)
				within = false;
		}
	TAP_CHECK(within, "all jittered delays stay within +-20%% of the schedule");

	imgfetch_http_opts o;
	imgfetch_http_opts_init(&o);
	TAP_CHECK_INT_EQ(o.max_attempts, 5, "default: 5 attempts");
	TAP_CHECK_INT_EQ(o.retry_base_ms, 500, "default: 500 ms first delay");
	TAP_CHECK_INT_EQ(o.retry_max_ms, 16000, "default: 16 s ceiling");
	TAP_CHECK_INT_EQ(o.stall_timeout_ms, 60000, "default: 60 s stall timeout");
	TAP_CHECK_INT_EQ(o.connect_timeout_ms, 30000, "default: 30 s connect timeout");
	TAP_CHECK_INT_EQ(o.first_byte_timeout_ms, 30000, "default: 30 s first-byte timeout");
	TAP_CHECK_INT_EQ(o.max_redirects, 10, "default: 10 redirects");

	imgfetch_ctx *ctx = imgfetch_ctx_new();
	o.max_attempts = 0;
	TAP_CHECK_INT_EQ(imgfetch_ctx_set_http(ctx, &o), IMGFETCH_E_INVALID, "zero attempts are refused");
	TAP_CHECK(strstr(imgfetch_ctx_error(ctx), "attempts") != NULL, "and the message says why");
	imgfetch_http_opts_init(&o);
	o.retry_base_ms = 20000;
	TAP_CHECK_INT_EQ(imgfetch_ctx_set_http(ctx, &o), IMGFETCH_E_INVALID, "a first delay above the ceiling is refused");
	imgfetch_http_opts_init(&o);
	o.cacert = "/some/ca.pem";
	TAP_CHECK_INT_EQ(imgfetch_ctx_set_http(ctx, &o), IMGFETCH_OK, "valid options are accepted");
	o.retry_base_ms = 500;
	o.retry_max_ms = 3600001;
	TAP_CHECK_INT_EQ(imgfetch_ctx_set_http(ctx, &o), IMGFETCH_E_INVALID, "a ceiling above one hour is refused");
	TAP_CHECK(imgfetch_backoff_ms(40, 4000000000u, 4000000000u, 0.999) == UINT32_MAX,
	          "a jittered delay beyond 32 bits saturates instead of wrapping");

	/* Cancellation is sticky until cleared, so a signal racing with the start
	 * of a call is not lost. */
	imgfetch_ctx_cancel(ctx);
	TAP_CHECK(imgfetch_ctx_cancelled(ctx), "cancel is visible");
	imgfetch_get_opts go = { .url = "http://127.0.0.1:9/x.img", .insecure_no_verify = true, .output = "/nonexistent/x" };
	imgfetch_get_result *res = NULL;
	TAP_CHECK_INT_EQ(imgfetch_get(ctx, &go, &res), IMGFETCH_E_CANCELLED, "a cancelled context refuses new work");
	TAP_CHECK(res == NULL, "and returns no result");
	imgfetch_ctx_clear_cancel(ctx);
	TAP_CHECK(!imgfetch_ctx_cancelled(ctx), "clear_cancel re-arms the context");
	imgfetch_ctx_free(ctx);
	return tap_done();
}
