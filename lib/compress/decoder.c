/* SPDX-License-Identifier: MIT */
/*
 * The generic decoder: output buffering, the output cap, stream boundaries
 * and error messages, over a per-format backend (backend.h) that decodes one
 * stream at a time.
 *
 * After a stream ends, the bytes that follow must be either nothing, the
 * magic of another stream of the same format (then the backend restarts), or
 * — for xz only — stream padding: zero bytes in multiples of four. Anything
 * else is trailing garbage, reported with its offset. The magic is collected
 * into a small stash (it may straddle two decoder_feed() calls) and replayed
 * into the backend once it is complete, so the backend never sees garbage.
 */
#include "compress/backend.h"
#include "compress/decompress.h"
#include "util/strutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Output is handed out in pieces of at most this much. */
#define OUT_BUF_SIZE ((size_t)1 << 20)
/* decompress_fd() reads this much at a time. */
#define READ_CHUNK ((size_t)1 << 20)

struct decoder {
	const backend_ops *ops;
	void *st;
	uint64_t max_out;
	uint64_t total_out; /* produced so far: delivered, or waiting in out */
	uint64_t in_pos;    /* input bytes accounted for: taken by the backend, or padding */
	uint8_t *out;
	size_t out_len;     /* produced, not delivered yet */
	int error;          /* the first failure; every later call returns it */
	bool between;       /* a stream ended: checking what follows it */
	bool finished;
	uint64_t padding;   /* zero bytes since the last stream ended */
	uint64_t stash_at;  /* input offset of stash[0] */
	uint8_t stash[8];   /* the next stream's magic, collected so far */
	size_t stash_len;
	char err[256];
};

static const backend_ops *backend_for(compress_kind k)
{
	switch (k) {
	case COMPRESS_XZ: return &backend_xz;
	case COMPRESS_GZIP: return &backend_gzip;
	case COMPRESS_ZSTD: return &backend_zstd;
	case COMPRESS_BZIP2: return &backend_bzip2;
	case COMPRESS_NONE: break;
	}
	return NULL;
}

__attribute__((format(printf, 3, 4))) static int fail(decoder *d, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
	d->error = r;
	return r;
}

/* Hands buffered output to the caller. A callback's error is its own: it
 * becomes the decoder's sticky error, with no message of ours. */
static int deliver(decoder *d, decoder_out_fn out, void *u)
{
	if (d->out_len == 0)
		return 0;
	size_t n = d->out_len;
	d->out_len = 0;
	int r = out(u, d->out, n);
	if (r < 0) {
		d->err[0] = '\0';
		d->error = r;
		return r;
	}
	return 0;
}

/*
 * Runs the backend over *in until the input is used up (or, with `finish`,
 * until it stops making progress) or the stream ends. Returns BACKEND_OK,
 * BACKEND_STREAM_END or a negative errno.
 */
static int decode_some(decoder *d, const uint8_t **in, size_t *n, bool finish, decoder_out_fn out, void *u)
{
	for (;;) {
		if (d->out_len == OUT_BUF_SIZE) {
			int r = deliver(d, out, u);
			if (r < 0)
				return r;
		}
		size_t room = OUT_BUF_SIZE - d->out_len;
		uint64_t left = d->max_out - d->total_out;
		/* Room for one byte past the cap: enough to tell that the output
		 * would exceed it, without decoding (or delivering) more. */
		size_t win = left < room ? (size_t)left + 1 : room;
		uint8_t *o = d->out + d->out_len;
		size_t o_room = win;
		size_t before = *n;
		char why[160] = "";
		int r = d->ops->code(d->st, in, n, &o, &o_room, finish, why, sizeof(why));
		size_t used = before - *n, made = win - o_room;
		d->in_pos += used;

		if (made > left) {
			/* The caller still gets everything up to the cap, exactly. */
			d->out_len += (size_t)left;
			d->total_out += left;
			int dr = deliver(d, out, u);
			if (dr < 0)
				return dr;
			char lim[32];
			return fail(d, -EFBIG, "decompressed output exceeds the %s limit",
			            format_bytes(d->max_out, lim, sizeof(lim)));
		}
		d->out_len += made;
		d->total_out += made;
		if (r < 0)
			return fail(d, r, "%s: %s (near input byte %llu)", d->ops->name, why[0] ? why : strerror(-r),
			            (unsigned long long)d->in_pos);
		if (r == BACKEND_STREAM_END)
			return r;
		if (made == win)
			continue; /* the buffer filled up: more output may be waiting */
		if (*n == 0) {
			/* Finishing: keep going while output trickles out (liblzma's
			 * threads); no progress at all means the stream is cut short. */
			if (finish && made > 0)
				continue;
			return BACKEND_OK;
		}
		if (used == 0 && made == 0)
			return fail(d, -EIO, "%s: the decoder made no progress (near input byte %llu)", d->ops->name,
			            (unsigned long long)d->in_pos);
	}
}

