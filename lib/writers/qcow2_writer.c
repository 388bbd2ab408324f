/* SPDX-License-Identifier: MIT */
/*
 * qcow2 v3 output, written in one forward pass:
 *
 *   cluster 0           header, written last so that a half-written file is
 *                       never mistaken for a finished image
 *   data + L2 tables    appended in guest order as units are committed; an L2
 *                       table is appended (and forgotten) as soon as the
 *                       commits have passed the range it maps
 *   L1 table            at finish
 *   refcount blocks     at finish, counting every host cluster including
 *   refcount table      themselves
 *
 * Host space is only ever appended and never freed, so every host cluster
 * below the end is in use: refcounts live in memory (16 bits per host
 * cluster) and are written once, at the end.
 *
 * Zero clusters stay unallocated: without a backing file they read as zeros,
 * which is what qemu-img convert does. Compressed clusters are packed back to
 * back at 512-byte granularity and may straddle host clusters; a host cluster
 * is counted once per compressed cluster that touches it, as qemu-img check
 * expects.
 */
#include <endian.h>
#include <errno.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "writers/writer.h"
#include "util/bytes.h"
#include "util/fileio.h"

#define SECTOR 512u
#define QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */
#define QCOW2_VERSION 3u
#define HEADER_LENGTH 112u      /* v3 header up to the compression type, padded to 8 */
#define REFCOUNT_ORDER 4u       /* 16-bit refcounts */
#define OFLAG_COPIED (1ull << 63)
#define OFLAG_COMPRESSED (1ull << 62)
#define INCOMPAT_COMPRESSION (1ull << 3)
#define EXT_END 0x00000000u
#define EXT_FEATURE_NAMES 0x6803f857u
#define COMPRESSION_TYPE_ZSTD 1u

/* qemu refuses to open images whose tables exceed these. */
#define MAX_L1_BYTES (32ull << 20)
#define MAX_REFTABLE_BYTES (8ull << 20)
/* Bounds the refcount array to 512 MiB; also keeps every host offset within
 * the bits a compressed-cluster descriptor has for it (2^49 at 2 MiB). */
#define MAX_HOST_CLUSTERS (1ull << 28)

#define ZLIB_LEVEL 6
#define ZSTD_LEVEL 3
#define MAX_IOV 64

typedef enum { CL_ZERO = 0, CL_RAW, CL_COMPRESSED } cl_kind;

typedef struct enc_cluster {
	size_t off;   /* CL_COMPRESSED: where its bytes start in enc_unit.cdata */
	uint32_t len; /* CL_COMPRESSED: number of bytes */
	uint8_t kind;
} enc_cluster;

/* What encode() leaves for commit(): a verdict per cluster. Raw clusters are
 * written straight from the unit's data, which lives until the commit. */
typedef struct enc_unit {
	unsigned char *cdata; /* compressed clusters, back to back */
	unsigned char *tail;  /* the last, partial cluster zero-padded, when stored raw */
	size_t n;
	enc_cluster cl[];
} enc_unit;

typedef struct qcow2_writer {
	img_writer base;
	int fd;
	uint32_t cluster_size;
	unsigned cluster_bits;
	qcow2_compression comp;
	uint64_t l2_entries; /* entries per L2 table */

	pthread_mutex_t err_lock; /* encode() may fail on several threads at once */
	int broken;               /* a commit/finish failed: the image is inconsistent */
	bool finished;            /* the metadata is written; nothing more may come */

	uint64_t end;        /* host offset of the next free cluster */
	uint64_t cpos, cend; /* open compressed area: next free sector, end of its clusters */
	uint16_t *rc;        /* refcount per host cluster below `end` */
	uint64_t rc_cap;

	uint64_t next_guest; /* commits must start at or past this guest offset */
	bool partial_tail;   /* a unit ended off a cluster boundary, so it was the last */

	uint64_t *l2; /* the L2 table being filled, host byte order */
	uint64_t l2_index;
	bool l2_dirty;
	uint64_t *l1; /* host offsets of the L2 tables written so far (0: none) */
	uint64_t l1_len, l1_cap;
} qcow2_writer;

typedef struct wbatch {
	uint64_t off; /* host offset of iov[0] */
	uint64_t len;
	int n;
	struct iovec iov[MAX_IOV];
} wbatch;

