/* SPDX-License-Identifier: MIT */
/*
 * References, following the distribution spec's grammar, with one deliberate
 * difference from docker: the registry host is never implied. A first
 * component is a host only if it looks like one ('.' or ':' in it, or
 * "localhost"); "library/alpine" would silently mean Docker Hub elsewhere and
 * is refused here so that a typo cannot pull from an unexpected registry.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oci/ref.h"
#include "util/strutil.h"

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool oci_digest_valid_n(const char *d, size_t n)
{
	size_t hexlen;
	if (n > 7 && memcmp(d, "sha256:", 7) == 0)
		hexlen = 64;
	else if (n > 7 && memcmp(d, "sha512:", 7) == 0)
		hexlen = 128;
	else
		return false;
	if (n != 7 + hexlen)
		return false;
	/* Uppercase hex is refused: the digest is also a path and a cache key,
	 * and two spellings of one digest would defeat both. */
	for (size_t i = 7; i < n; i++)
		if (!is_lower_hex(d[i]))
			return false;
	return true;
}

bool oci_digest_valid(const char *d)
{
	return d && oci_digest_valid_n(d, strlen(d));
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool component_valid(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0 || !is_lower_alnum(s[0]))
		return false;
	while (i < n) {
		while (i < n && is_lower_alnum(s[i]))
			i++;
		if (i == n)
			return true;
		size_t sep = i;
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < n && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i == n || !is_lower_alnum(s[i]) || i == sep)
			return false;
	}
	return true;
}

