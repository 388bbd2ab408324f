/* SPDX-License-Identifier: MIT */
/*
 * The vendor catalog (internal): each vendor is a table entry plus one
 * resolve() function in lib/catalog/vendors/<name>.c that reads the vendor's
 * own feed and fills an imgfetch_resolved. Everything vendors share lives
 * here: base URLs with mirror overrides, feed fetching with size caps,
 * directory listings, version ordering, and the error conventions:
 *
 *   unknown release / arch  IMGFETCH_E_NOT_FOUND, message lists what exists
 *   malformed feed          IMGFETCH_E_FORMAT, message names the URL and the problem
 *   network                 whatever the transfer returned
 *
 * Parsers of feed bytes are pure functions (bytes in, values out) with size
 * caps, declared in vendors/<name>.h, so that each has a libFuzzer target
 * (tests/fuzz/fuzz_feed_<name>.c).
 *
 * imgfetch_resolve() checks every vendor's answer before it leaves the
 * library: the image URL (and checksum file URL) lie below one of the
 * vendor's bases with a safe path, series and version are safe file-name
 * components, a pinned digest is well-formed, and trust-only comes with a
 * notice.
 */
#pragma once

#include "core/ctx.h"

/* Feeds larger than this are refused (the biggest real one, Ubuntu's
 * simplestreams, is a few MiB). */
#define FEED_MAX_BYTES (16u << 20)
/* Directory listings and small documents. */
#define LISTING_MAX_BYTES (4u << 20)
/* A listing with more entries than this is not a vendor directory. */
#define LISTING_MAX_ENTRIES 100000u

typedef struct mirror_entry {
	char *vendor;
	char *key;   /* NULL: every base of the vendor, under url/<key>/ */
	char *url;   /* ends in '/' */
} mirror_entry;

typedef struct mirror_table {
	mirror_entry *v;
	size_t n;
} mirror_table;

typedef struct vendor_req {
	imgfetch_ctx *ctx;
	const struct vendor_def *vendor;
	const char *release;     /* never NULL: "latest" by default */
	const char *arch;        /* "x86_64" or "aarch64" */
	const char *schematic;   /* talos; NULL: default */
	const mirror_table *mirrors;
} vendor_req;

typedef struct vendor_def {
	imgfetch_vendor pub;
	/* Fills r (vendor, release, arch and os are set by the caller already).
	 * Strings in r are malloc'd; r is freed by the caller on failure too. */
	imgfetch_status (*resolve)(const vendor_req *req, imgfetch_resolved *r);
} vendor_def;

/* The vendors, in vendors/<name>.c. */
extern const vendor_def vendor_alpine, vendor_almalinux, vendor_arch, vendor_centos_stream, vendor_debian,
	vendor_fedora, vendor_freebsd, vendor_omnios, vendor_openbsd, vendor_opensuse, vendor_oracle, vendor_rocky,
	vendor_smartos, vendor_talos, vendor_ubuntu;

/* ---- base URLs --------------------------------------------------------- */

/* The URL of `key` for this request's vendor (mirror-aware, ends in '/')
 * followed by the printf-formatted path; NULL when out of memory (ctx has
 * the message). Caller frees. */
char *vendor_url(const vendor_req *req, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

int mirror_table_add(mirror_table *t, const char *spec, char *err, size_t errlen);
void mirror_table_clear(mirror_table *t);

/* The resolved image as a JSON object (imgfetch_resolved_to_json, fetch.c). */
struct json_t;
struct json_t *resolved_json(const imgfetch_resolved *r);

/* ---- fetching ---------------------------------------------------------- */

/* GETs url into memory (NUL-terminated, at most max bytes). 404/410 are
 * IMGFETCH_E_NOT_FOUND with the message left to the caller to improve. */
imgfetch_status feed_get(const vendor_req *req, const char *url, size_t max, const char *what, char **ret,
                         size_t *ret_len);

/* GETs url and discards the body (at most 64 KiB); *ret_status is the last
 * HTTP status seen (also when the call fails, e.g. 402 from a server that
 * wants payment). */
imgfetch_status feed_probe(const vendor_req *req, const char *url, long *ret_status);

/* ---- directory listings ------------------------------------------------- */

/* The entries of an HTML directory index (nginx, Apache, lighttpd autoindex,
 * or any page of links): each href that names a direct child — no scheme, no
 * leading '/', no '..', no query — %-decoded, with a trailing '/' kept for
 * directories, in order of appearance (a name may repeat: index pages
 * often link an entry twice). NULL-terminated,
 * caller frees with strv_free(). -EBADMSG over LISTING_MAX_ENTRIES. */
int listing_parse(const char *html, size_t len, char ***ret);
void strv_free(char **v);
size_t strv_len(char *const *v);
/* Appends a copy of s to the NULL-terminated list *v of *n strings (both
 * updated; *v may start NULL). 0, -ENOMEM, or -EFBIG past
 * LISTING_MAX_ENTRIES. On failure *v stays a valid list to free. */
int strv_push(char ***v, size_t *n, const char *s);
/* The same, unless an equal string is already in the list. */
int strv_push_unique(char ***v, size_t *n, const char *s);

/* Fetches and parses the listing at url (which ends in '/'). */
imgfetch_status listing_get(const vendor_req *req, const char *url, char ***ret);

/* ---- versions ----------------------------------------------------------- */

/* Compares version strings piecewise: runs of digits numerically (9.10 > 9.9,
 * Build16 > Build9), everything else byte by byte; <0, 0, >0. */
int version_cmp(const char *a, const char *b);
/* True when s is digits and dots only, starting and ending with a digit. */
bool version_is_numeric(const char *s);

/* ---- safety (safety.c) ---------------------------------------------------- */

/* A relative URL path from a feed: below the base (no leading '/', no "." or
 * ".." segment, no "//"), printable ASCII without ? # % \ : space quotes. */
bool url_path_is_safe(const char *path);
/* One path component usable in a file name and a URL (no leading '.'). */
bool name_is_safe(const char *s);
/* True when `word` is one of the space-separated words of `list`. */
bool word_in_list(const char *list, const char *word);

/* The Debian/Go name of a request's architecture ("amd64", "arm64"), which
 * Debian, Ubuntu and Talos use in file names. */
const char *arch_dpkg_name(const vendor_req *req);

/* ---- resolved helpers --------------------------------------------------- */

/* strdup into *field (freeing what was there); false when out of memory. */
bool set_str(char **field, const char *value);
/* Message for an unknown release: "<vendor> has no release 'x' for <arch>;
 * available: a, b, c (and <the vendor's token forms>)". */
imgfetch_status fail_unknown_release(const vendor_req *req, char *const *known, size_t n);
/* A pure parser's result as a status: 0 → OK; -ENOENT → fail_unknown_release
 * with `known`; -ENOMEM; other errors → IMGFETCH_E_FORMAT "<vendor>:
 * malformed <what> <url>: <err>". Frees `known` in every case. */
imgfetch_status parse_status(const vendor_req *req, int e, char **known, const char *what, const char *url,
                             const char *err);
/* Message for an unsupported architecture. */
imgfetch_status fail_unknown_arch(const vendor_req *req, const char *available);
