/* SPDX-License-Identifier: MIT */
/*
 * VMware "hosted sparse extent" images held in one file: monolithicSparse
 * (plain grains) and streamOptimized (deflate-compressed grains behind grain
 * markers, the grain directory possibly known only from a footer).
 *
 * Layout: a 512-byte SparseExtentHeader ("KDMV"), an embedded text
 * descriptor, a grain directory (GD) of uint32 sector numbers of grain tables
 * (GT), and GTs of 512 uint32 sector numbers of grains. A GT entry of 0 is an
 * unallocated grain (a hole); 1, when the zeroed-grain flag is set, an
 * explicitly zero grain. In streamOptimized images a GT entry points at a
 * grain marker: uint64 lba, uint32 compressed size, then zlib data.
 *
 * Multi-file layouts (a descriptor file naming flat or 2 GB extents, delta
 * disks with a parent) are refused: the other files are not ours to open.
 *
 * The primary GD is used; the redundant copy (flag bit 1) is not consulted.
 * The GD is loaded at open (capped). GTs are read on demand into a small
 * lock-protected cache and validated as they are loaded, so map and read can
 * trust every entry they use. Everything else is pread into per-call
 * buffers, which is what makes map and read safe from many threads at once.
 */
#include <errno.h>
#include <inttypes.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/image.h"
#include "util/bytes.h"
#include "util/fileio.h"
#include "util/strutil.h"

#define SECTOR 512u
#define GD_AT_END UINT64_MAX

/* SparseExtentHeader.flags */
#define FLAG_NL_CHECK (1u << 0)
#define FLAG_REDUNDANT_GD (1u << 1)
#define FLAG_ZERO_GTE (1u << 2)
#define FLAG_COMPRESSED (1u << 16)
#define FLAG_MARKERS (1u << 17)

#define COMPRESS_NONE 0u
#define COMPRESS_DEFLATE 1u

#define GTES_PER_GT 512u
#define GT_BYTES (GTES_PER_GT * 4u)
#define GTE_ZEROED 1u

/* Caps. Grains of 4 KiB to 1 MiB bound every per-call buffer; the GD cap
 * bounds the one allocation that grows with the disk. */
#define MIN_GRAIN_SECTORS 8u
#define MAX_GRAIN_SECTORS 2048u
#define MAX_GD_BYTES (32u << 20)
#define MAX_DESC_BYTES (64u << 10)
#define MAX_DESC_LINES 1024u
#define MAX_DESC_LINE 1024u

/* A grain marker: uint64 lba, uint32 size, then `size` compressed bytes. */
#define GRAIN_MARKER_BYTES 12u
/* Metadata markers have size 0 and a type in the following uint32. */
#define MARKER_EOS 0u
#define MARKER_FOOTER 3u

#define GT_CACHE_SLOTS 64u
#define DECOMPRESSOR_POOL 16u
/* map() reads at most this many grain tables per call, so that one call over
 * a huge allocated disk stays short; the caller simply asks again. */
#define MAP_MAX_TABLES 64u

typedef struct sparse_header {
	uint32_t version;
	uint32_t flags;
	uint64_t capacity;      /* sectors */
	uint64_t grain_sectors;
	uint64_t desc_offset;   /* sectors */
	uint64_t desc_sectors;
	uint32_t gtes_per_gt;
	uint64_t rgd_offset;
	uint64_t gd_offset;     /* sectors, or GD_AT_END */
	uint64_t overhead;      /* sectors of metadata before the first grain */
	uint8_t unclean;
	uint8_t nl_check[4];
	uint16_t compress;
} sparse_header;

typedef struct gt_slot {
	uint32_t tag;             /* GD index + 1; 0 = empty */
	uint32_t e[GTES_PER_GT];  /* host order, validated */
} gt_slot;

typedef struct vmdk_reader {
	img_reader base;
	int fd;
	uint64_t file_size;
	uint64_t grain_sectors;
	uint64_t grain_bytes;
	unsigned grain_shift;
	uint64_t grains;           /* grains covering the capacity */
	uint64_t min_grain_sector; /* grains never overlap the metadata */
	uint32_t gd_entries;
	uint32_t *gd;              /* host order, validated; 0 = no table */
	bool compressed;
	bool zero_gte;
	pthread_mutex_t lock;      /* guards cache and pool */
	gt_slot *cache;
	struct libdeflate_decompressor *pool[DECOMPRESSOR_POOL];
	unsigned pool_len;
} vmdk_reader;

/* What the embedded (or stand-alone) descriptor says. */
typedef struct desc_info {
	bool has_create_type;
	char create_type[64];
	bool has_parent;
	char parent[96];
	unsigned extents;
	/* The first extent line. */
	char access[16];
	uint64_t sectors;
	char type[16];
	char file[128];
} desc_info;

/* ------------------------------------------------------------ helpers */

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Copies text from the file into a message buffer: control and non-ASCII
 * bytes become '?', so a hostile descriptor cannot inject escape codes. */
