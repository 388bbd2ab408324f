/* SPDX-License-Identifier: MIT */
#pragma once

/* Copies all of in_fd to out_fd (both at offset 0): a reflink where the file
 * system shares blocks, else copy_file_range, else read/write. 0 or -errno. */
int copy_whole_file(int in_fd, int out_fd);
