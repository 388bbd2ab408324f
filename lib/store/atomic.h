/* SPDX-License-Identifier: MIT */
/*
 * Files that appear complete or not at all. Content is written to an anonymous
 * O_TMPFILE inode in the destination directory (or, where the file system lacks
 * it, to a hidden locked temp file), fsynced, and only then given its name;
 * the directory is fsynced after. A crash, kill -9 or error leaves nothing
 * visible at the destination, and with O_TMPFILE nothing at all.
 */
#pragma once

#include <stdbool.h>

typedef struct atomic_file {
	int fd;         /* write here */
	int dirfd;
	char *name;     /* final name within dirfd */
	char *tmpname;  /* the visible temp file when O_TMPFILE was not available */
} atomic_file;

#define ATOMIC_FILE_INIT { .fd = -1, .dirfd = -1 }

/* Prefix of named temp files; sweepers match on it. */
#define ATOMIC_TMP_MARK ".imgfetch-tmp-"

/* 0 or negative errno. The directory of `path` must exist. */
int atomic_file_open(const char *path, int mode, atomic_file *ret);
/* fsync, name it (replacing an existing file), fsync the directory; closes. */
int atomic_file_commit(atomic_file *f);
/* Discards the content; safe to call after commit or on an unopened file. */
void atomic_file_abort(atomic_file *f);

/* A scratch file in dir that no name leads to: an O_TMPFILE inode, or where
 * the file system lacks it a temp file unlinked at once. Read-write,
 * close-on-exec; the descriptor is the only way to it, so its bytes cannot be
 * swapped by name and a killed run leaves nothing. fd, or -errno. */
int scratch_file_open(const char *dir);

/* Removes named temp files in `dir` older than max_age_s whose writer is gone. */
void atomic_sweep_dir(const char *dir, long max_age_s);
