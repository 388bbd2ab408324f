/* SPDX-License-Identifier: MIT */
#include "util/dynbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void dynbuf_init(dynbuf *b, size_t max)
{
	*b = (dynbuf){ .max = max };
}

int dynbuf_append(dynbuf *b, const void *p, size_t n)
{
	if (n > b->max || b->len > b->max - n)
		return -EFBIG;
	if (b->len + n + 1 > b->cap) {
		size_t want = b->cap ? b->cap : 4096;
		while (want < b->len + n + 1)
			want *= 2;
		if (want > b->max + 1)
			want = b->max + 1;
		char *d = realloc(b->data, want);
		if (!d)
			return -ENOMEM;
		b->data = d;
		b->cap = want;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

void dynbuf_reset(dynbuf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void dynbuf_free(dynbuf *b)
{
	free(b->data);
	*b = (dynbuf){ .max = b->max };
}

char *dynbuf_take(dynbuf *b, size_t *ret_len)
{
	char *d = b->data;
	if (!d)
		d = calloc(1, 1);
	if (ret_len)
		*ret_len = d ? b->len : 0;
	*b = (dynbuf){ .max = b->max };
	return d;
}
