/* SPDX-License-Identifier: MIT */
/* Debian: not resolved yet (issue 4 in progress). */
#include "catalog/catalog.h"

static const char *const bases[] = { "cloud", "https://cloud.debian.org/images/cloud/", "archive", "https://deb.debian.org/debian/", NULL };

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	(void)r;
	return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "%s: not implemented yet", req->vendor->pub.name);
}

const vendor_def vendor_debian = {
	.pub = {
		.name = "debian",
		.title = "Debian",
		.os = "linux",
		.releases = "stable, oldstable, oldoldstable, testing, sid, codename (trixie), major (13); latest = stable",
		.arches = "x86_64 aarch64",
		.format = "qcow2",
		.verifier = "SHA512SUMS (GNU) in the image directory",
		.homepage = "https://www.debian.org",
		.bases = bases,
	},
	.resolve = resolve,
};
