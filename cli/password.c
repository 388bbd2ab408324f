/* SPDX-License-Identifier: MIT */
/* --password-stdin for the registry commands: one reader, wiped after use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define PASSWORD_MAX 4096

static void wipe_buf(char *buf, size_t len)
{
	volatile char *p = buf;
	while (len--)
		*p++ = 0;
}

char *cli_read_password(const char *cmd)
{
	char *buf = calloc(1, PASSWORD_MAX + 1);
	if (!buf) {
		fprintf(stderr, "imgfetch %s: out of memory\n", cmd);
		return NULL;
	}
	const char *why = NULL;
	size_t n = 0;
	for (;;) {
		ssize_t r = read(STDIN_FILENO, buf + n, PASSWORD_MAX - n);
		if (r < 0) {
			why = "cannot read the password from standard input";
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == PASSWORD_MAX) {
			why = "the password on standard input is too long";
			break;
		}
	}
	if (!why) {
		/* One trailing newline (LF or CRLF) is the end of the line, not the password. */
		if (n > 0 && buf[n - 1] == '\n')
			n--;
		if (n > 0 && buf[n - 1] == '\r')
			n--;
		buf[n] = '\0';
		if (n == 0 || memchr(buf, '\0', n))
			why = "no usable password on standard input";
	}
	if (why) {
		fprintf(stderr, "imgfetch %s: %s\n", cmd, why);
		wipe_buf(buf, PASSWORD_MAX);
		free(buf);
		return NULL;
	}
	return buf;
}

void cli_wipe_password(char *s)
{
	if (s) {
		wipe_buf(s, strlen(s));
		free(s);
	}
}

int cli_registry_password(const char *cmd, const char *username, bool password_stdin, char **ret)
{
	*ret = NULL;
	if (!username != !password_stdin) {
		fprintf(stderr, "imgfetch %s: --username and --password-stdin go together\n", cmd);
		return EXIT_USAGE;
	}
	if (password_stdin && !(*ret = cli_read_password(cmd)))
		return EXIT_USAGE;
	return EXIT_OK;
}
