/* SPDX-License-Identifier: MIT */
/*
 * imgfetch_deliver(): puts a zvol image pair (IMGAPI manifest + .zfs.gz)
 * where it runs. The pair is checked first (the manifest's files[0] against
 * the file), so a mismatched pair fails before anything is sent or run.
 * Targets:
 *  - FILE: nothing happens; the result says how to install the pair.
 *  - SMARTOS: `imgadm install -m MANIFEST -f FILE`, run without a shell,
 *    only in the global zone (imgadm in a non-global zone cannot install).
 *  - IMGAPI: the operator's import sequence (AdminImportImage, AddImageFile,
 *    ActivateImage), resumed from whatever state the server already has, so
 *    that a rerun after any failure finishes the job.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ctx.h"
#include "smartos/command.h"
#include "smartos/imgapi.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/strutil.h"

#define MANIFEST_MAX (1u << 20)

/* ---------------------------------------------------------------- the pair */

typedef struct pair {
	const char *manifest_path;
	const char *file_path;
	char *manifest;       /* the manifest's bytes, as read (sent to IMGAPI unchanged) */
	size_t manifest_len;
	char uuid[37];
	char sha1[41];        /* files[0].sha1, lowercase */
	uint64_t size;        /* files[0].size, equal to the file's */
	int fd;               /* the file, open for reading */
} pair;

static void pair_clear(pair *p)
{
	free(p->manifest);
	if (p->fd >= 0)
		close(p->fd);
	p->manifest = NULL;
	p->fd = -1;
}

static bool uuid_valid(const char *u)
{
	if (strlen(u) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		char c = u[i];
		bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
		if (dash ? c != '-' : !hex)
			return false;
	}
	return true;
}

/* The manifest's uuid and files[0], checked. */
static imgfetch_status parse_manifest(imgfetch_ctx *ctx, pair *p)
{
	const char *m = p->manifest_path;
	json_error_t jerr;
	json_t *doc = json_loadb(p->manifest, p->manifest_len, JSON_REJECT_DUPLICATES, &jerr);
	imgfetch_status st = IMGFETCH_OK;
	if (!doc)
		return ifx_fail(ctx, IMGFETCH_E_FORMAT, "manifest %s is not valid JSON (line %d: %s)", m, jerr.line,
		                jerr.text);
	if (!json_is_object(doc)) {
		st = ifx_fail(ctx, IMGFETCH_E_FORMAT, "manifest %s is not a JSON object: not an IMGAPI manifest", m);
		goto out;
	}
	const char *uuid = json_string_value(json_object_get(doc, "uuid"));
	if (!uuid || !uuid_valid(uuid)) {
		st = ifx_fail(ctx, IMGFETCH_E_FORMAT, "manifest %s: \"uuid\" must be a UUID (xxxxxxxx-xxxx-xxxx-xxxx-"
		              "xxxxxxxxxxxx)%s", m, uuid ? "" : ", and there is none");
		goto out;
	}
	memcpy(p->uuid, uuid, 37);

	/* Without a usable files[0] the file cannot be verified: that is a
	 * verification failure, as a malformed checksum file is elsewhere. */
	json_t *files = json_object_get(doc, "files");
	json_t *f0 = json_array_get(files, 0);
	if (!json_is_object(f0)) {
		st = ifx_fail(ctx, IMGFETCH_E_VERIFY, "manifest %s has no \"files\"[0] object: nothing to check %s "
		              "against", m, p->file_path);
		goto out;
	}
	if (json_array_size(files) != 1) {
		st = ifx_fail(ctx, IMGFETCH_E_FORMAT, "manifest %s lists %zu files; an IMGAPI image has exactly one", m,
		              json_array_size(files));
		goto out;
	}
	const char *sha1 = json_string_value(json_object_get(f0, "sha1"));
	if (!sha1 || !hex_valid(sha1, 40)) {
		st = ifx_fail(ctx, IMGFETCH_E_VERIFY, "manifest %s: files[0].sha1 must be 40 hex digits%s", m,
		              sha1 ? "" : ", and there is none");
		goto out;
	}
	hex_lower(sha1, 40, p->sha1);
	json_t *size = json_object_get(f0, "size");
	if (!json_is_integer(size) || json_integer_value(size) < 0) {
		st = ifx_fail(ctx, IMGFETCH_E_VERIFY, "manifest %s: files[0].size must be a non-negative integer", m);
		goto out;
	}
	p->size = (uint64_t)json_integer_value(size);
	const char *comp = json_string_value(json_object_get(f0, "compression"));
	if (!comp || strcmp(comp, "gzip") != 0) {
		st = ifx_fail(ctx, IMGFETCH_E_FORMAT, "manifest %s: files[0].compression is %s%s%s; only gzip'd zfs send "
		              "streams (.zfs.gz) are delivered", m, comp ? "'" : "", comp ? comp : "missing",
		              comp ? "'" : "");
		goto out;
	}
out:
	json_decref(doc);
	return st;
}

