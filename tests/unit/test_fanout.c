/* SPDX-License-Identifier: MIT */
/* The hashing pipeline: threaded fan-out must produce exactly the digests of
 * the bytes fed, in order, across chunk boundaries and resets. */
#include "tap.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "get/pipeline.h"
#include "util/strutil.h"

static const char *sha256_of(const unsigned char *buf, size_t n, char *out)
{
	digest *d = digest_new(IMGFETCH_HASH_SHA256);
	digest_update(d, buf, n);
	digest_final_hex(d, out);
	digest_free(d);
	return out;
}

int main(void)
{
	char want[65], got[65], got512[129];
	pipeline p;

	/* Known answer: SHA-256 of "abc". */
	TAP_CHECK_INT_EQ(pipeline_init(&p, -1, true), 0, "pipeline starts");
	TAP_CHECK_INT_EQ(pipeline_feed(&p, "abc", 3), 0, "feed abc");
	TAP_CHECK_INT_EQ(pipeline_finish(&p, got, got512), 0, "finish");
	TAP_CHECK_STR_EQ(got, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256(abc)");
	TAP_CHECK_STR_EQ(got512,
	                 "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd"
	                 "454d4423643ce80e2a9ac94fa54ca49f",
	                 "sha512(abc)");
	pipeline_free(&p);

	/* 7.5 MiB in odd-sized pieces crosses every chunk boundary of the ring. */
	size_t n = 7 * 1024 * 1024 + 512 * 1024 + 3;
	unsigned char *buf = malloc(n);
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)(i * 2654435761u >> 13);
	sha256_of(buf, n, want);
	TAP_CHECK_INT_EQ(pipeline_init(&p, -1, false), 0, "pipeline starts");
	bool ok = true;
	for (size_t off = 0; off < n;) {
		size_t k = 1 + (off * 7919) % 300000;
		if (k > n - off)
			k = n - off;
		ok &= pipeline_feed(&p, buf + off, k) == 0;
		off += k;
	}
	TAP_CHECK(ok, "feeding in odd pieces succeeds");
	TAP_CHECK_INT_EQ(pipeline_finish(&p, got, got512), 0, "finish");
	TAP_CHECK_STR_EQ(got, want, "digest across chunk boundaries");
	pipeline_free(&p);

	/* Reset mid-stream: only bytes after the reset count (server restarted). */
	TAP_CHECK_INT_EQ(pipeline_init(&p, -1, false), 0, "pipeline starts");
	pipeline_feed(&p, buf, 3 * 1024 * 1024 + 17);
	TAP_CHECK_INT_EQ(p.sink.reset(p.sink.u), 0, "reset");
	TAP_CHECK_INT_EQ(p.sink.write(p.sink.u, buf, n), 0, "refeed everything through the sink");
	TAP_CHECK_INT_EQ(pipeline_finish(&p, got, got512), 0, "finish");
	TAP_CHECK_STR_EQ(got, want, "digest after a reset equals the digest of the refed bytes");
	pipeline_free(&p);

	/* The file consumer writes the same bytes, and truncates on reset. */
	char path[] = "/tmp/imgfetch-test-fanout-XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	TAP_CHECK_INT_EQ(pipeline_init(&p, fd, false), 0, "pipeline with file starts");
	pipeline_feed(&p, buf, 1000);
	p.sink.reset(p.sink.u);
	pipeline_feed(&p, buf, n);
	TAP_CHECK_INT_EQ(pipeline_finish(&p, got, got512), 0, "finish");
	pipeline_free(&p);
	TAP_CHECK(lseek(fd, 0, SEEK_END) == (off_t)n, "file has exactly the bytes after the reset");
	unsigned char *back = malloc(n);
	TAP_CHECK(pread(fd, back, n, 0) == (ssize_t)n && memcmp(back, buf, n) == 0, "file content is identical");
	close(fd);

	/* A failing consumer (EBADF) surfaces as an error, not a hang. */
	TAP_CHECK_INT_EQ(pipeline_init(&p, 12345, false), 0, "pipeline with a bad fd starts");
	int r = 0;
	for (int i = 0; i < 20 && r == 0; i++)
		r = pipeline_feed(&p, buf, 1024 * 1024);
	if (r == 0)
		r = pipeline_finish(&p, got, got512);
	TAP_CHECK_INT_EQ(r, -EBADF, "write error is reported");
	pipeline_free(&p);

	/* url_file_name: the name used for sums lookups and default outputs. */
	char *s = url_file_name("https://h.example/a/b/debian-13.qcow2?x=1#frag");
	TAP_CHECK_STR_EQ(s, "debian-13.qcow2", "query and fragment stripped");
	free(s);
	s = url_file_name("http://h/dir/with%20space.img");
	TAP_CHECK_STR_EQ(s, "with space.img", "percent-escapes decoded");
	free(s);
	TAP_CHECK(url_file_name("http://h/dir/") == NULL, "directory URL has no name");
	TAP_CHECK(url_file_name("http://h") == NULL, "host-only URL has no name");
	TAP_CHECK(url_file_name("http://h/a%2Fb") == NULL, "encoded slash refused");
	TAP_CHECK(url_file_name("http://h/..") == NULL, "dot-dot refused");
	s = url_file_name("file:///srv/mirror/x.raw.xz");
	TAP_CHECK_STR_EQ(s, "x.raw.xz", "file URL");
	free(s);

	free(buf);
	free(back);
	return tap_done();
}
