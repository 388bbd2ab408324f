/* SPDX-License-Identifier: MIT */
/* The qcow2 writer, driven the way the converter drives it (units encoded out
 * of order on two threads, committed in order), judged by qemu-img: check must
 * find no errors or leaks, compare must find the image identical to the raw
 * source, info must show the size and compression type. */
#include "tap.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "writers/writer.h"

#define KiB 1024ull
#define MiB (1024ull * 1024)

static char tmpdir[64];
static bool have_qemu;

/* ---- source images ---- */

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

typedef enum { SRC_MIXED, SRC_ZERO, SRC_RANDOM } src_kind;

/* Mixed: runs of 4 KiB blocks that are zero, random (incompressible), text
 * (compressible) or zero but for one byte (must not pass for zero). Long zero
 * runs keep whole large clusters and whole L2 ranges empty. */
static unsigned char *make_source(src_kind kind, uint64_t size, uint64_t seed)
{
	unsigned char *buf = calloc(1, size ? size : 1);
	if (!buf || kind == SRC_ZERO)
		return buf;
	uint64_t s = seed | 1;
	uint64_t off = 0;
	while (off < size) {
		unsigned type = kind == SRC_RANDOM ? 1 : (unsigned)(rng_next(&s) % 4);
		uint64_t run = (1 + rng_next(&s) % 96) * 4 * KiB;
		if (type == 0 && rng_next(&s) % 4 == 0)
			run *= 16; /* now and then a zero run that spans large clusters */
		if (run > size - off)
			run = size - off;
		unsigned char *p = buf + off;
		switch (type) {
		case 0:
			break;
		case 1:
			for (uint64_t i = 0; i < run; i++)
				p[i] = (unsigned char)(rng_next(&s) >> 24);
			break;
		case 2:
			for (uint64_t i = 0; i < run;) {
				char line[80];
				int n = snprintf(line, sizeof(line), "block %llu: the quick brown fox jumps\n",
				                 (unsigned long long)((off + i) / 64));
				for (int k = 0; k < n && i < run; k++, i++)
					p[i] = (unsigned char)line[k];
			}
			break;
		default:
			p[rng_next(&s) % run] = 0x5a;
			break;
		}
		off += run;
	}
	/* Data right up to the ragged end. */
	if (size)
		buf[size - 1] = 0x77;
	return buf;
}

static bool write_file(const char *path, const unsigned char *buf, uint64_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return false;
	bool ok = write(fd, buf, size) == (ssize_t)size;
	return close(fd) == 0 && ok;
}

static bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- driving the writer like the converter ---- */

typedef struct job {
	img_writer *w;
	img_unit *units;
	const size_t *order;
	size_t n;
	size_t next;
	int err;
	pthread_mutex_t lock;
} job;

static void *encode_worker(void *arg)
{
	job *j = arg;
	for (;;) {
		pthread_mutex_lock(&j->lock);
		size_t i = j->next++;
		pthread_mutex_unlock(&j->lock);
		if (i >= j->n)
			return NULL;
		int r = j->w->ops->encode(j->w, &j->units[j->order[i]]);
		if (r < 0) {
			pthread_mutex_lock(&j->lock);
			j->err = r;
			pthread_mutex_unlock(&j->lock);
		}
	}
}

typedef struct conv {
	uint32_t cluster_size;
	qcow2_compression comp;
	uint64_t unit_size;
	bool hints; /* mark zero units with all_zero_hint and fill them with junk */
} conv;

