/* SPDX-License-Identifier: MIT */
/*
 * qcow2 reader tests. Images are made at test time with qemu-img and qemu-io
 * (a required dependency of the test), read back through the reader and
 * compared with `qemu-img convert -O raw` byte for byte, and with
 * `qemu-img map --output=json` extent by extent. Hostile images are real
 * images with bytes patched here; each must be refused (or fail to read)
 * with the expected errno and a message naming the problem.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zstd.h>

#include "formats/image.h"
#include "tap.h"
#include "testutil.h"

static char g_dir[1024];

/* ---- helpers ------------------------------------------------------------- */

/* Path of a file in the scratch directory; each call returns a fresh string
 * that stays valid until the end of the test. */
static char *g_paths[1024];
static size_t g_npaths;

static const char *tmp(const char *name)
{
	char *b = malloc(strlen(g_dir) + strlen(name) + 2);
	sprintf(b, "%s/%s", g_dir, name);
	if (g_npaths < sizeof(g_paths) / sizeof(g_paths[0]))
		g_paths[g_npaths++] = b; /* else leaked: only a test */
	return b;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *p = malloc(n > 0 ? (size_t)n : 1);
	if (p && n > 0 && fread(p, 1, (size_t)n, f) != (size_t)n) {
		free(p);
		p = NULL;
	}
	fclose(f);
	*len = (size_t)(n > 0 ? n : 0);
	return p;
}

static uint64_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void put(const char *path, uint64_t off, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0 || pwrite(fd, p, n, (off_t)off) != (ssize_t)n)
		tap_diag("patching %s failed", path);
	if (fd >= 0)
		close(fd);
}

static void put_be32(const char *path, uint64_t off, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	put(path, off, b, 4);
}

static void put_be64(const char *path, uint64_t off, uint64_t v)
{
	put_be32(path, off, (uint32_t)(v >> 32));
	put_be32(path, off + 4, (uint32_t)v);
}

static uint64_t get_be(const char *path, uint64_t off, unsigned bytes)
{
	uint8_t b[8] = { 0 };
	int fd = open(path, O_RDONLY);
	if (fd < 0 || pread(fd, b, bytes, (off_t)off) != (ssize_t)bytes)
		tap_diag("reading %s failed", path);
	if (fd >= 0)
		close(fd);
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v = v << 8 | b[i];
	return v;
}

static void copy_file(const char *from, const char *to)
{
	size_t len;
	uint8_t *p = slurp(from, &len);
	FILE *f = fopen(to, "wb");
	if (!p || !f || fwrite(p, 1, len, f) != len)
		tap_diag("copying %s to %s failed", from, to);
	if (f)
		fclose(f);
	free(p);
}

/* Where things are in a (patched copy of a) real image. */
typedef struct layout {
	uint32_t cluster_size;
	uint64_t l1_off;
	uint64_t l2_off;  /* L2 table of L1 entry 0 */
	uint64_t fsize;
} layout;

static layout get_layout(const char *path)
{
	layout l;
	l.cluster_size = 1u << get_be(path, 20, 4);
	l.l1_off = get_be(path, 40, 8);
	l.l2_off = get_be(path, l.l1_off, 8) & 0x00fffffffffffe00ull;
	l.fsize = file_size(path);
	return l;
}

/* L2 entry (first word) of guest cluster `idx` (< entries of one table). */
static uint64_t l2_entry_off(const layout *l, uint64_t idx, unsigned entry_bytes)
{
	return l->l2_off + idx * entry_bytes;
}

/* Deterministic raw content in 64 KiB blocks: zeros, incompressible noise or
 * compressible text, so converted images mix holes, plain and compressed
 * clusters. */
static void make_raw(const char *path, size_t size, uint32_t seed)
{
	uint8_t *p = calloc(1, size);
	uint64_t x = 0x9e3779b97f4a7c15ull ^ seed;
	for (size_t blk = 0; blk * 65536 < size; blk++) {
		size_t n = size - blk * 65536 < 65536 ? size - blk * 65536 : 65536;
		uint8_t *b = p + blk * 65536;
		switch ((blk * 7 + seed) % 5) {
		case 0:
		case 3:
			break; /* zeros */
		case 1:
			for (size_t i = 0; i < n; i++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				b[i] = (uint8_t)x;
			}
			break;
		default:
			for (size_t i = 0; i < n; i++)
				b[i] = (uint8_t)("the quick brown fox jumps over the lazy dog "[(i / 3 + blk) % 44] ^ (i % 97 == 0));
			/* An isolated zero-free block with a zero 512-byte run inside. */
			memset(b + 4096, 0, 512);
			break;
		}
	}
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, size, f) != size)
		tap_diag("writing %s failed", path);
	if (f)
		fclose(f);
	free(p);
}

static int open_image(const char *path, img_reader **r, int *fd, char *err, size_t errlen)
{
	*fd = open(path, O_RDONLY);
	*r = NULL;
	err[0] = '\0';
	if (*fd < 0) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return -errno;
	}
	int rc = qcow2_open(*fd, r, err, errlen);
	if (rc < 0) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

static void close_image(img_reader *r, int fd)
{
	img_close(r);
	if (fd >= 0)
		close(fd);
}

/* ---- reading a good image ------------------------------------------------ */

static int read_all(img_reader *r, uint8_t *out, uint64_t size, size_t chunk)
{
	for (uint64_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? (size_t)(size - off) : chunk;
		int rc = img_read(r, off, out + off, n);
		if (rc < 0) {
			tap_diag("read(%llu, %zu) = %d: %s", (unsigned long long)off, n, rc, img_reader_error(r));
			return rc;
		}
	}
	return 0;
}

