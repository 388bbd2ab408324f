/* SPDX-License-Identifier: MIT */
/* Rocky Linux: not resolved yet (issue 4 in progress). */
#include "catalog/catalog.h"

static const char *const bases[] = { "dl", "https://dl.rockylinux.org/pub/rocky/", NULL };

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	(void)r;
	return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "%s: not implemented yet", req->vendor->pub.name);
}

const vendor_def vendor_rocky = {
	.pub = {
		.name = "rocky",
		.title = "Rocky Linux",
		.os = "linux",
		.releases = "latest, major (9, 10) or major.minor (9.6)",
		.arches = "x86_64 aarch64",
		.format = "qcow2",
		.verifier = "CHECKSUM (BSD) in the image directory",
		.homepage = "https://rockylinux.org",
		.bases = bases,
	},
	.resolve = resolve,
};