static void stream_ended(decoder *d)
{
	d->between = true;
	d->padding = 0;
	d->stash_len = 0;
}

/*
 * Between streams: consumes padding and magic bytes. Returns 1 when the
 * next stream's magic is complete (the backend was restarted and the stash
 * must be replayed), 0 when the input ran out first, or a negative errno.
 */
static int scan_between(decoder *d, const uint8_t **in, size_t *n)
{
	const backend_ops *ops = d->ops;
	while (*n > 0) {
		if (d->stash_len == 0 && ops->zero_padding && **in == 0) {
			size_t k = 0;
			while (k < *n && (*in)[k] == 0)
				k++;
			*in += k;
			*n -= k;
			d->padding += k;
			d->in_pos += k;
			continue;
		}
		if (d->stash_len == 0) {
			if (d->padding % 4 != 0)
				return fail(d, -EBADMSG, "%s stream padding at byte %llu is not a multiple of 4 bytes",
				            ops->name, (unsigned long long)(d->in_pos - d->padding));
			d->stash_at = d->in_pos;
		}
		d->stash[d->stash_len++] = **in;
		(*in)++;
		(*n)--;
		if (!ops->magic_prefix(d->stash, d->stash_len))
			return fail(d, -EBADMSG, "trailing garbage after the %s stream at byte %llu", ops->name,
			            (unsigned long long)d->stash_at);
		if (d->stash_len == ops->magic_len) {
			char why[160] = "";
			int r = ops->restart(d->st, why, sizeof(why));
			if (r < 0)
				return fail(d, r, "%s: %s", ops->name, why[0] ? why : strerror(-r));
			d->between = false;
			return 1;
		}
	}
	return 0;
}

/* Feeds the collected magic to the freshly restarted backend. */
static int replay_stash(decoder *d, decoder_out_fn out, void *u)
{
	uint8_t magic[sizeof(d->stash)];
	size_t n = d->stash_len;
	memcpy(magic, d->stash, n);
	d->stash_len = 0;
	const uint8_t *p = magic;
	int r = decode_some(d, &p, &n, false, out, u);
	if (r < 0)
		return r;
	if (r == BACKEND_STREAM_END) /* no format has a stream this short */
		return fail(d, -EBADMSG, "%s: invalid stream at byte %llu", d->ops->name,
		            (unsigned long long)d->stash_at);
	return 0;
}

int decoder_new(compress_kind k, unsigned threads, uint64_t max_out, decoder **ret)
{
	const backend_ops *ops = backend_for(k);
	if (!ops || !ret)
		return -EINVAL;
	decoder *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->ops = ops;
	d->max_out = max_out;
	d->out = malloc(OUT_BUF_SIZE);
	if (!d->out) {
		free(d);
		return -ENOMEM;
	}
	int r = ops->create(threads, &d->st);
	if (r < 0) {
		free(d->out);
		free(d);
		return r;
	}
	*ret = d;
	return 0;
}

int decoder_feed(decoder *d, const void *in, size_t n, decoder_out_fn out, void *u)
{
	if (!d || !out || (n > 0 && !in))
		return -EINVAL;
	if (d->error)
		return d->error;
	if (d->finished)
		return -EINVAL;
	const uint8_t *p = in;
	while (n > 0) {
		int r;
		if (d->between) {
			r = scan_between(d, &p, &n);
			if (r == 1)
				r = replay_stash(d, out, u);
		} else {
			r = decode_some(d, &p, &n, false, out, u);
			if (r == BACKEND_STREAM_END)
				stream_ended(d);
		}
		if (r < 0)
			return r;
	}
	return deliver(d, out, u);
}

