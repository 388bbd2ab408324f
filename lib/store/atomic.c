/* SPDX-License-Identifier: MIT */
#include "store/atomic.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fileio.h"

static int split_path(const char *path, char **ret_dir, char **ret_name)
{
	_cleanup_free_ char *a = strdup(path), *b = strdup(path);
	if (!a || !b)
		return -ENOMEM;
	char *name = strdup(basename(a));
	char *dir = strdup(dirname(b));
	if (!name || !dir) {
		free(name);
		free(dir);
		return -ENOMEM;
	}
	if (name[0] == '\0' || strcmp(name, "/") == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		free(name);
		free(dir);
		return -EISDIR;
	}
	*ret_dir = dir;
	*ret_name = name;
	return 0;
}

/* A hidden name beside the destination: ".<name>.imgfetch-tmp-<6 random chars>". */
static char *tmp_name(const char *name, int attempt)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	unsigned long long v = ((unsigned long long)t.tv_nsec ^ ((unsigned long long)t.tv_sec << 20)) *
	                               6364136223846793005ull +
	                       (unsigned long long)getpid() * 1442695040888963407ull + (unsigned)attempt * 2654435761u +
	                       (unsigned long long)(uintptr_t)&t;
	char suffix[7];
	for (int i = 0; i < 6; i++) {
		suffix[i] = chars[v % 36];
		v /= 36;
	}
	suffix[6] = '\0';
	char *tmp = NULL;
	if (asprintf(&tmp, ".%.200s%s%s", name, ATOMIC_TMP_MARK, suffix) < 0)
		return NULL;
	return tmp;
}

static int open_named_tmp(atomic_file *f, int mode)
{
	for (int tries = 0; tries < 100; tries++) {
		char *tmp = tmp_name(f->name, tries);
		if (!tmp)
			return -ENOMEM;
		int fd = openat(f->dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (fd < 0) {
			int e = errno;
			free(tmp);
			if (e == EEXIST)
				continue;
			return -e;
		}
		/* The lock tells a sweeper in another process that this file is alive. */
		flock(fd, LOCK_EX | LOCK_NB);
		f->fd = fd;
		f->tmpname = tmp;
		return 0;
	}
	return -EEXIST;
}

int atomic_file_open(const char *path, int mode, atomic_file *ret)
{
	atomic_file f = ATOMIC_FILE_INIT;
	_cleanup_free_ char *dir = NULL;
	int r = split_path(path, &dir, &f.name);
	if (r < 0)
		return r;
	f.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f.dirfd < 0) {
		r = -errno;
		atomic_file_abort(&f);
		return r;
	}
	f.fd = openat(f.dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
	if (f.fd < 0) {
		r = -errno;
		if (r != -EOPNOTSUPP && r != -EISDIR && r != -EINVAL) {
			atomic_file_abort(&f);
			return r;
		}
		r = open_named_tmp(&f, mode);
		if (r < 0) {
			atomic_file_abort(&f);
			return r;
		}
	}
	*ret = f;
	return 0;
}

static int link_tmpfile(atomic_file *f, const char *as)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f->fd);
	if (linkat(AT_FDCWD, proc, f->dirfd, as, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	int r = -errno;
	/* Without /proc, AT_EMPTY_PATH works for privileged callers. */
	if (r == -ENOENT && linkat(f->fd, "", f->dirfd, as, AT_EMPTY_PATH) == 0)
		return 0;
	return r;
}

int atomic_file_commit(atomic_file *f)
{
	int r;
	if (fsync(f->fd) < 0)
		return -errno;
	if (!f->tmpname) {
		r = link_tmpfile(f, f->name);
		for (int tries = 0; r == -EEXIST && tries < 100; tries++) {
			/* Replace the existing file atomically: link under a fresh temp name,
			 * then rename over it. Names we did not create are never touched. */
			char *tmp = tmp_name(f->name, tries);
			if (!tmp)
				return -ENOMEM;
			r = link_tmpfile(f, tmp);
			if (r == 0 && renameat(f->dirfd, tmp, f->dirfd, f->name) < 0) {
				r = -errno;
				unlinkat(f->dirfd, tmp, 0);
			}
			free(tmp);
		}
		if (r < 0)
			return r;
	} else {
		if (renameat(f->dirfd, f->tmpname, f->dirfd, f->name) < 0)
			return -errno;
		free(f->tmpname);
		f->tmpname = NULL;
	}
	if (fsync(f->dirfd) < 0)
		return -errno;
	close(f->fd);
	f->fd = -1;
	return 0;
}

void atomic_file_abort(atomic_file *f)
{
	if (f->tmpname && f->dirfd >= 0)
		unlinkat(f->dirfd, f->tmpname, 0);
	if (f->fd >= 0)
		close(f->fd);
	if (f->dirfd >= 0)
		close(f->dirfd);
	free(f->tmpname);
	free(f->name);
	*f = (atomic_file)ATOMIC_FILE_INIT;
}

void atomic_sweep_dir(const char *dir, long max_age_s)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	time_t now = time(NULL);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] != '.' || !strstr(e->d_name, ATOMIC_TMP_MARK))
			continue;
		/* Only our own kind of file: a link or a FIFO planted under such a
		 * name is neither followed nor waited on. */
		int fd = open_nofollow_regular(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC, 0, NULL);
		if (fd < 0)
			continue;
		struct stat st;
		/* A writer still holds its lock: leave its file alone, however old. */
		if (fstat(fd, &st) == 0 && now - st.st_mtime > max_age_s &&
		    flock(fd, LOCK_EX | LOCK_NB) == 0)
			unlinkat(dirfd(d), e->d_name, 0);
		close(fd);
	}
	closedir(d);
}

int scratch_file_open(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd >= 0 ? fd : -errno;
	char *tmp = NULL;
	if (asprintf(&tmp, "%s/" ATOMIC_TMP_MARK "scratch-XXXXXX", dir) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	int e = errno;
	if (fd >= 0)
		unlink(tmp);
	free(tmp);
	return fd >= 0 ? fd : -e;
}

int user_path_check(const char *path, char *err, size_t errlen)
{
	struct stat lst, st;
	if (lstat(path, &lst) < 0 || !S_ISLNK(lst.st_mode) || stat(path, &st) < 0)
		return 0; /* missing, not a link, or a dangling one: the install decides */
	if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
		return 0;
	snprintf(err, errlen, "%s is a symbolic link to %s; name the node itself if you mean it", path,
	         file_type_name(st.st_mode));
	return -EINVAL;
}

int output_chosen_prepare(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		int e = errno;
		snprintf(err, errlen, "cannot look at %s: %s", path, strerror(e));
		return -e;
	}
	if (S_ISREG(st.st_mode))
		return 0;
	if (S_ISLNK(st.st_mode)) {
		if (unlink(path) < 0 && errno != ENOENT) {
			int e = errno;
			snprintf(err, errlen, "%s is a symbolic link that imgfetch would replace, but cannot remove it: %s",
			         path, strerror(e));
			return -e;
		}
		return 0;
	}
	snprintf(err, errlen, "%s exists and is %s, not a regular file; imgfetch chose this name and never writes "
	         "into %s: remove it or choose another output directory", path, file_type_name(st.st_mode),
	         S_ISDIR(st.st_mode) ? "a directory" : "a special file");
	return S_ISDIR(st.st_mode) ? -EISDIR : -EEXIST;
}
