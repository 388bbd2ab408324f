/* SPDX-License-Identifier: MIT */
#include "stream/fanout.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct chunk {
	unsigned char *data;
	size_t len;
} chunk;

typedef struct worker {
	fanout *f;
	fanout_consumer c;
	uint64_t consumed; /* sequence number of the next chunk to consume */
	pthread_t thread;
	bool started;
} worker;

struct fanout {
	pthread_mutex_t lock;
	pthread_cond_t more;  /* producer → workers: a chunk was published, or stop */
	pthread_cond_t room;  /* workers → producer: a chunk was consumed */
	chunk ring[FANOUT_CHUNKS];
	uint64_t published;   /* chunks handed to workers */
	size_t fill;          /* bytes in the chunk being filled (sequence `published`) */
	worker workers[FANOUT_MAX_CONSUMERS];
	size_t nworkers;
	int error;
	bool stop;
};

static uint64_t slowest(const fanout *f)
{
	uint64_t m = UINT64_MAX;
	for (size_t i = 0; i < f->nworkers; i++)
		if (f->workers[i].consumed < m)
			m = f->workers[i].consumed;
	return m;
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	fanout *f = w->f;

	pthread_mutex_lock(&f->lock);
	for (;;) {
		while (w->consumed == f->published && !f->stop)
			pthread_cond_wait(&f->more, &f->lock);
		if (w->consumed == f->published)
			break; /* stopped and nothing left */
		chunk *c = &f->ring[w->consumed % FANOUT_CHUNKS];
		bool failed = f->error != 0;
		pthread_mutex_unlock(&f->lock);

		/* After an error the stream is dead; keep walking so nobody blocks. */
		int r = failed ? 0 : w->c.consume(w->c.u, c->data, c->len);

		pthread_mutex_lock(&f->lock);
		if (r < 0 && f->error == 0)
			f->error = r;
		w->consumed++;
		pthread_cond_broadcast(&f->room);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

int fanout_new(const fanout_consumer *consumers, size_t n, fanout **ret)
{
	if (n == 0 || n > FANOUT_MAX_CONSUMERS)
		return -EINVAL;
	fanout *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->more, NULL);
	pthread_cond_init(&f->room, NULL);
	for (size_t i = 0; i < FANOUT_CHUNKS; i++) {
		f->ring[i].data = malloc(FANOUT_CHUNK_SIZE);
		if (!f->ring[i].data) {
			fanout_free(f);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < n; i++) {
		worker *w = &f->workers[i];
		*w = (worker){ .f = f, .c = consumers[i] };
		f->nworkers++;
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			f->nworkers--;
			fanout_free(f);
			return -EAGAIN;
		}
		w->started = true;
	}
	*ret = f;
	return 0;
}

/* Hands the chunk being filled to the workers. Called with the lock held. */
static void publish_locked(fanout *f)
{
	f->ring[f->published % FANOUT_CHUNKS].len = f->fill;
	f->published++;
	f->fill = 0;
	pthread_cond_broadcast(&f->more);
}

int fanout_feed(fanout *f, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	pthread_mutex_lock(&f->lock);
	while (n > 0 && f->error == 0) {
		/* The chunk being filled is reusable once the slowest worker left it. */
		while (f->published - slowest(f) >= FANOUT_CHUNKS && f->error == 0)
			pthread_cond_wait(&f->room, &f->lock);
		if (f->error)
			break;
		chunk *c = &f->ring[f->published % FANOUT_CHUNKS];
		size_t take = FANOUT_CHUNK_SIZE - f->fill;
		if (take > n)
			take = n;
		/* No worker reads a chunk before it is published, and only this thread
		 * fills, so the copy needs no lock. */
		pthread_mutex_unlock(&f->lock);
		memcpy(c->data + f->fill, p, take);
		pthread_mutex_lock(&f->lock);
		f->fill += take;
		p += take;
		n -= take;
		if (f->fill == FANOUT_CHUNK_SIZE)
			publish_locked(f);
	}
	int r = f->error;
	pthread_mutex_unlock(&f->lock);
	return r;
}

static int drain_locked(fanout *f)
{
	if (f->fill > 0)
		publish_locked(f);
	while (slowest(f) < f->published)
		pthread_cond_wait(&f->room, &f->lock);
	return f->error;
}

int fanout_drain(fanout *f)
{
	pthread_mutex_lock(&f->lock);
	int r = drain_locked(f);
	pthread_mutex_unlock(&f->lock);
	return r;
}

int fanout_reset(fanout *f)
{
	pthread_mutex_lock(&f->lock);
	int r = drain_locked(f);
	/* Every worker is idle now (waiting for `more`), so resetting from here is race-free. */
	for (size_t i = 0; r == 0 && i < f->nworkers; i++)
		if (f->workers[i].c.reset)
			r = f->workers[i].c.reset(f->workers[i].c.u);
	if (r < 0 && f->error == 0)
		f->error = r;
	pthread_mutex_unlock(&f->lock);
	return r;
}

void fanout_free(fanout *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	if (f->fill > 0 && f->error == 0)
		publish_locked(f);
	f->stop = true;
	pthread_cond_broadcast(&f->more);
	pthread_mutex_unlock(&f->lock);
	for (size_t i = 0; i < f->nworkers; i++)
		if (f->workers[i].started)
			pthread_join(f->workers[i].thread, NULL);
	for (size_t i = 0; i < FANOUT_CHUNKS; i++)
		free(f->ring[i].data);
	pthread_cond_destroy(&f->more);
	pthread_cond_destroy(&f->room);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
