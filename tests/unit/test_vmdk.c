/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the vmdk reader (lib/formats/vmdk.c).
 *
 * Real images come from qemu-img (monolithicSparse, streamOptimized, zeroed
 * grains); images in VMware's stream layout (grain directory only in the
 * footer, GT/GD markers, 4 KiB and 1 MiB grains) are written here. Every
 * byte read through the reader is compared with `qemu-img convert -O raw` of
 * the same image, and map() with `qemu-img map`. Hostile variants are patched
 * from those images; each must fail with the expected errno and a message
 * naming the problem.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "formats/image.h"
#include "tap.h"

#define SECTOR 512u
#define MiB (1024u * 1024u)
#define PATH_LEN 512

typedef struct buf {
	uint8_t *p;
	size_t len;
} buf;

static char tmpdir[64];

/* ------------------------------------------------------------ helpers */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static const char *tpath(char *out, const char *name)
{
	snprintf(out, PATH_LEN, "%s/%s", tmpdir, name);
	return out;
}

__attribute__((format(printf, 1, 2))) static int run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return st == 0 ? 0 : -1;
}

static bool load(const char *path, buf *b)
{
	b->p = NULL;
	b->len = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	struct stat st;
	if (fstat(fileno(f), &st) < 0) {
		fclose(f);
		return false;
	}
	b->len = (size_t)st.st_size;
	b->p = malloc(b->len ? b->len : 1);
	bool ok = b->p && fread(b->p, 1, b->len, f) == b->len;
	fclose(f);
	return ok;
}

static bool save(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return false;
	bool ok = fwrite(p, 1, len, f) == len;
	return fclose(f) == 0 && ok;
}

static buf dup_buf(const buf *b)
{
	buf c = { malloc(b->len ? b->len : 1), b->len };
	if (c.p)
		memcpy(c.p, b->p, b->len);
	return c;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Deterministic bytes that do not compress away. */
static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t s = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(xorshift(&s) >> 32);
}

typedef enum { SPAN_RANDOM, SPAN_ZEROS, SPAN_TEXT } span_kind;

typedef struct span {
	uint64_t off, len;
	span_kind kind;
} span;

/* A sparse raw disk of `size` bytes with random data, explicitly written
 * zeros, compressible text and holes. Also returned in memory. */
static bool make_raw(const char *path, uint64_t size, const span *spans, size_t n, buf *mem)
{
	mem->len = (size_t)size;
	mem->p = calloc(1, mem->len ? mem->len : 1);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || !mem->p)
		return false;
	bool ok = ftruncate(fd, (off_t)size) == 0;
	for (size_t i = 0; i < n && ok; i++) {
		uint8_t *p = mem->p + spans[i].off;
		if (spans[i].kind == SPAN_RANDOM)
			fill_random(p, spans[i].len, spans[i].off);
		else if (spans[i].kind == SPAN_TEXT)
			for (uint64_t j = 0; j < spans[i].len; j++)
				p[j] = (uint8_t)"hello vmdk "[j % 11];
		ok = pwrite(fd, p, spans[i].len, (off_t)spans[i].off) == (ssize_t)spans[i].len;
	}
	return close(fd) == 0 && ok;
}

/* ------------------------------------------------------------ image writer */

static void build_header(uint8_t *h, uint32_t flags, uint64_t capacity, uint64_t gs, uint64_t desc_sectors,
                         uint64_t gd, uint64_t overhead, uint16_t compress)
{
	memset(h, 0, SECTOR);
	memcpy(h, "KDMV", 4);
	put32(h + 4, 3);
	put32(h + 8, flags);
	put64(h + 12, capacity);
	put64(h + 20, gs);
	put64(h + 28, 1);
	put64(h + 36, desc_sectors);
	put32(h + 44, 512);
	put64(h + 56, gd);
	put64(h + 64, overhead);
	memcpy(h + 73, "\n \r\n", 4);
	put16(h + 77, compress);
}

static void make_desc(char *out, size_t outlen, const char *create_type, const char *extents)
{
	snprintf(out, outlen,
	         "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType=\"%s\"\n\n"
	         "# Extent description\n%s\n\n# The Disk Data Base\n#DDB\n\nddb.adapterType = \"ide\"\n",
	         create_type, extents);
}

typedef struct out_buf {
	buf b;
	size_t cap;
} out_buf;

static void emit(out_buf *o, const void *p, size_t n)
{
	if (o->b.len + n > o->cap) {
		size_t cap = o->cap ? o->cap : 65536;
		while (cap < o->b.len + n)
			cap *= 2;
		uint8_t *np = realloc(o->b.p, cap);
		if (!np)
			abort();
		o->b.p = np;
		o->cap = cap;
	}
	if (p)
		memcpy(o->b.p + o->b.len, p, n);
	else
		memset(o->b.p + o->b.len, 0, n);
	o->b.len += n;
}

static void pad_sector(out_buf *o)
{
	if (o->b.len % SECTOR)
		emit(o, NULL, SECTOR - o->b.len % SECTOR);
}

static void emit_marker(out_buf *o, uint64_t val, uint32_t type)
{
	uint8_t m[SECTOR] = { 0 };
	put64(m, val);
	put32(m + 12, type);
	emit(o, m, SECTOR);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * Writes raw (size a multiple of 512) as a vmdk with grains of gs sectors:
 * stream = VMware's streamOptimized layout (grains, then GT and GD behind
 * markers, the GD offset only in the footer); otherwise monolithicSparse
 * with GD and GTs before the grains. full_last: a stream's last partial
 * grain is stored as a whole zero-padded grain, as VMware does.
 */
