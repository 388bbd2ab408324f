/* SPDX-License-Identifier: MIT */
/*
 * libimgfetch — fetch operating-system disk images, verifying every byte.
 *
 * This header is the whole public contract of the library.
 *
 * Conventions
 *  - Fallible functions return an imgfetch_status: IMGFETCH_OK (0) or a negative
 *    code. On failure a human-readable message describing what went wrong and what
 *    to do about it is available from imgfetch_ctx_error() until the next call
 *    that takes the same context.
 *  - Output parameters are named ret_*. Anything returned through them is owned
 *    by the caller and must be released with the matching *_free() function
 *    (which accepts NULL). Strings returned as `char *` are released with free().
 *  - The library never prints and never exits: it reports through the log and
 *    progress callbacks installed on the context. It keeps no global state other
 *    than libcurl's process-wide initialisation (see imgfetch_ctx_new()).
 *  - A context may be used by one thread at a time; imgfetch_ctx_cancel() may be
 *    called from any thread or from a signal handler.
 */
#ifndef IMGFETCH_IMGFETCH_H
#define IMGFETCH_IMGFETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; everything declared here is exported. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#if defined(__GNUC__)
#define IMGFETCH_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define IMGFETCH_WARN_UNUSED
#endif

/* Version of the library the caller is linked against, e.g. "0.1.0". */
const char *imgfetch_version(void);

/* ---------------------------------------------------------------- status */

typedef enum imgfetch_status {
	IMGFETCH_OK = 0,
	IMGFETCH_E_FAILED = -1,    /* anything else: I/O error, out of memory, internal */
	IMGFETCH_E_INVALID = -2,   /* invalid argument or option combination */
	IMGFETCH_E_VERIFY = -3,    /* content could not be verified or did not match */
	IMGFETCH_E_NETWORK = -4,   /* transfer failed (after retries where retrying helps) */
	IMGFETCH_E_NOT_FOUND = -5, /* the server said 404/410, an unknown name, or a lookup missed */
	IMGFETCH_E_CANCELLED = -6, /* imgfetch_ctx_cancel() was called */
	IMGFETCH_E_LOCKED = -7,    /* another process holds the lock and waiting was not allowed */
	IMGFETCH_E_FORMAT = -8,    /* the image is corrupt, hostile or uses an unsupported feature */
	IMGFETCH_E_AUTH = -9,      /* credentials refused, or required and not given (a registry
	                              answered 401 after they, or an anonymous token, were tried) */
} imgfetch_status;

/* Short static name of a status ("verification failed", ...). Never NULL. */
const char *imgfetch_status_name(imgfetch_status s);

/* --------------------------------------------------------------- context */

typedef enum imgfetch_log_level {
	IMGFETCH_LOG_ERROR = 0,
	IMGFETCH_LOG_WARNING = 1,
	IMGFETCH_LOG_NOTICE = 2, /* things a user should normally see */
	IMGFETCH_LOG_INFO = 3,   /* progress of the job: requests, retries */
	IMGFETCH_LOG_DEBUG = 4,
} imgfetch_log_level;

typedef void (*imgfetch_log_fn)(void *userdata, imgfetch_log_level level, const char *message);

typedef struct imgfetch_progress {
	const char *label;   /* what is being transferred (file name); valid during the call */
	uint64_t done;       /* bytes of the final object received so far (resumed bytes included) */
	uint64_t total;      /* expected total, 0 when unknown */
	bool finished;       /* last report for this transfer */
} imgfetch_progress;

typedef void (*imgfetch_progress_fn)(void *userdata, const imgfetch_progress *progress);

typedef struct imgfetch_ctx imgfetch_ctx;

/* Creates a context. Initialises libcurl process-wide (reference counted by
 * libcurl, thread-safe since libcurl 7.84). Returns NULL when out of memory.
 * Release with imgfetch_ctx_free(). */
imgfetch_ctx *imgfetch_ctx_new(void);
void imgfetch_ctx_free(imgfetch_ctx *ctx);

void imgfetch_ctx_set_log(imgfetch_ctx *ctx, imgfetch_log_fn fn, void *userdata);
void imgfetch_ctx_set_progress(imgfetch_ctx *ctx, imgfetch_progress_fn fn, void *userdata);

/* Requests cancellation of whatever the context is doing. Async-signal-safe
 * and callable from any thread. The running call returns IMGFETCH_E_CANCELLED
 * after removing its temp files, installing nothing. The request is sticky:
 * later calls on the context fail at once with IMGFETCH_E_CANCELLED until
 * imgfetch_ctx_clear_cancel() (so a cancel that races with the start of a
 * call is never lost). */
void imgfetch_ctx_cancel(imgfetch_ctx *ctx);
void imgfetch_ctx_clear_cancel(imgfetch_ctx *ctx);
bool imgfetch_ctx_cancelled(const imgfetch_ctx *ctx);

/* Message for the last failure on this context; "" when there was none.
 * Owned by the context, valid until the next call taking the context. */
const char *imgfetch_ctx_error(const imgfetch_ctx *ctx);

/* ------------------------------------------------------------ HTTP policy */

typedef struct imgfetch_http_opts {
	const char *cacert;            /* PEM bundle to trust instead of the system store; NULL: system */
	const char *user_agent;        /* NULL: "imgfetch/<version>" */
	uint32_t connect_timeout_ms;   /* default 30000 */
	uint32_t first_byte_timeout_ms;/* request sent → response headers; default 30000 */
	uint32_t stall_timeout_ms;     /* no body bytes for this long is an error; default 60000 */
	uint32_t max_attempts;         /* total attempts per transfer, >= 1; default 5 */
	uint32_t retry_base_ms;        /* first backoff delay; default 500 */
	uint32_t retry_max_ms;         /* backoff ceiling, at most one hour; default 16000 */
	uint32_t retry_after_cap_ms;   /* longest Retry-After honoured; default 60000 */
	uint32_t max_redirects;        /* default 10 */
} imgfetch_http_opts;

/* Fills *opts with the defaults documented above. */
void imgfetch_http_opts_init(imgfetch_http_opts *opts);

/* Copies *opts (strings included) into the context; validates ranges. */
IMGFETCH_WARN_UNUSED imgfetch_status imgfetch_ctx_set_http(imgfetch_ctx *ctx, const imgfetch_http_opts *opts);

