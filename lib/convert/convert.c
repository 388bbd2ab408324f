/* SPDX-License-Identifier: MIT */
/* imgfetch_convert() and imgfetch_image_info_read(): sources, writers and the
 * engine put together, with the output installed atomically. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compress/xz_blocks.h"
#include "convert/convert.h"
#include "convert/zfs_source.h"
#include "store/atomic.h"
#include "util/cleanup.h"

static char *dup_or_null(const char *s)
{
	return s && s[0] ? strdup(s) : NULL;
}

static imgfetch_image_info *info_from(const conv_input *in)
{
	imgfetch_image_info *i = calloc(1, sizeof(*i));
	if (!i)
		return NULL;
	const img_info *ri = in->reader ? &in->reader->info : NULL;
	i->format = strdup(in->foreign ? in->foreign->id : in->format ? in->format : ri ? ri->format : "raw");
	i->supported = !in->foreign;
	i->container = in->container != COMPRESS_NONE ? strdup(compress_name(in->container)) : NULL;
	i->virtual_size = in->virtual_size;
	i->file_size = in->file_size;
	if (in->zfs) {
		i->cluster_size = in->zfs_info.volblocksize;
		i->subformat = in->zfs_info.order ? strdup(in->zfs_info.order) : NULL;
	} else if (ri) {
		i->cluster_size = ri->cluster_size;
		i->version = ri->version;
		i->compression = dup_or_null(ri->compression);
		i->subformat = dup_or_null(ri->subformat);
		i->features = dup_or_null(ri->features);
	}
	if (!i->format) {
		imgfetch_image_info_free(i);
		return NULL;
	}
	return i;
}

void imgfetch_image_info_free(imgfetch_image_info *i)
{
	if (!i)
		return;
	free(i->format);
	free(i->container);
	free(i->compression);
	free(i->subformat);
	free(i->features);
	free(i);
}

char *imgfetch_image_info_to_json(const imgfetch_image_info *i)
{
	json_t *j = json_object();
	if (!j)
		return NULL;
	int bad = 0;
	bad |= json_object_set_new(j, "format", json_string(i->format));
	bad |= json_object_set_new(j, "supported", json_boolean(i->supported));
	bad |= json_object_set_new(j, "container", i->container ? json_string(i->container) : json_null());
	bad |= json_object_set_new(j, "virtual_size", json_integer((json_int_t)i->virtual_size));
	bad |= json_object_set_new(j, "file_size", json_integer((json_int_t)i->file_size));
	if (i->allocated_known)
		bad |= json_object_set_new(j, "allocated_bytes", json_integer((json_int_t)i->allocated_bytes));
	bad |= json_object_set_new(j, "cluster_size", json_integer(i->cluster_size));
	bad |= json_object_set_new(j, "version", json_integer(i->version));
	bad |= json_object_set_new(j, "compression", i->compression ? json_string(i->compression) : json_null());
	bad |= json_object_set_new(j, "subformat", i->subformat ? json_string(i->subformat) : json_null());
	bad |= json_object_set_new(j, "features", i->features ? json_string(i->features) : json_null());
	char *out = bad ? NULL : json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	return out;
}

/* Where to unpack a compressed qcow2/vmdk: beside the output (same file
 * system, known to be writable), else /var/tmp. */
static char *tmp_dir_for(const char *output, const char *given)
{
	if (given)
		return strdup(given);
	if (!output || strcmp(output, "-") == 0)
		return strdup("/var/tmp");
	_cleanup_free_ char *copy = strdup(output);
	return copy ? strdup(dirname(copy)) : NULL;
}

static unsigned online_cpus(unsigned threads)
{
	if (threads)
		return threads;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

typedef struct counter {
	uint64_t total;
	imgfetch_ctx *ctx;
} counter;

/* Counts a decoded stream's bytes; stops when the caller cancels. */
static int count_out(void *u, const void *buf, size_t n)
{
	(void)buf;
	counter *c = u;
	c->total += n;
	return ifx_cancelled(c->ctx) ? -ECANCELED : 0;
}

static imgfetch_status stream_error(imgfetch_ctx *ctx, const char *path, int r, const char *err)
{
	if (r == -ECANCELED)
		return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "%s: cancelled", path);
	bool format = r == -EBADMSG || r == -EFBIG || r == -EPIPE;
	return ifx_fail(ctx, format ? IMGFETCH_E_FORMAT : IMGFETCH_E_FAILED, "%s: %s", path,
	                err && err[0] ? err : strerror(-r));
}

