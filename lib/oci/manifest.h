/* SPDX-License-Identifier: MIT */
/* OCI / Docker v2 image manifests and indexes (manifest lists); pure, for fuzzing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OCI_MANIFEST_MAX_BYTES (4u << 20)
#define OCI_MAX_DESCRIPTORS 1000u
#define OCI_MAX_ANNOTATIONS 64u
#define OCI_ANNOTATION_MAX_BYTES 4096u
#define OCI_MEDIA_TYPE_MAX 255u

#define OCI_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MT_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define OCI_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define OCI_ANNOTATION_TITLE "org.opencontainers.image.title"

typedef enum oci_kind {
	OCI_KIND_UNKNOWN,
	OCI_KIND_MANIFEST,        /* OCI image manifest */
	OCI_KIND_INDEX,           /* OCI image index */
	OCI_KIND_DOCKER_MANIFEST, /* Docker image manifest v2 schema 2 */
	OCI_KIND_DOCKER_LIST,     /* Docker manifest list */
} oci_kind;

typedef struct oci_annotation {
	char *key, *value;
} oci_annotation;

typedef struct oci_platform {
	char *os, *architecture, *variant, *os_version; /* variant/os_version may be NULL */
} oci_platform;

typedef struct oci_descriptor {
	char *media_type;
	char *digest; /* always passes oci_digest_valid() */
	int64_t size; /* 0 .. 2^53 */
	char *artifact_type; /* or NULL */
	oci_platform *platform; /* index entries only, or NULL */
	oci_annotation *annotations;
	size_t n_annotations;
} oci_descriptor;

typedef struct oci_manifest {
	oci_kind kind;
	char *media_type; /* as in the document, or NULL when it had none */
	char *artifact_type;
	oci_descriptor *config; /* manifests: always set; indexes: NULL */
	oci_descriptor *layers; /* manifests */
	size_t n_layers;
	oci_descriptor *manifests; /* indexes */
	size_t n_manifests;
	oci_descriptor *subject; /* or NULL */
	oci_annotation *annotations;
	size_t n_annotations;
} oci_manifest;

/* The kind a media type (e.g. a Content-Type without parameters) names. */
oci_kind oci_kind_from_media_type(const char *mt);
static inline bool oci_kind_is_index(oci_kind k)
{
	return k == OCI_KIND_INDEX || k == OCI_KIND_DOCKER_LIST;
}

/* Parses and validates a manifest or index. Everything in *m is owned by it:
 * release with oci_manifest_clear(). 0, -EBADMSG/-EFBIG with a message in err,
 * or -ENOMEM; *m is zeroed on error. */
int oci_manifest_parse(const char *json, size_t len, oci_manifest *m, char *err, size_t errlen);
/* Frees everything and zeroes *m; safe on a zeroed or cleared manifest. */
void oci_manifest_clear(oci_manifest *m);

/* The value for key, borrowed from the array; NULL if absent. */
const char *oci_annotation_get(const oci_annotation *a, size_t n, const char *key);
/* A layer's org.opencontainers.image.title if it is usable as a file name
 * (see oci_title_sanitize()), else NULL. Borrowed from d. */
const char *oci_descriptor_title(const oci_descriptor *d);
/* A copy of title when it is a single safe path component: not empty, at most
 * 255 bytes, no '/' or '\\', no "..", not starting with '.', no control
 * characters. NULL otherwise (or on OOM). Caller frees. */
char *oci_title_sanitize(const char *title);

/* Whether p is the platform "os/arch[/variant]"; an arm64 without variant
 * counts as arm64/v8, and a want without variant accepts any variant. */
bool oci_platform_matches(const oci_platform *p, const char *want);
/* The first index entry for platform want (borrowed from m), or NULL. */
const oci_descriptor *oci_index_select(const oci_manifest *m, const char *want);
/* "linux/amd64, linux/arm64/v8": the index's distinct platforms in document
 * order, for messages. malloc'd, caller frees; "" when none; NULL on OOM. */
char *oci_platforms_list(const oci_manifest *m);
