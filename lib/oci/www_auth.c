/* SPDX-License-Identifier: MIT */
/*
 * WWW-Authenticate, RFC 7235 §4.1:
 *   challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   auth-param = token BWS "=" BWS ( token / quoted-string )
 * A comma separates both parameters and challenges; what follows a comma is a
 * parameter when it reads "token =", else a new scheme. Registries put
 * commas inside quoted values (scope="repository:a:pull,push"), so the quoted
 * string has to be consumed as a unit before looking for separators.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oci/www_auth.h"
#include "util/strutil.h"

#define MAX_CHALLENGES 16u

typedef struct cursor {
	const char *s;
	size_t n, i;
} cursor;

static bool tchar(unsigned char c)
{
	return isalnum(c) ? c < 0x80 : strchr("!#$%&'*+-.^_`|~", c) && c != 0;
}

static bool t68char(unsigned char c)
{
	return (c < 0x80 && isalnum(c)) || (c && strchr("-._~+/", c));
}

static void skip_ows(cursor *c)
{
	while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t'))
		c->i++;
}

static size_t token_len(const cursor *c, size_t at)
{
	size_t i = at;
	while (i < c->n && tchar((unsigned char)c->s[i]))
		i++;
	return i - at;
}

/* True when the text at c->i reads `token BWS "="` but not a token68's
 * trailing padding ("abc==" is a token68, "abc=x" a parameter). */
static bool at_param(const cursor *c)
{
	size_t t = token_len(c, c->i);
	if (t == 0)
		return false;
	size_t i = c->i + t;
	while (i < c->n && (c->s[i] == ' ' || c->s[i] == '\t'))
		i++;
	if (i >= c->n || c->s[i] != '=')
		return false;
	i++;
	while (i < c->n && (c->s[i] == ' ' || c->s[i] == '\t'))
		i++;
	return i < c->n && (c->s[i] == '"' || tchar((unsigned char)c->s[i]));
}

static void challenge_free(oci_auth_challenge *ch)
{
	for (size_t i = 0; i < ch->n_params; i++) {
		free(ch->params[i].key);
		free(ch->params[i].value);
	}
	free(ch->params);
	free(ch->scheme);
	free(ch->token68);
	*ch = (oci_auth_challenge){ 0 };
}

void oci_www_auth_clear(oci_auth_challenges *c)
{
	for (size_t i = 0; i < c->n; i++)
		challenge_free(&c->v[i]);
	free(c->v);
	*c = (oci_auth_challenges){ 0 };
}

static int parse_value(cursor *c, char **out, char *err, size_t errlen)
{
	if (c->i < c->n && c->s[c->i] == '"') {
		c->i++;
		char *v = malloc(c->n - c->i + 1);
		if (!v)
			return -ENOMEM;
		size_t o = 0;
		for (;;) {
			if (c->i >= c->n) {
				free(v);
				return errmsg(err, errlen, -EBADMSG, "unterminated quoted string");
			}
			unsigned char ch = (unsigned char)c->s[c->i++];
			if (ch == '"')
				break;
			if (ch == '\\') {
				if (c->i >= c->n) {
					free(v);
					return errmsg(err, errlen, -EBADMSG, "unterminated quoted string");
				}
				ch = (unsigned char)c->s[c->i++];
			}
			/* qdtext and quoted-pair both exclude controls other than HTAB. */
			if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
				free(v);
				return errmsg(err, errlen, -EBADMSG, "control character in a quoted string");
			}
			v[o++] = (char)ch;
		}
		v[o] = '\0';
		*out = v;
		return 0;
	}
	size_t t = token_len(c, c->i);
	if (t == 0)
		return errmsg(err, errlen, -EBADMSG, "expected a token or a quoted string at offset %zu", c->i);
	if (!(*out = strndup(c->s + c->i, t)))
		return -ENOMEM;
	c->i += t;
	return 0;
}

