/* SPDX-License-Identifier: MIT */
/* Oracle Linux: not resolved yet (issue 4 in progress). */
#include "catalog/catalog.h"

static const char *const bases[] = { "yum", "https://yum.oracle.com/", NULL };

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	(void)r;
	return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "%s: not implemented yet", req->vendor->pub.name);
}

const vendor_def vendor_oracle = {
	.pub = {
		.name = "oracle",
		.title = "Oracle Linux",
		.os = "linux",
		.releases = "latest, major (8, 9, 10)",
		.arches = "x86_64 aarch64",
		.format = "qcow2",
		.verifier = "sha256 pinned by the template JSON",
		.homepage = "https://www.oracle.com/linux/",
		.bases = bases,
	},
	.resolve = resolve,
};