/* Returns 0 or the first failure; `msg` gets the writer's message. */
static int convert(const char *out, const unsigned char *src, uint64_t size, const conv *c, char *msg,
                   size_t msgsz)
{
	int fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	img_writer *w;
	int r = qcow2_writer_new(fd, size, c->cluster_size, c->comp, &w);
	if (r < 0) {
		close(fd);
		return r;
	}
	size_t n = (size_t)((size + c->unit_size - 1) / c->unit_size);
	img_unit *units = calloc(n ? n : 1, sizeof(*units));
	size_t *order = calloc(n ? n : 1, sizeof(*order));
	for (size_t i = 0; i < n; i++) {
		img_unit *u = &units[i];
		u->offset = i * c->unit_size;
		u->length = (size_t)(size - u->offset < c->unit_size ? size - u->offset : c->unit_size);
		/* Exact-size copies, so that the sanitizer sees any read past a unit. */
		u->data = malloc(u->length);
		memcpy(u->data, src + u->offset, u->length);
		if (c->hints && all_zero(u->data, u->length)) {
			/* The writer must trust the hint and not look at the data. */
			u->all_zero_hint = true;
			memset(u->data, 0xa5, u->length);
		}
		order[i] = i;
	}
	uint64_t s = 0x9e3779b97f4a7c15ull ^ size;
	for (size_t i = n; i > 1; i--) {
		size_t k = (size_t)(rng_next(&s) % i);
		size_t t = order[i - 1];
		order[i - 1] = order[k];
		order[k] = t;
	}

	job j = { .w = w, .units = units, .order = order, .n = n };
	pthread_mutex_init(&j.lock, NULL);
	pthread_t th[2];
	for (int t = 0; t < 2; t++)
		pthread_create(&th[t], NULL, encode_worker, &j);
	for (int t = 0; t < 2; t++)
		pthread_join(th[t], NULL);
	pthread_mutex_destroy(&j.lock);
	r = j.err;
	for (size_t i = 0; i < n && r == 0; i++)
		r = w->ops->commit(w, &units[i]);
	if (r == 0)
		r = w->ops->finish(w);
	for (size_t i = 0; i < n; i++) {
		if (units[i].priv)
			w->ops->discard(w, &units[i]);
		free(units[i].data);
	}
	if (msg)
		snprintf(msg, msgsz, "%s", w->err);
	w->ops->free(w);
	free(units);
	free(order);
	close(fd);
	return r;
}

/* ---- qemu-img ---- */

__attribute__((format(printf, 3, 4))) static int run(char *out, size_t outsz, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	size_t got = fread(out, 1, outsz - 1, p);
	out[got] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Percentage of compressed clusters from qemu-img check's summary, -1 if absent. */
static double compressed_percent(const char *check_out)
{
	const char *p = strstr(check_out, "% compressed clusters");
	if (!p)
		return -1;
	while (p > check_out && p[-1] != ' ')
		p--;
	return strtod(p, NULL);
}

static uint64_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Number of L2 tables the image's L1 points to. */
static long count_l2_tables(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char h[112];
	long count = -1;
	if (fd < 0)
		return -1;
	if (pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h)) {
		uint32_t l1_size;
		uint64_t l1_off;
		memcpy(&l1_size, h + 36, 4);
		memcpy(&l1_off, h + 40, 8);
		l1_size = be32toh(l1_size);
		l1_off = be64toh(l1_off);
		count = 0;
		for (uint32_t i = 0; i < l1_size; i++) {
			uint64_t e;
			if (pread(fd, &e, 8, (off_t)(l1_off + 8 * i)) != 8) {
				count = -1;
				break;
			}
			count += e != 0;
		}
	}
	close(fd);
	return count;
}

static const char *comp_name(qcow2_compression c)
{
	return c == QCOW2_COMPRESS_ZSTD ? "zstd" : c == QCOW2_COMPRESS_ZLIB ? "zlib" : "none";
}

typedef struct verdict {
	double compressed; /* % of clusters, from qemu-img check */
	uint64_t out_size;
} verdict;