/* -------------------------------------------------------------- digests */

typedef enum imgfetch_hash {
	IMGFETCH_HASH_SHA256 = 1,
	IMGFETCH_HASH_SHA512 = 2,
} imgfetch_hash;

/* Hex length of a digest: 64 or 128; 0 for an unknown value. */
size_t imgfetch_hash_hexlen(imgfetch_hash h);
/* "sha256" / "sha512"; "unknown" otherwise. */
const char *imgfetch_hash_name(imgfetch_hash h);

/* One entry of a checksum file. */
typedef struct imgfetch_checksum {
	imgfetch_hash hash;
	char hex[129]; /* lowercase, NUL-terminated */
} imgfetch_checksum;

/* Maximum size accepted for a checksum (sums or sidecar) file. */
#define IMGFETCH_SUMS_MAX_BYTES (1024u * 1024u)

/*
 * Checksum files. Unlike the rest of the API these are pure functions: they
 * take no context and explain a failure through *ret_why (a static string,
 * written only on failure, when ret_why is non-NULL). On failure *ret is left
 * untouched; on success ret->hex is NUL-padded to its full size.
 *
 * imgfetch_sums_lookup() looks up `name` in a checksum file: GNU coreutils
 * form ("hex  name", "hex *name", "hex name", and the "\"-escaped form), BSD
 * form ("SHA256 (name) = hex"; other tags such as MD5 are ignored), '#'
 * comments, blank lines and CRLF line ends, as OS vendors publish them. Names
 * match byte for byte (case-sensitive); a leading "./" is ignored, and an entry
 * with a directory ("dir/name") matches by its last component when no entry
 * matches exactly. The algorithm comes from the BSD tag or the digest length;
 * a tag that disagrees with the length is a malformed entry. When the file
 * lists the name with both algorithms, SHA-512 is preferred.
 * Returns:
 *   IMGFETCH_OK
 *   IMGFETCH_E_NOT_FOUND  no SHA-256/512 entry for name (a lookup miss, not HTTP)
 *   IMGFETCH_E_VERIFY     the entry is malformed (non-hex, wrong length, empty),
 *                         or the file lists the name twice with different digests
 *   IMGFETCH_E_INVALID    input larger than IMGFETCH_SUMS_MAX_BYTES, or NULL/empty
 *                         arguments
 */
IMGFETCH_WARN_UNUSED imgfetch_status imgfetch_sums_lookup(const char *text, size_t len, const char *name,
                                                          imgfetch_checksum *ret, const char **ret_why);

/*
 * Parses a sidecar file (e.g. "image.qcow2.sha256"): the first token of the
 * first non-comment line must be a 64- or 128-digit hex digest, anything after
 * it (a file name) is ignored; a single BSD-form line is accepted too, and the
 * header of an OpenPGP clearsigned file is skipped (the signature is NOT checked).
 * The caller decides whether the algorithm found is the one it expected.
 * Returns IMGFETCH_OK, IMGFETCH_E_VERIFY (no digest) or IMGFETCH_E_INVALID
 * (too large, NULL arguments).
 */
IMGFETCH_WARN_UNUSED imgfetch_status imgfetch_sidecar_parse(const char *text, size_t len, imgfetch_checksum *ret,
                                                            const char **ret_why);

/* ------------------------------------------------------------------ get */

typedef enum imgfetch_verifier {
	IMGFETCH_VERIFIER_NONE = 0,
	IMGFETCH_VERIFIER_PINNED = 1,
	IMGFETCH_VERIFIER_SUMS = 2,
	IMGFETCH_VERIFIER_SIDECAR = 3,
	IMGFETCH_VERIFIER_SIGNATURE = 4, /* a detached signature over the file itself */
} imgfetch_verifier;

/* "none", "pinned", "sums", "sidecar", "signature". */
const char *imgfetch_verifier_name(imgfetch_verifier v);

/* How strong the evidence for a file is, weakest first. */
typedef enum imgfetch_evidence {
	IMGFETCH_EVIDENCE_NONE = 0,      /* nothing was checked */
	IMGFETCH_EVIDENCE_CHECKSUM = 1,  /* a digest from a checksum file, sidecar or feed, trusted
	                                    because of where it was fetched from (TLS) */
	IMGFETCH_EVIDENCE_PINNED = 2,    /* a digest the caller gave */
	IMGFETCH_EVIDENCE_SIGNATURE = 3, /* a digest (or the file) vouched for by a signature that
	                                    verified against a trusted key */
} imgfetch_evidence;
/* "none", "checksum", "pinned", "signature". */
const char *imgfetch_evidence_name(imgfetch_evidence e);

/* What a caller demands (--verify). */
typedef enum imgfetch_verify_policy {
	IMGFETCH_VERIFY_AUTO = 0,      /* the strongest evidence available: a signature when there is
	                                  one (and then it must verify), else a digest */
	IMGFETCH_VERIFY_SIGNATURE = 1, /* a signature must verify; IMGFETCH_E_VERIFY when none exists */
	IMGFETCH_VERIFY_CHECKSUM = 2,  /* a digest is enough; signatures are not fetched or checked */
	IMGFETCH_VERIFY_NONE = 3,      /* nothing is checked (a warning is logged) */
} imgfetch_verify_policy;
/* "auto", "signature", "checksum", "none"; NULL for others. Parse: 0 or -1. */
const char *imgfetch_verify_policy_name(imgfetch_verify_policy p);
int imgfetch_verify_policy_parse(const char *s, imgfetch_verify_policy *ret);

/* A signature that verified: the links of the evidence chain from the
 * signing key to the image digest. Strings are owned by the structure that
 * holds it. */
typedef struct imgfetch_signature {
	char *scheme;        /* "openpgp" or "signify" */
	char *fingerprint;   /* OpenPGP: the primary key's fingerprint (40 upper-case hex);
	                        signify: the key number (16 lower-case hex) */
	char *signing_key;   /* OpenPGP: the (sub)key that made the signature; else NULL */
	char *uid;           /* OpenPGP: the primary user ID; signify: NULL */
	char *key_file;      /* the keyring file that held the key */
	int64_t created;     /* signature creation time (seconds since the epoch); 0: unknown */
	char *signature_url; /* where the signature came from (the signed file when clearsigned
	                        or signify-embedded) */
	char *signed_url;    /* the file the signature covers */
	char *signed_sha256; /* SHA-256 of the bytes the signature covers */
} imgfetch_signature;

