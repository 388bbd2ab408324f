/* SPDX-License-Identifier: MIT */
/*
 * qcow2 reader (versions 2 and 3): plain, zero and unallocated clusters,
 * deflate- and zstd-compressed clusters, extended L2 entries (subclusters).
 *
 * Everything the reader trusts is checked once at open (header, header
 * extensions, the whole active L1 table); L2 entries are checked when they
 * are used. After open the reader is immutable apart from a small
 * lock-protected cache of decompressed clusters, so map() and read() may run
 * on many threads at once.
 *
 * L2 tables are not cached: each call preads only the L2 entries covering the
 * range it was asked about (at most 4 KiB at a time, on the stack). That keeps
 * the memory of a multi-TiB image down to its L1 table (plus at most
 * ZCACHE_SLOTS decompressed clusters), needs no lock, and costs one small
 * pread per L2 table touched, which the page cache serves.
 *
 * Not supported, refused at open: backing files, external data files,
 * encryption, unknown incompatible features, images marked corrupt.
 * Snapshots and refcounts are never read.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libdeflate.h>
#include <zstd.h>

#include "formats/image.h"
#include "util/bytes.h"
#include "util/fileio.h"
#include "util/strutil.h"

#define QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */

#define V2_HEADER_LEN 72u
#define V3_HEADER_MIN 104u /* fields up to header_length; compression_type is optional */

#define MIN_CLUSTER_BITS 9u
#define MAX_CLUSTER_BITS 21u /* qemu's limit too: 2 MiB */

/* qemu refuses larger L1 tables (QCOW_MAX_L1_SIZE); so do we, which also
 * bounds the memory of the only table kept resident. */
#define MAX_L1_BYTES (32u * 1024 * 1024)
/* A backing file name longer than this is not worth quoting in a message. */
#define MAX_BACKING_NAME 1023u
/* Header extensions: qemu writes fewer than ten. */
#define MAX_HEADER_EXTENSIONS 1024u

#define EXT_END 0x00000000u
#define EXT_FEATURE_NAMES 0x6803f857u
#define FEATURE_NAME_ENTRY 48u
#define FEATURE_NAME_LEN 46u

#define INCOMPAT_DIRTY (1ull << 0)
#define INCOMPAT_CORRUPT (1ull << 1)
#define INCOMPAT_DATA_FILE (1ull << 2)
#define INCOMPAT_COMPRESSION (1ull << 3)
#define INCOMPAT_EXTL2 (1ull << 4)
#define INCOMPAT_KNOWN (INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE | INCOMPAT_COMPRESSION | INCOMPAT_EXTL2)
#define COMPAT_LAZY_REFCOUNTS (1ull << 0)

#define COMPRESSION_ZLIB 0u
#define COMPRESSION_ZSTD 1u

#define L1E_OFFSET_MASK 0x00fffffffffffe00ull
#define L2E_OFFSET_MASK 0x00fffffffffffe00ull
#define OFLAG_COPIED (1ull << 63)
#define OFLAG_COMPRESSED (1ull << 62)
#define OFLAG_ZERO 1ull
#define SUBCLUSTERS 32u
#define SUBCLUSTER_ALLOC_MASK 0xffffffffull

#define COMPRESSED_SECTOR 512u

/* The largest L2 slice read at once, on the stack of map()/read(). */
#define L2_WINDOW_WORDS 512u
/* map() looks at no more than this many clusters/subclusters per call; the
 * caller asks again for the rest (a shorter extent is always allowed). */
#define MAP_MAX_STEPS 65536u
/* Decompressed clusters kept for reads that want only part of a cluster
 * (e.g. 64 KiB reads of an image with 2 MiB compressed clusters). */
#define ZCACHE_SLOTS 4u

enum { ZSLOT_EMPTY, ZSLOT_LOADING, ZSLOT_READY };

typedef struct zslot {
	uint64_t key; /* the compressed cluster descriptor */
	uint64_t stamp;
	uint8_t *data; /* one cluster; NULL until first used */
	int state;     /* LOADING: one thread decompresses into data, unlocked */
} zslot;

typedef struct qcow2_reader {
	img_reader base;
	int fd;
	uint64_t file_size;
	uint32_t version;
	uint32_t cluster_bits;
	uint32_t cluster_size;
	uint32_t l2_bits;        /* log2 of entries per L2 table */
	uint32_t entry_words;    /* 64-bit words per L2 entry: 1, or 2 with extended L2 */
	uint32_t sc_bits;        /* log2 of the subcluster size (extended L2) */
	bool extended_l2;
	unsigned compression;    /* COMPRESSION_ZLIB or COMPRESSION_ZSTD */
	uint32_t csize_shift;    /* compressed descriptor: bits of the host offset */
	uint64_t csize_mask;     /* ... and mask of the additional sector count */
	uint64_t *l1;            /* L2 table offsets (masked), 0 = unallocated; as many
	                          * entries as the virtual size needs, all validated */

	pthread_mutex_t zlock;
	pthread_cond_t zdone; /* a LOADING slot became READY or EMPTY */
	uint64_t zclock;
	zslot zcache[ZCACHE_SLOTS];
	struct q_scratch *pool; /* idle scratches, under zlock; at most one per concurrent reader */
} qcow2_reader;

