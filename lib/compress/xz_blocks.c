/* SPDX-License-Identifier: MIT */
#include "compress/xz_blocks.h"
#include "compress/xz_index.h"
#include "util/fileio.h"
#include "util/strutil.h"

#include <errno.h>
#include <lzma.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Compressed input is read in pieces of this size per thread. */
#define XZ_IN_CHUNK ((size_t)256 << 10)
/* More blocks than this and the table itself becomes the memory problem;
 * such a file is decoded sequentially. */
#define XZ_MAX_BLOCKS ((size_t)1 << 20)

typedef struct xz_block_info {
	uint64_t file_off; /* the block header */
	uint64_t unpadded; /* header + compressed data + check, from the index */
	uint64_t total;    /* ... plus block padding */
	uint64_t out_off;
	uint64_t out_len;
	lzma_check check;
} xz_block_info;

struct xz_blocks {
	int fd;
	uint64_t size;
	uint64_t memusage;
	bool unchecked;
	size_t n;
	xz_block_info *blk;
};

struct xz_block_reader {
	const xz_blocks *b;
	lzma_stream s;
	lzma_block block; /* liblzma keeps a pointer to it while decoding */
	lzma_filter filters[LZMA_FILTERS_MAX + 1];
	bool have_filters;
	size_t cur;
	uint64_t next_in; /* file offset of the next compressed byte to read */
	uint64_t in_left; /* compressed bytes of the block not read yet */
	uint8_t *in;
};

static void free_filters(lzma_filter *filters)
{
	for (size_t i = 0; i < LZMA_FILTERS_MAX && filters[i].id != LZMA_VLI_UNKNOWN; i++) {
		free(filters[i].options);
		filters[i].options = NULL;
	}
	filters[0].id = LZMA_VLI_UNKNOWN;
}

/* Reads and decodes block i's header into block/filters (which the caller
 * frees with free_filters) and checks it against the index. */
static int read_header(const xz_blocks *b, size_t i, lzma_block *block, lzma_filter *filters, char *err,
                       size_t errlen)
{
	const xz_block_info *x = &b->blk[i];
	uint8_t hdr[LZMA_BLOCK_HEADER_SIZE_MAX];
	filters[0].id = LZMA_VLI_UNKNOWN;
	int r = pread_full(b->fd, hdr, 1, x->file_off);
	if (r < 0)
		return errmsg(err, errlen, r, "xz: cannot read block %zu at byte %llu: %s", i + 1,
		            (unsigned long long)x->file_off, strerror(-r));
	if (hdr[0] == 0x00)
		return errmsg(err, errlen, -EBADMSG, "xz: no block header at byte %llu where the index puts block %zu",
		            (unsigned long long)x->file_off, i + 1);
	*block = (lzma_block){ .version = 1, .check = x->check, .filters = filters };
	block->header_size = lzma_block_header_size_decode(hdr[0]);
	if (block->header_size > x->unpadded)
		return errmsg(err, errlen, -EBADMSG, "xz: block %zu is smaller than its header", i + 1);
	if ((r = pread_full(b->fd, hdr + 1, block->header_size - 1, x->file_off + 1)) < 0)
		return errmsg(err, errlen, r, "xz: cannot read block %zu's header: %s", i + 1, strerror(-r));
	lzma_ret ret = lzma_block_header_decode(block, NULL, hdr);
	if (ret != LZMA_OK) {
		filters[0].id = LZMA_VLI_UNKNOWN; /* nothing allocated on failure */
		return errmsg(err, errlen, ret == LZMA_OPTIONS_ERROR ? -ENOTSUP : -EBADMSG,
		            "xz: block %zu at byte %llu has %s header", i + 1, (unsigned long long)x->file_off,
		            ret == LZMA_OPTIONS_ERROR ? "an unsupported" : "a corrupt");
	}
	if (lzma_block_compressed_size(block, x->unpadded) != LZMA_OK ||
	    (block->uncompressed_size != LZMA_VLI_UNKNOWN && block->uncompressed_size != x->out_len)) {
		free_filters(filters);
		return errmsg(err, errlen, -EBADMSG, "xz: block %zu's header disagrees with the index about its size", i + 1);
	}
	block->uncompressed_size = x->out_len;
	return 0;
}