/* Where keys come from. Keys are OpenPGP public keys (armoured or binary;
 * files *.asc, *.gpg, *.pgp, *.key) or signify public keys (*.pub). The
 * directories searched, in order: the shipped keys (IMGFETCH_KEYS_DIR, or
 * the directory set with imgfetch_ctx_set_keys_dir()), /etc/imgfetch/keys,
 * $XDG_CONFIG_HOME/imgfetch/keys (~/.config/imgfetch/keys). For a vendor's
 * image only the files named for the vendor count ("fedora.asc",
 * "fedora-*.asc"); for a plain download every file does. A keyring file
 * given by the caller replaces the shipped keys (the site's still apply). */
IMGFETCH_WARN_UNUSED imgfetch_status imgfetch_ctx_set_keys_dir(imgfetch_ctx *ctx, const char *dir);

typedef struct imgfetch_get_opts {
	const char *url;              /* http:// or https:// (file:// too) */
	const char *output;           /* destination path; NULL: the cache entry itself
	                                 (use_cache) or the URL's file name in the
	                                 current directory */
	/* Verification: exactly one of these, or insecure_no_verify. */
	const char *sha256;           /* pinned hex digest */
	const char *sha512;           /* pinned hex digest */
	const char *sums_url;         /* checksum file to look the URL's file name up in */
	const char *sums_name;        /* the name to look up instead (a rolling URL whose checksum
	                                 file lists the dated name); NULL: the URL's */
	bool sidecar;                 /* fetch <url>.sha256, then <url>.sha512 */
	bool insecure_no_verify;      /* accept an unverified download (logged as a warning);
	                                 the same as verify = IMGFETCH_VERIFY_NONE */
	/* Signatures */
	const char *signature_url;    /* a detached signature (OpenPGP binary or armoured, or
	                                 signify) over the sums file, or over the file itself when
	                                 there is no sums file; a signify file with an embedded
	                                 message may stand in for the sums file. A clearsigned sums
	                                 file needs none. */
	imgfetch_verify_policy verify;
	const char *keyring;          /* a key file replacing the shipped keys; NULL: the usual */
	const char *keys_for;         /* only keys named for this vendor count; NULL: every key */
	/* Cache */
	bool use_cache;               /* keep the download in the cache, reuse it when it verifies */
	const char *cache_dir;        /* NULL: $XDG_CACHE_HOME/imgfetch or ~/.cache/imgfetch */
	bool no_wait;                 /* fail with IMGFETCH_E_LOCKED instead of waiting for a lock */
	bool keep_fd;                 /* hand the verified file on as result->fd */
} imgfetch_get_opts;

typedef struct imgfetch_get_result {
	char *path;                   /* where the verified file is */
	char *url;                    /* final URL after redirects (the original when cached) */
	char *sha256;                 /* lowercase hex */
	char *sha512;                 /* lowercase hex, or NULL when not computed */
	uint64_t size;
	bool verified;
	imgfetch_verifier verifier;
	imgfetch_evidence evidence;
	imgfetch_signature *signature; /* with IMGFETCH_EVIDENCE_SIGNATURE, else NULL */
	char *digest_source;          /* the checksum file or sidecar the digest came from; NULL
	                                 when pinned or unverified */
	bool from_cache;              /* served from a verified cache entry, no download */
	int fd;                       /* with keep_fd: a read-only-use descriptor of the very file that
	                                 was verified (convert it, never reopen the path); owned by
	                                 the result (closed by imgfetch_get_result_free() unless the
	                                 caller takes it and sets -1); else -1 */
	uint32_t attempts;            /* HTTP attempts for the file itself (0 when cached) */
	uint64_t resumed_bytes;       /* bytes not downloaded again thanks to Range resumes */
} imgfetch_get_result;

/*
 * Downloads opts->url to a temporary file beside the destination while hashing,
 * verifies it, fsyncs it and renames it into place; the directory is fsynced too.
 * Nothing is ever visible at the destination unless it verified (or
 * insecure_no_verify was given). On success *ret is a new result owned by the
 * caller (imgfetch_get_result_free()).
 */
IMGFETCH_WARN_UNUSED imgfetch_status imgfetch_get(imgfetch_ctx *ctx, const imgfetch_get_opts *opts,
                                                  imgfetch_get_result **ret);
void imgfetch_get_result_free(imgfetch_get_result *r);

/* The result as one JSON object (keys: path, size, sha256, sha512 when computed,
 * url, verified, verifier, evidence {level, digest_source, signature {...}},
 * attempts, resumed_bytes, from_cache), no trailing
 * newline. Caller frees with free(). NULL when out of memory. */
char *imgfetch_get_result_to_json(const imgfetch_get_result *r);

/* --------------------------------------------------------- disk images */

/* Format and sizes of a disk image file, possibly inside a compressed stream. */
typedef struct imgfetch_image_info {
	char *format;             /* "qcow2", "vmdk", "raw", "zvol"; or, with supported false, qemu-img's
	                             name of a format imgfetch recognises but does not read ("vhdx",
	                             "vpc", "vdi", "qed", "parallels", "bochs", "cloop", "dmg", "luks",
	                             "qcow", "vmdk" for COWD); sizes other than file_size are then 0 */
	bool supported;           /* false: convert refuses it (IMGFETCH_E_FORMAT) */
	char *container;          /* stream compression around it: "xz", "gzip", "zstd", "bzip2", or NULL */
	uint64_t virtual_size;    /* bytes of the guest disk */
	uint64_t file_size;       /* bytes of the file as given */
	bool allocated_known;
	uint64_t allocated_bytes; /* bytes the image stores as data (not zero, not unallocated) */
	uint32_t cluster_size;    /* qcow2 cluster / vmdk grain; 0 for raw */
	uint32_t version;         /* qcow2 version, vmdk header version; 0 for raw */
	char *compression;        /* cluster compression: "zlib", "zstd", "deflate", or NULL */
	char *subformat;          /* "streamOptimized", "monolithicSparse", or NULL */
	char *features;           /* space-separated, or NULL */
} imgfetch_image_info;