bool oci_repository_valid(const char *s, size_t n)
{
	if (n == 0 || n > OCI_REPO_MAX)
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '/') {
			if (!component_valid(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

bool oci_tag_valid(const char *s, size_t n)
{
	if (n == 0 || n > 128)
		return false;
	if (!(isalnum((unsigned char)s[0]) || s[0] == '_') || (unsigned char)s[0] >= 0x80)
		return false;
	for (size_t i = 1; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80 || !(isalnum(c) || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static bool dns_name_valid(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		size_t len = i - start;
		if (len == 0 || len > 63 || s[start] == '-' || s[i - 1] == '-')
			return false;
		for (size_t j = start; j < i; j++) {
			unsigned char c = (unsigned char)s[j];
			if (c >= 0x80 || !(isalnum(c) || c == '-'))
				return false;
		}
		start = i + 1;
	}
	return true;
}

static int parse_port(const char *s, size_t n, uint16_t *port)
{
	if (n == 0 || n > 5)
		return -1;
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* Splits "host[:port]" (host may be "[v6]") and validates both parts. */
static int parse_host(const char *s, size_t n, oci_ref *ref, char *err, size_t errlen)
{
	size_t hostlen;
	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close)
			return errmsg(err, errlen, -EBADMSG, "unterminated IPv6 address in the registry host");
		size_t alen = (size_t)(close - s) - 1;
		char addr[64];
		unsigned char bin[16];
		if (alen == 0 || alen >= sizeof(addr))
			return errmsg(err, errlen, -EBADMSG, "invalid IPv6 address in the registry host");
		memcpy(addr, s + 1, alen);
		addr[alen] = '\0';
		if (inet_pton(AF_INET6, addr, bin) != 1)
			return errmsg(err, errlen, -EBADMSG, "invalid IPv6 address \"%s\"", addr);
		hostlen = alen + 2;
		if (hostlen < n && s[hostlen] != ':')
			return errmsg(err, errlen, -EBADMSG, "unexpected text after the IPv6 address");
	} else {
		const char *colon = memchr(s, ':', n);
		hostlen = colon ? (size_t)(colon - s) : n;
		if (!dns_name_valid(s, hostlen))
			return errmsg(err, errlen, -EBADMSG, "invalid registry host \"%.*s\"", (int)(hostlen > 64 ? 64 : hostlen), s);
	}
	if (hostlen < n && parse_port(s + hostlen + 1, n - hostlen - 1, &ref->port) < 0)
		return errmsg(err, errlen, -EBADMSG, "invalid port in \"%.*s\"", (int)(n > 80 ? 80 : n), s);
	if (!(ref->host = strndup(s, hostlen)))
		return -ENOMEM;
	for (char *p = ref->host; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

static bool looks_like_host(const char *s, size_t n)
{
	return memchr(s, '.', n) || memchr(s, ':', n) || (n > 0 && s[0] == '[') ||
	       (n == 9 && strncasecmp(s, "localhost", 9) == 0);
}

void oci_ref_clear(oci_ref *ref)
{
	free(ref->host);
	free(ref->repository);
	free(ref->tag);
	free(ref->digest);
	*ref = (oci_ref){ 0 };
}

static int parse(const char *s, size_t len, oci_ref *ref, char *err, size_t errlen)
{
	if (len >= 7 && strncasecmp(s, "oras://", 7) == 0) {
		ref->scheme = OCI_REF_ORAS;
		s += 7;
		len -= 7;
	} else if (memmem(s, len, "://", 3)) {
		return errmsg(err, errlen, -EBADMSG, "unsupported scheme (only oras:// or a plain host/repository)");
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return errmsg(err, errlen, -EBADMSG, "reference contains a space, control or non-ASCII character");

	const char *slash = memchr(s, '/', len);
	size_t hlen = slash ? (size_t)(slash - s) : len;
	if (!slash || !looks_like_host(s, hlen))
		return errmsg(err, errlen, -EBADMSG,
		              "\"%.*s\" needs an explicit registry host (e.g. ghcr.io/%.*s); there is no default registry",
		              (int)(len > 100 ? 100 : len), s, (int)(len > 100 ? 100 : len), s);
	int r = parse_host(s, hlen, ref, err, errlen);
	if (r < 0)
		return r;

	const char *rest = slash + 1;
	size_t rlen = len - hlen - 1;
	const char *at = memchr(rest, '@', rlen);
	size_t nlen = at ? (size_t)(at - rest) : rlen;
	if (at) {
		size_t dlen = rlen - nlen - 1;
		if (!oci_digest_valid_n(at + 1, dlen))
			return errmsg(err, errlen, -EBADMSG,
			              "invalid digest \"%.*s\" (expected sha256:<64 lowercase hex> or sha512:<128 lowercase hex>)",
			              (int)(dlen > 140 ? 140 : dlen), at + 1);
		if (!(ref->digest = strndup(at + 1, dlen)))
			return -ENOMEM;
	}
	/* The tag is after the last ':' of the last component only: earlier ones
	 * would be in the host, which has been split off already. */
	const char *last_slash = rest;
	for (size_t i = 0; i < nlen; i++)
		if (rest[i] == '/')
			last_slash = rest + i;
	const char *colon = memchr(last_slash, ':', nlen - (size_t)(last_slash - rest));
	size_t plen = colon ? (size_t)(colon - rest) : nlen;
	if (colon) {
		size_t tlen = nlen - plen - 1;
		if (!oci_tag_valid(colon + 1, tlen))
			return errmsg(err, errlen, -EBADMSG,
			              "invalid tag \"%.*s\" (letters, digits, '_', '.', '-'; at most 128, not starting with '.' or '-')",
			              (int)(tlen > 140 ? 140 : tlen), colon + 1);
		if (!(ref->tag = strndup(colon + 1, tlen)))
			return -ENOMEM;
	}
	if (plen > OCI_REPO_MAX)
		return errmsg(err, errlen, -EBADMSG, "repository name longer than %u bytes", OCI_REPO_MAX);
	if (!oci_repository_valid(rest, plen)) {
		for (size_t i = 0; i < plen; i++)
			if (rest[i] >= 'A' && rest[i] <= 'Z')
				return errmsg(err, errlen, -EBADMSG, "repository \"%.*s\" must be lowercase", (int)plen, rest);
		return errmsg(err, errlen, -EBADMSG,
		              "invalid repository \"%.*s\" (lowercase letters and digits, separated by '.', '_', '__', '-' or '/')",
		              (int)plen, rest);
	}
	if (!(ref->repository = strndup(rest, plen)))
		return -ENOMEM;
	if (!ref->tag && !ref->digest && !(ref->tag = strdup("latest")))
		return -ENOMEM;
	return 0;
}

int oci_ref_parse(const char *s, oci_ref *ref, char *err, size_t errlen)
{
	*ref = (oci_ref){ 0 };
	size_t len = strnlen(s, OCI_REF_MAX_BYTES + 1);
	if (len > OCI_REF_MAX_BYTES)
		return errmsg(err, errlen, -EFBIG, "reference longer than %u bytes", OCI_REF_MAX_BYTES);
	if (len == 0)
		return errmsg(err, errlen, -EBADMSG, "empty reference");
	int r = parse(s, len, ref, err, errlen);
	if (r < 0) {
		if (r == -ENOMEM)
			errmsg(err, errlen, r, "out of memory");
		oci_ref_clear(ref);
	}
	return r;
}

char *oci_ref_format(const oci_ref *ref)
{
	char port[8] = "";
	if (ref->port)
		snprintf(port, sizeof(port), ":%u", (unsigned)ref->port);
	char *out = NULL;
	if (asprintf(&out, "%s%s%s/%s%s%s%s%s", ref->scheme == OCI_REF_ORAS ? "oras://" : "", ref->host ? ref->host : "",
	             port, ref->repository ? ref->repository : "", ref->tag ? ":" : "", ref->tag ? ref->tag : "",
	             ref->digest ? "@" : "", ref->digest ? ref->digest : "") < 0)
		return NULL;
	return out;
}
