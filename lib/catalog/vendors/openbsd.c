/* SPDX-License-Identifier: MIT */
/* OpenBSD (hcartiaux/openbsd-cloud-image): not resolved yet (issue 4 in progress). */
#include "catalog/catalog.h"

static const char *const bases[] = { "api", "https://api.github.com/repos/hcartiaux/openbsd-cloud-image/", NULL };

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	(void)r;
	return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "%s: not implemented yet", req->vendor->pub.name);
}

const vendor_def vendor_openbsd = {
	.pub = {
		.name = "openbsd",
		.title = "OpenBSD (hcartiaux/openbsd-cloud-image)",
		.os = "bsd",
		.releases = "latest, release tag (v7.8_2025-10-22-15-14) or version (7.8)",
		.arches = "x86_64",
		.format = "qcow2",
		.verifier = "sidecar .sha256 release asset",
		.homepage = "https://www.openbsd.org",
		.bases = bases,
	},
	.resolve = resolve,
};
