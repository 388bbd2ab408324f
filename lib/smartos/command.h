/* SPDX-License-Identifier: MIT */
/*
 * Running an external command (zfs, zonename, imgadm) the way the library
 * needs it: found on PATH and started with fork/exec, never through a shell;
 * stdin from /dev/null; stdout captured (bounded) or streamed to a sink as it
 * arrives; the tail of stderr kept for the error message; cancellable.
 *
 * Each command runs in its own process group, so that cancelling it
 * (SIGTERM to the group, then SIGKILL after a grace period) also reaches
 * anything it started, and a terminal's ^C reaches only imgfetch, which then
 * decides. The child is always reaped before command_run() returns.
 * Every descriptor made here is O_CLOEXEC, so concurrent commands do not
 * inherit each other's pipes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "core/ctx.h"

/* Receives stdout as it arrives. 0 to go on, or a negative errno: the
 * command is then terminated and command_run() fails. gz_output_push() fits. */
typedef int (*command_sink_fn)(void *u, const void *buf, size_t n);

#define COMMAND_STDERR_TAIL 4096

typedef struct command_opts {
	command_sink_fn sink;     /* NULL: stdout is captured into the result */
	void *sink_u;
	size_t max_stdout;        /* captured stdout; 0: 1 MiB. Beyond it the output is read
	                             and dropped (stdout_truncated), the command is not stopped */
	bool uncancellable;       /* cleanup commands: run to completion even when ctx is cancelled */
} command_opts;

typedef struct command_result {
	int exit_code;            /* when it exited; -1 when killed by a signal */
	int term_signal;          /* the signal that killed it, else 0 */
	char *out;                /* captured stdout, NUL-terminated; owned, command_result_free() */
	size_t out_len;
	bool stdout_truncated;
	char err[COMMAND_STDERR_TAIL]; /* the last bytes of stderr, trailing whitespace removed */
} command_result;

/*
 * Runs argv (argv[0] looked up on PATH; argv NULL-terminated) to completion.
 * IMGFETCH_OK only when it exited with status 0. Otherwise the ctx error
 * names the command line and says what happened, with its stderr:
 *   IMGFETCH_E_NOT_FOUND  argv[0] could not be executed (not on PATH, not executable)
 *   IMGFETCH_E_FAILED     non-zero exit or a signal (r->exit_code / r->term_signal),
 *                         a failing sink, or a system error (pipe, fork, poll)
 *   IMGFETCH_E_CANCELLED  ctx was cancelled; the process group was terminated and reaped
 * r is filled in every case and must be freed with command_result_free(),
 * also on error. opts may be NULL (capture, cancellable).
 */
imgfetch_status command_run(imgfetch_ctx *ctx, const char *const *argv, const command_opts *opts,
                            command_result *r);
void command_result_free(command_result *r);

/* True when name (without '/') is an executable file in a PATH directory. */
bool command_on_path(const char *name);

/* "zfs create -s -V 1048576 ..." for messages, arguments with spaces or
 * shell-special characters in single quotes; cut to len with "...". */
void command_format(const char *const *argv, char *buf, size_t len);
