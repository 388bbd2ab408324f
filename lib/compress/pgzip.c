/* SPDX-License-Identifier: MIT */
/*
 * Parallel gzip. Chunk n of the input lives in slot n % nslots:
 *
 *   caller fills it  ->  queued (n < queued)  ->  a worker compresses it
 *   (n < taken)  ->  done  ->  handed to the sink (n < written)  ->  free
 *
 * Only the caller's thread writes a slot's input and dictionary, and only
 * while the slot is its own (before it is queued); a worker owns the output
 * buffer from taking the chunk until it is marked done; after that only the
 * thread holding the `writing` flag touches it. The mutex orders each hand-over.
 *
 * There is no writer thread: the worker that finishes the next chunk in order
 * writes it and every following chunk already done, under the `writing` flag,
 * so the sink is called in order and never twice at once. The sink (a write
 * and a SHA-1 of the compressed bytes) is cheap next to deflate: a dedicated
 * writer thread measured the same on two cores, so there is none.
 */
#include "compress/pgzip.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define DICT_SIZE 32768u  /* deflate's window: all a chunk can refer back to */
#define GZ_HEADER 10u
#define GZ_TRAILER 8u
#define MAX_THREADS 16u   /* ~300 MB/s of level-4 input already; more only costs ring memory */

/* ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=3 (Unix): no name, no time, so
 * the same input always gives the same bytes. */
static const uint8_t member_header[GZ_HEADER] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };

typedef struct slot {
	uint8_t *buf;       /* DICT_SIZE of dictionary, then PGZIP_CHUNK of input */
	size_t dict_len;    /* 0 for the first chunk, else DICT_SIZE */
	size_t in_len;
	bool last;          /* compressed with Z_FINISH, followed by the trailer */
	uint8_t *out;       /* GZ_HEADER of room, deflate output, GZ_TRAILER of room */
	size_t out_cap;     /* allocated size of out, room included */
	size_t out_len;     /* deflate output only */
	uint32_t crc;       /* CRC-32 of this chunk's input */
	bool done;          /* compressed, waiting for the sink */
} slot;

typedef struct worker {
	pgzip *z;
	z_stream zs;        /* reused for every chunk through deflateReset */
	bool zs_ready;
	pthread_t thread;
	bool started;
} worker;

struct pgzip {
	pgzip_sink_fn sink;
	void *u;
	slot *slots;
	size_t nslots;
	worker *workers;
	size_t nworkers;

	pthread_mutex_t lock;
	pthread_cond_t work;   /* caller -> workers: a chunk was queued, or stop */
	pthread_cond_t room;   /* writer -> caller: a chunk was written, or an error */
	uint64_t queued;       /* chunks handed to the workers */
	uint64_t taken;        /* chunks a worker has started on */
	uint64_t written;      /* chunks handed to the sink */
	bool writing;          /* some worker is calling the sink */
	bool stop;             /* pgzip_free: workers leave at once */
	_Atomic int err;       /* first error; errmsg is set before it */
	char errmsg[192];
	_Atomic uint64_t total_out;

	/* The writer's own (whoever holds `writing`). */
	uint32_t crc;          /* of the input of the chunks written so far */
	uint64_t crc_len;      /* that input's length: ISIZE */

	/* The caller's own. */
	bool filling;          /* slot `queued` has been started */
	size_t fill;           /* bytes in it */
	bool finished;
	uint64_t total_in;
};