typedef struct thread_job {
	img_reader *r;
	uint8_t *out;
	uint64_t size;
	size_t chunk;
	unsigned idx, nthreads;
	int rc;
} thread_job;

static void *reader_thread(void *arg)
{
	thread_job *j = arg;
	uint64_t i = 0;
	for (uint64_t off = 0; off < j->size; off += j->chunk, i++) {
		if (i % j->nthreads != j->idx)
			continue;
		size_t n = j->size - off < j->chunk ? (size_t)(j->size - off) : j->chunk;
		int rc = img_read(j->r, off, j->out + off, n);
		if (rc < 0) {
			j->rc = rc;
			break;
		}
	}
	return NULL;
}

static int read_threaded(img_reader *r, uint8_t *out, uint64_t size, size_t chunk)
{
	enum { N = 4 };
	pthread_t t[N];
	thread_job j[N];
	for (unsigned i = 0; i < N; i++) {
		j[i] = (thread_job){ .r = r, .out = out, .size = size, .chunk = chunk, .idx = i, .nthreads = N };
		pthread_create(&t[i], NULL, reader_thread, &j[i]);
	}
	int rc = 0;
	for (unsigned i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		if (j[i].rc < 0)
			rc = j[i].rc;
	}
	return rc;
}

static const char *kind_name(img_extent_kind k)
{
	return k == IMG_EXTENT_DATA ? "data" : k == IMG_EXTENT_ZERO ? "zero" : "hole";
}

#define MAX_EXTENTS 65536

/* Walks map() over the whole disk; checks the contract on the way. */
static size_t walk_map(img_reader *r, uint64_t size, img_extent *ext, const uint8_t *raw, bool *ok)
{
	size_t n = 0;
	*ok = true;
	for (uint64_t off = 0; off < size && n < MAX_EXTENTS;) {
		img_extent e;
		int rc = img_map(r, off, UINT64_MAX, &e);
		if (rc < 0 || e.offset != off || e.length == 0 || e.length > size - off) {
			tap_diag("map(%llu) = %d: offset %llu length %llu %s", (unsigned long long)off, rc,
			         (unsigned long long)e.offset, (unsigned long long)e.length, img_reader_error(r));
			*ok = false;
			return n;
		}
		if (e.kind != IMG_EXTENT_DATA) {
			for (uint64_t i = 0; i < e.length; i++)
				if (raw[off + i]) {
					tap_diag("%s extent at %llu has a non-zero byte at %llu", kind_name(e.kind),
					         (unsigned long long)off, (unsigned long long)(off + i));
					*ok = false;
					return n;
				}
		}
		ext[n++] = e;
		off += e.length;
	}
	return n;
}

/* The kind (and compression) qemu-img map reports at each of its extents
 * must be ours over the same range. qemu: data => DATA (compressed when it
 * gives no host offset); present without data => ZERO; else HOLE. */
static bool compare_qemu_map(const char *path, const img_extent *ext, size_t n)
{
	const char *json = tmp("map.json");
	if (sh("qemu-img map -f qcow2 --output=json '%s' > '%s'", path, json) < 0)
		return false;
	json_error_t jerr;
	json_t *root = json_load_file(json, 0, &jerr);
	if (!json_is_array(root)) {
		tap_diag("cannot parse qemu-img map output: %s", jerr.text);
		json_decref(root);
		return false;
	}
	bool ok = true;
	size_t idx;
	json_t *q;
	size_t mine = 0;
	json_array_foreach(root, idx, q) {
		uint64_t start = (uint64_t)json_integer_value(json_object_get(q, "start"));
		uint64_t len = (uint64_t)json_integer_value(json_object_get(q, "length"));
		bool data = json_is_true(json_object_get(q, "data"));
		bool present = json_is_true(json_object_get(q, "present"));
		bool compressed = data && !json_object_get(q, "offset");
		img_extent_kind want = data ? IMG_EXTENT_DATA : present ? IMG_EXTENT_ZERO : IMG_EXTENT_HOLE;
		while (mine < n && ext[mine].offset + ext[mine].length <= start)
			mine++;
		for (size_t k = mine; k < n && ext[k].offset < start + len; k++) {
			if (ext[k].kind != want || ext[k].compressed != compressed) {
				tap_diag("at %llu+%llu qemu says %s%s, we say %s%s at %llu+%llu", (unsigned long long)start,
				         (unsigned long long)len, kind_name(want), compressed ? " (compressed)" : "",
				         kind_name(ext[k].kind), ext[k].compressed ? " (compressed)" : "",
				         (unsigned long long)ext[k].offset, (unsigned long long)ext[k].length);
				ok = false;
				break;
			}
		}
		if (!ok)
			break;
	}
	json_decref(root);
	return ok;
}

typedef struct expect {
	uint32_t cluster_size;
	uint32_t version;
	const char *compression;
	const char *features;
	bool compressed; /* the image must have compressed clusters */
	bool zero;       /* ... and zero extents */
	bool skip_qemu_map;
} expect;