/* Reads and checks the manifest, opens the file and checks its size (and
 * that it is gzip) against files[0]. Nothing leaves the machine before this. */
static imgfetch_status pair_open(imgfetch_ctx *ctx, const imgfetch_deliver_opts *o, pair *p)
{
	*p = (pair){ .manifest_path = o->manifest_path, .file_path = o->file_path, .fd = -1 };
	int r = read_file_capped(o->manifest_path, MANIFEST_MAX, &p->manifest, &p->manifest_len);
	if (r == -ENOENT)
		return ifx_fail(ctx, IMGFETCH_E_NOT_FOUND, "manifest %s: %s", o->manifest_path, strerror(-r));
	if (r == -EFBIG)
		return ifx_fail(ctx, IMGFETCH_E_FORMAT, "manifest %s is larger than 1 MiB: not an IMGAPI manifest",
		                o->manifest_path);
	if (r < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot read manifest %s: %s", o->manifest_path, strerror(-r));
	imgfetch_status st = parse_manifest(ctx, p);
	if (st < 0)
		return st;

	p->fd = open(o->file_path, O_RDONLY | O_CLOEXEC);
	if (p->fd < 0)
		return ifx_fail(ctx, errno == ENOENT ? IMGFETCH_E_NOT_FOUND : IMGFETCH_E_FAILED, "cannot open %s: %s",
		                o->file_path, strerror(errno));
	struct stat sb;
	if (fstat(p->fd, &sb) < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot stat %s: %s", o->file_path, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "%s is not a regular file", o->file_path);
	if ((uint64_t)sb.st_size != p->size)
		return ifx_fail(ctx, IMGFETCH_E_VERIFY, "%s is %" PRIu64 " bytes but manifest %s says %" PRIu64
		                " (files[0].size): the manifest does not describe this file", o->file_path,
		                (uint64_t)sb.st_size, o->manifest_path, p->size);
	unsigned char magic[2];
	if (pread_full(p->fd, magic, 2, 0) < 0 || magic[0] != 0x1f || magic[1] != 0x8b)
		return ifx_fail(ctx, IMGFETCH_E_FORMAT, "%s is not gzip-compressed, but the manifest says gzip (a .zfs.gz "
		                "stream is expected)", o->file_path);
	return IMGFETCH_OK;
}

/* ------------------------------------------------------------- FILE target */

/* A word for a POSIX shell: as it is when that is safe, else in single quotes. */
static char *shell_quote(const char *s)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-";
	if (*s && strspn(s, safe) == strlen(s))
		return strdup(s);
	size_t n = 2;
	for (const char *c = s; *c; c++)
		n += *c == '\'' ? 4 : 1;
	char *q = malloc(n + 1), *w = q;
	if (!q)
		return NULL;
	*w++ = '\'';
	for (const char *c = s; *c; c++) {
		if (*c == '\'') {
			memcpy(w, "'\\''", 4);
			w += 4;
		} else {
			*w++ = *c;
		}
	}
	*w++ = '\'';
	*w = '\0';
	return q;
}

static char *install_command(const char *imgadm, const char *manifest, const char *file)
{
	_cleanup_free_ char *a = shell_quote(imgadm), *m = shell_quote(manifest), *f = shell_quote(file);
	char *cmd = NULL;
	if (!a || !m || !f || asprintf(&cmd, "%s install -m %s -f %s", a, m, f) < 0)
		return NULL;
	return cmd;
}

/* ---------------------------------------------------------- SMARTOS target */

/* Lines of a command's output to the log, at INFO. */
static void log_lines(imgfetch_ctx *ctx, const char *who, const char *text)
{
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");
		if (n > 0)
			ifx_log(ctx, IMGFETCH_LOG_INFO, "%s: %.*s", who, (int)(n > 500 ? 500 : n), p);
		p += n;
		if (*p)
			p++;
	}
}

/* imgadm installs into the global zone's pool only. Where there is no
 * zonename command (Linux, say) there are no zones to refuse. */
static imgfetch_status require_global_zone(imgfetch_ctx *ctx)
{
	if (!command_on_path("zonename"))
		return IMGFETCH_OK;
	static const char *const argv[] = { "zonename", NULL };
	const command_opts co = { .max_stdout = 4096 };
	command_result r;
	imgfetch_status st = command_run(ctx, argv, &co, &r);
	if (st == IMGFETCH_OK) {
		size_t n = strcspn(r.out, "\r\n");
		r.out[n] = '\0';
		if (strcmp(r.out, "global") != 0)
			st = ifx_fail(ctx, IMGFETCH_E_INVALID, "this is the non-global zone '%.200s': imgadm install only "
			              "works in the global zone; run imgfetch deliver there, or --target file to print the "
			              "command", r.out);
	} else if (st != IMGFETCH_E_CANCELLED) {
		char why[sizeof(ctx->error)];
		snprintf(why, sizeof(why), "%s", imgfetch_ctx_error(ctx));
		st = ifx_fail(ctx, IMGFETCH_E_INVALID, "cannot tell which zone this is (%s); imgadm install only works "
		              "in the global zone", why);
	}
	command_result_free(&r);
	return st;
}

