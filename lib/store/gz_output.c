/* SPDX-License-Identifier: MIT */
/* placeholder: being written */
typedef int placeholder_gz_output;