imgfetch_status imgfetch_image_info_read(imgfetch_ctx *ctx, const char *path, uint64_t max_size,
                                         imgfetch_image_info **ret)
{
	_cleanup_free_ char *tmp = tmp_dir_for(NULL, NULL);
	conv_input_opts io = {
		.max_size = max_size ? max_size : IMGFETCH_DEFAULT_MAX_SIZE,
		.tmp_dir = tmp,
		.allow_unpack = true,
		.report_foreign = true,
	};
	conv_input in;
	ctx->error[0] = '\0';
	char why[600];
	if (path && user_path_check(path, why, sizeof(why)) < 0)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "%s", why);
	imgfetch_status st = conv_input_open(ctx, path, -1, &io, &in);
	if (st < 0)
		return st;
	if (in.foreign) {
		imgfetch_image_info *info = info_from(&in);
		conv_input_close(&in);
		if (!info)
			return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		*ret = info;
		return IMGFETCH_OK;
	}
	if (in.zfs && in.stream) {
		/* The volume size is in the stream's last records: decode it all. */
		char err[512] = "";
		counter total = { .ctx = ctx };
		int r = zfs_source_decode(in.fd, in.container, 0, io.max_size, count_out, &total, &in.zfs_info, err,
		                          sizeof(err), &in.unchecked);
		conv_input_say_unchecked(ctx, &in, path);
		if (r < 0) {
			st = stream_error(ctx, path, r == -ENOTSUP ? -EBADMSG : r, err);
			conv_input_close(&in);
			return st;
		}
		in.virtual_size = total.total;
		in.size_known = true;
	} else if (in.stream && !in.size_known) {
		/* gzip and bzip2 do not record the size: count it. */
		char err[512] = "";
		counter total = { .ctx = ctx };
		int r = decompress_fd_ex(in.fd, in.container, 0, io.max_size, count_out, &total, err, sizeof(err),
		                         &in.unchecked);
		conv_input_say_unchecked(ctx, &in, path);
		if (r < 0) {
			st = stream_error(ctx, path, r, err);
			conv_input_close(&in);
			return st;
		}
		in.virtual_size = total.total;
		in.size_known = true;
	}
	imgfetch_image_info *info = info_from(&in);
	if (!info) {
		conv_input_close(&in);
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	}
	if (in.zfs) {
		info->allocated_known = true;
		info->allocated_bytes = in.zfs_info.data_bytes;
	} else if (in.reader) {
		/* qcow2 and vmdk were counted on open; raw is counted here, from
		 * SEEK_DATA/SEEK_HOLE, and holds the bytes it counts. */
		if (!in.data_known && (st = conv_input_count_data(ctx, &in, path, UINT64_MAX)) < 0) {
			imgfetch_image_info_free(info);
			conv_input_close(&in);
			return st;
		}
		info->allocated_known = true;
		info->allocated_bytes = in.data_bytes;
	}
	conv_input_close(&in);
	*ret = info;
	return IMGFETCH_OK;
}

void imgfetch_convert_result_free(imgfetch_convert_result *r)
{
	if (!r)
		return;
	imgfetch_image_info_free(r->input);
	free(r->manifest_path);
	free(r->uuid);
	free(r);
}

