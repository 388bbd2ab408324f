/* SPDX-License-Identifier: MIT */
/*
 * The native zfs send stream: the writer's output checked against the rules
 * receivers enforce (zfs-fuse, which the integration tests use, is laxer than
 * illumos and OpenZFS), round trips through the reader, and the reader's
 * refusals of damaged, reordered and unsupported streams.
 */
#include "tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/bytes.h"
#include "zfs/fletcher4.h"
#include "zfs/send_format.h"
#include "zfs/send_reader.h"
#include "zfs/send_writer.h"

#define UNIT (2u << 20)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

typedef struct buf {
	unsigned char *p;
	size_t len, cap;
	int fail_after; /* sink: fail once this many bytes went out (0: never) */
} buf;

static int sink(void *u, const void *data, size_t n)
{
	buf *b = u;
	if (b->fail_after && b->len + n > (size_t)b->fail_after)
		return -ENOSPC;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1 << 16;
		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

/* A disk of `size` bytes: random blocks, zero blocks and zero runs. */
static unsigned char *make_disk(size_t size, size_t bs)
{
	unsigned char *d = calloc(1, size ? size : 1);
	for (size_t off = 0; off < size; off += bs) {
		size_t n = size - off < bs ? size - off : bs;
		uint64_t r = rng() % 10;
		if (r < 3)
			continue; /* zero block */
		for (size_t i = 0; i < n; i++)
			d[off + i] = (unsigned char)rng();
		if (r == 9 && n > 16)
			memset(d + off, 0, n / 2); /* partly zero: still data */
	}
	return d;
}

/* Runs the writer like the engine does: encode every unit (in reverse order,
 * to show the result does not depend on it), commit in order, finish. */
static int write_stream(const unsigned char *disk, size_t size, const zfs_send_params *p, buf *out)
{
	img_writer *w = NULL;
	int r = zfs_send_writer_new(p, size, sink, out, &w);
	if (r < 0)
		return r;
	size_t n = (size + UNIT - 1) / UNIT;
	img_unit *units = calloc(n ? n : 1, sizeof(*units));
	for (size_t i = n; i-- > 0;) {
		units[i].offset = (uint64_t)i * UNIT;
		units[i].length = size - i * UNIT < UNIT ? size - i * UNIT : UNIT;
		units[i].data = (unsigned char *)disk + i * UNIT;
		if ((r = w->ops->encode(w, &units[i])) < 0)
			break;
	}
	size_t committed = 0;
	for (; committed < n && r == 0; committed++)
		r = w->ops->commit(w, &units[committed]);
	for (size_t i = committed; i < n; i++)
		w->ops->discard(w, &units[i]); /* as the engine does after a failure */
	if (r == 0)
		r = w->ops->finish(w);
	w->ops->free(w);
	free(units);
	return r;
}

typedef struct disk_out {
	unsigned char *p;
	size_t len, cap;
} disk_out;

static int disk_sink(void *u, const void *data, size_t n)
{
	disk_out *d = u;
	if (d->len + n > d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 1 << 16;
		while (cap < d->len + n)
			cap *= 2;
		d->p = realloc(d->p, cap);
		d->cap = cap;
	}
	if (data)
		memcpy(d->p + d->len, data, n);
	else
		memset(d->p + d->len, 0, n);
	d->len += n;
	return 0;
}

/* Reads a stream back, fed in pieces of `step` bytes. */
static int read_stream(const unsigned char *s, size_t len, size_t step, disk_out *d, zfs_recv_info *info,
                       char *msg, size_t msglen)
{
	zfs_recv *r = NULL;
	int e = zfs_recv_new(1ull << 40, disk_sink, d, &r);
	for (size_t off = 0; e == 0 && off < len; off += step)
		e = zfs_recv_feed(r, s + off, len - off < step ? len - off : step);
	if (e == 0)
		e = zfs_recv_finish(r);
	if (e == 0 && info)
		zfs_recv_get_info(r, info);
	snprintf(msg, msglen, "%s", zfs_recv_error(r));
	zfs_recv_free(r);
	return e;
}

static zfs_send_params params(uint64_t volsize, uint32_t bs)
{
	return (zfs_send_params){ .volsize = volsize, .volblocksize = bs, .toguid = 0x1234567890abcdefull,
		                  .creation_time = 1700000000, .zap_salt = 0x5a5a5a5a5a5a5a5bull,
		                  .toname = "zones/57fe71d0-ba70-5536-b4ae-c87222727b19@final" };
}

/* ---- a minimal independent parser, to check the writer's records ---- */

typedef struct rec {
	size_t at;      /* offset of the record in the stream */
	uint32_t type;
	size_t payload; /* bytes after the header */
} rec;

static size_t parse_records(const unsigned char *s, size_t len, rec *out, size_t max)
{
	size_t n = 0;
	for (size_t off = 0; off + DRR_SIZE <= len && n < max;) {
		uint32_t t = le32(s + off);
		size_t pl = t == DRR_BEGIN    ? le32(s + off + 4)
		            : t == DRR_WRITE  ? (size_t)le64(s + off + WRITE_LOGICAL_SIZE)
		            : t == DRR_OBJECT ? (le32(s + off + OBJECT_BONUSLEN) + 7u) / 8 * 8
		                              : 0;
		out[n++] = (rec){ .at = off, .type = t, .payload = pl };
		off += DRR_SIZE + pl;
	}
	return n;
}

/* Recomputes every record checksum and the END checksum, as a sender would,
 * so that tests can change a stream and hit the reader's other checks. */
static void restamp(unsigned char *s, size_t len)
{
	fletcher4 f = { 0 };
	for (size_t off = 0; off + DRR_SIZE <= len;) {
		unsigned char *h = s + off;
		uint32_t t = le32(h);
		size_t pl = t == DRR_BEGIN    ? le32(h + 4)
		            : t == DRR_WRITE  ? (size_t)le64(h + WRITE_LOGICAL_SIZE)
		            : t == DRR_OBJECT ? (le32(h + OBJECT_BONUSLEN) + 7u) / 8 * 8
		                              : 0;
		if (t == DRR_BEGIN) {
			fletcher4_update(&f, h, DRR_SIZE);
		} else {
			if (t == DRR_END)
				fletcher4_store(&f, h + END_CKSUM);
			fletcher4_update(&f, h, DRR_CKSUM_OFF);
			fletcher4_store(&f, h + DRR_CKSUM_OFF);
			fletcher4_update(&f, h + DRR_CKSUM_OFF, DRR_SIZE - DRR_CKSUM_OFF);
		}
		fletcher4_update(&f, h + DRR_SIZE, pl);
		off += DRR_SIZE + pl;
	}
}

static void test_fletcher(void)
{
	unsigned char b[70000];
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (unsigned char)rng();
	bool ok = true;
	for (size_t split = 0; split <= sizeof(b); split += 4 * 1733) {
		fletcher4 seq = { 0 }, comb = { 0 }, piece = { 0 };
		fletcher4_update(&seq, b, sizeof(b) - sizeof(b) % 4);
		fletcher4_update(&comb, b, split);
		size_t rest = sizeof(b) - sizeof(b) % 4 - split;
		fletcher4_update(&piece, b + split, rest);
		fletcher4_combine(&comb, &piece, rest);
		ok &= memcmp(&seq, &comb, sizeof(seq)) == 0;
	}
	TAP_CHECK(ok, "fletcher4: sums of a piece folded in equal feeding it, at every split");
	/* Known value: words 1,2,3,4 -> a=10, b=20, c=35, d=56 (no wrap-around). */
	unsigned char w[16] = { 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0 };
	fletcher4 f = { 0 };
	fletcher4_update(&f, w, sizeof(w));
	TAP_CHECK(f.a == 10 && f.b == 20 && f.c == 35 && f.d == 56, "fletcher4 of 1,2,3,4 is 10,20,35,56");
}

/* Every rule of ZFS-STREAM's "what receivers validate", on one stream. */
static void check_writer_rules(const unsigned char *disk, size_t size, uint32_t bs)
{
	uint64_t volsize = (size + (1u << 20) - 1) / (1u << 20) * (1u << 20);
	zfs_send_params p = params(volsize, bs);
	buf out = { 0 };
	int r = write_stream(disk, size, &p, &out);
	if (!TAP_CHECK(r == 0, "bs %u size %zu: writer ok", bs, size))
		return;
	size_t max = out.len / DRR_SIZE + 8;
	rec *rs = calloc(max, sizeof(rec));
	size_t n = parse_records(out.p, out.len, rs, max);
	const unsigned char *s = out.p;
	size_t last = rs[n - 1].at + DRR_SIZE + rs[n - 1].payload;
	TAP_CHECK(last == out.len, "bs %u: records cover the stream exactly", bs);

	/* BEGIN */
	TAP_CHECK(rs[0].type == DRR_BEGIN && le64(s + BEGIN_MAGIC) == DMU_BACKUP_MAGIC &&
	                  le64(s + BEGIN_VERSIONINFO) == 1 && le32(s + BEGIN_TYPE) == DMU_OST_ZVOL &&
	                  le32(s + BEGIN_FLAGS) == DRR_FLAG_FREERECORDS && le64(s + BEGIN_FROMGUID) == 0 &&
	                  le32(s + 4) == 0 && strcmp((const char *)s + BEGIN_TONAME, p.toname) == 0 &&
	                  le64(s + BEGIN_TOGUID) == p.toguid && le64(s + BEGIN_CREATION) == p.creation_time,
	          "bs %u: BEGIN: magic, features 0, ZVOL, flags FREERECORDS, full, toname", bs);

	/* Record order: OBJECT 1, FREE 1 [volsize,-1), data, OBJECT 2, FREE 2, WRITE 2, FREE 2, FREEOBJECTS, END */
	bool order = n >= 9 && rs[1].type == DRR_OBJECT && le64(s + rs[1].at + OBJECT_OBJECT) == 1 &&
	             rs[2].type == DRR_FREE && le64(s + rs[2].at + FREE_OFFSET) == volsize &&
	             le64(s + rs[2].at + FREE_LENGTH) == UINT64_MAX && rs[n - 1].type == DRR_END &&
	             rs[n - 2].type == DRR_FREEOBJECTS && le64(s + rs[n - 2].at + FREEOBJECTS_FIRST) == 3 &&
	             le64(s + rs[n - 2].at + FREEOBJECTS_NUM) == 29 && rs[n - 3].type == DRR_FREE &&
	             rs[n - 4].type == DRR_WRITE && le64(s + rs[n - 4].at + WRITE_OBJECT) == 2 &&
	             rs[n - 5].type == DRR_FREE && rs[n - 6].type == DRR_OBJECT &&
	             le64(s + rs[n - 6].at + OBJECT_OBJECT) == 2;
	TAP_CHECK(order, "bs %u: records in OpenZFS order", bs);

	/* OBJECT records: the fields non-raw receivers require to be zero. */
	bool objects = true;
	for (size_t i = 0; i < n; i++) {
		if (rs[i].type != DRR_OBJECT)
			continue;
		const unsigned char *h = s + rs[i].at;
		uint64_t obj = le64(h + OBJECT_OBJECT);
		objects &= h[OBJECT_FLAGS] == 0 && le32(h + OBJECT_RAW_BONUSLEN) == 0 && h[OBJECT_INDBLKSHIFT] == 0 &&
		           h[OBJECT_NLEVELS] == 0 && h[OBJECT_NBLKPTR] == 0 && le32(h + OBJECT_BONUSLEN) == 0 &&
		           le32(h + OBJECT_BONUSTYPE) == 0 && h[OBJECT_CHECKSUMTYPE] == 0 && h[OBJECT_COMPRESS] == 0 &&
		           le64(h + OBJECT_TOGUID) == p.toguid &&
		           (obj == 1 ? le32(h + OBJECT_TYPE) == DMU_OT_ZVOL && le32(h + OBJECT_BLKSZ) == bs
		                     : le32(h + OBJECT_TYPE) == DMU_OT_ZVOL_PROP && le32(h + OBJECT_BLKSZ) == 512);
	}
	TAP_CHECK(objects, "bs %u: OBJECT records: types, block sizes, zero raw/indirect fields", bs);

	/* Data: WRITE exactly the non-zero blocks, ascending, one block each,
	 * checksum off, uncompressed; FREE exactly the zero blocks up to volsize. */
	unsigned char *seen = calloc(volsize / bs, 1); /* 1 write, 2 free */
	bool writes = true, frees = true;
	uint64_t prev = 0;
	for (size_t i = 3; i < n - 6; i++) {
		const unsigned char *h = s + rs[i].at;
		if (rs[i].type == DRR_WRITE) {
			uint64_t off = le64(h + WRITE_OFFSET);
			writes &= le64(h + WRITE_OBJECT) == 1 && le64(h + WRITE_LOGICAL_SIZE) == bs && off % bs == 0 &&
			          off >= prev && h[WRITE_CHECKSUMTYPE] == ZIO_CHECKSUM_OFF && h[WRITE_COMPRESSIONTYPE] == 0 &&
			          le64(h + WRITE_COMPRESSED_SIZE) == 0 && le32(h + WRITE_TYPE) == DMU_OT_ZVOL &&
			          le64(h + WRITE_TOGUID) == p.toguid && off < volsize;
			prev = off + bs;
			if (off < volsize)
				seen[off / bs] += 1;
		} else if (rs[i].type == DRR_FREE) {
			uint64_t off = le64(h + FREE_OFFSET), len = le64(h + FREE_LENGTH);
			frees &= le64(h + FREE_OBJECT) == 1 && off % bs == 0 && len % bs == 0 && len > 0 && off >= prev &&
			         off + len <= volsize;
			prev = off + len;
			for (uint64_t b = off / bs; b < (off + len) / bs && b < volsize / bs; b++)
				seen[b] += 2;
		} else {
			writes = false;
		}
	}
	bool exact = true, aggregated = true;
	for (uint64_t b = 0; b < volsize / bs; b++) {
		bool zero = true;
		for (uint64_t i = b * bs; i < (b + 1) * bs && i < size; i++)
			zero &= disk[i] == 0;
		exact &= seen[b] == (zero ? 2 : 1);
	}
	for (size_t i = 3; i + 1 < n - 6; i++)
		aggregated &= !(rs[i].type == DRR_FREE && rs[i + 1].type == DRR_FREE);
	TAP_CHECK(writes, "bs %u: WRITE records: object 1, one block, ascending, checksum off, uncompressed", bs);
	TAP_CHECK(frees && exact, "bs %u: every non-zero block written once, every zero block freed, to volsize", bs);
	TAP_CHECK(aggregated, "bs %u: neighbouring zero blocks make one FREE record", bs);

	/* The microzap. */
	const unsigned char *zap = s + rs[n - 4].at + DRR_SIZE;
	TAP_CHECK(rs[n - 4].payload == 512 && le64(zap) == ZBT_MICRO && le64(zap + 8) == p.zap_salt &&
	                  le64(zap + 64) == volsize && memcmp(zap + 78, "size", 5) == 0,
	          "bs %u: property ZAP is a microzap with size = volsize", bs);

	/* Checksums: every record's and END's verify. */
	unsigned char *copy = malloc(out.len);
	memcpy(copy, out.p, out.len);
	restamp(copy, out.len);
	TAP_CHECK(memcmp(copy, out.p, out.len) == 0, "bs %u: per-record and END checksums are the running Fletcher-4",
	          bs);
	free(copy);
	free(seen);
	free(rs);
	free(out.p);
}

static void test_round_trips(void)
{
	static const uint32_t sizes_bs[] = { 512, 4096, 8192, 131072 };
	for (size_t k = 0; k < 4; k++) {
		uint32_t bs = sizes_bs[k];
		size_t size = 3 * UNIT + 12345; /* not a multiple of the block size */
		unsigned char *disk = make_disk(size, bs);
		check_writer_rules(disk, size, bs);
		uint64_t volsize = (size + (1u << 20) - 1) / (1u << 20) * (1u << 20);
		zfs_send_params p = params(volsize, bs);
		buf out = { 0 };
		write_stream(disk, size, &p, &out);
		static const size_t steps[] = { 1u << 20, 4093, 312 };
		for (size_t j = 0; j < 3; j++) {
			disk_out d = { 0 };
			zfs_recv_info info;
			char msg[256];
			int r = read_stream(out.p, out.len, steps[j], &d, &info, msg, sizeof(msg));
			bool same = r == 0 && d.len == volsize && memcmp(d.p, disk, size) == 0;
			for (size_t i = size; same && i < volsize; i++)
				same = d.p[i] == 0;
			TAP_CHECK(same, "bs %u, fed %zu bytes at a time: reader gives the disk back, zero-padded to volsize (%s)",
			          bs, steps[j], msg);
			if (j == 0)
				TAP_CHECK(r == 0 && info.volsize == volsize && info.volblocksize == bs &&
				                  strcmp(info.order, "openzfs") == 0 && strcmp(info.toname, p.toname) == 0 &&
				                  info.creation_time == p.creation_time,
				          "bs %u: reader reports volsize, block size, order, toname", bs);
			free(d.p);
		}
		/* The same input gives the same bytes. */
		buf again = { 0 };
		write_stream(disk, size, &p, &again);
		TAP_CHECK(again.len == out.len && memcmp(again.p, out.p, out.len) == 0, "bs %u: output is deterministic", bs);
		free(again.p);
		free(out.p);
		free(disk);
	}

	/* A size known only at the end (a gzip'd raw disk): volsize is the disk
	 * rounded up to the unit, the first FREE starts at 0, the rest holds. */
	{
		size_t size = 2 * UNIT + 777;
		unsigned char *disk = make_disk(size, 8192);
		zfs_send_params p = params(0, 8192);
		p.size_unit = 1u << 20;
		buf out = { 0 };
		img_writer *w = NULL;
		int r = zfs_send_writer_new(&p, 0, sink, &out, &w);
		size_t n = (size + UNIT - 1) / UNIT;
		for (size_t i = 0; r == 0 && i < n; i++) {
			img_unit u = { .offset = (uint64_t)i * UNIT, .length = size - i * UNIT < UNIT ? size - i * UNIT : UNIT,
				       .data = disk + i * UNIT };
			r = w->ops->encode(w, &u);
			if (r == 0)
				r = w->ops->commit(w, &u);
		}
		if (r == 0)
			r = w->ops->finish(w);
		uint64_t volsize = w ? zfs_send_writer_volsize(w) : 0;
		if (w)
			w->ops->free(w);
		rec rs[8];
		parse_records(out.p, out.len, rs, 8);
		disk_out d = { 0 };
		zfs_recv_info info = { 0 };
		char msg[256];
		int rr = read_stream(out.p, out.len, 1u << 16, &d, &info, msg, sizeof(msg));
		TAP_CHECK(r == 0 && volsize == 5u << 20 && rs[2].type == DRR_FREE && le64(out.p + rs[2].at + FREE_OFFSET) == 0,
		          "deferred size: volsize %llu, first FREE from 0", (unsigned long long)volsize);
		TAP_CHECK(rr == 0 && info.volsize == volsize && d.len == volsize && memcmp(d.p, disk, size) == 0,
		          "deferred size: round trip (%s)", msg);
		free(d.p);
		free(out.p);
		free(disk);
	}

	/* Edge disks: all zero, one byte, exactly one MiB. */
	static const size_t edge[] = { 5u << 20, 1, 1u << 20 };
	for (size_t k = 0; k < 3; k++) {
		unsigned char *disk = calloc(1, edge[k]);
		if (k == 1)
			disk[0] = 0x42;
		uint64_t volsize = (edge[k] + (1u << 20) - 1) / (1u << 20) * (1u << 20);
		zfs_send_params p = params(volsize, 8192);
		buf out = { 0 };
		int w = write_stream(disk, edge[k], &p, &out);
		disk_out d = { 0 };
		char msg[256];
		int r = read_stream(out.p, out.len, 1u << 16, &d, NULL, msg, sizeof(msg));
		TAP_CHECK(w == 0 && r == 0 && d.len == volsize && memcmp(d.p, disk, edge[k]) == 0,
		          "edge disk of %zu bytes round-trips (%s)", edge[k], msg);
		free(d.p);
		free(out.p);
		free(disk);
	}
}

static int read_all(const unsigned char *s, size_t len, char *msg, size_t msglen)
{
	disk_out d = { 0 };
	int r = read_stream(s, len, 1u << 16, &d, NULL, msg, msglen);
	free(d.p);
	return r;
}

static void test_refusals(void)
{
	size_t size = UNIT + 8192 * 5;
	unsigned char *disk = make_disk(size, 8192);
	memset(disk, 0x11, 8192 * 4); /* the first four blocks are data */
	uint64_t volsize = 4u << 20;
	zfs_send_params p = params(volsize, 8192);
	buf out = { 0 };
	write_stream(disk, size, &p, &out);
	size_t max = out.len / DRR_SIZE + 8;
	rec *rs = calloc(max, sizeof(rec));
	size_t n = parse_records(out.p, out.len, rs, max);
	unsigned char *s = malloc(out.len + 4096);
	char msg[256];
	int r;

#define FRESH() memcpy(s, out.p, out.len)
	/* Truncation anywhere: never success. */
	bool cut_ok = true;
	for (size_t cut = 0; cut < out.len; cut += out.len / 97 + 1) {
		FRESH();
		cut_ok &= read_all(s, cut, msg, sizeof(msg)) < 0;
	}
	TAP_CHECK(cut_ok, "truncated streams are refused at every cut");
	FRESH();
	r = read_all(s, out.len - 1, msg, sizeof(msg));
	TAP_CHECK(r < 0, "cut inside END refused: %s", msg);

	/* A flipped bit in a payload: the END checksum catches it. */
	FRESH();
	s[rs[4].at + DRR_SIZE + 100] ^= 1;
	r = read_all(s, out.len, msg, sizeof(msg));
	TAP_CHECK(r == -EBADMSG && strstr(msg, "checksum"), "damaged payload refused: %s", msg);
	/* A flipped bit in a header: its record checksum catches it. */
	FRESH();
	s[rs[3].at + WRITE_OFFSET + 1] ^= 1;
	r = read_all(s, out.len, msg, sizeof(msg));
	TAP_CHECK(r == -EBADMSG && strstr(msg, "checksum"), "damaged header refused: %s", msg);

	/* Swapped WRITE records (checksums recomputed): out of order. */
	FRESH();
	size_t a = rs[3].at, b = rs[4].at, rl = DRR_SIZE + 8192;
	TAP_CHECK(rs[3].type == DRR_WRITE && rs[4].type == DRR_WRITE && b == a + rl, "two neighbouring WRITEs to swap");
	unsigned char *tmp = malloc(rl);
	memcpy(tmp, s + a, rl);
	memmove(s + a, s + b, rl);
	memcpy(s + b, tmp, rl);
	free(tmp);
	restamp(s, out.len);
	r = read_all(s, out.len, msg, sizeof(msg));
	TAP_CHECK(r == -EBADMSG && strstr(msg, "order"), "reordered WRITEs refused: %s", msg);

	/* A FREE over data already written (moved back onto the first WRITE). */
	FRESH();
	{
		size_t f = 0;
		for (size_t i = 3; i < n && !f; i++)
			if (rs[i].type == DRR_FREE && le64(s + rs[i].at + FREE_OBJECT) == 1)
				f = rs[i].at;
		TAP_CHECK(f != 0, "a FREE record of object 1 to move");
		put_le64(s + f + FREE_OFFSET, 0);
		restamp(s, out.len);
		r = read_all(s, out.len, msg, sizeof(msg));
		TAP_CHECK(r == -EBADMSG && strstr(msg, "over data"), "FREE over written data refused: %s", msg);
	}

	/* Feature flags, byte order, compound, incremental, clone, file system. */
	struct {
		size_t off;
		uint64_t v;
		int width;
		int want;
		const char *what;
	} begin_cases[] = {
		{ BEGIN_VERSIONINFO, 1 | (4u << 2), 8, -ENOTSUP, "feature flags" },
		{ BEGIN_VERSIONINFO, 2, 8, -ENOTSUP, "compound stream" },
		{ BEGIN_FROMGUID, 77, 8, -ENOTSUP, "incremental stream" },
		{ BEGIN_FLAGS, 1, 4, -ENOTSUP, "clone stream" },
		{ BEGIN_TYPE, 2, 4, -ENOTSUP, "file system stream" },
		{ BEGIN_MAGIC, __builtin_bswap64(DMU_BACKUP_MAGIC), 8, -ENOTSUP, "big-endian stream" },
	};
	for (size_t i = 0; i < sizeof(begin_cases) / sizeof(begin_cases[0]); i++) {
		FRESH();
		if (begin_cases[i].width == 8)
			put_le64(s + begin_cases[i].off, begin_cases[i].v);
		else
			put_le32(s + begin_cases[i].off, (uint32_t)begin_cases[i].v);
		restamp(s, out.len);
		r = read_all(s, out.len, msg, sizeof(msg));
		TAP_CHECK(r == begin_cases[i].want, "%s refused: %s", begin_cases[i].what, msg);
	}

	/* An END from another stream. */
	FRESH();
	put_le64(s + rs[n - 1].at + END_TOGUID, 99);
	restamp(s, out.len);
	r = read_all(s, out.len, msg, sizeof(msg));
	TAP_CHECK(r == -EBADMSG && strstr(msg, "another stream"), "END with another guid refused: %s", msg);

	/* Trailing bytes, a second BEGIN. */
	FRESH();
	memset(s + out.len, 0, 16);
	r = read_all(s, out.len + 16, msg, sizeof(msg));
	TAP_CHECK(r == -EBADMSG && strstr(msg, "trailing"), "trailing bytes refused: %s", msg);
	FRESH();
	memcpy(s + out.len, out.p, DRR_SIZE);
	r = read_all(s, out.len + DRR_SIZE, msg, sizeof(msg));
	TAP_CHECK(r < 0, "a second stream after END refused: %s", msg);

	/* Compressed WRITE (zfs send -c), WRITE_EMBEDDED, an unknown object. */
	FRESH();
	s[rs[3].at + WRITE_COMPRESSIONTYPE] = 15;
	restamp(s, out.len);
	r = read_all(s, out.len, msg, sizeof(msg));
	TAP_CHECK(r == -ENOTSUP && strstr(msg, "compressed"), "compressed WRITE refused: %s", msg);
	FRESH();
	put_le64(s + rs[3].at + WRITE_OBJECT, 7);
	restamp(s, out.len);
	r = read_all(s, out.len, msg, sizeof(msg));
	TAP_CHECK(r == -EBADMSG && strstr(msg, "object 7"), "WRITE to an object a volume lacks refused: %s", msg);
	FRESH();
	put_le32(s + rs[n - 2].at, DRR_WRITE_EMBEDDED);
	restamp(s, out.len);
	r = read_all(s, out.len, msg, sizeof(msg));
	TAP_CHECK(r == -ENOTSUP, "WRITE_EMBEDDED refused: %s", msg);

	/* A WRITE before its OBJECT: drop OBJECT 1 by turning it into FREEOBJECTS. */
	FRESH();
	memset(s + rs[1].at, 0, DRR_SIZE);
	put_le32(s + rs[1].at, DRR_FREEOBJECTS);
	restamp(s, out.len);
	r = read_all(s, out.len, msg, sizeof(msg));
	TAP_CHECK(r == -EBADMSG && strstr(msg, "before its OBJECT"), "data before its OBJECT record refused: %s", msg);

	/* A volume size smaller than the data. */
	FRESH();
	put_le64(s + rs[n - 4].at + DRR_SIZE + 64, 8192);
	restamp(s, out.len);
	r = read_all(s, out.len, msg, sizeof(msg));
	TAP_CHECK(r == -EBADMSG && strstr(msg, "past the volume size"), "data past the volume size refused: %s", msg);

	/* A volume size over the cap fails as a bomb would. */
	{
		disk_out d = { 0 };
		zfs_recv *rr = NULL;
		zfs_recv_new(1u << 20, disk_sink, &d, &rr);
		int e = zfs_recv_feed(rr, out.p, out.len);
		if (e == 0)
			e = zfs_recv_finish(rr);
		TAP_CHECK(e == -EFBIG, "a volume over the size cap is -EFBIG: %s", zfs_recv_error(rr));
		zfs_recv_free(rr);
		free(d.p);
	}

	/* Not a stream at all. */
	FRESH();
	memset(s, 0x55, DRR_SIZE);
	r = read_all(s, out.len, msg, sizeof(msg));
	TAP_CHECK(r == -EBADMSG, "garbage refused: %s", msg);
	TAP_CHECK(zfs_stream_probe(out.p, 16) && !zfs_stream_probe(s, 16), "probe tells a stream from garbage");

	/* A failing sink stops the writer with its error. */
	buf small = { .fail_after = 100000 };
	r = write_stream(disk, size, &p, &small);
	TAP_CHECK(r == -ENOSPC, "writer returns the sink's error");
	free(small.p);
	small = (buf){ 0 };
	TAP_CHECK(zfs_send_writer_new(&(zfs_send_params){ .volsize = 1 << 20, .volblocksize = 3000, .toguid = 1,
	                                                  .zap_salt = 1, .toname = "a@b" },
	                              0, sink, &small, &(img_writer *){ NULL }) == -EINVAL,
	          "writer refuses a block size that is not a power of two");
	free(small.p);
	free(s);
	free(rs);
	free(out.p);
	free(disk);
}

int main(void)
{
	test_fletcher();
	test_round_trips();
	test_refusals();
	return tap_done();
}