typedef enum imgfetch_image_format {
	IMGFETCH_FORMAT_RAW = 1,
	IMGFETCH_FORMAT_QCOW2 = 2,
	IMGFETCH_FORMAT_ZVOL = 3, /* SmartOS/Triton: gzip'd zfs send stream of a zvol + IMGAPI manifest */
} imgfetch_image_format;

/* ------------------------------------------------ SmartOS/Triton zvol images */

/* How the zfs send stream is made. */
typedef enum imgfetch_zvol_builder {
	IMGFETCH_ZVOL_NATIVE = 0, /* written directly from the decoded disk: no ZFS, no root */
	IMGFETCH_ZVOL_ZFS = 1,    /* a real zvol: zfs create, write, snapshot, zfs send, destroy */
} imgfetch_zvol_builder;

/* Options of a zvol image (IMGFETCH_FORMAT_ZVOL / IMGFETCH_FETCH_ZVOL). All
 * strings are borrowed. */
typedef struct imgfetch_zvol_opts {
	uint32_t volblocksize;       /* 0: 8 KiB; a power of two from 512 B to 128 KiB */
	int gzip_level;              /* 0: 4; 1..9 */
	bool reproducible;           /* guid, creation time, zap salt and published_at derived
	                                from the source digest: the same input gives the same bytes
	                                (native builder only) */
	const char *source_sha256;   /* lowercase hex digest of the source file: the UUID and the
	                                reproducible values come from it (fetch fills it in) */
	imgfetch_zvol_builder builder;
	/* builder ZFS only */
	const char *dataset;         /* parent dataset; NULL: "zones" in the global zone,
	                                "zones/<zonename>/data" (zoned=on) in a non-global zone */
	const char *zvol_dir;        /* device directory; NULL: /dev/zvol/rdsk (illumos), /dev/zvol (Linux) */
	const char *lock_dir;        /* per-image lock files; NULL: /var/tmp/imgfetch/locks */
	const char *lock_name;       /* what the lock is for ("debian-stable"); NULL: the UUID */
	/* IMGAPI manifest */
	const char *name;            /* NULL: <vendor>-<series>-nocloud, or the output's stem for convert */
	const char *version;         /* NULL: the vendor version, or "1.0.0" */
	const char *description;
	const char *homepage;
	const char *os;              /* NULL: the vendor's ("linux", "bsd", "illumos"), else "other" */
	const char *owner;           /* NULL: 00000000-0000-0000-0000-000000000000 */
	bool private_image;          /* "public": false (default true) */
	bool bios;                   /* requirements.bootrom "bios" instead of "uefi" */
	int ssh_key;                 /* requirements.ssh_key: 1 true, -1 false, 0 default (fetch: per
	                                vendor, false for talos and smartos; convert: left out) */
} imgfetch_zvol_opts;

/* How raw output to a block device handles the disk's zero ranges. */
typedef enum imgfetch_block_zero {
	IMGFETCH_BLOCK_ZERO_CHECK = 0,   /* read the device; write zeros only where it is not zero */
	IMGFETCH_BLOCK_ZERO_ZEROOUT = 1, /* ask the device to zero the range (BLKZEROOUT) */
	IMGFETCH_BLOCK_ZERO_DISCARD = 2, /* discard the range (BLKDISCARD); it reads as zero only if
	                                    the device guarantees that */
} imgfetch_block_zero;

typedef struct imgfetch_convert_opts {
	const char *input;          /* path; the format and any stream compression are detected */
	/* with has_input_fd: read input_fd (borrowed, left open, its offset unused)
	 * instead of opening `input`, which then only names it in messages; how a
	 * caller converts exactly the file it verified */
	bool has_input_fd;
	int input_fd;
	const char *input_format;   /* NULL or "auto": detect; "raw": the (decompressed) bytes are a raw
	                               disk, whatever they look like */
	const char *output;         /* path, or "-" for stdout (raw only) */
	imgfetch_image_format format;
	const char *compress;       /* qcow2 output: NULL or "none", "zlib", "zstd" */
	uint32_t cluster_size;      /* qcow2 output; 0: 64 KiB */
	uint64_t max_size;          /* cap on decompressed stream output; 0: 64 GiB */
	unsigned threads;           /* 0: one per online CPU */
	const char *tmp_dir;        /* where a compressed qcow2/vmdk is unpacked; NULL: beside the output */
	imgfetch_block_zero block_zero; /* raw output to a block device */
	const imgfetch_zvol_opts *zvol; /* zvol output; source_sha256 NULL: computed from the input file */
} imgfetch_convert_opts;

typedef struct imgfetch_convert_result {
	imgfetch_image_info *input; /* what was read */
	uint64_t data_bytes;        /* guest bytes written as data (zero blocks skipped) */
	uint64_t output_size;       /* apparent size of the output (0 for stdout) */
	/* zvol output */
	char *manifest_path;        /* the IMGAPI manifest written beside the output */
	char *uuid;
	char sha1[41];              /* of the .zfs.gz, as in the manifest */
} imgfetch_convert_result;

#define IMGFETCH_DEFAULT_MAX_SIZE (64ull << 30)

/* Reads an image's format and sizes. For a compressed stream the size comes
 * from the xz index or zstd frame headers when they have it; otherwise, and
 * for a qcow2/vmdk inside a stream, the stream is decoded (bounded by max_size;
 * 0: 64 GiB). Errors: IMGFETCH_E_FORMAT for a corrupt or unsupported image. */
IMGFETCH_WARN_UNUSED imgfetch_status imgfetch_image_info_read(imgfetch_ctx *ctx, const char *path, uint64_t max_size,
                                                              imgfetch_image_info **ret);
void imgfetch_image_info_free(imgfetch_image_info *info);
/* One JSON object (format, container, virtual_size, file_size, allocated_bytes
 * when known, cluster_size, version, compression, subformat, features). free(). */
char *imgfetch_image_info_to_json(const imgfetch_image_info *info);

/* Converts an image to raw (sparse) or qcow2, in one pass, on every core.
 * A regular-file output appears atomically, complete or not at all. */
IMGFETCH_WARN_UNUSED imgfetch_status imgfetch_convert(imgfetch_ctx *ctx, const imgfetch_convert_opts *opts,
                                                      imgfetch_convert_result **ret);
