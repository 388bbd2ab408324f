/* SPDX-License-Identifier: MIT */
/*
 * imgfetch_fetch(): resolve → download through the cache, verified →
 * convert → DIR/<vendor>-<series>-<version>.<arch>.<ext> + metadata JSON.
 * Every step is an existing public call; this file only decides names and
 * the verifier, and writes the metadata atomically beside the image.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "get/result.h"
#include "smartos/manifest.h"
#include "store/atomic.h"
#include "util/cleanup.h"
#include "util/fileio.h"


static const char *out_ext(const imgfetch_resolved *r, imgfetch_fetch_format f)
{
	switch (f) {
	case IMGFETCH_FETCH_QCOW2: return "qcow2";
	case IMGFETCH_FETCH_SOURCE: return r->format;
	case IMGFETCH_FETCH_ZVOL: return "zfs.gz";
	case IMGFETCH_FETCH_RAW: break;
	}
	return "raw";
}

/* File names built from feed values: nothing that could leave the directory. */
static bool safe_component(const char *s)
{
	return s && s[0] && s[0] != '.' && !strchr(s, '/') && !strchr(s, '\\') && strlen(s) < 128;
}

void imgfetch_fetch_result_free(imgfetch_fetch_result *r)
{
	if (!r)
		return;
	imgfetch_resolved_free(r->image);
	free(r->path);
	free(r->metadata_path);
	free(r->source_path);
	free(r->pushed);
	free(r->manifest_path);
	free(r->digest_source);
	signature_free(r->signature);
	free(r);
}

static json_t *result_json(const imgfetch_fetch_result *r)
{
	json_t *o = resolved_json(r->image);
	if (!o)
		return NULL;
	json_object_set_new(o, "path", r->path ? json_string(r->path) : json_null());
	json_object_set_new(o, "metadata_path", r->metadata_path ? json_string(r->metadata_path) : json_null());
	json_object_set_new(o, "source_path", r->source_path ? json_string(r->source_path) : json_null());
	json_object_set_new(o, "from_cache", json_boolean(r->from_cache));
	json_object_set_new(o, "verified", json_boolean(r->verified));
	json_object_set_new(o, "verify", json_string(imgfetch_verify_policy_name(r->required)));
	json_object_set_new(o, "evidence_chain",
	                    r->dry_run ? json_null()
	                               : evidence_json(r->evidence, r->digest_source, r->signature, r->image->sha256));
	json_object_set_new(o, "dry_run", json_boolean(r->dry_run));
	json_object_set_new(o, "virtual_size", r->virtual_size ? json_integer((json_int_t)r->virtual_size) : json_null());
	if (r->pushed)
		json_object_set_new(o, "pushed", json_string(r->pushed));
	if (r->manifest_path)
		json_object_set_new(o, "manifest_path", json_string(r->manifest_path));
	return o;
}

char *imgfetch_fetch_result_to_json(const imgfetch_fetch_result *r)
{
	json_t *o = result_json(r);
	if (!o)
		return NULL;
	char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	return s;
}