static void printable(char *dst, size_t dstlen, const char *src, size_t n)
{
	size_t i = 0;
	for (; i < n && i + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (dstlen > 0)
		dst[i] = '\0';
}

static const char *io_error(int rc)
{
	return rc == -EIO ? "the file ended early (did it shrink?)" : strerror(-rc);
}

static bool parse_header(const uint8_t *p, sparse_header *h)
{
	if (memcmp(p, "KDMV", 4) != 0)
		return false;
	h->version = le32(p + 4);
	h->flags = le32(p + 8);
	h->capacity = le64(p + 12);
	h->grain_sectors = le64(p + 20);
	h->desc_offset = le64(p + 28);
	h->desc_sectors = le64(p + 36);
	h->gtes_per_gt = le32(p + 44);
	h->rgd_offset = le64(p + 48);
	h->gd_offset = le64(p + 56);
	h->overhead = le64(p + 64);
	h->unclean = p[72];
	memcpy(h->nl_check, p + 73, 4);
	h->compress = le16(p + 77);
	return true;
}

/* ------------------------------------------------------------ descriptor */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Splits the next blank-delimited token off [*s, end). */
static bool next_token(const char **s, const char *end, const char **tok, size_t *toklen)
{
	const char *p = *s;
	while (p < end && is_blank(*p))
		p++;
	if (p == end)
		return false;
	const char *t = p;
	while (p < end && !is_blank(*p))
		p++;
	*tok = t;
	*toklen = (size_t)(p - t);
	*s = p;
	return true;
}

static bool tok_is(const char *t, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(t, word, n) == 0;
}

static bool parse_u64(const char *t, size_t n, uint64_t *v)
{
	if (n == 0 || n > 20)
		return false;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (t[i] < '0' || t[i] > '9')
			return false;
		uint64_t d = (uint64_t)(t[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*v = x;
	return true;
}

/* `RW 4192256 SPARSE "disk.vmdk"`; FLAT and VMFS extents add an offset,
 * ZERO extents have no file name. */
static int parse_extent_line(const char *s, const char *end, desc_info *d, unsigned lineno, char *err,
                             size_t errlen)
{
	const char *line = s, *access, *num, *type;
	size_t alen, nlen, tlen;
	uint64_t sectors;
	const char *name = s;
	size_t name_len = 0;

	if (!next_token(&s, end, &access, &alen) || !next_token(&s, end, &num, &nlen) ||
	    !parse_u64(num, nlen, &sectors) || !next_token(&s, end, &type, &tlen) || memchr(type, '"', tlen))
		goto bad;
	while (s < end && is_blank(*s))
		s++;
	if (s < end) {
		if (*s != '"')
			goto bad;
		name = ++s;
		while (s < end && *s != '"')
			s++;
		if (s == end)
			goto bad;
		name_len = (size_t)(s - name);
		s++;
		/* What may follow the name: a flat extent's start offset. */
		const char *tok;
		size_t toklen;
		uint64_t flat_offset;
		if (next_token(&s, end, &tok, &toklen) &&
		    (!parse_u64(tok, toklen, &flat_offset) || next_token(&s, end, &tok, &toklen)))
			goto bad;
	}
	if (d->extents++ == 0) {
		printable(d->access, sizeof(d->access), access, alen);
		printable(d->type, sizeof(d->type), type, tlen);
		printable(d->file, sizeof(d->file), name, name_len);
		d->sectors = sectors;
	}
	return 0;
bad : {
	char shown[80];
	printable(shown, sizeof(shown), line, (size_t)(end - line));
	return errmsg(err, errlen, -EBADMSG, "descriptor line %u is a malformed extent line: \"%s\"", lineno, shown);
}
}

static void trim(const char **s, const char **end)
{
	while (*s < *end && is_blank(**s))
		(*s)++;
	while (*end > *s && is_blank((*end)[-1]))
		(*end)--;
}

/* key = "value" lines; other lines are ignored, as VMware does. */
static int parse_setting(const char *s, const char *end, desc_info *d, unsigned lineno, char *err, size_t errlen)
{
	const char *eq = memchr(s, '=', (size_t)(end - s));
	if (!eq)
		return 0;
	const char *k = s, *kend = eq, *v = eq + 1, *vend = end;
	trim(&k, &kend);
	trim(&v, &vend);
	if (vend - v >= 2 && *v == '"' && vend[-1] == '"') {
		v++;
		vend--;
	}
	size_t klen = (size_t)(kend - k), vlen = (size_t)(vend - v);

	if (tok_is(k, klen, "createType")) {
		if (d->has_create_type)
			return errmsg(err, errlen, -EBADMSG, "descriptor line %u: createType given twice", lineno);
		if (vlen >= sizeof(d->create_type)) {
			char shown[64];
			printable(shown, sizeof(shown), v, vlen);
			return errmsg(err, errlen, -ENOTSUP, "unsupported createType \"%s...\"", shown);
		}
		memcpy(d->create_type, v, vlen);
		d->create_type[vlen] = '\0';
		d->has_create_type = true;
	} else if (tok_is(k, klen, "parentFileNameHint")) {
		d->has_parent = true;
		char shown[64];
		printable(shown, sizeof(shown), v, vlen);
		snprintf(d->parent, sizeof(d->parent), "parentFileNameHint \"%s\"", shown);
	} else if (tok_is(k, klen, "parentCID")) {
		/* ffffffff means "no parent". */
		if (vlen != 8 || strncasecmp(v, "ffffffff", 8) != 0) {
			char shown[24];
			printable(shown, sizeof(shown), v, vlen);
			if (!d->has_parent)
				snprintf(d->parent, sizeof(d->parent), "parentCID %s", shown);
			d->has_parent = true;
		}
	}
	return 0;
}

static int parse_line(const char *s, const char *end, desc_info *d, unsigned lineno, char *err, size_t errlen)
{
	if (end > s && end[-1] == '\r')
		end--;
	trim(&s, &end);
	if (s == end || *s == '#')
		return 0;
	const char *q = s, *tok;
	size_t toklen;
	next_token(&q, end, &tok, &toklen);
	if (tok_is(tok, toklen, "RW") || tok_is(tok, toklen, "RDONLY") || tok_is(tok, toklen, "NOACCESS"))
		return parse_extent_line(s, end, d, lineno, err, errlen);
	return parse_setting(s, end, d, lineno, err, errlen);
}

/* `text` holds `len` bytes (no NUL inside), len <= MAX_DESC_BYTES. */
static int parse_descriptor(const char *text, size_t len, desc_info *d, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	const char *p = text, *end = text + len;
	unsigned lines = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if (++lines > MAX_DESC_LINES)
			return errmsg(err, errlen, -EFBIG, "descriptor has more than %u lines", MAX_DESC_LINES);
		if ((size_t)(le - p) > MAX_DESC_LINE)
			return errmsg(err, errlen, -EFBIG, "descriptor line %u is longer than %u bytes", lines,
			            MAX_DESC_LINE);
		int rc = parse_line(p, le, d, lines, err, errlen);
		if (rc < 0)
			return rc;
		p = nl ? nl + 1 : end;
	}
	return 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* createTypes whose data lives in files other than the descriptor's. */
static bool references_other_files(const char *ct)
{
	return strcmp(ct, "monolithicFlat") == 0 || has_prefix(ct, "twoGbMaxExtent") || has_prefix(ct, "vmfs") ||
	       strcmp(ct, "seSparse") == 0 || strcmp(ct, "fullDevice") == 0 ||
	       strcmp(ct, "partitionedDevice") == 0 || strcmp(ct, "custom") == 0;
}

static int check_descriptor(const desc_info *d, const sparse_header *h, bool compressed, char *err, size_t errlen)
{
	char ct[sizeof(d->create_type)];
	printable(ct, sizeof(ct), d->create_type, strlen(d->create_type));

	if (!d->has_create_type)
		return errmsg(err, errlen, -EBADMSG, "embedded descriptor has no createType");
	bool stream = strcmp(d->create_type, "streamOptimized") == 0;
	if (!stream && strcmp(d->create_type, "monolithicSparse") != 0) {
		if (references_other_files(d->create_type))
			return errmsg(err, errlen, -ENOTSUP,
			            "createType \"%s\" keeps the disk in other files; only single-file "
			            "monolithicSparse and streamOptimized vmdk images are supported",
			            ct);
		return errmsg(err, errlen, -ENOTSUP, "unsupported vmdk createType \"%s\"", ct);
	}
	if (d->extents == 0)
		return errmsg(err, errlen, -EBADMSG, "embedded descriptor lists no extent");
	if (d->extents > 1)
		return errmsg(err, errlen, -ENOTSUP,
		            "descriptor lists %u extents (first: %s \"%s\"): the disk spans several files; only a "
		            "single SPARSE extent is supported",
		            d->extents, d->type, d->file);
	if (strcmp(d->type, "SPARSE") != 0 && d->file[0])
		return errmsg(err, errlen, -ENOTSUP,
		            "descriptor extent is of type %s (\"%s\"), which references another file; only a "
		            "single SPARSE extent is supported",
		            d->type, d->file);
	if (strcmp(d->type, "SPARSE") != 0)
		return errmsg(err, errlen, -ENOTSUP,
		            "descriptor extent is of type %s; only a single SPARSE extent is supported", d->type);
	if (strcmp(d->access, "NOACCESS") == 0)
		return errmsg(err, errlen, -ENOTSUP, "descriptor extent is NOACCESS");
	if (d->has_parent)
		return errmsg(err, errlen, -ENOTSUP, "delta disk with a parent (%s): backing files are not supported",
		            d->parent);
	if (d->sectors != h->capacity)
		return errmsg(err, errlen, -EBADMSG,
		            "descriptor extent has %" PRIu64 " sectors but the header capacity is %" PRIu64, d->sectors,
		            h->capacity);
	if (stream != compressed)
		return errmsg(err, errlen, -EBADMSG, "createType \"%s\" but the header says grains are %scompressed", ct,
		            compressed ? "" : "not ");
	return 0;
}

/* A text descriptor as the whole file: "# Disk DescriptorFile", or at least
 * a comment or version= line followed somewhere by a createType. */
static bool looks_like_descriptor(const char *p, size_t n)
{
	if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		p += 3;
		n -= 3;
	}
	while (n > 0 && (is_blank(*p) || *p == '\r' || *p == '\n')) {
		p++;
		n--;
	}
	if (n >= 20 && memcmp(p, "# Disk DescriptorFile", 20) == 0)
		return true;
	if (n == 0 || (*p != '#' && (n < 8 || memcmp(p, "version=", 8) != 0)))
		return false;
	return memmem(p, n, "createType", 10) != NULL;
}

/* The file does not start with a sparse extent header. */
static int refuse_not_sparse(int fd, const uint8_t *head, size_t head_len, uint64_t file_size, char *err,
                             size_t errlen)
{
	if (head_len >= 4 && memcmp(head, "COWD", 4) == 0)
		return errmsg(err, errlen, -ENOTSUP,
		            "COWD sparse extent (VMware 3 / ESX vmfsSparse) is not supported");
	size_t n = file_size < MAX_DESC_BYTES ? (size_t)file_size : MAX_DESC_BYTES;
	char *text = malloc(n + 1);
	if (!text)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	int rc = pread_full(fd, text, n, 0);
	if (rc < 0) {
		free(text);
		return errmsg(err, errlen, rc, "reading the vmdk header: %s", io_error(rc));
	}
	n = strnlen(text, n);
	if (!looks_like_descriptor(text, n)) {
		free(text);
		if (head_len < 4)
			return errmsg(err, errlen, -EBADMSG, "not a vmdk image: the file has only %zu bytes", head_len);
		return errmsg(err, errlen, -EBADMSG,
		            "not a vmdk image: no sparse extent magic \"KDMV\" (found %02x %02x %02x %02x)", head[0],
		            head[1], head[2], head[3]);
	}
	/* A descriptor cut by the cap above: parse its whole lines only. */
	if (n == MAX_DESC_BYTES && file_size > MAX_DESC_BYTES) {
		char *nl = memrchr(text, '\n', n);
		n = nl ? (size_t)(nl - text) : 0;
	}
	desc_info d;
	char ignored[8];
	rc = parse_descriptor(text, n, &d, ignored, sizeof(ignored));
	free(text);
	if (rc == 0 && d.extents > 0) {
		char ct[sizeof(d.create_type)];
		printable(ct, sizeof(ct), d.create_type, strlen(d.create_type));
		return errmsg(err, errlen, -ENOTSUP,
		            "this is a vmdk descriptor file (createType \"%s\") that references external extent "
		            "files (%u, first: %s \"%s\"); only single-file monolithicSparse and streamOptimized "
		            "vmdk images are supported",
		            d.has_create_type ? ct : "?", d.extents, d.type, d.file);
	}
	return errmsg(err, errlen, -ENOTSUP,
	            "this is a vmdk descriptor file that references external extent files; only single-file "
	            "monolithicSparse and streamOptimized vmdk images are supported");
}

/* ------------------------------------------------------------ open */

/* The GD offset is only known at the end of a streamed image: the last three
 * sectors are a footer marker, a header copy, an end-of-stream marker. */
static int read_footer(int fd, uint64_t file_size, sparse_header *h, char *err, size_t errlen)
{
	uint8_t tail[3 * SECTOR];
	if (file_size % SECTOR != 0 || file_size < 4 * SECTOR)
		return errmsg(err, errlen, -EBADMSG,
		            "streamOptimized vmdk keeps its grain directory in a footer, but the file (%" PRIu64
		            " bytes) cannot hold one (truncated download?)",
		            file_size);
	int rc = pread_full(fd, tail, sizeof(tail), file_size - sizeof(tail));
	if (rc < 0)
		return errmsg(err, errlen, rc, "reading the vmdk footer: %s", io_error(rc));
	const uint8_t *marker = tail, *eos = tail + 2 * SECTOR;
	sparse_header f;
	if (le32(marker + 8) != 0 || le32(marker + 12) != MARKER_FOOTER || !parse_header(tail + SECTOR, &f) ||
	    le64(eos) != 0 || le32(eos + 8) != 0 || le32(eos + 12) != MARKER_EOS)
		return errmsg(err, errlen, -EBADMSG,
		            "streamOptimized vmdk footer is missing or damaged (truncated download?)");
	if (f.gd_offset == GD_AT_END)
		return errmsg(err, errlen, -EBADMSG, "vmdk footer does not give the grain directory offset");
	if (f.capacity != h->capacity || f.grain_sectors != h->grain_sectors)
		return errmsg(err, errlen, -EBADMSG, "vmdk footer disagrees with the header on capacity or grain size");
	*h = f;
	return 0;
}

static int check_header(const sparse_header *h, uint64_t file_size, char *err, size_t errlen)
{
	if (h->version < 1 || h->version > 3)
		return errmsg(err, errlen, -ENOTSUP, "unsupported vmdk sparse extent version %" PRIu32 " (1 to 3 supported)",
		            h->version);
	if ((h->flags & FLAG_NL_CHECK) && memcmp(h->nl_check, "\n \r\n", 4) != 0)
		return errmsg(err, errlen, -EBADMSG,
		            "vmdk newline check bytes are damaged (was the file transferred in text mode?)");
	uint64_t gs = h->grain_sectors;
	if (gs == 0 || (gs & (gs - 1)) != 0)
		return errmsg(err, errlen, -EBADMSG, "vmdk grain size of %" PRIu64 " sectors is not a power of two", gs);
	if (gs < MIN_GRAIN_SECTORS)
		return errmsg(err, errlen, -ENOTSUP, "vmdk grain size of %" PRIu64 " bytes is below the 4 KiB minimum",
		            gs * SECTOR);
	if (gs > MAX_GRAIN_SECTORS)
		return errmsg(err, errlen, -EFBIG, "vmdk grain size of %" PRIu64 " sectors exceeds the 1 MiB cap", gs);
	if (h->gtes_per_gt != GTES_PER_GT)
		return errmsg(err, errlen, -EBADMSG, "vmdk numGTEsPerGT is %" PRIu32 ", the format requires 512",
		            h->gtes_per_gt);
	if (h->compress != COMPRESS_NONE && h->compress != COMPRESS_DEFLATE)
		return errmsg(err, errlen, -ENOTSUP, "vmdk compression algorithm %u is not supported (only deflate)",
		            (unsigned)h->compress);
	bool compressed = h->compress == COMPRESS_DEFLATE;
	if ((h->flags & FLAG_COMPRESSED) && !compressed)
		return errmsg(err, errlen, -EBADMSG, "vmdk header flags compressed grains but names no compression");
	if (compressed && !(h->flags & FLAG_MARKERS))
		return errmsg(err, errlen, -ENOTSUP, "compressed vmdk grains without grain markers are not supported");
	if (!compressed && (h->flags & FLAG_MARKERS))
		return errmsg(err, errlen, -ENOTSUP, "vmdk markers without compressed grains are not supported");
	if (h->capacity > IMG_MAX_VIRTUAL_SIZE / SECTOR)
		return errmsg(err, errlen, -EFBIG,
		            "vmdk capacity of %" PRIu64 " sectors exceeds the %llu TiB cap on virtual size",
		            h->capacity, IMG_MAX_VIRTUAL_SIZE >> 40);
	if (h->overhead > file_size / SECTOR)
		return errmsg(err, errlen, -EBADMSG,
		            "vmdk file truncated: grains start at sector %" PRIu64 " but the file has %" PRIu64
		            " bytes",
		            h->overhead, file_size);
	return 0;
}

static int read_descriptor(int fd, const sparse_header *h, uint64_t file_size, desc_info *d, char *err,
                           size_t errlen)
{
	if (h->desc_offset == 0 || h->desc_sectors == 0)
		return errmsg(err, errlen, -ENOTSUP,
		            "vmdk sparse extent without an embedded descriptor: it is one extent of a multi-file "
		            "disk whose descriptor is elsewhere");
	if (h->desc_sectors > MAX_DESC_BYTES / SECTOR)
		return errmsg(err, errlen, -EFBIG, "embedded vmdk descriptor of %" PRIu64 " sectors exceeds the %u KiB cap",
		            h->desc_sectors, MAX_DESC_BYTES >> 10);
	size_t len = (size_t)h->desc_sectors * SECTOR;
	if (len > file_size || h->desc_offset > (file_size - len) / SECTOR)
		return errmsg(err, errlen, -EBADMSG,
		            "embedded vmdk descriptor (sector %" PRIu64 ", %zu bytes) lies past the end of the file "
		            "(truncated?)",
		            h->desc_offset, len);
	char *text = malloc(len);
	if (!text)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	int rc = pread_full(fd, text, len, h->desc_offset * SECTOR);
	if (rc < 0) {
		free(text);
		return errmsg(err, errlen, rc, "reading the vmdk descriptor: %s", io_error(rc));
	}
	size_t n = strnlen(text, len), blank = 0;
	while (blank < n && (is_blank(text[blank]) || text[blank] == '\r' || text[blank] == '\n'))
		blank++;
	/* qemu leaves the descriptor area of a twoGbMaxExtentSparse extent empty. */
	rc = blank == n ? errmsg(err, errlen, -ENOTSUP,
	                       "empty embedded vmdk descriptor: this is one extent of a multi-file disk whose "
	                       "descriptor is elsewhere")
	                : parse_descriptor(text, n, d, err, errlen);
	free(text);
	return rc;
}

static int load_gd(vmdk_reader *vr, uint64_t gd_offset, char *err, size_t errlen)
{
	uint64_t tables = (vr->grains + GTES_PER_GT - 1) / GTES_PER_GT;
	if (tables > MAX_GD_BYTES / 4)
		return errmsg(err, errlen, -EFBIG, "vmdk grain directory of %" PRIu64 " entries exceeds the %u MiB cap",
		            tables, MAX_GD_BYTES >> 20);
	vr->gd_entries = (uint32_t)tables;
	if (tables == 0)
		return 0;
	size_t bytes = (size_t)tables * 4;
	uint64_t fs = vr->file_size;
	if (gd_offset == 0 || bytes > fs || gd_offset > (fs - bytes) / SECTOR)
		return errmsg(err, errlen, -EBADMSG,
		            "vmdk grain directory (sector %" PRIu64 ", %zu bytes) lies outside the file (%" PRIu64
		            " bytes; truncated?)",
		            gd_offset, bytes, fs);
	uint8_t *raw = malloc(bytes);
	vr->gd = malloc(bytes);
	if (!raw || !vr->gd) {
		free(raw);
		return errmsg(err, errlen, -ENOMEM, "out of memory for the vmdk grain directory");
	}
	int rc = pread_full(vr->fd, raw, bytes, gd_offset * SECTOR);
	if (rc < 0) {
		free(raw);
		return errmsg(err, errlen, rc, "reading the vmdk grain directory: %s", io_error(rc));
	}
	for (uint32_t i = 0; i < vr->gd_entries; i++) {
		uint32_t e = le32(raw + 4 * (size_t)i);
		if (e != 0 && (uint64_t)e * SECTOR + GT_BYTES > fs) {
			free(raw);
			return errmsg(err, errlen, -EBADMSG,
			            "vmdk grain directory entry %" PRIu32 " points at sector %" PRIu32
			            ", past the end of the file (truncated?)",
			            i, e);
		}
		vr->gd[i] = e;
	}
	free(raw);
	return 0;
}

/* ------------------------------------------------------------ grain tables */

static img_extent_kind entry_kind(const vmdk_reader *vr, uint32_t e)
{
	if (e == 0)
		return IMG_EXTENT_HOLE;
	if (e == GTE_ZEROED && vr->zero_gte)
		return IMG_EXTENT_ZERO;
	return IMG_EXTENT_DATA;
}

/* Guest bytes of grain g: a full grain, except perhaps the last one. */
static uint64_t grain_guest_bytes(const vmdk_reader *vr, uint64_t g)
{
	uint64_t start = g << vr->grain_shift, left = vr->base.info.virtual_size - start;
	return left < vr->grain_bytes ? left : vr->grain_bytes;
}

static int decode_gt(vmdk_reader *vr, uint32_t gdi, const uint8_t *raw, uint32_t *gt)
{
	uint64_t first = (uint64_t)gdi * GTES_PER_GT;
	for (unsigned i = 0; i < GTES_PER_GT; i++) {
		uint64_t g = first + i;
		/* Entries past the capacity are never used: ignore whatever is there. */
		uint32_t e = g < vr->grains ? le32(raw + 4 * i) : 0;
		gt[i] = e;
		if (entry_kind(vr, e) != IMG_EXTENT_DATA)
			continue;
		uint64_t goff = g << vr->grain_shift;
		if (e < vr->min_grain_sector) {
			img_reader_set_error(&vr->base,
			                     "vmdk grain at guest offset %" PRIu64 " points at sector %" PRIu32
			                     ", inside the image metadata",
			                     goff, e);
			return -EBADMSG;
		}
		uint64_t need = vr->compressed ? GRAIN_MARKER_BYTES : grain_guest_bytes(vr, g);
		if ((uint64_t)e * SECTOR + need > vr->file_size) {
			img_reader_set_error(&vr->base,
			                     "vmdk grain at guest offset %" PRIu64 " points at sector %" PRIu32
			                     ", past the end of the file (%" PRIu64 " bytes; truncated?)",
			                     goff, e, vr->file_size);
			return -EBADMSG;
		}
	}
	return 0;
}

/* Fills gt with the validated entries of grain table gdi (all holes when the
 * directory has no table there). */
static int load_gt(vmdk_reader *vr, uint32_t gdi, uint32_t *gt)
{
	uint32_t sector = vr->gd[gdi];
	if (sector == 0) {
		memset(gt, 0, GT_BYTES);
		return 0;
	}
	gt_slot *slot = &vr->cache[gdi % GT_CACHE_SLOTS];
	pthread_mutex_lock(&vr->lock);
	bool hit = slot->tag == gdi + 1;
	if (hit)
		memcpy(gt, slot->e, GT_BYTES);
	pthread_mutex_unlock(&vr->lock);
	if (hit)
		return 0;

	uint8_t raw[GT_BYTES];
	int rc = pread_full(vr->fd, raw, GT_BYTES, (uint64_t)sector * SECTOR);
	if (rc < 0) {
		img_reader_set_error(&vr->base, "reading vmdk grain table %" PRIu32 ": %s", gdi, io_error(rc));
		return rc;
	}
	rc = decode_gt(vr, gdi, raw, gt);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&vr->lock);
	slot->tag = gdi + 1;
	memcpy(slot->e, gt, GT_BYTES);
	pthread_mutex_unlock(&vr->lock);
	return 0;
}

/* ------------------------------------------------------------ map */

static int vmdk_map(img_reader *r, uint64_t off, uint64_t max, img_extent *ext)
{
	vmdk_reader *vr = (vmdk_reader *)r;
	uint64_t vsize = r->info.virtual_size;
	if (off >= vsize || max == 0) {
		img_reader_set_error(r, "vmdk map at offset %" PRIu64 " outside the disk", off);
		return -EINVAL;
	}
	if (max > vsize - off)
		max = vsize - off;
	uint64_t limit = off + max, pos = off;
	uint32_t gt[GTES_PER_GT];
	img_extent_kind kind = IMG_EXTENT_HOLE;
	bool have = false;
	unsigned tables = 0;

	while (pos < limit) {
		uint64_t g = pos >> vr->grain_shift;
		uint32_t gdi = (uint32_t)(g / GTES_PER_GT);
		if (vr->gd[gdi] == 0) {
			/* A whole table of holes: no need to look at its entries. */
			if (have && kind != IMG_EXTENT_HOLE)
				break;
			kind = IMG_EXTENT_HOLE;
			have = true;
			pos = ((uint64_t)gdi + 1) * GTES_PER_GT << vr->grain_shift;
			continue;
		}
		if (have && tables == MAP_MAX_TABLES)
			break;
		int rc = load_gt(vr, gdi, gt);
		if (rc < 0)
			return rc;
		tables++;
		unsigned i = (unsigned)(g % GTES_PER_GT);
		for (; i < GTES_PER_GT && pos < limit; i++) {
			img_extent_kind k = entry_kind(vr, gt[i]);
			if (have && k != kind)
				goto done;
			kind = k;
			have = true;
			pos = ((uint64_t)gdi * GTES_PER_GT + i + 1) << vr->grain_shift;
		}
	}
done:
	if (pos > limit)
		pos = limit;
	*ext = (img_extent){
		.offset = off,
		.length = pos - off,
		.kind = kind,
		.compressed = kind == IMG_EXTENT_DATA && vr->compressed,
	};
	return 0;
}

/* ------------------------------------------------------------ read */

static struct libdeflate_decompressor *get_decompressor(vmdk_reader *vr)
{
	struct libdeflate_decompressor *d = NULL;
	pthread_mutex_lock(&vr->lock);
	if (vr->pool_len > 0)
		d = vr->pool[--vr->pool_len];
	pthread_mutex_unlock(&vr->lock);
	return d ? d : libdeflate_alloc_decompressor();
}

static void put_decompressor(vmdk_reader *vr, struct libdeflate_decompressor *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&vr->lock);
	if (vr->pool_len < DECOMPRESSOR_POOL) {
		vr->pool[vr->pool_len++] = d;
		d = NULL;
	}
	pthread_mutex_unlock(&vr->lock);
	if (d)
		libdeflate_free_decompressor(d);
}