void imgfetch_convert_result_free(imgfetch_convert_result *r);

/* --------------------------------------------------------- vendor catalog */

/* One built-in vendor: static data, valid for the life of the program. */
typedef struct imgfetch_vendor {
	const char *name;        /* "debian": what commands take */
	const char *title;       /* "Debian" */
	const char *os;          /* "linux", "bsd" or "illumos" */
	const char *releases;    /* the release tokens it accepts, for people */
	const char *arches;      /* space-separated: "x86_64 aarch64" */
	const char *format;      /* source format: "qcow2", "raw.xz", "vmdk", "raw.gz", "raw" */
	const char *verifier;    /* how its images are verified, for people */
	const char *evidence;    /* the strongest it publishes: "signature" or "checksum" */
	const char *signature;   /* what is signed, by which key ("SHA256SUMS.gpg by D2EB…"); NULL: nothing */
	const char *homepage;
	/* The vendor's base URLs, as key/URL pairs, NULL-terminated: what
	 * --mirror and the mirror config replace. */
	const char *const *bases;
} imgfetch_vendor;

size_t imgfetch_vendor_count(void);
/* NULL past the end. */
const imgfetch_vendor *imgfetch_vendor_at(size_t i);
/* NULL when no vendor has that name. */
const imgfetch_vendor *imgfetch_vendor_find(const char *name);

/* Where vendors are reached. */
typedef struct imgfetch_catalog_opts {
	/* "VENDOR=URL" (every base of the vendor under URL/<key>/) or
	 * "VENDOR.KEY=URL" (one base), NULL-terminated; file:// works. These
	 * win over the config file. */
	const char *const *mirrors;
	/* Mirror config: lines "VENDOR=URL" / "VENDOR.KEY=URL", '#' comments.
	 * NULL: $XDG_CONFIG_HOME/imgfetch/mirrors.conf (~/.config/...) when it exists. */
	const char *config_file;
	bool no_config;          /* ignore the default config file */
	const char *schematic;   /* Talos Image Factory schematic ID (64 hex); NULL: the empty schematic */
} imgfetch_catalog_opts;

/* An image resolved from a vendor's feed (or a profile), nothing downloaded. */
typedef struct imgfetch_resolved {
	char *vendor;
	char *release;           /* the token asked for ("latest", "stable", "3.23") */
	char *series;            /* codename or major line: "trixie", "3.23", "24.04" */
	char *version;           /* the exact build: "13-20260110-2350", "3.23.4" */
	char *arch;              /* "x86_64" or "aarch64" */
	char *url;               /* the image */
	char *file_name;         /* its name in a checksum file */
	char *format;            /* "qcow2", "raw.xz", "vmdk", "raw.gz", "raw" */
	uint64_t size;           /* bytes, 0 when the feed does not say */
	imgfetch_verifier verifier; /* PINNED (digest from the feed), SUMS, SIDECAR, NONE (trust-only) */
	char *sums_url;          /* SUMS: the checksum file */
	char *signature_url;     /* a detached signature over the checksum file (sums_url, or the
	                            sidecar), NULL when there is none or sums_url is clearsigned */
	imgfetch_evidence evidence; /* the strongest evidence the vendor publishes for this image:
	                            SIGNATURE (signature_url, or a clearsigned sums_url), CHECKSUM,
	                            NONE (trust-only) */
	char *sha256;            /* lowercase hex when known before download, else NULL */
	char *sha512;
	char *uuid;              /* manifest UUID, when sha256 is known */
	char *os;
	char *description;
	char *homepage;
	char *notice;            /* why an image is trust-only, or other things to tell the user */
} imgfetch_resolved;

/* Resolves VENDOR RELEASE (NULL: "latest") for arch ("x86_64", "aarch64";
 * also amd64/arm64; NULL: the host's) from the vendor's own feed. Errors:
 * IMGFETCH_E_NOT_FOUND for an unknown vendor, release or architecture (the
 * message lists what exists), IMGFETCH_E_FORMAT for a malformed feed,
 * network errors as usual. *ret is owned by the caller. */
IMGFETCH_WARN_UNUSED imgfetch_status imgfetch_resolve(imgfetch_ctx *ctx, const imgfetch_catalog_opts *opts,
                                                      const char *vendor, const char *release, const char *arch,
                                                      imgfetch_resolved **ret);
/* Resolves a profile file (JSON, or TOML with key = "value" lines) describing
 * an image no built-in vendor covers: url, format, os, series, version,
 * sha256 or sums_url, arch, description, homepage. */
IMGFETCH_WARN_UNUSED imgfetch_status imgfetch_resolve_profile(imgfetch_ctx *ctx, const char *path,
                                                              imgfetch_resolved **ret);
void imgfetch_resolved_free(imgfetch_resolved *r);
/* One JSON object with every field above (nulls for unknowns). free(). */
char *imgfetch_resolved_to_json(const imgfetch_resolved *r);

/* The manifest UUID of an image: uuid_v5(NS, lowercase hex sha256 of the
 * source file), NS = bdf833c1-7263-58e2-891e-a8e846427562, the scheme
 * tritonadm uses, so images built by either deduplicate. out: 37 bytes. */
IMGFETCH_WARN_UNUSED imgfetch_status imgfetch_image_uuid(const char *sha256_hex, char out[37]);

typedef enum imgfetch_fetch_format {
	IMGFETCH_FETCH_RAW = 0,    /* default: a sparse raw disk */
	IMGFETCH_FETCH_QCOW2 = 1,
	IMGFETCH_FETCH_SOURCE = 2, /* the vendor's file as published */
	IMGFETCH_FETCH_ZVOL = 3,   /* SmartOS/Triton: <...>.x86_64.zfs.gz + IMGAPI manifest <...>.json */
} imgfetch_fetch_format;