/* Converts and has qemu-img judge the result. */
static void convert_and_check(const char *what, src_kind kind, uint64_t size, const conv *c, verdict *v)
{
	char src_path[128], out_path[128], msg[512], out[8192];
	snprintf(src_path, sizeof(src_path), "%s/src.raw", tmpdir);
	snprintf(out_path, sizeof(out_path), "%s/out.qcow2", tmpdir);
	unsigned char *src = make_source(kind, size, size * 31 + c->cluster_size);
	bool wrote = src && write_file(src_path, src, size);
	int r = wrote ? convert(out_path, src, size, c, msg, sizeof(msg)) : -EIO;
	free(src);
	if (!TAP_CHECK_INT_EQ(r, 0, "%s: encode, commit and finish succeed", what)) {
		tap_diag("writer: %s", msg);
		return;
	}
	if (v)
		v->out_size = file_size(out_path);
	if (!have_qemu) {
		tap_skip("%s: qemu-img is not installed", what);
		return;
	}

	int st = run(out, sizeof(out), "qemu-img check -f qcow2 %s", out_path);
	bool clean = st == 0 && strstr(out, "No errors were found on the image.") && !strstr(out, "leak");
	if (!TAP_CHECK(clean, "%s: qemu-img check finds no errors or leaks", what))
		tap_diag("exit %d: %s", st, out);
	if (v)
		v->compressed = compressed_percent(out);

	st = run(out, sizeof(out), "qemu-img compare -f raw -F qcow2 %s %s", src_path, out_path);
	if (!TAP_CHECK_INT_EQ(st, 0, "%s: qemu-img compare finds it identical to the source", what))
		tap_diag("%s", out);

	st = run(out, sizeof(out), "qemu-img info -f qcow2 --output=json %s", out_path);
	char want_size[64], want_comp[64];
	snprintf(want_size, sizeof(want_size), "\"virtual-size\": %llu",
	         (unsigned long long)((size + 511) / 512 * 512));
	snprintf(want_comp, sizeof(want_comp), "\"compression-type\": \"%s\"",
	         c->comp == QCOW2_COMPRESS_ZSTD ? "zstd" : "zlib");
	char want_cs[64];
	snprintf(want_cs, sizeof(want_cs), "\"cluster-size\": %u,", c->cluster_size);
	bool info_ok = st == 0 && strstr(out, want_size) && strstr(out, want_comp) && strstr(out, want_cs) &&
	               strstr(out, "\"compat\": \"1.1\"");
	if (!TAP_CHECK(info_ok, "%s: qemu-img info shows v3, the size, cluster size and %s", what, want_comp))
		tap_diag("%s", out);
}

/* ---- the cases ---- */

static void matrix(void)
{
	static const uint32_t sizes[] = { 512, 4096, 65536, 2u << 20 };
	static const qcow2_compression comps[] = { QCOW2_COMPRESS_NONE, QCOW2_COMPRESS_ZLIB, QCOW2_COMPRESS_ZSTD };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t plain_size = 0;
		for (size_t k = 0; k < sizeof(comps) / sizeof(comps[0]); k++) {
			uint32_t cs = sizes[i];
			conv c = { .cluster_size = cs, .comp = comps[k], .unit_size = cs >= 256 * KiB ? 4ull * cs : MiB,
			           .hints = cs == 65536 };
			uint64_t size = (cs >= 256 * KiB ? 20 * MiB : 5 * MiB) + 1536;
			char what[96];
			snprintf(what, sizeof(what), "mixed, %u-byte clusters, %s", cs, comp_name(c.comp));
			verdict v = { -1, 0 };
			convert_and_check(what, SRC_MIXED, size, &c, &v);
			if (!have_qemu)
				continue;
			if (c.comp == QCOW2_COMPRESS_NONE) {
				plain_size = v.out_size;
				TAP_CHECK(v.compressed == 0, "%s: no compressed clusters", what);
			} else if (cs == 512) {
				/* A compressed cluster must save a whole sector, which a 512-byte one cannot. */
				TAP_CHECK(v.compressed == 0, "%s: clusters too small to compress are stored raw", what);
			} else {
				if (!TAP_CHECK(v.compressed > 0 && v.out_size < plain_size,
				               "%s: compressed clusters, smaller file", what))
					tap_diag("%.2f%% compressed, %llu vs %llu bytes", v.compressed,
					         (unsigned long long)v.out_size, (unsigned long long)plain_size);
			}
		}
	}
}

