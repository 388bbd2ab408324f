/* SPDX-License-Identifier: MIT */
/*
 * imgfetch_get(): resolve the expected digest, then either reuse a cache entry
 * that still verifies or download through the pipeline into an atomic file,
 * verify, and only then give the file its name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "get/pipeline.h"
#include "get/result.h"
#include "store/atomic.h"
#include "store/cache.h"
#include "store/copy.h"
#include "util/cleanup.h"
#include "util/strutil.h"
#include "verify/expected.h"

typedef struct outcome {
	int fd;             /* the verified file, kept open when the caller asked; else -1 */
	char sha256[65];
	char sha512[129];
	uint64_t size;
	char *final_url;
	uint32_t attempts;
	uint64_t resumed;
} outcome;

static const char *expected_hex_for(const expected_digest *exp, const outcome *got)
{
	return exp->sum.hash == IMGFETCH_HASH_SHA512 ? got->sha512 : got->sha256;
}

static imgfetch_status mismatch(imgfetch_ctx *ctx, const char *name, const expected_digest *exp, const char *got,
                               const char *dest)
{
	return ifx_fail(ctx, IMGFETCH_E_VERIFY, "%s mismatch for %s: expected %s, got %s%s%s%s; nothing was written to %s",
	                imgfetch_hash_name(exp->sum.hash), name, exp->sum.hex, got,
	                exp->source ? " (expected digest from " : "", exp->source ? exp->source : "",
	                exp->source ? ")" : "", dest);
}

/* A descriptor of the file just verified, for a caller that goes on using
 * it (fetch converts it, never the name). -1 when not wanted. */
static int keep_fd(bool want, int fd)
{
	return want ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : -1;
}

/* Downloads url into dest atomically; dest only appears if the digest (or
 * the signature over the file) verified. */
static imgfetch_status download_to(imgfetch_ctx *ctx, const char *url, const char *dest, const char *name,
                                   expected_digest *exp, bool want_fd, outcome *out)
{
	atomic_file f = ATOMIC_FILE_INIT;
	pipeline p;
	xfer_result xr = { 0 };
	imgfetch_status st;

	int r = atomic_file_open(dest, 0644, &f);
	if (r < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot create a temporary file for %s: %s", dest, strerror(-r));
	r = pipeline_init(&p, f.fd, exp->sum.hash == IMGFETCH_HASH_SHA512);
	if (r < 0) {
		atomic_file_abort(&f);
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot start the download pipeline: %s", strerror(-r));
	}

	xfer_request req = { .url = url, .label = name, .report_progress = true };
	st = xfer_run(ctx, &req, &p.sink, &xr);
	out->attempts = xr.attempts;
	if (st < 0)
		goto fail;
	r = pipeline_finish(&p, out->sha256, out->sha512);
	if (r < 0) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "writing %s failed: %s", dest, strerror(-r));
		goto fail;
	}
	if (exp->kind == IMGFETCH_VERIFIER_SIGNATURE) {
		st = expected_check_file_signature(ctx, exp, f.fd, url);
		if (st < 0) {
			ifx_fail_append(ctx, "nothing was written to %s", dest);
			goto fail;
		}
	} else if (exp->kind != IMGFETCH_VERIFIER_NONE && strcmp(expected_hex_for(exp, out), exp->sum.hex) != 0) {
		st = mismatch(ctx, name, exp, expected_hex_for(exp, out), dest);
		goto fail;
	}
	if (ifx_cancelled(ctx)) {
		st = ifx_fail(ctx, IMGFETCH_E_CANCELLED, "%s: cancelled; nothing was written to %s", name, dest);
		goto fail;
	}
	out->fd = keep_fd(want_fd, f.fd);
	if (want_fd && out->fd < 0) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot keep %s open: %s", dest, strerror(errno));
		goto fail;
	}
	r = atomic_file_commit(&f);
	if (r < 0) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot install %s: %s", dest, strerror(-r));
		if (out->fd >= 0)
			close(out->fd);
		out->fd = -1;
		goto fail;
	}
	pipeline_free(&p);
	atomic_file_abort(&f);
	out->size = xr.size;
	out->final_url = TAKE_PTR(xr.final_url);
	out->resumed = xr.resumed_bytes;
	xfer_result_clear(&xr);
	return IMGFETCH_OK;
fail:
	pipeline_free(&p);
	atomic_file_abort(&f);
	xfer_result_clear(&xr);
	return st;
}

