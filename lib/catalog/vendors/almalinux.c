/* SPDX-License-Identifier: MIT */
/* AlmaLinux OS: images in <release>/cloud/<arch>/images/, CHECKSUM in GNU format. The tree's rules are in el_tree.c. */
#include "catalog/catalog.h"
#include "catalog/vendors/el_tree.h"

static const char *const bases[] = { "repo", "https://repo.almalinux.org/almalinux/", NULL };

static const el_tree tree = {
	.base = "repo",
	.cloud_dir = true,
	.signed_checksum = true,
	.name_head = "AlmaLinux-",
	.name_tail = "-GenericCloud-",
	.description = "AlmaLinux OS Generic Cloud image (cloud-init)",
};

static imgfetch_status resolve(const vendor_req *req, imgfetch_resolved *r)
{
	return el_resolve(req, &tree, r);
}

const vendor_def vendor_almalinux = {
	.pub = {
		.name = "almalinux",
		.title = "AlmaLinux OS",
		.os = "linux",
		.releases = "latest, major (9, 10) or major.minor (9.6)",
		.arches = "x86_64 aarch64",
		.format = "qcow2",
		.verifier = "CHECKSUM (GNU) in the image directory, signed (CHECKSUM.asc)",
		.evidence = "signature",
		.signature = "CHECKSUM.asc by the AlmaLinux <major> key (8: BC5EDDCA…, 9: BF18AC28…, 10: EE6DB7B9…)",
		.homepage = "https://almalinux.org",
		.bases = bases,
	},
	.resolve = resolve,
};