static void l2_flushing(void)
{
	/* 512-byte clusters: each L2 table maps 64 clusters (32 KiB), so 2 MiB
	 * needs 64 tables, written while committing. */
	char path[128], msg[512];
	uint64_t size = 2 * MiB;
	conv c = { .cluster_size = 512, .comp = QCOW2_COMPRESS_NONE, .unit_size = 64 * KiB };
	unsigned char *src = make_source(SRC_MIXED, size, 7);
	snprintf(path, sizeof(path), "%s/l2.qcow2", tmpdir);
	TAP_CHECK_INT_EQ(convert(path, src, size, &c, msg, sizeof(msg)), 0, "512-byte clusters, 2 MiB: converts");
	long want = 0;
	for (uint64_t off = 0; off < size; off += 32 * KiB)
		want += !all_zero(src + off, 32 * KiB);
	TAP_CHECK(want > 8, "the source leaves some 32 KiB ranges empty but not most (%ld of 64 used)", want);
	TAP_CHECK_INT_EQ(count_l2_tables(path), want, "one L2 table per 32 KiB range holding data, none otherwise");
	free(src);
	convert_and_check("mixed 2 MiB, 512-byte clusters, 64 KiB units", SRC_MIXED, size, &c, NULL);
}

/* The refcount blocks and table count themselves: sweep image sizes across
 * the point where one more cluster of them needs another refcount block
 * (512-byte clusters: 256 refcounts per block). */
static void refcount_boundary(void)
{
	char src_path[128], out_path[128], msg[512], out[4096];
	snprintf(src_path, sizeof(src_path), "%s/src.raw", tmpdir);
	snprintf(out_path, sizeof(out_path), "%s/out.qcow2", tmpdir);
	conv c = { .cluster_size = 512, .comp = QCOW2_COMPRESS_NONE, .unit_size = 64 * KiB };
	bool ok = true;
	for (uint64_t k = 240; k <= 256 && ok; k++) {
		uint64_t size = k * 512;
		unsigned char *src = make_source(SRC_RANDOM, size, k);
		ok = write_file(src_path, src, size) && convert(out_path, src, size, &c, msg, sizeof(msg)) == 0;
		free(src);
		if (ok && have_qemu) {
			int st = run(out, sizeof(out), "qemu-img check -f qcow2 %s", out_path);
			ok = st == 0 && strstr(out, "No errors were found") != NULL;
			if (ok)
				ok = run(out, sizeof(out), "qemu-img compare -f raw -F qcow2 %s %s", src_path,
				         out_path) == 0;
		}
		if (!ok)
			tap_diag("%llu data clusters: %s %s", (unsigned long long)k, msg, out);
	}
	TAP_CHECK(ok, "240..256 random 512-byte clusters: refcount structures that count themselves check clean");
}