/* Buffers of one read() call, allocated on first use and reused for every
 * grain of the call. */
typedef struct read_ctx {
	uint8_t *cbuf; /* grain marker + compressed bytes */
	uint8_t *gbuf; /* one decompressed grain, for reads of part of a grain */
	struct libdeflate_decompressor *dec;
} read_ctx;

/* Largest compressed grain accepted: deflate can expand incompressible data
 * a little; anything beyond this is corruption. */
static size_t compressed_cap(const vmdk_reader *vr)
{
	return 2 * (size_t)vr->grain_bytes + 4096;
}

/* Reads the marker and compressed bytes of grain g into c->cbuf; returns the
 * compressed size in *size. */
static int fetch_compressed(vmdk_reader *vr, read_ctx *c, uint64_t g, uint32_t sector, uint32_t *size)
{
	size_t cap = compressed_cap(vr);
	if (!c->cbuf && !(c->cbuf = malloc(GRAIN_MARKER_BYTES + cap))) {
		img_reader_set_error(&vr->base, "out of memory");
		return -ENOMEM;
	}
	uint64_t foff = (uint64_t)sector * SECTOR, avail = vr->file_size - foff;
	uint64_t goff = g << vr->grain_shift;
	/* One pread for the usual grain, which compresses to less than a grain. */
	size_t first = GRAIN_MARKER_BYTES + (size_t)vr->grain_bytes;
	if (first > avail)
		first = (size_t)avail;
	int rc = pread_full(vr->fd, c->cbuf, first, foff);
	if (rc < 0) {
		img_reader_set_error(&vr->base, "reading the vmdk grain at file offset %" PRIu64 ": %s", foff,
		                     io_error(rc));
		return rc;
	}
	uint64_t lba = le64(c->cbuf);
	uint32_t n = le32(c->cbuf + 8);
	if (n == 0) {
		img_reader_set_error(&vr->base,
		                     "vmdk grain table entry for guest offset %" PRIu64
		                     " points at a metadata marker (file offset %" PRIu64 "), not a grain",
		                     goff, foff);
		return -EBADMSG;
	}
	if (lba != g * vr->grain_sectors) {
		img_reader_set_error(&vr->base,
		                     "vmdk grain marker at file offset %" PRIu64 " has lba %" PRIu64
		                     ", expected %" PRIu64 " (guest offset %" PRIu64 ")",
		                     foff, lba, g * vr->grain_sectors, goff);
		return -EBADMSG;
	}
	if (n > cap) {
		img_reader_set_error(&vr->base,
		                     "vmdk grain marker at file offset %" PRIu64 " claims %" PRIu32
		                     " compressed bytes, more than the %zu-byte cap",
		                     foff, n, cap);
		return -EBADMSG;
	}
	if (GRAIN_MARKER_BYTES + (uint64_t)n > avail) {
		img_reader_set_error(&vr->base,
		                     "vmdk compressed grain at file offset %" PRIu64
		                     " runs past the end of the file (truncated?)",
		                     foff);
		return -EBADMSG;
	}
	size_t total = GRAIN_MARKER_BYTES + (size_t)n;
	if (total > first) {
		rc = pread_full(vr->fd, c->cbuf + first, total - first, foff + first);
		if (rc < 0) {
			img_reader_set_error(&vr->base, "reading the vmdk grain at file offset %" PRIu64 ": %s", foff,
			                     io_error(rc));
			return rc;
		}
	}
	*size = n;
	return 0;
}

