/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the magic-number probes that decide how an image file
 * is read (img_probe) or refused (img_probe_foreign). The input is both the
 * head and, when long enough, the tail of a file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact-size copies: a read past either end is an ASan report. */
	size_t head_len = size < 4096 ? size : 4096;
	uint8_t *head = malloc(head_len ? head_len : 1);
	uint8_t *tail = size >= 512 ? malloc(512) : NULL;
	if (!head || (size >= 512 && !tail))
		abort();
	memcpy(head, data, head_len);
	if (tail)
		memcpy(tail, data + size - 512, 512);
	const img_foreign *f = img_probe_foreign(head, head_len, tail, tail ? 512 : 0);
	if (f && (!f->id || !f->name || !f->id[0] || !f->name[0]))
		abort();
	const char *fmt = img_probe(head, head_len);
	if (fmt && strcmp(fmt, "qcow2") != 0 && strcmp(fmt, "vmdk") != 0)
		abort();
	/* Without the tail, only head magic can match, and then the same one. */
	const img_foreign *g = img_probe_foreign(head, head_len, NULL, 0);
	if (g && g != f)
		abort();
	free(head);
	free(tail);
	return 0;
}
