/* SPDX-License-Identifier: MIT */
/* OmniOS: not resolved yet (issue 4 in progress). */
#include "catalog/catalog.h"

static const char *const bases[] = { "media", "https://downloads.omnios.org/media/", NULL };

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	(void)r;
	return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "%s: not implemented yet", req->vendor->pub.name);
}

const vendor_def vendor_omnios = {
	.pub = {
		.name = "omnios",
		.title = "OmniOS",
		.os = "illumos",
		.releases = "latest (= stable), stable, lts, bloody, release (r151054)",
		.arches = "x86_64",
		.format = "vmdk",
		.verifier = "sidecar <image>.sha256",
		.homepage = "https://omnios.org",
		.bases = bases,
	},
	.resolve = resolve,
};
