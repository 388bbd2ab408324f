/* SPDX-License-Identifier: MIT */
/* OCI registry references ("oras://host[:port]/repo[:tag][@digest]"); pure, for fuzzing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OCI_REF_MAX_BYTES 4096u
#define OCI_REPO_MAX 255u

typedef enum oci_ref_scheme {
	OCI_REF_PLAIN, /* host/repo:tag */
	OCI_REF_ORAS,  /* oras://host/repo:tag */
} oci_ref_scheme;

typedef struct oci_ref {
	/* Lowercased; an IPv6 literal keeps its brackets ("[::1]") so that
	 * "host:port" can be built without knowing the address family. */
	char *host;
	uint16_t port; /* 0: the scheme's default */
	char *repository;
	/* "latest" when the reference named neither a tag nor a digest; NULL when
	 * only a digest was given. With both, the digest decides what is fetched
	 * and the tag is only shown to the user. */
	char *tag;
	char *digest; /* "sha256:<64 hex>" / "sha512:<128 hex>", or NULL */
	oci_ref_scheme scheme;
} oci_ref;

/* Parses s into *ref (every field owned by *ref; release with oci_ref_clear()).
 * 0, or -EBADMSG/-EFBIG with a message in err, or -ENOMEM; on error *ref is
 * left zeroed. */
int oci_ref_parse(const char *s, oci_ref *ref, char *err, size_t errlen);
/* Frees the fields and zeroes *ref; safe on a zeroed or already cleared ref. */
void oci_ref_clear(oci_ref *ref);
/* The canonical string (the scheme kept, an implicit ":latest" spelt out);
 * malloc'd, caller frees; NULL on OOM. Parses back to an equal oci_ref. */
char *oci_ref_format(const oci_ref *ref);
/* "sha256:" + 64 or "sha512:" + 128 lowercase hex digits, nothing else: the
 * algorithms imgfetch can verify. */
bool oci_digest_valid(const char *d);
/* The same on a length-delimited string (no NUL needed). */
bool oci_digest_valid_n(const char *d, size_t n);
/* Repository name grammar of the distribution spec (components joined by '/',
 * at most 255 bytes). */
bool oci_repository_valid(const char *s, size_t n);
/* Tag grammar: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}. */
bool oci_tag_valid(const char *s, size_t n);