static buf gen_image(const buf *raw, uint64_t gs, bool stream, bool full_last)
{
	out_buf o = { { NULL, 0 }, 0 };
	uint64_t capacity = raw->len / SECTOR, gb = gs * SECTOR;
	uint64_t grains = (capacity + gs - 1) / gs, ngt = (grains + 511) / 512;
	uint64_t gd_sectors = (ngt * 4 + SECTOR - 1) / SECTOR;
	uint32_t *gte = calloc(ngt * 512, 4), *gde = calloc(ngt ? ngt : 1, 4);
	uint8_t hdr[SECTOR];
	char desc[2 * SECTOR] = { 0 }, ext[128];
	snprintf(ext, sizeof(ext), "RW %" PRIu64 " SPARSE \"gen.vmdk\"", capacity);
	make_desc(desc, sizeof(desc), stream ? "streamOptimized" : "monolithicSparse", ext);
	uint64_t overhead = stream ? 3 : 3 + gd_sectors + 4 * ngt;
	build_header(hdr, stream ? 0x30001u : 0x1u, capacity, gs, 2, stream ? UINT64_MAX : 3, overhead,
	             stream ? 1 : 0);
	emit(&o, hdr, SECTOR);
	emit(&o, desc, sizeof(desc));
	if (!stream)
		emit(&o, NULL, (gd_sectors + 4 * ngt) * SECTOR);

	uint8_t *grain = malloc(gb);
	uLongf cap = compressBound((uLong)gb);
	uint8_t *z = malloc(cap);
	for (uint64_t g = 0; g < grains; g++) {
		uint64_t start = g * gb, glen = raw->len - start < gb ? raw->len - start : gb;
		if (all_zero(raw->p + start, glen))
			continue;
		gte[g] = (uint32_t)(o.b.len / SECTOR);
		if (!stream) {
			emit(&o, raw->p + start, glen);
			continue;
		}
		memset(grain, 0, gb);
		memcpy(grain, raw->p + start, glen);
		uLongf zlen = cap;
		if (compress2(z, &zlen, grain, full_last ? gb : glen, 6) != Z_OK)
			abort();
		uint8_t m[12];
		put64(m, g * gs);
		put32(m + 8, (uint32_t)zlen);
		emit(&o, m, 12);
		emit(&o, z, zlen);
		pad_sector(&o);
	}
	if (stream) {
		for (uint64_t t = 0; t < ngt; t++) {
			if (all_zero((uint8_t *)(gte + t * 512), 2048))
				continue;
			emit_marker(&o, 4, 1);
			gde[t] = (uint32_t)(o.b.len / SECTOR);
			for (unsigned i = 0; i < 512; i++) {
				uint8_t e[4];
				put32(e, gte[t * 512 + i]);
				emit(&o, e, 4);
			}
		}
		emit_marker(&o, gd_sectors, 2);
		uint64_t gd = o.b.len / SECTOR;
		for (uint64_t t = 0; t < ngt; t++) {
			uint8_t e[4];
			put32(e, gde[t]);
			emit(&o, e, 4);
		}
		pad_sector(&o);
		emit_marker(&o, 1, 3);
		build_header(hdr, 0x30001u, capacity, gs, 2, gd, overhead, 1);
		emit(&o, hdr, SECTOR);
		emit_marker(&o, 0, 0);
	} else {
		for (uint64_t t = 0; t < ngt; t++) {
			uint64_t gt = 3 + gd_sectors + 4 * t;
			put32(o.b.p + 3 * SECTOR + 4 * t, (uint32_t)gt);
			for (unsigned i = 0; i < 512; i++)
				put32(o.b.p + gt * SECTOR + 4 * i, gte[t * 512 + i]);
		}
	}
	free(grain);
	free(z);
	free(gte);
	free(gde);
	return o.b;
}

/* ------------------------------------------------------------ reader access */

typedef struct opened {
	int fd;
	img_reader *r;
	int rc;
	char err[512];
} opened;

static opened open_path(const char *path)
{
	opened o = { .fd = open(path, O_RDONLY), .r = NULL, .rc = -EBADF, .err = "" };
	if (o.fd >= 0)
		o.rc = vmdk_open(o.fd, &o.r, o.err, sizeof(o.err));
	return o;
}

static opened open_bytes(const buf *b)
{
	char p[PATH_LEN];
	if (!save(tpath(p, "case.vmdk"), b->p, b->len))
		return (opened){ .fd = -1, .rc = -EIO, .err = "cannot write the test image" };
	return open_path(p);
}

static void close_opened(opened *o)
{
	if (o->rc == 0)
		img_close(o->r);
	if (o->fd >= 0)
		close(o->fd);
}

/* Reads the whole disk in chunks of `chunk` bytes; compares with want when
 * given. Returns the first error, or 1 on a mismatch. */
static int read_all(img_reader *r, size_t chunk, const buf *want)
{
	uint64_t size = r->info.virtual_size;
	uint8_t *b = malloc(chunk);
	int rc = 0;
	for (uint64_t off = 0; off < size && rc == 0; off += chunk) {
		size_t n = size - off < chunk ? (size_t)(size - off) : chunk;
		rc = img_read(r, off, b, n);
		if (rc == 0 && want && memcmp(b, want->p + off, n) != 0)
			rc = 1;
	}
	free(b);
	return rc;
}

/* Walks map() over the whole disk; checks the extents tile it. Returns the
 * first error, or 1 when the contract is broken. */
static int map_all(img_reader *r, uint64_t max, unsigned *holes, unsigned *zeros, unsigned *data)
{
	uint64_t size = r->info.virtual_size, off = 0;
	while (off < size) {
		img_extent e;
		int rc = img_map(r, off, max, &e);
		if (rc < 0)
			return rc;
		if (e.offset != off || e.length == 0 || e.length > max || e.length > size - off)
			return 1;
		if (e.kind == IMG_EXTENT_HOLE && holes)
			++*holes;
		if (e.kind == IMG_EXTENT_ZERO && zeros)
			++*zeros;
		if (e.kind == IMG_EXTENT_DATA && data)
			++*data;
		if (e.compressed != (e.kind == IMG_EXTENT_DATA && strcmp(r->info.compression, "deflate") == 0))
			return 1;
		off += e.length;
	}
	return 0;
}

