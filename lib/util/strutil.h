/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void hex_encode(const unsigned char *in, size_t n, char *out);
/* True when s is exactly len hex digits. */
bool hex_valid(const char *s, size_t len);
/* Copies s lowercased into out (size len+1). */
void hex_lower(const char *s, size_t len, char *out);

/* The last path component of a URL, with query and fragment removed and
 * %-escapes decoded; NULL when the URL has none (ends in '/') or on OOM.
 * Caller frees. Never contains '/'. */
char *url_file_name(const char *url);

/* "1.5 GiB" style; buf of at least 16 bytes. */
const char *format_bytes(uint64_t n, char *buf, size_t len);
/* Formats a message into err (errlen bytes; nothing when err is NULL) and
 * returns code: `return errmsg(err, errlen, -EBADMSG, "bad %s", x);`. */
int errmsg(char *err, size_t errlen, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
