/* SPDX-License-Identifier: MIT */
/* Scope-bound ownership: a variable declared _cleanup_free_ is freed when it goes
 * out of scope unless ownership is handed on with TAKE_PTR(). */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static inline void ifx_freep(void *p)
{
	free(*(void **)p);
}

static inline void ifx_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

#define _cleanup_free_ __attribute__((cleanup(ifx_freep)))
#define _cleanup_close_ __attribute__((cleanup(ifx_closep)))

#define TAKE_PTR(p)                          \
	({                                   \
		__typeof__(p) take_ptr_ = (p); \
		(p) = NULL;                  \
		take_ptr_;                   \
	})

#define TAKE_FD(fd)                  \
	({                           \
		int take_fd_ = (fd); \
		(fd) = -1;           \
		take_fd_;            \
	})