/* Every range of `qemu-img map` must map to the same kind here. */
static bool map_matches_qemu(img_reader *r, const char *path, char *why, size_t whylen)
{
	char jpath[PATH_LEN];
	tpath(jpath, "map.json");
	if (run("qemu-img map --output=json -f vmdk '%s' > '%s' 2>/dev/null", path, jpath) != 0) {
		snprintf(why, whylen, "qemu-img map failed");
		return false;
	}
	json_error_t jerr;
	json_t *j = json_load_file(jpath, 0, &jerr);
	if (!json_is_array(j)) {
		snprintf(why, whylen, "bad qemu-img map output");
		json_decref(j);
		return false;
	}
	bool ok = true;
	size_t i;
	json_t *ent;
	json_array_foreach(j, i, ent)
	{
		uint64_t start = (uint64_t)json_integer_value(json_object_get(ent, "start"));
		uint64_t len = (uint64_t)json_integer_value(json_object_get(ent, "length"));
		img_extent_kind want = json_is_true(json_object_get(ent, "data"))      ? IMG_EXTENT_DATA
		                       : json_is_true(json_object_get(ent, "present")) ? IMG_EXTENT_ZERO
		                                                                       : IMG_EXTENT_HOLE;
		for (uint64_t pos = start; ok && pos < start + len;) {
			img_extent e;
			int rc = img_map(r, pos, start + len - pos, &e);
			if (rc < 0 || e.kind != want || e.length == 0 || e.length > start + len - pos) {
				snprintf(why, whylen, "at %" PRIu64 ": rc %d kind %d, qemu says %d", pos, rc, (int)e.kind,
				         (int)want);
				ok = false;
			}
			pos += e.length;
		}
		if (!ok)
			break;
	}
	json_decref(j);
	return ok;
}

typedef struct thr_arg {
	img_reader *r;
	const buf *ref;
	uint64_t seed;
	unsigned bad;
} thr_arg;

/* Random reads and maps from several threads at once must all be right. */
static void *reader_thread(void *p)
{
	thr_arg *a = p;
	uint64_t size = a->r->info.virtual_size, grain = a->r->info.cluster_size, s = a->seed;
	uint8_t *b = malloc(IMG_MAX_IO);
	for (int i = 0; i < 48 && b; i++) {
		uint64_t x = xorshift(&s), off, len;
		if (x & 1) { /* whole grains: the decompress-in-place path */
			off = (x >> 8) % ((size + grain - 1) / grain) * grain;
			len = grain * (1 + (x >> 40) % 4);
		} else {
			off = (x >> 8) % size;
			len = 1 + (x >> 40) % (256 * 1024);
		}
		if (len > size - off)
			len = size - off;
		if (img_read(a->r, off, b, (size_t)len) != 0 || memcmp(b, a->ref->p + off, (size_t)len) != 0)
			a->bad++;
		img_extent e;
		if (img_map(a->r, off, len, &e) != 0 || e.offset != off || e.length == 0 || e.length > len)
			a->bad++;
	}
	free(b);
	return NULL;
}

typedef struct expect {
	const char *subformat;
	const char *compression;
	const char *features; /* each space-separated word must be listed */
	uint32_t cluster_size;
	bool has_holes;
	bool has_zeros;
} expect;

static bool features_have(const char *list, const char *words)
{
	char w[64];
	while (sscanf(words, "%63s", w) == 1) {
		char padded_list[300], padded_w[70];
		snprintf(padded_list, sizeof(padded_list), " %s ", list);
		snprintf(padded_w, sizeof(padded_w), " %s ", w);
		if (!strstr(padded_list, padded_w))
			return false;
		words = strstr(words, w) + strlen(w);
	}
	return true;
}

/* Opens a valid image and checks every byte and every extent. `source`, when
 * given, is the raw disk it was made from. */
static void check_image(const char *label, const char *path, const buf *source, const expect *x)
{
	char refpath[PATH_LEN], why[256] = "";
	opened o = open_path(path);
	if (!TAP_CHECK_INT_EQ(o.rc, 0, "%s: opens (%s)", label, o.err)) {
		close_opened(&o);
		return;
	}
	img_reader *r = o.r;
	TAP_CHECK_STR_EQ(r->info.format, "vmdk", "%s: format", label);
	TAP_CHECK_STR_EQ(r->info.subformat, x->subformat, "%s: subformat", label);
	TAP_CHECK_STR_EQ(r->info.compression, x->compression, "%s: compression", label);
	TAP_CHECK_INT_EQ(r->info.cluster_size, x->cluster_size, "%s: grain size", label);
	TAP_CHECK(features_have(r->info.features, x->features), "%s: features \"%s\" include \"%s\"", label,
	          r->info.features, x->features);
	struct stat st;
	TAP_CHECK(stat(path, &st) == 0 && r->info.file_size == (uint64_t)st.st_size, "%s: file size", label);

	buf ref = { NULL, 0 };
	bool have_ref = run("qemu-img convert -f vmdk -O raw '%s' '%s' 2>/dev/null", path,
	                    tpath(refpath, "ref.raw")) == 0 &&
	                load(refpath, &ref);
	if (!TAP_CHECK(have_ref, "%s: qemu-img converts it to raw", label))
		goto out;
	TAP_CHECK_INT_EQ(r->info.virtual_size, ref.len, "%s: virtual size matches qemu", label);
	if (ref.len != r->info.virtual_size)
		goto out;
	if (source)
		TAP_CHECK(source->len == ref.len && memcmp(source->p, ref.p, ref.len) == 0,
		          "%s: qemu reads back the source disk", label);
	TAP_CHECK_INT_EQ(read_all(r, IMG_MAX_IO, &ref), 0, "%s: 4 MiB reads match qemu", label);
	TAP_CHECK_INT_EQ(read_all(r, 100003, &ref), 0, "%s: unaligned reads match qemu", label);
	TAP_CHECK_INT_EQ(read_all(r, r->info.cluster_size, &ref), 0, "%s: grain-sized reads match qemu", label);

	unsigned holes = 0, zeros = 0, data = 0;
	TAP_CHECK_INT_EQ(map_all(r, UINT64_MAX, &holes, &zeros, &data), 0, "%s: map tiles the disk", label);
	TAP_CHECK(data > 0 && (holes > 0) == x->has_holes && (zeros > 0) == x->has_zeros,
	          "%s: map kinds (data %u, holes %u, zeros %u)", label, data, holes, zeros);
	TAP_CHECK_INT_EQ(map_all(r, 4096, NULL, NULL, NULL), 0, "%s: map honours a small max_len", label);
	TAP_CHECK(map_matches_qemu(r, path, why, sizeof(why)), "%s: map agrees with qemu-img map %s", label, why);

	thr_arg args[4];
	pthread_t th[4];
	for (unsigned i = 0; i < 4; i++) {
		args[i] = (thr_arg){ .r = r, .ref = &ref, .seed = 1000 + i, .bad = 0 };
		pthread_create(&th[i], NULL, reader_thread, &args[i]);
	}
	unsigned bad = 0;
	for (unsigned i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		bad += args[i].bad;
	}
	TAP_CHECK_INT_EQ(bad, 0, "%s: concurrent reads and maps from 4 threads", label);
	TAP_CHECK_STR_EQ(img_reader_error(r), "", "%s: no error recorded", label);
	uint8_t b[16];
	uint64_t vs = r->info.virtual_size;
	TAP_CHECK(img_read(r, vs - 1, b, 1) == 0 && b[0] == ref.p[vs - 1], "%s: last byte", label);
	TAP_CHECK_INT_EQ(img_read(r, vs - 1, b, 2), -EINVAL, "%s: read past the end refused", label);
	img_extent e;
	TAP_CHECK_INT_EQ(img_map(r, vs, 1, &e), -EINVAL, "%s: map at the end refused", label);

out:
	free(ref.p);
	close_opened(&o);
}

