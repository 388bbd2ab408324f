/* SPDX-License-Identifier: MIT */
#include "zfs/send_reader.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/bytes.h"
#include "zfs/fletcher4.h"
#include "zfs/send_format.h"

/* Caps on what a zvol stream may carry besides data. */
#define MAX_BEGIN_PAYLOAD (1u << 20)  /* nvlist of resumable/redacted sends */
#define MAX_BONUS (64u * 1024)
#define MAX_BLOCK (16u << 20)         /* the largest ZFS block */
#define MAX_ZAP_BLOCK (128u * 1024)
#define DMU_BACKUP_FEATURE_SHIFT 2
#define DRR_FLAG_CLONE 0x1u

typedef enum { IN_HEADER, IN_PAYLOAD, IN_DONE } recv_state;
typedef enum { P_SKIP, P_DATA, P_ZAP } payload_kind;

struct zfs_recv {
	zfs_recv_out_fn out;
	void *u;
	uint64_t max_size;
	recv_state state;
	unsigned char hdr[DRR_SIZE];
	size_t hdr_len;
	payload_kind pkind;
	uint64_t pleft;          /* payload bytes still to come */
	fletcher4 sum;
	unsigned char carry[4];  /* payload bytes of a word split across feeds */
	size_t carry_len;
	bool begun;
	uint64_t toguid;
	bool have_obj[3];
	uint32_t blksz[3];
	uint64_t out_pos;        /* disk bytes emitted so far */
	uint64_t next_write;     /* object 1: WRITEs must not go below this */
	bool zap_seen;
	unsigned char *zap;      /* object 2's block 0 */
	size_t zap_len, zap_fill;
	zfs_recv_info info;
	char err[256];
};