typedef struct imgfetch_fetch_opts {
	const imgfetch_catalog_opts *catalog; /* NULL: defaults */
	const char *vendor;           /* or profile */
	const char *release;          /* NULL: "latest" */
	const char *arch;             /* NULL: the host's */
	const char *profile;          /* a profile file instead of a vendor */
	const char *out_dir;          /* NULL: the current directory */
	imgfetch_fetch_format format;
	const char *expected_sha256;  /* overrides the vendor's verifier */
	bool insecure_no_verify;      /* = verify IMGFETCH_VERIFY_NONE */
	imgfetch_verify_policy verify; /* AUTO: the vendor's strongest evidence; SIGNATURE on a vendor
	                                  that signs nothing is IMGFETCH_E_VERIFY */
	const char *keyring;          /* replaces the shipped keys (see imgfetch_ctx_set_keys_dir()) */
	bool dry_run;                 /* resolve and plan only; touch nothing */
	const char *cache_dir;        /* NULL: $XDG_CACHE_HOME/imgfetch */
	unsigned threads;             /* conversion threads, 0: one per CPU */
	/* Mirror the result into a registry: push the image (and its metadata
	 * as the manifest's config) to this reference; NULL: do not. */
	const char *push_ref;
	const char *push_authfile;    /* credentials for push_ref (NULL: the usual auth files) */
	const imgfetch_zvol_opts *zvol; /* IMGFETCH_FETCH_ZVOL: NULL for defaults */
} imgfetch_fetch_opts;

typedef struct imgfetch_fetch_result {
	imgfetch_resolved *image;     /* what was resolved (sha256/uuid filled in after download) */
	char *path;                   /* the output image (planned path with dry_run) */
	char *metadata_path;          /* the JSON beside it */
	char *source_path;            /* the verified download in the cache; NULL with dry_run */
	bool from_cache;
	bool verified;
	imgfetch_verify_policy required; /* what the run demands (never AUTO: resolved to a level) */
	imgfetch_evidence evidence;   /* what verified (NONE with dry_run) */
	imgfetch_signature *signature; /* the signature that verified, or NULL */
	char *digest_source;          /* the checksum file the digest came from, or NULL */
	bool dry_run;
	uint64_t virtual_size;        /* 0 with dry_run */
	char *pushed;                 /* with push_ref: "host/repo:tag@sha256:…" */
	char *manifest_path;          /* IMGFETCH_FETCH_ZVOL: the IMGAPI manifest */
} imgfetch_fetch_result;

/* Resolve, download through the cache with verification, convert, and write
 * DIR/<vendor>-<series>-<version>.<arch>.<ext> plus <same>.json (source
 * URL, digests, verifier, version, UUID, virtual size). A trust-only image
 * needs expected_sha256 or insecure_no_verify (IMGFETCH_E_VERIFY otherwise). */
IMGFETCH_WARN_UNUSED imgfetch_status imgfetch_fetch(imgfetch_ctx *ctx, const imgfetch_fetch_opts *opts,
                                                    imgfetch_fetch_result **ret);
void imgfetch_fetch_result_free(imgfetch_fetch_result *r);
/* One JSON object: the resolved image plus path, metadata_path, source_path,
 * from_cache, verified, dry_run, virtual_size. free(). */
char *imgfetch_fetch_result_to_json(const imgfetch_fetch_result *r);

/* ------------------------------------------- delivering SmartOS/Triton images */

typedef enum imgfetch_deliver_target {
	IMGFETCH_DELIVER_FILE = 0,    /* leave the pair where it is; result->command says how to install */
	IMGFETCH_DELIVER_SMARTOS = 1, /* imgadm install -m MANIFEST -f FILE (global zone only) */
	IMGFETCH_DELIVER_IMGAPI = 2,  /* import into an IMGAPI: import, upload the file, activate */
} imgfetch_deliver_target;

typedef struct imgfetch_deliver_opts {
	imgfetch_deliver_target target;
	const char *manifest_path;    /* IMGAPI manifest (JSON) */
	const char *file_path;        /* the .zfs.gz it describes (files[0].size is checked first) */
	const char *imgapi_url;       /* IMGAPI: base URL, e.g. http://imgapi.example:8080 */
	const imgfetch_http_opts *http; /* IMGAPI: TLS, timeouts, retries (GET only) for this call;
	                                 NULL: the context's (imgfetch_ctx_set_http(), else defaults) */
	const char *imgadm;           /* SMARTOS: the imgadm command (a name looked up in PATH, or a
	                                 path); NULL: "imgadm" */
} imgfetch_deliver_opts;

typedef struct imgfetch_deliver_result {
	char *uuid;                   /* the manifest's */
	bool already_present;         /* the target had this UUID with the same sha1 (IMGAPI: active
	                                 or disabled; SMARTOS: imgadm said "already installed") */
	char *command;                /* FILE: the imgadm install command line for this pair, paths
	                                 shell-quoted where needed; SMARTOS: the one that was run;
	                                 IMGAPI: NULL */
} imgfetch_deliver_result;

/* Delivers a zvol image pair. The manifest (at most 1 MiB) must be a JSON
 * object with a UUID "uuid" and one files[0] with a 40-hex-digit sha1, an
 * integer size equal to the file's, and compression "gzip"; the file must be
 * gzip. Before anything is sent or run: IMGFETCH_E_VERIFY (no usable
 * files[0], size mismatch), IMGFETCH_E_FORMAT (not such a manifest, not
 * gzip), IMGFETCH_E_NOT_FOUND (a missing file).
 * SMARTOS runs imgadm without a shell (stdin /dev/null, its output to the log
 * at INFO) and refuses (IMGFETCH_E_INVALID) where `zonename` names another
 * zone than "global"; no zonename command means no zones. imgadm failing is
 * IMGFETCH_E_FAILED with the end of its stderr; not found, IMGFETCH_E_NOT_FOUND.
 * On cancellation it gets SIGTERM (SIGKILL 5 s later) and is reaped.
 * IMGAPI: GET /images/UUID; when absent, AdminImportImage (the manifest's
 * bytes as they are), AddImageFile (?compression=gzip&sha1=&size=) and
 * ActivateImage; a 409 on import means someone else imported it: looked up
 * again. An image already there with the same sha1 is success when active
 * or disabled (already_present), given the file and/or activated when
 * unactivated; with another sha1, or in another state, it is
 * IMGFETCH_E_FAILED. The SHA-1 of the bytes uploaded is compared with the
 * manifest's: IMGFETCH_E_VERIFY when they differ (the image stays
 * unactivated). HTTP errors name the request and quote the server's message:
 * 401/403 IMGFETCH_E_AUTH, 404 IMGFETCH_E_NOT_FOUND, 5xx IMGFETCH_E_NETWORK,
 * others IMGFETCH_E_FAILED. Rerunning after any failure goes on from the
 * state the IMGAPI has. FILE sends and runs nothing.
 * *ret is owned by the caller: imgfetch_deliver_result_free(). */
