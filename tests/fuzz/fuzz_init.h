/* SPDX-License-Identifier: MIT */
/* Settings of the fuzzing process (fuzz_init.c). */
#pragma once

#include <stdbool.h>

/* IMGFETCH_FUZZ_ONE_THREAD=1 (the deterministic smoke run of `make check`):
 * targets use no threads, so that coverage does not depend on timing. */
extern bool fuzz_one_thread;
