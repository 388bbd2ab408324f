/* SPDX-License-Identifier: MIT */
/*
 * Opening a conversion source: detect stream compression and the image format
 * from magic bytes, and choose how to read it. A raw disk inside a stream is
 * decoded sequentially straight into the writer; a qcow2 or vmdk inside a
 * stream needs random access, so it is unpacked into an anonymous temp file
 * first (sparse, never visible).
 */
#include "convert/input.h"
#include "convert/zfs_source.h"
#include "store/atomic.h"
#include "util/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SNIFF_BYTES 4096u

/* qcow2 and vmdk tables may point many guest clusters at one stored cluster
 * (legal: snapshots and deduplication do it), so a 12 MiB file can describe
 * 64 TiB of data. Before anything is written the map is walked, metadata
 * only, and the data it describes is held to max_size; the walk stops at the
 * cap, so it costs at most max_size / cluster size steps. A raw file's data
 * is bytes it really holds and needs no such bound. */
imgfetch_status conv_input_count_data(imgfetch_ctx *ctx, conv_input *in, const char *what, uint64_t max_size)
{
	uint64_t off = 0, data = 0;
	for (uint64_t step = 0; off < in->virtual_size; step++) {
		if (step % 65536 == 0 && ifx_cancelled(ctx))
			return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "%s: cancelled", what);
		img_extent x;
		int r = img_map(in->reader, off, in->virtual_size - off, &x);
		if (r < 0 || x.length == 0 || x.length > in->virtual_size - off)
			return ifx_fail(ctx, IMGFETCH_E_FORMAT, "%s: %s", what,
			                img_reader_error(in->reader)[0] ? img_reader_error(in->reader)
			                                                : strerror(r < 0 ? -r : EIO));
		if (x.kind == IMG_EXTENT_DATA) {
			data += x.length;
			if (data > max_size)
				return ifx_fail(ctx, IMGFETCH_E_FORMAT,
				                "%s: its %s tables describe more than %llu bytes of data (--max-size; the "
				                "file has %llu bytes): refused before anything was written",
				                what, in->reader->info.format, (unsigned long long)max_size,
				                (unsigned long long)in->file_size);
		}
		off += x.length;
	}
	in->data_bytes = data;
	in->data_known = true;
	return IMGFETCH_OK;
}

/* A format imgfetch does not read is refused, not taken for a raw disk. */
static imgfetch_status foreign_found(imgfetch_ctx *ctx, conv_input *in, const img_foreign *f, const char *what,
                                      const conv_input_opts *o)
{
	in->foreign = f;
	if (o->report_foreign)
		return IMGFETCH_OK;
	return ifx_fail(ctx, IMGFETCH_E_FORMAT,
	                "%s is a %s image, a format imgfetch does not read; convert it with qemu-img first (qemu-img "
	                "convert -f %s -O qcow2 IN OUT), or pass --input-format raw if its bytes are a raw disk",
	                what, f->name, f->id);
}

