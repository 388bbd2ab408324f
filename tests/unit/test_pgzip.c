/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the parallel gzip compressor (lib/compress/pgzip) and the
 * atomic gzip output file (lib/store/gz_output). Every output is inflated
 * with zlib as one gzip member; the gzip tool checks some of them too (its
 * checks are skipped when it is missing).
 */
#include "compress/pgzip.h"
#include "store/gz_output.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "tap.h"
#include "testutil.h"

#define MiB ((size_t)1 << 20)

static char dir[64];

/* ------------------------------------------------------------ helpers */

static const char *path(const char *name)
{
	static char bufs[8][256];
	static unsigned i;
	char *p = bufs[i++ % 8];
	snprintf(p, 256, "%s/%s", dir, name);
	return p;
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

static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint8_t *make_random(size_t n, uint64_t seed)
{
	uint8_t *b = malloc(n ? n : 1);
	rng_state = seed;
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(rng() >> 24);
	return b;
}

/* Compressible: words from a small vocabulary with runs of zeros, so that
 * matches reach back across chunk boundaries into the dictionary. */
static uint8_t *make_text(size_t n, uint64_t seed)
{
	static const char *const words[] = { "disk ", "image ", "zfs ", "send ", "stream ", "gzip ",
		                              "chunk ", "dictionary ", "worker ", "\n" };
	uint8_t *b = malloc(n ? n : 1);
	rng_state = seed;
	for (size_t off = 0; off < n;) {
		uint64_t v = rng();
		if (v % 97 == 0) {
			size_t run = (size_t)(v >> 20) % 5000;
			if (run > n - off)
				run = n - off;
			memset(b + off, 0, run);
			off += run;
			continue;
		}
		const char *w = words[(v >> 8) % 10];
		size_t k = strlen(w);
		if (k > n - off)
			k = n - off;
		memcpy(b + off, w, k);
		off += k;
	}
	return b;
}

/* Collects everything it is given; optionally fails from call number fail_at
 * on (counting from 0). */
typedef struct sink {
	uint8_t *buf;
	size_t len, cap;
	unsigned calls;
	unsigned fail_at;
	int fail_with;
} sink;

static int sink_out(void *u, const void *b, size_t n)
{
	sink *s = u;
	if (s->fail_with && s->calls >= s->fail_at) {
		s->calls++;
		return s->fail_with;
	}
	s->calls++;
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->len + n)
			cap *= 2;
		uint8_t *nb = realloc(s->buf, cap);
		if (!nb)
			return -ENOMEM;
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, b, n);
	s->len += n;
	return 0;
}

/* Compresses in pieces of `piece` bytes (0: all at once). Returns the first
 * error; on success *s holds the gzip file. */
static int compress_mem(const uint8_t *in, size_t n, unsigned threads, int level, size_t piece, sink *s)
{
	memset(s, 0, sizeof(*s));
	pgzip *z = NULL;
	int r = pgzip_new(threads, level, sink_out, s, &z);
	if (r < 0)
		return r;
	if (piece == 0)
		piece = n ? n : 1;
	for (size_t off = 0; off < n && r == 0; off += piece)
		r = pgzip_write(z, in + off, n - off < piece ? n - off : piece);
	if (r == 0)
		r = pgzip_finish(z);
	if (r == 0 && (pgzip_total_in(z) != n || pgzip_total_out(z) != s->len))
		r = -999; /* the counters must match what went through */
	pgzip_free(z);
	return r;
}

/* True when gz is exactly one gzip member whose content is want. */
static bool inflates_to(const uint8_t *gz, size_t gzlen, const uint8_t *want, size_t n)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 31) != Z_OK) /* 15 + 16: gzip wrapper only */
		return false;
	uint8_t *out = malloc(n + 1);
	zs.next_in = (Bytef *)(uintptr_t)gz;
	zs.avail_in = (uInt)gzlen;
	zs.next_out = out;
	zs.avail_out = (uInt)(n + 1);
	int zr = inflate(&zs, Z_FINISH);
	bool ok = zr == Z_STREAM_END && zs.avail_in == 0 && zs.total_out == n && memcmp(out, want, n) == 0;
	if (!ok)
		tap_diag("inflate: %d (%s), %u input bytes left, %lu of %zu out", zr, zs.msg ? zs.msg : "", zs.avail_in,
		         zs.total_out, n);
	inflateEnd(&zs);
	free(out);
	return ok;
}

