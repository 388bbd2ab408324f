/* SPDX-License-Identifier: MIT */
/* What the registry commands (inspect, pull, push, index) check alike. */
#include <string.h>

#include "cli.h"

bool cli_platform_valid(const char *p)
{
	size_t slashes = 0;
	for (const char *q = p; *q; q++)
		slashes += *q == '/';
	return slashes >= 1 && slashes <= 2 && p[0] != '/' && !strstr(p, "//") && p[strlen(p) - 1] != '/';
}