/* ------------------------------------------------------------ hostile helpers */

static void expect_open_fail(const char *label, const buf *b, int want, const char *needle)
{
	opened o = open_bytes(b);
	TAP_CHECK_INT_EQ(o.rc, want, "%s: refused with %s (%s)", label, strerror(-want), o.err);
	TAP_CHECK(strstr(o.err, needle) != NULL, "%s: message mentions \"%s\"", label, needle);
	close_opened(&o);
}

/* The image opens; map (want_map, 0 = must work everywhere) and read
 * (want_read) fail with a message naming the problem. */
static void expect_data_fail(const char *label, const buf *b, int want_map, int want_read, const char *needle)
{
	opened o = open_bytes(b);
	if (!TAP_CHECK_INT_EQ(o.rc, 0, "%s: opens (%s)", label, o.err)) {
		close_opened(&o);
		return;
	}
	TAP_CHECK_INT_EQ(map_all(o.r, UINT64_MAX, NULL, NULL, NULL), want_map, "%s: map", label);
	TAP_CHECK_INT_EQ(read_all(o.r, IMG_MAX_IO, NULL), want_read, "%s: read fails with %s", label,
	                 strerror(-want_read));
	TAP_CHECK(strstr(img_reader_error(o.r), needle) != NULL, "%s: error \"%s\" mentions \"%s\"", label,
	          img_reader_error(o.r), needle);
	close_opened(&o);
}

/* Rewrites the embedded descriptor (it must fit its area). */
static void set_descriptor(buf *b, const char *text)
{
	uint64_t off = get64(b->p + 28) * SECTOR, len = get64(b->p + 36) * SECTOR;
	memset(b->p + off, 0, len);
	memcpy(b->p + off, text, strlen(text) < len ? strlen(text) : len);
}

/* File offset of the GT entry of grain g in an image whose header holds
 * the real GD offset. */
static size_t gte_offset(const buf *b, uint64_t g)
{
	uint64_t gd = get64(b->p + 56) * SECTOR;
	uint64_t gt = (uint64_t)get32(b->p + gd + 4 * (g / 512)) * SECTOR;
	return (size_t)(gt + 4 * (g % 512));
}

/* The same image with the GD only in a footer, as VMware streams it. */
static buf to_footer_layout(const buf *b)
{
	size_t end = (b->len + SECTOR - 1) / SECTOR * SECTOR;
	buf f = { calloc(1, end + 3 * SECTOR), end + 3 * SECTOR };
	memcpy(f.p, b->p, b->len);
	put64(f.p + 56, UINT64_MAX);
	put64(f.p + end, 1);
	put32(f.p + end + 12, 3);
	memcpy(f.p + end + SECTOR, b->p, SECTOR);
	return f;
}

/* ------------------------------------------------------------ tests */