/* What the guest sees from some offset on, inside one cluster (or, for an
 * unallocated L2 table, up to the end of what that table would cover). */
typedef struct q_seg {
	uint64_t len;
	img_extent_kind kind;
	bool compressed;
	uint64_t host; /* DATA: host offset of the first byte; compressed: the descriptor */
} q_seg;

/* The L2 entries most recently read by one map()/read() call. */
typedef struct l2_window {
	uint64_t first; /* guest cluster of ent[0] */
	uint32_t n;     /* clusters held */
	uint64_t ent[L2_WINDOW_WORDS];
} l2_window;

/* Decompressors and buffers of one read() call, created when first needed
 * and kept in the reader's pool afterwards: a decompression context costs
 * more to set up than a 64 KiB cluster costs to inflate. */
typedef struct q_scratch {
	struct q_scratch *next; /* in the pool */
	struct libdeflate_decompressor *deflate;
	ZSTD_DCtx *zstd;
	uint8_t *in;
	size_t in_cap;
	uint8_t *tmp; /* one cluster, when every cache slot is busy */
} q_scratch;

/* ---- open ---------------------------------------------------------------- */

/* The parsed fixed header, before the reader exists. */
typedef struct q_header {
	uint32_t version;
	uint64_t backing_offset;
	uint32_t backing_size;
	uint32_t cluster_bits;
	uint64_t size;
	uint32_t crypt_method;
	uint32_t l1_size;
	uint64_t l1_offset;
	uint64_t incompat;
	uint64_t compat;
	uint32_t header_length;
	unsigned compression;
} q_header;

static int parse_header(const uint8_t *h, size_t have, q_header *q, char *err, size_t errlen)
{
	if (have < 8 || be32(h) != QCOW2_MAGIC)
		return errmsg(err, errlen, -EBADMSG, "not a qcow2 image (bad magic)");
	q->version = be32(h + 4);
	if (q->version != 2 && q->version != 3)
		return errmsg(err, errlen, -ENOTSUP, "unsupported qcow2 version %u (only 2 and 3)", q->version);
	if (have < V2_HEADER_LEN)
		return errmsg(err, errlen, -EBADMSG, "qcow2 header truncated (file is %zu bytes)", have);
	q->backing_offset = be64(h + 8);
	q->backing_size = be32(h + 16);
	q->cluster_bits = be32(h + 20);
	q->size = be64(h + 24);
	q->crypt_method = be32(h + 32);
	q->l1_size = be32(h + 36);
	q->l1_offset = be64(h + 40);
	q->incompat = 0;
	q->compat = 0;
	q->header_length = V2_HEADER_LEN;
	q->compression = COMPRESSION_ZLIB;

	if (q->cluster_bits < MIN_CLUSTER_BITS)
		return errmsg(err, errlen, -EBADMSG, "invalid qcow2 cluster size 2^%u (at least 512 bytes)", q->cluster_bits);
	if (q->cluster_bits > MAX_CLUSTER_BITS)
		return errmsg(err, errlen, -ENOTSUP, "unsupported qcow2 cluster size 2^%u (at most 2 MiB)", q->cluster_bits);

	if (q->version == 3) {
		if (have < V3_HEADER_MIN)
			return errmsg(err, errlen, -EBADMSG, "qcow2 v3 header truncated (file is %zu bytes)", have);
		q->incompat = be64(h + 72);
		q->compat = be64(h + 80);
		q->header_length = be32(h + 100);
		if (q->header_length < V3_HEADER_MIN)
			return errmsg(err, errlen, -EBADMSG, "qcow2 v3 header length %u is below 104", q->header_length);
		if (q->header_length > (1u << q->cluster_bits))
			return errmsg(err, errlen, -EBADMSG, "qcow2 header length %u exceeds the cluster size",
			            q->header_length);
		if (have < q->header_length)
			return errmsg(err, errlen, -EBADMSG, "qcow2 header truncated (file is %zu bytes)", have);
		if (q->header_length > V3_HEADER_MIN)
			q->compression = h[104];
	}
	return 0;
}

/* Appends " name" to a space-separated list, silently truncating. */
static void list_add(char *list, size_t size, const char *name)
{
	size_t used = strlen(list);
	snprintf(list + used, size - used, "%s%s", used ? " " : "", name);
}

/* Describes unknown incompatible bits, by the image's own feature-name table
 * when it has one (qemu writes it), else by bit number. */
static void describe_unknown(const uint8_t *names, size_t names_len, uint64_t bits, char *out, size_t outlen)
{
	out[0] = '\0';
	for (unsigned bit = 0; bit < 64; bit++) {
		if (!(bits & (1ull << bit)))
			continue;
		char item[FEATURE_NAME_LEN + 16];
		snprintf(item, sizeof(item), "bit %u", bit);
		for (size_t i = 0; names && i + FEATURE_NAME_ENTRY <= names_len; i += FEATURE_NAME_ENTRY) {
			const uint8_t *e = names + i;
			if (e[0] != 0 || e[1] != bit) /* type 0: incompatible */
				continue;
			char name[FEATURE_NAME_LEN + 1];
			size_t n = 0;
			/* Not necessarily NUL-terminated; keep it printable. */
			while (n < FEATURE_NAME_LEN && e[2 + n] != '\0') {
				name[n] = (e[2 + n] >= 0x20 && e[2 + n] < 0x7f) ? (char)e[2 + n] : '?';
				n++;
			}
			name[n] = '\0';
			if (n)
				snprintf(item, sizeof(item), "'%s' (bit %u)", name, bit);
			break;
		}
		size_t used = strlen(out);
		snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", item);
	}
}