static bool same(const sink *a, const sink *b)
{
	return a->len == b->len && memcmp(a->buf, b->buf, a->len) == 0;
}

static bool sha1_file(const char *p, char hex[41], uint64_t *size)
{
	FILE *f = fopen(p, "rb");
	if (!f)
		return false;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha1(), NULL);
	uint8_t buf[65536];
	size_t k;
	*size = 0;
	while ((k = fread(buf, 1, sizeof(buf), f)) > 0) {
		EVP_DigestUpdate(md, buf, k);
		*size += k;
	}
	fclose(f);
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dn = 0;
	EVP_DigestFinal_ex(md, d, &dn);
	EVP_MD_CTX_free(md);
	for (unsigned i = 0; i < dn; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	return dn == 20;
}

static size_t dir_entries(const char *d)
{
	DIR *dd = opendir(d);
	size_t n = 0;
	struct dirent *e;
	while (dd && (e = readdir(dd)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	if (dd)
		closedir(dd);
	return n;
}

/* ------------------------------------------------------------ tests */

static void test_sizes(void)
{
	const size_t sizes[] = { 0, 1, 32767, 32768, 32769, PGZIP_CHUNK - 1, PGZIP_CHUNK, PGZIP_CHUNK + 1,
		                 2 * PGZIP_CHUNK, 3 * PGZIP_CHUNK + 32768, 5 * MiB + 3 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		for (int kind = 0; kind < 2; kind++) {
			uint8_t *in = kind ? make_text(n, 7 + i) : make_random(n, 7 + i);
			sink s;
			int r = compress_mem(in, n, 2, PGZIP_DEFAULT_LEVEL, 0, &s);
			TAP_CHECK(r == 0 && inflates_to(s.buf, s.len, in, n), "%s %zu bytes: one member, round trip (%d)",
			          kind ? "text" : "random", n, r);
			free(s.buf);
			free(in);
		}
	}
}

/* A chunk that repeats the last 16 KiB of the one before costs a few bytes:
 * the previous chunk's end really is its dictionary. (Not 32 KiB: deflate
 * reaches back at most 32 KiB less 262 bytes.) */
static void test_dictionary(void)
{
	size_t n = PGZIP_CHUNK + 16384;
	uint8_t *in = make_random(n, 3);
	memcpy(in + PGZIP_CHUNK, in + PGZIP_CHUNK - 16384, 16384);
	sink s;
	int r = compress_mem(in, n, 2, 6, 0, &s);
	TAP_CHECK(r == 0 && inflates_to(s.buf, s.len, in, n), "dictionary test input round trip");
	TAP_CHECK(s.len < PGZIP_CHUNK + 2000, "the second chunk refers to the first: %zu bytes for %zu", s.len, n);
	free(s.buf);
	free(in);
}

static void test_header(void)
{
	sink s;
	int r = compress_mem((const uint8_t *)"", 0, 1, 6, 0, &s);
	static const uint8_t hdr[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
	TAP_CHECK(r == 0 && s.len >= 10 + 2 + 8 && memcmp(s.buf, hdr, 10) == 0,
	          "header: no name, mtime 0, XFL 0, OS 3 (%zu bytes for empty input)", s.len);
	TAP_CHECK(s.len >= 8 && memcmp(s.buf + s.len - 8, "\0\0\0\0\0\0\0\0", 8) == 0, "empty input: CRC and size 0");
	free(s.buf);
	r = compress_mem((const uint8_t *)"", 0, 8, 6, 0, &s);
	TAP_CHECK(r == 0 && inflates_to(s.buf, s.len, (const uint8_t *)"", 0), "empty input on 8 threads");
	free(s.buf);
}

/* The same bytes whatever the thread count and however the input is cut. */
static void test_reproducible(void)
{
	size_t n = 3 * MiB + 12345;
	uint8_t *in = make_text(n, 42);
	/* Some incompressible stretches too. */
	uint8_t *rnd = make_random(MiB / 2, 43);
	memcpy(in + MiB, rnd, MiB / 2);
	free(rnd);

	for (int level = 1; level <= 9; level += 3) {
		sink ref;
		int r = compress_mem(in, n, 1, level, 0, &ref);
		TAP_CHECK(r == 0 && inflates_to(ref.buf, ref.len, in, n), "level %d: 1 thread round trip (%zu -> %zu)", level,
		          n, ref.len);
		static const unsigned threads[] = { 2, 3, 8, 0 };
		for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
			sink s;
			r = compress_mem(in, n, threads[t], level, 0, &s);
			TAP_CHECK(r == 0 && same(&s, &ref), "level %d: %u threads give the same bytes", level, threads[t]);
			free(s.buf);
		}
		static const size_t pieces[] = { 4099, 65537, PGZIP_CHUNK, PGZIP_CHUNK + 7, PGZIP_CHUNK - 1, 1000003 };
		for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
			sink s;
			r = compress_mem(in, n, 3, level, pieces[p], &s);
			TAP_CHECK(r == 0 && same(&s, &ref), "level %d: written in pieces of %zu, the same bytes", level,
			          pieces[p]);
			free(s.buf);
		}
		free(ref.buf);
	}

	/* Uneven pieces, and one byte at a time across two chunk boundaries. */
	sink ref, s;
	size_t small = 2 * PGZIP_CHUNK + 1000;
	int r = compress_mem(in, small, 2, 4, 0, &ref);
	TAP_CHECK(r == 0 && inflates_to(ref.buf, ref.len, in, small), "small input round trip");
	r = compress_mem(in, small, 2, 4, 1, &s);
	TAP_CHECK(r == 0 && same(&s, &ref), "one byte at a time, the same bytes");
	free(s.buf);
	memset(&s, 0, sizeof(s));
	pgzip *z = NULL;
	r = pgzip_new(2, 4, sink_out, &s, &z);
	rng_state = 99;
	for (size_t off = 0; r == 0 && off < small;) {
		size_t k = 1 + (size_t)(rng() % 70000);
		if (k > small - off)
			k = small - off;
		r = pgzip_write(z, in + off, k);
		if (r == 0)
			r = pgzip_write(z, in, 0); /* empty writes change nothing */
		off += k;
	}
	if (r == 0)
		r = pgzip_finish(z);
	TAP_CHECK(r == 0 && same(&s, &ref), "random piece sizes and empty writes, the same bytes");
	TAP_CHECK_INT_EQ(pgzip_finish(z), 0, "finish twice is fine");
	TAP_CHECK_INT_EQ(pgzip_write(z, "x", 1), -EINVAL, "no writes after finish");
	TAP_CHECK_STR_EQ(pgzip_error(z), "", "no error message");
	pgzip_free(z);
	free(s.buf);
	free(ref.buf);

	/* The gzip tool agrees, on a multi-MiB file. */
	r = compress_mem(in, n, 0, 6, 0, &s);
	spit(path("repro.raw"), in, n);
	spit(path("repro.gz"), s.buf, s.len);
	free(s.buf);
	if (sh("command -v gzip >/dev/null 2>&1") == 0) {
		TAP_CHECK(r == 0 && sh("gzip -t %s", path("repro.gz")) == 0, "gzip -t accepts a %zu-byte output", n);
		TAP_CHECK(sh("gzip -dc %s | cmp -s - %s", path("repro.gz"), path("repro.raw")) == 0,
		          "gzip -dc gives the input back");
	} else {
		tap_skip("gzip is not installed");
	}
	free(in);
}

static void test_bad_args(void)
{
	sink s = { 0 };
	pgzip *z = NULL;
	TAP_CHECK_INT_EQ(pgzip_new(1, 0, sink_out, &s, &z), -EINVAL, "level 0 is refused");
	TAP_CHECK_INT_EQ(pgzip_new(1, 10, sink_out, &s, &z), -EINVAL, "level 10 is refused");
	TAP_CHECK_INT_EQ(pgzip_new(1, 4, NULL, &s, &z), -EINVAL, "a sink is required");
	pgzip_free(NULL);
}

/* A sink that fails stops everything: the error comes back, nothing hangs. */
static void test_sink_failure(void)
{
	size_t n = 6 * MiB;
	uint8_t *in = make_random(n, 5);
	static const unsigned fail_at[] = { 0, 1, 3, 10 };
	static const unsigned threads[] = { 1, 2, 4 };
	for (size_t f = 0; f < sizeof(fail_at) / sizeof(fail_at[0]); f++) {
		for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
			sink s = { .fail_at = fail_at[f], .fail_with = -ENOSPC };
			pgzip *z = NULL;
			int r = pgzip_new(threads[t], 1, sink_out, &s, &z);
			if (!TAP_CHECK_INT_EQ(r, 0, "pgzip_new"))
				continue;
			int wr = 0;
			size_t off;
			for (off = 0; off < n && wr == 0; off += 100000)
				wr = pgzip_write(z, in + off, n - off < 100000 ? n - off : 100000);
			int fr = pgzip_finish(z);
			TAP_CHECK(fr == -ENOSPC && (wr == 0 || wr == -ENOSPC),
			          "sink fails at call %u, %u threads: write %d, finish %d", fail_at[f], threads[t], wr, fr);
			TAP_CHECK_INT_EQ(pgzip_write(z, in, 10), -ENOSPC, "... later writes fail too");
			TAP_CHECK_INT_EQ(pgzip_finish(z), -ENOSPC, "... finish again: the same error");
			TAP_CHECK(strstr(pgzip_error(z), "No space left") != NULL, "... message: %s", pgzip_error(z));
			TAP_CHECK_INT_EQ(s.calls, fail_at[f] + 1, "... the sink is not called after it failed");
			pgzip_free(z);
			free(s.buf);
		}
	}

	/* Failing while the caller is not in a call: free alone must not hang. */
	for (unsigned t = 1; t <= 3; t++) {
		sink s = { .fail_at = 2, .fail_with = -EIO };
		pgzip *z = NULL;
		if (pgzip_new(t, 1, sink_out, &s, &z) < 0)
			continue;
		int r = 0;
		for (size_t off = 0; off < n && r == 0; off += PGZIP_CHUNK)
			r = pgzip_write(z, in + off, PGZIP_CHUNK);
		pgzip_free(z);
		TAP_CHECK(r == 0 || r == -EIO, "%u threads: free without finish after a sink error (%d)", t, r);
		free(s.buf);
	}

	/* Abandoned mid-stream with chunks queued and in flight. */
	for (unsigned t = 1; t <= 8; t *= 2) {
		sink s = { 0 };
		pgzip *z = NULL;
		if (pgzip_new(t, 9, sink_out, &s, &z) < 0)
			continue;
		int r = pgzip_write(z, in, n);
		pgzip_free(z);
		TAP_CHECK_INT_EQ(r, 0, "%u threads: free without finish, with work in flight", t);
		free(s.buf);
	}
	free(in);
}