static uint64_t round_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) / align * align;
}

static uint64_t div_up(uint64_t v, uint64_t d)
{
	return v / d + (v % d != 0);
}

static int fail(qcow2_writer *qw, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(qcow2_writer *qw, int r, const char *fmt, ...)
{
	/* The first message wins: later failures are usually its consequences. */
	pthread_mutex_lock(&qw->err_lock);
	if (!qw->base.err[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(qw->base.err, sizeof(qw->base.err), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&qw->err_lock);
	return r;
}

static int batch_flush(int fd, wbatch *b)
{
	struct iovec *iov = b->iov;
	int n = b->n;
	uint64_t off = b->off;
	b->n = 0;
	b->len = 0;
	while (n > 0) {
		ssize_t w = pwritev(fd, iov, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		off += (uint64_t)w;
		/* A short write leaves us inside some iovec: resume from there. */
		size_t left = (size_t)w;
		while (n > 0 && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (unsigned char *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	return 0;
}

/* Queues a write; host-contiguous writes go out in one pwritev. */
static int batch_add(int fd, wbatch *b, uint64_t off, const void *p, size_t len)
{
	if (b->n > 0 && (b->off + b->len != off || b->n == MAX_IOV)) {
		int r = batch_flush(fd, b);
		if (r < 0)
			return r;
	}
	if (b->n == 0)
		b->off = off;
	b->iov[b->n++] = (struct iovec){ .iov_base = (void *)p, .iov_len = len };
	b->len += len;
	return 0;
}

static void enc_free(enc_unit *eu)
{
	if (!eu)
		return;
	free(eu->cdata);
	free(eu->tail);
	free(eu);
}

/* ---- encode: worker threads; reads only immutable writer fields ---- */

static const unsigned char *cluster_src(const qcow2_writer *qw, const img_unit *u, const enc_unit *eu, size_t i)
{
	if (i == eu->n - 1 && eu->tail)
		return eu->tail;
	return u->data + i * qw->cluster_size;
}

/* Compresses one cluster into dst (room bytes). Returns the size, 0 when it
 * does not fit (store it raw), or a negative errno. */
static ssize_t compress_cluster(qcow2_writer *qw, struct libdeflate_compressor *zc, ZSTD_CCtx *zs,
                                const unsigned char *src, unsigned char *dst, size_t room)
{
	if (zc)
		return (ssize_t)libdeflate_deflate_compress(zc, src, qw->cluster_size, dst, room);
	size_t got = ZSTD_compressCCtx(zs, dst, room, src, qw->cluster_size, ZSTD_LEVEL);
	if (!ZSTD_isError(got))
		return (ssize_t)got;
	if (ZSTD_getErrorCode(got) == ZSTD_error_dstSize_tooSmall)
		return 0;
	return fail(qw, -EIO, "zstd compression failed: %s", ZSTD_getErrorName(got));
}

static int compress_unit(qcow2_writer *qw, const img_unit *u, enc_unit *eu)
{
	/* A cluster is only worth decompressing if that saves a whole sector
	 * (qemu itself settles for any saving). */
	size_t room = qw->cluster_size - SECTOR - 1;
	size_t nonzero = 0;
	for (size_t i = 0; i < eu->n; i++)
		nonzero += eu->cl[i].kind != CL_ZERO;

	/* Worst case up front: untouched pages of a large allocation cost nothing,
	 * and the buffer is trimmed below. */
	eu->cdata = malloc(nonzero * room);
	struct libdeflate_compressor *zc = NULL;
	ZSTD_CCtx *zs = NULL;
	if (qw->comp == QCOW2_COMPRESS_ZLIB)
		zc = libdeflate_alloc_compressor(ZLIB_LEVEL);
	else
		zs = ZSTD_createCCtx();
	int r = 0;
	if (!eu->cdata || (!zc && !zs)) {
		r = fail(qw, -ENOMEM, "out of memory compressing clusters");
		goto out;
	}
	size_t used = 0;
	for (size_t i = 0; i < eu->n; i++) {
		if (eu->cl[i].kind == CL_ZERO)
			continue;
		ssize_t got = compress_cluster(qw, zc, zs, cluster_src(qw, u, eu, i), eu->cdata + used, room);
		if (got < 0) {
			r = (int)got;
			goto out;
		}
		if (got == 0)
			continue;
		eu->cl[i] = (enc_cluster){ .off = used, .len = (uint32_t)got, .kind = CL_COMPRESSED };
		used += (size_t)got;
	}
	if (used == 0) {
		free(eu->cdata);
		eu->cdata = NULL;
	} else {
		unsigned char *p = realloc(eu->cdata, used);
		if (p)
			eu->cdata = p;
	}
out:
	libdeflate_free_compressor(zc);
	ZSTD_freeCCtx(zs);
	return r;
}

static int qcow2_encode(img_writer *w, img_unit *u)
{
	qcow2_writer *qw = (qcow2_writer *)w;
	const size_t cs = qw->cluster_size;
	u->priv = NULL;
	if (u->all_zero_hint || u->length == 0)
		return 0;
	if (u->offset % cs)
		return fail(qw, -EINVAL, "unit at offset %llu is not aligned to the %zu-byte cluster size",
		            (unsigned long long)u->offset, cs);

	size_t n = div_up(u->length, cs);
	enc_unit *eu = calloc(1, sizeof(*eu) + n * sizeof(eu->cl[0]));
	if (!eu)
		return fail(qw, -ENOMEM, "out of memory");
	eu->n = n;
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		size_t len = u->length - i * cs < cs ? u->length - i * cs : cs;
		if (!buf_is_zero(u->data + i * cs, len)) {
			eu->cl[i].kind = CL_RAW;
			any = true;
		}
	}
	if (!any) {
		/* Tells the committer (and the engine's statistics) there is no data. */
		enc_free(eu);
		u->all_zero_hint = true;
		return 0;
	}

	/* Host clusters are whole and decompression must yield a whole cluster,
	 * so the short end of the disk is padded with zeros. */
	size_t last = u->length - (n - 1) * cs;
	if (last < cs && eu->cl[n - 1].kind != CL_ZERO) {
		eu->tail = calloc(1, cs);
		if (!eu->tail) {
			enc_free(eu);
			return fail(qw, -ENOMEM, "out of memory");
		}
		memcpy(eu->tail, u->data + (n - 1) * cs, last);
	}

	if (qw->comp != QCOW2_COMPRESS_NONE && cs > SECTOR) {
		int r = compress_unit(qw, u, eu);
		if (r < 0) {
			enc_free(eu);
			return r;
		}
		if (eu->cl[n - 1].kind == CL_COMPRESSED) {
			free(eu->tail);
			eu->tail = NULL;
		}
	}
	u->priv = eu;
	return 0;
}

/* ---- commit and finish: one thread, in order ---- */

static int grow_refcounts(qcow2_writer *qw, uint64_t clusters)
{
	if (clusters <= qw->rc_cap)
		return 0;
	if (clusters > MAX_HOST_CLUSTERS)
		return fail(qw, -EFBIG, "the image would need more than %llu host clusters; use a larger cluster size",
		            (unsigned long long)MAX_HOST_CLUSTERS);
	uint64_t cap = qw->rc_cap < 4096 ? 4096 : qw->rc_cap * 2;
	if (cap < clusters)
		cap = clusters;
	if (cap > MAX_HOST_CLUSTERS)
		cap = MAX_HOST_CLUSTERS;
	uint16_t *rc = realloc(qw->rc, cap * sizeof(*rc));
	if (!rc)
		return fail(qw, -ENOMEM, "out of memory for %llu refcounts", (unsigned long long)cap);
	memset(rc + qw->rc_cap, 0, (cap - qw->rc_cap) * sizeof(*rc));
	qw->rc = rc;
	qw->rc_cap = cap;
	return 0;
}

/* Appends n clusters used once (data, tables). */
static int alloc_clusters(qcow2_writer *qw, uint64_t n, uint64_t *ret)
{
	uint64_t first = qw->end >> qw->cluster_bits;
	int r = grow_refcounts(qw, first + n);
	if (r < 0)
		return r;
	for (uint64_t i = 0; i < n; i++)
		qw->rc[first + i] = 1;
	*ret = qw->end;
	qw->end += n << qw->cluster_bits;
	return 0;
}

/* Places len compressed bytes: their host offset and L2 entry. */
static int alloc_compressed(qcow2_writer *qw, size_t len, uint64_t *ret, uint64_t *entry)
{
	uint64_t need = round_up(len, SECTOR);
	if (qw->cend - qw->cpos < need) {
		/* The open area can only run on into clusters right after it; when
		 * something else was appended since, its rest is abandoned. */
		if (qw->cend != qw->end)
			qw->cpos = qw->cend = qw->end;
		uint64_t more = round_up(qw->cpos + need - qw->cend, qw->cluster_size);
		int r = grow_refcounts(qw, (qw->end + more) >> qw->cluster_bits);
		if (r < 0)
			return r;
		qw->end += more;
		qw->cend = qw->end;
	}
	uint64_t off = qw->cpos;
	qw->cpos += need;
	for (uint64_t c = off >> qw->cluster_bits; c <= (off + need - 1) >> qw->cluster_bits; c++)
		qw->rc[c]++;
	unsigned shift = 62 - (qw->cluster_bits - 8);
	*entry = OFLAG_COMPRESSED | ((need / SECTOR - 1) << shift) | off;
	*ret = off;
	return 0;
}

static int l1_set(qcow2_writer *qw, uint64_t index, uint64_t l2_offset)
{
	if (index >= qw->l1_cap) {
		uint64_t cap = qw->l1_cap < 64 ? 64 : qw->l1_cap * 2;
		if (cap <= index)
			cap = index + 1;
		uint64_t *l1 = realloc(qw->l1, cap * sizeof(*l1));
		if (!l1)
			return fail(qw, -ENOMEM, "out of memory for the L1 table");
		memset(l1 + qw->l1_cap, 0, (cap - qw->l1_cap) * sizeof(*l1));
		qw->l1 = l1;
		qw->l1_cap = cap;
	}
	qw->l1[index] = l2_offset;
	if (index >= qw->l1_len)
		qw->l1_len = index + 1;
	return 0;
}

static int flush_l2(qcow2_writer *qw)
{
	uint64_t off;
	int r = alloc_clusters(qw, 1, &off);
	if (r < 0)
		return r;
	for (uint64_t i = 0; i < qw->l2_entries; i++)
		qw->l2[i] = htobe64(qw->l2[i]);
	r = pwrite_full(qw->fd, qw->l2, qw->cluster_size, off);
	memset(qw->l2, 0, qw->cluster_size);
	qw->l2_dirty = false;
	if (r < 0)
		return fail(qw, r, "writing an L2 table at host offset %llu: %s", (unsigned long long)off,
		            strerror(-r));
	return l1_set(qw, qw->l2_index, off);
}

static int set_l2(qcow2_writer *qw, uint64_t guest_cluster, uint64_t entry)
{
	uint64_t index = guest_cluster / qw->l2_entries;
	if (qw->l2_dirty && index != qw->l2_index) {
		int r = flush_l2(qw);
		if (r < 0)
			return r;
	}
	qw->l2_index = index;
	qw->l2[guest_cluster % qw->l2_entries] = entry;
	qw->l2_dirty = true;
	return 0;
}

static int commit_clusters(qcow2_writer *qw, const img_unit *u, const enc_unit *eu)
{
	wbatch b = { 0 };
	uint64_t first = u->offset >> qw->cluster_bits;
	for (size_t i = 0; i < eu->n; i++) {
		const enc_cluster *c = &eu->cl[i];
		uint64_t off = 0, entry = 0;
		int r = 0;
		if (c->kind == CL_ZERO)
			continue;
		if (c->kind == CL_RAW) {
			r = alloc_clusters(qw, 1, &off);
			if (r == 0)
				r = batch_add(qw->fd, &b, off, cluster_src(qw, u, eu, i), qw->cluster_size);
			entry = off | OFLAG_COPIED;
		} else {
			r = alloc_compressed(qw, c->len, &off, &entry);
			if (r == 0)
				r = batch_add(qw->fd, &b, off, eu->cdata + c->off, c->len);
		}
		if (r == 0)
			r = set_l2(qw, first + i, entry);
		if (r < 0)
			return fail(qw, r, "writing the cluster at guest offset %llu: %s",
			            (unsigned long long)((first + i) << qw->cluster_bits), strerror(-r));
	}
	int r = batch_flush(qw->fd, &b);
	if (r < 0)
		return fail(qw, r, "writing the unit at guest offset %llu: %s", (unsigned long long)u->offset,
		            strerror(-r));
	return 0;
}

static int commit_unit(qcow2_writer *qw, const img_unit *u, const enc_unit *eu)
{
	if (qw->broken)
		return fail(qw, qw->broken, "an earlier write failed");
	if (qw->finished)
		return fail(qw, -EINVAL, "unit at guest offset %llu committed after finish",
		            (unsigned long long)u->offset);
	if (u->offset % qw->cluster_size || u->offset < qw->next_guest || qw->partial_tail)
		return fail(qw, -EINVAL, "unit at guest offset %llu is out of order or not cluster-aligned",
		            (unsigned long long)u->offset);
	if (!eu && !u->all_zero_hint && u->length > 0)
		return fail(qw, -EINVAL, "unit at guest offset %llu was not encoded", (unsigned long long)u->offset);
	uint64_t end = u->offset + u->length;
	uint64_t l1_needed = div_up(div_up(end, qw->cluster_size), qw->l2_entries);
	if (l1_needed > MAX_L1_BYTES / 8)
		return fail(qw, -EFBIG, "guest offset %llu is too large for %u-byte clusters", (unsigned long long)end,
		            qw->cluster_size);
	if (eu) {
		int r = commit_clusters(qw, u, eu);
		if (r < 0)
			return r;
	}
	qw->next_guest = end;
	qw->partial_tail = u->length % qw->cluster_size != 0;
	/* Bounded memory: an L2 table leaves as soon as its range is complete. */
	uint64_t l2_span = qw->l2_entries << qw->cluster_bits;
	if (qw->l2_dirty && end >= (qw->l2_index + 1) * l2_span)
		return flush_l2(qw);
	return 0;
}

static int qcow2_commit(img_writer *w, img_unit *u)
{
	qcow2_writer *qw = (qcow2_writer *)w;
	enc_unit *eu = u->priv;
	u->priv = NULL;
	int r = commit_unit(qw, u, eu);
	enc_free(eu);
	if (r < 0)
		qw->broken = r;
	return r;
}

static void qcow2_discard(img_writer *w, img_unit *u)
{
	(void)w;
	enc_free(u->priv);
	u->priv = NULL;
}

static int write_l1(qcow2_writer *qw, uint64_t l1_size, uint64_t *ret)
{
	*ret = 0;
	if (l1_size == 0)
		return 0;
	uint64_t nclusters = div_up(l1_size * 8, qw->cluster_size);
	unsigned char *buf = calloc(nclusters, qw->cluster_size);
	if (!buf)
		return fail(qw, -ENOMEM, "out of memory for the L1 table");
	for (uint64_t i = 0; i < qw->l1_len; i++)
		if (qw->l1[i])
			put_be64(buf + i * 8, qw->l1[i] | OFLAG_COPIED);
	uint64_t off = 0;
	int r = alloc_clusters(qw, nclusters, &off);
	if (r == 0) {
		r = pwrite_full(qw->fd, buf, nclusters * qw->cluster_size, off);
		if (r < 0)
			fail(qw, r, "writing the L1 table: %s", strerror(-r));
	}
	free(buf);
	*ret = off;
	return r;
}

/* Sizes the refcount blocks and table, which count themselves: iterate until
 * the numbers stop changing (they only grow, so this ends quickly). */
static void size_refcounts(uint64_t used, uint64_t per_block, uint64_t cluster_size, uint64_t *blocks,
                           uint64_t *table)
{
	uint64_t nb = 0, nt = 0;
	for (;;) {
		uint64_t b = div_up(used + nb + nt, per_block);
		uint64_t t = div_up(b * 8, cluster_size);
		if (b == nb && t == nt)
			break;
		nb = b;
		nt = t;
	}
	*blocks = nb;
	*table = nt;
}

static int write_refblocks(qcow2_writer *qw, uint64_t first, uint64_t nblocks, uint64_t total)
{
	const uint64_t cs = qw->cluster_size, per_block = cs * 8 / (1u << REFCOUNT_ORDER);
	/* Blocks are contiguous: write them in runs of about 1 MiB. */
	uint64_t chunk = cs >= (1u << 20) ? 1 : (1u << 20) / cs;
	if (chunk > nblocks)
		chunk = nblocks;
	unsigned char *buf = malloc(chunk * cs);
	if (!buf)
		return fail(qw, -ENOMEM, "out of memory for refcount blocks");
	int r = 0;
	for (uint64_t b = 0; b < nblocks && r == 0; b += chunk) {
		uint64_t n = nblocks - b < chunk ? nblocks - b : chunk;
		memset(buf, 0, n * cs);
		uint64_t c0 = b * per_block, c1 = (b + n) * per_block < total ? (b + n) * per_block : total;
		for (uint64_t c = c0; c < c1; c++)
			put_be16(buf + (c - c0) * 2, qw->rc[c]);
		r = pwrite_full(qw->fd, buf, n * cs, (first + b) * cs);
		if (r < 0)
			fail(qw, r, "writing refcount blocks: %s", strerror(-r));
	}
	free(buf);
	return r;
}

static int write_refcounts(qcow2_writer *qw, uint64_t *table_off, uint64_t *table_clusters)
{
	const uint64_t cs = qw->cluster_size, per_block = cs * 8 / (1u << REFCOUNT_ORDER);
	uint64_t used = qw->end >> qw->cluster_bits, nblocks, ntable;
	size_refcounts(used, per_block, cs, &nblocks, &ntable);
	if (ntable * cs > MAX_REFTABLE_BYTES)
		return fail(qw, -EFBIG, "the refcount table would exceed qemu's limit; use a larger cluster size");
	uint64_t blocks_off, toff;
	int r = alloc_clusters(qw, nblocks, &blocks_off);
	if (r == 0)
		r = alloc_clusters(qw, ntable, &toff);
	if (r < 0)
		return r;
	uint64_t total = qw->end >> qw->cluster_bits;
	r = write_refblocks(qw, blocks_off / cs, nblocks, total);
	if (r < 0)
		return r;

	unsigned char *table = calloc(ntable, cs);
	if (!table)
		return fail(qw, -ENOMEM, "out of memory for the refcount table");
	for (uint64_t b = 0; b < nblocks; b++)
		put_be64(table + b * 8, blocks_off + b * cs);
	r = pwrite_full(qw->fd, table, ntable * cs, toff);
	free(table);
	if (r < 0)
		return fail(qw, r, "writing the refcount table: %s", strerror(-r));
	*table_off = toff;
	*table_clusters = ntable;
	return 0;
}

typedef struct header_fields {
	uint64_t size, l1_offset, refcount_table_offset;
	uint32_t l1_size, refcount_table_clusters;
} header_fields;

/* Header, then extensions: a feature name for the one feature we may set (so
 * an older qemu can say what it lacks) and the end marker. */
static size_t build_header(const qcow2_writer *qw, const header_fields *h, unsigned char *p)
{
	bool zstd = qw->comp == QCOW2_COMPRESS_ZSTD;
	put_be32(p + 0, QCOW2_MAGIC);
	put_be32(p + 4, QCOW2_VERSION);
	/* 8: backing file offset, 16: its size: none */
	put_be32(p + 20, qw->cluster_bits);
	put_be64(p + 24, h->size);
	/* 32: crypt method: none */
	put_be32(p + 36, h->l1_size);
	put_be64(p + 40, h->l1_offset);
	put_be64(p + 48, h->refcount_table_offset);
	put_be32(p + 56, h->refcount_table_clusters);
	/* 60: snapshots: none */
	put_be64(p + 72, zstd ? INCOMPAT_COMPRESSION : 0);
	/* 80, 88: compatible and autoclear features: none */
	put_be32(p + 96, REFCOUNT_ORDER);
	put_be32(p + 100, HEADER_LENGTH);
	p[104] = zstd ? COMPRESSION_TYPE_ZSTD : 0;
	size_t n = HEADER_LENGTH;
	if (zstd) {
		put_be32(p + n, EXT_FEATURE_NAMES);
		put_be32(p + n + 4, 48);
		p[n + 8] = 0; /* incompatible */
		p[n + 9] = 3;
		memcpy(p + n + 10, "compression type", sizeof("compression type") - 1);
		n += 8 + 48;
	}
	put_be32(p + n, EXT_END);
	put_be32(p + n + 4, 0);
	return n + 8;
}

static int finish_image(qcow2_writer *qw)
{
	if (qw->broken)
		return fail(qw, qw->broken, "an earlier write failed");
	/* A second pass would append new metadata and leak the first. */
	if (qw->finished)
		return fail(qw, -EINVAL, "the image is already finished");
	/* qemu counts the size in sectors: a ragged end is padded with zeros,
	 * which qemu-img convert does too. */
	uint64_t size = round_up(qw->base.virtual_size, SECTOR);
	if (qw->next_guest > size)
		return fail(qw, -EINVAL, "%llu bytes were committed, more than the virtual size %llu",
		            (unsigned long long)qw->next_guest, (unsigned long long)qw->base.virtual_size);
	uint64_t l1_size = div_up(div_up(size, qw->cluster_size), qw->l2_entries);
	if (l1_size > MAX_L1_BYTES / 8)
		return fail(qw, -EFBIG, "a virtual size of %llu bytes is too large for %u-byte clusters",
		            (unsigned long long)size, qw->cluster_size);
	int r = qw->l2_dirty ? flush_l2(qw) : 0;
	header_fields h = { .size = size, .l1_size = (uint32_t)l1_size };
	if (r == 0)
		r = write_l1(qw, l1_size, &h.l1_offset);
	uint64_t rt_clusters = 0;
	if (r == 0)
		r = write_refcounts(qw, &h.refcount_table_offset, &rt_clusters);
	if (r < 0)
		return r;
	h.refcount_table_clusters = (uint32_t)rt_clusters;
	qw->finished = true;

	unsigned char hdr[HEADER_LENGTH + 8 + 48 + 8] = { 0 };
	size_t len = build_header(qw, &h, hdr);
	r = pwrite_full(qw->fd, hdr, len, 0);
	if (r < 0)
		return fail(qw, r, "writing the qcow2 header: %s", strerror(-r));
	if (fsync(qw->fd) < 0) {
		r = -errno;
		return fail(qw, r, "fsync of the output failed: %s", strerror(-r));
	}
	return 0;
}

static int qcow2_finish(img_writer *w)
{
	qcow2_writer *qw = (qcow2_writer *)w;
	int r = finish_image(qw);
	if (r < 0)
		qw->broken = r;
	return r;
}

static void qcow2_free(img_writer *w)
{
	qcow2_writer *qw = (qcow2_writer *)w;
	if (!qw)
		return;
	free(qw->rc);
	free(qw->l1);
	free(qw->l2);
	pthread_mutex_destroy(&qw->err_lock);
	free(qw);
}

static const img_writer_ops qcow2_writer_ops = {
	.encode = qcow2_encode,
	.commit = qcow2_commit,
	.discard = qcow2_discard,
	.finish = qcow2_finish,
	.free = qcow2_free,
};

int qcow2_writer_new(int fd, uint64_t virtual_size, uint32_t cluster_size, qcow2_compression comp,
                     img_writer **ret)
{
	if (fd < 0)
		return -EBADF;
	if (cluster_size < 512 || cluster_size > (2u << 20) || (cluster_size & (cluster_size - 1)))
		return -EINVAL;
	if (comp != QCOW2_COMPRESS_NONE && comp != QCOW2_COMPRESS_ZLIB && comp != QCOW2_COMPRESS_ZSTD)
		return -EINVAL;
	uint64_t l2_entries = cluster_size / 8;
	if (div_up(div_up(round_up(virtual_size, SECTOR), cluster_size), l2_entries) > MAX_L1_BYTES / 8)
		return -EFBIG;

	qcow2_writer *qw = calloc(1, sizeof(*qw));
	if (!qw)
		return -ENOMEM;
	qw->l2 = calloc(1, cluster_size);
	if (!qw->l2 || pthread_mutex_init(&qw->err_lock, NULL) != 0) {
		free(qw->l2);
		free(qw);
		return -ENOMEM;
	}
	qw->base.ops = &qcow2_writer_ops;
	qw->base.virtual_size = virtual_size;
	qw->base.skips_zero_units = true;
	qw->fd = fd;
	qw->cluster_size = cluster_size;
	qw->cluster_bits = (unsigned)__builtin_ctz(cluster_size);
	qw->comp = comp;
	qw->l2_entries = l2_entries;
	uint64_t header;
	/* Cluster 0 is the header's; it is written at finish. */
	if (alloc_clusters(qw, 1, &header) < 0) {
		qcow2_free(&qw->base);
		return -ENOMEM;
	}
	*ret = &qw->base;
	return 0;
}
