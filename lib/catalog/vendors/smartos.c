/* SPDX-License-Identifier: MIT */
/* SmartOS: not resolved yet (issue 4 in progress). */
#include "catalog/catalog.h"

static const char *const bases[] = { "manta", "https://us-central.manta.mnx.io/Joyent_Dev/public/SmartOS/", NULL };

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	(void)r;
	return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "%s: not implemented yet", req->vendor->pub.name);
}

const vendor_def vendor_smartos = {
	.pub = {
		.name = "smartos",
		.title = "SmartOS",
		.os = "illumos",
		.releases = "latest, release (20261105T000000Z)",
		.arches = "x86_64",
		.format = "raw.gz",
		.verifier = "sha256sums.txt in the release directory",
		.homepage = "https://www.tritondatacenter.com/smartos",
		.bases = bases,
	},
	.resolve = resolve,
};