static void test_gz_output(void)
{
	size_t n = 5 * MiB + 777;
	uint8_t *in = make_text(n, 11);
	uint8_t *rnd = make_random(MiB, 12);
	memcpy(in + 2 * MiB, rnd, MiB);
	free(rnd);
	spit(path("out.raw"), in, n);
	mkdir(path("gz"), 0755);
	char err[512] = "";
	gz_output *g = NULL;
	char out[300];
	snprintf(out, sizeof(out), "%s", path("gz/out.gz"));
	int r = gz_output_open(out, 0, 6, &g, err, sizeof(err));
	if (!TAP_CHECK_INT_EQ(r, 0, "gz_output_open (%s)", err)) {
		free(in);
		return;
	}
	for (size_t off = 0; off < n && r == 0; off += 77777)
		r = gz_output_push(g, in + off, n - off < 77777 ? n - off : 77777);
	TAP_CHECK_INT_EQ(r, 0, "gz_output_push");
	TAP_CHECK_STR_EQ(gz_output_error(g), "", "no error");
	struct stat st;
	TAP_CHECK(stat(out, &st) < 0 && errno == ENOENT, "nothing under the name before commit");
	char sha[41] = "", want[41] = "";
	uint64_t size = 0, want_size = 0;
	r = gz_output_commit(g, sha, &size, err, sizeof(err));
	TAP_CHECK_INT_EQ(r, 0, "gz_output_commit (%s)", err);
	TAP_CHECK(sha1_file(out, want, &want_size), "the file is there");
	TAP_CHECK_STR_EQ(sha, want, "SHA-1 is the file's");
	TAP_CHECK_INT_EQ(size, want_size, "size is the file's");
	TAP_CHECK_INT_EQ(gz_output_commit(g, sha, &size, err, sizeof(err)), -EINVAL, "a second commit is refused");
	gz_output_free(g);
	if (sh("command -v gzip >/dev/null 2>&1") == 0) {
		TAP_CHECK(sh("gzip -t %s", out) == 0, "gzip -t accepts it");
		TAP_CHECK(sh("gzip -dc %s | cmp -s - %s", out, path("out.raw")) == 0, "gzip -dc gives the input back");
	} else {
		tap_skip("gzip is not installed");
	}
	TAP_CHECK_INT_EQ(dir_entries(path("gz")), 1, "only the output in its directory");

	/* Not committed: nothing remains. */
	g = NULL;
	char gone[300];
	snprintf(gone, sizeof(gone), "%s", path("gz/gone.gz"));
	r = gz_output_open(gone, 2, 1, &g, err, sizeof(err));
	if (r == 0)
		r = gz_output_push(g, in, n);
	gz_output_free(g);
	TAP_CHECK_INT_EQ(r, 0, "pushed without commit");
	TAP_CHECK(stat(gone, &st) < 0 && errno == ENOENT, "free without commit: no file");
	TAP_CHECK_INT_EQ(dir_entries(path("gz")), 1, "... and no temp file");

	/* An empty file is a valid gzip file too. */
	g = NULL;
	snprintf(gone, sizeof(gone), "%s", path("gz/empty.gz"));
	r = gz_output_open(gone, 1, 9, &g, err, sizeof(err));
	if (r == 0)
		r = gz_output_commit(g, sha, &size, err, sizeof(err));
	gz_output_free(g);
	TAP_CHECK(r == 0 && sha1_file(gone, want, &want_size) && strcmp(sha, want) == 0 && size == want_size,
	          "empty output: SHA-1 and size (%llu)", (unsigned long long)size);
	if (sh("command -v gzip >/dev/null 2>&1") == 0)
		TAP_CHECK(sh("gzip -t %s && test -z \"$(gzip -dc %s)\"", gone, gone) == 0, "gzip accepts the empty output");

	/* A directory that does not exist. */
	g = NULL;
	err[0] = '\0';
	r = gz_output_open(path("nodir/x.gz"), 1, 4, &g, err, sizeof(err));
	TAP_CHECK(r == -ENOENT && g == NULL && strstr(err, "nodir"), "missing directory: %d (%s)", r, err);
	r = gz_output_open(path("gz/x.gz"), 1, 0, &g, err, sizeof(err));
	TAP_CHECK(r == -EINVAL && err[0], "level 0: %d (%s)", r, err);
	free(in);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "%s/test_pgzip.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (strlen(dir) >= sizeof(dir) - 1 || !mkdtemp(dir)) {
		TAP_CHECK(false, "temporary directory");
		return tap_done();
	}
	test_bad_args();
	test_header();
	test_dictionary();
	test_sizes();
	test_reproducible();
	test_sink_failure();
	test_gz_output();
	sh("rm -rf '%s'", dir);
	return tap_done();
}