/* Reads the whole image every way a converter might and compares. */
static void check_image(const char *label, const char *path, const expect *x)
{
	const char *raw_path = tmp("ref.raw");
	if (!TAP_CHECK(sh("qemu-img convert -f qcow2 -O raw '%s' '%s'", path, raw_path) == 0, "%s: qemu-img convert",
	               label))
		return;
	size_t size;
	uint8_t *raw = slurp(raw_path, &size);
	img_reader *r;
	int fd;
	char err[512];
	int rc = open_image(path, &r, &fd, err, sizeof(err));
	if (!TAP_CHECK(rc == 0 && raw, "%s: opens (%s)", label, err)) {
		free(raw);
		return;
	}
	const img_info *in = &r->info;
	bool info_ok = strcmp(in->format, "qcow2") == 0 && in->virtual_size == size &&
	               in->file_size == file_size(path) && in->cluster_size == x->cluster_size &&
	               in->version == x->version && strcmp(in->compression, x->compression) == 0 &&
	               strcmp(in->features, x->features) == 0;
	TAP_CHECK(info_ok, "%s: info (size %llu, cluster %u, v%u, %s, features '%s')", label,
	          (unsigned long long)in->virtual_size, in->cluster_size, in->version, in->compression, in->features);

	uint8_t *buf = malloc(size ? size : 1);
	static const size_t chunks[] = { IMG_MAX_IO, 65536, 100003, 512 + 4096 };
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		memset(buf, 0xa5, size);
		rc = read_all(r, buf, size, chunks[c]);
		TAP_CHECK(rc == 0 && memcmp(buf, raw, size) == 0, "%s: read in %zu-byte chunks matches qemu-img", label,
		          chunks[c]);
	}
	memset(buf, 0xa5, size);
	rc = read_threaded(r, buf, size, 192 * 1024);
	TAP_CHECK(rc == 0 && memcmp(buf, raw, size) == 0, "%s: 4 threads reading 192 KiB chunks match", label);

	img_extent *ext = calloc(MAX_EXTENTS, sizeof(*ext));
	bool ok;
	size_t n = walk_map(r, size, ext, raw, &ok);
	TAP_CHECK(ok, "%s: map covers the disk in %zu extents, zero/hole extents read as zeros", label, n);
	bool has_comp = false, has_zero = false;
	for (size_t i = 0; i < n; i++) {
		has_comp |= ext[i].compressed;
		has_zero |= ext[i].kind == IMG_EXTENT_ZERO;
	}
	if (x->compressed)
		TAP_CHECK(has_comp, "%s: has compressed extents", label);
	if (x->zero)
		TAP_CHECK(has_zero, "%s: has zero extents", label);
	if (!x->skip_qemu_map)
		TAP_CHECK(ok && compare_qemu_map(path, ext, n), "%s: map agrees with qemu-img map", label);

	/* map() from arbitrary offsets with small limits agrees with the walk. */
	bool sample_ok = true;
	for (unsigned i = 0; i < 200 && size > 0 && sample_ok; i++) {
		uint64_t off = ((uint64_t)i * 2654435761u * 977) % size;
		img_extent e;
		uint64_t max = 1 + i % 7 * 1000;
		rc = img_map(r, off, max, &e);
		size_t k = 0;
		while (k + 1 < n && ext[k].offset + ext[k].length <= off)
			k++;
		if (rc < 0 || e.offset != off || e.length < 1 || e.length > max || e.kind != ext[k].kind ||
		    e.compressed != ext[k].compressed || off + e.length > size) {
			tap_diag("map(%llu, %llu) = %d kind %s len %llu; walk says %s", (unsigned long long)off,
			         (unsigned long long)max, rc, kind_name(e.kind), (unsigned long long)e.length,
			         kind_name(ext[k].kind));
			sample_ok = false;
		}
		uint8_t small[7001];
		size_t len = (size_t)(size - off < max ? size - off : max);
		if (sample_ok && (img_read(r, off, small, len) < 0 || memcmp(small, raw + off, len) != 0)) {
			tap_diag("read(%llu, %zu) differs", (unsigned long long)off, len);
			sample_ok = false;
		}
	}
	TAP_CHECK(sample_ok, "%s: map/read at 200 scattered offsets with small limits", label);

	if (size > 0) {
		img_extent e;
		TAP_CHECK(img_map(r, size, 1, &e) == -EINVAL && img_read(r, size - 1, buf, 2) == -EINVAL &&
		              img_read(r, 0, buf, IMG_MAX_IO + 1) == -EINVAL && img_read(r, size, buf, 0) == 0,
		          "%s: out-of-range map/read are -EINVAL", label);
	}
	TAP_CHECK_STR_EQ(img_reader_error(r), "", "%s: no error recorded", label);
	free(ext);
	free(buf);
	free(raw);
	close_image(r, fd);
}

/* qemu-io commands writing compressed clusters, data and zeros, for any
 * cluster size up to 2 MiB (the image is 8 MiB). Compressed writes come
 * first: qemu only compresses into unallocated whole clusters. */
static int qemu_io_workload(const char *path, uint32_t cs, bool v2)
{
	return sh("qemu-io -f qcow2 -c 'write -c -P 0x33 %u %u' -c 'write -c -P 0x34 %u %u' "
	          "-c 'write -P 0x11 0 3k' -c 'write -P 0x22 70k 130k' %s "
	          "-c 'write -P 0x44 3146240 1k' -c 'write -P 0x55 6M 2M' -c 'write -z 6M 1M' "
	          "-c 'write -z 3211264 4k' '%s' > /dev/null",
	          4u << 20, cs, (4u << 20) + cs, cs, v2 ? "" : "-c 'write -z 1M 512k'", path);
}

