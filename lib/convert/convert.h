/* SPDX-License-Identifier: MIT */
/* Internal pieces of imgfetch_convert() shared by its output kinds. */
#pragma once

#include "convert/engine.h"
#include "convert/input.h"

/* Runs the whole input through writer w (not finished here). */
IMGFETCH_WARN_UNUSED imgfetch_status convert_run(imgfetch_ctx *ctx, const imgfetch_convert_opts *o, conv_input *in,
                                                 img_writer *w, unsigned threads, const char *label,
                                                 engine_stats *stats);

/* zvol output: the .zfs.gz at o->output and the IMGAPI manifest beside it
 * (res->manifest_path, uuid, sha1, output_size filled in). */
IMGFETCH_WARN_UNUSED imgfetch_status convert_zvol(imgfetch_ctx *ctx, const imgfetch_convert_opts *o, conv_input *in,
                                                  unsigned threads, const char *label, engine_stats *stats,
                                                  imgfetch_convert_result *res);
