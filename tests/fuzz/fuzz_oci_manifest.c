/* SPDX-License-Identifier: MIT */
/* libFuzzer target: manifests and indexes; every descriptor that comes out
 * must be valid, and title and platform helpers must stay safe. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci/manifest.h"
#include "oci/ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_desc(const oci_descriptor *d)
{
	if (!oci_digest_valid(d->digest) || d->size < 0 || d->size > ((int64_t)1 << 53) || !d->media_type ||
	    strlen(d->media_type) > OCI_MEDIA_TYPE_MAX || d->n_annotations > OCI_MAX_ANNOTATIONS)
		abort();
	const char *t = oci_descriptor_title(d);
	if (t && (strchr(t, '/') || strstr(t, "..") || t[0] == '.'))
		abort();
	const char *raw = oci_annotation_get(d->annotations, d->n_annotations, OCI_ANNOTATION_TITLE);
	char *s = oci_title_sanitize(raw);
	if (s && (strchr(s, '/') || strcmp(s, raw) != 0))
		abort();
	free(s);
	if (d->platform && !oci_platform_matches(d->platform, "linux/amd64") && !d->platform->variant) {
		char want[200];
		strcpy(want, d->platform->os);
		strcat(want, "/");
		strcat(want, d->platform->architecture);
		if (!oci_platform_matches(d->platform, want))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	oci_manifest m;
	char err[256] = "";
	int r = oci_manifest_parse((const char *)data, size, &m, err, sizeof(err));
	if (r < 0) {
		if ((r != -ENOMEM && !err[0]) || m.layers || m.manifests || m.config)
			abort();
		return 0;
	}
	if (m.kind == OCI_KIND_UNKNOWN || (oci_kind_is_index(m.kind) ? m.config != NULL : m.config == NULL))
		abort();
	if (m.config)
		check_desc(m.config);
	if (m.subject)
		check_desc(m.subject);
	if (m.n_layers + m.n_manifests > OCI_MAX_DESCRIPTORS)
		abort();
	for (size_t i = 0; i < m.n_layers; i++)
		check_desc(&m.layers[i]);
	for (size_t i = 0; i < m.n_manifests; i++)
		check_desc(&m.manifests[i]);
	char *pl = oci_platforms_list(&m);
	if (pl && m.n_manifests == 0 && pl[0])
		abort();
	free(pl);
	(void)oci_index_select(&m, "linux/arm64");
	oci_manifest_clear(&m);
	return 0;
}