static void good_images(void)
{
	static const uint32_t sizes[] = { 512, 4096, 65536, 2u << 20 };
	char label[128], path[PATH_MAX];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (int v2 = 0; v2 <= 1; v2++) {
			snprintf(label, sizeof(label), "%s cluster %u", v2 ? "v2" : "v3", sizes[i]);
			snprintf(path, sizeof(path), "%s", tmp("good.qcow2"));
			if (sh("qemu-img create -q -f qcow2 -o compat=%s,cluster_size=%u '%s' 8M", v2 ? "0.10" : "1.1",
			       sizes[i], path) < 0 ||
			    qemu_io_workload(path, sizes[i], v2) < 0) {
				TAP_CHECK(false, "%s: created", label);
				continue;
			}
			/* Zero writes cover whole clusters only below 2 MiB clusters. */
			expect x = { .cluster_size = sizes[i], .version = v2 ? 2 : 3, .compression = "zlib",
			             .features = "", .compressed = true, .zero = !v2 && sizes[i] < (2u << 20) };
			check_image(label, path, &x);
		}
	}

	/* qemu-img convert -c from mixed raw content, both compression types. */
	make_raw(tmp("src.raw"), 5u << 20 | 12345, 3);
	/* 512-byte clusters make qemu slow: a smaller source for those. */
	make_raw(tmp("small.raw"), 1u << 20 | 12345, 4);
	static const char *types[] = { "zlib", "zstd" };
	static const uint32_t csizes[] = { 512, 65536, 2u << 20 };
	for (size_t t = 0; t < 2; t++) {
		for (size_t i = 0; i < sizeof(csizes) / sizeof(csizes[0]); i++) {
			snprintf(label, sizeof(label), "convert -c %s cluster %u", types[t], csizes[i]);
			snprintf(path, sizeof(path), "%s", tmp("conv.qcow2"));
			unlink(path);
			if (sh("qemu-img convert -c -f raw -O qcow2 -o cluster_size=%u,compression_type=%s '%s' '%s'",
			       csizes[i], types[t], tmp(csizes[i] < 4096 ? "small.raw" : "src.raw"), path) < 0) {
				TAP_CHECK(false, "%s: created", label);
				continue;
			}
			expect x = { .cluster_size = csizes[i], .version = 3, .compression = types[t], .features = "",
			             .compressed = true };
			check_image(label, path, &x);
		}
	}
	/* v2 compressed (zlib only). */
	snprintf(path, sizeof(path), "%s", tmp("conv2.qcow2"));
	unlink(path);
	if (sh("qemu-img convert -c -f raw -O qcow2 -o compat=0.10 '%s' '%s'", tmp("src.raw"), path) == 0) {
		expect x = { .cluster_size = 65536, .version = 2, .compression = "zlib", .features = "",
		             .compressed = true };
		check_image("v2 convert -c", path, &x);
	}

	/* Extended L2: subcluster-granular data and zeros, a compressed cluster. */
	static const uint32_t xsizes[] = { 16384, 65536, 2u << 20 };
	for (size_t i = 0; i < sizeof(xsizes) / sizeof(xsizes[0]); i++) {
		uint32_t cs = xsizes[i], sc = cs / 32;
		snprintf(label, sizeof(label), "extended_l2 cluster %u", cs);
		snprintf(path, sizeof(path), "%s", tmp("ext.qcow2"));
		if (sh("qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=%u '%s' 8M", cs, path) < 0 ||
		    sh("qemu-io -f qcow2 -c 'write -c -P 0x77 6M %u' -c 'write -P 0x67 0 %u' -c 'write -P 0x55 %u %u' "
		       "-c 'write -z %u %u' -c 'write -P 0x66 %u %u' -c 'write -z 4M %u' -c 'write -P 0x78 5M 512k' "
		       "-c 'write -z %u %u' '%s' > /dev/null",
		       cs, cs / 2 + 5, cs + sc, sc, cs + 3 * sc, 2 * sc, cs + 7 * sc, 3 * sc, 5 * sc, (5u << 20) + 65536,
		       sc, path) < 0) {
			TAP_CHECK(false, "%s: created", label);
			continue;
		}
		expect x = { .cluster_size = cs, .version = 3, .compression = "zlib", .features = "extended_l2",
		             .compressed = true, .zero = true };
		check_image(label, path, &x);
	}

	/* Metadata preallocation: every cluster allocated, file sparse. */
	snprintf(path, sizeof(path), "%s", tmp("prealloc.qcow2"));
	if (sh("qemu-img create -q -f qcow2 -o preallocation=metadata '%s' 6M", path) == 0 &&
	    sh("qemu-io -f qcow2 -c 'write -P 0x99 1M 100k' '%s' > /dev/null", path) == 0) {
		expect x = { .cluster_size = 65536, .version = 3, .compression = "zlib", .features = "" };
		check_image("preallocation=metadata", path, &x);
	}

	/* A virtual size that is not a multiple of the cluster size. */
	snprintf(path, sizeof(path), "%s", tmp("odd.qcow2"));
	if (sh("qemu-img create -q -f qcow2 -o cluster_size=4096 '%s' 1000000", path) == 0 &&
	    sh("qemu-io -f qcow2 -c 'write -c -P 0x43 995328 5120' -c 'write -P 0x42 0 995328' '%s' > /dev/null",
	       path) == 0) {
		expect x = { .cluster_size = 4096, .version = 3, .compression = "zlib", .features = "",
		             .compressed = true };
		check_image("virtual size not a cluster multiple", path, &x);
	}

	/* Empty disk. */
	snprintf(path, sizeof(path), "%s", tmp("empty.qcow2"));
	if (sh("qemu-img create -q -f qcow2 '%s' 0", path) == 0) {
		expect x = { .cluster_size = 65536, .version = 3, .compression = "zlib", .features = "" };
		check_image("zero-size disk", path, &x);
	}

	/* Lazy refcounts, then the dirty bit a crash would leave behind. */
	snprintf(path, sizeof(path), "%s", tmp("lazy.qcow2"));
	if (sh("qemu-img create -q -f qcow2 -o lazy_refcounts=on '%s' 4M", path) == 0 &&
	    sh("qemu-io -f qcow2 -c 'write -P 0x12 64k 64k' -c 'write -z 1M 1M' '%s' > /dev/null", path) == 0) {
		expect x = { .cluster_size = 65536, .version = 3, .compression = "zlib", .features = "lazy_refcounts",
		             .zero = true };
		check_image("lazy_refcounts", path, &x);
		put_be64(path, 72, get_be(path, 72, 8) | 1);
		x.features = "dirty lazy_refcounts";
		check_image("dirty + lazy_refcounts", path, &x);
	}
}