static imgfetch_status write_metadata(imgfetch_ctx *ctx, const imgfetch_fetch_result *r)
{
	json_t *o = result_json(r);
	if (!o)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	json_object_del(o, "dry_run");
	json_object_del(o, "source_path"); /* a cache path says nothing to a reader of the directory */
	json_object_del(o, "from_cache");
	json_object_del(o, "metadata_path");
	json_object_del(o, "manifest_path");
	char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(o);
	if (!text)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	atomic_file f;
	int e = atomic_file_open(r->metadata_path, 0644, &f);
	if (e == 0) {
		size_t n = strlen(text);
		text[n] = '\n';
		e = write_full(f.fd, text, n + 1);
		e = e < 0 ? e : atomic_file_commit(&f);
		atomic_file_abort(&f); /* after commit: only releases the names */
	}
	free(text);
	if (e < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot write %s: %s", r->metadata_path, strerror(-e));
	return IMGFETCH_OK;
}

/* What the vendor publishes, for messages: "a signed SHA256SUMS", "a checksum file". */
static const char *published(const imgfetch_resolved *img)
{
	switch (img->evidence) {
	case IMGFETCH_EVIDENCE_SIGNATURE: return "a signature";
	case IMGFETCH_EVIDENCE_PINNED: return "a digest pinned by its profile";
	case IMGFETCH_EVIDENCE_CHECKSUM:
		return img->verifier == IMGFETCH_VERIFIER_PINNED ? "a digest in its feed (fetched over TLS), no signature"
		                                                  : "a checksum file (fetched over TLS), no signature";
	case IMGFETCH_EVIDENCE_NONE: break;
	}
	return "no digest and no signature";
}

/*
 * The get options that verify the image as the policy demands, and the
 * level that demand resolves to (*required). AUTO takes the strongest the
 * vendor publishes; a signature, once published, must verify.
 */
static imgfetch_status choose_verifier(imgfetch_ctx *ctx, const imgfetch_fetch_opts *o, const imgfetch_resolved *img,
                                       imgfetch_get_opts *g, imgfetch_verify_policy *required)
{
	imgfetch_verify_policy policy = o->verify;
	if (o->insecure_no_verify) {
		if (policy != IMGFETCH_VERIFY_AUTO && policy != IMGFETCH_VERIFY_NONE)
			return ifx_fail(ctx, IMGFETCH_E_INVALID, "--insecure-no-verify contradicts --verify %s",
			                imgfetch_verify_policy_name(policy));
		policy = IMGFETCH_VERIFY_NONE;
	}
	g->keyring = o->keyring;
	/* A vendor's image counts only its own keys; a profile's, any. */
	g->keys_for = o->profile ? NULL : img->vendor;
	if (o->expected_sha256) {
		if (policy == IMGFETCH_VERIFY_SIGNATURE || policy == IMGFETCH_VERIFY_NONE)
			return ifx_fail(ctx, IMGFETCH_E_INVALID, "--expected-sha256 contradicts --verify %s",
			                imgfetch_verify_policy_name(policy));
		g->sha256 = o->expected_sha256;
		*required = IMGFETCH_VERIFY_CHECKSUM;
		return IMGFETCH_OK;
	}
	if (policy == IMGFETCH_VERIFY_NONE) {
		g->verify = IMGFETCH_VERIFY_NONE;
		*required = IMGFETCH_VERIFY_NONE;
		return IMGFETCH_OK;
	}
	bool signed_ = img->evidence == IMGFETCH_EVIDENCE_SIGNATURE;
	if (policy == IMGFETCH_VERIFY_SIGNATURE && !signed_)
		return ifx_fail(ctx, IMGFETCH_E_VERIFY,
		                "--verify signature: %s signs nothing for %s; it publishes %s (accept that with --verify "
		                "checksum)",
		                img->vendor, img->file_name, published(img));
	bool use_sig = signed_ && policy != IMGFETCH_VERIFY_CHECKSUM;
	*required = use_sig ? IMGFETCH_VERIFY_SIGNATURE : IMGFETCH_VERIFY_CHECKSUM;
	g->verify = use_sig ? IMGFETCH_VERIFY_SIGNATURE : IMGFETCH_VERIFY_CHECKSUM;
	if (use_sig)
		g->signature_url = img->signature_url;
	/* The signed checksum file wins over a digest from an unsigned feed. */
	if (use_sig && img->sums_url && img->verifier != IMGFETCH_VERIFIER_SIDECAR) {
		g->sums_url = img->sums_url;
		g->sums_name = img->file_name;
		return IMGFETCH_OK;
	}
	switch (img->verifier) {
	case IMGFETCH_VERIFIER_PINNED:
		if (use_sig)
			break; /* a profile's signature over the image itself */
		if (img->sha256)
			g->sha256 = img->sha256;
		else
			g->sha512 = img->sha512;
		return IMGFETCH_OK;
	case IMGFETCH_VERIFIER_SUMS:
		g->sums_url = img->sums_url;
		g->sums_name = img->file_name;
		return IMGFETCH_OK;
	case IMGFETCH_VERIFIER_SIDECAR:
		g->sidecar = true;
		return IMGFETCH_OK;
	case IMGFETCH_VERIFIER_SIGNATURE:
		if (!use_sig)
			return ifx_fail(ctx, IMGFETCH_E_VERIFY,
			                "--verify checksum: %s %s has a signature over the image but no digest", img->vendor,
			                img->version);
		return IMGFETCH_OK;
	case IMGFETCH_VERIFIER_NONE:
		break;
	}
	if (use_sig && img->signature_url)
		return IMGFETCH_OK;
	return ifx_fail(ctx, IMGFETCH_E_VERIFY,
	                "%s %s publishes no digest for %s%s%s; pin one with --expected-sha256 or accept an "
	                "unverified download with --verify none",
	                img->vendor, img->version, img->file_name, img->notice ? ": " : "", img->notice ? img->notice : "");
}

/* Media types of what `fetch --push` publishes: the disk in the format
 * written, and the metadata JSON as the manifest's config. */
#define FETCH_ARTIFACT_TYPE "application/vnd.imgfetch.image.v1"
#define FETCH_METADATA_TYPE "application/vnd.imgfetch.image.metadata.v1+json"

static imgfetch_status push_result(imgfetch_ctx *ctx, const imgfetch_fetch_opts *o, imgfetch_fetch_result *r)
{
	const imgfetch_resolved *img = r->image;
	char media[96], platform[64];
	snprintf(media, sizeof(media), "application/vnd.imgfetch.disk.%s", out_ext(img, o->format));
	/* OCI platform names: GOOS/GOARCH ("linux/arm64", "freebsd/amd64"). */
	const char *os = strcmp(img->os, "bsd") == 0 ? img->vendor : img->os;
	snprintf(platform, sizeof(platform), "%s/%s", os, strcmp(img->arch, "aarch64") == 0 ? "arm64" : "amd64");
	imgfetch_push_file file = { .path = r->path, .media_type = media };
	imgfetch_oci_annotation ann[] = {
		{ (char *)"org.opencontainers.image.version", img->version },
		{ (char *)"org.opencontainers.image.source", img->url },
		{ (char *)"org.opencontainers.image.vendor", img->vendor },
		{ (char *)"io.imgfetch.image.series", img->series },
		{ (char *)"io.imgfetch.image.uuid", img->uuid },
		{ (char *)"io.imgfetch.image.source.sha256", img->sha256 },
	};
	size_t nann = 0;
	imgfetch_oci_annotation use[sizeof(ann) / sizeof(ann[0])];
	for (size_t i = 0; i < sizeof(ann) / sizeof(ann[0]); i++)
		if (ann[i].value)
			use[nann++] = ann[i];
	imgfetch_push_opts p = {
		.ref = o->push_ref,
		.authfile = o->push_authfile,
		.files = &file,
		.n_files = 1,
		.config_path = r->metadata_path,
		.config_media_type = FETCH_METADATA_TYPE,
		.artifact_type = FETCH_ARTIFACT_TYPE,
		.annotations = use,
		.n_annotations = nann,
		.platform = platform,
	};
	imgfetch_push_result *pr = NULL;
	imgfetch_status st = imgfetch_push(ctx, &p, &pr);
	if (st < 0)
		return st;
	r->pushed = pr->reference ? strdup(pr->reference) : NULL;
	imgfetch_push_result_free(pr);
	return r->pushed ? IMGFETCH_OK : ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
}

/* The zvol options of a vendor image: what the caller left open comes from
 * the feed (version, os, description) and the vendor (ssh_key, bootrom). */
static void zvol_defaults(const imgfetch_fetch_opts *o, const imgfetch_resolved *img, imgfetch_zvol_opts *z,
                          char *name, size_t namelen, char *lock, size_t locklen)
{
	*z = o->zvol ? *o->zvol : (imgfetch_zvol_opts){ 0 };
	snprintf(name, namelen, "%s-%s-nocloud", img->vendor, img->series);
	snprintf(lock, locklen, "%s-%s", img->vendor, img->release ? img->release : "latest");
	if (!z->name)
		z->name = name;
	if (!z->version)
		z->version = img->version;
	if (!z->os)
		z->os = img->os;
	if (!z->description)
		z->description = img->description;
	if (!z->homepage)
		z->homepage = img->homepage;
	if (!z->ssh_key)
		z->ssh_key = smartos_vendor_ssh_key(img->vendor) ? 1 : -1;
	if (!z->bios)
		z->bios = smartos_vendor_needs_bios(img->vendor, img->series);
	if (!z->lock_name)
		z->lock_name = lock;
	z->source_sha256 = img->sha256;
}

static char *zvol_manifest_path(const char *dir, const char *sep, const imgfetch_resolved *img)
{
	char *p = NULL;
	return asprintf(&p, "%s%s%s-%s-%s.json", dir, sep, img->vendor, img->series, img->version) < 0 ? NULL : p;
}

imgfetch_status imgfetch_fetch(imgfetch_ctx *ctx, const imgfetch_fetch_opts *o, imgfetch_fetch_result **ret)
{
	_cleanup_close_ int verified_fd = -1;
	ctx->error[0] = '\0';
	if (!o || (!o->vendor && !o->profile) || !ret)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "no vendor or profile given");
	imgfetch_fetch_result *r = calloc(1, sizeof(*r));
	if (!r)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	imgfetch_status st = o->profile ? imgfetch_resolve_profile(ctx, o->profile, &r->image)
	                                : imgfetch_resolve(ctx, o->catalog, o->vendor, o->release, o->arch, &r->image);
	if (st < 0)
		goto fail;
	imgfetch_resolved *img = r->image;
	if (!safe_component(img->vendor) || !safe_component(img->series) || !safe_component(img->version) ||
	    !safe_component(img->arch)) {
		st = ifx_fail(ctx, IMGFETCH_E_FORMAT, "refusing file names from the feed: %s / %s / %s", img->vendor,
		              img->series, img->version);
		goto fail;
	}
	const char *dir = o->out_dir && o->out_dir[0] ? o->out_dir : ".";
	size_t dl = strlen(dir);
	const char *sep = dir[dl - 1] == '/' ? "" : "/";
	if (asprintf(&r->path, "%s%s%s-%s-%s.%s.%s", dir, sep, img->vendor, img->series, img->version, img->arch,
	             out_ext(img, o->format)) < 0)
		r->path = NULL;
	if (r->path && asprintf(&r->metadata_path, "%s.json", r->path) < 0)
		r->metadata_path = NULL;
	if (o->format == IMGFETCH_FETCH_ZVOL && !(r->manifest_path = zvol_manifest_path(dir, sep, img)))
		r->path = NULL;
	if (!r->path || !r->metadata_path) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		goto fail;
	}
	if (o->format == IMGFETCH_FETCH_ZVOL && strcmp(img->arch, "x86_64") != 0) {
		st = ifx_fail(ctx, IMGFETCH_E_INVALID,
		              "SmartOS/Triton runs x86_64 guests only: a zvol image of %s %s for %s makes no sense "
		              "(use --arch x86_64)",
		              img->vendor, img->version, img->arch);
		goto fail;
	}
	if (o->format != IMGFETCH_FETCH_ZVOL && o->zvol) {
		st = ifx_fail(ctx, IMGFETCH_E_INVALID, "zvol options need --format zvol");
		goto fail;
	}
	if (o->expected_sha256 && !set_str(&img->sha256, o->expected_sha256)) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		goto fail;
	}
	imgfetch_get_opts g = { .url = img->url, .use_cache = true, .cache_dir = o->cache_dir, .keep_fd = true };
	if ((st = choose_verifier(ctx, o, img, &g, &r->required)) < 0)
		goto fail;
	if (o->dry_run) {
		r->dry_run = true;
		*ret = r;
		return IMGFETCH_OK;
	}
	struct stat sb;
	if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		st = ifx_fail(ctx, IMGFETCH_E_INVALID, "output directory %s does not exist", dir);
		goto fail;
	}
	/* The names in the directory are imgfetch's: a link there is removed,
	 * not followed (into a device, another directory), and a directory,
	 * FIFO or device there is refused. */
	char why[600];
	if (output_chosen_prepare(r->path, why, sizeof(why)) < 0 ||
	    output_chosen_prepare(r->metadata_path, why, sizeof(why)) < 0 ||
	    (r->manifest_path && output_chosen_prepare(r->manifest_path, why, sizeof(why)) < 0)) {
		st = ifx_fail(ctx, IMGFETCH_E_INVALID, "%s", why);
		goto fail;
	}
	if (o->format == IMGFETCH_FETCH_SOURCE)
		g.output = r->path;
	imgfetch_get_result *gr = NULL;
	if ((st = imgfetch_get(ctx, &g, &gr)) < 0)
		goto fail;
	r->from_cache = gr->from_cache;
	r->verified = gr->verified;
	/* A digest from the vendor's feed reaches get as a pinned one; for
	 * the user it is what the feed (over TLS) said, not what they pinned. */
	r->evidence = gr->evidence == IMGFETCH_EVIDENCE_PINNED && !o->expected_sha256 ? IMGFETCH_EVIDENCE_CHECKSUM
	                                                                               : gr->evidence;
	/* The descriptor of the very bytes that verified: converted below,
	 * never the cache file reopened by name. */
	verified_fd = TAKE_FD(gr->fd);
	if ((gr->signature && !(r->signature = signature_dup(gr->signature))) ||
	    (gr->digest_source && !set_str(&r->digest_source, gr->digest_source))) {
		imgfetch_get_result_free(gr);
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		goto fail;
	}
	bool ok = set_str(&img->sha256, gr->sha256) && (!gr->sha512 || set_str(&img->sha512, gr->sha512)) &&
	          set_str(&r->source_path, gr->path);
	if (!img->size)
		img->size = gr->size;
	imgfetch_get_result_free(gr);
	char u[37];
	if (!ok || (imgfetch_image_uuid(img->sha256, u) == IMGFETCH_OK && !set_str(&img->uuid, u))) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		goto fail;
	}
	if (o->format == IMGFETCH_FETCH_SOURCE) {
		imgfetch_image_info *info = NULL;
		if (imgfetch_image_info_read(ctx, r->path, 0, &info) == IMGFETCH_OK)
			r->virtual_size = info->virtual_size;
		imgfetch_image_info_free(info);
		ctx->error[0] = '\0';
	} else {
		imgfetch_convert_opts c = { .input = r->source_path, .has_input_fd = true, .input_fd = verified_fd,
			                    .output = r->path, .threads = o->threads,
			                    .format = o->format == IMGFETCH_FETCH_QCOW2 ? IMGFETCH_FORMAT_QCOW2
			                              : o->format == IMGFETCH_FETCH_ZVOL ? IMGFETCH_FORMAT_ZVOL
			                                                                 : IMGFETCH_FORMAT_RAW };
		imgfetch_zvol_opts z;
		char name[300], lock[300];
		if (o->format == IMGFETCH_FETCH_ZVOL) {
			zvol_defaults(o, img, &z, name, sizeof(name), lock, sizeof(lock));
			c.zvol = &z;
		}
		imgfetch_convert_result *cr = NULL;
		if ((st = imgfetch_convert(ctx, &c, &cr)) < 0)
			goto fail;
		if (cr->manifest_path && r->manifest_path && strcmp(cr->manifest_path, r->manifest_path) != 0) {
			imgfetch_convert_result_free(cr);
			st = ifx_fail(ctx, IMGFETCH_E_FAILED, "internal error: manifest written to an unexpected path");
			goto fail;
		}
		r->virtual_size = cr->input ? cr->input->virtual_size : 0;
		imgfetch_convert_result_free(cr);
	}
	if ((st = write_metadata(ctx, r)) < 0)
		goto fail;
	if (o->push_ref && (st = push_result(ctx, o, r)) < 0)
		goto fail;
	*ret = r;
	return IMGFETCH_OK;
fail:
	imgfetch_fetch_result_free(r);
	return st;
}
