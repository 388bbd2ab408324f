/* SPDX-License-Identifier: MIT */
#include "convert/engine.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 64

typedef enum { SLOT_FREE, SLOT_BUSY, SLOT_FILLED, SLOT_ENCODED } slot_state;

typedef struct slot {
	img_unit u;
	slot_state state;
	uint64_t index;
	bool zeroed;          /* u.data holds only zeros (writers never modify it) */
	bool pushed_data;     /* stream: the unit being filled got bytes, not only zeros */
} slot;

struct engine {
	imgfetch_ctx *ctx;
	img_reader *reader;   /* NULL in stream mode */
	img_writer *writer;
	const char *label;
	uint64_t size;        /* random: virtual size; stream: expected (progress only) */
	uint64_t nunits;      /* random: known; stream: grows */
	slot *slots;
	size_t nslots;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t next_claim;  /* random: next unit to fill; stream: next unit to encode */
	uint64_t next_commit;
	/* random source, unordered writer: a unit is done when encoded, and a
	 * worker never waits for a slow neighbour to be committed first. */
	bool any_order;
	uint64_t done_units;
	bool stream_done;     /* stream: no more units will be pushed */
	int error;
	bool input_error;     /* the error came from reading the source, not from the writer */
	char errmsg[768];

	/* stream producer (caller's thread) */
	uint64_t produced;    /* units handed to workers */
	size_t fill;          /* bytes in the unit being filled */

	pthread_t workers[MAX_WORKERS];
	size_t nworkers;
	pthread_t committer;
	bool committer_started;
	engine_stats stats;
	struct timespec last_progress;
};

static void fail_locked(engine *e, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail_locked(engine *e, int r, const char *fmt, ...)
{
	if (e->error)
		return;
	e->error = r < 0 ? r : -EIO;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->errmsg, sizeof(e->errmsg), fmt, ap);
	va_end(ap);
	pthread_cond_broadcast(&e->cond);
}

static bool all_zero_kind(img_extent_kind k)
{
	return k == IMG_EXTENT_ZERO || k == IMG_EXTENT_HOLE;
}

/* Fills a unit from the reader: data extents are read, zero and hole extents
 * become zeros without touching the image. Neighbouring data extents are read
 * with one call, so a reader can reuse its decompression state across them. */
static int fill_from_reader(engine *e, slot *s, uint64_t *ret_data)
{
	img_unit *u = &s->u;
	uint64_t off = u->offset, end = u->offset + u->length;
	bool all_zero = true;
	uint64_t data = 0;
	while (off < end) {
		img_extent x;
		int r = img_map(e->reader, off, end - off, &x);
		if (r < 0)
			return r;
		if (x.length == 0 || x.length > end - off)
			return -EIO; /* a reader bug must not become an endless loop */
		unsigned char *dst = u->data + (off - u->offset);
		if (all_zero_kind(x.kind) && off == u->offset && x.length == u->length && e->writer->skips_zero_units) {
			/* An empty unit the writer will skip: leave the buffer as it is. */
			s->zeroed = false;
			u->all_zero_hint = true;
			*ret_data = 0;
			return 0;
		}
		if (all_zero_kind(x.kind)) {
			/* Most of a disk is empty: a buffer still zero from the last
			 * empty unit need not be cleared again. */
			if (!s->zeroed)
				memset(dst, 0, x.length);
			off += x.length;
			continue;
		}
		s->zeroed = false;
		uint64_t run = x.length;
		while (off + run < end) {
			img_extent y;
			r = img_map(e->reader, off + run, end - off - run, &y);
			if (r < 0)
				return r;
			if (y.length == 0 || y.length > end - off - run)
				return -EIO;
			if (all_zero_kind(y.kind))
				break;
			run += y.length;
		}
		all_zero = false;
		data += run;
		for (uint64_t done = 0; done < run;) {
			size_t n = run - done > IMG_MAX_IO ? IMG_MAX_IO : (size_t)(run - done);
			r = img_read(e->reader, off + done, dst + done, n);
			if (r < 0)
				return r;
			done += n;
		}
		off += run;
	}
	u->all_zero_hint = all_zero;
	if (all_zero)
		s->zeroed = true;
	*ret_data = data;
	return 0;
}