static imgfetch_status validate(imgfetch_ctx *ctx, const imgfetch_convert_opts *o, qcow2_compression *comp)
{
	if (!o || !o->input || !o->output)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "convert needs an input and an output");
	if (o->format != IMGFETCH_FORMAT_RAW && o->format != IMGFETCH_FORMAT_QCOW2 && o->format != IMGFETCH_FORMAT_ZVOL)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "unknown output format");
	if (o->zvol && o->format != IMGFETCH_FORMAT_ZVOL)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "zvol options apply to zvol output only");
	if (o->input_format && strcmp(o->input_format, "raw") != 0 && strcmp(o->input_format, "auto") != 0)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "unknown input format '%s': use auto or raw", o->input_format);
	if (o->has_input_fd && o->input_fd < 0)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "convert: has_input_fd without a descriptor");
	*comp = QCOW2_COMPRESS_NONE;
	if (o->compress && strcmp(o->compress, "none") != 0) {
		if (o->format != IMGFETCH_FORMAT_QCOW2)
			return ifx_fail(ctx, IMGFETCH_E_INVALID, "--compress applies to qcow2 output only");
		if (strcmp(o->compress, "zlib") == 0)
			*comp = QCOW2_COMPRESS_ZLIB;
		else if (strcmp(o->compress, "zstd") == 0)
			*comp = QCOW2_COMPRESS_ZSTD;
		else
			return ifx_fail(ctx, IMGFETCH_E_INVALID, "unknown compression '%s': use zlib or zstd",
			                o->compress);
	}
	uint32_t cs = o->cluster_size;
	if (cs && (o->format != IMGFETCH_FORMAT_QCOW2 || cs < 512 || cs > (2u << 20) || (cs & (cs - 1))))
		return ifx_fail(ctx, IMGFETCH_E_INVALID,
		                "cluster size must be a power of two from 512 B to 2 MiB, for qcow2 output");
	if (o->format == IMGFETCH_FORMAT_ZVOL && o->zvol && o->zvol->reproducible && o->zvol->builder == IMGFETCH_ZVOL_ZFS)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "--reproducible needs the native builder (ZFS picks its own guids)");
	if (strcmp(o->output, "-") == 0 && o->format != IMGFETCH_FORMAT_RAW)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "only raw output can go to stdout");
	return IMGFETCH_OK;
}

/* The destination: stdout, a block device written in place, or an atomic file. */
typedef struct output {
	int fd;
	bool pipe;
	bool close_fd;  /* a device or FIFO we opened (not stdout) */
	atomic_file af;
} output;

static imgfetch_status open_output(imgfetch_ctx *ctx, const char *path, imgfetch_image_format format,
                                   const conv_input *in, output *out)
{
	struct stat st, lst;
	*out = (output){ .fd = -1, .af = ATOMIC_FILE_INIT };
	if (strcmp(path, "-") == 0) {
		out->fd = STDOUT_FILENO;
		out->pipe = true;
		return IMGFETCH_OK;
	}
	/* The user named this path (imgfetch_convert checked it with
	 * user_path_check): a link to a block device is that device
	 * (/dev/zvol/..., /dev/disk/by-id/... are links). */
	bool link = lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode);
	if (stat(path, &st) == 0) {
		if (st.st_dev == in->dev && st.st_ino == in->ino)
			return ifx_fail(ctx, IMGFETCH_E_INVALID, "refusing to overwrite the input %s with its own conversion",
			                path);
		if (S_ISBLK(st.st_mode)) {
			/* O_RDWR never waits, even on a FIFO swapped in meanwhile; the
			 * descriptor must be the device that was looked at. */
			out->fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
			if (out->fd < 0)
				return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot open %s: %s", path, strerror(errno));
			struct stat fst;
			if (fstat(out->fd, &fst) < 0 || !S_ISBLK(fst.st_mode) || fst.st_rdev != st.st_rdev) {
				close(out->fd);
				out->fd = -1;
				return ifx_fail(ctx, IMGFETCH_E_INVALID, "%s changed while it was opened; not writing to it",
				                path);
			}
			return IMGFETCH_OK;
		}
		if (S_ISDIR(st.st_mode))
			return ifx_fail(ctx, IMGFETCH_E_INVALID, "%s is a directory; give the output file's name", path);
		if (!S_ISREG(st.st_mode)) {
			/* A character device or FIFO is written to as a stream; it must
			 * never be replaced by a file. */
			if (format != IMGFETCH_FORMAT_RAW)
				return ifx_fail(ctx, IMGFETCH_E_INVALID, "%s is not a regular file: only raw output can go there",
				                path);
			/* Named itself (user_path_check refused links to it): a link
			 * that appears here now is not followed. */
			out->fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | (link ? 0 : O_NOFOLLOW));
			if (out->fd < 0)
				return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot open %s: %s", path, strerror(errno));
			out->pipe = true;
			out->close_fd = true;
			return IMGFETCH_OK;
		}
	}
	int r = atomic_file_open(path, 0644, &out->af);
	if (r < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot create a temporary file for %s: %s", path, strerror(-r));
	out->fd = out->af.fd;
	return IMGFETCH_OK;
}

