/* SPDX-License-Identifier: MIT */
/*
 * One HTTP(S) transfer into a sink, with the whole network policy in one place:
 * redirects followed by hand (counted, https→http refused, origin-only headers
 * dropped on another host), timeouts (connect, first byte, stall), retries with
 * backoff and jitter on transient failures only, resume with Range/If-Range,
 * restart from zero when the server ignores Range, truncation checks and
 * cancellation.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/ctx.h"

typedef struct xfer_sink {
	/* Appends bytes. 0, or a negative errno: -EFBIG means "over the size cap". */
	int (*write)(void *u, const void *buf, size_t n);
	/* Discards everything written (the server restarted from byte 0). */
	int (*reset)(void *u);
	void *u;
} xfer_sink;

typedef struct xfer_request {
	const char *url;
	const char *label;                 /* for messages and progress; NULL: the URL's file name */
	const char *const *origin_headers; /* NULL-terminated "Name: value" list, e.g. credentials;
	                                      sent only while the URL stays on the original
	                                      scheme, host and port */
	const char *const *headers;        /* NULL-terminated "Name: value" list sent on every hop,
	                                      redirects to other hosts included (e.g. Accept) */
	const long *allow_status;          /* 0-terminated list of HTTP statuses (e.g. 401) that end
	                                      the transfer with IMGFETCH_OK instead of an error, not
	                                      retried, when the original origin answers them (from a
	                                      redirect target they are errors); their body is
	                                      discarded, the caller reads result.http_status and the
	                                      captured headers (and resets its sink if it retries) */
	uint64_t max_size;                 /* informational cap for messages; 0: none */
	bool report_progress;
} xfer_request;

typedef struct xfer_result {
	char *final_url;       /* after redirects; owned, free with xfer_result_clear() */
	char *content_type;    /* may be NULL */
	uint64_t size;         /* bytes written to the sink */
	uint32_t attempts;
	uint64_t resumed_bytes;
	long http_status;      /* of the last response (0: none, or not HTTP), also on failure */
	/* Headers of the final response, trimmed (NULL when absent or too long);
	 * only the first WWW-Authenticate line is kept. Owned, freed by
	 * xfer_result_clear(). Set on success only. */
	char *www_authenticate;
	char *docker_content_digest;
} xfer_result;

IMGFETCH_WARN_UNUSED imgfetch_status xfer_run(imgfetch_ctx *ctx, const xfer_request *req, const xfer_sink *sink,
                                              xfer_result *ret);
void xfer_result_clear(xfer_result *r);

/* Fetches a small document into memory, failing when it exceeds `max` bytes.
 * *ret is NUL-terminated and owned by the caller (free()). */
IMGFETCH_WARN_UNUSED imgfetch_status xfer_fetch_mem(imgfetch_ctx *ctx, const char *url, size_t max, const char *what,
                                                    char **ret, size_t *ret_len, char **ret_final_url);
