/* SPDX-License-Identifier: MIT */
/*
 * Reading the indexes of an .xz file without decoding it: liblzma's
 * file-info decoder walks from the end of the file backwards, stream by
 * stream (footer, index, header), checking padding and structure.
 */
#pragma once

#include <lzma.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The combined index of every stream of the file on fd (file_size bytes),
 * owned by the caller (lzma_index_end). -EBADMSG for a corrupt or truncated
 * file, -ENOTSUP when the index needs more than a fixed memory cap. */
int xz_read_index(int fd, uint64_t file_size, lzma_index **ret, char *err, size_t errlen);
/* The integrity checks the streams of idx use (see xz.c for the policy): 0,
 * or -EBADMSG with a message naming the check id when one is a type liblzma
 * cannot verify. *ret_unchecked (optional): some stream has check type NONE. */
int xz_index_checks(const lzma_index *idx, bool *ret_unchecked, char *err, size_t errlen);
