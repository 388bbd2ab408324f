/* SPDX-License-Identifier: MIT */
/* openSUSE Leap / Tumbleweed: not resolved yet (issue 4 in progress). */
#include "catalog/catalog.h"

static const char *const bases[] = { "download", "https://download.opensuse.org/", NULL };

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	(void)r;
	return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "%s: not implemented yet", req->vendor->pub.name);
}

const vendor_def vendor_opensuse = {
	.pub = {
		.name = "opensuse",
		.title = "openSUSE Leap / Tumbleweed",
		.os = "linux",
		.releases = "latest (newest Leap), Leap version (16.0, 15.6), tumbleweed",
		.arches = "x86_64 aarch64",
		.format = "qcow2",
		.verifier = "sidecar <image>.sha256",
		.homepage = "https://www.opensuse.org",
		.bases = bases,
	},
	.resolve = resolve,
};
