/* SPDX-License-Identifier: MIT */
/* Enterprise Linux rebuild trees (AlmaLinux, Rocky): listing parsers (pure,
 * for the resolvers and their fuzz target) and the shared resolver. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "catalog/catalog.h"

/* Picks the release directory for `release` ("latest": the highest major;
 * "10"; "9.6") from the listing of the tree's root. 0 with *ret_dir ("10",
 * "9.6"; caller frees); -ENOENT (*known gets the release directories, caller
 * frees with strv_free; NULL when there are none); -ENOMEM. */
int el_pick_release(char *const *listing, const char *release, char **ret_dir, char ***known);

/* The newest dated GenericCloud qcow2 for `arch` in a listing of an images
 * directory: <head><N><tail><N.M>-<YYYYMMDD>[.<n>].<arch>.qcow2 (head
 * "AlmaLinux-", tail "-GenericCloud-"), with N the major of dir (and
 * N.M == dir when dir has a minor), or NULL. *ret_version gets
 * "<N.M>-<YYYYMMDD>[.<n>]". Caller frees both. */
char *el_pick_image(char *const *listing, const char *name_head, const char *name_tail, const char *dir,
                    const char *arch, char **ret_version);

typedef struct el_tree {
	const char *base;        /* base key of the tree's root */
	bool signed_checksum;    /* CHECKSUM.asc, a detached signature over CHECKSUM, beside it */
	bool cloud_dir;          /* images in <dir>/cloud/<arch>/images/ (else <dir>/images/<arch>/) */
	const char *name_head;   /* dated image names: <head><major><tail><N.M>-<date>... */
	const char *name_tail;
	const char *description;
} el_tree;

imgfetch_status el_resolve(const vendor_req *req, const el_tree *t, imgfetch_resolved *r);