static int add_param(oci_auth_challenge *ch, size_t *total, cursor *c, char *err, size_t errlen)
{
	size_t t = token_len(c, c->i);
	if (++*total > OCI_AUTH_MAX_PARAMS)
		return errmsg(err, errlen, -EFBIG, "more than %u parameters", OCI_AUTH_MAX_PARAMS);
	char *key = strndup(c->s + c->i, t);
	if (!key)
		return -ENOMEM;
	for (char *p = key; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	c->i += t;
	skip_ows(c);
	c->i++; /* '=', checked by at_param() */
	skip_ows(c);
	/* RFC 7235: each parameter name occurs only once per challenge; two
	 * realms would leave it open which one the server meant. */
	if (oci_auth_param_get(ch, key)) {
		int r = errmsg(err, errlen, -EBADMSG, "parameter \"%.64s\" repeated", key);
		free(key);
		return r;
	}
	char *value = NULL;
	int r = parse_value(c, &value, err, errlen);
	if (r < 0) {
		free(key);
		return r;
	}
	oci_auth_param *np = realloc(ch->params, (ch->n_params + 1) * sizeof(*np));
	if (!np) {
		free(key);
		free(value);
		return -ENOMEM;
	}
	ch->params = np;
	np[ch->n_params++] = (oci_auth_param){ key, value };
	return 0;
}

static int parse_challenge(cursor *c, oci_auth_challenge *ch, size_t *total, char *err, size_t errlen)
{
	size_t t = token_len(c, c->i);
	if (t == 0)
		return errmsg(err, errlen, -EBADMSG, "expected an authentication scheme at offset %zu", c->i);
	if (!(ch->scheme = strndup(c->s + c->i, t)))
		return -ENOMEM;
	ch->kind = strcasecmp(ch->scheme, "Bearer") == 0  ? OCI_AUTH_BEARER
	           : strcasecmp(ch->scheme, "Basic") == 0 ? OCI_AUTH_BASIC
	                                                  : OCI_AUTH_OTHER;
	c->i += t;
	if (c->i == c->n || c->s[c->i] == ',')
		return 0;
	if (c->s[c->i] != ' ' && c->s[c->i] != '\t')
		return errmsg(err, errlen, -EBADMSG, "unexpected character after the scheme \"%.32s\"", ch->scheme);
	skip_ows(c);
	if (c->i == c->n || c->s[c->i] == ',')
		return 0;
	if (!at_param(c)) {
		size_t s = c->i;
		while (c->i < c->n && t68char((unsigned char)c->s[c->i]))
			c->i++;
		while (c->i < c->n && c->s[c->i] == '=')
			c->i++;
		if (c->i == s)
			return errmsg(err, errlen, -EBADMSG, "expected parameters at offset %zu", c->i);
		if (!(ch->token68 = strndup(c->s + s, c->i - s)))
			return -ENOMEM;
		skip_ows(c);
		if (c->i < c->n && c->s[c->i] != ',')
			return errmsg(err, errlen, -EBADMSG, "unexpected text after a token68 at offset %zu", c->i);
		return 0;
	}
	for (;;) {
		int r = add_param(ch, total, c, err, errlen);
		if (r < 0)
			return r;
		skip_ows(c);
		if (c->i == c->n)
			return 0;
		if (c->s[c->i] != ',')
			return errmsg(err, errlen, -EBADMSG, "expected ',' at offset %zu", c->i);
		/* Empty list elements (",,") are allowed by the list rule. */
		size_t save = c->i;
		while (c->i < c->n && (c->s[c->i] == ',' || c->s[c->i] == ' ' || c->s[c->i] == '\t'))
			c->i++;
		if (c->i == c->n || !at_param(c)) {
			c->i = save; /* the next challenge starts after this comma */
			return 0;
		}
	}
}

int oci_www_auth_parse(const char *hdr, size_t len, oci_auth_challenges *out, char *err, size_t errlen)
{
	*out = (oci_auth_challenges){ 0 };
	if (len > OCI_AUTH_MAX_BYTES)
		return errmsg(err, errlen, -EFBIG, "WWW-Authenticate longer than %u bytes", OCI_AUTH_MAX_BYTES);
	cursor c = { hdr, len, 0 };
	size_t total = 0;
	int r = 0;
	for (;;) {
		while (c.i < c.n && (c.s[c.i] == ',' || c.s[c.i] == ' ' || c.s[c.i] == '\t'))
			c.i++;
		if (c.i == c.n)
			break;
		if (out->n >= MAX_CHALLENGES) {
			r = errmsg(err, errlen, -EFBIG, "more than %u challenges", MAX_CHALLENGES);
			break;
		}
		oci_auth_challenge *nv = realloc(out->v, (out->n + 1) * sizeof(*nv));
		if (!nv) {
			r = -ENOMEM;
			break;
		}
		out->v = nv;
		nv[out->n] = (oci_auth_challenge){ 0 };
		r = parse_challenge(&c, &nv[out->n], &total, err, errlen);
		out->n++;
		if (r < 0)
			break;
	}
	if (r == 0 && out->n == 0)
		r = errmsg(err, errlen, -EBADMSG, "no challenge in WWW-Authenticate");
	if (r < 0) {
		if (r == -ENOMEM)
			errmsg(err, errlen, r, "out of memory");
		oci_www_auth_clear(out);
	}
	return r;
}

const char *oci_auth_param_get(const oci_auth_challenge *c, const char *key)
{
	for (size_t i = 0; c && i < c->n_params; i++)
		if (strcasecmp(c->params[i].key, key) == 0)
			return c->params[i].value;
	return NULL;
}

const oci_auth_challenge *oci_auth_find(const oci_auth_challenges *c, oci_auth_scheme kind)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (c->v[i].kind == kind)
			return &c->v[i];
	return NULL;
}
