/* SPDX-License-Identifier: MIT */
/*
 * Random-access readers of disk image files (qcow2, vmdk, raw).
 *
 * A reader answers two questions about the guest-visible disk: what is at an
 * offset (map: data, explicit zeros, or an unallocated hole) and what are its
 * bytes (read). Both are thread-safe, so a converter can decode many clusters
 * at once on every core. Every reader validates the metadata it depends on
 * before it answers (offsets aligned and inside the file, multiplications
 * overflow-checked, table sizes capped) and refuses what it does not support
 * with a message naming the feature.
 *
 * Errors are negative errno values:
 *   -EBADMSG   the image is corrupt (bad magic, offsets out of range, ...)
 *   -ENOTSUP   a feature imgfetch does not support (encryption, backing file, ...)
 *   -EFBIG     a size beyond the documented caps
 *   -ENOMEM, -EIO, ...  as usual
 * with a human message stored in the reader (img_reader_error()) or, for
 * open functions, in the caller's buffer.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest single read() a caller may ask for. */
#define IMG_MAX_IO (4u * 1024 * 1024)
/* Largest virtual size any reader accepts (64 TiB). */
#define IMG_MAX_VIRTUAL_SIZE (64ull << 40)

typedef enum img_extent_kind {
	IMG_EXTENT_DATA = 0, /* bytes stored in the image (may still happen to be zero) */
	IMG_EXTENT_ZERO = 1, /* explicitly zero (qcow2 zero cluster, vmdk zeroed grain) */
	IMG_EXTENT_HOLE = 2, /* unallocated; reads as zeros (no backing files) */
} img_extent_kind;

typedef struct img_extent {
	uint64_t offset;       /* guest offset where the extent starts */
	uint64_t length;       /* >= 1 */
	img_extent_kind kind;
	bool compressed;       /* data stored compressed (qcow2 compressed cluster, vmdk grain) */
} img_extent;

typedef struct img_info {
	const char *format;    /* "qcow2", "vmdk", "raw", "zvol"...: static string */
	uint64_t virtual_size; /* bytes */
	uint64_t file_size;    /* bytes of the image file */
	uint32_t cluster_size; /* qcow2 cluster / vmdk grain size in bytes; 0 for raw */
	uint32_t version;      /* qcow2 2 or 3; vmdk sparse header version; 0 for raw */
	char compression[16];  /* "zlib", "zstd", "deflate" or "" */
	char subformat[32];    /* vmdk: "streamOptimized", "monolithicSparse"; else "" */
	char features[256];    /* space-separated flags, e.g. "extended_l2 dirty lazy_refcounts" */
} img_info;

typedef struct img_reader img_reader;

typedef struct img_reader_ops {
	/* Describes the extent starting at `offset` (< virtual_size): its kind
	 * and a length of at least 1, at most max_len (>= 1), never past
	 * virtual_size. An extent may be shorter than the run of its kind:
	 * neighbours can have the same kind. Out-of-range calls: -EINVAL. */
	int (*map)(img_reader *r, uint64_t offset, uint64_t max_len, img_extent *ret);
	/* Reads `len` (<= IMG_MAX_IO) guest bytes at `offset`; zero and hole
	 * extents read as zeros; offset + len <= virtual_size. */
	int (*read)(img_reader *r, uint64_t offset, void *buf, size_t len);
	void (*close)(img_reader *r);
} img_reader_ops;

struct img_reader {
	const img_reader_ops *ops;
	img_info info;
	/* First error reported during map/read, for the user. Written once under
	 * err_lock; err_set is raised after, so a reader that sees it set reads a
	 * finished message that never changes again. */
	pthread_mutex_t err_lock;
	_Atomic int err_set;
	char err[512];
};

/* Common part of every reader: call from the format's open function. */
void img_reader_init(img_reader *r, const img_reader_ops *ops, const char *format);
/* Records a message unless one is already recorded (the first cause wins). */
void img_reader_set_error(img_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "" when none; once set, the message stays valid and unchanged until close. */
const char *img_reader_error(img_reader *r);
/* Releases the common part; formats call it from their close(). */
void img_reader_destroy(img_reader *r);

static inline int img_map(img_reader *r, uint64_t off, uint64_t max, img_extent *e)
{
	return r->ops->map(r, off, max, e);
}
static inline int img_read(img_reader *r, uint64_t off, void *buf, size_t len)
{
	return r->ops->read(r, off, buf, len);
}
static inline void img_close(img_reader *r)
{
	if (r)
		r->ops->close(r);
}

/*
 * Format open functions. `fd` is borrowed: the caller keeps it open until
 * img_close() and closes it afterwards. Data is read with pread(), so the fd's
 * offset carries no meaning (raw uses lseek(SEEK_DATA/SEEK_HOLE) to find holes,
 * which moves it harmlessly). On failure a message is written to err (errlen bytes).
 */
int raw_open(int fd, img_reader **ret, char *err, size_t errlen);
int qcow2_open(int fd, img_reader **ret, char *err, size_t errlen);
int vmdk_open(int fd, img_reader **ret, char *err, size_t errlen);

/* Size of an image file or block device, for open functions. 0 or -errno
 * with a message in err. */
int img_file_size(int fd, uint64_t *ret, char *err, size_t errlen);

/* A disk image format imgfetch does not read (formats/foreign.c). */
typedef struct img_foreign {
	const char *id;   /* qemu-img's name: "vhdx", "vpc", "vdi", ... */
	const char *name; /* for people: "VHDX", "VHD", ... */
} img_foreign;

/* Recognises the formats qemu-img reads and imgfetch does not, from the
 * first bytes of a file (at least 512 wanted) and, when the file can be
 * seeked, its last bytes (tail: at least 512, NULL when unknown). NULL when
 * none matches. Checked before img_probe(): a QCOW version 1 header shares
 * qcow2's magic. */
const img_foreign *img_probe_foreign(const void *head, size_t len, const void *tail, size_t tail_len);

/* Recognises a format from the first bytes of a file (at least 512 wanted).
 * Returns "qcow2", "vmdk" or NULL (anything else is raw, or compressed: see
 * compress_detect()). */
const char *img_probe(const void *head, size_t len);
