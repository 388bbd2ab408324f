/* SPDX-License-Identifier: MIT */
/*
 * What a feed may put into a URL or a file name. Feeds are untrusted: a path
 * appended to a vendor's base must stay below it and must not change the
 * request (no query, fragment, escapes, spaces or "..").
 */
#include <stdbool.h>
#include <string.h>

#include "catalog/catalog.h"

static bool url_char_ok(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '?' && c != '#' && c != '%' && c != '\\' && c != ':' && c != '"' &&
	       c != '<' && c != '>' && c != '`' && c != '{' && c != '}' && c != '|' && c != '^';
}

bool url_path_is_safe(const char *path)
{
	size_t n = path ? strlen(path) : 0;
	if (n == 0 || n > 1024 || path[0] == '/' || strstr(path, "//"))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!url_char_ok((unsigned char)path[i]))
			return false;
	/* No "." or ".." segment anywhere. */
	for (const char *seg = path; seg; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL)
		if (seg[0] == '.' && (seg[1] == '/' || seg[1] == '\0' || (seg[1] == '.' && (seg[2] == '/' || !seg[2]))))
			return false;
	return true;
}

bool name_is_safe(const char *s)
{
	return s && s[0] && s[0] != '.' && strlen(s) < 256 && !strchr(s, '/') && url_path_is_safe(s);
}

bool word_in_list(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; n && p && (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return true;
	return false;
}
