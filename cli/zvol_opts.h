/* SPDX-License-Identifier: MIT */
/* The zvol (SmartOS/Triton image) options shared by convert and fetch. */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include <imgfetch/imgfetch.h>

enum {
	ZOPT_FIRST = 1000,
	ZOPT_VOLBLOCKSIZE = ZOPT_FIRST,
	ZOPT_GZIP_LEVEL,
	ZOPT_REPRODUCIBLE,
	ZOPT_BUILDER,
	ZOPT_DATASET,
	ZOPT_ZVOL_DIR,
	ZOPT_LOCK_DIR,
	ZOPT_NAME,
	ZOPT_IMAGE_VERSION,
	ZOPT_DESCRIPTION,
	ZOPT_HOMEPAGE,
	ZOPT_OS,
	ZOPT_OWNER,
	ZOPT_PUBLIC,
	ZOPT_PRIVATE,
	ZOPT_BIOS,
	ZOPT_SSH_KEY,
	ZOPT_NO_SSH_KEY,
	ZOPT_SOURCE_SHA256,
	ZOPT_LAST,
};

#define CLI_ZVOL_LONGOPTS                                                        \
	{ "volblocksize", required_argument, NULL, ZOPT_VOLBLOCKSIZE },         \
	{ "gzip-level", required_argument, NULL, ZOPT_GZIP_LEVEL },             \
	{ "reproducible", no_argument, NULL, ZOPT_REPRODUCIBLE },               \
	{ "builder", required_argument, NULL, ZOPT_BUILDER },                   \
	{ "dataset", required_argument, NULL, ZOPT_DATASET },                   \
	{ "zvol-dir", required_argument, NULL, ZOPT_ZVOL_DIR },                 \
	{ "lock-dir", required_argument, NULL, ZOPT_LOCK_DIR },                 \
	{ "name", required_argument, NULL, ZOPT_NAME },                         \
	{ "image-version", required_argument, NULL, ZOPT_IMAGE_VERSION },       \
	{ "description", required_argument, NULL, ZOPT_DESCRIPTION },           \
	{ "homepage", required_argument, NULL, ZOPT_HOMEPAGE },                 \
	{ "os", required_argument, NULL, ZOPT_OS },                             \
	{ "owner", required_argument, NULL, ZOPT_OWNER },                       \
	{ "public", no_argument, NULL, ZOPT_PUBLIC },                           \
	{ "private", no_argument, NULL, ZOPT_PRIVATE },                         \
	{ "bios", no_argument, NULL, ZOPT_BIOS },                               \
	{ "ssh-key", no_argument, NULL, ZOPT_SSH_KEY },                         \
	{ "no-ssh-key", no_argument, NULL, ZOPT_NO_SSH_KEY },                   \
	{ "source-sha256", required_argument, NULL, ZOPT_SOURCE_SHA256 }

/* Help text for the options above. */
extern const char cli_zvol_help[];

/* Applies option c (ZOPT_*) to z; *given records that a zvol option was
 * used. Returns false after printing why the value is bad. */
bool cli_zvol_option(const char *cmd, int c, const char *arg, imgfetch_zvol_opts *z, bool *given);