IMGFETCH_WARN_UNUSED imgfetch_status imgfetch_deliver(imgfetch_ctx *ctx, const imgfetch_deliver_opts *opts,
                                                      imgfetch_deliver_result **ret);
void imgfetch_deliver_result_free(imgfetch_deliver_result *r);

/* ------------------------------------------------------- OCI registries */

typedef struct imgfetch_oci_annotation {
	char *key, *value;
} imgfetch_oci_annotation;

/* A content descriptor (config, layer, or index entry). */
typedef struct imgfetch_oci_descriptor {
	char *media_type;
	char *digest;             /* "sha256:<hex>" */
	uint64_t size;
	char *artifact_type;      /* or NULL */
	char *platform;           /* index entries: "os/arch[/variant]", else NULL */
	char *title;              /* org.opencontainers.image.title when a safe file name, else NULL */
	imgfetch_oci_annotation *annotations;
	size_t n_annotations;
} imgfetch_oci_descriptor;

/* A manifest or index as fetched from a registry. */
typedef struct imgfetch_oci_manifest {
	bool is_index;            /* OCI image index or Docker manifest list */
	char *digest;             /* of the bytes fetched (verified when fetched by digest) */
	char *media_type;         /* Content-Type, else the document's mediaType */
	char *artifact_type;      /* or NULL */
	imgfetch_oci_descriptor *config;    /* manifests; NULL for indexes */
	imgfetch_oci_descriptor *layers;    /* manifests */
	size_t n_layers;
	imgfetch_oci_descriptor *manifests; /* indexes */
	size_t n_manifests;
	imgfetch_oci_annotation *annotations;
	size_t n_annotations;
	char *raw;                /* the document's bytes, NUL-terminated */
	size_t raw_len;
} imgfetch_oci_manifest;

typedef struct imgfetch_inspect_opts {
	const char *ref;          /* "host[:port]/repo[:tag][@digest]" or "oras://..." */
	const char *username;     /* with password: Basic credentials (for the registry or its
	                             token server); both NULL: anonymous */
	const char *password;     /* never logged, never in messages or JSON */
	const char *platform;     /* "os/arch[/variant]": with an index, also fetch that entry */
	const char *authfile;     /* without username/password: credentials from this auth file
	                             (auths, credHelpers, credsStore); NULL: $REGISTRY_AUTH_FILE,
	                             $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json */
} imgfetch_inspect_opts;

typedef struct imgfetch_inspect_result {
	char *reference;          /* canonical form of opts->ref */
	char *registry;           /* "host[:port]" */
	char *repository;
	char *tag;                /* or NULL */
	imgfetch_oci_manifest manifest;   /* what the reference names */
	imgfetch_oci_manifest *selected;  /* the entry for opts->platform when manifest is an
	                                     index, else NULL */
} imgfetch_inspect_result;

/*
 * Fetches the manifest or index REF names over HTTPS (with an Accept header
 * listing the OCI and Docker manifest and index types), without downloading
 * blobs. On 401 it follows the challenge: Bearer (a token for
 * repository:<repo>:pull from the realm, with the credentials when given) or
 * Basic (the credentials), and retries once. Manifests are limited to 4 MiB.
 * Errors: IMGFETCH_E_INVALID (bad reference or options), IMGFETCH_E_AUTH
 * (credentials refused or required), IMGFETCH_E_VERIFY (the body does not match
 * the digest asked for or announced), IMGFETCH_E_NOT_FOUND (no such manifest;
 * or no entry for opts->platform, the message listing those that exist),
 * IMGFETCH_E_FORMAT (not a valid manifest/index), network errors as usual.
 * *ret is owned by the caller: imgfetch_inspect_result_free().
 */
IMGFETCH_WARN_UNUSED imgfetch_status imgfetch_inspect(imgfetch_ctx *ctx, const imgfetch_inspect_opts *opts,
                                                      imgfetch_inspect_result **ret);
void imgfetch_inspect_result_free(imgfetch_inspect_result *r);
/* One JSON object: reference, registry, repository, tag, then the manifest's
 * fields (kind "manifest"/"index", digest, media_type, artifact_type, config,
 * layers or manifests, annotations) and "selected" (same shape, or absent).
 * No credentials. free(); NULL when out of memory. */
char *imgfetch_inspect_result_to_json(const imgfetch_inspect_result *r);

/* ------------------------------------------------------------------ pull */

typedef enum imgfetch_pull_format {
	IMGFETCH_PULL_BLOB = 0,   /* the layer's bytes as they are */
	IMGFETCH_PULL_RAW = 1,    /* converted to a raw image (imgfetch_convert) */
	IMGFETCH_PULL_QCOW2 = 2,  /* converted to qcow2 */
} imgfetch_pull_format;

typedef struct imgfetch_pull_opts {
	const char *ref;          /* "host[:port]/repo[:tag][@digest]" or "oras://..." */
	const char *output;       /* the file to write; with all_layers, an existing directory */
	const char *username;     /* with password: Basic credentials; both NULL: anonymous */
	const char *password;     /* never logged, never in messages or JSON */
	const char *authfile;     /* without username/password: credentials from this auth file
	                             (NULL: $REGISTRY_AUTH_FILE, containers auth.json, docker config.json) */
	const char *platform;     /* "os/arch[/variant]"; NULL: the host's */
	const char *media_type;   /* pick the layer with this media type */
	const char *title;        /* pick the layer with this org.opencontainers.image.title */
	bool all_layers;          /* every layer to output/<sanitised title or digest hex> */
	imgfetch_pull_format format;
} imgfetch_pull_opts;

typedef struct imgfetch_pull_file {
	char *path;
	char *digest;             /* the layer's digest */
	uint64_t size;            /* the layer's size */
	char *media_type;
	char *title;              /* or NULL */
	bool skipped;             /* the output already held this digest (stamp file) */
} imgfetch_pull_file;

