/* SPDX-License-Identifier: MIT */
/* Whole-buffer I/O: loops over short transfers and EINTR so callers never do. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads exactly len bytes at off. 0, -errno, or -EIO when the file ends first. */
int pread_full(int fd, void *buf, size_t len, uint64_t off);
/* Reads len bytes at off, fewer only where the file ends (a short file is
 * an answer here, not an error). Bytes read, or -1 with errno set. */
ssize_t pread_upto(int fd, void *buf, size_t len, uint64_t off);
/* Writes exactly len bytes at off. 0 or -errno. */
int pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
/* Writes exactly len bytes at the file position (pipes). 0 or -errno. */
int write_full(int fd, const void *buf, size_t len);
/* Reads a whole file of at most max bytes into a NUL-terminated buffer the
 * caller frees. 0, -EFBIG when larger, or -errno. */
int read_file_capped(const char *path, size_t max, char **ret, size_t *ret_len);
