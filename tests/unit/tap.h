/* SPDX-License-Identifier: MIT */
/*
 * tap.h — a tiny header-only TAP (Test Anything Protocol) producer for unit tests.
 *
 * Usage:
 *
 *     #include "tap.h"
 *
 *     int main(void)
 *     {
 *         TAP_CHECK(parse("x") == 0, "parse accepts %s", "x");
 *         TAP_CHECK_INT_EQ(count, 3, "three entries");
 *         TAP_CHECK_STR_EQ(got, "abc", "digest of %s", name);
 *         tap_diag("extra information, printed as a TAP comment");
 *         if (!have_tool)
 *             tap_skip("no tool installed");
 *         return tap_done();
 *     }
 *
 * Each check prints "ok N - description" or "not ok N - description"; a failed
 * check adds "# " lines with file:line, the expression that failed and, for the
 * _EQ forms, both values. The description is a printf format with its
 * arguments (at least a plain string is required). tap_done() prints the plan
 * "1..N" (TAP allows the plan at the end) and returns the exit status for
 * main(): 0 when every check passed, 1 otherwise. Every check macro also
 * evaluates to true/false, so a test can stop early:
 *
 *     if (!TAP_CHECK(p != NULL, "allocated"))
 *         return tap_done();
 *
 * The counters are static, so each translation unit that includes this header
 * counts on its own: keep all the checks of one test program in one .c file.
 * Not thread-safe: make the checks from one thread.
 * Output goes to stdout and is flushed per line so a crash shows how far the
 * test got.
 */
#ifndef IMGFETCH_TESTS_TAP_H
#define IMGFETCH_TESTS_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct tap_state {
	unsigned run;
	unsigned failed;
};

static inline struct tap_state *tap_state_(void)
{
	static struct tap_state state;
	return &state;
}

__attribute__((format(printf, 1, 2))) static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("# ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
	fflush(stdout);
}

/* Records one result; `fmt`/`ap` are the caller's description. */
__attribute__((format(printf, 5, 0))) static inline bool tap_report_(bool ok, const char *expr, const char *file, int line, const char *fmt, va_list ap)
{
	struct tap_state *s = tap_state_();
	s->run++;
	if (!ok)
		s->failed++;
	printf("%sok %u - ", ok ? "" : "not ", s->run);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	if (!ok)
		printf("#   failed at %s:%d: %s\n", file, line, expr);
	fflush(stdout);
	return ok;
}

__attribute__((format(printf, 5, 6))) static inline bool tap_check_(bool ok, const char *expr, const char *file,
                                                                     int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ok = tap_report_(ok, expr, file, line, fmt, ap);
	va_end(ap);
	return ok;
}

__attribute__((format(printf, 6, 7))) static inline bool tap_check_int_(long long got, long long want,
                                                                         const char *expr, const char *file,
                                                                         int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bool ok = tap_report_(got == want, expr, file, line, fmt, ap);
	va_end(ap);
	if (!ok)
		tap_diag("  got: %lld, expected: %lld", got, want);
	return ok;
}

__attribute__((format(printf, 6, 7))) static inline bool tap_check_str_(const char *got, const char *want,
                                                                         const char *expr, const char *file,
                                                                         int line, const char *fmt, ...)
{
	bool eq = (got && want) ? strcmp(got, want) == 0 : got == want;
	va_list ap;
	va_start(ap, fmt);
	bool ok = tap_report_(eq, expr, file, line, fmt, ap);
	va_end(ap);
	if (!ok)
		tap_diag("  got: \"%s\", expected: \"%s\"", got ? got : "(null)", want ? want : "(null)");
	return ok;
}

/* TAP_CHECK(cond, fmt, ...): passes when cond is true. */
#define TAP_CHECK(cond, ...) tap_check_((cond) ? true : false, #cond, __FILE__, __LINE__, __VA_ARGS__)

/* TAP_CHECK_INT_EQ(got, want, fmt, ...): integer equality (compared as long long),
 * both values shown on failure. Each argument is evaluated once. */
#define TAP_CHECK_INT_EQ(got, want, ...)                                                                   \
	tap_check_int_((long long)(got), (long long)(want), #got " == " #want, __FILE__, __LINE__, __VA_ARGS__)

/* TAP_CHECK_STR_EQ(got, want, fmt, ...): string equality (NULL equals only NULL),
 * both values shown on failure. Each argument is evaluated once. */
#define TAP_CHECK_STR_EQ(got, want, ...) \
	tap_check_str_((got), (want), #got " == " #want, __FILE__, __LINE__, __VA_ARGS__)

/* Counts a check that could not run (e.g. a missing tool) as passed, marked
 * "# SKIP reason" so that TAP consumers report it as skipped. */
__attribute__((format(printf, 1, 2))) static inline void tap_skip(const char *fmt, ...)
{
	struct tap_state *s = tap_state_();
	va_list ap;
	s->run++;
	printf("ok %u # SKIP ", s->run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* Prints the plan and returns main()'s exit status. */
static inline int tap_done(void)
{
	struct tap_state *s = tap_state_();
	printf("1..%u\n", s->run);
	if (s->failed)
		printf("# failed %u of %u checks\n", s->failed, s->run);
	fflush(stdout);
	return s->failed ? 1 : 0;
}

#endif