static int fail(zfs_recv *r, int e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(zfs_recv *r, int e, const char *fmt, ...)
{
	if (!r->err[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->err, sizeof(r->err), fmt, ap);
		va_end(ap);
	}
	return e;
}

bool zfs_stream_probe(const void *head, size_t len)
{
	const uint8_t *p = head;
	if (len < 16 || le32(p) != DRR_BEGIN)
		return false;
	uint64_t m = le64(p + BEGIN_MAGIC);
	return m == DMU_BACKUP_MAGIC || m == __builtin_bswap64(DMU_BACKUP_MAGIC);
}

int zfs_recv_new(uint64_t max_size, zfs_recv_out_fn out, void *u, zfs_recv **ret)
{
	zfs_recv *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->out = out;
	r->u = u;
	r->max_size = max_size;
	*ret = r;
	return 0;
}

void zfs_recv_free(zfs_recv *r)
{
	if (!r)
		return;
	free(r->zap);
	free(r);
}

const char *zfs_recv_error(const zfs_recv *r)
{
	return r->err;
}

void zfs_recv_get_info(const zfs_recv *r, zfs_recv_info *ret)
{
	*ret = r->info;
}

static int emit(zfs_recv *r, const void *buf, uint64_t n)
{
	while (n > 0) {
		size_t piece = n > (1u << 30) ? (1u << 30) : (size_t)n;
		int e = r->out(r->u, buf, piece);
		if (e < 0)
			return e;
		r->out_pos += piece;
		n -= piece;
		if (buf)
			buf = (const unsigned char *)buf + piece;
	}
	return 0;
}

static const char *type_name(uint32_t t)
{
	static const char *const names[] = { "BEGIN", "OBJECT", "FREEOBJECTS", "WRITE", "FREE", "END",
		                             "WRITE_BYREF", "SPILL", "WRITE_EMBEDDED", "OBJECT_RANGE", "REDACT" };
	return t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}

static int on_begin(zfs_recv *r)
{
	const unsigned char *h = r->hdr;
	uint64_t magic = le64(h + BEGIN_MAGIC);
	if (magic == __builtin_bswap64(DMU_BACKUP_MAGIC))
		return fail(r, -ENOTSUP, "the stream was sent from a big-endian host; only little-endian streams are read");
	if (magic != DMU_BACKUP_MAGIC)
		return fail(r, -EBADMSG, "not a zfs send stream (bad magic %#llx)", (unsigned long long)magic);
	uint64_t vi = le64(h + BEGIN_VERSIONINFO);
	if ((vi & 3) == DMU_COMPOUNDSTREAM)
		return fail(r, -ENOTSUP, "a compound (replication, zfs send -R) stream: send the volume's snapshot alone");
	if ((vi & 3) != DMU_SUBSTREAM)
		return fail(r, -EBADMSG, "unknown stream header type %llu", (unsigned long long)(vi & 3));
	uint64_t features = (vi >> DMU_BACKUP_FEATURE_SHIFT) & ((1ull << 56) - 1);
	if (features)
		return fail(r, -ENOTSUP,
		            "the stream uses feature flags %#llx (zfs send -c, -e, -L, -w or similar); send the volume "
		            "without them",
		            (unsigned long long)features);
	if (le32(h + BEGIN_TYPE) != DMU_OST_ZVOL)
		return fail(r, -ENOTSUP, "the stream holds a %s, not a volume (zvol)",
		            le32(h + BEGIN_TYPE) == 2 ? "file system" : "dataset of another type");
	if (le64(h + BEGIN_FROMGUID) != 0)
		return fail(r, -ENOTSUP, "an incremental stream: a full stream is needed to rebuild the disk");
	if (le32(h + BEGIN_FLAGS) & DRR_FLAG_CLONE)
		return fail(r, -ENOTSUP, "a clone stream: it needs its origin to be rebuilt");
	r->toguid = le64(h + BEGIN_TOGUID);
	r->info.creation_time = le64(h + BEGIN_CREATION);
	memcpy(r->info.toname, h + BEGIN_TONAME, BEGIN_TONAME_LEN - 1);
	r->info.toname[BEGIN_TONAME_LEN - 1] = '\0';
	for (char *c = r->info.toname; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			*c = '?';
	uint32_t plen = le32(h + 4);
	if (plen > MAX_BEGIN_PAYLOAD)
		return fail(r, -EFBIG, "BEGIN record payload of %u bytes is over the %u byte limit", plen, MAX_BEGIN_PAYLOAD);
	r->begun = true;
	r->pkind = P_SKIP;
	r->pleft = plen;
	return 0;
}

static int check_object(zfs_recv *r, uint64_t obj, const char *what)
{
	if (obj != ZVOL_OBJ && obj != ZVOL_ZAP_OBJ)
		return fail(r, -EBADMSG, "%s record for object %llu: a volume has only objects 1 and 2", what,
		            (unsigned long long)obj);
	if (!r->have_obj[obj])
		return fail(r, -EBADMSG, "%s record for object %llu before its OBJECT record", what, (unsigned long long)obj);
	return 0;
}

static int on_object(zfs_recv *r)
{
	const unsigned char *h = r->hdr;
	uint64_t obj = le64(h + OBJECT_OBJECT);
	uint32_t type = le32(h + OBJECT_TYPE), blksz = le32(h + OBJECT_BLKSZ), bonuslen = le32(h + OBJECT_BONUSLEN);
	if (obj != ZVOL_OBJ && obj != ZVOL_ZAP_OBJ)
		return fail(r, -EBADMSG, "OBJECT record for object %llu: a volume has only objects 1 and 2",
		            (unsigned long long)obj);
	if (r->have_obj[obj])
		return fail(r, -EBADMSG, "object %llu declared twice", (unsigned long long)obj);
	uint32_t want = obj == ZVOL_OBJ ? DMU_OT_ZVOL : DMU_OT_ZVOL_PROP;
	if (type != want)
		return fail(r, -EBADMSG, "object %llu has type %u, a volume's has %u", (unsigned long long)obj, type, want);
	if (blksz < 512 || blksz > MAX_BLOCK || (blksz & (blksz - 1)))
		return fail(r, -EBADMSG, "object %llu has a block size of %u bytes", (unsigned long long)obj, blksz);
	if (bonuslen > MAX_BONUS)
		return fail(r, -EBADMSG, "object %llu has a %u byte bonus buffer", (unsigned long long)obj, bonuslen);
	r->have_obj[obj] = true;
	r->blksz[obj] = blksz;
	if (obj == ZVOL_OBJ)
		r->info.volblocksize = blksz;
	r->pkind = P_SKIP;
	r->pleft = ((uint64_t)bonuslen + 7) / 8 * 8;
	return 0;
}

static int on_write(zfs_recv *r)
{
	const unsigned char *h = r->hdr;
	uint64_t obj = le64(h + WRITE_OBJECT), off = le64(h + WRITE_OFFSET), len = le64(h + WRITE_LOGICAL_SIZE);
	int e = check_object(r, obj, "WRITE");
	if (e < 0)
		return e;
	if (h[WRITE_COMPRESSIONTYPE] != 0 || le64(h + WRITE_COMPRESSED_SIZE) != 0)
		return fail(r, -ENOTSUP, "compressed WRITE records (zfs send -c) are not supported");
	if (len == 0 || len > MAX_BLOCK || len % 512)
		return fail(r, -EBADMSG, "WRITE of %llu bytes", (unsigned long long)len);
	if (obj == ZVOL_ZAP_OBJ) {
		if (off != 0 || r->zap_seen || len > MAX_ZAP_BLOCK)
			return fail(r, -ENOTSUP, "the volume's property ZAP is not a single microzap block");
		if (!(r->zap = malloc((size_t)len)))
			return fail(r, -ENOMEM, "out of memory");
		r->zap_seen = true;
		r->zap_len = (size_t)len;
		r->zap_fill = 0;
		r->pkind = P_ZAP;
		r->pleft = len;
		return 0;
	}
	if (off < r->next_write)
		return fail(r, -EBADMSG, "WRITE at offset %llu after data up to %llu: records out of order",
		            (unsigned long long)off, (unsigned long long)r->next_write);
	if (off > r->max_size || len > r->max_size - off)
		return fail(r, -EFBIG, "data at offset %llu is beyond the %llu byte limit (--max-size)",
		            (unsigned long long)off, (unsigned long long)r->max_size);
	/* OpenZFS sends object 1's data before declaring object 2; illumos
	 * and zfs-fuse declare every object first. */
	if (!r->info.order)
		r->info.order = r->have_obj[ZVOL_ZAP_OBJ] ? "illumos" : "openzfs";
	r->next_write = off + len;
	r->info.data_bytes += len;
	if ((e = emit(r, NULL, off - r->out_pos)) < 0)
		return e;
	r->pkind = P_DATA;
	r->pleft = len;
	return 0;
}

/* Finds "size" in the microzap (64-byte chunks after a 64-byte header). */
static int parse_zap(zfs_recv *r)
{
	const unsigned char *z = r->zap;
	if (r->zap_len < 128 || le64(z) != ZBT_MICRO)
		return fail(r, -ENOTSUP, "the volume's property ZAP is not a microzap");
	for (size_t off = 64; off + 64 <= r->zap_len; off += 64) {
		const unsigned char *name = z + off + 14;
		if (memcmp(name, "size", 5) == 0) {
			uint64_t v = le64(z + off);
			if (v == 0 || v > r->max_size)
				return fail(r, v ? -EFBIG : -EBADMSG, "volume size %llu is %s", (unsigned long long)v,
				            v ? "beyond the limit (--max-size)" : "zero");
			r->info.volsize = v;
			return 0;
		}
	}
	return fail(r, -EBADMSG, "the volume's property ZAP has no \"size\"");
}

static int on_header(zfs_recv *r)
{
	const unsigned char *h = r->hdr;
	uint32_t type = le32(h);
	if (!r->begun) {
		if (type != DRR_BEGIN)
			return fail(r, -EBADMSG, "not a zfs send stream (first record is not BEGIN)");
		fletcher4_update(&r->sum, h, DRR_SIZE);
		return on_begin(r);
	}
	/* The sender's checksum of everything up to here, where it wrote one. */
	fletcher4 before = r->sum;
	fletcher4_update(&r->sum, h, DRR_CKSUM_OFF);
	static const unsigned char zero[32];
	if (type != DRR_BEGIN && memcmp(h + DRR_CKSUM_OFF, zero, 32) != 0) {
		unsigned char want[32];
		fletcher4_store(&r->sum, want);
		if (memcmp(want, h + DRR_CKSUM_OFF, 32) != 0)
			return fail(r, -EBADMSG, "checksum mismatch in a %s record: the stream is damaged", type_name(type));
	}
	fletcher4_update(&r->sum, h + DRR_CKSUM_OFF, DRR_SIZE - DRR_CKSUM_OFF);
	r->pkind = P_SKIP;
	r->pleft = 0;
	switch (type) {
	case DRR_BEGIN: return fail(r, -ENOTSUP, "a second BEGIN record: only one stream is read");
	case DRR_OBJECT: return on_object(r);
	case DRR_FREEOBJECTS: return 0;
	case DRR_WRITE: return on_write(r);
	case DRR_FREE: {
		/* Holes read as zero already; only the object must exist. A FREE
		 * over data already delivered would zero it in a receiver: senders
		 * never do that, and the disk out here could not follow. */
		uint64_t obj = le64(h + FREE_OBJECT), off = le64(h + FREE_OFFSET);
		int e = check_object(r, obj, "FREE");
		if (e == 0 && obj == ZVOL_OBJ && off < r->next_write)
			return fail(r, -EBADMSG, "FREE at offset %llu over data already written up to %llu: records out of order",
			            (unsigned long long)off, (unsigned long long)r->next_write);
		return e;
	}
	case DRR_END: {
		unsigned char want[32];
		fletcher4_store(&before, want);
		if (memcmp(want, h + END_CKSUM, 32) != 0)
			return fail(r, -EBADMSG, "the END checksum does not match: the stream is damaged");
		/* As receivers do: END must close the stream BEGIN opened. */
		if (le64(h + END_TOGUID) != r->toguid)
			return fail(r, -EBADMSG, "the END record belongs to another stream (guid %#llx, not %#llx)",
			            (unsigned long long)le64(h + END_TOGUID), (unsigned long long)r->toguid);
		r->state = IN_DONE;
		return 0;
	}
	case DRR_WRITE_BYREF:
	case DRR_SPILL:
	case DRR_WRITE_EMBEDDED:
	case DRR_OBJECT_RANGE:
	case DRR_REDACT:
		return fail(r, -ENOTSUP, "%s records are not supported in a volume stream", type_name(type));
	}
	return fail(r, -EBADMSG, "unknown record type %u", type);
}

/* Payload bytes into the checksum: input pieces need not end on a word. */
static void sum_payload(zfs_recv *r, const unsigned char *p, size_t n)
{
	if (r->carry_len) {
		size_t take = 4 - r->carry_len < n ? 4 - r->carry_len : n;
		memcpy(r->carry + r->carry_len, p, take);
		r->carry_len += take;
		p += take;
		n -= take;
		if (r->carry_len < 4)
			return;
		fletcher4_update(&r->sum, r->carry, 4);
		r->carry_len = 0;
	}
	size_t whole = n & ~(size_t)3;
	fletcher4_update(&r->sum, p, whole);
	memcpy(r->carry, p + whole, n - whole);
	r->carry_len = n - whole;
}

int zfs_recv_feed(zfs_recv *r, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	if (r->err[0])
		return -EBADMSG;
	while (n > 0) {
		if (r->state == IN_DONE)
			return fail(r, -EBADMSG, "trailing data after the END record");
		if (r->state == IN_HEADER) {
			size_t take = DRR_SIZE - r->hdr_len < n ? DRR_SIZE - r->hdr_len : n;
			memcpy(r->hdr + r->hdr_len, p, take);
			r->hdr_len += take;
			p += take;
			n -= take;
			if (r->hdr_len < DRR_SIZE)
				break;
			r->hdr_len = 0;
			int e = on_header(r);
			if (e < 0)
				return e;
			if (r->state != IN_DONE && r->pleft > 0)
				r->state = IN_PAYLOAD;
			continue;
		}
		size_t take = r->pleft < n ? (size_t)r->pleft : n;
		sum_payload(r, p, take);
		int e = 0;
		if (r->pkind == P_DATA)
			e = emit(r, p, take);
		else if (r->pkind == P_ZAP) {
			memcpy(r->zap + r->zap_fill, p, take);
			r->zap_fill += take;
		}
		if (e < 0)
			return e;
		p += take;
		n -= take;
		r->pleft -= take;
		if (r->pleft == 0) {
			if (r->pkind == P_ZAP && (e = parse_zap(r)) < 0)
				return e;
			r->state = IN_HEADER;
		}
	}
	return 0;
}

int zfs_recv_finish(zfs_recv *r)
{
	if (r->err[0])
		return -EBADMSG;
	if (r->state != IN_DONE)
		return fail(r, -EPIPE, "the stream is truncated (no END record)");
	if (!r->info.volsize)
		return fail(r, -EBADMSG, "the stream has no volume size (property ZAP missing)");
	if (!r->info.volblocksize)
		return fail(r, -EBADMSG, "the stream has no volume data object");
	if (r->out_pos > r->info.volsize)
		return fail(r, -EBADMSG, "data up to %llu is past the volume size %llu", (unsigned long long)r->out_pos,
		            (unsigned long long)r->info.volsize);
	if (!r->info.order)
		r->info.order = "openzfs"; /* no data: either */
	return emit(r, NULL, r->info.volsize - r->out_pos);
}
