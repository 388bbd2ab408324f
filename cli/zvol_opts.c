/* SPDX-License-Identifier: MIT */
#include "zvol_opts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char cli_zvol_help[] =
	"zvol output (SmartOS/Triton: NAME.zfs.gz + IMGAPI manifest NAME.json):\n"
	"      --volblocksize N    512 ... 128K, power of two (default 8K)\n"
	"      --gzip-level N      1..9 (default 4; compression runs on every core)\n"
	"      --reproducible      same source, same bytes: guid, creation time, salt\n"
	"                          and published_at derived from the source sha256\n"
	"      --builder B         native (default: written directly, no ZFS needed) or\n"
	"                          zfs (zfs create/snapshot/send on this host)\n"
	"      --dataset DS        zfs builder: parent dataset (default zones, or\n"
	"                          zones/<zonename>/data in a non-global zone)\n"
	"      --zvol-dir DIR      zfs builder: zvol device directory\n"
	"      --lock-dir DIR      zfs builder: lock files (default /var/tmp/imgfetch/locks)\n"
	"      --name NAME, --image-version V, --description TEXT, --homepage URL,\n"
	"      --os OS, --owner UUID, --public (default) | --private, --bios (default\n"
	"      uefi), --ssh-key | --no-ssh-key     manifest fields\n"
	"      --source-sha256 HEX digest of the source file for the UUID (default:\n"
	"                          computed from IN)\n";

bool cli_zvol_option(const char *cmd, int c, const char *arg, imgfetch_zvol_opts *z, bool *given)
{
	char *end;
	unsigned long v;
	*given = true;
	switch (c) {
	case ZOPT_VOLBLOCKSIZE:
		errno = 0;
		v = strtoul(arg, &end, 10);
		if (*end == 'K' || *end == 'k') {
			/* Shifted as is, a huge count wraps around to a valid size. */
			v = v > (131072 >> 10) ? 0 : v << 10;
			end++;
		}
		if (errno || end == arg || *end || v < 512 || v > 131072 || (v & (v - 1))) {
			fprintf(stderr, "imgfetch %s: --volblocksize takes a power of two from 512 to 128K, not '%s'\n", cmd,
			        arg);
			return false;
		}
		z->volblocksize = (uint32_t)v;
		return true;
	case ZOPT_GZIP_LEVEL:
		if (strlen(arg) != 1 || arg[0] < '1' || arg[0] > '9') {
			fprintf(stderr, "imgfetch %s: --gzip-level takes 1..9, not '%s'\n", cmd, arg);
			return false;
		}
		z->gzip_level = arg[0] - '0';
		return true;
	case ZOPT_REPRODUCIBLE: z->reproducible = true; return true;
	case ZOPT_BUILDER:
		if (strcmp(arg, "native") == 0)
			z->builder = IMGFETCH_ZVOL_NATIVE;
		else if (strcmp(arg, "zfs") == 0)
			z->builder = IMGFETCH_ZVOL_ZFS;
		else {
			fprintf(stderr, "imgfetch %s: --builder takes native or zfs, not '%s'\n", cmd, arg);
			return false;
		}
		return true;
	case ZOPT_DATASET: z->dataset = arg; return true;
	case ZOPT_ZVOL_DIR: z->zvol_dir = arg; return true;
	case ZOPT_LOCK_DIR: z->lock_dir = arg; return true;
	case ZOPT_NAME: z->name = arg; return true;
	case ZOPT_IMAGE_VERSION: z->version = arg; return true;
	case ZOPT_DESCRIPTION: z->description = arg; return true;
	case ZOPT_HOMEPAGE: z->homepage = arg; return true;
	case ZOPT_OS: z->os = arg; return true;
	case ZOPT_OWNER: z->owner = arg; return true;
	case ZOPT_PUBLIC: z->private_image = false; return true;
	case ZOPT_PRIVATE: z->private_image = true; return true;
	case ZOPT_BIOS: z->bios = true; return true;
	case ZOPT_SSH_KEY: z->ssh_key = 1; return true;
	case ZOPT_NO_SSH_KEY: z->ssh_key = -1; return true;
	case ZOPT_SOURCE_SHA256: z->source_sha256 = arg; return true;
	}
	*given = false;
	fprintf(stderr, "imgfetch %s: unknown option\n", cmd);
	return false;
}
