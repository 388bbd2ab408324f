/* SPDX-License-Identifier: MIT */
#include "trust/clearsign.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <imgfetch/imgfetch.h>

/* The line at *pos (without its LF, and without a CR before the LF); moves
 * *pos past it. False at the end of the text. */
static bool next_line(const char *t, size_t len, size_t *pos, const char **line, size_t *n, bool *had_lf)
{
	if (*pos >= len)
		return false;
	const char *s = t + *pos, *nl = memchr(s, '\n', len - *pos);
	size_t l = nl ? (size_t)(nl - s) : len - *pos;
	*pos += l + (nl ? 1 : 0);
	*had_lf = nl != NULL;
	if (l && s[l - 1] == '\r')
		l--;
	*line = s;
	*n = l;
	return true;
}

static bool is(const char *line, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	/* Armour lines may carry trailing whitespace. */
	if (n < l || memcmp(line, lit, l) != 0)
		return false;
	for (size_t i = l; i < n; i++)
		if (line[i] != ' ' && line[i] != '\t')
			return false;
	return true;
}

int clearsign_body(const char *text, size_t len, char **ret, size_t *ret_len, const char **why)
{
	*ret = NULL;
	*ret_len = 0;
	if (len > IMGFETCH_SUMS_MAX_BYTES)
		return -EFBIG;
	if (memchr(text, '\0', len)) {
		*why = "NUL byte in a clearsigned text";
		return -EBADMSG;
	}
	size_t pos = 0, n;
	const char *line;
	bool lf;
	if (!next_line(text, len, &pos, &line, &n, &lf) || !is(line, n, "-----BEGIN PGP SIGNED MESSAGE-----")) {
		*why = "not a clearsigned message (no header on the first line)";
		return -EBADMSG;
	}
	/* Armour headers ("Hash: SHA256"), up to the first empty line. */
	for (;;) {
		if (!next_line(text, len, &pos, &line, &n, &lf)) {
			*why = "clearsigned message ends inside its headers";
			return -EBADMSG;
		}
		if (n == 0)
			break;
		if (!memchr(line, ':', n)) {
			*why = "malformed armour header in a clearsigned message";
			return -EBADMSG;
		}
	}
	char *out = malloc(len + 1);
	if (!out)
		return -ENOMEM;
	size_t o = 0;
	bool first = true;
	for (;;) {
		if (!next_line(text, len, &pos, &line, &n, &lf)) {
			free(out);
			*why = "clearsigned message has no signature block";
			return -EBADMSG;
		}
		if (is(line, n, "-----BEGIN PGP SIGNATURE-----"))
			break;
		if (n >= 1 && line[0] == '-') {
			/* Only dash-escaped lines may start with a dash in the cleartext. */
			if (n < 2 || line[1] != ' ') {
				free(out);
				*why = "unescaped dash line inside a clearsigned message";
				return -EBADMSG;
			}
			line += 2;
			n -= 2;
		}
		/* The line end before the signature block belongs to the framing,
		 * so each line is emitted with the separator before it. */
		if (!first)
			out[o++] = '\n';
		first = false;
		memcpy(out + o, line, n);
		o += n;
	}
	/* The signature block must be closed; whatever follows is ignored, as
	 * by every OpenPGP implementation, and never returned. */
	bool closed = false;
	while (next_line(text, len, &pos, &line, &n, &lf))
		if (is(line, n, "-----END PGP SIGNATURE-----")) {
			closed = true;
			break;
		}
	if (!closed) {
		free(out);
		*why = "clearsigned message's signature block is not closed";
		return -EBADMSG;
	}
	out[o] = '\0';
	*ret = out;
	*ret_len = o;
	return 0;
}
