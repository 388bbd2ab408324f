/* SPDX-License-Identifier: MIT */
#pragma once

#include "core/ctx.h"

/* Copies all of in_fd to out_fd (both at offset 0): a reflink where the file
 * system shares blocks, else copy_file_range, else read/write. 0, -ECANCELED
 * when ctx is cancelled meanwhile, or another negative errno. */
int copy_whole_file(imgfetch_ctx *ctx, int in_fd, int out_fd);