static void fail_locked(pgzip *z, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail_locked(pgzip *z, int r, const char *fmt, ...)
{
	if (atomic_load(&z->err))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(z->errmsg, sizeof(z->errmsg), fmt, ap);
	va_end(ap);
	atomic_store(&z->err, r);
	/* Wake everyone: the caller to return the error, idle workers to leave. */
	pthread_cond_broadcast(&z->work);
	pthread_cond_broadcast(&z->room);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Deflates one chunk into s->out (after the header room). Worker thread,
 * without the lock: the slot is this worker's until it is marked done. */
static int compress_chunk(worker *w, slot *s, char *msg, size_t msglen)
{
	z_stream *zs = &w->zs;
	int zr = deflateReset(zs);
	if (zr == Z_OK && s->dict_len)
		zr = deflateSetDictionary(zs, s->buf, (uInt)s->dict_len);
	if (zr != Z_OK) {
		snprintf(msg, msglen, "zlib cannot start a chunk (error %d)", zr);
		return -EINVAL;
	}
	uint8_t *in = s->buf + DICT_SIZE;
	s->crc = (uint32_t)crc32(0, in, (uInt)s->in_len);
	zs->next_in = in;
	zs->avail_in = (uInt)s->in_len;
	zs->next_out = s->out + GZ_HEADER;
	zs->avail_out = (uInt)(s->out_cap - GZ_HEADER - GZ_TRAILER);
	/* A sync flush ends the chunk on a byte boundary with the stream still
	 * open, so the next chunk's output can simply follow it. */
	int flush = s->last ? Z_FINISH : Z_SYNC_FLUSH;
	for (;;) {
		zr = deflate(zs, flush);
		if (zr == Z_STREAM_END)
			break;
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			snprintf(msg, msglen, "zlib failed: %s", zs->msg ? zs->msg : "internal error");
			return zr == Z_MEM_ERROR ? -ENOMEM : -EIO;
		}
		if (flush == Z_SYNC_FLUSH && zs->avail_in == 0 && zs->avail_out > 0)
			break; /* everything flushed */
		if (zs->avail_out > 0) {
			snprintf(msg, msglen, "zlib made no progress (error %d)", zr);
			return -EIO;
		}
		/* Past deflateBound (a sync flush may add a few bytes): grow. */
		size_t used = (size_t)(zs->next_out - s->out);
		size_t cap = s->out_cap + s->out_cap / 2;
		uint8_t *o = realloc(s->out, cap);
		if (!o) {
			snprintf(msg, msglen, "out of memory");
			return -ENOMEM;
		}
		s->out = o;
		s->out_cap = cap;
		zs->next_out = o + used;
		zs->avail_out = (uInt)(cap - used - GZ_TRAILER);
	}
	s->out_len = (size_t)(zs->next_out - s->out) - GZ_HEADER;
	return 0;
}

/* Hands chunk `seq` to the sink, with the header before the first and the
 * trailer after the last. The caller holds `writing`, not the lock. */
static int emit_chunk(pgzip *z, slot *s, uint64_t seq)
{
	uint8_t *p = s->out + GZ_HEADER;
	size_t n = s->out_len;
	if (seq == 0) {
		p = s->out;
		memcpy(p, member_header, GZ_HEADER);
		n += GZ_HEADER;
	}
	z->crc = (uint32_t)crc32_combine(z->crc, s->crc, (z_off_t)s->in_len);
	z->crc_len += s->in_len;
	if (s->last) {
		put_le32(p + n, z->crc);
		put_le32(p + n + 4, (uint32_t)z->crc_len); /* ISIZE is the length mod 2^32 */
		n += GZ_TRAILER;
	}
	int r = z->sink(z->u, p, n);
	if (r < 0)
		return r;
	atomic_fetch_add(&z->total_out, n);
	return 0;
}

/* Writes every chunk that is next in order and done. Called with the lock
 * held and `writing` clear; returns with the lock held and `writing` clear. */
static void write_ready_locked(pgzip *z)
{
	z->writing = true;
	while (!z->stop && !atomic_load(&z->err) && z->written < z->queued) {
		uint64_t seq = z->written;
		slot *s = &z->slots[seq % z->nslots];
		if (!s->done)
			break;
		pthread_mutex_unlock(&z->lock);
		int r = emit_chunk(z, s, seq);
		pthread_mutex_lock(&z->lock);
		if (r < 0) {
			fail_locked(z, r, "writing the compressed output failed: %s", strerror(-r));
			break;
		}
		s->done = false;
		z->written++;
		pthread_cond_signal(&z->room);
	}
	z->writing = false;
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	pgzip *z = w->z;
	char msg[sizeof(z->errmsg)];

	pthread_mutex_lock(&z->lock);
	for (;;) {
		while (!z->stop && !atomic_load(&z->err) && z->taken == z->queued)
			pthread_cond_wait(&z->work, &z->lock);
		/* After an error nothing more is written: leave queued chunks be. */
		if (z->stop || atomic_load(&z->err))
			break;
		slot *s = &z->slots[z->taken++ % z->nslots];
		pthread_mutex_unlock(&z->lock);

		int r = compress_chunk(w, s, msg, sizeof(msg));

		pthread_mutex_lock(&z->lock);
		if (r < 0) {
			fail_locked(z, r, "%s", msg);
			break;
		}
		s->done = true;
		if (!z->writing)
			write_ready_locked(z);
	}
	pthread_mutex_unlock(&z->lock);
	return NULL;
}

int pgzip_new(unsigned threads, int level, pgzip_sink_fn sink, void *u, pgzip **ret)
{
	if (level < 1 || level > 9 || !sink)
		return -EINVAL;
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)(n < MAX_THREADS ? n : MAX_THREADS) : 1;
	}
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;

	pgzip *z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->sink = sink;
	z->u = u;
	pthread_mutex_init(&z->lock, NULL);
	pthread_cond_init(&z->work, NULL);
	pthread_cond_init(&z->room, NULL);

	int r = -ENOMEM;
	z->workers = calloc(threads, sizeof(*z->workers));
	z->nslots = 2 * (size_t)threads + 2;
	z->slots = calloc(z->nslots, sizeof(*z->slots));
	if (!z->workers || !z->slots)
		goto fail;
	z->nworkers = threads;
	for (size_t i = 0; i < z->nworkers; i++) {
		worker *w = &z->workers[i];
		w->z = z;
		/* -15: raw deflate; the gzip wrapper is written here, once. */
		int zr = deflateInit2(&w->zs, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
		if (zr != Z_OK) {
			r = zr == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
			goto fail;
		}
		w->zs_ready = true;
	}
	/* deflateBound covers Z_FINISH; a sync flush adds an empty stored block
	 * (at most 6 bytes). compress_chunk still grows the buffer if needed. */
	size_t cap = GZ_HEADER + deflateBound(&z->workers[0].zs, PGZIP_CHUNK) + 64 + GZ_TRAILER;
	for (size_t i = 0; i < z->nslots; i++) {
		slot *s = &z->slots[i];
		s->buf = malloc(DICT_SIZE + PGZIP_CHUNK);
		s->out = malloc(cap);
		s->out_cap = cap;
		if (!s->buf || !s->out)
			goto fail;
	}
	for (size_t i = 0; i < z->nworkers; i++) {
		worker *w = &z->workers[i];
		int e = pthread_create(&w->thread, NULL, worker_main, w);
		if (e != 0) {
			r = -e;
			goto fail;
		}
		w->started = true;
	}
	*ret = z;
	return 0;

fail:
	pgzip_free(z);
	return r;
}

