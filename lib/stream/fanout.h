/* SPDX-License-Identifier: MIT */
/*
 * Fan-out of one byte stream to several consumers, each on its own thread.
 *
 * Downloads must hash (SHA-256, sometimes SHA-512) and write to disk while the
 * network delivers; doing all of it on the receiving thread serialises work
 * that the machine can overlap. The producer copies bytes into a small ring of
 * fixed chunks (bounded memory: FANOUT_CHUNKS x FANOUT_CHUNK_SIZE) and every
 * consumer walks the ring at its own pace.
 */
#pragma once

#include <stddef.h>

#define FANOUT_CHUNK_SIZE (1024u * 1024u)
#define FANOUT_CHUNKS 6u
#define FANOUT_MAX_CONSUMERS 4u

typedef struct fanout_consumer {
	/* Consume n bytes; return 0 or a negative errno, which stops the stream. */
	int (*consume)(void *u, const void *buf, size_t n);
	/* Forget everything consumed so far (the stream restarts from byte 0). */
	int (*reset)(void *u);
	void *u;
} fanout_consumer;

typedef struct fanout fanout;

/* Starts one thread per consumer. 0 or negative errno. */
int fanout_new(const fanout_consumer *consumers, size_t n, fanout **ret);
/* Queues bytes; blocks while the ring is full. Returns a consumer's error, if any. */
int fanout_feed(fanout *f, const void *buf, size_t n);
/* Waits for consumers to catch up, then resets each of them. */
int fanout_reset(fanout *f);
/* Waits until every queued byte was consumed; returns the first consumer error. */
int fanout_drain(fanout *f);
/* Stops the threads (after draining) and frees. NULL is fine. */
void fanout_free(fanout *f);
