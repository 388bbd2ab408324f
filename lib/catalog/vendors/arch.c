/* SPDX-License-Identifier: MIT */
/* Arch Linux: not resolved yet (issue 4 in progress). */
#include "catalog/catalog.h"

static const char *const bases[] = { "images", "https://geo.mirror.pkgbuild.com/images/", NULL };

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	(void)r;
	return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "%s: not implemented yet", req->vendor->pub.name);
}

const vendor_def vendor_arch = {
	.pub = {
		.name = "arch",
		.title = "Arch Linux",
		.os = "linux",
		.releases = "latest, build (v20261101.123456 or 20261101.123456)",
		.arches = "x86_64",
		.format = "qcow2",
		.verifier = "sidecar <image>.SHA256",
		.homepage = "https://archlinux.org",
		.bases = bases,
	},
	.resolve = resolve,
};
