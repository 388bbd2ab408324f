/* SPDX-License-Identifier: MIT */
#include "trust/keys.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "trust/signify.h"
#include "util/fileio.h"

#ifndef IMGFETCH_KEYS_DIR
#define IMGFETCH_KEYS_DIR "/usr/local/share/imgfetch/keys"
#endif

static const char *const pgp_exts[] = { ".asc", ".gpg", ".pgp", ".key" };

/* 1 OpenPGP, 2 signify, 0 not a key file name. */
static int key_kind(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < sizeof(pgp_exts) / sizeof(pgp_exts[0]); i++)
		if (n > 4 && strcmp(name + n - 4, pgp_exts[i]) == 0)
			return 1;
	if (n > 4 && strcmp(name + n - 4, ".pub") == 0)
		return 2;
	return 0;
}

static bool named_for(const char *name, const char *vendor)
{
	size_t vl = strlen(vendor), n = strlen(name);
	if (strncmp(name, vendor, vl) != 0)
		return false;
	/* "<vendor>.ext" or "<vendor>-anything.ext", never "<vendor>x.ext". */
	return name[vl] == '-' || n - vl == 4;
}

static int add_file(trust_keys *k, const char *path, int kind)
{
	char *data = NULL;
	size_t len = 0;
	int r = read_file_capped(path, TRUST_KEY_FILE_MAX, &data, &len);
	if (r < 0)
		return r;
	if (len == 0) {
		free(data);
		return -ENODATA;
	}
	trust_key_file *v = realloc(k->v, (k->n + 1) * sizeof(*v));
	char *p = strdup(path);
	if (!v || !p) {
		if (v)
			k->v = v;
		free(p);
		free(data);
		return -ENOMEM;
	}
	k->v = v;
	k->v[k->n++] = (trust_key_file){ .path = p, .data = data, .len = len, .signify = kind == 2 };
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int add_dir(imgfetch_ctx *ctx, trust_keys *k, const char *dir, const char *vendor)
{
	struct dirent **list = NULL;
	int n = scandir(dir, &list, NULL, by_name);
	if (n < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	int r = 0;
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		int kind = key_kind(name);
		if (r == 0 && name[0] != '.' && kind && (!vendor || named_for(name, vendor))) {
			_cleanup_free_ char *path = NULL;
			if (asprintf(&path, "%s/%s", dir, name) < 0)
				r = -ENOMEM;
			else {
				int e = add_file(k, path, kind);
				if (e == -ENOMEM)
					r = e;
				else if (e < 0)
					ifx_log(ctx, IMGFETCH_LOG_WARNING, "ignoring key file %s: %s", path,
					        e == -ENODATA ? "empty" : strerror(-e));
			}
		}
		free(list[i]);
	}
	free(list);
	return r;
}

static int append_searched(trust_keys *k, const char *dir, const char *vendor)
{
	char *s = NULL;
	int r = asprintf(&s, "%s%s%s/%s*", k->searched ? k->searched : "", k->searched ? ", " : "", dir,
	                 vendor ? vendor : "");
	if (r < 0)
		return -ENOMEM;
	free(k->searched);
	k->searched = s;
	return 0;
}

imgfetch_status trust_keys_load(imgfetch_ctx *ctx, const char *keyring, const char *vendor, trust_keys *ret)
{
	*ret = (trust_keys){ 0 };
	_cleanup_free_ char *user_dir = NULL;
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	int n = xdg && xdg[0] == '/'   ? asprintf(&user_dir, "%s/imgfetch/keys", xdg)
	        : home && home[0] == '/' ? asprintf(&user_dir, "%s/.config/imgfetch/keys", home)
	                                 : 0;
	if (n < 0) {
		user_dir = NULL; /* asprintf leaves it undefined */
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	}

	int r = 0;
	if (keyring) {
		int kind = key_kind(keyring);
		r = add_file(ret, keyring, kind ? kind : 1);
		if (r == 0 && kind == 0 && signify_looks_like(ret->v[0].data, ret->v[0].len))
			ret->v[0].signify = true;
		if (r < 0 && r != -ENOMEM) {
			trust_keys_clear(ret);
			return ifx_fail(ctx, IMGFETCH_E_INVALID, "cannot read keyring %s: %s", keyring,
			                r == -ENODATA ? "empty file" : strerror(-r));
		}
		if (r == 0) {
			free(ret->searched);
			ret->searched = strdup(keyring);
			r = ret->searched ? 0 : -ENOMEM;
		}
	} else {
		const char *shipped = ctx->keys_dir ? ctx->keys_dir : IMGFETCH_KEYS_DIR;
		r = add_dir(ctx, ret, shipped, vendor);
		if (r == 0)
			r = append_searched(ret, shipped, vendor);
	}
	const char *site[] = { "/etc/imgfetch/keys", user_dir };
	for (size_t i = 0; r == 0 && i < 2; i++)
		if (site[i]) {
			r = add_dir(ctx, ret, site[i], vendor);
			if (r == 0)
				r = append_searched(ret, site[i], vendor);
		}
	if (r < 0) {
		trust_keys_clear(ret);
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot load keys: %s", strerror(-r));
	}
	return IMGFETCH_OK;
}

size_t trust_keys_count(const trust_keys *k, bool signify)
{
	size_t n = 0;
	for (size_t i = 0; i < k->n; i++)
		n += k->v[i].signify == signify;
	return n;
}

void trust_keys_clear(trust_keys *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free(k->v[i].path);
		free(k->v[i].data);
	}
	free(k->v);
	free(k->searched);
	*k = (trust_keys){ 0 };
}
