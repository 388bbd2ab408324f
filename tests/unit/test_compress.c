/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the stream decoders (lib/compress). Inputs are made at test
 * time with the real tools (xz, gzip, zstd, bzip2) from a few MiB of mixed
 * random, zero and text-like data; a missing tool skips its checks.
 */
#include "compress/decompress.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

#define MiB ((size_t)1 << 20)

static char dir[64];

/* ------------------------------------------------------------ helpers */

static bool have(const char *tool)
{
	return sh("command -v %s >/dev/null 2>&1", tool) == 0;
}

static const char *path(const char *name)
{
	static char bufs[16][256];
	static unsigned i;
	char *p = bufs[i++ % 16];
	snprintf(p, 256, "%s/%s", dir, name);
	return p;
}

static uint8_t *slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
	if (b && n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void spit(const char *p, const void *b, size_t n)
{
	FILE *f = fopen(p, "wb");
	if (!f)
		abort();
	if (n && fwrite(b, 1, n, f) != n)
		abort();
	fclose(f);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Mixed content: random (incompressible), zeros, and repetitive text. */
static uint8_t *make_data(size_t n, uint64_t seed)
{
	static const char words[] = "the quick brown fox jumps over the lazy dog 0123456789 ";
	uint8_t *b = malloc(n);
	rng_state = seed;
	for (size_t off = 0; off < n;) {
		size_t seg = 4096 + (size_t)(rng() % 60000);
		if (seg > n - off)
			seg = n - off;
		switch (rng() % 3) {
		case 0:
			for (size_t i = 0; i < seg; i++)
				b[off + i] = (uint8_t)rng();
			break;
		case 1: memset(b + off, 0, seg); break;
		default:
			for (size_t i = 0; i < seg; i++)
				b[off + i] = (uint8_t)words[(i + off / 7) % (sizeof(words) - 1)];
		}
		off += seg;
	}
	return b;
}

/* Collects output (up to cap bytes kept), counts everything. */
typedef struct sink {
	uint8_t *buf;
	size_t cap;
	uint64_t total;
	size_t max_piece;
	size_t calls;
	int fail_with;     /* returned from the first call when set */
} sink;

static int sink_out(void *u, const void *b, size_t n)
{
	sink *s = u;
	s->calls++;
	if (n > s->max_piece)
		s->max_piece = n;
	if (s->fail_with)
		return s->fail_with;
	if (s->total < s->cap) {
		size_t k = s->cap - s->total < n ? (size_t)(s->cap - s->total) : n;
		memcpy(s->buf + s->total, b, k);
	}
	s->total += n;
	return 0;
}

static void sink_init(sink *s, size_t cap)
{
	memset(s, 0, sizeof(*s));
	s->cap = cap;
	s->buf = malloc(cap ? cap : 1);
}

static bool sink_equals(const sink *s, const uint8_t *want, size_t n)
{
	return s->total == n && n <= s->cap && memcmp(s->buf, want, n) == 0;
}

/* Feeds `in` in pieces of `piece` bytes; returns the first error or finish's result. */
static int decode_mem(compress_kind k, const uint8_t *in, size_t n, size_t piece, unsigned threads,
                      uint64_t max_out, sink *s, char *msg, size_t msglen)
{
	decoder *d = NULL;
	int r = decoder_new(k, threads, max_out, &d);
	if (r < 0)
		return r;
	for (size_t off = 0; off < n && r == 0; off += piece)
		r = decoder_feed(d, in + off, n - off < piece ? n - off : piece, sink_out, s);
	if (r == 0)
		r = decoder_finish(d, sink_out, s);
	if (msg)
		snprintf(msg, msglen, "%s", decoder_error(d));
	if (r == 0 && decoder_total_out(d) != s->total)
		r = -999; /* the count must match what was delivered */
	decoder_free(d);
	return r;
}

static int decode_path(compress_kind k, const char *p, unsigned threads, uint64_t max_out, sink *s, char *msg,
                       size_t msglen)
{
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char err[512] = "";
	int r = decompress_fd(fd, k, threads, max_out, sink_out, s, err, sizeof(err));
	close(fd);
	if (msg)
		snprintf(msg, msglen, "%s", err);
	return r;
}

static int probe_path(compress_kind k, const char *p, uint64_t *size, char *msg, size_t msglen)
{
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = compress_probe_size(fd, k, size, msg, msglen);
	close(fd);
	return r;
}

/* ------------------------------------------------------------ per format */

typedef struct fmt {
	compress_kind kind;
	const char *tool;
	const char *ext;
	const char *compress;      /* reads the named file or stdin, writes stdout */
	const char *fast;          /* the same, quickly: for the bombs */
	const char *next_magic;    /* the start of another stream, for the cut-header case */
	size_t next_magic_len;
} fmt;

static const fmt fmts[] = {
	{ COMPRESS_XZ, "xz", "xz", "xz -6 -T1 -c", "xz -0 -T1 -c", "\xfd" "7zX", 4 },
	{ COMPRESS_GZIP, "gzip", "gz", "gzip -6 -c", "gzip -1 -c", "\x1f", 1 },
	{ COMPRESS_ZSTD, "zstd", "zst", "zstd -q -3 -c", "zstd -q -1 -c", "\x28\xb5\x2f", 3 },
	{ COMPRESS_BZIP2, "bzip2", "bz2", "bzip2 -9 -c", "bzip2 -1 -c", "BZh", 3 },
};

static uint8_t *data_a, *data_b, *data_ab;
static size_t len_a, len_b;

#define SMALL_LEN 40000u

static void test_format(const fmt *f)
{
	const char *nm = compress_name(f->kind);
	char a[64], b[64], ab[64], small[64];
	snprintf(a, sizeof(a), "a.%s", f->ext);
	snprintf(b, sizeof(b), "b.%s", f->ext);
	snprintf(ab, sizeof(ab), "ab.%s", f->ext);
	snprintf(small, sizeof(small), "small.%s", f->ext);
	/* Named files, not stdin: zstd then records the content size. */
	if (sh("%s %s > %s", f->compress, path("a"), path(a)) || sh("%s %s > %s", f->compress, path("b"), path(b)) ||
	    sh("cat %s %s > %s", path(a), path(b), path(ab)) ||
	    sh("%s < %s > %s", f->compress, path("small"), path(small))) {
		TAP_CHECK(false, "%s: test inputs made", nm);
		return;
	}
	size_t za, zsmall;
	uint8_t *ca = slurp(path(a), &za), *cs = slurp(path(small), &zsmall);
	char msg[512];
	sink s;
	int r;

	TAP_CHECK_INT_EQ(compress_detect(ca, za < 16 ? za : 16), f->kind, "%s: detected from its magic", nm);

	/* Whole file, through decompress_fd, one thread and "all threads". */
	for (unsigned t = 0; t < 2; t++) {
		sink_init(&s, len_a + 1);
		r = decode_path(f->kind, path(a), t, UINT64_MAX, &s, msg, sizeof(msg));
		TAP_CHECK_INT_EQ(r, 0, "%s: decompress_fd threads=%u", nm, t);
		TAP_CHECK(sink_equals(&s, data_a, len_a), "%s: threads=%u output is byte-identical", nm, t);
		TAP_CHECK(s.max_piece <= MiB, "%s: pieces of at most 1 MiB (largest %zu)", nm, s.max_piece);
		free(s.buf);
	}

	/* Odd piece sizes through decoder_feed. */
	sink_init(&s, len_a + 1);
	r = decode_mem(f->kind, ca, za, 4099, 1, UINT64_MAX, &s, msg, sizeof(msg));
	TAP_CHECK(r == 0 && sink_equals(&s, data_a, len_a), "%s: fed in 4099-byte pieces", nm);
	free(s.buf);
	sink_init(&s, SMALL_LEN + 1);
	r = decode_mem(f->kind, cs, zsmall, 1, 1, UINT64_MAX, &s, msg, sizeof(msg));
	TAP_CHECK(r == 0 && sink_equals(&s, data_a, SMALL_LEN), "%s: fed one byte at a time", nm);
	free(s.buf);

	/* Concatenated streams. */
	sink_init(&s, len_a + len_b + 1);
	r = decode_path(f->kind, path(ab), 0, UINT64_MAX, &s, msg, sizeof(msg));
	TAP_CHECK(r == 0 && sink_equals(&s, data_ab, len_a + len_b), "%s: two concatenated streams (%s)", nm, msg);
	free(s.buf);

	/* Truncation: never a success. */
	size_t cuts[] = { 1, 2, 5, 9, 13, za / 3, za / 2, za - 9, za - 4, za - 1 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		sink_init(&s, 0);
		r = decode_mem(f->kind, ca, cuts[i], 65536, 1, UINT64_MAX, &s, msg, sizeof(msg));
		TAP_CHECK(r == -EPIPE || r == -EBADMSG, "%s: cut at %zu of %zu fails: %d %s", nm, cuts[i], za, r, msg);
		free(s.buf);
	}
	sink_init(&s, 0);
	r = decode_mem(f->kind, ca, za / 2, 65536, 1, UINT64_MAX, &s, msg, sizeof(msg));
	TAP_CHECK_INT_EQ(r, -EPIPE, "%s: cut in the middle is -EPIPE", nm);
	TAP_CHECK(strstr(msg, "truncated") != NULL, "%s: message says truncated: %s", nm, msg);
	free(s.buf);

	/* Trailing garbage. */
	uint8_t *g = malloc(za + 32);
	memcpy(g, ca, za);
	memcpy(g + za, "garbage\n", 8);
	sink_init(&s, 0);
	r = decode_mem(f->kind, g, za + 8, 65536, 1, UINT64_MAX, &s, msg, sizeof(msg));
	TAP_CHECK_INT_EQ(r, -EBADMSG, "%s: trailing garbage is -EBADMSG", nm);
	char want[64];
	snprintf(want, sizeof(want), "at byte %zu", za);
	TAP_CHECK(strstr(msg, "trailing garbage") && strstr(msg, want), "%s: garbage message: %s", nm, msg);
	free(s.buf);
	g[za] = 'x';
	sink_init(&s, 0);
	r = decode_mem(f->kind, g, za + 1, 65536, 1, UINT64_MAX, &s, msg, sizeof(msg));
	TAP_CHECK_INT_EQ(r, -EBADMSG, "%s: one byte of trailing garbage is -EBADMSG (%s)", nm, msg);
	free(s.buf);
	/* The beginning of another stream, cut short. */
	memcpy(g + za, f->next_magic, f->next_magic_len);
	sink_init(&s, 0);
	r = decode_mem(f->kind, g, za + f->next_magic_len, 65536, 1, UINT64_MAX, &s, msg, sizeof(msg));
	TAP_CHECK_INT_EQ(r, -EPIPE, "%s: a second stream cut within its magic is -EPIPE (%s)", nm, msg);
	free(s.buf);
	/* Both pieces of the magic arrive in separate feeds. */
	memcpy(g + za, cs, 8);
	sink_init(&s, 0);
	r = decode_mem(f->kind, g, za + 8, za + 1, 1, UINT64_MAX, &s, msg, sizeof(msg));
	TAP_CHECK_INT_EQ(r, -EPIPE, "%s: next stream's magic split across feeds, then cut (%s)", nm, msg);
	free(s.buf);
	free(g);

	/* Corrupt bytes in the middle. */
	uint8_t *c = malloc(za);
	memcpy(c, ca, za);
	for (size_t i = 0; i < 8; i++)
		c[za / 2 + i * 97] ^= 0x5a;
	sink_init(&s, 0);
	r = decode_mem(f->kind, c, za, 65536, 1, UINT64_MAX, &s, msg, sizeof(msg));
	TAP_CHECK_INT_EQ(r, -EBADMSG, "%s: corrupt data is -EBADMSG (%s)", nm, msg);
	TAP_CHECK(msg[0] != '\0', "%s: corrupt data has a message", nm);
	free(s.buf);
	free(c);

	/* Output cap: exactly the size passes, one byte less does not. */
	sink_init(&s, len_a);
	r = decode_mem(f->kind, ca, za, 1 << 16, 1, len_a, &s, msg, sizeof(msg));
	TAP_CHECK(r == 0 && sink_equals(&s, data_a, len_a), "%s: max_out equal to the size passes", nm);
	free(s.buf);
	sink_init(&s, len_a);
	r = decode_mem(f->kind, ca, za, 1 << 16, 1, len_a - 1, &s, msg, sizeof(msg));
	TAP_CHECK_INT_EQ(r, -EFBIG, "%s: max_out one byte short is -EFBIG", nm);
	TAP_CHECK(s.total == len_a - 1 && memcmp(s.buf, data_a, len_a - 1) == 0,
	          "%s: exactly max_out bytes delivered before -EFBIG (%llu)", nm, (unsigned long long)s.total);
	free(s.buf);

	/* A bomb: 16 MiB of zeros against a 1 MiB cap. */
	char bomb[64];
	snprintf(bomb, sizeof(bomb), "bomb.%s", f->ext);
	if (sh("head -c 16M /dev/zero | %s > %s", f->fast, path(bomb)) == 0) {
		sink_init(&s, 0);
		r = decode_path(f->kind, path(bomb), 0, MiB, &s, msg, sizeof(msg));
		TAP_CHECK_INT_EQ(r, -EFBIG, "%s: bomb stops with -EFBIG", nm);
		TAP_CHECK(s.total == MiB, "%s: bomb delivered exactly the cap (%llu)", nm, (unsigned long long)s.total);
		TAP_CHECK(strstr(msg, "exceeds the 1.0 MiB limit") != NULL, "%s: bomb message: %s", nm, msg);
		free(s.buf);
	} else {
		TAP_CHECK(false, "%s: bomb made", nm);
	}

	/* Empty input. */
	sink_init(&s, 0);
	r = decode_mem(f->kind, NULL, 0, 1, 1, UINT64_MAX, &s, msg, sizeof(msg));
	TAP_CHECK_INT_EQ(r, -EPIPE, "%s: empty input is -EPIPE (%s)", nm, msg);
	free(s.buf);
	sink_init(&s, 0);
	r = decode_path(f->kind, path("empty"), 1, UINT64_MAX, &s, msg, sizeof(msg));
	TAP_CHECK_INT_EQ(r, -EPIPE, "%s: decompress_fd of an empty file is -EPIPE", nm);
	TAP_CHECK(strstr(msg, "empty") != NULL, "%s: empty message: %s", nm, msg);
	free(s.buf);

	/* A callback's error stops decoding and sticks. */
	decoder *d = NULL;
	TAP_CHECK_INT_EQ(decoder_new(f->kind, 1, UINT64_MAX, &d), 0, "%s: decoder_new", nm);
	sink_init(&s, 0);
	s.fail_with = -ECANCELED;
	r = decoder_feed(d, ca, za, sink_out, &s);
	TAP_CHECK_INT_EQ(r, -ECANCELED, "%s: the callback's error is returned", nm);
	TAP_CHECK_INT_EQ(s.calls, 1, "%s: no call after the callback failed", nm);
	TAP_CHECK_INT_EQ(decoder_finish(d, sink_out, &s), -ECANCELED, "%s: the error sticks", nm);
	decoder_free(d);
	free(s.buf);

	free(ca);
	free(cs);
}

/* ------------------------------------------------------------ format specifics */

static void test_xz(void)
{
	char msg[512];
	sink s;
	uint64_t size;
	int r;
	if (sh("xz -6 -T2 --block-size=256KiB -c < %s > %s", path("a"), path("mb.xz"))) {
		TAP_CHECK(false, "xz: multi-block file made");
		return;
	}
	for (unsigned t = 0; t <= 2; t++) {
		sink_init(&s, len_a + 1);
		r = decode_path(COMPRESS_XZ, path("mb.xz"), t, UINT64_MAX, &s, msg, sizeof(msg));
		TAP_CHECK(r == 0 && sink_equals(&s, data_a, len_a), "xz: multi-block, threads=%u (%s)", t, msg);
		free(s.buf);
	}
	/* Threaded decoding of a cut multi-block file. */
	size_t zmb;
	uint8_t *mb = slurp(path("mb.xz"), &zmb);
	size_t cuts[] = { zmb / 4, zmb / 2, zmb - 30, zmb - 1 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		sink_init(&s, 0);
		r = decode_mem(COMPRESS_XZ, mb, cuts[i], 100000, 2, UINT64_MAX, &s, msg, sizeof(msg));
		TAP_CHECK(r == -EPIPE || r == -EBADMSG, "xz: threaded, cut at %zu of %zu fails: %d %s", cuts[i], zmb, r,
		          msg);
		free(s.buf);
	}
	free(mb);
	/* Threaded bomb: many blocks of zeros, 1 MiB cap. */
	if (sh("head -c 16M /dev/zero | xz -0 -T2 --block-size=2MiB -c > %s", path("mbomb.xz")) == 0) {
		sink_init(&s, 0);
		r = decode_path(COMPRESS_XZ, path("mbomb.xz"), 2, MiB, &s, msg, sizeof(msg));
		TAP_CHECK(r == -EFBIG && s.total == MiB, "xz: threaded bomb -EFBIG after exactly 1 MiB (%d, %llu)", r,
		          (unsigned long long)s.total);
		free(s.buf);
	}

	/* Stream padding: zero bytes in multiples of 4, between and after streams. */
	size_t za, zb;
	uint8_t *ca = slurp(path("a.xz"), &za), *cb = slurp(path("b.xz"), &zb);
	uint8_t *p = calloc(1, za + zb + 32);
	memcpy(p, ca, za);
	memcpy(p + za + 4, cb, zb);
	spit(path("pad.xz"), p, za + 4 + zb + 8);
	for (unsigned t = 1; t <= 2; t++) {
		sink_init(&s, len_a + len_b + 1);
		r = decode_mem(COMPRESS_XZ, p, za + 4 + zb + 8, t == 1 ? 3 : 65536, t, UINT64_MAX, &s, msg, sizeof(msg));
		TAP_CHECK(r == 0 && sink_equals(&s, data_ab, len_a + len_b), "xz: stream padding is accepted, threads=%u (%s)",
		          t, msg);
		free(s.buf);
	}
	sink_init(&s, 0);
	r = decode_mem(COMPRESS_XZ, p, za + 3, 65536, 1, UINT64_MAX, &s, msg, sizeof(msg));
	TAP_CHECK_INT_EQ(r, -EBADMSG, "xz: 3 bytes of padding are -EBADMSG (%s)", msg);
	free(s.buf);
	sink_init(&s, 0);
	r = decode_mem(COMPRESS_XZ, p, za + 4 + 5, 65536, 1, UINT64_MAX, &s, msg, sizeof(msg));
	TAP_CHECK_INT_EQ(r, -EPIPE, "xz: padding then a stream cut in its magic is -EPIPE (%s)", msg);
	free(s.buf);
	memset(p + za + 4, 0, 8);
	p[za + 8] = 'x';
	sink_init(&s, 0);
	r = decode_mem(COMPRESS_XZ, p, za + 9, 65536, 1, UINT64_MAX, &s, msg, sizeof(msg));
	char want[64];
	snprintf(want, sizeof(want), "at byte %zu", za + 8);
	TAP_CHECK(r == -EBADMSG && strstr(msg, want), "xz: garbage after padding reported at its offset (%s)", msg);
	free(s.buf);
	/* Padding before the first stream is not allowed. */
	memset(p, 0, 4);
	memcpy(p + 4, ca, za);
	sink_init(&s, 0);
	r = decode_mem(COMPRESS_XZ, p, za + 4, 65536, 1, UINT64_MAX, &s, msg, sizeof(msg));
	TAP_CHECK_INT_EQ(r, -EBADMSG, "xz: leading zeros are -EBADMSG (%s)", msg);
	free(s.buf);
	free(p);

	/* Sizes from the indexes. */
	r = probe_path(COMPRESS_XZ, path("a.xz"), &size, msg, sizeof(msg));
	TAP_CHECK(r == 0 && size == len_a, "xz: probe of one stream (%d %llu %s)", r, (unsigned long long)size, msg);
	r = probe_path(COMPRESS_XZ, path("mb.xz"), &size, msg, sizeof(msg));
	TAP_CHECK(r == 0 && size == len_a, "xz: probe of a multi-block stream (%d %s)", r, msg);
	r = probe_path(COMPRESS_XZ, path("ab.xz"), &size, msg, sizeof(msg));
	TAP_CHECK(r == 0 && size == len_a + len_b, "xz: probe of two streams (%d %s)", r, msg);
	r = probe_path(COMPRESS_XZ, path("pad.xz"), &size, msg, sizeof(msg));
	TAP_CHECK(r == 0 && size == len_a + len_b, "xz: probe of padded streams (%d %s)", r, msg);
	spit(path("cut.xz"), ca, za - 1);
	r = probe_path(COMPRESS_XZ, path("cut.xz"), &size, msg, sizeof(msg));
	TAP_CHECK(r == -EBADMSG && msg[0], "xz: probe of a cut file is -EBADMSG (%s)", msg);
	r = probe_path(COMPRESS_XZ, path("empty"), &size, msg, sizeof(msg));
	TAP_CHECK(r < 0 && msg[0], "xz: probe of an empty file fails (%d %s)", r, msg);
	free(ca);
	free(cb);
}

static void test_zstd(void)
{
	char msg[512];
	sink s;
	uint64_t size;
	int r;
	r = probe_path(COMPRESS_ZSTD, path("a.zst"), &size, msg, sizeof(msg));
	TAP_CHECK(r == 0 && size == len_a, "zstd: probe of one frame (%d %s)", r, msg);
	r = probe_path(COMPRESS_ZSTD, path("ab.zst"), &size, msg, sizeof(msg));
	TAP_CHECK(r == 0 && size == len_a + len_b, "zstd: probe of two frames (%d %s)", r, msg);

	/* Several frames from one file, each with its size. */
	if (sh("head -c 1000000 %s > %s && tail -c +1000001 %s > %s && zstd -q -c %s > %s && zstd -q -c %s >> %s",
	       path("a"), path("a1"), path("a"), path("a2"), path("a1"), path("multi.zst"), path("a2"),
	       path("multi.zst")) == 0) {
		r = probe_path(COMPRESS_ZSTD, path("multi.zst"), &size, msg, sizeof(msg));
		TAP_CHECK(r == 0 && size == len_a, "zstd: probe of a file split into frames (%d %s)", r, msg);
	}

	/* Skippable frames: first, between and last. */
	size_t za, zb;
	uint8_t *ca = slurp(path("a.zst"), &za), *cb = slurp(path("b.zst"), &zb);
	static const uint8_t skip[] = { 0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 'a', 'b', 'c', 'd' };
	uint8_t *p = malloc(za + zb + 3 * sizeof(skip));
	size_t n = 0;
	memcpy(p + n, skip, sizeof(skip)), n += sizeof(skip);
	memcpy(p + n, ca, za), n += za;
	memcpy(p + n, skip, sizeof(skip)), n += sizeof(skip);
	memcpy(p + n, cb, zb), n += zb;
	memcpy(p + n, skip, sizeof(skip)), n += sizeof(skip);
	spit(path("skip.zst"), p, n);
	TAP_CHECK_INT_EQ(compress_detect(p, 16), COMPRESS_ZSTD, "zstd: detected behind a pzstd-style skippable frame");
	sink_init(&s, len_a + len_b + 1);
	r = decode_mem(COMPRESS_ZSTD, p, n, 5, 1, UINT64_MAX, &s, msg, sizeof(msg));
	TAP_CHECK(r == 0 && sink_equals(&s, data_ab, len_a + len_b), "zstd: skippable frames are skipped (%s)", msg);
	free(s.buf);
	r = probe_path(COMPRESS_ZSTD, path("skip.zst"), &size, msg, sizeof(msg));
	TAP_CHECK(r == 0 && size == len_a + len_b, "zstd: probe with skippable frames (%d %s)", r, msg);
	/* A cut skippable frame. */
	sink_init(&s, 0);
	r = decode_mem(COMPRESS_ZSTD, p, n - 2, 65536, 1, UINT64_MAX, &s, msg, sizeof(msg));
	TAP_CHECK_INT_EQ(r, -EPIPE, "zstd: cut skippable frame is -EPIPE (%s)", msg);
	free(s.buf);
	spit(path("skipcut.zst"), p, n - 2);
	r = probe_path(COMPRESS_ZSTD, path("skipcut.zst"), &size, msg, sizeof(msg));
	TAP_CHECK_INT_EQ(r, -EBADMSG, "zstd: probe of a cut skippable frame is -EBADMSG (%s)", msg);
	free(p);

	/* Garbage and truncation for the probe. */
	uint8_t *g = malloc(za + 8);
	memcpy(g, ca, za);
	memcpy(g + za, "garbage\n", 8);
	spit(path("garbage.zst"), g, za + 8);
	r = probe_path(COMPRESS_ZSTD, path("garbage.zst"), &size, msg, sizeof(msg));
	TAP_CHECK_INT_EQ(r, -EBADMSG, "zstd: probe with trailing garbage is -EBADMSG (%s)", msg);
	spit(path("cut.zst"), ca, za - 3);
	r = probe_path(COMPRESS_ZSTD, path("cut.zst"), &size, msg, sizeof(msg));
	TAP_CHECK_INT_EQ(r, -EBADMSG, "zstd: probe of a cut frame is -EBADMSG (%s)", msg);
	spit(path("cut2.zst"), ca, za / 2);
	r = probe_path(COMPRESS_ZSTD, path("cut2.zst"), &size, msg, sizeof(msg));
	TAP_CHECK_INT_EQ(r, -EBADMSG, "zstd: probe of a file cut in half is -EBADMSG (%s)", msg);
	r = probe_path(COMPRESS_ZSTD, path("empty"), &size, msg, sizeof(msg));
	TAP_CHECK_INT_EQ(r, -EBADMSG, "zstd: probe of an empty file is -EBADMSG (%s)", msg);
	free(g);
	free(ca);
	free(cb);

	/* A frame whose header, read from its fifth byte, looks like a skippable
	 * frame (FHD 0x50, window 0x2a, size bytes 4d 18) and whose header
	 * straddles two calls into libzstd: the second frame of a file goes
	 * through the magic check first. libzstd's single-pass shortcut parses
	 * the frame from the start of the call's input, so a split header must
	 * never reach it (it would skip 8 + 51817 bytes as a skippable frame). */
	{
		size_t fcs = 0x184d + 256, n3;
		uint8_t *third = slurp(path("a.zst"), &n3);
		size_t total = 12 + fcs + n3 + 64;
		uint8_t *f = malloc(total), *want = malloc(fcs + len_a + 64);
		size_t fn = 0;
		/* A first frame: "x", raw, with its size. */
		static const uint8_t first[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x01, 0x09, 0x00, 0x00, 'x' };
		memcpy(f, first, sizeof(first)), fn = sizeof(first);
		static const uint8_t second[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x50, 0x2a, 0x4d, 0x18 };
		memcpy(f + fn, second, sizeof(second)), fn += sizeof(second);
		uint32_t bh = (uint32_t)(fcs << 3) | 1; /* last block, raw */
		f[fn++] = (uint8_t)bh, f[fn++] = (uint8_t)(bh >> 8), f[fn++] = (uint8_t)(bh >> 16);
		want[0] = 'x';
		for (size_t i = 0; i < fcs; i++)
			want[1 + i] = f[fn + i] = i == 0 ? 0 : (uint8_t)('a' + i % 26);
		fn += fcs;
		memcpy(f + fn, third, n3), fn += n3;
		memcpy(want + 1 + fcs, data_a, len_a);
		spit(path("split.zst"), f, fn);
		spit(path("split.want"), want, 1 + fcs + len_a);
		TAP_CHECK(sh("zstd -q -d -c %s | cmp -s - %s", path("split.zst"), path("split.want")) == 0,
		          "zstd: the crafted file is valid for the zstd tool");
		sink_init(&s, 1 + fcs + len_a + 1);
		r = decode_mem(COMPRESS_ZSTD, f, fn, fn, 1, UINT64_MAX, &s, msg, sizeof(msg));
		TAP_CHECK(r == 0 && sink_equals(&s, want, 1 + fcs + len_a),
		          "zstd: a frame header that would parse as a skippable frame, split at its magic (%d %s)", r, msg);
		free(s.buf);
		for (size_t cut = 10; cut < 20; cut++) {
			decoder *d = NULL;
			sink_init(&s, 1 + fcs + len_a + 1);
			r = decoder_new(COMPRESS_ZSTD, 1, UINT64_MAX, &d);
			if (r == 0)
				r = decoder_feed(d, f, cut, sink_out, &s);
			if (r == 0)
				r = decoder_feed(d, f + cut, fn - cut, sink_out, &s);
			if (r == 0)
				r = decoder_finish(d, sink_out, &s);
			TAP_CHECK(r == 0 && sink_equals(&s, want, 1 + fcs + len_a), "zstd: ... split at byte %zu (%d %s)", cut,
			          r, decoder_error(d));
			decoder_free(d);
			free(s.buf);
		}
		uint64_t psize = 0;
		r = probe_path(COMPRESS_ZSTD, path("split.zst"), &psize, msg, sizeof(msg));
		TAP_CHECK(r == 0 && psize == 1 + fcs + len_a, "zstd: probe of the crafted file (%d %s)", r, msg);
		free(f);
		free(want);
		free(third);
	}

	/* An RLE block of 5 bytes, then an empty last block: libzstd's streaming
	 * path does not compare the output with the header's content size in
	 * that case, the decoder must. */
	{
		uint8_t fr[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x20, 10, 0x2a, 0, 0, 'z', 0x01, 0, 0 };
		for (size_t piece = 1; piece <= sizeof(fr); piece += sizeof(fr) - 1) {
			sink_init(&s, 16);
			r = decode_mem(COMPRESS_ZSTD, fr, sizeof(fr), piece, 1, UINT64_MAX, &s, msg, sizeof(msg));
			TAP_CHECK_INT_EQ(r, -EBADMSG, "zstd: content size 10 but 5 bytes, pieces of %zu (%s)", piece, msg);
			free(s.buf);
		}
		fr[5] = 5;
		sink_init(&s, 16);
		r = decode_mem(COMPRESS_ZSTD, fr, sizeof(fr), 1, 1, UINT64_MAX, &s, msg, sizeof(msg));
		TAP_CHECK(r == 0 && sink_equals(&s, (const uint8_t *)"zzzzz", 5), "zstd: empty last block (%s)", msg);
		free(s.buf);
	}

	/* An empty compressed last block (libzstd's streaming path takes it,
	 * its single-pass path does not), then a second frame: the result must
	 * not depend on how the input is cut. */
	{
		static const uint8_t fr[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x30, 0x00, 0x05, 0x00, 0x00,
		                              0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x01, 0x09, 0x00, 0x00, 'x' };
		int first = 0;
		for (size_t piece = 1; piece <= sizeof(fr); piece++) {
			sink_init(&s, 16);
			r = decode_mem(COMPRESS_ZSTD, fr, sizeof(fr), piece, 1, UINT64_MAX, &s, msg, sizeof(msg));
			if (piece == 1)
				first = r;
			if (!TAP_CHECK(r == first && (r != 0 || sink_equals(&s, (const uint8_t *)"x", 1)),
			               "zstd: empty compressed block, pieces of %zu: %d (%s)", piece, r, msg))
				tap_diag("pieces of 1 gave %d", first);
			free(s.buf);
		}
	}

	/* A frame without its size. */
	if (sh("zstd -q --no-content-size -c < %s > %s", path("a"), path("nosize.zst")) == 0) {
		r = probe_path(COMPRESS_ZSTD, path("nosize.zst"), &size, msg, sizeof(msg));
		TAP_CHECK_INT_EQ(r, -ENOTSUP, "zstd: probe of a frame without its size is -ENOTSUP");
		TAP_CHECK(strstr(msg, "frame 0 does not record its size") != NULL, "zstd: message: %s", msg);
		sink_init(&s, len_a + 1);
		r = decode_path(COMPRESS_ZSTD, path("nosize.zst"), 0, UINT64_MAX, &s, msg, sizeof(msg));
		TAP_CHECK(r == 0 && sink_equals(&s, data_a, len_a), "zstd: frame without its size decodes (%s)", msg);
		free(s.buf);
	}

	/* High levels and long windows: 2^27 is accepted, 2^28 refused. A pipe
	 * keeps zstd from shrinking the window to the input size. */
	if (sh("cat %s | zstd -q -19 --long=27 -c > %s", path("small"), path("long27.zst")) == 0) {
		sink_init(&s, SMALL_LEN + 1);
		r = decode_path(COMPRESS_ZSTD, path("long27.zst"), 0, UINT64_MAX, &s, msg, sizeof(msg));
		TAP_CHECK(r == 0 && sink_equals(&s, data_a, SMALL_LEN), "zstd: -19 --long=27 decodes (%s)", msg);
		free(s.buf);
	}
	if (sh("cat %s | zstd -q -1 --long=28 -c > %s", path("small"), path("long28.zst")) == 0) {
		sink_init(&s, 0);
		r = decode_path(COMPRESS_ZSTD, path("long28.zst"), 0, UINT64_MAX, &s, msg, sizeof(msg));
		TAP_CHECK(r == -EBADMSG && strstr(msg, "window"), "zstd: --long=28 is refused (%d %s)", r, msg);
		free(s.buf);
	}
}

static void test_no_probe(void)
{
	char msg[512];
	uint64_t size;
	int r = probe_path(COMPRESS_GZIP, path("a.gz"), &size, msg, sizeof(msg));
	TAP_CHECK(r == -ENOTSUP && msg[0], "gzip: probe is -ENOTSUP (%s)", msg);
	r = probe_path(COMPRESS_BZIP2, path("a.bz2"), &size, msg, sizeof(msg));
	TAP_CHECK(r == -ENOTSUP && msg[0], "bzip2: probe is -ENOTSUP (%s)", msg);
}

/* decompress_fd reads pipes too. */
static void test_pipe(void)
{
	size_t za;
	uint8_t *ca = slurp(path("a.gz"), &za);
	int fds[2];
	if (!ca || pipe(fds) < 0) {
		TAP_CHECK(false, "pipe set up");
		free(ca);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		for (size_t off = 0; off < za;) {
			ssize_t w = write(fds[1], ca + off, za - off);
			if (w <= 0)
				_exit(1);
			off += (size_t)w;
		}
		_exit(0);
	}
	close(fds[1]);
	sink s;
	sink_init(&s, len_a + 1);
	char err[256];
	int r = decompress_fd(fds[0], COMPRESS_GZIP, 1, UINT64_MAX, sink_out, &s, err, sizeof(err));
	close(fds[0]);
	waitpid(pid, NULL, 0);
	TAP_CHECK(r == 0 && sink_equals(&s, data_a, len_a), "decompress_fd reads a pipe (%s)", err);
	free(s.buf);
	free(ca);
}

static void test_detect(void)
{
	static const struct {
		const char *bytes;
		size_t len;
		compress_kind want;
	} cases[] = {
		{ "\xfd" "7zXZ\0\0\0", 8, COMPRESS_XZ },
		{ "\xfd" "7zXZ", 5, COMPRESS_NONE },
		{ "\xfd" "7zXZ\1", 6, COMPRESS_NONE },
		{ "\x1f\x8b", 2, COMPRESS_GZIP },
		{ "\x1f\x8c", 2, COMPRESS_NONE },
		{ "\x1f", 1, COMPRESS_NONE },
		{ "\x28\xb5\x2f\xfd", 4, COMPRESS_ZSTD },
		{ "\x28\xb5\x2f", 3, COMPRESS_NONE },
		{ "BZh9", 4, COMPRESS_BZIP2 },
		{ "BZh1", 4, COMPRESS_BZIP2 },
		{ "BZh0", 4, COMPRESS_NONE },
		{ "BZh", 3, COMPRESS_NONE },
		{ "QFI\xfb", 4, COMPRESS_NONE },
		/* A skippable frame alone (LZ4 uses them too) is not zstd. */
		{ "\x50\x2a\x4d\x18\4\0\0\0abcd", 12, COMPRESS_NONE },
		{ "\x50\x2a\x4d\x18\4\0\0\0abcd\x28\xb5\x2f\xfd", 16, COMPRESS_ZSTD },
		{ "\x5f\x2a\x4d\x18\xff\xff\xff\xff", 8, COMPRESS_NONE },
		{ "", 0, COMPRESS_NONE },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		TAP_CHECK_INT_EQ(compress_detect(cases[i].bytes, cases[i].len), cases[i].want, "detect case %zu", i);
	TAP_CHECK_INT_EQ(compress_detect(NULL, 0), COMPRESS_NONE, "detect NULL");
	TAP_CHECK_STR_EQ(compress_name(COMPRESS_XZ), "xz", "name xz");
	TAP_CHECK_STR_EQ(compress_name(COMPRESS_GZIP), "gzip", "name gzip");
	TAP_CHECK_STR_EQ(compress_name(COMPRESS_ZSTD), "zstd", "name zstd");
	TAP_CHECK_STR_EQ(compress_name(COMPRESS_BZIP2), "bzip2", "name bzip2");
	TAP_CHECK_STR_EQ(compress_name(COMPRESS_NONE), "none", "name none");
	decoder *d = NULL;
	TAP_CHECK_INT_EQ(decoder_new(COMPRESS_NONE, 1, 1, &d), -EINVAL, "no decoder for uncompressed data");
	char err[64];
	uint64_t size;
	TAP_CHECK_INT_EQ(compress_probe_size(0, COMPRESS_NONE, &size, err, sizeof(err)), -EINVAL, "no probe for none");
}

int main(void)
{
	snprintf(dir, sizeof(dir), "%s/test_compress.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (strlen(dir) >= sizeof(dir) - 1 || !mkdtemp(dir)) {
		TAP_CHECK(false, "temporary directory");
		return tap_done();
	}
	len_a = 2 * MiB + 12345;
	len_b = MiB / 2 + 77;
	data_a = make_data(len_a, 1);
	data_b = make_data(len_b, 2);
	data_ab = malloc(len_a + len_b);
	memcpy(data_ab, data_a, len_a);
	memcpy(data_ab + len_a, data_b, len_b);
	spit(path("a"), data_a, len_a);
	spit(path("b"), data_b, len_b);
	spit(path("small"), data_a, SMALL_LEN);
	spit(path("empty"), "", 0);

	test_detect();
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		if (!have(fmts[i].tool)) {
			tap_skip("%s is not installed", fmts[i].tool);
			continue;
		}
		test_format(&fmts[i]);
		if (fmts[i].kind == COMPRESS_XZ)
			test_xz();
		if (fmts[i].kind == COMPRESS_ZSTD)
			test_zstd();
	}
	if (have("gzip") && have("bzip2")) {
		test_no_probe();
		test_pipe();
	} else {
		tap_skip("gzip or bzip2 is not installed");
	}

	sh("rm -rf '%s'", dir);
	free(data_a);
	free(data_b);
	free(data_ab);
	return tap_done();
}