/* Walks the header extensions in the first cluster (hdr, hdr_len bytes, the
 * rest of the cluster reads as zeros as qemu treats a short file) looking for
 * the feature-name table. qemu's rule: extensions end at the cluster end. */
static int walk_extensions(const uint8_t *hdr, size_t hdr_len, const q_header *q, uint32_t cluster_size,
                           const uint8_t **names, size_t *names_len, char *err, size_t errlen)
{
	uint64_t off = q->header_length;
	uint64_t end = hdr_len < cluster_size ? hdr_len : cluster_size;
	*names = NULL;
	*names_len = 0;
	for (unsigned count = 0; off < end; count++) {
		if (count >= MAX_HEADER_EXTENSIONS)
			return errmsg(err, errlen, -EBADMSG, "more than %u qcow2 header extensions",
			            MAX_HEADER_EXTENSIONS);
		if (end - off < 8) {
			/* A partial extension header: only zeros (END) are fine. */
			for (uint64_t i = off; i < end; i++)
				if (hdr[i])
					return errmsg(err, errlen, -EBADMSG, "qcow2 header extension truncated");
			return 0;
		}
		uint32_t type = be32(hdr + off);
		uint32_t len = be32(hdr + off + 4);
		off += 8;
		if (type == EXT_END)
			return 0;
		/* Lengths are checked against the whole cluster (what qemu does),
		 * but data beyond a short file cannot be used. */
		if (len > cluster_size - off)
			return errmsg(err, errlen, -EBADMSG, "qcow2 header extension 0x%08x too large (%u bytes)", type,
			            len);
		if (type == EXT_FEATURE_NAMES && off < end) {
			*names = hdr + off;
			*names_len = len <= end - off ? len : (size_t)(end - off);
		}
		off += ((uint64_t)len + 7) & ~7ull;
	}
	return 0;
}

