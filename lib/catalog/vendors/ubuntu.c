/* SPDX-License-Identifier: MIT */
/* Ubuntu: not resolved yet (issue 4 in progress). */
#include "catalog/catalog.h"

static const char *const bases[] = { "cloud", "https://cloud-images.ubuntu.com/", NULL };

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	(void)r;
	return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "%s: not implemented yet", req->vendor->pub.name);
}

const vendor_def vendor_ubuntu = {
	.pub = {
		.name = "ubuntu",
		.title = "Ubuntu",
		.os = "linux",
		.releases = "latest (newest supported LTS), version (24.04), codename (noble)",
		.arches = "x86_64 aarch64",
		.format = "qcow2",
		.verifier = "sha256 pinned by simplestreams",
		.homepage = "https://ubuntu.com",
		.bases = bases,
	},
	.resolve = resolve,
};