int xz_blocks_open(int fd, xz_blocks **ret, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return errmsg(err, errlen, -errno, "cannot stat the file: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return errmsg(err, errlen, -ENOTSUP, "not a regular file");
	lzma_index *idx = NULL;
	int r = xz_read_index(fd, (uint64_t)st.st_size, &idx, err, errlen);
	if (r < 0)
		return r;
	bool unchecked = false;
	if ((r = xz_index_checks(idx, &unchecked, err, errlen)) < 0) {
		lzma_index_end(idx, NULL);
		return r;
	}
	lzma_vli count = lzma_index_block_count(idx);
	if (count > XZ_MAX_BLOCKS) {
		lzma_index_end(idx, NULL);
		return errmsg(err, errlen, -ENOTSUP, "xz: more than %zu blocks", XZ_MAX_BLOCKS);
	}
	xz_blocks *b = calloc(1, sizeof(*b));
	if (!b || !(b->blk = calloc(count ? (size_t)count : 1, sizeof(*b->blk)))) {
		free(b);
		lzma_index_end(idx, NULL);
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	}
	b->fd = fd;
	b->unchecked = unchecked;
	b->size = lzma_index_uncompressed_size(idx);
	lzma_index_iter it;
	lzma_index_iter_init(&it, idx);
	while (!lzma_index_iter_next(&it, LZMA_INDEX_ITER_NONEMPTY_BLOCK)) {
		xz_block_info *x = &b->blk[b->n++];
		x->file_off = it.block.compressed_file_offset;
		x->unpadded = it.block.unpadded_size;
		x->total = it.block.total_size;
		x->out_off = it.block.uncompressed_file_offset;
		x->out_len = it.block.uncompressed_size;
		x->check = it.stream.flags ? it.stream.flags->check : LZMA_CHECK_ID_MAX + 1;
	}
	lzma_index_end(idx, NULL);

	for (size_t i = 0; i < b->n; i++) {
		lzma_block block;
		lzma_filter filters[LZMA_FILTERS_MAX + 1];
		if ((r = read_header(b, i, &block, filters, err, errlen)) < 0) {
			xz_blocks_free(b);
			return r;
		}
		uint64_t mem = lzma_raw_decoder_memusage(filters);
		free_filters(filters);
		if (mem == UINT64_MAX) {
			xz_blocks_free(b);
			return errmsg(err, errlen, -ENOTSUP, "xz: block %zu uses unsupported filters", i + 1);
		}
		if (mem > b->memusage)
			b->memusage = mem;
	}
	*ret = b;
	return 0;
}

void xz_blocks_free(xz_blocks *b)
{
	if (!b)
		return;
	free(b->blk);
	free(b);
}

size_t xz_blocks_count(const xz_blocks *b)
{
	return b->n;
}

uint64_t xz_blocks_size(const xz_blocks *b)
{
	return b->size;
}

void xz_blocks_extent(const xz_blocks *b, size_t i, uint64_t *ret_offset, uint64_t *ret_length)
{
	*ret_offset = b->blk[i].out_off;
	*ret_length = b->blk[i].out_len;
}

uint64_t xz_blocks_memusage(const xz_blocks *b)
{
	return b->memusage;
}

bool xz_blocks_unchecked(const xz_blocks *b)
{
	return b->unchecked;
}

int xz_block_reader_new(const xz_blocks *b, xz_block_reader **ret)
{
	xz_block_reader *r = calloc(1, sizeof(*r));
	if (!r || !(r->in = malloc(XZ_IN_CHUNK))) {
		free(r);
		return -ENOMEM;
	}
	r->b = b;
	r->s = (lzma_stream)LZMA_STREAM_INIT;
	r->filters[0].id = LZMA_VLI_UNKNOWN;
	*ret = r;
	return 0;
}

void xz_block_reader_free(xz_block_reader *r)
{
	if (!r)
		return;
	lzma_end(&r->s);
	free_filters(r->filters);
	free(r->in);
	free(r);
}

int xz_block_begin(xz_block_reader *r, size_t i, char *err, size_t errlen)
{
	free_filters(r->filters);
	int rc = read_header(r->b, i, &r->block, r->filters, err, errlen);
	if (rc < 0)
		return rc;
	/* Re-initialising the same lzma_stream reuses its dictionary. */
	lzma_ret ret = lzma_block_decoder(&r->s, &r->block);
	/* liblzma would decode the block without its check (xz_blocks_open
	 * refuses such files already; this is for a caller that did not ask). */
	if (ret == LZMA_UNSUPPORTED_CHECK)
		return errmsg(err, errlen, -EBADMSG,
		              "xz stream uses integrity check type %u, which this build of liblzma cannot verify; "
		              "refusing to decode unchecked data",
		              (unsigned)r->block.check);
	if (ret != LZMA_OK)
		return errmsg(err, errlen, ret == LZMA_MEM_ERROR ? -ENOMEM : -ENOTSUP,
		            "xz: cannot start decoding block %zu (liblzma error %d)", i + 1, (int)ret);
	const xz_block_info *x = &r->b->blk[i];
	r->cur = i;
	r->next_in = x->file_off + r->block.header_size;
	r->in_left = x->total - r->block.header_size;
	r->s.avail_in = 0;
	return 0;
}

int xz_block_read(xz_block_reader *r, uint8_t *buf, size_t cap, size_t *got, char *err, size_t errlen)
{
	const xz_block_info *x = &r->b->blk[r->cur];
	r->s.next_out = buf;
	r->s.avail_out = cap;
	int rc = 0;
	while (r->s.avail_out > 0) {
		if (r->s.avail_in == 0 && r->in_left > 0) {
			size_t n = r->in_left < XZ_IN_CHUNK ? (size_t)r->in_left : XZ_IN_CHUNK;
			int e = pread_full(r->b->fd, r->in, n, r->next_in);
			if (e < 0) {
				rc = errmsg(err, errlen, e, "xz: cannot read block %zu at byte %llu: %s", r->cur + 1,
				          (unsigned long long)r->next_in, strerror(-e));
				break;
			}
			r->s.next_in = r->in;
			r->s.avail_in = n;
			r->next_in += n;
			r->in_left -= n;
		}
		lzma_ret ret = lzma_code(&r->s, LZMA_RUN);
		if (ret == LZMA_STREAM_END) {
			/* Block padding and check are part of the block: nothing may
			 * be left over, and the output must be what the index says. */
			if (r->s.avail_in != 0 || r->in_left != 0 || r->s.total_out != x->out_len)
				rc = errmsg(err, errlen, -EBADMSG, "xz: block %zu at byte %llu does not match the index", r->cur + 1,
				          (unsigned long long)x->file_off);
			else
				rc = 1;
			break;
		}
		if (ret != LZMA_OK) {
			rc = errmsg(err, errlen, ret == LZMA_MEM_ERROR ? -ENOMEM : -EBADMSG,
			          "xz: block %zu at byte %llu is corrupt%s", r->cur + 1, (unsigned long long)x->file_off,
			          ret == LZMA_BUF_ERROR ? " (it ends early)" : "");
			break;
		}
	}
	*got = cap - r->s.avail_out;
	return rc;
}
