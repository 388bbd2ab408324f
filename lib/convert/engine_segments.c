/* SPDX-License-Identifier: MIT */
/*
 * The engine's third mode (see engine.h): workers claim whole segments and
 * write each unit as soon as it is decoded. Nothing waits for order, so no
 * unit outlives its worker's loop: memory is one unit per worker.
 */
#include "convert/engine.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SEG_WORKERS 64

typedef struct seg_engine {
	imgfetch_ctx *ctx;
	const engine_segments *src;
	img_writer *writer;
	const char *label;

	pthread_mutex_t lock;
	size_t next;          /* next segment to claim */
	uint64_t done;        /* bytes written */
	uint64_t data_bytes;  /* of which in units that were not all zero */
	int error;
	bool input_error;     /* the error came from decoding the source */
	char errmsg[768];
	struct timespec last_progress;
} seg_engine;

static void fail_locked(seg_engine *e, int r, bool input, const char *msg)
{
	if (e->error)
		return;
	e->error = r < 0 ? r : -EIO;
	e->input_error = input;
	snprintf(e->errmsg, sizeof(e->errmsg), "%s", msg);
}

static bool stopping(seg_engine *e)
{
	pthread_mutex_lock(&e->lock);
	bool stop = e->error != 0;
	pthread_mutex_unlock(&e->lock);
	return stop || ifx_cancelled(e->ctx);
}

static bool progress_due(seg_engine *e)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double dt = (double)(now.tv_sec - e->last_progress.tv_sec) +
	            (double)(now.tv_nsec - e->last_progress.tv_nsec) / 1e9;
	if (dt < 0.1)
		return false;
	e->last_progress = now;
	return true;
}

/* Encodes (= writes) one decoded unit. */
static int flush_unit(seg_engine *e, img_unit *u)
{
	u->all_zero_hint = false;
	u->priv = NULL;
	int r = e->writer->ops->encode(e->writer, u);
	pthread_mutex_lock(&e->lock);
	if (r < 0) {
		char msg[768];
		snprintf(msg, sizeof(msg), "writing %s at offset %llu: %s", e->label, (unsigned long long)u->offset,
		         e->writer->err[0] ? e->writer->err : strerror(-r));
		fail_locked(e, r, false, msg);
		pthread_mutex_unlock(&e->lock);
		return r;
	}
	e->done += u->length;
	if (!u->all_zero_hint)
		e->data_bytes += u->length;
	uint64_t done = e->done;
	bool report = progress_due(e);
	/* Under the lock, so the callback is never entered twice at once. */
	if (report)
		ifx_progress(e->ctx, e->label, done, e->src->size, false);
	pthread_mutex_unlock(&e->lock);
	return 0;
}

static int run_segment(seg_engine *e, void *reader, size_t i, img_unit *u)
{
	const engine_segments *s = e->src;
	uint64_t off, len;
	s->extent(s->src, i, &off, &len);
	char err[512] = "";
	int r = s->begin(reader, i, err, sizeof(err));
	uint64_t pos = 0;
	while (r == 0) {
		size_t fill = 0;
		/* Fill a whole unit (a reader may return less per call). */
		while (r == 0 && fill < ENGINE_UNIT) {
			size_t got = 0;
			r = s->read(reader, u->data + fill, ENGINE_UNIT - fill, &got, err, sizeof(err));
			fill += got;
		}
		if (r < 0)
			break;
		if (pos + fill > len) {
			snprintf(err, sizeof(err), "segment %zu decodes to more than its %llu bytes", i + 1,
			         (unsigned long long)len);
			r = -EBADMSG;
			break;
		}
		if (fill > 0) {
			u->offset = off + pos;
			u->length = fill;
			if (flush_unit(e, u) < 0)
				return -1;
			pos += fill;
		}
		if (stopping(e))
			return -1;
	}
	if (r == 1 && pos != len) {
		snprintf(err, sizeof(err), "segment %zu decodes to %llu bytes, not %llu", i + 1, (unsigned long long)pos,
		         (unsigned long long)len);
		r = -EBADMSG;
	}
	if (r < 0) {
		pthread_mutex_lock(&e->lock);
		char msg[768];
		snprintf(msg, sizeof(msg), "decoding %s: %s", e->label, err[0] ? err : strerror(-r));
		fail_locked(e, r, true, msg);
		pthread_mutex_unlock(&e->lock);
		return r;
	}
	return 0;
}

static void *worker_main(void *arg)
{
	seg_engine *e = arg;
	const engine_segments *s = e->src;
	img_unit u = { .data = malloc(ENGINE_UNIT) };
	void *reader = NULL;
	int r = u.data ? s->reader_new(s->src, &reader) : -ENOMEM;
	if (r < 0) {
		pthread_mutex_lock(&e->lock);
		fail_locked(e, r, false, "out of memory");
		pthread_mutex_unlock(&e->lock);
		free(u.data);
		return NULL;
	}
	for (;;) {
		if (ifx_cancelled(e->ctx))
			break;
		pthread_mutex_lock(&e->lock);
		size_t i = e->next;
		bool stop = e->error || i >= s->count;
		if (!stop)
			e->next++;
		pthread_mutex_unlock(&e->lock);
		if (stop || run_segment(e, reader, i, &u) < 0)
			break;
	}
	s->reader_free(reader);
	free(u.data);
	return NULL;
}

imgfetch_status engine_run_segments(imgfetch_ctx *ctx, const engine_segments *src, img_writer *writer,
                                    unsigned threads, const char *label, engine_stats *ret)
{
	if (!writer->unordered)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "internal error: segments need an unordered writer");
	seg_engine e = { .ctx = ctx, .src = src, .writer = writer, .label = label };
	pthread_mutex_init(&e.lock, NULL);
	clock_gettime(CLOCK_MONOTONIC, &e.last_progress);
	if (threads == 0)
		threads = 1;
	if (threads > MAX_SEG_WORKERS)
		threads = MAX_SEG_WORKERS;
	if (threads > src->count)
		threads = src->count ? (unsigned)src->count : 1;
	pthread_t t[MAX_SEG_WORKERS];
	unsigned started = 0;
	for (; started < threads; started++)
		if (pthread_create(&t[started], NULL, worker_main, &e) != 0)
			break;
	if (started == 0) {
		pthread_mutex_destroy(&e.lock);
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot start conversion threads");
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&e.lock);

	if (e.error == 0 && !ifx_cancelled(ctx) && e.done != src->size)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "%s: internal error: %llu of %llu bytes converted", label,
		                (unsigned long long)e.done, (unsigned long long)src->size);
	if (ifx_cancelled(ctx))
		return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "%s: cancelled", label);
	if (e.error)
		return ifx_fail(ctx,
		                e.input_error && (e.error == -EBADMSG || e.error == -ENOTSUP) ? IMGFETCH_E_FORMAT
		                                                                               : IMGFETCH_E_FAILED,
		                "%s", e.errmsg);
	ifx_progress(ctx, label, e.done, src->size, true);
	if (ret)
		*ret = (engine_stats){ .data_bytes = e.data_bytes, .total = e.done };
	return IMGFETCH_OK;
}