/* Waits for the slot of chunk `queued` to be free and makes it the caller's,
 * with the end of the previous chunk copied in as its dictionary: once
 * queued, a chunk needs no other slot. */
static int start_chunk(pgzip *z)
{
	pthread_mutex_lock(&z->lock);
	while (!atomic_load(&z->err) && z->queued - z->written >= z->nslots)
		pthread_cond_wait(&z->room, &z->lock);
	pthread_mutex_unlock(&z->lock);
	int r = atomic_load(&z->err);
	if (r)
		return r;
	slot *s = &z->slots[z->queued % z->nslots];
	s->dict_len = 0;
	if (z->queued > 0) {
		/* The previous chunk is full (only the last one is not) and queued:
		 * workers only read it, and only this thread ever refills it. */
		const slot *prev = &z->slots[(z->queued - 1) % z->nslots];
		memcpy(s->buf, prev->buf + DICT_SIZE + PGZIP_CHUNK - DICT_SIZE, DICT_SIZE);
		s->dict_len = DICT_SIZE;
	}
	z->filling = true;
	z->fill = 0;
	return 0;
}

static void queue_chunk(pgzip *z, bool last)
{
	slot *s = &z->slots[z->queued % z->nslots];
	s->in_len = z->fill;
	s->last = last;
	s->done = false;
	pthread_mutex_lock(&z->lock);
	z->queued++;
	z->filling = false;
	pthread_cond_signal(&z->work);
	pthread_mutex_unlock(&z->lock);
}

