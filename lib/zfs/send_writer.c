/* SPDX-License-Identifier: MIT */
#include "zfs/send_writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/bytes.h"
#include "zfs/fletcher4.h"
#include "zfs/send_format.h"

typedef struct block_sum {
	bool zero;
	fletcher4 sum; /* of the block alone, from zero */
} block_sum;

/* encode() → commit(): per-block results, and the zero-padded copy of a
 * unit's last partial block (the disk's end need not be block-aligned). */
typedef struct unit_sums {
	size_t nblocks;
	unsigned char *tail; /* volblocksize bytes, or NULL */
	block_sum blocks[];
} unit_sums;

typedef struct send_writer {
	img_writer base;
	zfs_send_params p;
	char toname[BEGIN_TONAME_LEN];
	uint64_t disk_size;
	zfs_send_sink_fn sink;
	void *u;
	fletcher4 sum;         /* running checksum of the stream */
	uint64_t stream_bytes;
	uint64_t free_start;   /* pending run of zero blocks [free_start, free_end) */
	uint64_t free_end;
	uint64_t next;         /* guest offset the next commit starts at */
	bool deferred_size;    /* volsize = the disk rounded up to size_unit, set at finish */
	uint64_t size_unit;
} send_writer;

static int emit(send_writer *w, const void *buf, size_t n)
{
	int r = w->sink(w->u, buf, n);
	if (r < 0) {
		if (!w->base.err[0])
			snprintf(w->base.err, sizeof(w->base.err), "writing the zfs send stream: %s", strerror(-r));
		return r;
	}
	w->stream_bytes += n;
	return 0;
}

/* A record other than BEGIN: checksum of the stream so far into bytes
 * 280..311, then the record and its payload (whose own sums are given, or
 * computed here). */
static int emit_record(send_writer *w, unsigned char rec[DRR_SIZE], const void *payload, size_t plen,
                       const fletcher4 *psum)
{
	fletcher4_update(&w->sum, rec, DRR_CKSUM_OFF);
	fletcher4_store(&w->sum, rec + DRR_CKSUM_OFF);
	fletcher4_update(&w->sum, rec + DRR_CKSUM_OFF, DRR_SIZE - DRR_CKSUM_OFF);
	int r = emit(w, rec, DRR_SIZE);
	if (r < 0 || plen == 0)
		return r;
	if (psum)
		fletcher4_combine(&w->sum, psum, plen);
	else
		fletcher4_update(&w->sum, payload, plen);
	return emit(w, payload, plen);
}

static int emit_free(send_writer *w, uint64_t object, uint64_t off, uint64_t len)
{
	unsigned char rec[DRR_SIZE] = { 0 };
	put_le32(rec, DRR_FREE);
	put_le64(rec + FREE_OBJECT, object);
	put_le64(rec + FREE_OFFSET, off);
	put_le64(rec + FREE_LENGTH, len);
	put_le64(rec + FREE_TOGUID, w->p.toguid);
	return emit_record(w, rec, NULL, 0, NULL);
}

static int emit_object(send_writer *w, uint64_t object, uint32_t type, uint32_t blksz, uint64_t maxblkid)
{
	unsigned char rec[DRR_SIZE] = { 0 };
	put_le32(rec, DRR_OBJECT);
	put_le64(rec + OBJECT_OBJECT, object);
	put_le32(rec + OBJECT_TYPE, type);
	put_le32(rec + OBJECT_BLKSZ, blksz);
	/* bonustype NONE, no bonus, checksum/compress inherited; a non-raw
	 * stream must leave flags, raw_bonuslen, indblkshift, nlevels and
	 * nblkptr zero (receivers since encryption check it). */
	rec[OBJECT_DN_SLOTS] = 1;
	put_le64(rec + OBJECT_TOGUID, w->p.toguid);
	put_le64(rec + OBJECT_MAXBLKID, maxblkid);
	return emit_record(w, rec, NULL, 0, NULL);
}

static int emit_write(send_writer *w, uint64_t object, uint32_t type, uint64_t off, const void *data, uint32_t len,
                      const fletcher4 *psum)
{
	unsigned char rec[DRR_SIZE] = { 0 };
	put_le32(rec, DRR_WRITE);
	put_le64(rec + WRITE_OBJECT, object);
	put_le32(rec + WRITE_TYPE, type);
	put_le64(rec + WRITE_OFFSET, off);
	put_le64(rec + WRITE_LOGICAL_SIZE, len);
	put_le64(rec + WRITE_TOGUID, w->p.toguid);
	/* What a sender puts for a block without a block pointer: checksum
	 * off, no dedup key, uncompressed payload. */
	rec[WRITE_CHECKSUMTYPE] = ZIO_CHECKSUM_OFF;
	return emit_record(w, rec, data, len, psum);
}

