/* SPDX-License-Identifier: MIT */
/* Stream compression from magic bytes (never from a file name). */
#include "compress/backend.h"
#include "compress/decompress.h"

#include <string.h>

static const uint8_t xz_magic[6] = { 0xfd, '7', 'z', 'X', 'Z', 0x00 };
static const uint8_t gzip_magic[2] = { 0x1f, 0x8b };
static const uint8_t zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };

/* True when the first n bytes of b agree with the first n of magic. */
static bool prefix_of(const uint8_t *b, size_t n, const uint8_t *magic, size_t magic_len)
{
	return n <= magic_len && memcmp(b, magic, n) == 0;
}

bool xz_magic_prefix(const uint8_t *b, size_t n)
{
	return prefix_of(b, n, xz_magic, sizeof(xz_magic));
}

bool gzip_magic_prefix(const uint8_t *b, size_t n)
{
	return prefix_of(b, n, gzip_magic, sizeof(gzip_magic));
}

/* Skippable frames (0x184D2A50..5F, little-endian) may sit between frames. */
static bool zstd_skippable_prefix(const uint8_t *b, size_t n)
{
	static const uint8_t rest[3] = { 0x2a, 0x4d, 0x18 };
	if (n == 0)
		return true;
	return n <= 4 && (b[0] & 0xf0) == 0x50 && memcmp(b + 1, rest, n - 1) == 0;
}

bool zstd_magic_prefix(const uint8_t *b, size_t n)
{
	return prefix_of(b, n, zstd_magic, sizeof(zstd_magic)) || zstd_skippable_prefix(b, n);
}

bool bzip2_magic_prefix(const uint8_t *b, size_t n)
{
	if (n > 4 || !prefix_of(b, n < 3 ? n : 3, (const uint8_t *)"BZh", 3))
		return false;
	/* The fourth byte is the block size, '1'..'9' (x 100 kB). */
	return n < 4 || (b[3] >= '1' && b[3] <= '9');
}

/*
 * A zstd stream may open with a skippable frame: pzstd writes a 12-byte one
 * before every frame. Skippable frames alone are also how LZ4 frames can
 * start, so the zstd magic must follow within the bytes we were given.
 */
static bool zstd_after_skippable(const uint8_t *b, size_t len)
{
	if (len < 8 || !zstd_skippable_prefix(b, 4))
		return false;
	uint32_t size = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
	if (size > len - 8 || len - 8 - size < sizeof(zstd_magic))
		return false;
	return memcmp(b + 8 + size, zstd_magic, sizeof(zstd_magic)) == 0;
}

compress_kind compress_detect(const void *head, size_t len)
{
	const uint8_t *b = head;
	if (!b)
		return COMPRESS_NONE;
	if (len >= sizeof(xz_magic) && xz_magic_prefix(b, sizeof(xz_magic)))
		return COMPRESS_XZ;
	if (len >= sizeof(gzip_magic) && gzip_magic_prefix(b, sizeof(gzip_magic)))
		return COMPRESS_GZIP;
	if (len >= sizeof(zstd_magic) && (prefix_of(b, sizeof(zstd_magic), zstd_magic, sizeof(zstd_magic)) ||
	                                  zstd_after_skippable(b, len)))
		return COMPRESS_ZSTD;
	if (len >= 4 && bzip2_magic_prefix(b, 4))
		return COMPRESS_BZIP2;
	return COMPRESS_NONE;
}

const char *compress_name(compress_kind k)
{
	switch (k) {
	case COMPRESS_XZ: return "xz";
	case COMPRESS_GZIP: return "gzip";
	case COMPRESS_ZSTD: return "zstd";
	case COMPRESS_BZIP2: return "bzip2";
	case COMPRESS_NONE: break;
	}
	return "none";
}