/* Memory for the decoders of a block-parallel xz decode (dictionaries plus
 * a unit and an input buffer per thread): the peak RSS goal is 64 MiB. */
#define XZ_PARALLEL_BUDGET ((uint64_t)40 << 20)
#define XZ_THREAD_OVERHEAD ((uint64_t)ENGINE_UNIT + (256u << 10))

static void seg_extent(void *src, size_t i, uint64_t *off, uint64_t *len)
{
	xz_blocks_extent(src, i, off, len);
}
static int seg_reader_new(void *src, void **ret)
{
	return xz_block_reader_new(src, (xz_block_reader **)ret);
}
static void seg_reader_free(void *r)
{
	xz_block_reader_free(r);
}
static int seg_begin(void *r, size_t i, char *err, size_t errlen)
{
	return xz_block_begin(r, i, err, errlen);
}
static int seg_read(void *r, unsigned char *buf, size_t cap, size_t *got, char *err, size_t errlen)
{
	return xz_block_read(r, buf, cap, got, err, errlen);
}

/* A raw disk in a multi-block xz file, going to a file or device: each
 * thread decodes whole blocks straight to their offsets. Returns 1 when the
 * file is not suited (one block, no usable index, ...): the caller then
 * decodes it sequentially, which also gives the best messages for damage. */
static int try_xz_blocks(imgfetch_ctx *ctx, conv_input *in, img_writer *w, unsigned threads, const char *label,
                         engine_stats *stats, imgfetch_status *ret)
{
	if (in->container != COMPRESS_XZ || !w->unordered || threads < 2 || !in->size_known)
		return 1;
	xz_blocks *b = NULL;
	char err[256];
	if (xz_blocks_open(in->fd, &b, err, sizeof(err)) < 0)
		return 1;
	uint64_t per_thread = xz_blocks_memusage(b) + XZ_THREAD_OVERHEAD;
	uint64_t fit = XZ_PARALLEL_BUDGET / per_thread;
	if (xz_blocks_count(b) < 2 || xz_blocks_size(b) != in->virtual_size || fit < 2) {
		xz_blocks_free(b);
		return 1;
	}
	if (threads > fit)
		threads = (unsigned)fit;
	if (xz_blocks_unchecked(b)) {
		in->unchecked = true;
		conv_input_say_unchecked(ctx, in, label);
	}
	ifx_log(ctx, IMGFETCH_LOG_DEBUG, "%s: decoding %zu xz blocks on %u threads", label, xz_blocks_count(b), threads);
	engine_segments seg = {
		.src = b,
		.count = xz_blocks_count(b),
		.size = xz_blocks_size(b),
		.extent = seg_extent,
		.reader_new = seg_reader_new,
		.reader_free = seg_reader_free,
		.begin = seg_begin,
		.read = seg_read,
	};
	*ret = engine_run_segments(ctx, &seg, w, threads, label, stats);
	xz_blocks_free(b);
	return 0;
}

/* The decoder of a sequential source: pushes the disk into the engine. */
typedef int (*stream_decode_fn)(conv_input *in, unsigned threads, uint64_t max, engine *e, char *err, size_t errlen);

static int decode_compressed(conv_input *in, unsigned threads, uint64_t max, engine *e, char *err, size_t errlen)
{
	return decompress_fd_ex(in->fd, in->container, threads, max, engine_stream_push, e, err, errlen, &in->unchecked);
}