static void test_hostile_headers(const buf *ms, const buf *so)
{
	buf b = dup_buf(ms);

	b.len = 300;
	expect_open_fail("truncated to 300 bytes", &b, -EBADMSG, "truncated");
	b.len = 10240;
	expect_open_fail("truncated inside the metadata", &b, -EBADMSG, "truncated");
	b.len = 0;
	expect_open_fail("empty file", &b, -EBADMSG, "only 0 bytes");
	b.len = ms->len;

	b.p[3] = 'X';
	expect_open_fail("bad magic", &b, -EBADMSG, "KDMV");
	memcpy(b.p, "COWD", 4);
	expect_open_fail("COWD magic", &b, -ENOTSUP, "COWD");
	memcpy(b.p, "KDMV", 4);

	put32(b.p + 4, 0);
	expect_open_fail("version 0", &b, -ENOTSUP, "version 0");
	put32(b.p + 4, 4);
	expect_open_fail("version 4", &b, -ENOTSUP, "version 4");
	put32(b.p + 4, 1);

	const struct {
		uint64_t gs;
		int rc;
		const char *needle;
	} grains[] = {
		{ 0, -EBADMSG, "power of two" },         { 100, -EBADMSG, "power of two" },
		{ 4, -ENOTSUP, "minimum" },              { 4096, -EFBIG, "cap" },
		{ 1ull << 40, -EFBIG, "cap" },           { UINT64_MAX, -EBADMSG, "power of two" },
	};
	for (size_t i = 0; i < sizeof(grains) / sizeof(grains[0]); i++) {
		put64(b.p + 20, grains[i].gs);
		char label[64];
		snprintf(label, sizeof(label), "grainSize %" PRIu64, grains[i].gs);
		expect_open_fail(label, &b, grains[i].rc, grains[i].needle);
	}
	put64(b.p + 20, 128);

	put32(b.p + 44, 256);
	expect_open_fail("numGTEsPerGT 256", &b, -EBADMSG, "numGTEsPerGT");
	put32(b.p + 44, 512);

	b.p[75] = '\n';
	expect_open_fail("newline check damaged", &b, -EBADMSG, "newline");
	b.p[75] = '\r';

	put16(b.p + 77, 2);
	expect_open_fail("compression algorithm 2", &b, -ENOTSUP, "compression algorithm 2");
	put16(b.p + 77, 1);
	expect_open_fail("deflate without markers", &b, -ENOTSUP, "markers");
	put16(b.p + 77, 0);
	put32(b.p + 8, get32(b.p + 8) | 1u << 16);
	expect_open_fail("compressed flag without algorithm", &b, -EBADMSG, "compress");
	put32(b.p + 8, get32(ms->p + 8));

	put64(b.p + 12, 1ull << 40);
	expect_open_fail("huge capacity", &b, -EFBIG, "capacity");
	/* 64 TiB of 4 KiB grains needs a 128 MiB grain directory. */
	char desc[1024], ext[128];
	put64(b.p + 12, IMG_MAX_VIRTUAL_SIZE / SECTOR);
	put64(b.p + 20, 8);
	snprintf(ext, sizeof(ext), "RW %llu SPARSE \"x.vmdk\"", IMG_MAX_VIRTUAL_SIZE / SECTOR);
	make_desc(desc, sizeof(desc), "monolithicSparse", ext);
	set_descriptor(&b, desc);
	expect_open_fail("grain directory over the cap", &b, -EFBIG, "grain directory");
	put64(b.p + 20, 128);
	expect_open_fail("grain directory past EOF", &b, -EBADMSG, "grain directory");
	memcpy(b.p, ms->p, ms->len);

	put64(b.p + 56, 1000000);
	expect_open_fail("GD offset past EOF", &b, -EBADMSG, "grain directory");
	put64(b.p + 56, UINT64_MAX - 1);
	expect_open_fail("GD offset overflowing", &b, -EBADMSG, "grain directory");
	put64(b.p + 56, get64(ms->p + 56));
	put32(b.p + get64(b.p + 56) * SECTOR, 1u << 30);
	expect_open_fail("GD entry past EOF", &b, -EBADMSG, "grain directory entry 0");
	memcpy(b.p, ms->p, ms->len);

	put64(b.p + 64, 1u << 20);
	expect_open_fail("overHead past EOF", &b, -EBADMSG, "truncated");
	put64(b.p + 64, get64(ms->p + 64));
	put64(b.p + 28, 0);
	expect_open_fail("no embedded descriptor", &b, -ENOTSUP, "multi-file");
	put64(b.p + 28, 1);
	put64(b.p + 36, 1000);
	expect_open_fail("descriptor over the cap", &b, -EFBIG, "descriptor");
	put64(b.p + 36, 20);
	put64(b.p + 28, 1u << 20);
	expect_open_fail("descriptor past EOF", &b, -EBADMSG, "descriptor");
	put64(b.p + 28, UINT64_MAX / 2);
	expect_open_fail("descriptor offset overflowing", &b, -EBADMSG, "descriptor");
	free(b.p);

	/* Stream footers. */
	buf f = to_footer_layout(so);
	opened o = open_bytes(&f);
	TAP_CHECK_INT_EQ(o.rc, 0, "footer layout opens (%s)", o.err);
	close_opened(&o);
	f.len -= SECTOR;
	expect_open_fail("footer cut off", &f, -EBADMSG, "footer");
	f.len += SECTOR;
	f.len -= 100;
	expect_open_fail("footer layout with odd size", &f, -EBADMSG, "footer");
	f.len += 100;
	put32(f.p + f.len - 3 * SECTOR + 12, 2);
	expect_open_fail("footer marker of the wrong type", &f, -EBADMSG, "footer");
	put32(f.p + f.len - 3 * SECTOR + 12, 3);
	put32(f.p + f.len - SECTOR + 12, 1);
	expect_open_fail("end-of-stream marker damaged", &f, -EBADMSG, "footer");
	put32(f.p + f.len - SECTOR + 12, 0);
	put64(f.p + f.len - 2 * SECTOR + 56, UINT64_MAX);
	expect_open_fail("footer without GD offset", &f, -EBADMSG, "footer");
	put64(f.p + f.len - 2 * SECTOR + 56, get64(so->p + 56));
	put64(f.p + f.len - 2 * SECTOR + 12, 12);
	expect_open_fail("footer disagrees on capacity", &f, -EBADMSG, "footer disagrees");
	free(f.p);
}