static imgfetch_status deliver_smartos(imgfetch_ctx *ctx, const imgfetch_deliver_opts *o, const pair *p,
                                       imgfetch_deliver_result *res)
{
	imgfetch_status st = require_global_zone(ctx);
	if (st < 0)
		return st;
	const char *imgadm = o->imgadm ? o->imgadm : "imgadm";
	res->command = install_command(imgadm, o->manifest_path, o->file_path);
	if (!res->command)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	const char *const argv[] = { imgadm, "install", "-m", o->manifest_path, "-f", o->file_path, NULL };
	const command_opts co = { .max_stdout = 64u << 10 };
	command_result r;
	ifx_log(ctx, IMGFETCH_LOG_INFO, "running %s", res->command);
	st = command_run(ctx, argv, &co, &r);
	log_lines(ctx, imgadm, r.out);
	log_lines(ctx, imgadm, r.err);
	if (st == IMGFETCH_OK) {
		/* imgadm exits 0 for an image it already has, and says so. */
		res->already_present = strstr(r.out, "already installed") || strstr(r.err, "already installed");
		ifx_log(ctx, IMGFETCH_LOG_NOTICE, "%s image %s with %s",
		        res->already_present ? "already had" : "installed", p->uuid, imgadm);
	} else if (st == IMGFETCH_E_NOT_FOUND) {
		ifx_fail_append(ctx, "imgadm installs images in a SmartOS global zone; --target file prints the command "
		                "to run there");
	}
	command_result_free(&r);
	return st;
}

/* ----------------------------------------------------------- IMGAPI target */

static imgfetch_status upload_and_activate(imgfetch_ctx *ctx, imgapi_client *c, const pair *p, bool upload)
{
	if (upload) {
		const char *label = strrchr(p->file_path, '/') ? strrchr(p->file_path, '/') + 1 : p->file_path;
		char sent[41];
		ifx_log(ctx, IMGFETCH_LOG_INFO, "uploading %s (%" PRIu64 " bytes) for image %s", p->file_path, p->size,
		        p->uuid);
		imgfetch_status st = imgapi_add_file(c, p->uuid, p->fd, label, p->size, p->sha1, "gzip", sent);
		/* What was sent decides first: a refusal of a file that is not the
		 * manifest's is the file's fault, not the server's. */
		if (sent[0] && strcmp(sent, p->sha1) != 0)
			return ifx_fail(ctx, IMGFETCH_E_VERIFY, "%s has sha1 %s but manifest %s says %s: the manifest does "
			                "not describe this file (or it changed); image %s was left unactivated",
			                p->file_path, sent, p->manifest_path, p->sha1, p->uuid);
		if (st < 0)
			return st;
	}
	return imgapi_activate(c, p->uuid);
}

static imgfetch_status deliver_imgapi(imgfetch_ctx *ctx, const imgfetch_deliver_opts *o,
                                      const imgfetch_http_opts *http, const pair *p, imgfetch_deliver_result *res)
{
	imgapi_client *c = NULL;
	imgfetch_status st = imgapi_client_new(ctx, o->imgapi_url, http, &c);
	if (st < 0)
		return st;
	imgapi_image img;
	/* Import unless it is there; a 409 means another client imported it
	 * in between, so look again and go on from what it did. */
	for (int round = 0;; round++) {
		st = imgapi_get_image(c, p->uuid, &img);
		if (st < 0 || img.exists)
			break;
		if (round > 0) {
			st = ifx_fail(ctx, IMGFETCH_E_FAILED, "the IMGAPI at %s refused to import image %s as a duplicate "
			              "(409) but does not show it", o->imgapi_url, p->uuid);
			break;
		}
		bool conflict = false;
		ifx_log(ctx, IMGFETCH_LOG_INFO, "importing manifest %s as image %s", p->manifest_path, p->uuid);
		st = imgapi_import(c, p->uuid, p->manifest, p->manifest_len, &conflict);
		if (st < 0)
			break;
		if (!conflict) {
			st = upload_and_activate(ctx, c, p, true);
			goto out;
		}
		ifx_log(ctx, IMGFETCH_LOG_INFO, "image %s was imported by someone else meanwhile; looking again",
		        p->uuid);
	}
	if (st < 0)
		goto out;

	if (img.has_file && strcmp(img.sha1, p->sha1) != 0) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "the IMGAPI at %s already has image %s with another file: sha1 %s "
		              "there, %s in %s; a UUID names one image, so give this one another UUID or delete the "
		              "other", o->imgapi_url, p->uuid, img.sha1, p->sha1, p->manifest_path);
	} else if (strcmp(img.state, "unactivated") == 0) {
		ifx_log(ctx, IMGFETCH_LOG_INFO, "image %s is unactivated%s", p->uuid,
		        img.has_file ? " with this file: activating it" : " without a file: uploading it");
		st = upload_and_activate(ctx, c, p, !img.has_file);
	} else if ((strcmp(img.state, "active") == 0 || strcmp(img.state, "disabled") == 0) && img.has_file) {
		res->already_present = true;
		if (strcmp(img.state, "disabled") == 0)
			ifx_log(ctx, IMGFETCH_LOG_WARNING, "image %s is on %s but disabled: it cannot be provisioned until "
			        "it is enabled", p->uuid, o->imgapi_url);
	} else {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "image %s is on %s in state '%s'%s: cannot deliver over it; delete "
		              "it there and deliver again", p->uuid, o->imgapi_url, img.state[0] ? img.state : "unknown",
		              img.has_file ? "" : " without a file");
	}
