/* SPDX-License-Identifier: MIT */
/* Talos Linux: not resolved yet (issue 4 in progress). */
#include "catalog/catalog.h"

static const char *const bases[] = { "github", "https://api.github.com/repos/siderolabs/talos/", "factory", "https://factory.talos.dev/", NULL };

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	(void)r;
	return ifx_fail(req->ctx, IMGFETCH_E_FAILED, "%s: not implemented yet", req->vendor->pub.name);
}

const vendor_def vendor_talos = {
	.pub = {
		.name = "talos",
		.title = "Talos Linux",
		.os = "linux",
		.releases = "latest, version (v1.11.5 or 1.11.5); --schematic ID",
		.arches = "x86_64 aarch64",
		.format = "raw.xz",
		.verifier = "<image>.sha256 when the factory serves it, else trust-only (with a notice)",
		.homepage = "https://www.talos.dev",
		.bases = bases,
	},
	.resolve = resolve,
};