/* Copies bytes [in, in + n) of compressed grain g to dst. */
static int read_compressed_grain(vmdk_reader *vr, read_ctx *c, uint64_t g, uint32_t sector, size_t in,
                                 uint8_t *dst, size_t n)
{
	uint32_t size;
	int rc = fetch_compressed(vr, c, g, sector, &size);
	if (rc < 0)
		return rc;
	if (!c->dec && !(c->dec = get_decompressor(vr))) {
		img_reader_set_error(&vr->base, "out of memory");
		return -ENOMEM;
	}
	size_t gb = (size_t)vr->grain_bytes, glen = (size_t)grain_guest_bytes(vr, g);
	/* A whole grain goes straight into the caller's buffer. */
	bool direct = in == 0 && n == gb;
	uint8_t *out = dst;
	if (!direct) {
		if (!c->gbuf && !(c->gbuf = malloc(gb))) {
			img_reader_set_error(&vr->base, "out of memory");
			return -ENOMEM;
		}
		out = c->gbuf;
	}
	uint64_t goff = g << vr->grain_shift;
	size_t got = 0;
	enum libdeflate_result res =
	        libdeflate_zlib_decompress(c->dec, c->cbuf + GRAIN_MARKER_BYTES, size, out, gb, &got);
	if (res == LIBDEFLATE_INSUFFICIENT_SPACE) {
		img_reader_set_error(&vr->base,
		                     "vmdk grain at guest offset %" PRIu64 " decompresses to more than the %zu-byte grain",
		                     goff, gb);
		return -EBADMSG;
	}
	if (res != LIBDEFLATE_SUCCESS) {
		img_reader_set_error(&vr->base,
		                     "corrupt deflate data in the vmdk grain at guest offset %" PRIu64
		                     " (file offset %" PRIu64 ")",
		                     goff, (uint64_t)sector * SECTOR);
		return -EBADMSG;
	}
	/* Only the disk's last, partial grain may be stored short. */
	if (got != gb && (glen == gb || got < glen)) {
		img_reader_set_error(&vr->base,
		                     "vmdk grain at guest offset %" PRIu64 " decompresses to %zu bytes, expected %zu", goff,
		                     got, glen == gb ? gb : glen);
		return -EBADMSG;
	}
	if (!direct)
		memcpy(dst, out + in, n);
	return 0;
}