static void special_images(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/out.qcow2", tmpdir);

	conv c = { .cluster_size = 65536, .comp = QCOW2_COMPRESS_ZLIB, .unit_size = MiB, .hints = true };
	convert_and_check("all-zero 64 MiB, hints", SRC_ZERO, 64 * MiB, &c, NULL);
	TAP_CHECK_INT_EQ(count_l2_tables(path), 0, "all-zero image: no L2 tables");
	/* header, L1, one refcount block, refcount table */
	TAP_CHECK_INT_EQ(file_size(path), 4 * 65536, "all-zero image: four clusters");

	c.hints = false;
	convert_and_check("all-zero 3 MiB, no hints", SRC_ZERO, 3 * MiB, &c, NULL);
	TAP_CHECK_INT_EQ(count_l2_tables(path), 0, "all-zero image found by scanning: no L2 tables");

	verdict v = { -1, 0 };
	c = (conv){ .cluster_size = 65536, .comp = QCOW2_COMPRESS_ZLIB, .unit_size = MiB };
	convert_and_check("random 4 MiB, zlib", SRC_RANDOM, 4 * MiB, &c, &v);
	if (have_qemu)
		TAP_CHECK(v.compressed == 0, "incompressible clusters are stored raw");
	TAP_CHECK(v.out_size > 4 * MiB && v.out_size < 4 * MiB + 8 * 65536,
	          "random data: the file is its size plus metadata");
	c.comp = QCOW2_COMPRESS_ZSTD;
	convert_and_check("random 4 MiB, zstd", SRC_RANDOM, 4 * MiB, &c, &v);
	if (have_qemu)
		TAP_CHECK(v.compressed == 0, "incompressible clusters are stored raw (zstd)");

	c = (conv){ .cluster_size = 4096, .comp = QCOW2_COMPRESS_ZSTD, .unit_size = MiB };
	convert_and_check("ragged size 3 MiB + 100, zstd, 4 KiB clusters", SRC_MIXED, 3 * MiB + 100, &c, NULL);
	c = (conv){ .cluster_size = 65536, .comp = QCOW2_COMPRESS_ZLIB, .unit_size = MiB };
	convert_and_check("small 1000 bytes, zlib", SRC_MIXED, 1000, &c, NULL);
	c = (conv){ .cluster_size = 65536, .comp = QCOW2_COMPRESS_NONE, .unit_size = MiB };
	convert_and_check("empty disk", SRC_ZERO, 0, &c, NULL);
}

static img_unit random_unit(uint64_t offset, size_t len)
{
	img_unit u = { .offset = offset, .length = len, .data = malloc(len) };
	uint64_t s = offset + 99;
	for (size_t i = 0; i < len; i++)
		u.data[i] = (unsigned char)(rng_next(&s) >> 24);
	return u;
}

