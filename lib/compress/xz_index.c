/* SPDX-License-Identifier: MIT */
#include "compress/xz_index.h"
#include "util/strutil.h"
#include "util/fileio.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The combined index of a file with many blocks can be large; beyond this
 * the file is treated as one without a usable index rather than allowed a
 * big allocation. */
#define XZ_INDEX_MEMLIMIT (UINT64_C(64) << 20)
#define XZ_READ_SIZE ((size_t)64 << 10)

static const char *xz_reason(lzma_ret ret)
{
	switch (ret) {
	case LZMA_FORMAT_ERROR: return "not in the xz format";
	case LZMA_OPTIONS_ERROR: return "unsupported xz options";
	case LZMA_DATA_ERROR: return "the file is corrupt or has trailing garbage";
	case LZMA_BUF_ERROR: return "the file is truncated";
	default: return "internal liblzma error";
	}
}

int xz_read_index(int fd, uint64_t size, lzma_index **ret_index, char *err, size_t errlen)
{
	uint8_t *buf = malloc(XZ_READ_SIZE);
	if (!buf)
		return -ENOMEM;
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_index *idx = NULL;
	int r;
	lzma_ret ret = lzma_file_info_decoder(&s, &idx, XZ_INDEX_MEMLIMIT, size);
	if (ret != LZMA_OK) {
		r = errmsg(err, errlen, ret == LZMA_MEM_ERROR ? -ENOMEM : -EINVAL, "cannot start the xz index reader");
		goto out;
	}
	/* The decoder says where it wants to read next (LZMA_SEEK_NEEDED):
	 * the footer at the end, then each index, stream by stream backwards. */
	uint64_t pos = 0;
	for (;;) {
		if (s.avail_in == 0) {
			ssize_t n = pread_upto(fd, buf, XZ_READ_SIZE, pos);
			if (n < 0) {
				r = errmsg(err, errlen, -errno, "cannot read at byte %llu: %s", (unsigned long long)pos,
				               strerror(errno));
				goto out;
			}
			if (n == 0) {
				r = errmsg(err, errlen, -EBADMSG, "xz: the file ended at byte %llu while reading its index",
				               (unsigned long long)pos);
				goto out;
			}
			s.next_in = buf;
			s.avail_in = (size_t)n;
			pos += (uint64_t)n;
		}
		ret = lzma_code(&s, LZMA_RUN);
		if (ret == LZMA_STREAM_END)
			break;
		if (ret == LZMA_SEEK_NEEDED) {
			pos = s.seek_pos;
			s.avail_in = 0;
			continue;
		}
		if (ret == LZMA_OK)
			continue;
		if (ret == LZMA_MEM_ERROR)
			r = errmsg(err, errlen, -ENOMEM, "xz: out of memory reading the index");
		else if (ret == LZMA_MEMLIMIT_ERROR)
			r = errmsg(err, errlen, -ENOTSUP, "xz: the index needs more than %llu MiB of memory",
			               (unsigned long long)(XZ_INDEX_MEMLIMIT >> 20));
		else
			r = errmsg(err, errlen, ret == LZMA_PROG_ERROR ? -EINVAL : -EBADMSG, "xz: %s", xz_reason(ret));
		goto out;
	}
	*ret_index = idx;
	idx = NULL;
	r = 0;
out:
	lzma_index_end(idx, NULL);
	lzma_end(&s);
	free(buf);
	return r;
}


int xz_index_checks(const lzma_index *idx, bool *ret_unchecked, char *err, size_t errlen)
{
	/* Bit N set: some stream uses check id N. */
	uint32_t used = lzma_index_checks(idx);
	if (ret_unchecked)
		*ret_unchecked = (used & (1u << LZMA_CHECK_NONE)) != 0;
	for (unsigned id = 0; id <= LZMA_CHECK_ID_MAX; id++)
		if ((used & (1u << id)) && !lzma_check_is_supported((lzma_check)id))
			return errmsg(err, errlen, -EBADMSG,
			              "xz stream uses integrity check type %u, which this build of liblzma cannot verify; "
			              "refusing to decode unchecked data",
			              id);
	return 0;
}