/* Reads plain grains from entry i of gt on, as one pread while they are
 * consecutive in the file; *done is how many bytes were read. */
static int read_plain_run(vmdk_reader *vr, const uint32_t *gt, unsigned i, size_t in, uint8_t *dst, size_t len,
                          size_t *done)
{
	size_t gb = (size_t)vr->grain_bytes;
	size_t n = gb - in < len ? gb - in : len;
	uint64_t foff = (uint64_t)gt[i] * SECTOR + in;
	while (n < len && i + 1 < GTES_PER_GT && (uint64_t)gt[i + 1] == (uint64_t)gt[i] + vr->grain_sectors) {
		i++;
		n += len - n < gb ? len - n : gb;
	}
	int rc = pread_full(vr->fd, dst, n, foff);
	if (rc < 0) {
		img_reader_set_error(&vr->base, "reading vmdk grain data at file offset %" PRIu64 ": %s", foff,
		                     io_error(rc));
		return rc;
	}
	*done = n;
	return 0;
}

static int vmdk_read(img_reader *r, uint64_t off, void *buf, size_t len)
{
	vmdk_reader *vr = (vmdk_reader *)r;
	uint64_t vsize = r->info.virtual_size;
	if (len > IMG_MAX_IO || off > vsize || len > vsize - off) {
		img_reader_set_error(r, "vmdk read of %zu bytes at offset %" PRIu64 " outside the disk", len, off);
		return -EINVAL;
	}
	read_ctx c = { 0 };
	uint32_t gt[GTES_PER_GT];
	uint64_t loaded = UINT64_MAX;
	uint8_t *p = buf;
	int rc = 0;
	while (len > 0) {
		uint64_t g = off >> vr->grain_shift;
		uint32_t gdi = (uint32_t)(g / GTES_PER_GT);
		unsigned i = (unsigned)(g % GTES_PER_GT);
		if (gdi != loaded) {
			rc = load_gt(vr, gdi, gt);
			if (rc < 0)
				break;
			loaded = gdi;
		}
		size_t in = (size_t)(off - (g << vr->grain_shift));
		size_t n = (size_t)vr->grain_bytes - in;
		if (n > len)
			n = len;
		if (entry_kind(vr, gt[i]) != IMG_EXTENT_DATA)
			memset(p, 0, n);
		else if (vr->compressed)
			rc = read_compressed_grain(vr, &c, g, gt[i], in, p, n);
		else
			rc = read_plain_run(vr, gt, i, in, p, len, &n);
		if (rc < 0)
			break;
		p += n;
		off += n;
		len -= n;
	}
	free(c.cbuf);
	free(c.gbuf);
	put_decompressor(vr, c.dec);
	return rc;
}

