/* SPDX-License-Identifier: MIT */
/* CentOS Stream: not resolved yet (issue 4 in progress). */
#include "catalog/catalog.h"

static const char *const bases[] = { "cloud", "https://cloud.centos.org/centos/", NULL };

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	(void)r;
	return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "%s: not implemented yet", req->vendor->pub.name);
}

const vendor_def vendor_centos_stream = {
	.pub = {
		.name = "centos-stream",
		.title = "CentOS Stream",
		.os = "linux",
		.releases = "latest, stream (9, 10)",
		.arches = "x86_64 aarch64",
		.format = "qcow2",
		.verifier = "CHECKSUM (BSD) in the image directory",
		.homepage = "https://www.centos.org",
		.bases = bases,
	},
	.resolve = resolve,
};
