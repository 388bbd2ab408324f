/* SPDX-License-Identifier: MIT */
/* Fetching vendor feeds and directory listings. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog/catalog.h"
#include "http/xfer.h"
#include "util/cleanup.h"

imgfetch_status feed_get(const vendor_req *req, const char *url, size_t max, const char *what, char **ret,
                         size_t *ret_len)
{
	ifx_log(req->ctx, IMGFETCH_LOG_INFO, "%s: reading %s %s", req->vendor->pub.name, what, url);
	imgfetch_status st = xfer_fetch_mem(req->ctx, url, max, what, ret, ret_len, NULL);
	/* Callers that expect a miss (probing for a release) say better; for
	 * the rest this is what a typo in --mirror or a partial mirror looks like. */
	if (st == IMGFETCH_E_NOT_FOUND)
		ifx_fail(req->ctx, st, "%s: %s %s does not exist (HTTP 404/410); is the vendor's base URL or mirror right?",
		         req->vendor->pub.name, what, url);
	return st;
}

/* A copied mirror tree has no index pages: a file:// directory is listed
 * from the file system, with the same rules as a web listing. */
static imgfetch_status list_local_dir(const vendor_req *req, const char *url, char ***ret)
{
	const char *p = url + strlen("file://");
	if (strncmp(p, "localhost/", 10) == 0)
		p += 9;
	size_t n = strlen(p);
	_cleanup_free_ char *path = malloc(n + 1);
	if (!path)
		return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned h, l;
		if (p[i] == '%' && i + 2 < n && sscanf(p + i + 1, "%1x%1x", &h, &l) == 2) {
			path[o++] = (char)(h * 16 + l);
			i += 2;
		} else {
			path[o++] = p[i];
		}
	}
	path[o] = '\0';
	DIR *d = opendir(path);
	if (!d)
		return ifx_fail(req->ctx, errno == ENOENT ? IMGFETCH_E_NOT_FOUND : IMGFETCH_E_FAILED,
		                "cannot list %s: %s", url, strerror(errno));
	ifx_log(req->ctx, IMGFETCH_LOG_INFO, "%s: listing %s", req->vendor->pub.name, path);
	char **v = calloc(1, sizeof(*v));
	size_t cnt = 0;
	struct dirent *de;
	imgfetch_status st = v ? IMGFETCH_OK : ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
	while (st == IMGFETCH_OK && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (cnt == LISTING_MAX_ENTRIES) {
			st = ifx_fail(req->ctx, IMGFETCH_E_FORMAT, "%s has more than %u entries", url, LISTING_MAX_ENTRIES);
			break;
		}
		struct stat sb;
		bool dir = fstatat(dirfd(d), de->d_name, &sb, 0) == 0 && S_ISDIR(sb.st_mode);
		char **nv = realloc(v, (cnt + 2) * sizeof(*v));
		char *name = NULL;
		if (!nv || asprintf(&name, "%s%s", de->d_name, dir ? "/" : "") < 0) {
			if (nv)
				v = nv;
			st = ifx_fail(req->ctx, IMGFETCH_E_FAILED, "out of memory");
			break;
		}
		v = nv;
		v[cnt++] = name;
		v[cnt] = NULL;
	}
	closedir(d);
	if (st < 0) {
		strv_free(v);
		return st;
	}
	*ret = v;
	return IMGFETCH_OK;
}

imgfetch_status listing_get(const vendor_req *req, const char *url, char ***ret)
{
	if (strncmp(url, "file://", 7) == 0)
		return list_local_dir(req, url, ret);
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

/* A probe reads a small answer at most: a body past this is not a checksum. */
#define PROBE_MAX_BYTES (64u << 10)

static int discard_write(void *u, const void *buf, size_t n)
{
	size_t *seen = u;
	(void)buf;
	*seen += n;
	return *seen > PROBE_MAX_BYTES ? -EFBIG : 0;
}

static int discard_reset(void *u)
{
	*(size_t *)u = 0;
	return 0;
}

imgfetch_status feed_probe(const vendor_req *req, const char *url, long *ret_status)
{
	ifx_log(req->ctx, IMGFETCH_LOG_INFO, "%s: probing %s", req->vendor->pub.name, url);
	xfer_request xr = { .url = url, .max_size = PROBE_MAX_BYTES };
	size_t seen = 0;
	xfer_sink sink = { .write = discard_write, .reset = discard_reset, .u = &seen };
	xfer_result res = { 0 };
	imgfetch_status st = xfer_run(req->ctx, &xr, &sink, &res);
	*ret_status = res.http_status;
	xfer_result_clear(&res);
	return st;
}