/* ------------------------------------------------------------ open/close */

static void vmdk_free(vmdk_reader *vr)
{
	for (unsigned i = 0; i < vr->pool_len; i++)
		libdeflate_free_decompressor(vr->pool[i]);
	free(vr->cache);
	free(vr->gd);
	pthread_mutex_destroy(&vr->lock);
	img_reader_destroy(&vr->base);
	free(vr);
}

static void vmdk_close(img_reader *r)
{
	vmdk_free((vmdk_reader *)r);
}

static const img_reader_ops vmdk_ops = { .map = vmdk_map, .read = vmdk_read, .close = vmdk_close };

static void fill_info(vmdk_reader *vr, const sparse_header *h, bool footer, const desc_info *d)
{
	img_info *info = &vr->base.info;
	info->virtual_size = h->capacity * SECTOR;
	info->file_size = vr->file_size;
	info->cluster_size = (uint32_t)vr->grain_bytes;
	info->version = h->version;
	snprintf(info->compression, sizeof(info->compression), "%s", vr->compressed ? "deflate" : "");
	/* Checked to be monolithicSparse or streamOptimized. */
	printable(info->subformat, sizeof(info->subformat), d->create_type, strlen(d->create_type));
	const char *names[] = { "markers", "compressed_grains", "zeroed_grains", "redundant_gd", "gd_at_end",
		                "unclean_shutdown" };
	bool on[] = { (h->flags & FLAG_MARKERS) != 0,     vr->compressed, vr->zero_gte,
	              (h->flags & FLAG_REDUNDANT_GD) != 0, footer,         h->unclean != 0 };
	size_t len = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!on[i])
			continue;
		int n = snprintf(info->features + len, sizeof(info->features) - len, "%s%s", len ? " " : "", names[i]);
		if (n > 0)
			len += (size_t)n;
	}
}