static int decode_zfs(conv_input *in, unsigned threads, uint64_t max, engine *e, char *err, size_t errlen)
{
	int r = zfs_source_decode(in->fd, in->container, threads, max, engine_stream_push, e, &in->zfs_info, err,
	                          errlen, &in->unchecked);
	return r == -ENOTSUP ? -EBADMSG : r; /* an unsupported stream is a bad image here */
}

/* A raw disk decoded sequentially (from a compressed or a zfs send stream)
 * straight into the writer. */
static imgfetch_status run_stream(imgfetch_ctx *ctx, const imgfetch_convert_opts *o, conv_input *in, img_writer *w,
                                  unsigned threads, const char *label, engine_stats *stats, stream_decode_fn decode)
{
	engine *e;
	imgfetch_status st = engine_stream_start(ctx, w, threads, label, in->size_known ? in->virtual_size : 0, &e);
	if (st < 0)
		return st;
	char err[512] = "";
	uint64_t max = o->max_size ? o->max_size : IMGFETCH_DEFAULT_MAX_SIZE;
	int r = decode(in, threads, max, e, err, sizeof(err));
	conv_input_say_unchecked(ctx, in, o->input);
	if (r < 0) {
		/* A failure of the engine itself (the writer: a full disk, a closed
		 * pipe) stopped the decoder: its status and message are the truth. */
		imgfetch_status est = engine_stream_finish(e, false, NULL);
		if (ifx_cancelled(ctx))
			return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "%s: cancelled", o->input);
		if (est != IMGFETCH_E_CANCELLED)
			return est;
		return stream_error(ctx, o->input, r, err);
	}
	st = engine_stream_finish(e, true, stats);
	if (st == IMGFETCH_OK && !in->size_known)
		w->virtual_size = stats->total;
	return st;
}

imgfetch_status convert_run(imgfetch_ctx *ctx, const imgfetch_convert_opts *o, conv_input *in, img_writer *w,
                            unsigned threads, const char *label, engine_stats *stats)
{
	if (!in->stream)
		return engine_run_reader(ctx, in->reader, w, threads, label, stats);
	if (in->zfs)
		return run_stream(ctx, o, in, w, threads, label, stats, decode_zfs);
	imgfetch_status xst;
	if (try_xz_blocks(ctx, in, w, threads, label, stats, &xst) == 0)
		return xst;
	return run_stream(ctx, o, in, w, threads, label, stats, decode_compressed);
}

static imgfetch_status zvol_result(imgfetch_ctx *ctx, const imgfetch_convert_opts *o, conv_input *in,
                                   unsigned threads, const char *label, engine_stats *stats,
                                   imgfetch_convert_result **ret)
{
	imgfetch_convert_result *res = calloc(1, sizeof(*res));
	if (!res)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	imgfetch_status st = convert_zvol(ctx, o, in, threads, label, stats, res);
	/* After the conversion: a zfs stream's volblocksize and sender order
	 * are known only once it was decoded. */
	if (st == IMGFETCH_OK && !(res->input = info_from(in)))
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	if (st < 0) {
		imgfetch_convert_result_free(res);
		return st;
	}
	res->data_bytes = stats->data_bytes;
	if (in->stream)
		res->input->virtual_size = stats->total;
	*ret = res;
	return IMGFETCH_OK;
}

