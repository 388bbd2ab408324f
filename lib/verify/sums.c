/* SPDX-License-Identifier: MIT */
/*
 * Checksum-file parsers: SHA256SUMS-style lists (GNU and BSD forms) and
 * single-digest sidecar files.
 *
 * Everything here reads the caller's buffer in place: the input comes from the
 * network, is not NUL-terminated and may contain anything, so every access is
 * bounded by an explicit length and nothing is allocated.
 */
#include <imgfetch/imgfetch.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Longer lines are skipped: no vendor publishes names this long, and the cap
 * bounds the stack buffer used to unescape names. */
#define SUMS_LINE_MAX 4096u

#define HEXLEN_SHA256 64u
#define HEXLEN_SHA512 128u
#define HEX_BUF (HEXLEN_SHA512 + 1)

_Static_assert(sizeof(((imgfetch_checksum *)0)->hex) == HEX_BUF, "imgfetch_checksum.hex holds a SHA-512 hex digest");

size_t imgfetch_hash_hexlen(imgfetch_hash h)
{
	switch (h) {
	case IMGFETCH_HASH_SHA256: return HEXLEN_SHA256;
	case IMGFETCH_HASH_SHA512: return HEXLEN_SHA512;
	}
	return 0;
}

const char *imgfetch_hash_name(imgfetch_hash h)
{
	switch (h) {
	case IMGFETCH_HASH_SHA256: return "sha256";
	case IMGFETCH_HASH_SHA512: return "sha512";
	}
	return "unknown";
}

/* ------------------------------------------------------------- helpers */