int decoder_finish(decoder *d, decoder_out_fn out, void *u)
{
	if (!d || !out)
		return -EINVAL;
	if (d->error)
		return d->error;
	if (d->finished)
		return 0;
	if (!d->between) {
		static const uint8_t none;
		const uint8_t *p = &none;
		size_t n = 0;
		int r = decode_some(d, &p, &n, true, out, u);
		if (r < 0)
			return r;
		if (r != BACKEND_STREAM_END) {
			if (d->in_pos == 0)
				return fail(d, -EPIPE, "compressed stream is empty");
			return fail(d, -EPIPE, "compressed stream is truncated: the %s data ends at byte %llu, before the end of its stream",
			            d->ops->name, (unsigned long long)d->in_pos);
		}
		stream_ended(d);
	}
	if (d->stash_len > 0)
		return fail(d, -EPIPE, "compressed stream is truncated: the %s stream at byte %llu ends within its header",
		            d->ops->name, (unsigned long long)d->stash_at);
	if (d->padding % 4 != 0)
		return fail(d, -EBADMSG, "%s stream padding at byte %llu is not a multiple of 4 bytes", d->ops->name,
		            (unsigned long long)(d->in_pos - d->padding));
	int r = deliver(d, out, u);
	if (r < 0)
		return r;
	d->finished = true;
	return 0;
}

uint64_t decoder_total_out(const decoder *d)
{
	return d ? d->total_out : 0;
}

const char *decoder_error(const decoder *d)
{
	return d ? d->err : "";
}

bool decoder_unchecked(const decoder *d)
{
	return d && d->st && d->ops->unchecked && d->ops->unchecked(d->st);
}

void decoder_free(decoder *d)
{
	if (!d)
		return;
	if (d->st)
		d->ops->destroy(d->st);
	free(d->out);
	free(d);
}

/* Reads up to len bytes at off; falls back to read() for pipes. */
static ssize_t read_at(int fd, void *buf, size_t len, uint64_t off, bool *stream)
{
	for (;;) {
		ssize_t n = *stream ? read(fd, buf, len) : pread(fd, buf, len, (off_t)off);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == ESPIPE && !*stream && off == 0) {
			*stream = true;
			continue;
		}
		return -1;
	}
}

int decompress_fd(int fd, compress_kind k, unsigned threads, uint64_t max_out, decoder_out_fn out, void *u,
                  char *err, size_t errlen)
{
	return decompress_fd_ex(fd, k, threads, max_out, out, u, err, errlen, NULL);
}

int decompress_fd_ex(int fd, compress_kind k, unsigned threads, uint64_t max_out, decoder_out_fn out, void *u,
                     char *err, size_t errlen, bool *ret_unchecked)
{
	if (err && errlen)
		err[0] = '\0';
	decoder *d = NULL;
	int r = decoder_new(k, threads, max_out, &d);
	if (r < 0) {
		if (err && errlen)
			snprintf(err, errlen, "cannot start the %s decoder: %s", compress_name(k), strerror(-r));
		return r;
	}
	uint8_t *buf = malloc(READ_CHUNK);
	if (!buf) {
		decoder_free(d);
		return -ENOMEM;
	}
	/* Doubles the kernel's readahead: the file is read once, front to back. */
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	uint64_t off = 0;
	bool stream = false;
	for (;;) {
		ssize_t n = read_at(fd, buf, READ_CHUNK, off, &stream);
		if (n < 0) {
			r = -errno;
			if (err && errlen)
				snprintf(err, errlen, "cannot read the %s stream at byte %llu: %s", compress_name(k),
				         (unsigned long long)off, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		off += (uint64_t)n;
		r = decoder_feed(d, buf, (size_t)n, out, u);
		if (r < 0)
			goto fail;
	}
	r = decoder_finish(d, out, u);
	if (r < 0)
		goto fail;
	goto out;
fail:
	if (err && errlen)
		snprintf(err, errlen, "%s", decoder_error(d));
out:
	if (ret_unchecked && decoder_unchecked(d))
		*ret_unchecked = true;
	free(buf);
	decoder_free(d);
	return r;
}
