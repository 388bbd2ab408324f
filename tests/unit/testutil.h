/* SPDX-License-Identifier: MIT */
/* Helpers shared by the unit tests; include after tap.h. */
#ifndef IMGFETCH_TESTS_TESTUTIL_H
#define IMGFETCH_TESTS_TESTUTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

/* Runs a shell command line built like printf: 0 when it exits 0, else -1
 * after printing the command as a TAP comment. For the real tools the tests
 * compare with (qemu-img, gzip, xz...). */
__attribute__((format(printf, 1, 2), unused)) static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int st = system(cmd);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		tap_diag("command failed: %s", cmd);
		return -1;
	}
	return 0;
}

#endif
