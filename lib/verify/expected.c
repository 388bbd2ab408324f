/* SPDX-License-Identifier: MIT */
#include "verify/expected.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/xfer.h"
#include "util/cleanup.h"
#include "util/strutil.h"

static imgfetch_status pinned(imgfetch_ctx *ctx, imgfetch_hash h, const char *hex, expected_digest *ret)
{
	size_t len = imgfetch_hash_hexlen(h);
	if (!hex_valid(hex, len))
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "--%s needs %zu hex digits, got \"%.140s\"",
		                imgfetch_hash_name(h), len, hex);
	ret->kind = IMGFETCH_VERIFIER_PINNED;
	ret->sum.hash = h;
	hex_lower(hex, len, ret->sum.hex);
	return IMGFETCH_OK;
}

static imgfetch_status from_sums(imgfetch_ctx *ctx, const char *sums_url, const char *name, expected_digest *ret)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	imgfetch_status st =
		xfer_fetch_mem(ctx, sums_url, IMGFETCH_SUMS_MAX_BYTES, "checksum file", &text, &len, NULL);
	if (st == IMGFETCH_E_NOT_FOUND)
		return ifx_fail(ctx, IMGFETCH_E_VERIFY, "cannot verify %s: checksum file %s not found", name, sums_url);
	if (st < 0) {
		ifx_fail_append(ctx, "cannot verify %s without its checksum file", name);
		return st;
	}
	const char *why = NULL;
	st = imgfetch_sums_lookup(text, len, name, &ret->sum, &why);
	if (st == IMGFETCH_E_NOT_FOUND)
		return ifx_fail(ctx, IMGFETCH_E_VERIFY, "cannot verify %s: %s has no entry for it", name, sums_url);
	if (st < 0)
		return ifx_fail(ctx, IMGFETCH_E_VERIFY, "cannot verify %s: %s: %s", name, sums_url,
		                why ? why : imgfetch_status_name(st));
	ret->kind = IMGFETCH_VERIFIER_SUMS;
	ret->source = strdup(sums_url);
	return IMGFETCH_OK;
}

static imgfetch_status from_sidecar(imgfetch_ctx *ctx, const char *url, const char *name, expected_digest *ret)
{
	static const char *const exts[] = { ".sha256", ".sha512" };
	for (size_t i = 0; i < 2; i++) {
		_cleanup_free_ char *side = NULL, *text = NULL;
		size_t len = 0;
		/* The extension belongs to the path, before any query string. */
		size_t pathlen = strcspn(url, "?#");
		if (asprintf(&side, "%.*s%s%s", (int)pathlen, url, exts[i], url + pathlen) < 0)
			return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		imgfetch_status st =
			xfer_fetch_mem(ctx, side, IMGFETCH_SUMS_MAX_BYTES, "sidecar checksum", &text, &len, NULL);
		if (st == IMGFETCH_E_NOT_FOUND)
			continue;
		if (st < 0)
			return st;
		const char *why = NULL;
		st = imgfetch_sidecar_parse(text, len, &ret->sum, &why);
		if (st < 0)
			return ifx_fail(ctx, IMGFETCH_E_VERIFY, "cannot verify %s: %s: %s", name, side,
			                why ? why : imgfetch_status_name(st));
		imgfetch_hash want = i == 0 ? IMGFETCH_HASH_SHA256 : IMGFETCH_HASH_SHA512;
		if (ret->sum.hash != want)
			return ifx_fail(ctx, IMGFETCH_E_VERIFY, "cannot verify %s: %s holds a %s digest, not %s", name,
			                side, imgfetch_hash_name(ret->sum.hash), imgfetch_hash_name(want));
		ret->kind = IMGFETCH_VERIFIER_SIDECAR;
		ret->source = TAKE_PTR(side);
		return IMGFETCH_OK;
	}
	return ifx_fail(ctx, IMGFETCH_E_VERIFY, "cannot verify %s: neither %s.sha256 nor %s.sha512 exists", name, url,
	                url);
}

imgfetch_status expected_resolve(imgfetch_ctx *ctx, const imgfetch_get_opts *o, const char *name,
                                 expected_digest *ret)
{
	*ret = (expected_digest){ .kind = IMGFETCH_VERIFIER_NONE };
	int n = !!o->sha256 + !!o->sha512 + !!o->sums_url + !!o->sidecar;
	if (n > 1)
		return ifx_fail(ctx, IMGFETCH_E_INVALID,
		                "give one verifier: --sha256, --sha512, --sums or --sidecar, not several");
	if (n == 1 && o->insecure_no_verify)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "--insecure-no-verify contradicts the verifier that was given");
	if (n == 0 && !o->insecure_no_verify)
		return ifx_fail(ctx, IMGFETCH_E_INVALID,
		                "refusing to download %s without verification: give --sha256 HEX, --sha512 HEX, "
		                "--sums URL or --sidecar (or accept the risk with --insecure-no-verify)",
		                o->url);
	if (o->sha256)
		return pinned(ctx, IMGFETCH_HASH_SHA256, o->sha256, ret);
	if (o->sha512)
		return pinned(ctx, IMGFETCH_HASH_SHA512, o->sha512, ret);
	if (o->sums_url)
		return from_sums(ctx, o->sums_url, name, ret);
	if (o->sidecar)
		return from_sidecar(ctx, o->url, name, ret);
	return IMGFETCH_OK;
}

void expected_clear(expected_digest *e)
{
	free(e->source);
	*e = (expected_digest){ 0 };
}
