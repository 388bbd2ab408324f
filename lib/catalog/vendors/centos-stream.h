/* SPDX-License-Identifier: MIT */
/* CentOS Stream's listing parsers: pure, for the resolver and its fuzz target. */
#pragma once

#include <stddef.h>

/* Picks the stream for `release` ("latest": the highest; "10" or "10-stream")
 * from the listing of the cloud root's <N>-stream/ directories. 0 with
 * *ret_stream ("10"; caller frees); -ENOENT (*known gets the streams, caller
 * frees with strv_free); -ENOMEM. */
int centos_stream_pick_release(char *const *listing, const char *release, char **ret_stream, char ***known);

/* The dated CentOS-Stream-GenericCloud-<N>-<YYYYMMDD>[.<k>].<arch>.qcow2
 * images in a listing of <N>-stream/<arch>/images/, newest first
 * (NULL-terminated, possibly empty; NULL when out of memory). Caller frees
 * with strv_free. */
char **centos_stream_images(char *const *listing, const char *stream, const char *arch);