static void test_hostile_descriptors(const buf *ms)
{
	buf b = dup_buf(ms);
	char desc[4096];
	const char *good_ext = "RW 6152 SPARSE \"ms.vmdk\"";

	make_desc(desc, sizeof(desc), "monolithicFlat", "RW 6152 FLAT \"ms-flat.vmdk\" 0");
	set_descriptor(&b, desc);
	expect_open_fail("createType monolithicFlat", &b, -ENOTSUP, "monolithicFlat");
	make_desc(desc, sizeof(desc), "twoGbMaxExtentSparse", good_ext);
	set_descriptor(&b, desc);
	expect_open_fail("createType twoGbMaxExtentSparse", &b, -ENOTSUP, "twoGbMaxExtentSparse");
	make_desc(desc, sizeof(desc), "vmfsSparse", good_ext);
	set_descriptor(&b, desc);
	expect_open_fail("createType vmfsSparse", &b, -ENOTSUP, "vmfsSparse");
	make_desc(desc, sizeof(desc), "banana\x1b[31m", good_ext);
	set_descriptor(&b, desc);
	expect_open_fail("unknown createType", &b, -ENOTSUP, "banana?[31m");

	make_desc(desc, sizeof(desc), "monolithicSparse", "RW 3076 SPARSE \"a.vmdk\"\nRW 3076 SPARSE \"b.vmdk\"");
	set_descriptor(&b, desc);
	expect_open_fail("two extents", &b, -ENOTSUP, "2 extents");
	make_desc(desc, sizeof(desc), "monolithicSparse", "RW 6152 FLAT \"ms-flat.vmdk\" 0");
	set_descriptor(&b, desc);
	expect_open_fail("FLAT extent", &b, -ENOTSUP, "FLAT");
	make_desc(desc, sizeof(desc), "monolithicSparse", "RW 6152 VMFS \"ms-flat.vmdk\"");
	set_descriptor(&b, desc);
	expect_open_fail("VMFS extent", &b, -ENOTSUP, "VMFS");
	make_desc(desc, sizeof(desc), "monolithicSparse", "RW 6152 ZERO");
	set_descriptor(&b, desc);
	expect_open_fail("ZERO extent", &b, -ENOTSUP, "ZERO");
	make_desc(desc, sizeof(desc), "monolithicSparse", "NOACCESS 6152 SPARSE \"ms.vmdk\"");
	set_descriptor(&b, desc);
	expect_open_fail("NOACCESS extent", &b, -ENOTSUP, "NOACCESS");
	make_desc(desc, sizeof(desc), "monolithicSparse", "");
	set_descriptor(&b, desc);
	expect_open_fail("no extent line", &b, -EBADMSG, "no extent");
	make_desc(desc, sizeof(desc), "monolithicSparse", "RW 6153 SPARSE \"ms.vmdk\"");
	set_descriptor(&b, desc);
	expect_open_fail("extent size differs from capacity", &b, -EBADMSG, "6153 sectors");
	make_desc(desc, sizeof(desc), "monolithicSparse", "RW 99999999999999999999999 SPARSE \"ms.vmdk\"");
	set_descriptor(&b, desc);
	expect_open_fail("extent size overflowing", &b, -EBADMSG, "malformed extent");
	make_desc(desc, sizeof(desc), "monolithicSparse", "RW abc SPARSE \"ms.vmdk\"");
	set_descriptor(&b, desc);
	expect_open_fail("malformed extent line", &b, -EBADMSG, "malformed extent");
	make_desc(desc, sizeof(desc), "monolithicSparse", "RW 6152 SPARSE \"ms.vmdk");
	set_descriptor(&b, desc);
	expect_open_fail("unterminated file name", &b, -EBADMSG, "malformed extent");
	make_desc(desc, sizeof(desc), "streamOptimized", good_ext);
	set_descriptor(&b, desc);
	expect_open_fail("streamOptimized without compression", &b, -EBADMSG, "not compressed");

	snprintf(desc, sizeof(desc), "# Disk DescriptorFile\nversion=1\n\n%s\n", good_ext);
	set_descriptor(&b, desc);
	expect_open_fail("missing createType", &b, -EBADMSG, "no createType");
	snprintf(desc, sizeof(desc), "createType=\"monolithicSparse\"\ncreateType=\"monolithicSparse\"\n%s\n",
	         good_ext);
	set_descriptor(&b, desc);
	expect_open_fail("createType twice", &b, -EBADMSG, "twice");
	snprintf(desc, sizeof(desc), "createType=\"monolithicSparse\"\nparentFileNameHint=\"base.vmdk\"\n%s\n",
	         good_ext);
	set_descriptor(&b, desc);
	expect_open_fail("delta disk", &b, -ENOTSUP, "base.vmdk");
	snprintf(desc, sizeof(desc), "createType=\"monolithicSparse\"\nparentCID=1234abcd\n%s\n", good_ext);
	set_descriptor(&b, desc);
	expect_open_fail("parentCID set", &b, -ENOTSUP, "parent");

	/* Caps: lines and line length, in a 64 KiB descriptor area moved to the
	 * end of the file. */
	size_t base = (ms->len + SECTOR - 1) / SECTOR * SECTOR;
	buf big = { calloc(1, base + 128 * SECTOR), base + 128 * SECTOR };
	memcpy(big.p, ms->p, ms->len);
	put64(big.p + 28, base / SECTOR);
	put64(big.p + 36, 128);
	char *text = calloc(1, 65536);
	snprintf(text, 65536, "createType=\"monolithicSparse\"\n%s\n", good_ext);
	memset(text + strlen(text), '\n', 1100);
	set_descriptor(&big, text);
	expect_open_fail("descriptor with 1100 lines", &big, -EFBIG, "lines");
	snprintf(text, 65536, "createType=\"monolithicSparse\"\n%s\n# ", good_ext);
	memset(text + strlen(text), 'x', 1500);
	set_descriptor(&big, text);
	expect_open_fail("descriptor line of 1500 bytes", &big, -EFBIG, "longer than");
	snprintf(text, 65536, "createType=\"monolithicSparse\"\n%s\n", good_ext);
	for (int i = 0; i < 1000; i++)
		strcat(text, "ddb.x = \"1\"\n");
	set_descriptor(&big, text);
	opened o = open_bytes(&big);
	TAP_CHECK_INT_EQ(o.rc, 0, "descriptor of 1002 lines in 64 KiB opens (%s)", o.err);
	close_opened(&o);
	free(text);
	free(big.p);

	memset(b.p + SECTOR, 0, 20 * SECTOR);
	expect_open_fail("empty embedded descriptor", &b, -ENOTSUP, "multi-file");
	free(b.p);
}

