/* SPDX-License-Identifier: MIT */
/*
 * Directory listings: the HTML index pages of nginx, Apache and lighttpd,
 * or any page of links. Names that could not be used verbatim in a URL or a
 * file name are dropped (no vendor publishes such names). Only href attributes are read; the rest of the page
 * is ignored, so a theme change on a mirror does not break it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog/catalog.h"

void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

size_t strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

int strv_push(char ***v, size_t *n, const char *s)
{
	if (*n >= LISTING_MAX_ENTRIES)
		return -EFBIG;
	char **nv = realloc(*v, (*n + 2) * sizeof(**v));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	if (!(nv[*n] = strdup(s)))
		return -ENOMEM;
	nv[++*n] = NULL;
	return 0;
}

int strv_push_unique(char ***v, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0)
			return 0;
	return strv_push(v, n, s);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A direct child's name from an href value, or NULL to skip it. */
static char *child_name(const char *v, size_t n)
{
	/* "./name" is the same child. */
	if (n >= 2 && v[0] == '.' && v[1] == '/') {
		v += 2;
		n -= 2;
	}
	if (n == 0 || v[0] == '/' || v[0] == '?' || v[0] == '#')
		return NULL;
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (c == '?' || c == '#' || c == ':' || c == '\\' || (unsigned char)c < 0x20)
			goto skip; /* queries (sort links), schemes, control bytes */
		if (c == '&') {
			/* The only entity that matters in a file name. */
			if (n - i >= 5 && memcmp(v + i, "&amp;", 5) == 0) {
				out[o++] = '&';
				i += 4;
				continue;
			}
			goto skip;
		}
		if (c == '%') {
			int h = i + 2 < n ? hexval(v[i + 1]) : -1, l = i + 2 < n ? hexval(v[i + 2]) : -1;
			if (h < 0 || l < 0)
				goto skip;
			c = (char)(h * 16 + l);
			if ((unsigned char)c < 0x20 || c == '/')
				goto skip;
			i += 2;
		} else if (c == '/' && i != n - 1) {
			goto skip; /* deeper than a direct child */
		}
		out[o++] = c;
	}
	out[o] = '\0';
	/* Decoded names end up in URLs and file names: only plain ones (no
	 * "..", no escapes, spaces, queries or hidden files) are kept. */
	bool dir = o > 0 && out[o - 1] == '/';
	if (dir)
		out[o - 1] = '\0';
	bool ok = name_is_safe(out);
	if (dir)
		out[o - 1] = '/';
	if (!ok)
		goto skip;
	return out;
skip:
	free(out);
	return NULL;
}

int listing_parse(const char *html, size_t len, char ***ret)
{
	if (len > LISTING_MAX_BYTES)
		return -EFBIG;
	char **v = NULL;
	size_t n = 0, cap = 0;
	for (size_t i = 0; i + 5 < len; i++) {
		if (strncasecmp(html + i, "href", 4) != 0)
			continue;
		size_t j = i + 4;
		while (j < len && (html[j] == ' ' || html[j] == '\t' || html[j] == '\n' || html[j] == '\r'))
			j++;
		if (j >= len || html[j] != '=')
			continue;
		j++;
		while (j < len && (html[j] == ' ' || html[j] == '\t'))
			j++;
		if (j >= len)
			break;
		char q = html[j];
		size_t start, end;
		if (q == '"' || q == '\'') {
			start = j + 1;
			const char *e = memchr(html + start, q, len - start);
			if (!e)
				break;
			end = (size_t)(e - html);
		} else {
			start = j;
			end = j;
			while (end < len && html[end] != ' ' && html[end] != '>' && html[end] != '\t' && html[end] != '\n')
				end++;
		}
		i = end;
		char *name = child_name(html + start, end - start);
		if (!name)
			continue;
		if (n == LISTING_MAX_ENTRIES) {
			free(name);
			strv_free(v);
			return -EBADMSG;
		}
		if (n + 2 > cap) {
			size_t nc = cap ? cap * 2 : 64;
			char **nv = realloc(v, nc * sizeof(*nv));
			if (!nv) {
				free(name);
				strv_free(v);
				return -ENOMEM;
			}
			v = nv;
			cap = nc;
		}
		v[n++] = name;
		v[n] = NULL;
	}
	if (!v && !(v = calloc(1, sizeof(*v))))
		return -ENOMEM;
	*ret = v;
	return 0;
}
