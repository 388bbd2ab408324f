/* SPDX-License-Identifier: MIT */
/*
 * The download cache: one entry per URL under the cache directory, as
 *   <16 hex of sha256(url)>-<file name>        the verified download
 *   <16 hex of sha256(url)>-<file name>.json   what we know about it
 *   <16 hex of sha256(url)>-<file name>.lock   flock'ed while a run uses the entry
 * The lock is an flock, so it dies with its process. None of these names is
 * ever followed when it is a symbolic link, nor waited on when it is a FIFO:
 * cache_open() removes what is not a regular file (the entry is then
 * downloaded again).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/ctx.h"

typedef struct cache_entry {
	char *dir;
	char *path;      /* the cached file */
	char *meta_path;
	int lock_fd;
} cache_entry;

#define CACHE_ENTRY_INIT { .lock_fd = -1 }

typedef struct cache_meta {
	char sha256[65];
	char sha512[129]; /* "" when unknown */
	uint64_t size;
} cache_meta;

/* Resolves the directory (dir, or $XDG_CACHE_HOME/imgfetch, or ~/.cache/imgfetch),
 * creates it, sweeps stale temp files and takes the entry's lock (waiting unless
 * no_wait). */
IMGFETCH_WARN_UNUSED imgfetch_status cache_open(imgfetch_ctx *ctx, const char *dir, const char *url, bool no_wait,
                                                cache_entry *ret);
/* Opens the cached file for reading: never through a symbolic link, never
 * waiting on a FIFO, a regular file only (see open_nofollow_regular()).
 * The descriptor, or -errno (then there is no usable entry). */
int cache_entry_open(const cache_entry *e);
/* Reads the metadata (opened like the entry); false when missing or unreadable. */
bool cache_meta_read(const cache_entry *e, cache_meta *ret);
/* Writes the metadata atomically. 0 or negative errno. */
int cache_meta_write(const cache_entry *e, const char *url, const char *final_url, const cache_meta *m,
                     const char *verifier);
/* Removes the cached file and its metadata. */
void cache_remove(const cache_entry *e);
/* Releases the lock and frees. */
void cache_close(cache_entry *e);