static int emit_begin(send_writer *w)
{
	unsigned char rec[DRR_SIZE] = { 0 };
	put_le32(rec, DRR_BEGIN);
	put_le64(rec + BEGIN_MAGIC, DMU_BACKUP_MAGIC);
	put_le64(rec + BEGIN_VERSIONINFO, DMU_SUBSTREAM); /* no feature flags */
	put_le64(rec + BEGIN_CREATION, w->p.creation_time);
	put_le32(rec + BEGIN_TYPE, DMU_OST_ZVOL);
	put_le32(rec + BEGIN_FLAGS, DRR_FLAG_FREERECORDS);
	put_le64(rec + BEGIN_TOGUID, w->p.toguid);
	memcpy(rec + BEGIN_TONAME, w->toname, strlen(w->toname));
	/* BEGIN has no checksum field of its own: its bytes 280..311 are toname. */
	fletcher4_update(&w->sum, rec, DRR_SIZE);
	int r = emit(w, rec, DRR_SIZE);
	if (r < 0)
		return r;
	uint64_t blocks = w->p.volsize / w->p.volblocksize;
	if ((r = emit_object(w, ZVOL_OBJ, DMU_OT_ZVOL, w->p.volblocksize, blocks ? blocks - 1 : 0)) < 0)
		return r;
	/* Everything past the data is free. A size learnt only at the end
	 * frees from 0: the object was just created, so that is the same to a
	 * receiver, and the records that follow write the data. */
	return emit_free(w, ZVOL_OBJ, w->p.volsize, UINT64_MAX);
}

static int flush_free(send_writer *w)
{
	if (w->free_end == w->free_start)
		return 0;
	int r = emit_free(w, ZVOL_OBJ, w->free_start, w->free_end - w->free_start);
	w->free_start = w->free_end = 0;
	return r;
}

static int add_zero(send_writer *w, uint64_t off, uint64_t len)
{
	if (w->free_end != w->free_start && w->free_end == off) {
		w->free_end += len;
		return 0;
	}
	int r = flush_free(w);
	w->free_start = off;
	w->free_end = off + len;
	return r;
}

static int sw_encode(img_writer *base, img_unit *u)
{
	send_writer *w = (send_writer *)base;
	size_t bs = w->p.volblocksize;
	if (u->all_zero_hint)
		return 0; /* priv NULL: every block is zero */
	size_t n = (u->length + bs - 1) / bs;
	unit_sums *s = calloc(1, sizeof(*s) + n * sizeof(block_sum));
	if (!s)
		return -ENOMEM;
	s->nblocks = n;
	for (size_t i = 0; i < n; i++) {
		const unsigned char *blk = u->data + i * bs;
		size_t have = u->length - i * bs < bs ? u->length - i * bs : bs;
		block_sum *b = &s->blocks[i];
		b->zero = buf_is_zero(blk, have);
		if (b->zero)
			continue;
		if (have < bs) {
			if (!(s->tail = calloc(1, bs))) {
				free(s);
				return -ENOMEM;
			}
			memcpy(s->tail, blk, have);
			blk = s->tail;
		}
		fletcher4_update(&b->sum, blk, bs);
	}
	u->priv = s;
	return 0;
}

static void sw_discard(img_writer *base, img_unit *u)
{
	(void)base;
	unit_sums *s = u->priv;
	if (s)
		free(s->tail);
	free(s);
	u->priv = NULL;
}

static int sw_commit(img_writer *base, img_unit *u)
{
	send_writer *w = (send_writer *)base;
	uint32_t bs = w->p.volblocksize;
	unit_sums *s = u->priv;
	int r = 0;
	if (u->offset != w->next || u->offset % bs) {
		snprintf(w->base.err, sizeof(w->base.err), "zfs send writer: unit at %llu out of order",
		         (unsigned long long)u->offset);
		r = -EINVAL;
	} else if (!s) {
		r = add_zero(w, u->offset, (u->length + bs - 1) / bs * bs);
	} else {
		for (size_t i = 0; i < s->nblocks && r == 0; i++) {
			uint64_t off = u->offset + i * bs;
			const block_sum *b = &s->blocks[i];
			if (b->zero) {
				r = add_zero(w, off, bs);
				continue;
			}
			const unsigned char *data = (s->tail && i == s->nblocks - 1) ? s->tail : u->data + i * bs;
			if ((r = flush_free(w)) == 0)
				r = emit_write(w, ZVOL_OBJ, DMU_OT_ZVOL, off, data, bs, &b->sum);
		}
	}
	w->next = u->offset + u->length;
	sw_discard(base, u);
	return r;
}