imgfetch_status imgfetch_convert(imgfetch_ctx *ctx, const imgfetch_convert_opts *o, imgfetch_convert_result **ret)
{
	qcow2_compression comp = QCOW2_COMPRESS_NONE;
	ctx->error[0] = '\0';
	if (ifx_cancelled(ctx))
		return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled before the conversion started");
	imgfetch_status st = validate(ctx, o, &comp);
	if (st < 0)
		return st;

	/* Paths the user named: a link to a FIFO or character device is
	 * refused (naming the node itself is fine), before anything is read. */
	char why[600];
	if ((!o->has_input_fd && user_path_check(o->input, why, sizeof(why)) < 0) ||
	    (strcmp(o->output, "-") != 0 && user_path_check(o->output, why, sizeof(why)) < 0))
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "%s", why);

	unsigned threads = online_cpus(o->threads);
	_cleanup_free_ char *tmp = tmp_dir_for(o->output, o->tmp_dir);
	_cleanup_free_ char *copy = strdup(o->input);
	if (!tmp || !copy)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	const char *label = basename(copy);
	conv_input_opts io = {
		.max_size = o->max_size ? o->max_size : IMGFETCH_DEFAULT_MAX_SIZE,
		.tmp_dir = tmp,
		.threads = threads,
		.allow_unpack = true,
		/* qcow2 and real ZFS need the size before the first byte; the
		 * native zvol writer learns it at the end. */
		.need_size = o->format == IMGFETCH_FORMAT_QCOW2 ||
		             (o->format == IMGFETCH_FORMAT_ZVOL && o->zvol && o->zvol->builder == IMGFETCH_ZVOL_ZFS),
		.input_raw = o->input_format && strcmp(o->input_format, "raw") == 0,
	};
	conv_input in;
	st = conv_input_open(ctx, o->input, o->has_input_fd ? o->input_fd : -1, &io, &in);
	if (st < 0)
		return st;

	output out = { .fd = -1, .af = ATOMIC_FILE_INIT };
	img_writer *w = NULL;
	engine_stats stats = { 0 };
	if (o->format == IMGFETCH_FORMAT_ZVOL) {
		st = zvol_result(ctx, o, &in, threads, label, &stats, ret);
		goto done;
	}
	st = open_output(ctx, o->output, o->format, &in, &out);
	if (st < 0)
		goto done;
	int r = o->format == IMGFETCH_FORMAT_RAW
	                ? raw_writer_new(out.fd, in.virtual_size, out.pipe, &w)
	                : qcow2_writer_new(out.fd, in.virtual_size, o->cluster_size ? o->cluster_size : 65536, comp, &w);
	if (r == 0 && o->format == IMGFETCH_FORMAT_RAW)
		raw_writer_set_block_zero(w, o->block_zero == IMGFETCH_BLOCK_ZERO_ZEROOUT   ? RAW_ZERO_ZEROOUT
		                             : o->block_zero == IMGFETCH_BLOCK_ZERO_DISCARD ? RAW_ZERO_DISCARD
		                                                                            : RAW_ZERO_CHECK);
	if (r < 0) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot start the %s writer: %s",
		              o->format == IMGFETCH_FORMAT_RAW ? "raw" : "qcow2", strerror(-r));
		goto done;
	}
	st = convert_run(ctx, o, &in, w, threads, label, &stats);
	if (st < 0)
		goto done;
	r = w->ops->finish(w);
	if (r < 0) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "finishing %s: %s", o->output, w->err[0] ? w->err : strerror(-r));
		goto done;
	}
	if (ifx_cancelled(ctx)) {
		st = ifx_fail(ctx, IMGFETCH_E_CANCELLED, "%s: cancelled; nothing was written to %s", label, o->output);
		goto done;
	}
	uint64_t out_size = 0;
	struct stat sb;
	if (!out.pipe && fstat(out.fd, &sb) == 0)
		out_size = (uint64_t)sb.st_size;
	if (out.af.dirfd >= 0 && (r = atomic_file_commit(&out.af)) < 0) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot install %s: %s", o->output, strerror(-r));
		goto done;
	}
	imgfetch_convert_result *res = calloc(1, sizeof(*res));
	if (res)
		res->input = info_from(&in);
	if (!res || !res->input) {
		imgfetch_convert_result_free(res);
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		goto done;
	}
	if (in.stream)
		res->input->virtual_size = stats.total;
	res->data_bytes = stats.data_bytes;
	res->output_size = out_size;
	*ret = res;
done:
	if (w)
		w->ops->free(w);
	if (out.af.dirfd >= 0 || out.af.fd >= 0)
		atomic_file_abort(&out.af);
	else if (out.fd >= 0 && (!out.pipe || out.close_fd))
		close(out.fd);
	conv_input_close(&in);
	return st;
}