/* Re-hashes a cache entry (copying it to `dest` on the way when given) and
 * reports whether it still has the digest it must have. */
static imgfetch_status check_cached(imgfetch_ctx *ctx, const cache_entry *e, const char *dest, const char *name,
                                    const char *url, expected_digest *exp, bool want_fd, outcome *out, bool *ret_ok)
{
	cache_meta meta;
	bool have_meta = cache_meta_read(e, &meta);
	_cleanup_close_ int fd = cache_entry_open(e);
	struct stat st;
	atomic_file f = ATOMIC_FILE_INIT;
	pipeline p;
	imgfetch_status s = IMGFETCH_OK;

	*ret_ok = false;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return IMGFETCH_OK;
	if (!have_meta || meta.size != (uint64_t)st.st_size) {
		ifx_log(ctx, IMGFETCH_LOG_WARNING, "cached copy of %s (%s) has no valid metadata or changed size; removed, "
		        "downloading again", name, e->path);
		cache_remove(e);
		return IMGFETCH_OK;
	}
	if (dest) {
		int r = atomic_file_open(dest, 0644, &f);
		if (r < 0)
			return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot create a temporary file for %s: %s", dest,
			                strerror(-r));
	}
	int r = pipeline_init(&p, dest ? f.fd : -1, exp->sum.hash == IMGFETCH_HASH_SHA512);
	if (r < 0) {
		atomic_file_abort(&f);
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot start the verification pipeline: %s", strerror(-r));
	}
	ifx_log(ctx, IMGFETCH_LOG_INFO, "verifying cached copy %s", e->path);
	r = pipeline_feed_fd(&p, fd, ctx, name, (uint64_t)st.st_size);
	if (r == 0)
		r = pipeline_finish(&p, out->sha256, out->sha512);
	if (r == -ECANCELED) {
		s = ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled while verifying the cached copy of %s", name);
		goto done;
	}
	if (r < 0) {
		s = ifx_fail(ctx, IMGFETCH_E_FAILED, "reading cached copy %s: %s", e->path, strerror(-r));
		goto done;
	}
	/* Without a digest to compare against, the one recorded at download
	 * time is the reference (and a signature over the file is checked again). */
	bool by_digest = exp->kind != IMGFETCH_VERIFIER_NONE && exp->kind != IMGFETCH_VERIFIER_SIGNATURE;
	const char *want = by_digest ? exp->sum.hex : meta.sha256;
	const char *got = by_digest ? expected_hex_for(exp, out) : out->sha256;
	if (strcmp(want, got) != 0) {
		ifx_log(ctx, IMGFETCH_LOG_WARNING,
		        "%s mismatch for cached copy of %s: expected %s, got %s; cached copy removed, downloading again",
		        by_digest ? imgfetch_hash_name(exp->sum.hash) : "sha256", name, want, got);
		cache_remove(e);
		goto done;
	}
	if (exp->kind == IMGFETCH_VERIFIER_SIGNATURE && expected_check_file_signature(ctx, exp, fd, url) < 0) {
		ifx_log(ctx, IMGFETCH_LOG_WARNING, "cached copy of %s does not verify: %s; cached copy removed, "
		        "downloading again", name, imgfetch_ctx_error(ctx));
		cache_remove(e);
		goto done;
	}
	if (ifx_cancelled(ctx)) {
		s = ifx_fail(ctx, IMGFETCH_E_CANCELLED, "%s: cancelled", name);
		goto done;
	}
	/* The copy when there is one (its bytes went through the hash), else
	 * the entry itself. */
	out->fd = keep_fd(want_fd, dest ? f.fd : fd);
	if (want_fd && out->fd < 0) {
		s = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot keep %s open: %s", e->path, strerror(errno));
		goto done;
	}
	if (dest && (r = atomic_file_commit(&f)) < 0) {
		s = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot install %s: %s", dest, strerror(-r));
		close(out->fd);
		out->fd = -1;
		goto done;
	}
	out->size = (uint64_t)st.st_size;
	ifx_progress(ctx, name, out->size, out->size, true);
	*ret_ok = true;
done:
	pipeline_free(&p);
	atomic_file_abort(&f);
	return s;
}

/* Copies the verified download (its descriptor, never its name) to dest;
 * with want_fd, *ret_fd is the copy's. */