static int sw_finish(img_writer *base)
{
	send_writer *w = (send_writer *)base;
	uint32_t bs = w->p.volblocksize;
	int r;
	/* The rest of the volume past the disk's last block is zero. */
	if (w->deferred_size)
		w->p.volsize = (w->next + w->size_unit - 1) / w->size_unit * w->size_unit;
	if (w->p.volsize == 0) {
		snprintf(w->base.err, sizeof(w->base.err), "an empty disk: a volume needs at least one block");
		return -EINVAL;
	}
	uint64_t end = (w->next + bs - 1) / bs * bs;
	if (end < w->p.volsize && (r = add_zero(w, end, w->p.volsize - end)) < 0)
		return r;
	if ((r = flush_free(w)) < 0)
		return r;

	/* The property ZAP: one microzap block holding "size". */
	unsigned char zap[ZVOL_ZAP_BLOCK] = { 0 };
	put_le64(zap, ZBT_MICRO);
	put_le64(zap + 8, w->p.zap_salt);
	put_le64(zap + 64, w->p.volsize);
	memcpy(zap + 78, "size", 4);
	if ((r = emit_object(w, ZVOL_ZAP_OBJ, DMU_OT_ZVOL_PROP, ZVOL_ZAP_BLOCK, 0)) < 0 ||
	    (r = emit_free(w, ZVOL_ZAP_OBJ, ZVOL_ZAP_BLOCK, UINT64_MAX)) < 0 ||
	    (r = emit_write(w, ZVOL_ZAP_OBJ, DMU_OT_ZVOL_PROP, 0, zap, ZVOL_ZAP_BLOCK, NULL)) < 0 ||
	    (r = emit_free(w, ZVOL_ZAP_OBJ, ZVOL_ZAP_BLOCK, 2 * ZVOL_ZAP_BLOCK)) < 0)
		return r;

	/* The rest of the first dnode block (32 dnodes of 512 B) is free. */
	unsigned char rec[DRR_SIZE] = { 0 };
	put_le32(rec, DRR_FREEOBJECTS);
	put_le64(rec + FREEOBJECTS_FIRST, 3);
	put_le64(rec + FREEOBJECTS_NUM, 29);
	put_le64(rec + FREEOBJECTS_TOGUID, w->p.toguid);
	if ((r = emit_record(w, rec, NULL, 0, NULL)) < 0)
		return r;

	memset(rec, 0, sizeof(rec));
	put_le32(rec, DRR_END);
	fletcher4_store(&w->sum, rec + END_CKSUM);
	put_le64(rec + END_TOGUID, w->p.toguid);
	return emit_record(w, rec, NULL, 0, NULL);
}

static void sw_free(img_writer *base)
{
	free(base);
}

static const img_writer_ops send_ops = {
	.encode = sw_encode,
	.commit = sw_commit,
	.discard = sw_discard,
	.finish = sw_finish,
	.free = sw_free,
};

int zfs_send_writer_new(const zfs_send_params *p, uint64_t disk_size, zfs_send_sink_fn sink, void *u,
                        img_writer **ret)
{
	uint32_t bs = p->volblocksize;
	if (bs < 512 || bs > 128 * 1024 || (bs & (bs - 1)) || p->volsize % bs || (p->volsize && disk_size > p->volsize) ||
	    (!p->volsize && (!p->size_unit || p->size_unit % bs)) ||
	    !p->toguid || !p->zap_salt || !p->toname || strlen(p->toname) >= BEGIN_TONAME_LEN ||
	    !strchr(p->toname, '@'))
		return -EINVAL;
	send_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->base.ops = &send_ops;
	w->base.virtual_size = disk_size;
	w->base.skips_zero_units = true;
	w->p = *p;
	snprintf(w->toname, sizeof(w->toname), "%s", p->toname);
	w->p.toname = w->toname;
	w->disk_size = disk_size;
	w->deferred_size = p->volsize == 0;
	w->size_unit = p->size_unit;
	w->sink = sink;
	w->u = u;
	int r = emit_begin(w);
	if (r < 0) {
		free(w);
		return r;
	}
	*ret = &w->base;
	return 0;
}

uint64_t zfs_send_writer_stream_bytes(const img_writer *w)
{
	return ((const send_writer *)w)->stream_bytes;
}

uint64_t zfs_send_writer_volsize(const img_writer *w)
{
	return ((const send_writer *)w)->p.volsize;
}
