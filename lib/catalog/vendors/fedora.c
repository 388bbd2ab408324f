/* SPDX-License-Identifier: MIT */
/* Fedora Cloud: not resolved yet (issue 4 in progress). */
#include "catalog/catalog.h"

static const char *const bases[] = { "www", "https://fedoraproject.org/", "download", "https://download.fedoraproject.org/pub/fedora/linux/", NULL };

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	(void)r;
	return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "%s: not implemented yet", req->vendor->pub.name);
}

const vendor_def vendor_fedora = {
	.pub = {
		.name = "fedora",
		.title = "Fedora Cloud",
		.os = "linux",
		.releases = "latest, release (44); Beta releases are skipped",
		.arches = "x86_64 aarch64",
		.format = "qcow2",
		.verifier = "sha256 pinned by releases.json",
		.homepage = "https://fedoraproject.org",
		.bases = bases,
	},
	.resolve = resolve,
};
