/* SPDX-License-Identifier: MIT */
/*
 * imgfetch_pull(): resolve a reference to a digest, walk an index to a
 * platform, pick a layer, and download its blob hashed on the way, verified
 * (digest and size) before it is installed atomically; optionally converted.
 * A stamp "<output>.digest" lets a later pull of the same digest do nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ctx.h"
#include "get/pipeline.h"
#include "http/xfer.h"
#include "oci/authfile.h"
#include "oci/client.h"
#include "oci/manifest.h"
#include "oci/ref.h"
#include "store/atomic.h"
#include "util/cleanup.h"
#include "util/fileio.h"

#define STAMP_SUFFIX ".digest"
#define STAMP_MAX 512

static const char *format_name(imgfetch_pull_format f)
{
	switch (f) {
	case IMGFETCH_PULL_RAW: return "raw";
	case IMGFETCH_PULL_QCOW2: return "qcow2";
	default: return "blob";
	}
}

/* "os/arch[/variant]" of the machine this was built for. */
static const char *host_platform(void)
{
#if defined(__x86_64__)
	return "linux/amd64";
#elif defined(__aarch64__)
	return "linux/arm64";
#elif defined(__i386__)
	return "linux/386";
#elif defined(__arm__)
	return "linux/arm";
#elif defined(__riscv) && __riscv_xlen == 64
	return "linux/riscv64";
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
	return "linux/ppc64le";
#elif defined(__s390x__)
	return "linux/s390x";
#else
	return "linux/unknown";
#endif
}

/* ------------------------------------------------------------ selection */

static bool contains_ci(const char *hay, const char *needle)
{
	return hay && strcasestr(hay, needle) != NULL;
}

/* Signature, SBOM and attestation layers: never the disk image. */
static bool is_side_layer(const oci_descriptor *d)
{
	static const char *const marks[] = { "signature", "spdx", "cyclonedx", "in-toto", "intoto", "sbom",
		                             "attestation", "pgp-keys", "simplesigning", "sigstore", "cosign", NULL };
	for (size_t i = 0; marks[i]; i++)
		if (contains_ci(d->media_type, marks[i]) || contains_ci(d->artifact_type, marks[i]))
			return true;
	const char *t = oci_annotation_get(d->annotations, d->n_annotations, OCI_ANNOTATION_TITLE);
	if (t) {
		size_t n = strlen(t);
		static const char *const sfx[] = { ".sig", ".asc", ".sigstore", ".spdx.json", ".cdx.json",
			                           ".intoto.jsonl", NULL };
		for (size_t i = 0; sfx[i]; i++) {
			size_t k = strlen(sfx[i]);
			if (n >= k && strcasecmp(t + n - k, sfx[i]) == 0)
				return true;
		}
	}
	return false;
}

static char *layers_list(const oci_manifest *m)
{
	size_t cap = 1;
	for (size_t i = 0; i < m->n_layers; i++) {
		const char *t = oci_annotation_get(m->layers[i].annotations, m->layers[i].n_annotations,
		                                   OCI_ANNOTATION_TITLE);
		cap += (t ? strlen(t) : 1) + strlen(m->layers[i].media_type) + 8;
	}
	char *s = malloc(cap);
	if (!s)
		return NULL;
	s[0] = '\0';
	size_t len = 0;
	for (size_t i = 0; i < m->n_layers; i++) {
		const char *t = oci_annotation_get(m->layers[i].annotations, m->layers[i].n_annotations,
		                                   OCI_ANNOTATION_TITLE);
		len += (size_t)snprintf(s + len, cap - len, "%s%s (%s)", i ? ", " : "", t ? t : "-",
		                        m->layers[i].media_type);
	}
	return s;
}

