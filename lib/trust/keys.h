/* SPDX-License-Identifier: MIT */
/*
 * The keys a verification may trust: the shipped keys (one file per vendor),
 * the site's (/etc/imgfetch/keys, $XDG_CONFIG_HOME/imgfetch/keys), or a
 * keyring file the caller names. Loaded per operation and read-only after:
 * no key state outlives the call that needed it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "core/ctx.h"

/* A keyring file larger than this is not a keyring (Debian's whole archive
 * keyring is ~ 100 KiB, archlinux.gpg ~ 1.5 MiB). */
#define TRUST_KEY_FILE_MAX (8u << 20)

typedef struct trust_key_file {
	char *path;
	char *data;
	size_t len;
	bool signify;   /* a signify public key (*.pub), else OpenPGP */
} trust_key_file;

typedef struct trust_keys {
	trust_key_file *v;
	size_t n;
	char *searched; /* the places looked in, for messages ("/usr/share/imgfetch/keys/fedora*.asc, …") */
} trust_keys;

/* Loads `keyring` in place of the shipped keys when given, plus the site's;
 * with `vendor`, only files named for it ("<vendor>.asc", "<vendor>-x.gpg").
 * Missing directories are fine; an unreadable file is skipped with a
 * warning; a keyring file the caller named must load. */
imgfetch_status trust_keys_load(imgfetch_ctx *ctx, const char *keyring, const char *vendor, trust_keys *ret);
void trust_keys_clear(trust_keys *k);
size_t trust_keys_count(const trust_keys *k, bool signify);
