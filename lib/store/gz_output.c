/* SPDX-License-Identifier: MIT */
#include "store/gz_output.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress/pgzip.h"
#include "store/atomic.h"
#include "util/fileio.h"
#include "util/strutil.h"

struct gz_output {
	atomic_file f;
	char *path;             /* for messages */
	pgzip *z;
	/* The sink's (pgzip calls it from its workers, one call at a time; the
	 * caller reads them only after pgzip_finish, which orders the accesses). */
	EVP_MD_CTX *sha1;
	uint64_t size;
	char sink_err[256];     /* set before the sink fails, read after pgzip reports it */
	bool closed;            /* commit was called: no more input, no second try */
};

static int gz_sink(void *u, const void *buf, size_t n)
{
	gz_output *g = u;
	int r = write_full(g->f.fd, buf, n);
	if (r < 0) {
		snprintf(g->sink_err, sizeof(g->sink_err), "cannot write %s: %s", g->path, strerror(-r));
		return r;
	}
	if (EVP_DigestUpdate(g->sha1, buf, n) != 1) {
		snprintf(g->sink_err, sizeof(g->sink_err), "SHA-1 of %s failed", g->path);
		return -EIO;
	}
	g->size += n;
	return 0;
}

int gz_output_open(const char *path, unsigned threads, int level, gz_output **ret, char *err, size_t errlen)
{
	gz_output *g = calloc(1, sizeof(*g));
	if (!g)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	g->f = (atomic_file)ATOMIC_FILE_INIT;
	g->path = strdup(path);
	g->sha1 = EVP_MD_CTX_new();
	if (!g->path || !g->sha1 || EVP_DigestInit_ex(g->sha1, EVP_sha1(), NULL) != 1) {
		gz_output_free(g);
		return errmsg(err, errlen, -ENOMEM, "cannot set up SHA-1");
	}
	int r = atomic_file_open(path, 0644, &g->f);
	if (r < 0) {
		gz_output_free(g);
		return errmsg(err, errlen, r, "cannot create %s: %s", path, strerror(-r));
	}
	/* Last: from here on workers may call gz_sink, which needs all of the above. */
	r = pgzip_new(threads, level, gz_sink, g, &g->z);
	if (r < 0) {
		gz_output_free(g);
		return errmsg(err, errlen, r, "cannot start the gzip compressor: %s", strerror(-r));
	}
	*ret = g;
	return 0;
}

int gz_output_push(void *u, const void *buf, size_t n)
{
	gz_output *g = u;
	if (g->closed)
		return -EINVAL;
	return pgzip_write(g->z, buf, n);
}

const char *gz_output_error(const gz_output *g)
{
	/* pgzip_error is non-empty only after the failure is recorded, which is
	 * after the sink wrote its message: reading sink_err then is safe. */
	const char *m = pgzip_error(g->z);
	if (!m[0])
		return "";
	return g->sink_err[0] ? g->sink_err : m;
}

int gz_output_commit(gz_output *g, char sha1_hex[41], uint64_t *ret_size, char *err, size_t errlen)
{
	if (g->closed)
		return errmsg(err, errlen, -EINVAL, "%s: commit was already called", g->path);
	/* One attempt: the digest is final and the file may be half-installed. */
	g->closed = true;
	int r = pgzip_finish(g->z);
	if (r < 0)
		return errmsg(err, errlen, r, "%s", gz_output_error(g));
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (EVP_DigestFinal_ex(g->sha1, md, &mdlen) != 1 || mdlen != 20)
		return errmsg(err, errlen, -EIO, "SHA-1 of %s failed", g->path);
	r = atomic_file_commit(&g->f);
	if (r < 0)
		return errmsg(err, errlen, r, "cannot install %s: %s", g->path, strerror(-r));
	hex_encode(md, mdlen, sha1_hex);
	if (ret_size)
		*ret_size = g->size;
	return 0;
}

void gz_output_free(gz_output *g)
{
	if (!g)
		return;
	/* The workers first: none may call gz_sink once the file is gone. */
	pgzip_free(g->z);
	atomic_file_abort(&g->f);
	EVP_MD_CTX_free(g->sha1);
	free(g->path);
	free(g);
}
