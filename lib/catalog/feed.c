/* SPDX-License-Identifier: MIT */
/* Fetching vendor feeds and directory listings. */
#include <errno.h>
#include <stdlib.h>

#include "catalog/catalog.h"
#include "http/xfer.h"

imgfetch_status feed_get(const vendor_req *req, const char *url, size_t max, const char *what, char **ret,
                         size_t *ret_len)
{
	ifx_log(req->ctx, IMGFETCH_LOG_INFO, "%s: reading %s %s", req->vendor->pub.name, what, url);
	return xfer_fetch_mem(req->ctx, url, max, what, ret, ret_len, NULL);
}

imgfetch_status listing_get(const vendor_req *req, const char *url, char ***ret)
{
	char *html = NULL;
	size_t len = 0;
	imgfetch_status st = feed_get(req, url, LISTING_MAX_BYTES, "directory listing", &html, &len);
	if (st < 0)
		return st;
	int r = listing_parse(html, len, ret);
	free(html);
	if (r < 0)
		return ifx_fail(req->ctx, r == -ENOMEM ? IMGFETCH_E_FAILED : IMGFETCH_E_FORMAT,
		                r == -ENOMEM ? "out of memory" : "%s is not a usable directory listing", url);
	return IMGFETCH_OK;
}

static int discard_write(void *u, const void *buf, size_t n)
{
	(void)u;
	(void)buf;
	(void)n;
	return 0;
}

static int discard_reset(void *u)
{
	(void)u;
	return 0;
}

imgfetch_status feed_probe(const vendor_req *req, const char *url, long *ret_status)
{
	ifx_log(req->ctx, IMGFETCH_LOG_INFO, "%s: probing %s", req->vendor->pub.name, url);
	xfer_request xr = { .url = url };
	xfer_sink sink = { .write = discard_write, .reset = discard_reset };
	xfer_result res = { 0 };
	imgfetch_status st = xfer_run(req->ctx, &xr, &sink, &res);
	*ret_status = res.http_status;
	xfer_result_clear(&res);
	return st;
}
