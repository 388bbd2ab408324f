/* SPDX-License-Identifier: MIT */
/* SIGINT/SIGTERM cancel the running job, which then removes its temp files
 * and returns; a second signal exits at once (nothing half-written is ever
 * visible, so that is safe too). */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static imgfetch_ctx *cancel_ctx;
static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
	if (caught) {
		_exit(sig == SIGTERM ? EXIT_SIGTERM : EXIT_SIGINT);
	}
	caught = sig;
	if (cancel_ctx)
		imgfetch_ctx_cancel(cancel_ctx);
}

void cli_signals_install(imgfetch_ctx *ctx)
{
	cancel_ctx = ctx;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A closed pipe on stdout must become an EPIPE error, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
}

void cli_signals_release(void)
{
	/* Keep a late signal from touching a context that is about to be freed:
	 * from here on a signal only records itself. */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, &old);
	cancel_ctx = NULL;
	sigprocmask(SIG_SETMASK, &old, NULL);
}

int cli_signal_exit_code(void)
{
	if (caught == SIGINT)
		return EXIT_SIGINT;
	if (caught == SIGTERM)
		return EXIT_SIGTERM;
	return 0;
}

int cli_exit_code(imgfetch_status st)
{
	switch (st) {
	case IMGFETCH_E_AUTH: return EXIT_AUTH;
	case IMGFETCH_OK: return EXIT_OK;
	case IMGFETCH_E_INVALID: return EXIT_USAGE;
	case IMGFETCH_E_VERIFY: return EXIT_VERIFY;
	case IMGFETCH_E_NETWORK: return EXIT_NETWORK;
	case IMGFETCH_E_NOT_FOUND: return EXIT_NOT_FOUND;
	case IMGFETCH_E_FORMAT: return EXIT_FORMAT;
	case IMGFETCH_E_CANCELLED: {
		int c = cli_signal_exit_code();
		return c ? c : EXIT_SIGINT;
	}
	case IMGFETCH_E_LOCKED:
	case IMGFETCH_E_FAILED: return EXIT_ERROR;
	}
	return EXIT_ERROR;
}