/* A view into a buffer that is not NUL-terminated. */
struct span {
	const char *p;
	size_t n;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Sidecars are split on any whitespace, as `read` in a shell would. */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* ASCII only: the locale must not change what counts as a digest. */
static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool span_eq(struct span a, struct span b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static bool span_ieq_str(struct span a, const char *s)
{
	size_t n = strlen(s);
	if (a.n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (ascii_lower(a.p[i]) != ascii_lower(s[i]))
			return false;
	return true;
}

static struct span trim_blanks(struct span s)
{
	while (s.n > 0 && is_blank(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n > 0 && is_blank(s.p[s.n - 1]))
		s.n--;
	return s;
}

/* Offset of the first occurrence of `needle` in `s`, or SIZE_MAX. */
static size_t span_find(struct span s, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; n <= s.n && i <= s.n - n; i++)
		if (memcmp(s.p + i, needle, n) == 0)
			return i;
	return SIZE_MAX;
}

/* Offset of the last occurrence of `needle` in `s` at or after `from`, or SIZE_MAX. */
static size_t span_rfind(struct span s, size_t from, const char *needle)
{
	size_t n = strlen(needle);
	if (n > s.n || from > s.n - n)
		return SIZE_MAX;
	for (size_t i = s.n - n + 1; i-- > from;)
		if (memcmp(s.p + i, needle, n) == 0)
			return i;
	return SIZE_MAX;
}

/* The algorithm is implied by the length; anything else is not a digest we use. */
static bool digest_kind(struct span d, imgfetch_hash *ret)
{
	if (d.n != HEXLEN_SHA256 && d.n != HEXLEN_SHA512)
		return false;
	for (size_t i = 0; i < d.n; i++)
		if (!is_hex(d.p[i]))
			return false;
	*ret = d.n == HEXLEN_SHA256 ? IMGFETCH_HASH_SHA256 : IMGFETCH_HASH_SHA512;
	return true;
}

/* `d` must already have passed digest_kind(). The whole buffer is written
 * (zero-padded) so that results are fully defined and compare with memcmp. */
static void digest_store(struct span d, char out[HEX_BUF])
{
	memset(out, 0, HEX_BUF);
	for (size_t i = 0; i < d.n; i++)
		out[i] = ascii_lower(d.p[i]);
	out[d.n] = '\0';
}

static imgfetch_status fail(const char **ret_why, imgfetch_status status, const char *why)
{
	if (ret_why)
		*ret_why = why;
	return status;
}

/* ---------------------------------------------------------- line parser */

enum line_kind {
	LINE_SKIP,    /* blank, comment, or not shaped like an entry at all */
	LINE_ENTRY,   /* GNU line, or BSD SHA256/SHA512 line; the digest may be malformed */
	LINE_FOREIGN, /* BSD line in an algorithm we do not use (MD5, SHA1, ...) */
};

struct entry {
	struct span name;   /* raw: still escaped when `escaped` */
	bool escaped;
	bool valid;         /* digest well-formed and consistent with the tag */
	imgfetch_hash hash; /* when valid */
	struct span digest;
};

/* BSD tags are short words such as "SHA256", "SHA3-256", "BLAKE2b". The
 * length cap also keeps a 64/128-digit digest followed by a single space and a
 * name starting with '(' ("md5 -r" style GNU line) from passing as a tag. */
static bool is_bsd_tag(struct span t)
{
	if (t.n == 0 || t.n > 32)
		return false;
	for (size_t i = 0; i < t.n; i++) {
		char c = t.p[i];
		bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          c == '-' || c == '_';
		if (!ok)
			return false;
	}
	return true;
}

/*
 * "TAG (name) = digest". The name may itself contain " (" and ") = ", so it
 * runs from the first " (" to the last ") = ". Returns false when the line is
 * not in BSD form, so that the caller can try the GNU form.
 */
static bool parse_bsd(struct span line, struct entry *e, enum line_kind *kind)
{
	size_t open = span_find(line, " (");
	if (open == SIZE_MAX)
		return false;
	struct span tag = { line.p, open };
	if (!is_bsd_tag(tag))
		return false;
	size_t close = span_rfind(line, open + 2, ") = ");
	size_t digest_at = close + 4;
	if (close == SIZE_MAX) {
		/* Lines arrive trimmed, so an empty digest leaves ") =" at the end:
		 * still a BSD entry, just a malformed one. */
		if (line.n < open + 2 + 3 || memcmp(line.p + line.n - 3, ") =", 3) != 0)
			return false;
		close = line.n - 3;
		digest_at = line.n;
	}

	e->name = (struct span){ line.p + open + 2, close - (open + 2) };
	e->digest = (struct span){ line.p + digest_at, line.n - digest_at };
	if (e->name.n == 0) {
		*kind = LINE_SKIP;
		return true;
	}
	imgfetch_hash tagged;
	if (span_ieq_str(tag, "SHA256"))
		tagged = IMGFETCH_HASH_SHA256;
	else if (span_ieq_str(tag, "SHA512"))
		tagged = IMGFETCH_HASH_SHA512;
	else {
		*kind = LINE_FOREIGN;
		return true;
	}
	e->valid = digest_kind(e->digest, &e->hash) && e->hash == tagged;
	*kind = LINE_ENTRY;
	return true;
}

/*
 * coreutils: "digest", one blank, then an optional mode character (' ' text,
 * '*' binary), then the name up to the end of the line. Without a mode
 * character ("digest name") the name starts right after the single blank.
 */
static enum line_kind parse_gnu(struct span line, struct entry *e)
{
	size_t i = 0;
	while (i < line.n && !is_blank(line.p[i]))
		i++;
	if (i == 0 || i == line.n)
		return LINE_SKIP;
	e->digest = (struct span){ line.p, i };
	i++;
	if (i < line.n && (line.p[i] == ' ' || line.p[i] == '*'))
		i++;
	if (i == line.n)
		return LINE_SKIP;
	e->name = (struct span){ line.p + i, line.n - i };
	e->valid = digest_kind(e->digest, &e->hash);
	return LINE_ENTRY;
}

/* `line` excludes the LF; a trailing CR is removed here. */
static enum line_kind parse_line(struct span line, struct entry *e)
{
	*e = (struct entry){ 0 };
	if (line.n > 0 && line.p[line.n - 1] == '\r')
		line.n--;
	/* Trailing blanks are an editing accident far more often than part of a name. */
	line = trim_blanks(line);
	if (line.n == 0 || line.p[0] == '#')
		return LINE_SKIP;
	/* coreutils marks lines whose name contains '\\' or a newline with a
	 * leading backslash and escapes those characters in the name. */
	if (line.p[0] == '\\') {
		e->escaped = true;
		line.p++;
		line.n--;
	}
	enum line_kind kind;
	if (parse_bsd(line, e, &kind))
		return kind;
	return parse_gnu(line, e);
}

/* ---------------------------------------------------------------- names */

/* Decodes coreutils' "\\", "\n" and "\r" escapes into `buf` (at least
 * raw.n bytes). False on any other escape: the name is then unknowable. */
static bool name_unescape(struct span raw, char *buf, struct span *out)
{
	size_t o = 0;
	for (size_t i = 0; i < raw.n; i++) {
		char c = raw.p[i];
		if (c == '\\') {
			if (++i == raw.n)
				return false;
			switch (raw.p[i]) {
			case '\\': c = '\\'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			default: return false;
			}
		}
		buf[o++] = c;
	}
	*out = (struct span){ buf, o };
	return true;
}

/* "./x" and "x" are the same file: "sha256sum ./x" writes the former. */
static struct span name_normalise(struct span s)
{
	while (s.n >= 2 && s.p[0] == '.' && s.p[1] == '/') {
		s.p += 2;
		s.n -= 2;
	}
	return s;
}

/* Decoded and normalised entry name; `buf` holds at least SUMS_LINE_MAX bytes. */
static bool entry_name(const struct entry *e, char *buf, struct span *out)
{
	struct span n = e->name;
	if (e->escaped && !name_unescape(n, buf, &n))
		return false;
	*out = name_normalise(n);
	return true;
}

enum match { MATCH_NONE, MATCH_EXACT, MATCH_BASE };

static enum match match_name(struct span entry, struct span want)
{
	if (span_eq(entry, want))
		return MATCH_EXACT;
	for (size_t i = entry.n; i-- > 0;) {
		if (entry.p[i] == '/') {
			struct span base = { entry.p + i + 1, entry.n - i - 1 };
			return span_eq(base, want) ? MATCH_BASE : MATCH_NONE;
		}
	}
	return MATCH_NONE;
}

/* --------------------------------------------------------------- lookup */

/* What the file says about our name for one algorithm at one match level. */
struct candidate {
	bool found;
	bool conflict;  /* a later entry disagreed with the first */
	bool ambiguous; /* ... and it was listed under a different path */
	char hex[HEX_BUF];
	struct entry first; /* to tell a duplicate from another directory */
};

struct scan {
	struct candidate exact[2]; /* [0] sha256, [1] sha512 */
	struct candidate base[2];
	bool malformed_exact;
	bool malformed_base;
	bool foreign; /* named in an algorithm we do not use */
};

static size_t hash_slot(imgfetch_hash h)
{
	return h == IMGFETCH_HASH_SHA512 ? 1 : 0;
}

static bool same_entry_name(const struct entry *a, struct span b_name)
{
	char buf[SUMS_LINE_MAX];
	struct span a_name;
	/* The first entry decoded once already, so this cannot fail. */
	if (!entry_name(a, buf, &a_name))
		return false;
	return span_eq(a_name, b_name);
}

static void candidate_add(struct candidate *c, const struct entry *e, struct span name)
{
	char hex[HEX_BUF];
	digest_store(e->digest, hex);
	if (!c->found) {
		c->found = true;
		memcpy(c->hex, hex, sizeof(hex));
		c->first = *e;
		return;
	}
	if (strcmp(c->hex, hex) == 0)
		return;
	c->conflict = true;
	if (!same_entry_name(&c->first, name))
		c->ambiguous = true;
}

static void scan_line(struct scan *s, struct span line, struct span want)
{
	struct entry e;
	enum line_kind kind = parse_line(line, &e);
	if (kind == LINE_SKIP)
		return;

	char buf[SUMS_LINE_MAX];
	struct span name;
	if (!entry_name(&e, buf, &name))
		return;
	enum match m = match_name(name, want);
	if (m == MATCH_NONE)
		return;

	if (kind == LINE_FOREIGN) {
		s->foreign = true;
		return;
	}
	if (!e.valid) {
		if (m == MATCH_EXACT)
			s->malformed_exact = true;
		else
			s->malformed_base = true;
		return;
	}
	struct candidate *c = m == MATCH_EXACT ? s->exact : s->base;
	candidate_add(&c[hash_slot(e.hash)], &e, name);
}

static imgfetch_status pick(const struct candidate c[2], imgfetch_checksum *ret, const char **ret_why)
{
	/* The file contradicting itself about our file means it cannot be trusted
	 * for it, even in the algorithm we would not have used. */
	for (size_t i = 0; i < 2; i++) {
		if (c[i].ambiguous)
			return fail(ret_why, IMGFETCH_E_VERIFY,
			            "ambiguous: several directories list this file with different digests");
		if (c[i].conflict)
			return fail(ret_why, IMGFETCH_E_VERIFY, "conflicting entries for this file");
	}
	size_t slot = c[1].found ? 1 : 0;
	ret->hash = slot == 1 ? IMGFETCH_HASH_SHA512 : IMGFETCH_HASH_SHA256;
	memcpy(ret->hex, c[slot].hex, sizeof(ret->hex));
	return IMGFETCH_OK;
}

static imgfetch_status resolve(const struct scan *s, imgfetch_checksum *ret, const char **ret_why)
{
	/* An exact entry always beats a same-named file in some directory; a
	 * broken exact entry is not papered over by one from another directory. */
	if (s->exact[0].found || s->exact[1].found)
		return pick(s->exact, ret, ret_why);
	if (s->malformed_exact)
		return fail(ret_why, IMGFETCH_E_VERIFY,
		            "malformed entry for this file (digest is not 64 or 128 hex digits, or does not match its tag)");
	if (s->base[0].found || s->base[1].found)
		return pick(s->base, ret, ret_why);
	if (s->malformed_base)
		return fail(ret_why, IMGFETCH_E_VERIFY,
		            "malformed entry for this file in a subdirectory (digest is not 64 or 128 hex digits, or does not match its tag)");
	if (s->foreign)
		return fail(ret_why, IMGFETCH_E_NOT_FOUND,
		            "no SHA-256 or SHA-512 entry for this file (only other algorithms are listed)");
	return fail(ret_why, IMGFETCH_E_NOT_FOUND, "no entry for this file");
}

imgfetch_status imgfetch_sums_lookup(const char *text, size_t len, const char *name, imgfetch_checksum *ret,
                                     const char **ret_why)
{
	if (!name || !ret || (!text && len > 0))
		return fail(ret_why, IMGFETCH_E_INVALID, "invalid argument");
	if (len > IMGFETCH_SUMS_MAX_BYTES)
		return fail(ret_why, IMGFETCH_E_INVALID, "checksum file is larger than 1 MiB");
	struct span want = name_normalise((struct span){ name, strlen(name) });
	if (want.n == 0)
		return fail(ret_why, IMGFETCH_E_INVALID, "empty file name");

	struct scan s = { 0 };
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		struct span line = { text + pos, end - pos };
		/* +1: the cap is on the content, a CR before the LF does not count. */
		if (line.n <= SUMS_LINE_MAX || (line.n == SUMS_LINE_MAX + 1 && line.p[line.n - 1] == '\r'))
			scan_line(&s, line, want);
		pos = end + 1;
	}
	return resolve(&s, ret, ret_why);
}

/* -------------------------------------------------------------- sidecar */

static struct span trim_space(struct span s)
{
	while (s.n > 0 && is_space(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n > 0 && is_space(s.p[s.n - 1]))
		s.n--;
	return s;
}

/*
 * First line that is neither blank nor a '#' comment, trimmed. Some vendors
 * clearsign their sidecars; the armor header lines before the first blank line
 * ("Hash: SHA256") are skipped so the digest after them is found. This does
 * not check the signature: it only keeps the wrapping from hiding the digest.
 */
static bool first_content_line(struct span text, struct span *ret)
{
	static const char armor[] = "-----BEGIN PGP SIGNED MESSAGE-----";
	bool in_armor_header = false;
	size_t pos = 0;
	while (pos < text.n) {
		const char *nl = memchr(text.p + pos, '\n', text.n - pos);
		size_t end = nl ? (size_t)(nl - text.p) : text.n;
		struct span line = trim_space((struct span){ text.p + pos, end - pos });
		pos = end + 1;
		if (in_armor_header) {
			in_armor_header = line.n > 0;
			continue;
		}
		if (line.n == 0 || line.p[0] == '#')
			continue;
		if (span_eq(line, (struct span){ armor, sizeof(armor) - 1 })) {
			in_armor_header = true;
			continue;
		}
		*ret = line;
		return true;
	}
	return false;
}

imgfetch_status imgfetch_sidecar_parse(const char *text, size_t len, imgfetch_checksum *ret, const char **ret_why)
{
	if (!ret || (!text && len > 0))
		return fail(ret_why, IMGFETCH_E_INVALID, "invalid argument");
	if (len > IMGFETCH_SUMS_MAX_BYTES)
		return fail(ret_why, IMGFETCH_E_INVALID, "checksum file is larger than 1 MiB");

	struct span line;
	if (!first_content_line((struct span){ text, len }, &line))
		return fail(ret_why, IMGFETCH_E_VERIFY, "checksum file is empty or has only comments");
	/* coreutils' escaped-name marker; the name itself does not matter here. */
	if (line.n > 0 && line.p[0] == '\\') {
		line.p++;
		line.n--;
	}

	/* Some vendors publish the sidecar in BSD form. */
	struct entry e = { 0 };
	enum line_kind kind;
	if (parse_bsd(line, &e, &kind)) {
		if (kind == LINE_FOREIGN)
			return fail(ret_why, IMGFETCH_E_VERIFY,
			            "checksum file uses an algorithm other than SHA-256 or SHA-512");
		if (kind != LINE_ENTRY || !e.valid)
			return fail(ret_why, IMGFETCH_E_VERIFY,
			            "malformed checksum file (digest is not 64 or 128 hex digits, or does not match its tag)");
		ret->hash = e.hash;
		digest_store(e.digest, ret->hex);
		return IMGFETCH_OK;
	}

	size_t n = 0;
	while (n < line.n && !is_space(line.p[n]))
		n++;
	struct span token = { line.p, n };
	imgfetch_hash h;
	if (!digest_kind(token, &h))
		return fail(ret_why, IMGFETCH_E_VERIFY,
		            "checksum file does not start with a 64- or 128-digit hex digest");
	ret->hash = h;
	digest_store(token, ret->hex);
	return IMGFETCH_OK;
}
