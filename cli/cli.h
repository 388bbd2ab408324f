/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include <imgfetch/imgfetch.h>

/* Exit codes: documented in docs/exit-codes.md and `imgfetch --help`; stable. */
enum {
	EXIT_OK = 0,
	EXIT_ERROR = 1,
	EXIT_USAGE = 2,
	EXIT_VERIFY = 3,
	EXIT_NETWORK = 4,
	EXIT_NOT_FOUND = 5,
	EXIT_FORMAT = 6,
	EXIT_AUTH = 7,
	EXIT_SIGINT = 130,
	EXIT_SIGTERM = 143,
};

typedef struct cli_output {
	int verbosity;      /* 0 quiet, 1 normal, 2 verbose */
	bool progress;      /* draw a progress bar (stderr is a TTY and not quiet) */
	bool bar_drawn;     /* a bar is on screen and must be cleared before a message */
	double bar_started; /* monotonic seconds of the current transfer's first report */
	double last_draw;
} cli_output;

/* Installs log and progress callbacks printing to stderr. */
void cli_output_attach(cli_output *out, imgfetch_ctx *ctx);
/* A context reporting to `out` (which must outlive it) and cancelled by
 * SIGINT/SIGTERM; NULL after printing why. */
imgfetch_ctx *cli_ctx_new(cli_output *out);
/* "imgfetch: openpgp signature on URL verified: key FPR, "uid" (file)" on stderr; NULL: nothing. */
void cli_print_signature(const imgfetch_signature *s);
/* Clears any progress bar line. */
void cli_output_clear(cli_output *out);

/* Installs SIGINT/SIGTERM handlers that cancel ctx. */
void cli_signals_install(imgfetch_ctx *ctx);
/* Detaches the handlers from the context before it is freed. */
void cli_signals_release(void);
/* 130/143 when a signal cancelled the run, else 0. */
int cli_signal_exit_code(void);

/* --password-stdin: the password from standard input (one trailing newline
 * dropped), or NULL after printing why. Free with cli_wipe_password(). */
char *cli_read_password(const char *cmd);
void cli_wipe_password(char *password);
/* Registry credentials: --username and --password-stdin go together; with
 * them, *ret is the password read (else NULL). EXIT_OK or EXIT_USAGE after
 * printing why. */
int cli_registry_password(const char *cmd, const char *username, bool password_stdin, char **ret);
/* --platform OS/ARCH[/VARIANT]. */
bool cli_platform_valid(const char *p);

/* Maps a library status to the exit code. */
int cli_exit_code(imgfetch_status st);

int cmd_get(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_vendors(int argc, char **argv);
/* resolve and fetch (argv[0] says which) */
int cmd_catalog(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
/* push, and index create (argv[0] is "index") */
int cmd_push(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_deliver(int argc, char **argv);
