/* SPDX-License-Identifier: MIT */
#include "cli.h"

int cmd_deliver(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return EXIT_USAGE;
}