static void failures(void)
{
	char path[128];
	img_writer *w = NULL;
	snprintf(path, sizeof(path), "%s/ro.qcow2", tmpdir);

	TAP_CHECK_INT_EQ(qcow2_writer_new(-1, MiB, 65536, QCOW2_COMPRESS_NONE, &w), -EBADF, "no fd: EBADF");
	TAP_CHECK_INT_EQ(qcow2_writer_new(1, MiB, 3000, QCOW2_COMPRESS_NONE, &w), -EINVAL, "odd cluster size: EINVAL");
	TAP_CHECK_INT_EQ(qcow2_writer_new(1, MiB, 4u << 20, QCOW2_COMPRESS_NONE, &w), -EINVAL,
	                 "4 MiB clusters: EINVAL");
	TAP_CHECK_INT_EQ(qcow2_writer_new(1, 1ull << 50, 512, QCOW2_COMPRESS_NONE, &w), -EFBIG,
	                 "1 PiB with 512-byte clusters exceeds qemu's L1 limit: EFBIG");

	/* Read-only output: the first write fails with a message; finish after
	 * the failure fails too; nothing crashes or leaks. */
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	close(fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	TAP_CHECK_INT_EQ(qcow2_writer_new(fd, 2 * MiB, 65536, QCOW2_COMPRESS_ZLIB, &w), 0, "writer on a read-only fd");
	img_unit u0 = random_unit(0, MiB), u1 = random_unit(MiB, MiB);
	TAP_CHECK_INT_EQ(w->ops->encode(w, &u0), 0, "encode needs no writing");
	TAP_CHECK_INT_EQ(w->ops->encode(w, &u1), 0, "encode the second unit");
	int r = w->ops->commit(w, &u0);
	TAP_CHECK_INT_EQ(r, -EBADF, "commit on a read-only fd fails with EBADF");
	TAP_CHECK(strstr(w->err, "Bad file descriptor") != NULL, "with a message: \"%s\"", w->err);
	TAP_CHECK(u0.priv == NULL, "the failed commit released the unit");
	TAP_CHECK(w->ops->finish(w) < 0, "finish after a failure fails");
	w->ops->discard(w, &u1);
	w->ops->free(w);
	close(fd);

	/* Out-of-order commit and encoded units that are never committed. */
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	TAP_CHECK_INT_EQ(qcow2_writer_new(fd, 2 * MiB, 4096, QCOW2_COMPRESS_ZSTD, &w), 0, "new writer");
	w->ops->encode(w, &u0);
	w->ops->encode(w, &u1);
	TAP_CHECK(u0.priv && u1.priv, "encoded units hold their state");
	TAP_CHECK_INT_EQ(w->ops->commit(w, &u1), 0, "commit the second unit first");
	TAP_CHECK_INT_EQ(w->ops->commit(w, &u0), -EINVAL, "an earlier unit afterwards is refused");
	TAP_CHECK(strstr(w->err, "out of order") != NULL, "with a message: \"%s\"", w->err);
	img_unit u2 = random_unit(4096 + 512, 4096);
	TAP_CHECK_INT_EQ(w->ops->encode(w, &u2), -EINVAL, "a misaligned unit is refused by encode");
	w->ops->discard(w, &u0);
	w->ops->discard(w, &u2);
	w->ops->free(w);
	close(fd);

	/* Discard of encoded units, writer freed without finish. */
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	TAP_CHECK_INT_EQ(qcow2_writer_new(fd, 2 * MiB, 65536, QCOW2_COMPRESS_ZLIB, &w), 0, "new writer");
	w->ops->encode(w, &u0);
	w->ops->encode(w, &u1);
	TAP_CHECK_INT_EQ(w->ops->commit(w, &u0), 0, "commit one unit");
	w->ops->discard(w, &u1);
	TAP_CHECK(u1.priv == NULL, "discard releases an uncommitted unit");
	TAP_CHECK_INT_EQ(w->ops->finish(w), 0, "finish with the rest of the disk unwritten");
	TAP_CHECK_INT_EQ(w->ops->finish(w), -EINVAL, "a second finish is refused");
	w->ops->encode(w, &u1);
	TAP_CHECK_INT_EQ(w->ops->commit(w, &u1), -EINVAL, "so is a commit after finish");
	w->ops->free(w);
	close(fd);

	/* More data than the virtual size announced. */
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	TAP_CHECK_INT_EQ(qcow2_writer_new(fd, MiB, 65536, QCOW2_COMPRESS_NONE, &w), 0, "new writer");
	w->ops->encode(w, &u0);
	w->ops->encode(w, &u1);
	w->ops->commit(w, &u0);
	w->ops->commit(w, &u1);
	TAP_CHECK_INT_EQ(w->ops->finish(w), -EINVAL, "finish refuses data past the virtual size");
	w->ops->free(w);
	close(fd);

	free(u0.data);
	free(u1.data);
	free(u2.data);
	unlink(path);
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/tqw.XXXXXX", base && strlen(base) < 40 ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		TAP_CHECK(false, "temporary directory: %s", strerror(errno));
		return tap_done();
	}
	char out[256];
	have_qemu = run(out, sizeof(out), "qemu-img --version") == 0;
	if (!have_qemu)
		tap_diag("qemu-img not found: images are written but not verified");

	matrix();
	l2_flushing();
	refcount_boundary();
	special_images();
	failures();

	char f[128];
	static const char *const names[] = { "src.raw", "out.qcow2", "l2.qcow2" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(f, sizeof(f), "%s/%s", tmpdir, names[i]);
		unlink(f);
	}
	rmdir(tmpdir);
	return tap_done();
}