static void *worker_main(void *arg)
{
	engine *e = arg;
	pthread_mutex_lock(&e->lock);
	for (;;) {
		uint64_t i = e->next_claim;
		if (e->error || ifx_cancelled(e->ctx))
			break;
		slot *s = NULL;
		if (e->reader && e->any_order) {
			if (i >= e->nunits)
				break;
			for (size_t k = 0; k < e->nslots && !s; k++)
				if (e->slots[k].state == SLOT_FREE)
					s = &e->slots[k];
			if (!s) {
				pthread_cond_wait(&e->cond, &e->lock);
				continue;
			}
			s->index = i;
			s->u.offset = i * ENGINE_UNIT;
			s->u.length = (size_t)(e->size - s->u.offset < ENGINE_UNIT ? e->size - s->u.offset : ENGINE_UNIT);
		} else if (e->reader) {
			if (i >= e->nunits)
				break;
			/* The unit's slot is free once the unit nslots before it is committed. */
			if (i >= e->next_commit + e->nslots) {
				pthread_cond_wait(&e->cond, &e->lock);
				continue;
			}
			s = &e->slots[i % e->nslots];
			s->index = i;
			s->u.offset = i * ENGINE_UNIT;
			s->u.length = (size_t)(e->size - s->u.offset < ENGINE_UNIT ? e->size - s->u.offset : ENGINE_UNIT);
		} else {
			s = &e->slots[i % e->nslots];
			if (!(i < e->produced && s->state == SLOT_FILLED && s->index == i)) {
				if (e->stream_done && i >= e->produced)
					break;
				pthread_cond_wait(&e->cond, &e->lock);
				continue;
			}
		}
		e->next_claim++;
		s->state = SLOT_BUSY;
		s->u.priv = NULL;
		pthread_mutex_unlock(&e->lock);

		uint64_t data = 0;
		int r = 0;
		const char *what = "reading";
		if (e->reader)
			r = fill_from_reader(e, s, &data);
		if (r == 0) {
			what = "encoding";
			r = e->writer->ops->encode(e->writer, &s->u);
		}

		pthread_mutex_lock(&e->lock);
		if (r < 0) {
			bool reading = e->reader && strcmp(what, "reading") == 0;
			const char *why = reading ? img_reader_error(e->reader) : e->writer->err;
			if (!e->error)
				e->input_error = reading;
			fail_locked(e, r, "%s %s at offset %llu: %s", what, e->label, (unsigned long long)s->u.offset,
			            why[0] ? why : strerror(-r));
			break;
		}
		e->stats.data_bytes += data;
		if (e->any_order) {
			/* Written by encode(): nothing left for a committer. */
			e->done_units++;
			e->stats.total += s->u.length;
			s->state = SLOT_FREE;
		} else {
			s->state = SLOT_ENCODED;
		}
		pthread_cond_broadcast(&e->cond);
	}
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

static double seconds_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/* At most ten reports a second; the callback runs without the lock. */
static void progress_locked(engine *e)
{
	if (seconds_since(&e->last_progress) < 0.1)
		return;
	clock_gettime(CLOCK_MONOTONIC, &e->last_progress);
	uint64_t total = e->stats.total;
	pthread_mutex_unlock(&e->lock);
	ifx_progress(e->ctx, e->label, total, e->size, false);
	pthread_mutex_lock(&e->lock);
}

/* With any_order the "committer" only waits for the end and reports
 * progress. */
static void *watcher_main(engine *e)
{
	pthread_mutex_lock(&e->lock);
	while (!e->error && e->done_units < e->nunits) {
		if (ifx_cancelled(e->ctx)) {
			fail_locked(e, -ECANCELED, "%s: cancelled", e->label);
			break;
		}
		pthread_cond_wait(&e->cond, &e->lock);
		progress_locked(e);
	}
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

static void *committer_main(void *arg)
{
	engine *e = arg;
	if (e->any_order)
		return watcher_main(e);
	pthread_mutex_lock(&e->lock);
	for (;;) {
		uint64_t i = e->next_commit;
		if (e->error)
			break;
		if (ifx_cancelled(e->ctx)) {
			fail_locked(e, -ECANCELED, "%s: cancelled", e->label);
			break;
		}
		bool last = e->reader ? i >= e->nunits : e->stream_done && i >= e->produced;
		if (last)
			break;
		slot *s = &e->slots[i % e->nslots];
		if (!(s->state == SLOT_ENCODED && s->index == i)) {
			pthread_cond_wait(&e->cond, &e->lock);
			continue;
		}
		pthread_mutex_unlock(&e->lock);

		int r = e->writer->ops->commit(e->writer, &s->u);
		uint64_t total = s->u.offset + s->u.length;

		pthread_mutex_lock(&e->lock);
		if (!e->reader && r == 0 && !s->u.all_zero_hint)
			e->stats.data_bytes += s->u.length;
		if (r < 0) {
			fail_locked(e, r, "writing %s at offset %llu: %s", e->label, (unsigned long long)s->u.offset,
			            e->writer->err[0] ? e->writer->err : strerror(-r));
			break;
		}
		s->state = SLOT_FREE;
		e->next_commit++;
		e->stats.total = total;
		pthread_cond_broadcast(&e->cond);
		progress_locked(e);
	}
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

static void engine_free(engine *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nslots; i++) {
		if (e->slots[i].state == SLOT_ENCODED || e->slots[i].state == SLOT_BUSY)
			e->writer->ops->discard(e->writer, &e->slots[i].u);
		free(e->slots[i].u.data);
	}
	free(e->slots);
	pthread_cond_destroy(&e->cond);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

static unsigned worker_count(unsigned threads)
{
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)n : 1;
	}
	return threads > MAX_WORKERS ? MAX_WORKERS : threads;
}

static imgfetch_status engine_start(imgfetch_ctx *ctx, img_reader *reader, img_writer *writer, unsigned threads,
                                    const char *label, uint64_t size, engine **ret)
{
	engine *e = calloc(1, sizeof(*e));
	if (!e)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	e->ctx = ctx;
	e->reader = reader;
	e->writer = writer;
	e->label = label;
	e->size = size;
	e->nunits = reader ? (size + ENGINE_UNIT - 1) / ENGINE_UNIT : 0;
	e->any_order = reader && writer->unordered;
	unsigned nw = worker_count(threads);
	e->nslots = 2 * (size_t)nw + 2;
	e->slots = calloc(e->nslots, sizeof(slot));
	if (!e->slots) {
		engine_free(e);
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	}
	for (size_t i = 0; i < e->nslots; i++) {
		/* Units are exactly one huge page: aligned, the kernel can back
		 * each with one (fewer TLB misses while decoding into it). */
		void *p = NULL;
		if (posix_memalign(&p, ENGINE_UNIT, ENGINE_UNIT) == 0)
			madvise(p, ENGINE_UNIT, MADV_HUGEPAGE);
		e->slots[i].u.data = p;
		if (!e->slots[i].u.data) {
			engine_free(e);
			return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &e->last_progress);
	for (unsigned i = 0; i < nw; i++) {
		if (pthread_create(&e->workers[i], NULL, worker_main, e) != 0)
			break;
		e->nworkers++;
	}
	if (e->nworkers == 0 || pthread_create(&e->committer, NULL, committer_main, e) != 0) {
		pthread_mutex_lock(&e->lock);
		fail_locked(e, -EAGAIN, "cannot start threads");
		pthread_mutex_unlock(&e->lock);
		for (size_t i = 0; i < e->nworkers; i++)
			pthread_join(e->workers[i], NULL);
		engine_free(e);
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot start conversion threads");
	}
	e->committer_started = true;
	*ret = e;
	return IMGFETCH_OK;
}

/* Joins every thread and turns the outcome into a status. */
static imgfetch_status engine_join(engine *e, engine_stats *ret)
{
	for (size_t i = 0; i < e->nworkers; i++)
		pthread_join(e->workers[i], NULL);
	if (e->committer_started)
		pthread_join(e->committer, NULL);
	imgfetch_status st = IMGFETCH_OK;
	if (e->error == -ECANCELED || ifx_cancelled(e->ctx))
		st = ifx_fail(e->ctx, IMGFETCH_E_CANCELLED, "%s: cancelled", e->label);
	else if (e->input_error &&
	         (e->error == -EBADMSG || e->error == -ENOTSUP || e->error == -EFBIG || e->error == -EPIPE))
		st = ifx_fail(e->ctx, IMGFETCH_E_FORMAT, "%s", e->errmsg);
	else if (e->error)
		st = ifx_fail(e->ctx, IMGFETCH_E_FAILED, "%s", e->errmsg);
	if (st == IMGFETCH_OK) {
		ifx_progress(e->ctx, e->label, e->stats.total, e->stats.total, true);
		if (ret)
			*ret = e->stats;
	}
	engine_free(e);
	return st;
}

imgfetch_status engine_run_reader(imgfetch_ctx *ctx, img_reader *reader, img_writer *writer, unsigned threads,
                                  const char *label, engine_stats *ret)
{
	engine *e;
	imgfetch_status st = engine_start(ctx, reader, writer, threads, label, reader->info.virtual_size, &e);
	if (st < 0)
		return st;
	return engine_join(e, ret);
}

imgfetch_status engine_stream_start(imgfetch_ctx *ctx, img_writer *writer, unsigned threads, const char *label,
                                    uint64_t expected_size, engine **ret)
{
	return engine_start(ctx, NULL, writer, threads, label, expected_size, ret);
}

/* Hands the unit being filled to the workers. Called with the lock held. */
static void publish_locked(engine *e)
{
	slot *s = &e->slots[e->produced % e->nslots];
	s->index = e->produced;
	s->u.offset = e->produced * ENGINE_UNIT;
	s->u.length = e->fill;
	/* A unit pushed as zeros only need not be scanned by the writer. */
	s->u.all_zero_hint = !s->pushed_data;
	if (!s->pushed_data && e->fill == ENGINE_UNIT)
		s->zeroed = true;
	s->state = SLOT_FILLED;
	e->produced++;
	e->fill = 0;
	pthread_cond_broadcast(&e->cond);
}

int engine_stream_push(void *arg, const void *buf, size_t n)
{
	engine *e = arg;
	const unsigned char *p = buf;
	pthread_mutex_lock(&e->lock);
	while (n > 0) {
		/* The slot for the unit being filled is free once its predecessor
		 * nslots back was committed. */
		while (!e->error && e->produced >= e->next_commit + e->nslots && !ifx_cancelled(e->ctx))
			pthread_cond_wait(&e->cond, &e->lock);
		if (e->error || ifx_cancelled(e->ctx))
			break;
		slot *s = &e->slots[e->produced % e->nslots];
		size_t take = ENGINE_UNIT - e->fill < n ? ENGINE_UNIT - e->fill : n;
		/* Nobody else touches a slot before it is published. */
		pthread_mutex_unlock(&e->lock);
		if (e->fill == 0)
			s->pushed_data = false;
		if (p) {
			s->zeroed = false;
			s->pushed_data = true;
			memcpy(s->u.data + e->fill, p, take);
			p += take;
		} else if (!s->zeroed) {
			memset(s->u.data + e->fill, 0, take);
		}
		pthread_mutex_lock(&e->lock);
		e->fill += take;
		n -= take;
		if (e->fill == ENGINE_UNIT)
			publish_locked(e);
	}
	int r = e->error ? e->error : ifx_cancelled(e->ctx) ? -ECANCELED : 0;
	pthread_mutex_unlock(&e->lock);
	return r;
}

imgfetch_status engine_stream_finish(engine *e, bool ok, engine_stats *ret)
{
	pthread_mutex_lock(&e->lock);
	if (ok && e->fill > 0 && !e->error) {
		while (!e->error && e->produced >= e->next_commit + e->nslots)
			pthread_cond_wait(&e->cond, &e->lock);
		if (!e->error)
			publish_locked(e);
	}
	if (!ok && !e->error)
		fail_locked(e, -ECANCELED, "%s: input failed", e->label);
	e->stream_done = true;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	return engine_join(e, ret);
}