int pgzip_write(pgzip *z, const void *buf, size_t n)
{
	int r = atomic_load(&z->err);
	if (r)
		return r;
	if (z->finished)
		return -EINVAL;
	const uint8_t *p = buf;
	while (n > 0) {
		/* A full chunk is queued only when more input comes, so that the
		 * last chunk is never empty (except for empty input) and the output
		 * does not depend on how the input was split into calls. */
		if (z->filling && z->fill == PGZIP_CHUNK)
			queue_chunk(z, false);
		if (!z->filling) {
			r = start_chunk(z);
			if (r < 0)
				return r;
		}
		slot *s = &z->slots[z->queued % z->nslots];
		size_t take = PGZIP_CHUNK - z->fill;
		if (take > n)
			take = n;
		memcpy(s->buf + DICT_SIZE + z->fill, p, take);
		z->fill += take;
		z->total_in += take;
		p += take;
		n -= take;
	}
	return 0;
}

int pgzip_push(void *z, const void *buf, size_t n)
{
	return pgzip_write(z, buf, n);
}

int pgzip_finish(pgzip *z)
{
	if (!z->finished && !atomic_load(&z->err)) {
		z->finished = true;
		/* Empty input still makes one (empty, final) chunk: a valid member. */
		int r = z->filling ? 0 : start_chunk(z);
		if (r < 0)
			return r;
		queue_chunk(z, true);
	}
	z->finished = true;
	pthread_mutex_lock(&z->lock);
	while (!atomic_load(&z->err) && z->written < z->queued)
		pthread_cond_wait(&z->room, &z->lock);
	pthread_mutex_unlock(&z->lock);
	return atomic_load(&z->err);
}

uint64_t pgzip_total_in(const pgzip *z)
{
	return z->total_in;
}

uint64_t pgzip_total_out(const pgzip *z)
{
	return atomic_load(&z->total_out);
}

const char *pgzip_error(const pgzip *z)
{
	return atomic_load(&z->err) ? z->errmsg : "";
}

void pgzip_free(pgzip *z)
{
	if (!z)
		return;
	pthread_mutex_lock(&z->lock);
	z->stop = true;
	pthread_cond_broadcast(&z->work);
	pthread_cond_broadcast(&z->room);
	pthread_mutex_unlock(&z->lock);
	/* A worker inside the sink finishes that call, then sees `stop`. */
	for (size_t i = 0; i < z->nworkers; i++) {
		worker *w = &z->workers[i];
		if (w->started)
			pthread_join(w->thread, NULL);
		if (w->zs_ready)
			deflateEnd(&w->zs);
	}
	for (size_t i = 0; z->slots && i < z->nslots; i++) {
		free(z->slots[i].buf);
		free(z->slots[i].out);
	}
	free(z->slots);
	free(z->workers);
	pthread_cond_destroy(&z->room);
	pthread_cond_destroy(&z->work);
	pthread_mutex_destroy(&z->lock);
	free(z);
}
