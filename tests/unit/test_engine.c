/* SPDX-License-Identifier: MIT */
/* The conversion engine with the raw reader and raw writer: every byte
 * arrives, in order, holes stay holes, and failures surface cleanly. */
#include "tap.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert/engine.h"

#define MiB (1024u * 1024u)

static unsigned char *make_pattern(size_t n)
{
	unsigned char *p = calloc(1, n);
	/* Data islands in a sea of zeros, one straddling a unit boundary. */
	for (size_t i = 0; i < n; i++) {
		size_t mb = i / MiB;
		if (mb % 3 == 0 || (i > 2 * MiB - 5000 && i < 2 * MiB + 5000))
			p[i] = (unsigned char)(i * 2654435761u >> 11) | 1;
	}
	return p;
}

static int tmpfile_in(const char *dir)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/imgfetch-test-engine-XXXXXX", dir);
	int fd = mkstemp(path);
	unlink(path);
	return fd;
}

static bool same_content(int fd, const unsigned char *want, size_t n)
{
	unsigned char *got = malloc(n);
	bool ok = pread(fd, got, n, 0) == (ssize_t)n && memcmp(got, want, n) == 0;
	free(got);
	return ok;
}

int main(void)
{
	imgfetch_ctx *ctx = imgfetch_ctx_new();
	size_t n = 9 * MiB + 12345; /* several units and a partial last one */
	unsigned char *src = make_pattern(n);

	/* A sparse source file: zero MiBs are holes. */
	int in = tmpfile_in("/var/tmp");
	for (size_t off = 0; off < n; off += MiB) {
		size_t len = n - off < MiB ? n - off : MiB;
		bool zero = true;
		for (size_t i = 0; i < len && zero; i++)
			zero = src[off + i] == 0;
		if (!zero)
			TAP_CHECK(pwrite(in, src + off, len, (off_t)off) == (ssize_t)len, "source write at %zu", off);
	}
	TAP_CHECK(ftruncate(in, (off_t)n) == 0, "source size");

	char err[256];
	img_reader *r = NULL;
	TAP_CHECK_INT_EQ(raw_open(in, &r, err, sizeof(err)), 0, "raw reader opens");
	TAP_CHECK(r->info.virtual_size == n, "virtual size is the file size");

	for (unsigned threads = 1; threads <= 4; threads *= 2) {
		int out = tmpfile_in("/var/tmp");
		img_writer *w = NULL;
		TAP_CHECK_INT_EQ(raw_writer_new(out, n, false, &w), 0, "raw writer");
		engine_stats st = { 0 };
		TAP_CHECK_INT_EQ(engine_run_reader(ctx, r, w, threads, "test", &st), IMGFETCH_OK,
		                 "engine runs with %u threads", threads);
		TAP_CHECK_INT_EQ(w->ops->finish(w), 0, "writer finishes");
		w->ops->free(w);
		struct stat sb;
		fstat(out, &sb);
		TAP_CHECK(sb.st_size == (off_t)n, "output size %lld", (long long)sb.st_size);
		TAP_CHECK(same_content(out, src, n), "output identical (%u threads)", threads);
		TAP_CHECK((uint64_t)sb.st_blocks * 512 < n * 2 / 3, "output is sparse (%llu bytes allocated)",
		          (unsigned long long)sb.st_blocks * 512);
		TAP_CHECK(st.total == n, "stats.total counts every byte");
		close(out);
	}

	/* Stream mode: odd push sizes, unknown size. */
	int out = tmpfile_in("/var/tmp");
	img_writer *w = NULL;
	TAP_CHECK_INT_EQ(raw_writer_new(out, 0, false, &w), 0, "raw writer for a stream");
	engine *e = NULL;
	TAP_CHECK_INT_EQ(engine_stream_start(ctx, w, 2, "stream", 0, &e), IMGFETCH_OK, "stream engine starts");
	bool pushed = true;
	for (size_t off = 0; off < n;) {
		size_t k = 1 + (off * 7919 + 13) % 700000;
		if (k > n - off)
			k = n - off;
		pushed &= engine_stream_push(e, src + off, k) == 0;
		off += k;
	}
	TAP_CHECK(pushed, "all pushes accepted");
	engine_stats st = { 0 };
	TAP_CHECK_INT_EQ(engine_stream_finish(e, true, &st), IMGFETCH_OK, "stream finishes");
	TAP_CHECK(st.total == n, "stream total");
	w->virtual_size = st.total;
	TAP_CHECK_INT_EQ(w->ops->finish(w), 0, "writer finishes");
	w->ops->free(w);
	TAP_CHECK(same_content(out, src, n) && lseek(out, 0, SEEK_END) == (off_t)n, "stream output identical");
	close(out);

	/* A writer that fails (read-only fd) stops the engine with its message. */
	w = NULL;
	int fd = tmpfile_in("/var/tmp");
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int rofd = open(path, O_RDONLY);
	TAP_CHECK_INT_EQ(raw_writer_new(rofd, n, false, &w), 0, "writer on a read-only fd");
	TAP_CHECK_INT_EQ(engine_run_reader(ctx, r, w, 2, "ro", NULL), IMGFETCH_E_FAILED, "write failure is reported");
	TAP_CHECK(strstr(imgfetch_ctx_error(ctx), "offset") != NULL, "message names the offset: %s",
	          imgfetch_ctx_error(ctx));
	w->ops->free(w);
	close(rofd);
	close(fd);

	/* Cancellation stops the engine. */
	imgfetch_ctx_cancel(ctx);
	out = tmpfile_in("/var/tmp");
	raw_writer_new(out, n, false, &w);
	TAP_CHECK_INT_EQ(engine_run_reader(ctx, r, w, 2, "cancel", NULL), IMGFETCH_E_CANCELLED, "cancel stops it");
	w->ops->free(w);
	close(out);

	img_close(r);
	close(in);
	free(src);
	imgfetch_ctx_free(ctx);
	return tap_done();
}