static imgfetch_status open_reader(imgfetch_ctx *ctx, conv_input *in, int fd, const char *what,
                                   const conv_input_opts *o)
{
	unsigned char head[512], tail[512];
	ssize_t n = pread(fd, head, sizeof(head), 0);
	if (n < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot read %s: %s", what, strerror(errno));
	const char *fmt = NULL;
	char err[512] = "";
	int r;
	if (!o->input_raw) {
		/* Trailers (a fixed VHD's footer, DMG's koly block) need the end. */
		uint64_t size = 0;
		ssize_t t = -1;
		if (img_file_size(fd, &size, err, sizeof(err)) == 0 && size >= sizeof(tail))
			t = pread(fd, tail, sizeof(tail), (off_t)(size - sizeof(tail)));
		const img_foreign *f = img_probe_foreign(head, (size_t)n, t == (ssize_t)sizeof(tail) ? tail : NULL,
		                                         t == (ssize_t)sizeof(tail) ? sizeof(tail) : 0);
		if (f)
			return foreign_found(ctx, in, f, what, o);
		fmt = img_probe(head, (size_t)n);
		err[0] = '\0';
	}
	if (fmt && strcmp(fmt, "qcow2") == 0)
		r = qcow2_open(fd, &in->reader, err, sizeof(err));
	else if (fmt && strcmp(fmt, "vmdk") == 0)
		r = vmdk_open(fd, &in->reader, err, sizeof(err));
	else if (!o->input_raw && n >= 21 && memcmp(head, "# Disk DescriptorFile", 21) == 0)
		return ifx_fail(ctx, IMGFETCH_E_FORMAT,
		                "%s is a VMDK descriptor that references separate extent files; only single-file "
		                "(monolithicSparse, streamOptimized) VMDKs are supported",
		                what);
	else
		r = raw_open(fd, &in->reader, err, sizeof(err));
	if (r < 0) {
		bool format = r == -EBADMSG || r == -ENOTSUP || r == -EFBIG || r == -EINVAL || r == -EPROTO;
		return ifx_fail(ctx, format ? IMGFETCH_E_FORMAT : IMGFETCH_E_FAILED, "%s: %s image: %s", what,
		                fmt ? fmt : "raw", err[0] ? err : strerror(-r));
	}
	in->virtual_size = in->reader->info.virtual_size;
	in->size_known = true;
	return fmt ? conv_input_count_data(ctx, in, what, o->max_size) : IMGFETCH_OK;
}

typedef struct sniff {
	unsigned char buf[SNIFF_BYTES];
	size_t len;
} sniff;

static int sniff_out(void *u, const void *buf, size_t n)
{
	sniff *s = u;
	size_t take = SNIFF_BYTES - s->len < n ? SNIFF_BYTES - s->len : n;
	memcpy(s->buf + s->len, buf, take);
	s->len += take;
	/* Enough seen: stop the decoder early. */
	return s->len == SNIFF_BYTES ? -ECANCELED : 0;
}

/* Decodes just enough of the stream to see what is inside. */
static imgfetch_status sniff_stream(imgfetch_ctx *ctx, conv_input *in, const char *path, sniff *s)
{
	decoder *d = NULL;
	int r = decoder_new(in->container, 1, SNIFF_BYTES * 2, &d);
	if (r < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot start a %s decoder: %s", compress_name(in->container),
		                strerror(-r));
	unsigned char buf[16384];
	off_t off = 0;
	s->len = 0;
	while (s->len < SNIFF_BYTES) {
		ssize_t n = pread(in->fd, buf, sizeof(buf), off);
		if (n < 0) {
			decoder_free(d);
			return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot read %s: %s", path, strerror(errno));
		}
		if (n == 0)
			break;
		off += n;
		r = decoder_feed(d, buf, (size_t)n, sniff_out, s);
		if (decoder_unchecked(d))
			in->unchecked = true;
		if (r == -ECANCELED)
			break;
		if (r < 0) {
			imgfetch_status st = ifx_fail(ctx, IMGFETCH_E_FORMAT, "%s: %s stream: %s", path,
			                              compress_name(in->container), decoder_error(d));
			decoder_free(d);
			return st;
		}
	}
	decoder_free(d);
	conv_input_say_unchecked(ctx, in, path);
	return IMGFETCH_OK;
}

void conv_input_say_unchecked(imgfetch_ctx *ctx, conv_input *in, const char *what)
{
	if (!in->unchecked || in->unchecked_said)
		return;
	in->unchecked_said = true;
	ifx_log(ctx, IMGFETCH_LOG_WARNING,
	        "%s: the xz stream has no integrity check (made with xz --check=none); decoding it anyway: only a "
	        "digest of the compressed file (as get and fetch verify) vouches for its bytes",
	        what);
}

typedef struct unpack {
	int fd;
	uint64_t off;
} unpack;

static int unpack_out(void *u, const void *buf, size_t n)
{
	unpack *p = u;
	int r = pwrite_full(p->fd, buf, n, p->off);
	if (r == 0)
		p->off += n;
	return r;
}

static imgfetch_status unpack_to_temp(imgfetch_ctx *ctx, conv_input *in, const char *path, const conv_input_opts *o)
{
	int fd = scratch_file_open(o->tmp_dir);
	if (fd < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot create a temporary file in %s to unpack %s: %s", o->tmp_dir,
		                path, strerror(-fd));
	in->tmp_fd = fd;
	ifx_log(ctx, IMGFETCH_LOG_INFO, "unpacking %s stream of %s into a temporary file in %s",
	        compress_name(in->container), path, o->tmp_dir);
	unpack p = { .fd = in->tmp_fd };
	char err[512] = "";
	int r = decompress_fd_ex(in->fd, in->container, o->threads, o->max_size, unpack_out, &p, err, sizeof(err),
	                         &in->unchecked);
	conv_input_say_unchecked(ctx, in, path);
	if (r < 0) {
		bool format = r == -EBADMSG || r == -EFBIG || r == -EPIPE;
		return ifx_fail(ctx, format ? IMGFETCH_E_FORMAT : IMGFETCH_E_FAILED, "%s: %s", path,
		                err[0] ? err : strerror(-r));
	}
	conv_input_opts inner = *o;
	inner.report_foreign = false; /* the stream's contents were probed already */
	return open_reader(ctx, in, in->tmp_fd, path, &inner);
}

typedef struct sparse_out {
	int fd;
	uint64_t off;
} sparse_out;

static int sparse_write(void *u, const void *buf, size_t n)
{
	sparse_out *p = u;
	int r = buf ? pwrite_full(p->fd, buf, n, p->off) : 0;
	if (r == 0)
		p->off += n;
	return r;
}

/* A zvol stream: decoded on the fly, or, when the size must be known first,
 * into a sparse temp file read back as raw. */
static imgfetch_status open_zfs(imgfetch_ctx *ctx, conv_input *in, const char *path, const conv_input_opts *o)
{
	in->zfs = true;
	in->format = "zvol";
	if (!o->need_size) {
		in->stream = true;
		return IMGFETCH_OK;
	}
	int fd = scratch_file_open(o->tmp_dir);
	if (fd < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot create a temporary file in %s to unpack %s: %s", o->tmp_dir,
		                path, strerror(-fd));
	in->tmp_fd = fd;
	ifx_log(ctx, IMGFETCH_LOG_INFO, "unpacking the zfs send stream %s into a temporary file in %s", path, o->tmp_dir);
	sparse_out so = { .fd = in->tmp_fd };
	char err[512] = "";
	int r = zfs_source_decode(in->fd, in->container, o->threads, o->max_size, sparse_write, &so, &in->zfs_info, err,
	                          sizeof(err), &in->unchecked);
	conv_input_say_unchecked(ctx, in, path);
	if (r == 0 && ftruncate(in->tmp_fd, (off_t)so.off) < 0)
		r = -errno;
	if (r < 0) {
		bool format = r == -EBADMSG || r == -EFBIG || r == -EPIPE || r == -ENOTSUP;
		return ifx_fail(ctx, format ? IMGFETCH_E_FORMAT : IMGFETCH_E_FAILED, "%s: %s", path,
		                err[0] ? err : strerror(-r));
	}
	/* The volume's bytes are a guest disk: raw by definition. Probing them
	 * would let a disk that happens to start with a qcow2 or vmdk header be
	 * read as that image (and converted differently than to raw output). */
	r = raw_open(in->tmp_fd, &in->reader, err, sizeof(err));
	if (r < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "%s: the unpacked volume: %s", path, err[0] ? err : strerror(-r));
	in->virtual_size = in->reader->info.virtual_size;
	in->size_known = true;
	return IMGFETCH_OK;
}

imgfetch_status conv_input_open(imgfetch_ctx *ctx, const char *path, int fd, const conv_input_opts *o,
                                conv_input *ret)
{
	conv_input in = { .fd = -1, .tmp_fd = -1 };
	imgfetch_status st;
	struct stat sb;

	/* A descriptor handed over is the file that was verified: using it, and
	 * never the name again, is what makes the converted bytes the verified
	 * ones. Ours is a duplicate, so that closing it is always ours to do. */
	in.fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : open(path, O_RDONLY | O_CLOEXEC);
	if (in.fd < 0)
		return ifx_fail(ctx, errno == ENOENT ? IMGFETCH_E_NOT_FOUND : IMGFETCH_E_FAILED, "cannot open %s: %s",
		                path, strerror(errno));
	if (fstat(in.fd, &sb) < 0) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot stat %s: %s", path, strerror(errno));
		goto fail;
	}
	in.dev = sb.st_dev;
	in.ino = sb.st_ino;
	in.file_size = (uint64_t)sb.st_size;

	unsigned char head[16];
	ssize_t n = pread(in.fd, head, sizeof(head), 0);
	if (n < 0) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot read %s: %s", path, strerror(errno));
		goto fail;
	}
	in.container = compress_detect(head, (size_t)n);
	if (in.container == COMPRESS_NONE) {
		st = !o->input_raw && zfs_stream_probe(head, (size_t)n) ? open_zfs(ctx, &in, path, o)
		                                                        : open_reader(ctx, &in, in.fd, path, o);
		if (st < 0)
			goto fail;
		*ret = in;
		return IMGFETCH_OK;
	}

	sniff s;
	st = sniff_stream(ctx, &in, path, &s);
	if (st < 0)
		goto fail;
	if (!o->input_raw && zfs_stream_probe(s.buf, s.len)) {
		st = open_zfs(ctx, &in, path, o);
		if (st < 0)
			goto fail;
		*ret = in;
		return IMGFETCH_OK;
	}
	/* In a stream there is no end to look at; the head says enough. */
	const img_foreign *f = o->input_raw ? NULL : img_probe_foreign(s.buf, s.len, NULL, 0);
	if (f) {
		st = foreign_found(ctx, &in, f, path, o);
		if (st < 0)
			goto fail;
		*ret = in; /* report_foreign */
		return IMGFETCH_OK;
	}
	const char *inner = o->input_raw ? NULL : img_probe(s.buf, s.len);
	if (!inner && !o->input_raw && s.len >= 21 && memcmp(s.buf, "# Disk DescriptorFile", 21) == 0) {
		st = ifx_fail(ctx, IMGFETCH_E_FORMAT, "%s holds a VMDK descriptor that references separate extent files",
		              path);
		goto fail;
	}
	if (!inner) {
		/* A raw disk in a stream: decode it straight into the writer. */
		in.stream = true;
		char err[256] = "";
		uint64_t size;
		if (compress_probe_size(in.fd, in.container, &size, err, sizeof(err)) == 0) {
			if (size > o->max_size) {
				st = ifx_fail(ctx, IMGFETCH_E_FORMAT,
				              "%s decompresses to %llu bytes, more than the %llu byte limit (--max-size)", path,
				              (unsigned long long)size, (unsigned long long)o->max_size);
				goto fail;
			}
			in.virtual_size = size;
			in.size_known = true;
		}
		if (!in.size_known && o->need_size) {
			/* The writer must know the size up front: unpack, then read it as raw. */
			in.stream = false;
			st = unpack_to_temp(ctx, &in, path, o);
			if (st < 0)
				goto fail;
		}
		*ret = in;
		return IMGFETCH_OK;
	}
	if (!o->allow_unpack) {
		st = ifx_fail(ctx, IMGFETCH_E_INVALID, "%s is a %s image inside a %s stream", path, inner,
		              compress_name(in.container));
		goto fail;
	}
	st = unpack_to_temp(ctx, &in, path, o);
	if (st < 0)
		goto fail;
	*ret = in;
	return IMGFETCH_OK;
fail:
	conv_input_close(&in);
	return st;
}

void conv_input_close(conv_input *in)
{
	img_close(in->reader);
	if (in->tmp_fd >= 0)
		close(in->tmp_fd);
	if (in->fd >= 0)
		close(in->fd);
	*in = (conv_input){ .fd = -1, .tmp_fd = -1 };
}
