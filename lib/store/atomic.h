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
#include <stddef.h>

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

/*
 * Paths the user names (-o of get, convert and pull; convert's input): a
 * symbolic link is what it points to, so a link to a block device
 * (/dev/zvol/..., /dev/disk/by-id/...) is that device, but a link to a FIFO
 * or a character device is refused: a stream would go somewhere else than
 * the name suggests (or, for /dev/null, nowhere), and an open for writing
 * would wait for a reader. Naming the FIFO or device itself is fine.
 * 0, or -EINVAL with the message in err ("X is a symbolic link to a FIFO;
 * name the node itself if you mean it"). A missing path is 0.
 */
int user_path_check(const char *path, char *err, size_t errlen);

/*
 * A file name imgfetch chose inside a directory the user named (fetch -o
 * DIR, pull -o DIR with a layer's title): nothing there is ever followed or
 * written through. A symbolic link is removed (the install would replace it
 * anyway; removing it first keeps every later step from following it), a
 * directory, FIFO, device or socket is refused, not replaced: 0, or -errno
 * with the message in err.
 */
int output_chosen_prepare(const char *path, char *err, size_t errlen);

/* Removes named temp files in `dir` older than max_age_s whose writer is gone. */
void atomic_sweep_dir(const char *dir, long max_age_s);
