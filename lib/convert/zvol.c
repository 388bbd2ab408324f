/* SPDX-License-Identifier: MIT */
/*
 * zvol output: the decoded disk becomes the gzip'd zfs send stream of a
 * volume (natively, or through real ZFS with the zfs builder) and an IMGAPI
 * manifest whose files[0] sha1/size are taken from the compressed bytes as
 * they are written.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "compress/pgzip.h"
#include "convert/convert.h"
#include "smartos/manifest.h"
#include "smartos/zfs_builder.h"
#include "store/atomic.h"
#include "store/gz_output.h"
#include "util/bytes.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "verify/digest.h"
#include "zfs/send_writer.h"

#define DEFAULT_VOLBLOCKSIZE 8192u
#define MiB (1ull << 20)

static bool hex64(const char *s)
{
	if (!s || strlen(s) != 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static bool uuid_text(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		char c = s[i];
		if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

/* The manifest of the image, from the options (defaults for what they
 * leave open) and what only the build knows. */
static smartos_manifest manifest_for(const imgfetch_zvol_opts *z, const char *stem, const char *uuid,
                                     uint64_t published_at, uint64_t volsize, const char *sha1, uint64_t file_size)
{
	return (smartos_manifest){
		.uuid = uuid,
		.name = z->name ? z->name : stem,
		.version = z->version ? z->version : "1.0.0",
		.description = z->description,
		.homepage = z->homepage,
		.os = z->os ? z->os : "other",
		.owner = z->owner,
		.public_image = !z->private_image,
		.bootrom = z->bios ? "bios" : "uefi",
		.ssh_key = z->ssh_key > 0 ? 1 : z->ssh_key < 0 ? 0 : -1,
		.published_at = published_at,
		.virtual_size = volsize,
		.sha1 = sha1,
		.file_size = file_size,
	};
}

/* The manifest fields that come from options or the vendor's feed, checked
 * before any work (by making a manifest with placeholders for what the
 * build will tell): found bad only after the .zfs.gz was installed, they
 * would leave it there without its manifest. */
static imgfetch_status check_manifest_fields(imgfetch_ctx *ctx, const imgfetch_zvol_opts *z, const char *stem)
{
	if (z->owner && !uuid_text(z->owner))
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "the owner must be a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx), "
		                "not '%.80s'", z->owner);
	smartos_manifest m = manifest_for(z, stem, "00000000-0000-0000-0000-000000000000", 0, 0,
	                                  "0000000000000000000000000000000000000000", 0);
	char *json = smartos_manifest_json(&m);
	if (!json)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "the manifest's name (--name, else the output file's name), "
		                "version, description and homepage must be UTF-8 text");
	free(json);
	return IMGFETCH_OK;
}

