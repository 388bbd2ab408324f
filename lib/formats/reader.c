/* SPDX-License-Identifier: MIT */
/* The part every image reader shares: error slot and format probing. */
#include <errno.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "formats/image.h"

void img_reader_init(img_reader *r, const img_reader_ops *ops, const char *format)
{
	r->ops = ops;
	memset(&r->info, 0, sizeof(r->info));
	r->info.format = format;
	pthread_mutex_init(&r->err_lock, NULL);
	r->err[0] = '\0';
	atomic_store(&r->err_set, 0);
}

void img_reader_set_error(img_reader *r, const char *fmt, ...)
{
	pthread_mutex_lock(&r->err_lock);
	if (!atomic_load(&r->err_set)) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->err, sizeof(r->err), fmt, ap);
		va_end(ap);
		atomic_store(&r->err_set, 1);
	}
	pthread_mutex_unlock(&r->err_lock);
}

const char *img_reader_error(img_reader *r)
{
	return atomic_load(&r->err_set) ? r->err : "";
}

void img_reader_destroy(img_reader *r)
{
	pthread_mutex_destroy(&r->err_lock);
}

const char *img_probe(const void *head, size_t len)
{
	const unsigned char *p = head;
	if (len >= 4 && memcmp(p, "QFI\xfb", 4) == 0)
		return "qcow2";
	/* Sparse extent header magic "KDMV" (little-endian 0x564d444b). */
	if (len >= 4 && memcmp(p, "KDMV", 4) == 0)
		return "vmdk";
	return NULL;
}

int img_file_size(int fd, uint64_t *ret, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot stat the image: %s", strerror(e));
		return -e;
	}
	if (S_ISREG(st.st_mode)) {
		*ret = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode)) {
		/* Not lseek(SEEK_END): the fd's offset is the caller's. */
		uint64_t bytes = 0;
		if (ioctl(fd, BLKGETSIZE64, &bytes) < 0) {
			int e = errno;
			snprintf(err, errlen, "cannot get the size of the block device: %s", strerror(e));
			return -e;
		}
		*ret = bytes;
		return 0;
	}
	snprintf(err, errlen, "not a regular file or block device");
	return -EINVAL;
}
