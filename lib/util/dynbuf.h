/* SPDX-License-Identifier: MIT */
/* A growable byte buffer with a hard maximum, for anything read from the network
 * into memory (checksum files, feeds, manifests). */
#pragma once

#include <stddef.h>

typedef struct dynbuf {
	char *data;  /* always NUL-terminated when non-NULL, the NUL not counted in len */
	size_t len;
	size_t cap;
	size_t max;  /* appending beyond this fails */
} dynbuf;

void dynbuf_init(dynbuf *b, size_t max);
/* 0, -EFBIG past the maximum, -ENOMEM. */
int dynbuf_append(dynbuf *b, const void *p, size_t n);
void dynbuf_reset(dynbuf *b);   /* keeps the allocation */
void dynbuf_free(dynbuf *b);
/* Hands the contents to the caller (free()); the buffer is left empty. */
char *dynbuf_take(dynbuf *b, size_t *ret_len);