static int hexval(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* The UUID needs the digest of the source file: one sequential read when
 * the caller does not already know it (fetch does). */
static imgfetch_status hash_input(imgfetch_ctx *ctx, int fd, const char *label, char out[65])
{
	ifx_log(ctx, IMGFETCH_LOG_INFO, "computing the sha256 of %s for the image UUID", label);
	digest *d = digest_new(IMGFETCH_HASH_SHA256);
	unsigned char *buf = malloc(1u << 20);
	int r = d && buf ? 0 : -ENOMEM;
	/* pread on the input's own descriptor: the bytes hashed are the bytes
	 * converted, whatever happens to the name meanwhile. */
	for (off_t off = 0; r == 0;) {
		ssize_t n = pread(fd, buf, 1u << 20, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = -errno;
		if (n <= 0)
			break;
		off += n;
		r = digest_update(d, buf, (size_t)n);
		if (ifx_cancelled(ctx))
			r = -ECANCELED;
	}
	if (r == 0)
		r = digest_final_hex(d, out);
	free(buf);
	digest_free(d);
	if (r == -ECANCELED)
		return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "%s: cancelled", label);
	if (r < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot hash %s: %s", label, strerror(-r));
	return IMGFETCH_OK;
}

/* "dir/name.x86_64.zfs.gz" -> "dir/name.json": the pair's names, as
 * Triton's importers write them. */
static char *manifest_path_for(const char *output)
{
	size_t n = strlen(output);
	if (n > 7 && strcmp(output + n - 7, ".zfs.gz") == 0)
		n -= 7;
	else if (n > 4 && strcmp(output + n - 4, ".zfs") == 0)
		n -= 4;
	else
		n = strlen(output);
	static const char *const arches[] = { ".x86_64", ".aarch64" };
	for (size_t i = 0; i < 2; i++) {
		size_t a = strlen(arches[i]);
		if (n > a && strncmp(output + n - a, arches[i], a) == 0) {
			n -= a;
			break;
		}
	}
	char *p = NULL;
	return asprintf(&p, "%.*s.json", (int)n, output) < 0 ? NULL : p;
}

static char *stem_of(const char *manifest_path)
{
	_cleanup_free_ char *copy = strdup(manifest_path);
	if (!copy)
		return NULL;
	char *b = basename(copy);
	size_t n = strlen(b);
	if (n > 5)
		b[n - 5] = '\0';
	return strdup(b);
}

typedef struct stream_values {
	uint64_t guid, salt, creation;
} stream_values;

/* Reproducible builds take the random values from the source digest, so the
 * same source gives the same stream, gzip file and sha1 on any host. */
static int stream_values_for(const imgfetch_zvol_opts *z, const char *sha256, stream_values *v)
{
	if (z->reproducible) {
		unsigned char b[32];
		for (int i = 0; i < 32; i++)
			b[i] = (unsigned char)(hexval(sha256[2 * i]) << 4 | hexval(sha256[2 * i + 1]));
		v->guid = le64(b) | 1;
		v->salt = le64(b + 8) | 1;
		/* A fixed instant (2020-01-01) plus up to ~3 years from the digest:
		 * stable, and still a plausible creation time. */
		v->creation = 1577836800u + le32(b + 16) % (3u * 365 * 86400);
		return 0;
	}
	uint64_t r[2];
	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		return -errno;
	v->guid = r[0] | 1;
	v->salt = r[1] | 1;
	v->creation = (uint64_t)time(NULL);
	return 0;
}

static int write_text_atomic(const char *path, const char *text)
{
	atomic_file f = ATOMIC_FILE_INIT;
	int r = atomic_file_open(path, 0644, &f);
	if (r == 0)
		r = write_full(f.fd, text, strlen(text));
	if (r == 0)
		r = atomic_file_commit(&f);
	atomic_file_abort(&f);
	return r;
}

typedef struct fill_ctx {
	const imgfetch_convert_opts *o;
	conv_input *in;
	unsigned threads;
	const char *label;
	engine_stats *stats;
} fill_ctx;

/* The zfs builder's fill step: the decoded disk onto the zvol device,
 * written in place. The zvol was just created sparse, so it reads as zeros:
 * zero blocks are skipped without reading the device back, whether it is a
 * block device (Linux), the raw character device (illumos /dev/zvol/rdsk)
 * or a file standing in for one. */
static imgfetch_status fill_device(void *u, imgfetch_ctx *ctx, const char *device)
{
	fill_ctx *f = u;
	int fd = open(device, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot open the zvol %s: %s", device, strerror(errno));
	img_writer *w = NULL;
	int r = raw_writer_new_zeroed(fd, f->in->virtual_size, &w);
	if (r < 0) {
		close(fd);
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot write to %s: %s", device, strerror(-r));
	}
	imgfetch_status st = convert_run(ctx, f->o, f->in, w, f->threads, f->label, f->stats);
	if (st == IMGFETCH_OK && (r = w->ops->finish(w)) < 0)
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "writing %s: %s", device, w->err[0] ? w->err : strerror(-r));
	w->ops->free(w);
	if (close(fd) < 0 && st == IMGFETCH_OK)
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "closing %s: %s", device, strerror(errno));
	return st;
}

imgfetch_status convert_zvol(imgfetch_ctx *ctx, const imgfetch_convert_opts *o, conv_input *in, unsigned threads,
                             const char *label, engine_stats *stats, imgfetch_convert_result *res)
{
	static const imgfetch_zvol_opts defaults = { 0 };
	const imgfetch_zvol_opts *z = o->zvol ? o->zvol : &defaults;
	uint32_t bs = z->volblocksize ? z->volblocksize : DEFAULT_VOLBLOCKSIZE;
	if (bs < 512 || bs > 128 * 1024 || (bs & (bs - 1)))
		return ifx_fail(ctx, IMGFETCH_E_INVALID,
		                "volblocksize must be a power of two from 512 B to 128 KiB (larger blocks need a "
		                "stream feature old receivers refuse)");
	int level = z->gzip_level ? z->gzip_level : PGZIP_DEFAULT_LEVEL;
	if (level < 1 || level > 9)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "gzip level must be 1..9");
	if (z->os && !smartos_os_valid(z->os))
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "unknown os '%s': use linux, bsd, illumos, smartos, windows or other",
		                z->os);
	if (z->source_sha256 && !hex64(z->source_sha256))
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "source sha256 must be 64 lowercase hex digits");

	imgfetch_status st;
	_cleanup_free_ char *manifest_path = manifest_path_for(o->output);
	_cleanup_free_ char *stem = manifest_path ? stem_of(manifest_path) : NULL;
	if (!manifest_path || !stem)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	if ((st = check_manifest_fields(ctx, z, stem)) < 0)
		return st;

	char sha256[65];
	if (z->source_sha256)
		memcpy(sha256, z->source_sha256, sizeof(sha256));
	else if ((st = hash_input(ctx, in->fd, label, sha256)) < 0)
		return st;
	char uuid[37];
	if (imgfetch_image_uuid(sha256, uuid) != IMGFETCH_OK)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot derive the image UUID");
	stream_values sv = { 0 };
	if (stream_values_for(z, sha256, &sv) < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "no random numbers: %s", strerror(errno));

	/* image_size in the manifest is the volume in whole MiB: make the
	 * volume exactly that, so the two always agree. A stream that does not
	 * record its size (gzip, bzip2) is still written in one pass: the
	 * stream writer learns the size at the end. */
	uint64_t volsize = (in->virtual_size + MiB - 1) / MiB * MiB;
	if (volsize == 0 && in->size_known)
		return ifx_fail(ctx, IMGFETCH_E_FORMAT, "%s is an empty disk: a zvol needs at least one block", label);
	char toname[64];
	snprintf(toname, sizeof(toname), "zones/%s@final", uuid);

	char err[512] = "";
	gz_output *gz = NULL;
	int r = gz_output_open(o->output, threads, level, &gz, err, sizeof(err));
	if (r < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot create %s: %s", o->output, err[0] ? err : strerror(-r));

	if (z->builder == IMGFETCH_ZVOL_ZFS) {
		fill_ctx f = { .o = o, .in = in, .threads = threads, .label = label, .stats = stats };
		zfs_build b = { .opts = z, .uuid = uuid, .volsize = volsize, .volblocksize = bs,
			        .fill = fill_device, .fill_u = &f, .out = gz };
		st = zfs_build_run(ctx, &b);
	} else {
		zfs_send_params p = { .volsize = volsize, .size_unit = MiB, .volblocksize = bs, .toguid = sv.guid,
			              .creation_time = sv.creation, .zap_salt = sv.salt, .toname = toname };
		img_writer *w = NULL;
		r = zfs_send_writer_new(&p, in->virtual_size, gz_output_push, gz, &w);
		if (r < 0) {
			const char *why = gz_output_error(gz);
			st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot start the zfs send stream: %s",
			              why[0] ? why : strerror(-r));
		} else {
			st = convert_run(ctx, o, in, w, threads, label, stats);
			if (st == IMGFETCH_OK && (r = w->ops->finish(w)) < 0)
				st = ifx_fail(ctx, r == -EINVAL ? IMGFETCH_E_FORMAT : IMGFETCH_E_FAILED, "finishing %s: %s",
				              o->output, w->err[0] ? w->err : strerror(-r));
			volsize = zfs_send_writer_volsize(w);
			w->ops->free(w);
		}
	}
	if (st == IMGFETCH_OK && ifx_cancelled(ctx))
		st = ifx_fail(ctx, IMGFETCH_E_CANCELLED, "%s: cancelled; nothing was written to %s", label, o->output);
	uint64_t gz_size = 0;
	if (st == IMGFETCH_OK && (r = gz_output_commit(gz, res->sha1, &gz_size, err, sizeof(err))) < 0)
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot install %s: %s", o->output, err[0] ? err : strerror(-r));
	gz_output_free(gz);
	if (st < 0)
		return st;

	smartos_manifest m = manifest_for(z, stem, uuid, z->reproducible ? sv.creation : (uint64_t)time(NULL), volsize,
	                                  res->sha1, gz_size);
	_cleanup_free_ char *json = smartos_manifest_json(&m);
	r = json ? write_text_atomic(manifest_path, json) : -ENOMEM;
	if (r < 0) {
		/* The pair goes together: a .zfs.gz without its manifest is
		 * nothing imgadm or IMGAPI can take. */
		unlink(o->output);
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot write %s: %s; %s removed", manifest_path, strerror(-r),
		                o->output);
	}
	res->manifest_path = manifest_path;
	manifest_path = NULL;
	res->uuid = strdup(uuid);
	res->output_size = gz_size;
	if (!res->uuid)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	return IMGFETCH_OK;
}