int vmdk_open(int fd, img_reader **ret, char *err, size_t errlen)
{
	uint64_t file_size = 0;
	int rc = img_file_size(fd, &file_size, err, errlen);
	if (rc < 0)
		return rc;
	uint8_t head[SECTOR] = { 0 };
	size_t head_len = file_size < SECTOR ? (size_t)file_size : SECTOR;
	rc = pread_full(fd, head, head_len, 0);
	if (rc < 0)
		return errmsg(err, errlen, rc, "reading the vmdk header: %s", io_error(rc));
	if (head_len < 4 || memcmp(head, "KDMV", 4) != 0)
		return refuse_not_sparse(fd, head, head_len, file_size, err, errlen);
	if (head_len < SECTOR)
		return errmsg(err, errlen, -EBADMSG, "vmdk truncated: %zu bytes, less than its 512-byte header", head_len);

	sparse_header h;
	parse_header(head, &h);
	bool footer = h.gd_offset == GD_AT_END;
	if (footer && (rc = read_footer(fd, file_size, &h, err, errlen)) < 0)
		return rc;
	if ((rc = check_header(&h, file_size, err, errlen)) < 0)
		return rc;
	bool compressed = h.compress == COMPRESS_DEFLATE;
	desc_info d;
	if ((rc = read_descriptor(fd, &h, file_size, &d, err, errlen)) < 0)
		return rc;
	if ((rc = check_descriptor(&d, &h, compressed, err, errlen)) < 0)
		return rc;

	vmdk_reader *vr = calloc(1, sizeof(*vr));
	if (!vr)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	img_reader_init(&vr->base, &vmdk_ops, "vmdk");
	pthread_mutex_init(&vr->lock, NULL);
	vr->fd = fd;
	vr->file_size = file_size;
	vr->grain_sectors = h.grain_sectors;
	vr->grain_bytes = h.grain_sectors * SECTOR;
	while ((1ull << vr->grain_shift) < vr->grain_bytes)
		vr->grain_shift++;
	vr->grains = (h.capacity + h.grain_sectors - 1) / h.grain_sectors;
	vr->min_grain_sector = h.overhead > 1 ? h.overhead : 1;
	vr->compressed = compressed;
	vr->zero_gte = (h.flags & FLAG_ZERO_GTE) != 0;
	vr->base.info.virtual_size = h.capacity * SECTOR;
	rc = load_gd(vr, h.gd_offset, err, errlen);
	if (rc == 0 && !(vr->cache = calloc(GT_CACHE_SLOTS, sizeof(*vr->cache))))
		rc = errmsg(err, errlen, -ENOMEM, "out of memory");
	if (rc < 0) {
		vmdk_free(vr);
		return rc;
	}
	fill_info(vr, &h, footer, &d);
	*ret = &vr->base;
	return 0;
}
