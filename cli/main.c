/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
	fputs("Usage: imgfetch [--help] [--version] COMMAND [ARGS...]\n"
	      "\n"
	      "Fetch operating-system disk images, verifying every byte.\n"
	      "\n"
	      "Commands:\n"
	      "  get URL       download a file atomically and verify it\n"
	      "  convert IN OUT  convert a disk image (qcow2, vmdk, raw, zvol; xz/gzip/zstd/bzip2)\n"
	      "  info FILE     show a disk image's format, sizes and features\n"
	      "  vendors       list the built-in vendors of cloud images\n"
	      "  resolve VENDOR [RELEASE]  find a vendor's image in its release feed\n"
	      "  fetch VENDOR [RELEASE]    resolve, download, verify and convert it\n"
	      "  inspect REF   show a registry manifest or index (OCI), nothing downloaded\n"
	      "  push FILE[:MEDIATYPE]... REF  upload files as an OCI artifact\n"
	      "  index create REF MANIFEST...  push a multi-platform OCI index\n"
	      "  pull REF -o PATH  download a disk image from an OCI registry, verified\n"
	      "  deliver MANIFEST FILE  install a SmartOS/Triton zvol image (imgadm, IMGAPI)\n"
	      "\n"
	      "Run 'imgfetch COMMAND --help' for a command's options.\n"
	      "\n"
	      "Exit codes:\n"
	      "  0    success\n"
	      "  1    other error (I/O, cache lock busy with --no-wait, ...)\n"
	      "  2    usage error\n"
	      "  3    verification failed (digest mismatch, no checksum for the file)\n"
	      "  4    network or transfer failure (after retries where they help)\n"
	      "  5    not found (HTTP 404/410, unknown name, missing input file)\n"
	      "  6    image corrupt, hostile or using an unsupported feature\n"
	      "  7    authentication failed (registry credentials refused or required)\n"
	      "  130  interrupted (SIGINT)\n"
	      "  143  terminated (SIGTERM)\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		printf("imgfetch %s\n", imgfetch_version());
		return EXIT_OK;
	}
	if (strcmp(cmd, "get") == 0)
		return cmd_get(argc - 1, argv + 1);
	if (strcmp(cmd, "convert") == 0)
		return cmd_convert(argc - 1, argv + 1);
	if (strcmp(cmd, "info") == 0)
		return cmd_info(argc - 1, argv + 1);
	if (strcmp(cmd, "vendors") == 0)
		return cmd_vendors(argc - 1, argv + 1);
	if (strcmp(cmd, "inspect") == 0)
		return cmd_inspect(argc - 1, argv + 1);
	if (strcmp(cmd, "push") == 0)
		return cmd_push(argc - 1, argv + 1);
	if (strcmp(cmd, "index") == 0)
		return cmd_index(argc - 1, argv + 1);
	if (strcmp(cmd, "pull") == 0)
		return cmd_pull(argc - 1, argv + 1);
	if (strcmp(cmd, "deliver") == 0)
		return cmd_deliver(argc - 1, argv + 1);
	if (strcmp(cmd, "resolve") == 0 || strcmp(cmd, "fetch") == 0)
		return cmd_catalog(argc - 1, argv + 1);
	fprintf(stderr, "imgfetch: unknown command '%s'\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