static void test_descriptor_files(void)
{
	char p[PATH_LEN], fp[PATH_LEN];
	const char *text = "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
	                   "createType=\"monolithicFlat\"\n\n# Extent description\nRW 2048 FLAT \"disk-flat.vmdk\" 0\n";
	buf b = { (uint8_t *)(uintptr_t)text, strlen(text) };
	expect_open_fail("descriptor-only file", &b, -ENOTSUP, "external extent files");
	expect_open_fail("descriptor-only file names the extent", &b, -ENOTSUP, "disk-flat.vmdk");
	const char *junk = "hello, this is not a disk image at all\n";
	b = (buf){ (uint8_t *)(uintptr_t)junk, strlen(junk) };
	expect_open_fail("text that is not a descriptor", &b, -EBADMSG, "KDMV");

	/* The same made by qemu-img. */
	if (run("qemu-img create -q -f vmdk -o subformat=monolithicFlat '%s' 1M", tpath(p, "flat.vmdk")) == 0) {
		opened o = open_path(p);
		TAP_CHECK_INT_EQ(o.rc, -ENOTSUP, "qemu monolithicFlat descriptor refused (%s)", o.err);
		TAP_CHECK(strstr(o.err, "external extent files") && strstr(o.err, "flat-flat.vmdk"),
		          "qemu monolithicFlat: message names the extent file");
		close_opened(&o);
	} else {
		tap_skip("qemu-img create monolithicFlat failed");
	}
	if (run("qemu-img create -q -f vmdk -o subformat=twoGbMaxExtentSparse '%s' 1M", tpath(p, "two.vmdk")) ==
	    0) {
		opened o = open_path(p);
		TAP_CHECK_INT_EQ(o.rc, -ENOTSUP, "qemu twoGbMaxExtentSparse descriptor refused (%s)", o.err);
		close_opened(&o);
		o = open_path(tpath(fp, "two-s001.vmdk"));
		TAP_CHECK_INT_EQ(o.rc, -ENOTSUP, "an extent of a twoGbMaxExtentSparse disk refused (%s)", o.err);
		close_opened(&o);
	} else {
		tap_skip("qemu-img create twoGbMaxExtentSparse failed");
	}
}

static void test_hostile_grains(const buf *ms, const buf *so, const buf *gen_stream)
{
	buf b = dup_buf(ms);
	/* Grain 48 is the disk's last (partial) grain. */
	size_t e48 = gte_offset(&b, 48), e1 = gte_offset(&b, 1);
	put32(b.p + e48, 1u << 30);
	expect_data_fail("GT entry past EOF", &b, -EBADMSG, -EBADMSG, "past the end of the file");
	put32(b.p + e48, 2);
	expect_data_fail("GT entry inside the metadata", &b, -EBADMSG, -EBADMSG, "metadata");
	put32(b.p + e48, 1);
	expect_data_fail("GT entry 1 without the zeroed-grain flag", &b, -EBADMSG, -EBADMSG, "metadata");
	memcpy(b.p, ms->p, ms->len);
	b.len = 200 * 1024;
	expect_data_fail("truncated inside the grains", &b, -EBADMSG, -EBADMSG, "truncated");
	free(b.p);

	b = dup_buf(so);
	e1 = gte_offset(&b, 1);
	size_t m1 = (size_t)get32(b.p + e1) * SECTOR, m48 = (size_t)get32(b.p + gte_offset(&b, 48)) * SECTOR;
	uint32_t size1 = get32(b.p + m1 + 8);
	put64(b.p + m1, 0);
	expect_data_fail("grain marker with the wrong lba", &b, 0, -EBADMSG, "lba 0, expected 128");
	put64(b.p + m1, 128);
	put32(b.p + m1 + 8, 0x7fffffff);
	expect_data_fail("grain marker with a huge size", &b, 0, -EBADMSG, "cap");
	put32(b.p + m1 + 8, size1);
	put32(b.p + m48 + 8, 100000);
	expect_data_fail("grain marker running past EOF", &b, 0, -EBADMSG, "past the end");
	put32(b.p + m48 + 8, get32(so->p + m48 + 8));
	for (int i = 0; i < 16; i++)
		b.p[m1 + 12 + 1000 + (size_t)i] ^= 0x55;
	expect_data_fail("corrupt deflate data", &b, 0, -EBADMSG, "corrupt deflate");
	memcpy(b.p, so->p, so->len);

	/* Valid zlib streams of the wrong length, in place of grain 1. */
	uint8_t *plain = calloc(1, 65536 + 100);
	uLongf zlen = size1;
	compress2(b.p + m1 + 12, &zlen, plain, 1000, 6);
	put32(b.p + m1 + 8, (uint32_t)zlen);
	expect_data_fail("grain decompressing short", &b, 0, -EBADMSG, "decompresses to 1000 bytes");
	zlen = size1;
	compress2(b.p + m1 + 12, &zlen, plain, 65536 + 100, 6);
	put32(b.p + m1 + 8, (uint32_t)zlen);
	expect_data_fail("grain decompressing long", &b, 0, -EBADMSG, "more than");
	free(plain);
	free(b.p);

	/* A GT entry pointing at a GT marker of the VMware layout. */
	b = dup_buf(gen_stream);
	uint64_t gd = get64(b.p + b.len - 2 * SECTOR + 56);
	uint32_t gt = get32(b.p + gd * SECTOR);
	put32(b.p + (size_t)gt * SECTOR, gt - 1);
	expect_data_fail("GT entry pointing at a marker", &b, 0, -EBADMSG, "metadata marker");
	free(b.p);
}

/* Zeroed grains: a hole and a data grain of a zeroed_grain=on image set to 1. */
static void test_zeroed_grains(const char *mzpath)
{
	char p[PATH_LEN];
	buf b;
	if (!TAP_CHECK(load(mzpath, &b), "load zeroed-grain image"))
		return;
	TAP_CHECK(get32(b.p + 8) & 4, "qemu set the zeroed-grain flag");
	put32(b.p + gte_offset(&b, 5), 1);
	put32(b.p + gte_offset(&b, 1), 1);
	save(tpath(p, "mz-zero.vmdk"), b.p, b.len);
	check_image("zeroed grains", p, NULL,
	            &(expect){ "monolithicSparse", "", "zeroed_grains", 65536, true, true });
	opened o = open_path(p);
	img_extent e;
	TAP_CHECK(o.rc == 0 && img_map(o.r, 65536, UINT64_MAX, &e) == 0 && e.kind == IMG_EXTENT_ZERO &&
	                  e.length == 65536,
	          "zeroed grain 1 maps as zero");
	TAP_CHECK(o.rc == 0 && img_map(o.r, 5 * 65536 + 7, UINT64_MAX, &e) == 0 && e.kind == IMG_EXTENT_ZERO &&
	                  e.length == 65536 - 7,
	          "zeroed grain 5 maps as zero from inside");
	close_opened(&o);
	free(b.p);
}

