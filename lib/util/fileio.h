/* SPDX-License-Identifier: MIT */
/* Whole-buffer I/O: loops over short transfers and EINTR so callers never do. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Opens a file under a name imgfetch chose itself (a cache entry, its
 * metadata or lock, a digest stamp), relative to dirfd (AT_FDCWD for a path),
 * never through a symbolic link and never blocking on a FIFO: what is there is
 * looked at first (a device or FIFO is refused without being opened), then
 * opened with O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC added to flags,
 * and checked again on the descriptor. O_NONBLOCK is dropped again unless the
 * caller asked for it. With O_CREAT, a missing name is created (mode).
 * Returns the descriptor, or -errno: -ENOENT when missing (without O_CREAT),
 * and when the name holds something other than a regular file: -ELOOP for a
 * symbolic link (its target is not touched), -EISDIR for a directory, -ENXIO
 * for a FIFO, device or socket; *ret_type (optional) then says which
 * (S_IFLNK, S_IFDIR, ...; 0 for every other failure). */
int open_nofollow_regular(int dirfd, const char *path, int flags, mode_t mode, mode_t *ret_type);
/* "a symbolic link", "a directory", "a FIFO", "a character device", "a block
 * device", "a socket", "a regular file" for an S_IFMT value. */
const char *file_type_name(mode_t type);
/* Removes what a name imgfetch chose holds when it is not a regular file:
 * the symbolic link itself (never its target), a FIFO, device or socket
 * node, or an empty directory. 0 when removed or absent, -EEXIST for a
 * regular file (left alone), -errno otherwise (-ENOTEMPTY: a directory with
 * something in it, which is not imgfetch's to empty). */
int remove_nonregular(int dirfd, const char *path);

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