out:
	imgapi_client_free(c);
	if (st == IMGFETCH_OK)
		ifx_log(ctx, IMGFETCH_LOG_NOTICE, "image %s %s %s", p->uuid,
		        res->already_present ? "was already active on" : "imported and activated on", o->imgapi_url);
	return st;
}

/* The caller's HTTP options for this call, held to the ranges
 * imgfetch_ctx_set_http() enforces (without changing the context). */
static imgfetch_status check_http(imgfetch_ctx *ctx, const imgfetch_http_opts *h)
{
	if (h->max_attempts < 1 || h->max_attempts > 100)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "retry attempts must be between 1 and 100, not %u",
		                h->max_attempts);
	if (h->connect_timeout_ms < 100 || h->first_byte_timeout_ms < 100 || h->stall_timeout_ms < 100)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "connect, first-byte and stall timeouts must be at least 0.1 s");
	if (h->retry_max_ms > 3600000 || h->retry_max_ms < h->retry_base_ms)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "the retry ceiling must be between the first delay and one hour");
	if (h->cacert && access(h->cacert, R_OK) != 0)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "cannot read CA file %s: %s", h->cacert, strerror(errno));
	return IMGFETCH_OK;
}

/* -------------------------------------------------------------------- API */

void imgfetch_deliver_result_free(imgfetch_deliver_result *r)
{
	if (!r)
		return;
	free(r->uuid);
	free(r->command);
	free(r);
}

imgfetch_status imgfetch_deliver(imgfetch_ctx *ctx, const imgfetch_deliver_opts *opts, imgfetch_deliver_result **ret)
{
	*ret = NULL;
	if (ifx_cancelled(ctx))
		return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled");
	if (!opts || !opts->manifest_path || !opts->file_path || !*opts->manifest_path || !*opts->file_path)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "deliver needs a manifest and the file it describes");
	if (opts->target != IMGFETCH_DELIVER_FILE && opts->target != IMGFETCH_DELIVER_SMARTOS &&
	    opts->target != IMGFETCH_DELIVER_IMGAPI)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "unknown delivery target %d", (int)opts->target);
	if (opts->target == IMGFETCH_DELIVER_IMGAPI && (!opts->imgapi_url || !*opts->imgapi_url))
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "delivery to IMGAPI needs its URL");
	if (opts->imgadm && !*opts->imgadm)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "the imgadm command is empty");
	const imgfetch_http_opts *http = opts->http ? opts->http : &ctx->http;
	imgfetch_status st = opts->http ? check_http(ctx, opts->http) : IMGFETCH_OK;
	if (st < 0)
		return st;

	pair p;
	st = pair_open(ctx, opts, &p);
	imgfetch_deliver_result *res = st == IMGFETCH_OK ? calloc(1, sizeof(*res)) : NULL;
	if (st == IMGFETCH_OK && (!res || !(res->uuid = strdup(p.uuid))))
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	if (st == IMGFETCH_OK) {
		switch (opts->target) {
		case IMGFETCH_DELIVER_FILE:
			res->command = install_command("imgadm", opts->manifest_path, opts->file_path);
			if (!res->command)
				st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
			break;
		case IMGFETCH_DELIVER_SMARTOS:
			st = deliver_smartos(ctx, opts, &p, res);
			break;
		case IMGFETCH_DELIVER_IMGAPI:
			st = deliver_imgapi(ctx, opts, http, &p, res);
			break;
		}
	}
	pair_clear(&p);
	if (st < 0) {
		imgfetch_deliver_result_free(res);
		return st;
	}
	*ret = res;
	return IMGFETCH_OK;
}
