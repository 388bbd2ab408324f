/* SPDX-License-Identifier: MIT */
/* Everything the CLI shows on stderr: log lines and the progress bar. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static double mono(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static const char *human(uint64_t n, char *buf, size_t len)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

void cli_output_clear(cli_output *out)
{
	if (out->bar_drawn) {
		fputs("\r\033[K", stderr);
		out->bar_drawn = false;
	}
}

static void on_log(void *u, imgfetch_log_level level, const char *msg)
{
	cli_output *out = u;
	int need = level <= IMGFETCH_LOG_WARNING ? 0 : level == IMGFETCH_LOG_NOTICE ? 1 : 2;
	if (out->verbosity < need)
		return;
	cli_output_clear(out);
	const char *tag = level == IMGFETCH_LOG_ERROR ? "error: " : level == IMGFETCH_LOG_WARNING ? "warning: " : "";
	fprintf(stderr, "imgfetch: %s%s\n", tag, msg);
}

static void on_progress(void *u, const imgfetch_progress *p)
{
	cli_output *out = u;
	double t = mono();
	if (!out->progress)
		return;
	if (out->bar_started == 0 || p->done == 0)
		out->bar_started = t;
	if (!p->finished && t - out->last_draw < 0.1)
		return;
	out->last_draw = t;

	char done[32], total[32], rate[32], eta[32] = "";
	double elapsed = t - out->bar_started;
	double bps = elapsed > (p->finished ? 0.001 : 0.2) ? (double)p->done / elapsed : 0;
	human(p->done, done, sizeof(done));
	human((uint64_t)bps, rate, sizeof(rate));
	if (p->total > 0 && bps > 0 && p->done <= p->total) {
		uint64_t left = (uint64_t)((double)(p->total - p->done) / bps);
		snprintf(eta, sizeof(eta), " ETA %" PRIu64 ":%02" PRIu64, left / 60, left % 60);
	}
	char label[41];
	snprintf(label, sizeof(label), "%s", p->label ? p->label : "");
	if (p->total > 0) {
		int pct = (int)(p->done * 100 / p->total);
		int fill = pct / 5;
		char bar[21];
		memset(bar, '#', (size_t)fill);
		memset(bar + fill, '.', (size_t)(20 - fill));
		bar[20] = '\0';
		fprintf(stderr, "\r\033[K%-40s [%s] %3d%% %s / %s  %s/s%s", label, bar, pct, done,
		        human(p->total, total, sizeof(total)), rate, eta);
	} else {
		fprintf(stderr, "\r\033[K%-40s %s  %s/s", label, done, rate);
	}
	out->bar_drawn = true;
	if (p->finished) {
		fputc('\n', stderr);
		out->bar_drawn = false;
		out->bar_started = 0;
	}
	fflush(stderr);
}

void cli_output_attach(cli_output *out, imgfetch_ctx *ctx)
{
	imgfetch_ctx_set_log(ctx, on_log, out);
	imgfetch_ctx_set_progress(ctx, on_progress, out);
}

imgfetch_ctx *cli_ctx_new(cli_output *out)
{
	imgfetch_ctx *ctx = imgfetch_ctx_new();
	if (!ctx) {
		fprintf(stderr, "imgfetch: cannot initialise (out of memory, or libcurl failed)\n");
		return NULL;
	}
	cli_output_attach(out, ctx);
	/* Where the shipped keys are when imgfetch runs from somewhere other
	 * than its install prefix (a build tree, a relocated package). */
	const char *keys = getenv("IMGFETCH_KEYS_DIR");
	if (keys && keys[0] && imgfetch_ctx_set_keys_dir(ctx, keys) < 0) {
		fprintf(stderr, "imgfetch: out of memory\n");
		imgfetch_ctx_free(ctx);
		return NULL;
	}
	cli_signals_install(ctx);
	return ctx;
}

void cli_print_signature(const imgfetch_signature *s)
{
	if (!s)
		return;
	fprintf(stderr, "imgfetch: %s signature on %s verified: key %s%s%s%s (%s)\n", s->scheme,
	        s->signed_url ? s->signed_url : "?", s->fingerprint ? s->fingerprint : "?", s->uid ? ", \"" : "",
	        s->uid ? s->uid : "", s->uid ? "\"" : "", s->key_file ? s->key_file : "?");
}
