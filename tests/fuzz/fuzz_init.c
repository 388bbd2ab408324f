/* SPDX-License-Identifier: MIT */
/*
 * Linked into every fuzz target: what the process does before the first input.
 *
 * `make check`'s smoke run must explore the same inputs on every run of a
 * commit (tests/run.py pins the seed, the run count, the environment and
 * ASLR). jansson picks its hash seed from /dev/urandom, which changes the
 * order in which the parsers meet an object's keys, and with it the coverage
 * that steers the fuzzer: here it is fixed. The library itself keeps
 * jansson's random seed (hash flooding).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_init.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

bool fuzz_one_thread;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	json_object_seed(0x5eed1234u);
	/* Threads make coverage depend on timing; the smoke run asks for one. */
	const char *t = getenv("IMGFETCH_FUZZ_ONE_THREAD");
	fuzz_one_thread = t && t[0] == '1';
	return 0;
}
