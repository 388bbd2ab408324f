/* SPDX-License-Identifier: MIT */
/* Rocky Linux: images in <release>/images/<arch>/, CHECKSUM in BSD format
 * with "# name: N bytes" comments. The tree's rules are in el_tree.c. */
#include "catalog/catalog.h"
#include "catalog/vendors/el_tree.h"

static const char *const bases[] = { "dl", "https://dl.rockylinux.org/pub/rocky/", NULL };

static const el_tree tree = {
	.base = "dl",
	.cloud_dir = false,
	.name_head = "Rocky-",
	.name_tail = "-GenericCloud-Base-",
	.description = "Rocky Linux GenericCloud Base image (cloud-init)",
};

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	return el_resolve(req, &tree, r);
}

const vendor_def vendor_rocky = {
	.pub = {
		.name = "rocky",
		.title = "Rocky Linux",
		.os = "linux",
		.releases = "latest, major (9, 10) or major.minor (9.6)",
		.arches = "x86_64 aarch64",
		.format = "qcow2",
		.verifier = "CHECKSUM (BSD) in the image directory",
		.evidence = "checksum",
		.homepage = "https://rockylinux.org",
		.bases = bases,
	},
	.resolve = resolve,
};
