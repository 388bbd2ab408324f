/* SPDX-License-Identifier: MIT */
#include "http/curl_run.h"

#include <time.h>
#include <unistd.h>

CURLcode curl_run_polled(CURLM *multi, CURL *easy, bool (*expired)(void *u), void *u)
{
	CURLcode res = CURLE_OK;
	if (curl_multi_add_handle(multi, easy) != CURLM_OK)
		return CURLE_OUT_OF_MEMORY;
	int running = 1;
	while (running) {
		if (curl_multi_perform(multi, &running) != CURLM_OK) {
			res = CURLE_RECV_ERROR;
			break;
		}
		if (!running)
			break;
		if (expired(u)) {
			res = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		if (curl_multi_poll(multi, NULL, 0, 100, NULL) != CURLM_OK) {
			res = CURLE_RECV_ERROR;
			break;
		}
	}
	if (running == 0) {
		int left;
		CURLMsg *m;
		while ((m = curl_multi_info_read(multi, &left)))
			if (m->msg == CURLMSG_DONE && m->easy_handle == easy)
				res = m->data.result;
	}
	curl_multi_remove_handle(multi, easy);
	return res;
}

bool http_sleep_cancellable(imgfetch_ctx *ctx, uint32_t ms)
{
	while (ms > 0) {
		if (ifx_cancelled(ctx))
			return false;
		uint32_t slice = ms > 50 ? 50 : ms;
		struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)slice * 1000000L };
		nanosleep(&ts, NULL);
		ms -= slice;
	}
	return !ifx_cancelled(ctx);
}

double http_jitter_random(void)
{
	/* The clock's nanoseconds and the pid differ between processes. */
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	uint64_t v = (uint64_t)t.tv_nsec * 2654435761u ^ (uint64_t)getpid() * 40503u;
	return (double)(v % 10000) / 10000.0;
}