static imgfetch_status select_layer(imgfetch_ctx *ctx, const oci_manifest *m, const imgfetch_pull_opts *o,
                                    const char *what, const oci_descriptor **ret)
{
	const oci_descriptor *best = NULL;
	for (size_t i = 0; i < m->n_layers; i++) {
		const oci_descriptor *d = &m->layers[i];
		if (o->title) {
			const char *t = oci_annotation_get(d->annotations, d->n_annotations, OCI_ANNOTATION_TITLE);
			if (!t || strcmp(t, o->title) != 0)
				continue;
		} else if (o->media_type) {
			if (strcmp(d->media_type, o->media_type) != 0)
				continue;
		} else if (is_side_layer(d)) {
			continue;
		}
		if (!best || d->size > best->size)
			best = d;
	}
	if (!best) {
		char *list = layers_list(m);
		imgfetch_status st = ifx_fail(ctx, IMGFETCH_E_NOT_FOUND, "%s has no %s%s%s; its layers: %s", what,
		                              o->title ? "layer titled " : o->media_type ? "layer of media type " : "",
		                              o->title ? o->title : o->media_type ? o->media_type : "disk-image layer",
		                              "", list ? (*list ? list : "(none)") : "?");
		free(list);
		return st;
	}
	*ret = best;
	return IMGFETCH_OK;
}

/* A single manifest annotated for a platform other than the one asked for. */
static bool platform_disagrees(const oci_manifest *m, const char *want)
{
	const oci_annotation *a = m->annotations;
	size_t n = m->n_annotations;
	const char *whole = oci_annotation_get(a, n, "org.opencontainers.image.platform");
	if (!whole)
		whole = oci_annotation_get(a, n, "platform");
	if (whole) {
		char buf[256];
		snprintf(buf, sizeof(buf), "%s", whole);
		char *os = buf, *arch = strchr(buf, '/');
		if (arch) {
			*arch++ = '\0';
			char *var = strchr(arch, '/');
			if (var)
				*var++ = '\0';
			oci_platform p = { .os = os, .architecture = arch, .variant = var };
			if (!oci_platform_matches(&p, want))
				return true;
		}
	}
	const char *os = oci_annotation_get(a, n, "org.opencontainers.platform.os");
	const char *arch = oci_annotation_get(a, n, "org.opencontainers.platform.architecture");
	const char *var = oci_annotation_get(a, n, "org.opencontainers.platform.variant");
	if (!arch)
		arch = oci_annotation_get(a, n, "architecture");
	if (!os)
		os = oci_annotation_get(a, n, "os");
	if (os || arch) {
		/* Only what is annotated is compared. */
		char wbuf[256];
		snprintf(wbuf, sizeof(wbuf), "%s", want);
		char *wos = wbuf, *warch = strchr(wbuf, '/');
		if (warch)
			*warch++ = '\0';
		char *wvar = warch ? strchr(warch, '/') : NULL;
		if (wvar)
			*wvar++ = '\0';
		oci_platform p = { .os = (char *)(os ? os : wos), .architecture = (char *)(arch ? arch : warch),
			           .variant = (char *)(arch ? var : wvar) };
		if (p.architecture && !oci_platform_matches(&p, want))
			return true;
	}
	return false;
}

/* --------------------------------------------------------------- stamps */

static char *stamp_path(const char *out)
{
	char *s;
	return asprintf(&s, "%s%s", out, STAMP_SUFFIX) < 0 ? NULL : s;
}

