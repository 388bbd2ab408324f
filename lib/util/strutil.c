/* SPDX-License-Identifier: MIT */
#include "util/strutil.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

bool hex_valid(const char *s, size_t len)
{
	if (strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

void hex_lower(const char *s, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[len] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

char *url_file_name(const char *url)
{
	size_t end = strcspn(url, "?#");
	const char *scheme = strstr(url, "://");
	size_t start = scheme ? (size_t)(scheme - url) + 3 : 0;
	/* Skip the authority: a URL without a path has no file name. */
	const char *path = memchr(url + start, '/', end > start ? end - start : 0);
	if (!path)
		return NULL;
	size_t pstart = (size_t)(path - url);
	size_t slash = pstart;
	for (size_t i = pstart; i < end; i++)
		if (url[i] == '/')
			slash = i;
	size_t n = end - slash - 1;
	if (n == 0)
		return NULL;
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = slash + 1; i < end; i++) {
		int hi, lo;
		if (url[i] == '%' && i + 2 < end && (hi = hexval(url[i + 1])) >= 0 &&
		    (lo = hexval(url[i + 2])) >= 0) {
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[o++] = url[i];
		}
	}
	out[o] = '\0';
	/* A decoded name must still be a plain file name. */
	if (o == 0 || memchr(out, '/', o) || memchr(out, '\0', o) || strcmp(out, ".") == 0 ||
	    strcmp(out, "..") == 0) {
		free(out);
		return NULL;
	}
	return out;
}

const char *format_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

int errmsg(char *err, size_t errlen, int code, const char *fmt, ...)
{
	if (err && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}