/* ---- hostile images ------------------------------------------------------ */

/* Expects qcow2_open to fail with `want` and a message containing `needle`. */
static void expect_open_fails(const char *label, const char *path, int want, const char *needle)
{
	img_reader *r;
	int fd;
	char err[512];
	int rc = open_image(path, &r, &fd, err, sizeof(err));
	bool ok = rc == want && strstr(err, needle) != NULL;
	if (!ok)
		tap_diag("got %d (%s), message '%s'; want %d (%s) and '%s'", rc, strerror(rc < 0 ? -rc : 0), err, want,
		         strerror(-want), needle);
	TAP_CHECK(ok, "%s: refused with %s", label, strerror(-want));
	if (rc == 0)
		close_image(r, fd);
}

/* Expects the image to open but reading it all (map, then read) to fail. */
static void expect_read_fails(const char *label, const char *path, int want, const char *needle, bool map_fails)
{
	img_reader *r;
	int fd;
	char err[512];
	int rc = open_image(path, &r, &fd, err, sizeof(err));
	if (!TAP_CHECK(rc == 0, "%s: opens (%s)", label, err))
		return;
	uint64_t size = r->info.virtual_size;
	int map_rc = 0, read_rc = 0;
	for (uint64_t off = 0; off < size && map_rc == 0;) {
		img_extent e;
		map_rc = img_map(r, off, UINT64_MAX, &e);
		off += map_rc == 0 ? e.length : 0;
	}
	size_t chunk = 1u << 20;
	uint8_t *buf = malloc(chunk);
	for (uint64_t off = 0; off < size && read_rc == 0; off += chunk)
		read_rc = img_read(r, off, buf, size - off < chunk ? (size_t)(size - off) : chunk);
	free(buf);
	const char *msg = img_reader_error(r);
	bool ok = (map_fails ? map_rc == want : map_rc == 0) && read_rc == want && strstr(msg, needle) != NULL;
	if (!ok)
		tap_diag("map %d, read %d, message '%s'; want %d and '%s'", map_rc, read_rc, msg, want, needle);
	TAP_CHECK(ok, "%s: %sread fails with %s", label, map_fails ? "map and " : "", strerror(-want));
	close_image(r, fd);
}

/* Rewrites the feature-name table entry (type, bit) of a qemu image. */
static bool rename_feature(const char *path, uint8_t type, uint8_t bit, uint8_t new_type, uint8_t new_bit,
                           const char *name)
{
	size_t len;
	uint8_t *p = slurp(path, &len);
	bool done = false;
	uint32_t hl = (uint32_t)get_be(path, 100, 4);
	for (size_t off = hl; p && off + 8 <= len && off < 65536;) {
		uint32_t t = (uint32_t)get_be(path, off, 4), l = (uint32_t)get_be(path, off + 4, 4);
		if (t == 0)
			break;
		if (t == 0x6803f857u) {
			for (size_t e = off + 8; e + 48 <= off + 8 + l; e += 48) {
				if (p[e] == type && p[e + 1] == bit) {
					uint8_t entry[48] = { new_type, new_bit };
					snprintf((char *)entry + 2, 46, "%s", name);
					put(path, e, entry, 48);
					done = true;
				}
			}
		}
		off += 8 + ((l + 7u) & ~7u);
	}
	free(p);
	return done;
}