/* Whether `out` is a regular file whose stamp names digest and format and whose size it records. */
static bool stamp_matches(const char *out, const char *want, imgfetch_pull_format fmt)
{
	_cleanup_free_ char *sp = stamp_path(out);
	if (!sp)
		return false;
	/* The stamp and the output are names imgfetch chose: neither is
	 * followed when it is a link, nor waited on when it is a FIFO. */
	_cleanup_close_ int fd = open_nofollow_regular(AT_FDCWD, sp, O_RDONLY | O_CLOEXEC, 0, NULL);
	if (fd < 0)
		return false;
	char buf[STAMP_MAX + 1];
	ssize_t n = read(fd, buf, STAMP_MAX);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	char d[200], f[16];
	uint64_t size;
	if (sscanf(buf, "%199s %" SCNu64 " %15s", d, &size, f) != 3)
		return false;
	struct stat st;
	if (lstat(out, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	return strcmp(d, want) == 0 && strcmp(f, format_name(fmt)) == 0 && (uint64_t)st.st_size == size;
}

static int stamp_write(const char *out, const char *want, imgfetch_pull_format fmt)
{
	_cleanup_free_ char *sp = stamp_path(out);
	if (!sp)
		return -ENOMEM;
	struct stat st;
	if (lstat(out, &st) < 0)
		return -errno;
	char line[STAMP_MAX];
	int len = snprintf(line, sizeof(line), "%s %" PRIu64 " %s\n", want, (uint64_t)st.st_size, format_name(fmt));
	if (len < 0 || (size_t)len >= sizeof(line))
		return -EINVAL;
	atomic_file f = ATOMIC_FILE_INIT;
	int r = atomic_file_open(sp, 0644, &f);
	if (r == 0)
		r = write_full(f.fd, line, (size_t)len);
	if (r == 0)
		r = atomic_file_commit(&f);
	atomic_file_abort(&f);
	return r;
}

/* ------------------------------------------------------------- download */

typedef struct capsink {
	pipeline *p;
	uint64_t n, cap;
	bool over;
} capsink;

static int cap_write(void *u, const void *buf, size_t n)
{
	capsink *s = u;
	if (s->n + n > s->cap) {
		s->over = true;
		return -EFBIG;
	}
	s->n += n;
	return pipeline_feed(s->p, buf, n);
}

static int cap_reset(void *u)
{
	capsink *s = u;
	s->n = 0;
	return s->p->sink.reset(s->p->sink.u);
}

/* Downloads blob d into fd (at its start), verifying size and digest. */
static imgfetch_status blob_to_fd(imgfetch_ctx *ctx, oci_client *c, const oci_descriptor *d, int fd,
                                  const char *dest)
{
	bool sha512 = strncmp(d->digest, "sha512:", 7) == 0;
	pipeline p;
	int r = pipeline_init(&p, fd, sha512);
	if (r < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot start the download pipeline: %s", strerror(-r));
	capsink cs = { .p = &p, .cap = (uint64_t)d->size };
	xfer_sink sink = { .write = cap_write, .reset = cap_reset, .u = &cs };
	xfer_result xr;
	imgfetch_status st = oci_client_get_blob(c, d->digest, (uint64_t)d->size, &sink, &xr);
	char h256[65], h512[129];
	if (st < 0) {
		if (cs.over)
			ifx_fail(ctx, IMGFETCH_E_VERIFY, "size mismatch for blob %s: the registry sent more than the "
			         "%" PRIu64 " bytes the manifest declares; nothing was written to %s", d->digest,
			         (uint64_t)d->size, dest);
		xfer_result_clear(&xr);
		pipeline_free(&p);
		return cs.over ? IMGFETCH_E_VERIFY : st;
	}
	if (xr.resumed_bytes)
		ifx_log(ctx, IMGFETCH_LOG_INFO, "blob %s resumed after %" PRIu64 " bytes", d->digest, xr.resumed_bytes);
	xfer_result_clear(&xr);
	r = pipeline_finish(&p, h256, h512);
	pipeline_free(&p);
	if (r < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "writing %s failed: %s", dest, strerror(-r));
	if (cs.n != (uint64_t)d->size)
		return ifx_fail(ctx, IMGFETCH_E_VERIFY, "size mismatch for blob %s: the manifest declares %" PRIu64
		                " bytes, the registry sent %" PRIu64 "; nothing was written to %s", d->digest,
		                (uint64_t)d->size, cs.n, dest);
	const char *want = strchr(d->digest, ':') + 1;
	const char *got = sha512 ? h512 : h256;
	if (strcmp(want, got) != 0)
		return ifx_fail(ctx, IMGFETCH_E_VERIFY, "digest mismatch for blob %s: the registry sent %s:%s; nothing "
		                "was written to %s", d->digest, sha512 ? "sha512" : "sha256", got, dest);
	if (ifx_cancelled(ctx))
		return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled; nothing was written to %s", dest);
	return IMGFETCH_OK;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* Installs blob d at dest, as it is or converted. */
static imgfetch_status install_blob(imgfetch_ctx *ctx, oci_client *c, const oci_descriptor *d, const char *dest,
                                    imgfetch_pull_format fmt)
{
	imgfetch_status st;
	if (fmt == IMGFETCH_PULL_BLOB) {
		atomic_file f = ATOMIC_FILE_INIT;
		int r = atomic_file_open(dest, 0644, &f);
		if (r < 0)
			return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot create a temporary file for %s: %s", dest,
			                strerror(-r));
		st = blob_to_fd(ctx, c, d, f.fd, dest);
		if (st == IMGFETCH_OK && (r = atomic_file_commit(&f)) < 0)
			st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot install %s: %s", dest, strerror(-r));
		atomic_file_abort(&f);
		return st;
	}

	/* Converted: the blob goes to a temporary file beside the output, which
	 * loses its name at once: the conversion reads the very descriptor the
	 * digest was computed through, so no one can put other bytes under a
	 * name between verification and use, and a killed run leaves nothing. */
	_cleanup_free_ char *dir = dir_of(dest);
	if (!dir)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	int fd = scratch_file_open(dir);
	if (fd < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot create a temporary file in %s: %s", dir, strerror(-fd));
	st = blob_to_fd(ctx, c, d, fd, dest);
	if (st == IMGFETCH_OK) {
		imgfetch_convert_opts co = {
			.input = d->digest,
			.has_input_fd = true,
			.input_fd = fd,
			.output = dest,
			.tmp_dir = dir,
			.format = fmt == IMGFETCH_PULL_QCOW2 ? IMGFETCH_FORMAT_QCOW2 : IMGFETCH_FORMAT_RAW,
		};
		imgfetch_convert_result *cr = NULL;
		st = imgfetch_convert(ctx, &co, &cr);
		imgfetch_convert_result_free(cr);
	}
	close(fd);
	return st;
}

/* --------------------------------------------------------------- result */

void imgfetch_pull_result_free(imgfetch_pull_result *r)
{
	if (!r)
		return;
	free(r->reference);
	free(r->digest);
	free(r->manifest_digest);
	free(r->platform);
	for (size_t i = 0; i < r->n_files; i++) {
		free(r->files[i].path);
		free(r->files[i].digest);
		free(r->files[i].media_type);
		free(r->files[i].title);
	}
	free(r->files);
	free(r);
}

static int set_str(json_t *o, const char *k, const char *v)
{
	return json_object_set_new(o, k, v ? json_string(v) : json_null());
}

char *imgfetch_pull_result_to_json(const imgfetch_pull_result *r)
{
	json_t *o = json_object();
	json_t *files = json_array();
	char *s = NULL;
	if (!o || !files || set_str(o, "reference", r->reference) < 0 || set_str(o, "digest", r->digest) < 0 ||
	    set_str(o, "manifest_digest", r->manifest_digest) < 0 || set_str(o, "platform", r->platform) < 0 ||
	    set_str(o, "format", format_name(r->format)) < 0)
		goto out;
	for (size_t i = 0; i < r->n_files; i++) {
		const imgfetch_pull_file *f = &r->files[i];
		json_t *j = json_object();
		if (!j || set_str(j, "path", f->path) < 0 || set_str(j, "digest", f->digest) < 0 ||
		    json_object_set_new(j, "size", json_integer((json_int_t)f->size)) < 0 ||
		    set_str(j, "media_type", f->media_type) < 0 || set_str(j, "title", f->title) < 0 ||
		    json_object_set_new(j, "skipped", json_boolean(f->skipped)) < 0 ||
		    json_array_append_new(files, j) < 0) {
			json_decref(j);
			goto out;
		}
	}
	if (json_object_set(o, "files", files) < 0)
		goto out;
	s = json_dumps(o, JSON_COMPACT);
out:
	json_decref(files);
	json_decref(o);
	return s;
}

static imgfetch_status add_file(imgfetch_ctx *ctx, imgfetch_pull_result *r, const char *path,
                                const oci_descriptor *d, bool skipped)
{
	imgfetch_pull_file *f = realloc(r->files, (r->n_files + 1) * sizeof(*f));
	if (!f)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	r->files = f;
	f = &r->files[r->n_files++];
	const char *t = oci_annotation_get(d->annotations, d->n_annotations, OCI_ANNOTATION_TITLE);
	*f = (imgfetch_pull_file){
		.path = strdup(path),
		.digest = strdup(d->digest),
		.size = (uint64_t)d->size,
		.media_type = strdup(d->media_type),
		.title = t ? strdup(t) : NULL,
		.skipped = skipped,
	};
	if (!f->path || !f->digest || !f->media_type || (t && !f->title))
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	return IMGFETCH_OK;
}

/* ----------------------------------------------------------------- pull */

static imgfetch_status fetch_parsed(imgfetch_ctx *ctx, oci_client *c, const char *reference, oci_fetched *f,
                                    oci_manifest *m)
{
	char err[256];
	imgfetch_status st = oci_client_get_manifest(c, reference, f);
	if (st < 0)
		return st;
	if (oci_manifest_parse(f->body, f->len, m, err, sizeof(err)) < 0)
		return ifx_fail(ctx, IMGFETCH_E_FORMAT, "the manifest %s is not valid: %s", f->digest, err);
	return IMGFETCH_OK;
}

/* A name imgfetch chose (a layer's title in the user's directory): a link
 * there is removed, a directory or special file refused (exit 2). */
static imgfetch_status prepare_chosen(imgfetch_ctx *ctx, const char *path)
{
	char why[600];
	int r = output_chosen_prepare(path, why, sizeof(why));
	return r < 0 ? ifx_fail(ctx, IMGFETCH_E_INVALID, "%s", why) : IMGFETCH_OK;
}

/* The user's own -o: a link to a FIFO or character device is refused. */
static imgfetch_status check_user_output(imgfetch_ctx *ctx, const char *path)
{
	char why[600];
	int r = user_path_check(path, why, sizeof(why));
	return r < 0 ? ifx_fail(ctx, IMGFETCH_E_INVALID, "%s", why) : IMGFETCH_OK;
}

/* DIR/<name> for layer d: its safe title, else its digest's hex (unique among taken). */
static char *layer_path(const char *dir, const oci_descriptor *d, char **taken, size_t n_taken)
{
	const char *title = oci_descriptor_title(d);
	_cleanup_free_ char *name = title ? oci_title_sanitize(title) : NULL;
	const char *base = name ? name : strchr(d->digest, ':') + 1;
	for (size_t i = 0; i < n_taken; i++)
		if (strcasecmp(taken[i], base) == 0) {
			base = strchr(d->digest, ':') + 1;
			break;
		}
	size_t dl = strlen(dir);
	char *p;
	if (asprintf(&p, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", base) < 0)
		return NULL;
	return p;
}

imgfetch_status imgfetch_pull(imgfetch_ctx *ctx, const imgfetch_pull_opts *o, imgfetch_pull_result **ret)
{
	char err[256];
	oci_ref ref = { 0 };
	oci_fetched top_f = { 0 }, sel_f = { 0 };
	oci_manifest top = { 0 }, sel = { 0 };
	oci_client *c = NULL;
	imgfetch_pull_result *r = NULL;
	imgfetch_status st;

	if (!ret)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "no result pointer");
	*ret = NULL;
	if (ifx_cancelled(ctx))
		return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled");
	if (!o || !o->ref)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "no reference given");
	if (!o->output || !*o->output)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "no output path given");
	if (!o->username != !o->password)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "a username needs a password and a password a username");
	if ((o->title != NULL) + (o->media_type != NULL) + o->all_layers > 1)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "choose one of --title, --media-type and --all-layers");
	if (o->all_layers && o->format != IMGFETCH_PULL_BLOB)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "--all-layers writes blobs as they are; --format does not apply");
	if (o->format > IMGFETCH_PULL_QCOW2)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "unknown output format");
	if (oci_ref_parse(o->ref, &ref, err, sizeof(err)) < 0)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "invalid reference '%s': %s", o->ref, err);

	/* Explicit credentials win; otherwise the auth files. */
	oci_credentials found = { 0 };
	if (!o->username && (st = oci_authfile_lookup(ctx, o->authfile, &ref, &found)) < 0) {
		oci_ref_clear(&ref);
		return st;
	}
	r = calloc(1, sizeof(*r));
	c = o->username ? oci_client_new(ctx, &ref, o->username, o->password)
	                : oci_client_new(ctx, &ref, found.username, found.password);
	oci_credentials_clear(&found);
	if (!r || !c || !(r->reference = oci_ref_format(&ref))) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		goto out;
	}
	r->format = o->format;

	st = fetch_parsed(ctx, c, ref.digest ? ref.digest : ref.tag, &top_f, &top);
	if (st < 0)
		goto out;
	if (!(r->digest = strdup(top_f.digest))) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		goto out;
	}
	const oci_manifest *m = &top;
	const char *mdigest = top_f.digest;
	if (oci_kind_is_index(top.kind)) {
		const char *want = o->platform ? o->platform : host_platform();
		const oci_descriptor *d = oci_index_select(&top, want);
		if (!d) {
			char *list = oci_platforms_list(&top);
			st = ifx_fail(ctx, IMGFETCH_E_NOT_FOUND, "%s has no manifest for platform %s%s; it has: %s",
			              r->reference, want, o->platform ? "" : " (the host's; choose with --platform)",
			              list ? (*list ? list : "(none)") : "?");
			free(list);
			goto out;
		}
		ifx_log(ctx, IMGFETCH_LOG_INFO, "%s: platform %s is %s", r->reference, want, d->digest);
		if (!(r->platform = strdup(want))) {
			st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
			goto out;
		}
		st = fetch_parsed(ctx, c, d->digest, &sel_f, &sel);
		if (st < 0)
			goto out;
		if (oci_kind_is_index(sel.kind)) {
			st = ifx_fail(ctx, IMGFETCH_E_FORMAT, "the index entry %s for %s is itself an index", d->digest,
			              want);
			goto out;
		}
		m = &sel;
		mdigest = sel_f.digest;
	} else if (o->platform && platform_disagrees(&top, o->platform)) {
		st = ifx_fail(ctx, IMGFETCH_E_NOT_FOUND, "%s is a single manifest annotated for another platform than %s",
		              r->reference, o->platform);
		goto out;
	}
	if (!(r->manifest_digest = strdup(mdigest))) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		goto out;
	}

	if (o->all_layers) {
		if (mkdir(o->output, 0755) < 0 && errno != EEXIST) {
			st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot create %s: %s", o->output, strerror(errno));
			goto out;
		}
		struct stat dst;
		if (stat(o->output, &dst) < 0 || !S_ISDIR(dst.st_mode)) {
			st = ifx_fail(ctx, IMGFETCH_E_INVALID, "--all-layers needs a directory; %s is not one", o->output);
			goto out;
		}
		char **taken = calloc(m->n_layers + 1, sizeof(*taken));
		if (!taken) {
			st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
			goto out;
		}
		size_t n_taken = 0;
		for (size_t i = 0; i < m->n_layers && st == IMGFETCH_OK; i++) {
			const oci_descriptor *d = &m->layers[i];
			char *path = layer_path(o->output, d, taken, n_taken);
			if (!path) {
				st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
				break;
			}
			/* Even the digest name taken (a title that is another
			 * layer's digest, or a layer listed twice): two layers must
			 * never share a file. */
			bool clash = false;
			for (size_t k = 0; k < n_taken && !clash; k++)
				clash = strcasecmp(taken[k], strrchr(path, '/') + 1) == 0;
			if (clash) {
				st = ifx_fail(ctx, IMGFETCH_E_FORMAT, "two layers of %s would both be written to %s", o->ref,
				              path);
				free(path);
				break;
			}
			if (!(taken[n_taken] = strdup(strrchr(path, '/') + 1))) {
				free(path);
				st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
				break;
			}
			n_taken++;
			ifx_log(ctx, IMGFETCH_LOG_INFO, "layer %s -> %s", d->digest, path);
			st = prepare_chosen(ctx, path);
			if (st == IMGFETCH_OK)
				st = install_blob(ctx, c, d, path, IMGFETCH_PULL_BLOB);
			if (st == IMGFETCH_OK)
				st = add_file(ctx, r, path, d, false);
			free(path);
		}
		for (size_t i = 0; i < n_taken; i++)
			free(taken[i]);
		free(taken);
		if (st < 0)
			goto out;
	} else {
		const oci_descriptor *d = NULL;
		st = select_layer(ctx, m, o, mdigest, &d);
		if (st < 0)
			goto out;
		/* An existing directory: the layer goes in there under its title. */
		_cleanup_free_ char *in_dir = NULL;
		const char *dest = o->output;
		struct stat ost;
		if (stat(o->output, &ost) == 0 && S_ISDIR(ost.st_mode)) {
			in_dir = layer_path(o->output, d, NULL, 0);
			if (!in_dir) {
				st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
				goto out;
			}
			dest = in_dir;
		}
		/* A layer's title names the file inside the directory: a link or
		 * a special file there is not followed. The path given is the
		 * user's, and may be a link to a device (raw output). */
		st = in_dir ? prepare_chosen(ctx, dest) : check_user_output(ctx, dest);
		if (st < 0)
			goto out;
		bool skip = stamp_matches(dest, d->digest, o->format);
		if (skip) {
			ifx_log(ctx, IMGFETCH_LOG_INFO, "%s already holds %s; nothing to do", dest, d->digest);
		} else {
			_cleanup_free_ char *sp = stamp_path(dest);
			if (!sp) {
				st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
				goto out;
			}
			/* A stale stamp must not outlive the file it described. */
			if (unlink(sp) < 0 && errno != ENOENT) {
				st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot remove the stale stamp %s: %s", sp,
				              strerror(errno));
				goto out;
			}
			st = install_blob(ctx, c, d, dest, o->format);
			if (st < 0)
				goto out;
			int e = stamp_write(dest, d->digest, o->format);
			if (e < 0)
				ifx_log(ctx, IMGFETCH_LOG_WARNING, "cannot write the stamp %s: %s (the next pull downloads "
				        "again)", sp, strerror(-e));
		}
		st = add_file(ctx, r, dest, d, skip);
		if (st < 0)
			goto out;
	}
	*ret = r;
	r = NULL;
	st = IMGFETCH_OK;
out:
	imgfetch_pull_result_free(r);
	oci_fetched_clear(&top_f);
	oci_fetched_clear(&sel_f);
	oci_manifest_clear(&top);
	oci_manifest_clear(&sel);
	oci_client_free(c);
	oci_ref_clear(&ref);
	return st;
}
