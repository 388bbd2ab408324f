/* SPDX-License-Identifier: MIT */
/* FreeBSD: not resolved yet (issue 4 in progress). */
#include "catalog/catalog.h"

static const char *const bases[] = { "download", "https://download.freebsd.org/releases/VM-IMAGES/", NULL };

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	(void)r;
	return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "%s: not implemented yet", req->vendor->pub.name);
}

const vendor_def vendor_freebsd = {
	.pub = {
		.name = "freebsd",
		.title = "FreeBSD",
		.os = "bsd",
		.releases = "latest, release (14.3, 15.0)",
		.arches = "x86_64 aarch64",
		.format = "raw.xz",
		.verifier = "CHECKSUM.SHA256 (BSD) in the release directory",
		.homepage = "https://www.freebsd.org",
		.bases = bases,
	},
	.resolve = resolve,
};
