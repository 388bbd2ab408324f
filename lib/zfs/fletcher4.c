/* SPDX-License-Identifier: MIT */
#include "zfs/fletcher4.h"

#include <string.h>

#include "util/bytes.h"

void fletcher4_update(fletcher4 *f, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t a = f->a, b = f->b, c = f->c, d = f->d;
	for (size_t i = 0; i + 4 <= len; i += 4) {
		a += le32(p + i);
		b += a;
		c += b;
		d += c;
	}
	f->a = a;
	f->b = b;
	f->c = c;
	f->d = d;
}

void fletcher4_combine(fletcher4 *f, const fletcher4 *piece, size_t len)
{
	/* Feeding n words w_1..w_n from (a0,b0,c0,d0) adds, besides the piece's
	 * own sums: n*a0 to b; n*b0 + T(n)*a0 to c; n*c0 + T(n)*b0 + P(n)*a0 to
	 * d, with T(n) = n(n+1)/2 and P(n) = n(n+1)(n+2)/6. All mod 2^64: the
	 * divisions are done on exact products, which fit for n < 2^21 words. */
	uint64_t n = len / 4;
	uint64_t t = n * (n + 1) / 2;
	uint64_t p = n * (n + 1) * (n + 2) / 6;
	uint64_t a0 = f->a, b0 = f->b, c0 = f->c;
	f->a = a0 + piece->a;
	f->b = f->b + n * a0 + piece->b;
	f->c = f->c + n * b0 + t * a0 + piece->c;
	f->d = f->d + n * c0 + t * b0 + p * a0 + piece->d;
}

void fletcher4_store(const fletcher4 *f, unsigned char out[32])
{
	put_le64(out, f->a);
	put_le64(out + 8, f->b);
	put_le64(out + 16, f->c);
	put_le64(out + 24, f->d);
}