/* Refuses what the reader cannot honour, in qemu's order of checks. */
static int check_features(const uint8_t *hdr, size_t hdr_len, const q_header *q, const uint8_t *names,
                          size_t names_len, char *err, size_t errlen)
{
	uint64_t unknown = q->incompat & ~INCOMPAT_KNOWN;
	if (unknown) {
		char list[400];
		describe_unknown(names, names_len, unknown, list, sizeof(list));
		return errmsg(err, errlen, -ENOTSUP, "unsupported qcow2 incompatible feature%s: %s",
		            (unknown & (unknown - 1)) ? "s" : "", list);
	}
	if (q->incompat & INCOMPAT_CORRUPT)
		return errmsg(err, errlen, -EBADMSG, "qcow2 image is marked corrupt (run 'qemu-img check -r all')");
	if (q->incompat & INCOMPAT_DATA_FILE)
		return errmsg(err, errlen, -ENOTSUP, "qcow2 images with an external data file are not supported");
	if (q->crypt_method == 1)
		return errmsg(err, errlen, -ENOTSUP, "AES-encrypted qcow2 images are not supported");
	if (q->crypt_method == 2)
		return errmsg(err, errlen, -ENOTSUP, "LUKS-encrypted qcow2 images are not supported");
	if (q->crypt_method != 0)
		return errmsg(err, errlen, -ENOTSUP, "unsupported qcow2 encryption method %u", q->crypt_method);
	if (q->backing_offset != 0) {
		/* Quote the name when it is where it should be: it tells the
		 * user which file to flatten the image with. */
		char name[64];
		name[0] = '\0';
		if (q->backing_size > 0 && q->backing_size <= MAX_BACKING_NAME && q->backing_offset < hdr_len &&
		    q->backing_size <= hdr_len - q->backing_offset) {
			size_t n = q->backing_size < sizeof(name) - 1 ? q->backing_size : sizeof(name) - 1;
			for (size_t i = 0; i < n; i++) {
				uint8_t c = hdr[q->backing_offset + i];
				name[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
			}
			name[n] = '\0';
		}
		return errmsg(err, errlen, -ENOTSUP,
		            "qcow2 images with a backing file%s%s%s are not supported (flatten it with "
		            "'qemu-img convert' first)",
		            name[0] ? " ('" : "", name, name[0] ? "')" : "");
	}
	if (q->compression != COMPRESSION_ZLIB && q->compression != COMPRESSION_ZSTD)
		return errmsg(err, errlen, -ENOTSUP, "unsupported qcow2 compression type %u", q->compression);
	/* qemu insists the bit matches the field, so an image that disagrees
	 * was not written by it. */
	if ((q->compression != COMPRESSION_ZLIB) != ((q->incompat & INCOMPAT_COMPRESSION) != 0))
		return errmsg(err, errlen, -EBADMSG, "qcow2 compression type %u disagrees with incompatible bit 3",
		            q->compression);
	return 0;
}

/* Geometry and the L1 table. */
static int load_l1(qcow2_reader *r, const q_header *q, char *err, size_t errlen)
{
	uint64_t cs = r->cluster_size;
	if (q->size > IMG_MAX_VIRTUAL_SIZE)
		return errmsg(err, errlen, -EFBIG, "qcow2 virtual size %llu exceeds the limit of %llu bytes",
		            (unsigned long long)q->size, (unsigned long long)IMG_MAX_VIRTUAL_SIZE);
	if (q->l1_size > MAX_L1_BYTES / 8)
		return errmsg(err, errlen, -EFBIG, "qcow2 L1 table of %u entries exceeds the limit of %u",
		            q->l1_size, MAX_L1_BYTES / 8);
	/* Both below 2^46 and 2^39: no overflow. */
	uint64_t span_bits = r->cluster_bits + r->l2_bits;
	uint64_t needed = (q->size + (1ull << span_bits) - 1) >> span_bits;
	if (q->l1_size < needed)
		return errmsg(err, errlen, -EBADMSG,
		            "qcow2 L1 table has %u entries, the virtual size of %llu bytes needs %llu", q->l1_size,
		            (unsigned long long)q->size, (unsigned long long)needed);
	if (q->l1_size > 0) {
		uint64_t bytes = (uint64_t)q->l1_size * 8;
		if (q->l1_offset & (cs - 1))
			return errmsg(err, errlen, -EBADMSG, "qcow2 L1 table offset %#llx is not cluster-aligned",
			            (unsigned long long)q->l1_offset);
		if (q->l1_offset == 0)
			return errmsg(err, errlen, -EBADMSG, "qcow2 L1 table overlaps the header");
		if (q->l1_offset > r->file_size || bytes > r->file_size - q->l1_offset)
			return errmsg(err, errlen, -EBADMSG, "qcow2 L1 table at %#llx (%llu bytes) is beyond the end of the file",
			            (unsigned long long)q->l1_offset, (unsigned long long)bytes);
	}
	if (needed == 0)
		return 0;
	r->l1 = malloc(needed * 8);
	if (!r->l1)
		return errmsg(err, errlen, -ENOMEM, "out of memory for a qcow2 L1 table of %llu entries",
		            (unsigned long long)needed);
	int rc = pread_full(r->fd, r->l1, needed * 8, q->l1_offset);
	if (rc < 0)
		return errmsg(err, errlen, rc, "reading the qcow2 L1 table: %s", strerror(-rc));
	for (uint64_t i = 0; i < needed; i++) {
		uint64_t e = be64((const uint8_t *)&r->l1[i]);
		uint64_t off = e & L1E_OFFSET_MASK;
		if (off & (cs - 1))
			return errmsg(err, errlen, -EBADMSG, "qcow2 L2 table offset %#llx (L1 entry %llu) is not cluster-aligned",
			            (unsigned long long)off, (unsigned long long)i);
		if (off != 0 && (off > r->file_size || cs > r->file_size - off))
			return errmsg(err, errlen, -EBADMSG,
			            "qcow2 L2 table at %#llx (L1 entry %llu) is beyond the end of the file",
			            (unsigned long long)off, (unsigned long long)i);
		r->l1[i] = off;
	}
	return 0;
}

static void set_info(qcow2_reader *r, const q_header *q)
{
	img_info *in = &r->base.info;
	in->virtual_size = q->size;
	in->file_size = r->file_size;
	in->cluster_size = r->cluster_size;
	in->version = q->version;
	snprintf(in->compression, sizeof(in->compression), "%s",
	         q->compression == COMPRESSION_ZSTD ? "zstd" : "zlib");
	in->features[0] = '\0';
	if (q->incompat & INCOMPAT_EXTL2)
		list_add(in->features, sizeof(in->features), "extended_l2");
	if (q->incompat & INCOMPAT_DIRTY)
		list_add(in->features, sizeof(in->features), "dirty");
	if (q->compat & COMPAT_LAZY_REFCOUNTS)
		list_add(in->features, sizeof(in->features), "lazy_refcounts");
}

static void scratch_free(q_scratch *sc)
{
	libdeflate_free_decompressor(sc->deflate);
	ZSTD_freeDCtx(sc->zstd);
	free(sc->in);
	free(sc->tmp);
	free(sc);
}

static void qcow2_free(qcow2_reader *r)
{
	while (r->pool) {
		q_scratch *sc = r->pool;
		r->pool = sc->next;
		scratch_free(sc);
	}
	for (unsigned i = 0; i < ZCACHE_SLOTS; i++)
		free(r->zcache[i].data);
	pthread_cond_destroy(&r->zdone);
	pthread_mutex_destroy(&r->zlock);
	free(r->l1);
	img_reader_destroy(&r->base);
	free(r);
}

static int qcow2_map(img_reader *base, uint64_t off, uint64_t max, img_extent *e);
static int qcow2_read(img_reader *base, uint64_t off, void *buf, size_t len);
static void qcow2_close(img_reader *base);

static const img_reader_ops qcow2_ops = { .map = qcow2_map, .read = qcow2_read, .close = qcow2_close };

/* Reads the header cluster (or as much of it as the file has). */
static int read_head(int fd, uint64_t file_size, uint8_t **ret, size_t *ret_len, char *err, size_t errlen)
{
	uint8_t fixed[V3_HEADER_MIN + 8];
	size_t n = file_size < sizeof(fixed) ? (size_t)file_size : sizeof(fixed);
	int rc = pread_full(fd, fixed, n, 0);
	if (rc < 0)
		return errmsg(err, errlen, rc, "reading the qcow2 header: %s", strerror(-rc));
	/* The cluster size is needed to know how much to read. */
	size_t want = n;
	if (n >= 24 && be32(fixed) == QCOW2_MAGIC) {
		uint32_t bits = be32(fixed + 20);
		if (bits >= MIN_CLUSTER_BITS && bits <= MAX_CLUSTER_BITS)
			want = file_size < (1ull << bits) ? (size_t)file_size : (size_t)1 << bits;
	}
	uint8_t *h = malloc(want ? want : 1);
	if (!h)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	memcpy(h, fixed, n);
	if (want > n && (rc = pread_full(fd, h + n, want - n, n)) < 0) {
		free(h);
		return errmsg(err, errlen, rc, "reading the qcow2 header: %s", strerror(-rc));
	}
	*ret = h;
	*ret_len = want;
	return 0;
}

int qcow2_open(int fd, img_reader **ret, char *err, size_t errlen)
{
	uint64_t file_size = 0;
	int rc = img_file_size(fd, &file_size, err, errlen);
	if (rc < 0)
		return rc;
	uint8_t *hdr = NULL;
	size_t hdr_len = 0;
	if ((rc = read_head(fd, file_size, &hdr, &hdr_len, err, errlen)) < 0)
		return rc;

	q_header q = { 0 };
	const uint8_t *names = NULL;
	size_t names_len = 0;
	if ((rc = parse_header(hdr, hdr_len, &q, err, errlen)) < 0 ||
	    (rc = walk_extensions(hdr, hdr_len, &q, 1u << q.cluster_bits, &names, &names_len, err, errlen)) < 0 ||
	    (rc = check_features(hdr, hdr_len, &q, names, names_len, err, errlen)) < 0) {
		free(hdr);
		return rc;
	}
	free(hdr);

	bool extl2 = (q.incompat & INCOMPAT_EXTL2) != 0;
	/* qemu's limit: subclusters of at least 512 bytes. */
	if (extl2 && q.cluster_bits < 14)
		return errmsg(err, errlen, -ENOTSUP, "qcow2 extended L2 entries need clusters of at least 16 KiB (have %u)",
		            1u << q.cluster_bits);

	qcow2_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	img_reader_init(&r->base, &qcow2_ops, "qcow2");
	pthread_mutex_init(&r->zlock, NULL);
	pthread_cond_init(&r->zdone, NULL);
	r->fd = fd;
	r->file_size = file_size;
	r->version = q.version;
	r->cluster_bits = q.cluster_bits;
	r->cluster_size = 1u << q.cluster_bits;
	r->extended_l2 = extl2;
	r->entry_words = extl2 ? 2 : 1;
	r->l2_bits = q.cluster_bits - (extl2 ? 4 : 3);
	r->sc_bits = q.cluster_bits - 5;
	r->compression = q.compression;
	r->csize_shift = 62 - (q.cluster_bits - 8);
	r->csize_mask = (1ull << (q.cluster_bits - 8)) - 1;

	if ((rc = load_l1(r, &q, err, errlen)) < 0) {
		qcow2_free(r);
		return rc;
	}
	set_info(r, &q);
	*ret = &r->base;
	return 0;
}

static void qcow2_close(img_reader *base)
{
	qcow2_free((qcow2_reader *)base);
}

/* ---- L2 lookup ----------------------------------------------------------- */

/* Makes w hold the L2 entry of `cluster`, reading at most the entries up to
 * `last` (the last cluster the caller needs) and never past the L2 table. */
static int load_window(qcow2_reader *r, l2_window *w, uint64_t cluster, uint64_t last)
{
	uint64_t l2_entries = 1ull << r->l2_bits;
	uint64_t idx = cluster & (l2_entries - 1);
	uint64_t l2_off = r->l1[cluster >> r->l2_bits];
	uint64_t n = L2_WINDOW_WORDS / r->entry_words;
	if (n > l2_entries - idx)
		n = l2_entries - idx;
	if (n > last - cluster + 1)
		n = last - cluster + 1;
	size_t bytes = (size_t)n * r->entry_words * 8;
	/* In the file: load_l1() checked the whole table is. */
	int rc = pread_full(r->fd, w->ent, bytes, l2_off + idx * r->entry_words * 8);
	if (rc < 0) {
		w->n = 0;
		img_reader_set_error(&r->base, "reading the qcow2 L2 table at %#llx: %s", (unsigned long long)l2_off,
		                     strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < n * r->entry_words; i++)
		w->ent[i] = be64((const uint8_t *)&w->ent[i]);
	w->first = cluster;
	w->n = (uint32_t)n;
	return 0;
}

static int corrupt(qcow2_reader *r, uint64_t guest, const char *what)
{
	img_reader_set_error(&r->base, "qcow2 image is corrupt: %s (guest offset %llu)", what,
	                     (unsigned long long)guest);
	return -EBADMSG;
}

/* A data range must lie inside the file: qemu would read zeros past the end,
 * but an image pointing there has lost data. */
static int check_data(qcow2_reader *r, uint64_t guest, uint64_t host, uint64_t len)
{
	if (host > r->file_size || len > r->file_size - host) {
		img_reader_set_error(&r->base,
		                     "qcow2 image is corrupt: data at host offset %#llx (guest offset %llu) is beyond "
		                     "the end of the file",
		                     (unsigned long long)host, (unsigned long long)guest);
		return -EBADMSG;
	}
	return 0;
}

/* Subcluster state in an extended L2 entry: 0 hole, 1 data, 2 zero. */
static int sc_state(uint64_t bitmap, uint32_t sc)
{
	if (bitmap & (1ull << (32 + sc)))
		return 2;
	return (bitmap & (1ull << sc)) ? 1 : 0;
}

/* Describes the guest bytes at `off` (< end <= virtual size). */
static int next_segment(qcow2_reader *r, l2_window *w, uint64_t off, uint64_t end, q_seg *s)
{
	uint64_t cs = r->cluster_size;
	uint64_t cluster = off >> r->cluster_bits;
	uint64_t l1i = cluster >> r->l2_bits;
	*s = (q_seg){ .kind = IMG_EXTENT_HOLE };

	if (r->l1[l1i] == 0) {
		/* No L2 table: everything it would map is unallocated. */
		uint64_t span_end = (l1i + 1) << (r->cluster_bits + r->l2_bits);
		s->len = (span_end < end ? span_end : end) - off;
		return 0;
	}
	if (w->n == 0 || cluster < w->first || cluster - w->first >= w->n) {
		int rc = load_window(r, w, cluster, (end - 1) >> r->cluster_bits);
		if (rc < 0)
			return rc;
	}
	const uint64_t *ent = &w->ent[(cluster - w->first) * r->entry_words];
	uint64_t entry = ent[0];
	uint64_t in = off & (cs - 1);
	uint64_t cl_end = (cluster << r->cluster_bits) + cs;
	if (cl_end > end)
		cl_end = end;
	s->len = cl_end - off;

	if (entry & OFLAG_COMPRESSED) {
		uint64_t coff = entry & ((1ull << r->csize_shift) - 1);
		if (coff >= r->file_size)
			return corrupt(r, off, "compressed cluster beyond the end of the file");
		s->kind = IMG_EXTENT_DATA;
		s->compressed = true;
		s->host = entry & ~OFLAG_COPIED;
		return 0;
	}
	uint64_t host = entry & L2E_OFFSET_MASK;
	if (host & (cs - 1))
		return corrupt(r, off, "unaligned data cluster offset");

	if (!r->extended_l2) {
		if (entry & OFLAG_ZERO) {
			if (r->version < 3)
				return corrupt(r, off, "zero cluster in a version 2 image");
			s->kind = IMG_EXTENT_ZERO;
			return 0;
		}
		if (host == 0)
			return 0; /* hole */
		s->kind = IMG_EXTENT_DATA;
		s->host = host + in;
		return check_data(r, off, s->host, s->len);
	}

	uint64_t bitmap = ent[1];
	if (host == 0 && (bitmap & SUBCLUSTER_ALLOC_MASK))
		return corrupt(r, off, "allocated subclusters in an unallocated cluster");
	if ((bitmap >> 32) & bitmap)
		return corrupt(r, off, "subcluster both allocated and zero");
	uint32_t sc = (uint32_t)(in >> r->sc_bits);
	int state = sc_state(bitmap, sc);
	uint32_t sc_last = sc + 1;
	while (sc_last < SUBCLUSTERS && sc_state(bitmap, sc_last) == state)
		sc_last++;
	uint64_t run_end = (cluster << r->cluster_bits) + ((uint64_t)sc_last << r->sc_bits);
	if (run_end < cl_end)
		s->len = run_end - off;
	if (state == 2) {
		s->kind = IMG_EXTENT_ZERO;
	} else if (state == 1) {
		s->kind = IMG_EXTENT_DATA;
		s->host = host + in;
		return check_data(r, off, s->host, s->len);
	}
	return 0;
}

static int qcow2_map(img_reader *base, uint64_t off, uint64_t max, img_extent *e)
{
	qcow2_reader *r = (qcow2_reader *)base;
	uint64_t size = base->info.virtual_size;
	if (off >= size || max == 0)
		return -EINVAL;
	uint64_t end = off + (max < size - off ? max : size - off);
	l2_window w;
	w.n = 0;
	q_seg s;
	int rc = next_segment(r, &w, off, end, &s);
	if (rc < 0)
		return rc;
	*e = (img_extent){ .offset = off, .kind = s.kind, .compressed = s.compressed };
	uint64_t pos = off + s.len;
	for (unsigned steps = 1; pos < end && steps < MAP_MAX_STEPS; steps++) {
		q_seg t;
		if ((rc = next_segment(r, &w, pos, end, &t)) < 0)
			return rc;
		if (t.kind != s.kind || t.compressed != s.compressed)
			break;
		pos += t.len;
	}
	e->length = pos - off;
	return 0;
}

/* ---- decompression ------------------------------------------------------- */

static int decode_deflate(qcow2_reader *r, q_scratch *sc, const uint8_t *in, size_t in_len, uint8_t *out)
{
	if (!sc->deflate && !(sc->deflate = libdeflate_alloc_decompressor()))
		return -ENOMEM;
	size_t got = 0;
	enum libdeflate_result res =
	    libdeflate_deflate_decompress_ex(sc->deflate, in, in_len, out, r->cluster_size, NULL, &got);
	if (res != LIBDEFLATE_SUCCESS || got != r->cluster_size)
		return -EBADMSG;
	return 0;
}

/* The cluster's sectors may hold garbage after the frame and the output
 * must fill the cluster exactly, as in qemu. Each frame is measured first and
 * then decoded in one shot, straight into the output: no window buffer, and
 * a frame claiming more than the cluster fails on the output bound. */
static int decode_zstd(qcow2_reader *r, q_scratch *sc, const uint8_t *in, size_t in_len, uint8_t *out)
{
	if (!sc->zstd && !(sc->zstd = ZSTD_createDCtx()))
		return -ENOMEM;
	size_t in_pos = 0, out_pos = 0;
	while (out_pos < r->cluster_size) {
		size_t frame = ZSTD_findFrameCompressedSize(in + in_pos, in_len - in_pos);
		if (ZSTD_isError(frame) || frame == 0)
			return -EBADMSG;
		size_t got = ZSTD_decompressDCtx(sc->zstd, out + out_pos, r->cluster_size - out_pos, in + in_pos, frame);
		if (ZSTD_isError(got))
			return -EBADMSG;
		in_pos += frame;
		out_pos += got;
	}
	return 0;
}

/* Decompresses the cluster described by `desc` into out (one cluster). */
static int decompress(qcow2_reader *r, q_scratch *sc, uint64_t guest, uint64_t desc, uint8_t *out)
{
	uint64_t coff = desc & ((1ull << r->csize_shift) - 1);
	uint64_t sectors = ((desc >> r->csize_shift) & r->csize_mask) + 1;
	/* At most 2 clusters by the descriptor's width; clamp to the file end,
	 * where qemu's last compressed cluster usually stops short. */
	uint64_t csize = sectors * COMPRESSED_SECTOR - (coff & (COMPRESSED_SECTOR - 1));
	if (csize > 2ull * r->cluster_size + COMPRESSED_SECTOR)
		return corrupt(r, guest, "compressed cluster too large");
	if (coff >= r->file_size)
		return corrupt(r, guest, "compressed cluster beyond the end of the file");
	if (csize > r->file_size - coff)
		csize = r->file_size - coff;
	if (sc->in_cap < csize) {
		uint8_t *p = realloc(sc->in, (size_t)csize);
		if (!p) {
			img_reader_set_error(&r->base, "out of memory");
			return -ENOMEM;
		}
		sc->in = p;
		sc->in_cap = (size_t)csize;
	}
	int rc = pread_full(r->fd, sc->in, (size_t)csize, coff);
	if (rc < 0) {
		img_reader_set_error(&r->base, "reading a qcow2 compressed cluster at %#llx: %s",
		                     (unsigned long long)coff, strerror(-rc));
		return rc;
	}
	if (r->compression == COMPRESSION_ZSTD)
		rc = decode_zstd(r, sc, sc->in, (size_t)csize, out);
	else
		rc = decode_deflate(r, sc, sc->in, (size_t)csize, out);
	if (rc == -ENOMEM) {
		img_reader_set_error(&r->base, "out of memory");
		return rc;
	}
	if (rc < 0) {
		img_reader_set_error(&r->base,
		                     "qcow2 image is corrupt: compressed cluster at host offset %#llx does not "
		                     "decompress to %u bytes of %s data (guest offset %llu)",
		                     (unsigned long long)coff, r->cluster_size,
		                     r->compression == COMPRESSION_ZSTD ? "zstd" : "deflate",
		                     (unsigned long long)guest);
		return -EBADMSG;
	}
	return 0;
}

/* ---- read ---------------------------------------------------------------- */

/* Host-contiguous data waiting for one pread. */
typedef struct q_run {
	uint8_t *dst;
	uint64_t host;
	uint64_t guest;
	size_t len;
} q_run;

static int flush_run(qcow2_reader *r, q_run *run)
{
	if (run->len == 0)
		return 0;
	int rc = pread_full(r->fd, run->dst, run->len, run->host);
	if (rc < 0)
		img_reader_set_error(&r->base, "reading qcow2 data at host offset %#llx (guest offset %llu): %s",
		                     (unsigned long long)run->host, (unsigned long long)run->guest, strerror(-rc));
	run->len = 0;
	return rc;
}

/* Part of a compressed cluster, through the cache. Threads reading other
 * parts of the same cluster at the same time wait for the one decompressing
 * it rather than all doing the same work. */
static int read_compressed_part(qcow2_reader *r, q_scratch *sc, uint64_t pos, const q_seg *s, uint8_t *dst)
{
	uint64_t in = pos & (r->cluster_size - 1);
	size_t len = (size_t)s->len;
	zslot *slot = NULL;
	pthread_mutex_lock(&r->zlock);
	for (;;) {
		zslot *found = NULL;
		for (unsigned i = 0; i < ZCACHE_SLOTS; i++)
			if (r->zcache[i].state != ZSLOT_EMPTY && r->zcache[i].key == s->host)
				found = &r->zcache[i];
		if (found && found->state == ZSLOT_READY) {
			memcpy(dst, found->data + in, len);
			found->stamp = ++r->zclock;
			pthread_mutex_unlock(&r->zlock);
			return 0;
		}
		if (!found)
			break;
		pthread_cond_wait(&r->zdone, &r->zlock);
	}
	/* Claim the least recently used slot nobody is filling. */
	for (unsigned i = 0; i < ZCACHE_SLOTS; i++) {
		zslot *z = &r->zcache[i];
		if (z->state == ZSLOT_LOADING)
			continue;
		if (!slot || z->state == ZSLOT_EMPTY || (slot->state != ZSLOT_EMPTY && z->stamp < slot->stamp))
			slot = z;
	}
	uint8_t *buf = NULL;
	if (slot) {
		slot->state = ZSLOT_LOADING;
		slot->key = s->host;
		buf = slot->data;
	}
	pthread_mutex_unlock(&r->zlock);

	int rc = 0;
	if (!slot) { /* every slot busy: decompress privately */
		if (!sc->tmp && !(sc->tmp = malloc(r->cluster_size)))
			rc = -ENOMEM;
		buf = sc->tmp;
	} else if (!buf && !(buf = malloc(r->cluster_size))) {
		rc = -ENOMEM;
	}
	if (rc == -ENOMEM)
		img_reader_set_error(&r->base, "out of memory");
	else
		rc = decompress(r, sc, pos, s->host, buf);
	if (rc == 0)
		memcpy(dst, buf + in, len);
	if (slot) {
		pthread_mutex_lock(&r->zlock);
		slot->data = buf;
		slot->state = rc == 0 ? ZSLOT_READY : ZSLOT_EMPTY;
		slot->stamp = ++r->zclock;
		pthread_cond_broadcast(&r->zdone);
		pthread_mutex_unlock(&r->zlock);
	}
	return rc;
}

static int read_compressed(qcow2_reader *r, q_scratch *sc, uint64_t pos, const q_seg *s, uint8_t *dst)
{
	/* A whole cluster goes straight to the caller, past the cache. */
	if ((pos & (r->cluster_size - 1)) == 0 && s->len == r->cluster_size)
		return decompress(r, sc, pos, s->host, dst);
	return read_compressed_part(r, sc, pos, s, dst);
}

static int read_range(qcow2_reader *r, q_scratch *sc, uint64_t off, uint8_t *buf, size_t len)
{
	uint64_t end = off + len;
	l2_window w;
	w.n = 0;
	q_run run = { 0 };
	uint64_t pos = off;
	while (pos < end) {
		q_seg s;
		int rc = next_segment(r, &w, pos, end, &s);
		if (rc < 0)
			return rc;
		uint8_t *dst = buf + (pos - off);
		if (s.kind == IMG_EXTENT_DATA && !s.compressed) {
			if (run.len && run.host + run.len == s.host && run.dst + run.len == dst) {
				run.len += (size_t)s.len;
			} else {
				if ((rc = flush_run(r, &run)) < 0)
					return rc;
				run = (q_run){ .dst = dst, .host = s.host, .guest = pos, .len = (size_t)s.len };
			}
		} else if (s.kind == IMG_EXTENT_DATA) {
			if ((rc = read_compressed(r, sc, pos, &s, dst)) < 0)
				return rc;
		} else {
			memset(dst, 0, (size_t)s.len);
		}
		pos += s.len;
	}
	return flush_run(r, &run);
}

static int qcow2_read(img_reader *base, uint64_t off, void *buf, size_t len)
{
	qcow2_reader *r = (qcow2_reader *)base;
	uint64_t size = base->info.virtual_size;
	if (len > IMG_MAX_IO || off > size || len > size - off)
		return -EINVAL;
	if (len == 0)
		return 0;
	pthread_mutex_lock(&r->zlock);
	q_scratch *sc = r->pool;
	if (sc)
		r->pool = sc->next;
	pthread_mutex_unlock(&r->zlock);
	if (!sc && !(sc = calloc(1, sizeof(*sc)))) {
		img_reader_set_error(base, "out of memory");
		return -ENOMEM;
	}
	int rc = read_range(r, sc, off, buf, len);
	pthread_mutex_lock(&r->zlock);
	sc->next = r->pool;
	r->pool = sc;
	pthread_mutex_unlock(&r->zlock);
	return rc;
}