static imgfetch_status copy_out(imgfetch_ctx *ctx, int in, const char *from, const char *dest, bool want_fd,
                                int *ret_fd)
{
	atomic_file f = ATOMIC_FILE_INIT;
	int r = atomic_file_open(dest, 0644, &f);
	if (r == 0)
		r = copy_whole_file(ctx, in, f.fd);
	if (r == 0 && ifx_cancelled(ctx))
		r = -ECANCELED;
	if (r == 0 && want_fd && (*ret_fd = keep_fd(true, f.fd)) < 0)
		r = -errno;
	if (r == 0)
		r = atomic_file_commit(&f);
	if (r < 0 && *ret_fd >= 0) {
		close(*ret_fd);
		*ret_fd = -1;
	}
	atomic_file_abort(&f);
	if (r == -ECANCELED)
		return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled while copying %s to %s", from, dest);
	if (r < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot copy %s to %s: %s", from, dest, strerror(-r));
	return IMGFETCH_OK;
}

static imgfetch_status get_cached(imgfetch_ctx *ctx, const imgfetch_get_opts *o, const char *name,
                                  expected_digest *exp, outcome *out, char **ret_path, bool *ret_from_cache)
{
	cache_entry e = CACHE_ENTRY_INIT;
	imgfetch_status st = cache_open(ctx, o->cache_dir, o->url, o->no_wait, &e);
	if (st < 0)
		return st;

	bool ok = false;
	/* With a copy to make, the descriptor handed on is the copy's. */
	st = check_cached(ctx, &e, o->output, name, o->url, exp, o->keep_fd, out, &ok);
	if (st < 0 || ok) {
		*ret_from_cache = ok;
		goto done;
	}
	st = download_to(ctx, o->url, e.path, name, exp, o->keep_fd || o->output, out);
	if (st < 0)
		goto done;
	cache_meta meta = { .size = out->size };
	memcpy(meta.sha256, out->sha256, sizeof(meta.sha256));
	if (exp->sum.hash == IMGFETCH_HASH_SHA512)
		memcpy(meta.sha512, out->sha512, sizeof(meta.sha512));
	int r = cache_meta_write(&e, o->url, out->final_url, &meta, imgfetch_verifier_name(exp->kind));
	if (r < 0) {
		/* Without metadata the entry would be distrusted next time anyway. */
		cache_remove(&e);
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot write cache metadata %s: %s", e.meta_path, strerror(-r));
		goto done;
	}
	if (o->output) {
		_cleanup_close_ int entry = TAKE_FD(out->fd);
		out->fd = -1;
		st = copy_out(ctx, entry, e.path, o->output, o->keep_fd, &out->fd);
	}
done:
	if (st == IMGFETCH_OK && !(*ret_path = strdup(o->output ? o->output : e.path)))
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	cache_close(&e);
	return st;
}

static bool supported_scheme(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0 ||
	       strncasecmp(url, "file://", 7) == 0;
}

imgfetch_status imgfetch_get(imgfetch_ctx *ctx, const imgfetch_get_opts *o, imgfetch_get_result **ret)
{
	expected_digest exp = { 0 };
	outcome out = { .fd = -1 };
	_cleanup_free_ char *name = NULL, *path = NULL;
	bool from_cache = false;
	imgfetch_status st;

	ctx->error[0] = '\0';
	if (ifx_cancelled(ctx))
		return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled before the download started");
	if (!o || !o->url || !ret)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "no URL given");
	if (!supported_scheme(o->url))
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "unsupported URL %s: use http://, https:// or file://", o->url);
	name = url_file_name(o->url);
	if (!name && !o->output && !o->use_cache)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "%s names no file; give an output path", o->url);
	if (!name && o->sums_url)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "%s names no file to look up in a checksum file", o->url);
	if (!name && !(name = strdup("download")))
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");

	/* An existing directory as output means "put it in there, under its own name". */
	struct stat ost;
	_cleanup_free_ char *in_dir = NULL;
	imgfetch_get_opts local = *o;
	if (o->output && stat(o->output, &ost) == 0 && S_ISDIR(ost.st_mode)) {
		size_t ol = strlen(o->output);
		if (asprintf(&in_dir, "%s%s%s", o->output, ol && o->output[ol - 1] == '/' ? "" : "/", name) < 0)
			return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		local.output = in_dir;
	}
	o = &local;

	st = expected_resolve(ctx, o, o->sums_name && o->sums_name[0] ? o->sums_name : name, &exp);
	if (st < 0) {
		expected_clear(&exp);
		return st;
	}
	if (exp.kind == IMGFETCH_VERIFIER_NONE)
		ifx_log(ctx, IMGFETCH_LOG_WARNING, "%s will NOT be verified (--verify none): nothing checks that "
		        "its content is what the publisher released", o->url);
	else if (exp.kind == IMGFETCH_VERIFIER_SIGNATURE)
		ifx_log(ctx, IMGFETCH_LOG_INFO, "expecting %s to verify against its signature %s", name, exp.source);
	else
		ifx_log(ctx, IMGFETCH_LOG_INFO, "expecting %s %s for %s (%s%s%s)", imgfetch_hash_name(exp.sum.hash),
		        exp.sum.hex, name, imgfetch_verifier_name(exp.kind), exp.source ? " " : "",
		        exp.source ? exp.source : "");

	/* Where the file goes: a path the user named (a link to a FIFO or a
	 * character device is refused), or a name imgfetch chose (the URL's,
	 * in the directory given or the working one), where nothing is followed.
	 * get installs by renaming a new file into place, so an existing device
	 * node, FIFO or socket there is refused rather than replaced (as root,
	 * `-o /dev/null` would otherwise swap the device for a file). */
	const char *target = o->output ? o->output : o->use_cache ? NULL : name;
	if (target) {
		char why[600];
		struct stat ts;
		int pr = o->output && !in_dir ? user_path_check(target, why, sizeof(why))
		                              : output_chosen_prepare(target, why, sizeof(why));
		if (pr < 0) {
			st = ifx_fail(ctx, IMGFETCH_E_INVALID, "%s", why);
			goto done;
		}
		if (stat(target, &ts) == 0 && !S_ISREG(ts.st_mode)) {
			st = ifx_fail(ctx, IMGFETCH_E_INVALID,
			              "%s is a %s, not a file: get installs a new file in place of the old, which would "
			              "replace the node; name a file (or use convert to write into a device)",
			              target, S_ISDIR(ts.st_mode) ? "directory" : S_ISBLK(ts.st_mode) ? "block device"
			                      : S_ISCHR(ts.st_mode) ? "character device" : S_ISFIFO(ts.st_mode) ? "FIFO"
			                                                                                     : "socket");
			goto done;
		}
	}

	if (o->use_cache) {
		st = get_cached(ctx, o, name, &exp, &out, &path, &from_cache);
	} else {
		const char *dest = o->output ? o->output : name;
		st = download_to(ctx, o->url, dest, name, &exp, o->keep_fd, &out);
		if (st == IMGFETCH_OK && !(path = strdup(dest)))
			st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	}
	if (st < 0)
		goto done;

	imgfetch_get_result *r = calloc(1, sizeof(*r));
	if (!r) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		goto done;
	}
	r->fd = -1;
	r->path = TAKE_PTR(path);
	r->url = out.final_url ? TAKE_PTR(out.final_url) : strdup(o->url);
	r->sha256 = strdup(out.sha256);
	r->sha512 = exp.sum.hash == IMGFETCH_HASH_SHA512 ? strdup(out.sha512) : NULL;
	r->size = out.size;
	r->verified = exp.kind != IMGFETCH_VERIFIER_NONE;
	r->verifier = exp.kind;
	r->evidence = exp.evidence;
	r->fd = TAKE_FD(out.fd);
	if (exp.evidence == IMGFETCH_EVIDENCE_SIGNATURE && !(r->signature = signature_dup(&exp.sig))) {
		imgfetch_get_result_free(r);
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		goto done;
	}
	if (exp.kind == IMGFETCH_VERIFIER_SUMS || exp.kind == IMGFETCH_VERIFIER_SIDECAR)
		r->digest_source = exp.source ? strdup(exp.source) : NULL;
	r->from_cache = from_cache;
	r->attempts = from_cache ? 0 : out.attempts;
	r->resumed_bytes = out.resumed;
	if (!r->url || !r->sha256 || (exp.sum.hash == IMGFETCH_HASH_SHA512 && !r->sha512)) {
		imgfetch_get_result_free(r);
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		goto done;
	}
	*ret = r;
	ctx->error[0] = '\0';
done:
	if (out.fd >= 0)
		close(out.fd);
	free(out.final_url);
	expected_clear(&exp);
	return st;
}
