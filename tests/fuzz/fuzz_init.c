/* SPDX-License-Identifier: MIT */
/*
 * Linked into every fuzz target: what the process does before the first input.
 *
 * `make check`'s smoke run must explore the same inputs on every run of a
 * commit (tests/run.py pins the seed, the run count, the environment and
 * ASLR). Threads would make coverage depend on timing, so the smoke run asks
 * the targets for none; the soak keeps them.
 */
#include <stdlib.h>

#include "fuzz_init.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

bool fuzz_one_thread;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *t = getenv("IMGFETCH_FUZZ_ONE_THREAD");
	fuzz_one_thread = t && t[0] == '1';
	return 0;
}
