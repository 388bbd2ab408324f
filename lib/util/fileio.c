/* SPDX-License-Identifier: MIT */
#include "util/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

ssize_t pread_upto(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	if (len > 0 && (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off))
		return -EIO;
	ssize_t n = pread_upto(fd, buf, len, off);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO; /* the file ended first */
}

int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;
	while (len > 0) {
		if (off > (uint64_t)INT64_MAX)
			return -EFBIG;
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int read_file_capped(const char *path, size_t max, char **ret, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char *buf = malloc(max + 1);
	size_t len = 0;
	int r = buf ? 0 : -ENOMEM;
	while (r == 0) {
		if (len == max) {
			char c;
			ssize_t n = read(fd, &c, 1);
			r = n > 0 ? -EFBIG : n < 0 && errno != EINTR ? -errno : 0;
			if (n == 0)
				break;
			continue;
		}
		ssize_t n = read(fd, buf + len, max - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = -errno;
		else if (n == 0)
			break;
		else
			len += (size_t)n;
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

static int refuse_type(mode_t mode, mode_t *ret_type)
{
	if (ret_type)
		*ret_type = mode & S_IFMT;
	return S_ISLNK(mode) ? -ELOOP : S_ISDIR(mode) ? -EISDIR : -ENXIO;
}

int open_nofollow_regular(int dirfd, const char *path, int flags, mode_t mode, mode_t *ret_type)
{
	struct stat st;
	if (ret_type)
		*ret_type = 0;
	/* Look before opening: opening a device can have effects of its own
	 * (a tape rewinds, a terminal becomes the controlling one). */
	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISREG(st.st_mode))
			return refuse_type(st.st_mode, ret_type);
	} else if (errno != ENOENT || !(flags & O_CREAT)) {
		return -errno;
	}
	/* O_NOFOLLOW and O_NONBLOCK close the race with whoever swaps the name
	 * in between: a link fails with ELOOP, a FIFO opens without waiting for
	 * a writer and is refused below. */
	int fd = openat(dirfd, path, flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, mode);
	if (fd < 0) {
		int e = errno;
		if (e == ELOOP && ret_type)
			*ret_type = S_IFLNK;
		else if (e == EISDIR && ret_type)
			*ret_type = S_IFDIR;
		return -e;
	}
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return refuse_type(st.st_mode, ret_type);
	}
	if (!(flags & O_NONBLOCK)) {
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
	}
	return fd;
}

const char *file_type_name(mode_t type)
{
	switch (type & S_IFMT) {
	case S_IFREG: return "a regular file";
	case S_IFLNK: return "a symbolic link";
	case S_IFDIR: return "a directory";
	case S_IFIFO: return "a FIFO";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFSOCK: return "a socket";
	default: return "not a regular file";
	}
}

int remove_nonregular(int dirfd, const char *path)
{
	struct stat st;
	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISREG(st.st_mode))
		return -EEXIST;
	/* unlink(2) removes a link itself, never what it points to. */
	if (unlinkat(dirfd, path, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
		return errno == ENOENT ? 0 : errno == EEXIST ? -ENOTEMPTY : -errno;
	return 0;
}