static void test_empty_disk(void)
{
	char p[PATH_LEN];
	if (run("qemu-img create -q -f vmdk '%s' 0", tpath(p, "empty.vmdk")) != 0) {
		tap_skip("qemu-img cannot create an empty vmdk");
		return;
	}
	opened o = open_path(p);
	TAP_CHECK_INT_EQ(o.rc, 0, "empty disk opens (%s)", o.err);
	if (o.rc == 0) {
		uint8_t x;
		img_extent e;
		TAP_CHECK_INT_EQ(o.r->info.virtual_size, 0, "empty disk: size 0");
		TAP_CHECK_INT_EQ(img_read(o.r, 0, &x, 0), 0, "empty disk: empty read");
		TAP_CHECK_INT_EQ(img_map(o.r, 0, 1, &e), -EINVAL, "empty disk: nothing to map");
	}
	close_opened(&o);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_vmdk.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	if (run("qemu-img --version >/dev/null 2>&1") != 0) {
		tap_skip("qemu-img is not installed");
		rmdir(tmpdir);
		return tap_done();
	}
	char raw[PATH_LEN], so[PATH_LEN], ms[PATH_LEN], mz[PATH_LEN], p[PATH_LEN];

	/* 3 MiB + 4 KiB: the last grain is partial. */
	const span small_spans[] = {
		{ 0, 100000, SPAN_RANDOM },    { 200000, 300000, SPAN_ZEROS },        { MiB, 5000, SPAN_TEXT },
		{ 3 * MiB, 4096, SPAN_RANDOM },
	};
	buf small;
	TAP_CHECK(make_raw(tpath(raw, "small.raw"), 3 * MiB + 4096, small_spans, 4, &small), "write small raw");
	TAP_CHECK(run("qemu-img convert -f raw -O vmdk -o subformat=streamOptimized '%s' '%s'", raw,
	              tpath(so, "so.vmdk")) == 0 &&
	                  run("qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse '%s' '%s'", raw,
	                      tpath(ms, "ms.vmdk")) == 0 &&
	                  run("qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse,zeroed_grain=on '%s' "
	                      "'%s'",
	                      raw, tpath(mz, "mz.vmdk")) == 0,
	          "qemu-img makes the small images");
	check_image("qemu streamOptimized", so, &small,
	            &(expect){ "streamOptimized", "deflate", "markers compressed_grains", 65536, true, false });
	check_image("qemu monolithicSparse", ms, &small, &(expect){ "monolithicSparse", "", "", 65536, true, false });
	check_image("qemu monolithicSparse zeroed_grain=on", mz, &small,
	            &(expect){ "monolithicSparse", "", "zeroed_grains", 65536, true, false });

	buf sob, msb;
	TAP_CHECK(load(so, &sob) && load(ms, &msb), "load the small images");
	buf f = to_footer_layout(&sob);
	save(tpath(p, "so-footer.vmdk"), f.p, f.len);
	check_image("qemu streamOptimized, GD in the footer", p, &small,
	            &(expect){ "streamOptimized", "deflate", "markers compressed_grains gd_at_end", 65536, true,
	                       false });
	free(f.p);

	/* 72 MiB: three grain tables, data across a table boundary. */
	const span big_spans[] = {
		{ 0, 70000, SPAN_RANDOM },          { 10 * MiB, 2 * MiB, SPAN_ZEROS },
		{ 32 * MiB - 70000, 140000, SPAN_RANDOM }, { 40 * MiB, 3 * MiB, SPAN_TEXT },
		{ 70 * MiB, 3 * 65536, SPAN_RANDOM },      { 72 * MiB - 4096, 4096, SPAN_RANDOM },
	};
	buf big;
	TAP_CHECK(make_raw(tpath(raw, "big.raw"), 72 * MiB, big_spans, 6, &big), "write big raw");
	if (run("qemu-img convert -f raw -O vmdk -o subformat=streamOptimized '%s' '%s'", raw,
	        tpath(p, "big-so.vmdk")) == 0)
		check_image("qemu streamOptimized 72 MiB", p, &big,
		            &(expect){ "streamOptimized", "deflate", "markers", 65536, true, false });
	if (run("qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse '%s' '%s'", raw,
	        tpath(p, "big-ms.vmdk")) == 0)
		check_image("qemu monolithicSparse 72 MiB", p, &big,
		            &(expect){ "monolithicSparse", "", "", 65536, true, false });

	/* VMware's stream layout, and other grain sizes, written here. */
	const struct {
		const char *label;
		const buf *raw;
		uint64_t gs;
		bool stream, full_last;
	} gens[] = {
		{ "VMware stream, 64 KiB grains, full last grain", &small, 128, true, true },
		{ "VMware stream, 4 KiB grains", &small, 8, true, false },
		{ "VMware stream, 1 MiB grains", &small, 2048, true, false },
		{ "VMware stream, 1 MiB grains, 72 MiB", &big, 2048, true, true },
		{ "monolithicSparse, 4 KiB grains", &small, 8, false, false },
		{ "monolithicSparse, 1 MiB grains, 72 MiB", &big, 2048, false, false },
	};
	buf gen_stream = { NULL, 0 };
	for (size_t i = 0; i < sizeof(gens) / sizeof(gens[0]); i++) {
		buf g = gen_image(gens[i].raw, gens[i].gs, gens[i].stream, gens[i].full_last);
		char name[32];
		snprintf(name, sizeof(name), "gen%zu.vmdk", i);
		save(tpath(p, name), g.p, g.len);
		check_image(gens[i].label, p, gens[i].raw,
		            gens[i].stream ? &(expect){ "streamOptimized", "deflate", "markers compressed_grains gd_at_end",
		                                        (uint32_t)gens[i].gs * SECTOR, true, false }
		                           : &(expect){ "monolithicSparse", "", "", (uint32_t)gens[i].gs * SECTOR, true,
		                                        false });
		if (i == 1)
			gen_stream = g;
		else
			free(g.p);
	}

	test_zeroed_grains(mz);
	test_empty_disk();
	test_hostile_headers(&msb, &sob);
	test_hostile_descriptors(&msb);
	test_descriptor_files();
	test_hostile_grains(&msb, &sob, &gen_stream);

	free(gen_stream.p);
	free(sob.p);
	free(msb.p);
	free(small.p);
	free(big.p);
	run("rm -rf '%s'", tmpdir);
	return tap_done();
}