static void hostile_images(void)
{
	const char *base = tmp("base.qcow2"), *bad = tmp("bad.qcow2");
	/* 64 KiB clusters; data at cluster 0..1, a compressed cluster at 2,
	 * zeros at 1 MiB; 4 MiB disk. */
	if (!TAP_CHECK(sh("qemu-img create -q -f qcow2 '%s' 4M", base) == 0 &&
	                   sh("qemu-io -f qcow2 -c 'write -P 0x11 0 128k' -c 'write -c -P 0x22 128k 64k' "
	                      "-c 'write -z 1M 1M' -c 'write -P 0x33 3M 64k' '%s' >/dev/null",
	                      base) == 0,
	               "hostile base image created"))
		return;
	layout L = get_layout(base);
	uint64_t e0 = get_be(base, l2_entry_off(&L, 0, 8), 8);
	uint64_t e2 = get_be(base, l2_entry_off(&L, 2, 8), 8);
	TAP_CHECK((e2 >> 62 & 1) == 1 && (e0 >> 62 & 1) == 0 && L.l2_off != 0, "base layout: cluster 2 compressed");

	/* Truncations. */
	static const struct {
		uint64_t len;
		const char *what;
	} cuts[] = { { 0, "magic" }, { 3, "magic" }, { 50, "truncated" }, { 100, "truncated" } };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		copy_file(base, bad);
		if (truncate(bad, (off_t)cuts[i].len) < 0)
			tap_diag("truncate failed");
		char label[64];
		snprintf(label, sizeof(label), "truncated to %llu bytes", (unsigned long long)cuts[i].len);
		expect_open_fails(label, bad, -EBADMSG, cuts[i].what);
	}
	copy_file(base, bad);
	if (truncate(bad, (off_t)(L.l1_off + 4)) == 0)
		expect_open_fails("truncated inside the L1 table", bad, -EBADMSG, "L1 table");
	copy_file(base, bad);
	if (truncate(bad, (off_t)(L.l2_off + 100)) == 0)
		expect_open_fails("truncated inside an L2 table", bad, -EBADMSG, "L2 table");
	copy_file(base, bad);
	if (truncate(bad, (off_t)(L.fsize - 4096)) == 0)
		expect_read_fails("truncated inside the last data cluster", bad, -EBADMSG, "beyond the end", true);

	/* Header fields. */
	copy_file(base, bad);
	put(bad, 0, "QFI\xfc", 4);
	expect_open_fails("bad magic", bad, -EBADMSG, "magic");
	static const uint32_t versions[] = { 0, 1, 4, 0xffffffffu };
	for (size_t i = 0; i < 4; i++) {
		copy_file(base, bad);
		put_be32(bad, 4, versions[i]);
		char label[64];
		snprintf(label, sizeof(label), "version %u", versions[i]);
		expect_open_fails(label, bad, -ENOTSUP, "version");
	}
	copy_file(base, bad);
	put_be32(bad, 20, 8);
	expect_open_fails("cluster_bits 8", bad, -EBADMSG, "cluster size");
	copy_file(base, bad);
	put_be32(bad, 20, 22);
	expect_open_fails("cluster_bits 22", bad, -ENOTSUP, "cluster size");
	copy_file(base, bad);
	put_be32(bad, 20, 0xffffffffu);
	expect_open_fails("cluster_bits 2^32-1", bad, -ENOTSUP, "cluster size");
	copy_file(base, bad);
	put_be32(bad, 100, 96);
	expect_open_fails("header_length 96", bad, -EBADMSG, "header length");
	copy_file(base, bad);
	put_be32(bad, 100, 65536 + 8);
	expect_open_fails("header_length beyond the cluster", bad, -EBADMSG, "header length");

	/* L1 table. */
	copy_file(base, bad);
	put_be64(bad, 40, L.l1_off + 8);
	expect_open_fails("L1 offset unaligned", bad, -EBADMSG, "not cluster-aligned");
	copy_file(base, bad);
	put_be64(bad, 40, (L.fsize + 65535) / 65536 * 65536 + (1u << 20));
	expect_open_fails("L1 offset beyond EOF", bad, -EBADMSG, "beyond the end");
	copy_file(base, bad);
	put_be64(bad, 40, 1ull << 62);
	expect_open_fails("L1 offset 2^62", bad, -EBADMSG, "beyond the end");
	copy_file(base, bad);
	put_be64(bad, 40, 0);
	expect_open_fails("L1 overlapping the header", bad, -EBADMSG, "overlaps the header");
	copy_file(base, bad);
	put_be32(bad, 36, 0xffffffffu);
	expect_open_fails("huge l1_size", bad, -EFBIG, "L1 table");
	copy_file(base, bad);
	put_be32(bad, 36, 4u << 20);
	expect_open_fails("l1_size 4 Mi entries past EOF", bad, -EBADMSG, "beyond the end");
	copy_file(base, bad);
	put_be32(bad, 36, 0);
	expect_open_fails("l1_size 0 for a 4 MiB disk", bad, -EBADMSG, "needs");
	copy_file(base, bad);
	put_be64(bad, 24, 1ull << 62);
	expect_open_fails("virtual size 2^62", bad, -EFBIG, "virtual size");
	copy_file(base, bad);
	put_be64(bad, 24, UINT64_MAX);
	expect_open_fails("virtual size 2^64-1", bad, -EFBIG, "virtual size");
	copy_file(base, bad);
	put_be64(bad, 24, 1ull << 40);
	expect_open_fails("1 TiB virtual size with a 1-entry L1", bad, -EBADMSG, "needs");

	/* L2 table offsets in the L1 table. */
	copy_file(base, bad);
	put_be64(bad, L.l1_off, (L.l2_off + 512) | 1ull << 63);
	expect_open_fails("L2 offset unaligned", bad, -EBADMSG, "not cluster-aligned");
	copy_file(base, bad);
	put_be64(bad, L.l1_off, (L.fsize + (1u << 20)) / 65536 * 65536 | 1ull << 63);
	expect_open_fails("L2 offset beyond EOF", bad, -EBADMSG, "beyond the end");
	copy_file(base, bad);
	put_be64(bad, L.l1_off, 0x00fffffffffe0000ull | 1ull << 63);
	expect_open_fails("L2 offset 2^56-128K", bad, -EBADMSG, "beyond the end");

	/* Features. */
	copy_file(base, bad);
	put_be64(bad, 8, 0x1000);
	put_be32(bad, 16, 8);
	put(bad, 0x1000, "base.img", 8);
	expect_open_fails("backing file (patched)", bad, -ENOTSUP, "'base.img'");
	const char *ov = tmp("overlay.qcow2");
	if (sh("qemu-img create -q -f qcow2 -b '%s' -F qcow2 '%s'", base, ov) == 0)
		expect_open_fails("backing file (qemu-img -b)", ov, -ENOTSUP, "backing file");
	copy_file(base, bad);
	put_be32(bad, 32, 1);
	expect_open_fails("crypt_method 1", bad, -ENOTSUP, "AES");
	copy_file(base, bad);
	put_be32(bad, 32, 2);
	expect_open_fails("crypt_method 2", bad, -ENOTSUP, "LUKS");
	copy_file(base, bad);
	put_be32(bad, 32, 7);
	expect_open_fails("crypt_method 7", bad, -ENOTSUP, "encryption");
	const char *luks = tmp("luks.qcow2");
	if (sh("qemu-img create -q -f qcow2 --object secret,id=s0,data=pw -o "
	       "encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10 '%s' 1M",
	       luks) == 0)
		expect_open_fails("LUKS image from qemu-img", luks, -ENOTSUP, "LUKS");
	else /* qemu's PBKDF benchmark can fail on a loaded machine */
		tap_skip("qemu-img could not create a LUKS image");
	copy_file(base, bad);
	put_be64(bad, 72, 1u << 1);
	expect_open_fails("corrupt bit", bad, -EBADMSG, "marked corrupt");
	copy_file(base, bad);
	put_be64(bad, 72, 1u << 2);
	expect_open_fails("external data file bit", bad, -ENOTSUP, "external data file");
	const char *df = tmp("df.qcow2");
	if (sh("qemu-img create -q -f qcow2 -o data_file='%s' '%s' 1M", tmp("df.raw"), df) == 0)
		expect_open_fails("external data file (qemu-img)", df, -ENOTSUP, "external data file");
	copy_file(base, bad);
	put_be64(bad, 72, 1u << 9);
	expect_open_fails("unknown incompatible bit 9", bad, -ENOTSUP, "bit 9");
	copy_file(base, bad);
	TAP_CHECK(rename_feature(bad, 2, 1, 0, 5, "frobnicated clusters"), "feature-name table patched");
	put_be64(bad, 72, 1ull << 5 | 1ull << 40);
	expect_open_fails("unknown incompatible bit 5 named in the table", bad, -ENOTSUP,
	                  "'frobnicated clusters' (bit 5), bit 40");
	copy_file(base, bad);
	put_be64(bad, 72, 1u << 4 | 1u << 5);
	expect_open_fails("unknown bit with a known one", bad, -ENOTSUP, "bit 5");
	copy_file(base, bad);
	put(bad, 104, "\x02", 1);
	expect_open_fails("compression type 2", bad, -ENOTSUP, "compression type 2");
	copy_file(base, bad);
	put(bad, 104, "\x01", 1);
	expect_open_fails("zstd type without incompatible bit 3", bad, -EBADMSG, "bit 3");
	copy_file(base, bad);
	put_be64(bad, 72, 1u << 3);
	expect_open_fails("incompatible bit 3 with zlib type", bad, -EBADMSG, "bit 3");

	/* Header extensions. */
	copy_file(base, bad);
	put_be32(bad, 112 + 4, 70000);
	expect_open_fails("header extension longer than the cluster", bad, -EBADMSG, "extension");
	copy_file(base, bad);
	{
		/* 2000 empty extensions of an unknown type. */
		uint8_t *ext = calloc(2000, 8);
		for (int i = 0; i < 2000; i++)
			ext[i * 8 + 3] = 0x42;
		put(bad, 112, ext, 2000 * 8);
		free(ext);
	}
	expect_open_fails("2000 header extensions", bad, -EBADMSG, "header extensions");
	copy_file(base, bad);
	{
		uint8_t zero[1024] = { 0 };
		put(bad, 112, zero, sizeof(zero));
	}
	put_be64(bad, 72, 1u << 6);
	expect_open_fails("unknown bit, no feature-name table", bad, -ENOTSUP, "bit 6");

	/* Extended L2 needs 16 KiB clusters (qemu's rule). */
	const char *small = tmp("small.qcow2");
	if (sh("qemu-img create -q -f qcow2 -o cluster_size=4096 '%s' 1M", small) == 0) {
		put_be64(small, 72, 1u << 4);
		expect_open_fails("extended L2 with 4 KiB clusters", small, -ENOTSUP, "16 KiB");
	}

	/* L2 entries: found when used. */
	copy_file(base, bad);
	put_be64(bad, l2_entry_off(&L, 0, 8), e0 + 512);
	expect_read_fails("data cluster offset unaligned", bad, -EBADMSG, "unaligned", true);
	copy_file(base, bad);
	put_be64(bad, l2_entry_off(&L, 0, 8), ((L.fsize + 65536 * 4) & ~0xffffull) | 1ull << 63);
	expect_read_fails("data cluster beyond EOF", bad, -EBADMSG, "beyond the end", true);
	copy_file(base, bad);
	put_be64(bad, l2_entry_off(&L, 0, 8), 0x00ffffffffff0000ull | 1ull << 63);
	expect_read_fails("data cluster at 2^56-64K", bad, -EBADMSG, "beyond the end", true);

	uint32_t shift = 62 - (16 - 8);
	uint64_t coff = e2 & ((1ull << shift) - 1);
	copy_file(base, bad);
	put_be64(bad, l2_entry_off(&L, 2, 8), (e2 & ~((1ull << shift) - 1)) | (L.fsize + 100));
	expect_read_fails("compressed cluster beyond EOF", bad, -EBADMSG, "beyond the end", true);
	copy_file(base, bad);
	put_be64(bad, l2_entry_off(&L, 2, 8), 1ull << 62 | ((1ull << shift) - 1));
	expect_read_fails("compressed cluster at the largest offset", bad, -EBADMSG, "beyond the end", true);
	copy_file(base, bad);
	{
		uint8_t junk[512];
		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (uint8_t)(i * 37 + 11);
		put(bad, coff, junk, sizeof(junk));
	}
	expect_read_fails("garbage compressed data", bad, -EBADMSG, "decompress", false);
	copy_file(base, bad);
	{
		/* The first 20 bytes of the stream, at the very end of the file:
		 * the read is clamped there and the stream runs out. */
		uint8_t head[20];
		int fd = open(base, O_RDONLY);
		if (fd < 0 || pread(fd, head, sizeof(head), (off_t)coff) != (ssize_t)sizeof(head))
			tap_diag("reading the compressed stream failed");
		if (fd >= 0)
			close(fd);
		put(bad, L.fsize, head, sizeof(head));
		put_be64(bad, l2_entry_off(&L, 2, 8), (e2 & ~((1ull << shift) - 1)) | L.fsize);
	}
	expect_read_fails("compressed stream cut short by EOF", bad, -EBADMSG, "decompress", false);

	/* The same for zstd. */
	const char *zb = tmp("zbase.qcow2");
	if (sh("qemu-img create -q -f qcow2 -o compression_type=zstd '%s' 4M", zb) == 0 &&
	    sh("qemu-io -f qcow2 -c 'write -P 0x11 0 128k' -c 'write -c -P 0x22 128k 64k' '%s' >/dev/null", zb) ==
	        0) {
		layout Z = get_layout(zb);
		uint64_t z2 = get_be(zb, l2_entry_off(&Z, 2, 8), 8);
		uint64_t zoff = z2 & ((1ull << shift) - 1);
		copy_file(zb, bad);
		uint8_t junk[64];
		memset(junk, 0x5a, sizeof(junk));
		put(bad, zoff + 4, junk, sizeof(junk));
		expect_read_fails("garbage zstd data", bad, -EBADMSG, "zstd", false);
		copy_file(zb, bad);
		/* A valid frame of a cluster and a half: overlong. */
		uint8_t big[98304], frame[2048];
		memset(big, 0x22, sizeof(big));
		size_t fl = ZSTD_compress(frame, sizeof(frame), big, sizeof(big), 3);
		if (TAP_CHECK(!ZSTD_isError(fl), "zstd frame made")) {
			put(bad, zoff, frame, fl);
			expect_read_fails("zstd frame larger than a cluster", bad, -EBADMSG, "zstd", false);
		}
	}

	/* Version 2 images have no zero flag. */
	const char *v2 = tmp("v2.qcow2");
	if (sh("qemu-img create -q -f qcow2 -o compat=0.10 '%s' 1M", v2) == 0 &&
	    sh("qemu-io -f qcow2 -c 'write -P 0x11 0 64k' '%s' >/dev/null", v2) == 0) {
		layout V = get_layout(v2);
		put_be64(v2, l2_entry_off(&V, 1, 8), 1);
		expect_read_fails("zero flag in a v2 image", v2, -EBADMSG, "version 2", true);
	}

	/* Extended L2 bitmaps. */
	const char *xb = tmp("xbase.qcow2");
	if (sh("qemu-img create -q -f qcow2 -o extended_l2=on '%s' 1M", xb) == 0 &&
	    sh("qemu-io -f qcow2 -c 'write -P 0x11 2k 2k' '%s' >/dev/null", xb) == 0) {
		layout X = get_layout(xb);
		uint64_t bm = get_be(xb, l2_entry_off(&X, 0, 16) + 8, 8);
		TAP_CHECK_INT_EQ(bm, 2, "extended L2 bitmap: subcluster 1 allocated");
		copy_file(xb, bad);
		put_be64(bad, l2_entry_off(&X, 0, 16) + 8, bm | 2ull << 32);
		expect_read_fails("subcluster allocated and zero", bad, -EBADMSG, "both allocated and zero", true);
		copy_file(xb, bad);
		put_be64(bad, l2_entry_off(&X, 1, 16) + 8, 1);
		expect_read_fails("allocated subcluster in an unallocated cluster", bad, -EBADMSG,
		                  "unallocated cluster", true);
		copy_file(xb, bad);
		/* qemu wrote only subcluster 1: the rest of the cluster is past EOF. */
		put_be64(bad, l2_entry_off(&X, 0, 16) + 8, 0xffffffffull);
		expect_read_fails("allocated subclusters past EOF", bad, -EBADMSG, "beyond the end", true);
	}
}

int main(void)
{
	snprintf(g_dir, sizeof(g_dir), "%s/test_qcow2.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(g_dir)) {
		TAP_CHECK(false, "scratch directory");
		return tap_done();
	}
	if (!TAP_CHECK(system("qemu-img --version > /dev/null 2>&1") == 0 &&
	                   system("qemu-io --version > /dev/null 2>&1") == 0,
	               "qemu-img and qemu-io are installed (required by this test)")) {
		rmdir(g_dir);
		return tap_done();
	}
	good_images();
	hostile_images();
	sh("rm -rf '%s'", g_dir);
	for (size_t i = 0; i < g_npaths; i++)
		free(g_paths[i]);
	return tap_done();
}
