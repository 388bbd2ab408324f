/* SPDX-License-Identifier: MIT */
/*
 * The IMGAPI manifest of a zvol image, with the fields Triton's image
 * importers write, so images built here and there deduplicate by UUID.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct smartos_manifest {
	const char *uuid;
	const char *name;
	const char *version;
	const char *description;   /* NULL: none */
	const char *homepage;      /* NULL: none */
	const char *os;            /* linux, bsd, illumos, smartos, windows, other */
	const char *owner;         /* NULL: the all-zero UUID */
	bool public_image;
	const char *bootrom;       /* "uefi" or "bios" */
	int ssh_key;               /* -1: leave out */
	uint64_t published_at;     /* seconds since the epoch */
	uint64_t virtual_size;     /* bytes; image_size is this in MiB, rounded up */
	const char *sha1;          /* of the .zfs.gz */
	uint64_t file_size;        /* of the .zfs.gz */
} smartos_manifest;

/* The manifest as indented JSON with a final newline; NULL on bad input
 * (invalid os, uuid) or out of memory. free(). */
char *smartos_manifest_json(const smartos_manifest *m);

/* linux, bsd, illumos, smartos, windows or other: what IMGAPI accepts. */
bool smartos_os_valid(const char *os);

/* Per-vendor defaults: ssh_key false for images without cloud-init SSH
 * (talos, smartos), bios for images that do not boot with UEFI. */
bool smartos_vendor_ssh_key(const char *vendor);
bool smartos_vendor_needs_bios(const char *vendor, const char *series);