typedef struct imgfetch_pull_result {
	char *reference;          /* canonical form of opts->ref */
	char *digest;             /* what the reference resolved to (manifest or index) */
	char *manifest_digest;    /* the manifest the layers came from */
	char *platform;           /* the platform selected from an index, else NULL */
	imgfetch_pull_format format;
	imgfetch_pull_file *files;
	size_t n_files;
} imgfetch_pull_result;

/*
 * Resolves REF to a digest, walks an index to opts->platform (default: the
 * host), picks the layer (opts->media_type, opts->title, else the disk image:
 * signature/SBOM/attestation layers ignored, the largest of the rest) and
 * downloads the blob, hashing on the way; digest and size are verified before
 * the output is installed atomically. A stamp "<output>.digest" records what
 * was installed so a later pull of the same digest does no download.
 * Errors: as imgfetch_inspect(), plus IMGFETCH_E_NOT_FOUND (no such platform
 * or layer; the message lists what exists), IMGFETCH_E_VERIFY (a blob's digest
 * or size does not match; nothing written), IMGFETCH_E_INVALID (a single
 * manifest annotated for another platform than the one asked for).
 */
IMGFETCH_WARN_UNUSED imgfetch_status imgfetch_pull(imgfetch_ctx *ctx, const imgfetch_pull_opts *opts,
                                                   imgfetch_pull_result **ret);
void imgfetch_pull_result_free(imgfetch_pull_result *r);
/* One JSON object: reference, digest, manifest_digest, platform, format, files[]
 * (path, digest, size, media_type, title, skipped). No credentials. free(). */
char *imgfetch_pull_result_to_json(const imgfetch_pull_result *r);

/* ------------------------------------------------------------------ push */

/* Manifest annotation recording the platform ("os/arch[/variant]") of a pushed
 * artifact (imgfetch push --platform); imgfetch index create reads it back. */
#define IMGFETCH_OCI_ANNOTATION_PLATFORM "org.opencontainers.image.platform"

typedef struct imgfetch_push_file {
	const char *path;         /* a regular file */
	const char *media_type;   /* NULL: application/octet-stream */
	const char *title;        /* org.opencontainers.image.title; NULL: the file's base name */
} imgfetch_push_file;

typedef struct imgfetch_push_opts {
	const char *ref;          /* "host[:port]/repo[:tag]" or "oras://..."; a tag, not a digest */
	const char *username;     /* with password: credentials; both NULL: anonymous */
	const char *password;     /* never logged, never in messages or JSON */
	const char *authfile;     /* without username/password: credentials from this auth file
	                             (NULL: $REGISTRY_AUTH_FILE, containers auth.json, docker config.json) */
	const imgfetch_push_file *files;   /* the layers, in order */
	size_t n_files;
	const char *config_path;  /* with config_media_type: the config blob; NULL: the empty
	                             descriptor (application/vnd.oci.empty.v1+json, "{}") */
	const char *config_media_type;
	const char *artifact_type;           /* NULL: none */
	const imgfetch_oci_annotation *annotations; /* manifest annotations */
	size_t n_annotations;
	const char *platform;     /* "os/arch[/variant]" recorded as IMGFETCH_OCI_ANNOTATION_PLATFORM */
	uint64_t chunk_size;      /* upload PATCH size, 4 KiB .. 256 MiB; 0: 8 MiB */
} imgfetch_push_opts;

typedef struct imgfetch_push_result {
	char *reference;          /* "host[:port]/repo:tag@sha256:..." */
	char *digest;             /* of the manifest (or index) pushed */
	uint64_t size;            /* its size in bytes */
	size_t blobs_uploaded;
	size_t blobs_skipped;     /* already in the registry (HEAD) */
	uint64_t bytes_uploaded;
} imgfetch_push_result;

/*
 * Pushes the files as one OCI image manifest: each blob is hashed (streamed),
 * skipped when the registry has it (HEAD), else uploaded with POST, PATCH
 * chunks (always to the newest Location) and PUT ?digest=; then the config
 * and the manifest (schemaVersion 2, artifactType, layer titles, annotations)
 * are PUT under the tag. The manifest bytes are deterministic, so pushing the
 * same files again gives the same digest and uploads nothing. Auth as
 * imgfetch_inspect(), with the scope repository:<repo>:pull,push.
 * Errors: IMGFETCH_E_INVALID (options), IMGFETCH_E_NOT_FOUND (a missing file),
 * IMGFETCH_E_AUTH (credentials refused or required; push denied),
 * IMGFETCH_E_VERIFY (the registry stored other digests), network errors.
 * *ret: imgfetch_push_result_free().
 */
IMGFETCH_WARN_UNUSED imgfetch_status imgfetch_push(imgfetch_ctx *ctx, const imgfetch_push_opts *opts,
                                                   imgfetch_push_result **ret);
void imgfetch_push_result_free(imgfetch_push_result *r);

typedef struct imgfetch_index_opts {
	const char *ref;          /* the index's tag */
	const char *username;
	const char *password;
	const char *authfile;     /* without username/password: credentials from this auth file
	                             (NULL: $REGISTRY_AUTH_FILE, containers auth.json, docker config.json) */
	const char *const *manifests;  /* tags, digests, or references in the same repository */
	size_t n_manifests;
	const char *const *platforms;  /* NULL, or one per manifest ("os/arch[/variant]" or NULL:
	                                  from the manifest's platform annotation, KubeSolo's
	                                  architecture annotation, or its image config) */
	const imgfetch_oci_annotation *annotations;
	size_t n_annotations;
} imgfetch_index_opts;

/* Fetches each manifest (verified), and PUTs an OCI image index listing them
 * (media type, digest, size, artifactType, platform) under opts->ref's tag. */
IMGFETCH_WARN_UNUSED imgfetch_status imgfetch_index_create(imgfetch_ctx *ctx, const imgfetch_index_opts *opts,
                                                           imgfetch_push_result **ret);

/* --------------------------------------------------------------- backoff */

/* Delay before retry number `retry` (1 = after the first failed attempt):
 * base * 2^(retry-1) capped at max, then scaled by a jitter factor in
 * [0.8, 1.2] derived from `random01` (a uniform value in [0, 1)). */
uint32_t imgfetch_backoff_ms(uint32_t retry, uint32_t base_ms, uint32_t max_ms, double random01);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif
