/* SPDX-License-Identifier: MIT */
/* imgfetch pull: argument parsing and printing around imgfetch_pull(). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"


static void pull_usage(FILE *f)
{
	fputs("Usage: imgfetch pull REF -o PATH [OPTIONS]\n"
	      "\n"
	      "Download a disk image (a layer) from an OCI registry, verifying its digest and\n"
	      "size, and install it atomically at PATH. REF is host[:port]/repo[:tag][@sha256:...]\n"
	      "or oras://host/repo:tag. A tag is resolved to a digest first; when PATH already\n"
	      "holds that digest (recorded in PATH.digest), nothing is downloaded.\n"
	      "\n"
	      "Options:\n"
	      "  -o, --output PATH         the file to write (with --all-layers: a directory)\n"
	      "      --platform OS/ARCH[/VARIANT]  the index entry to use (default: the host's;\n"
	      "                            exit 5 listing the platforms when missing)\n"
	      "      --media-type TYPE     the layer with this media type\n"
	      "      --title NAME          the layer titled NAME (org.opencontainers.image.title)\n"
	      "      --all-layers          every layer to PATH/<title> (sanitised; else its digest)\n"
	      "                            (default: the disk-image layer; signature, SBOM and\n"
	      "                            attestation layers are ignored; the largest one wins)\n"
	      "      --format raw|qcow2|blob  convert the layer (compressed streams included), or\n"
	      "                            keep it as it is (blob, the default)\n"
	      "      --username USER       authenticate as USER (Basic, or for the token server)\n"
	      "      --password-stdin      read the password from standard input\n"
	      "      --authfile FILE       without --username: credentials from FILE (default:\n"
	      "                            $REGISTRY_AUTH_FILE, containers auth.json, ~/.docker/config.json)\n"
	      "      --cacert FILE         trust the CA certificates in FILE (PEM) for HTTPS\n"
	      "      --json                print the result as one JSON object on stdout\n"
	      "  -q, --quiet               print only warnings and errors\n"
	      "  -v, --verbose             also print each request\n"
	      "  -h, --help                show this help\n"
	      "\n"
	      "Exit codes: 0 ok, 2 usage, 3 digest or size mismatch (nothing written), 4 network,\n"
	      "5 not found (tag, platform or layer), 6 invalid manifest or image, 7 authentication.\n",
	      f);
}

enum {
	OPT_PLATFORM = 256,
	OPT_MEDIA_TYPE,
	OPT_TITLE,
	OPT_ALL_LAYERS,
	OPT_FORMAT,
	OPT_USERNAME,
	OPT_PASSWORD_STDIN,
	OPT_AUTHFILE,
	OPT_CACERT,
	OPT_JSON,
};

int cmd_pull(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "platform", required_argument, NULL, OPT_PLATFORM },
		{ "media-type", required_argument, NULL, OPT_MEDIA_TYPE },
		{ "title", required_argument, NULL, OPT_TITLE },
		{ "all-layers", no_argument, NULL, OPT_ALL_LAYERS },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "username", required_argument, NULL, OPT_USERNAME },
		{ "password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN },
		{ "authfile", required_argument, NULL, OPT_AUTHFILE },
		{ "cacert", required_argument, NULL, OPT_CACERT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	imgfetch_pull_opts o = { 0 };
	imgfetch_http_opts http;
	imgfetch_http_opts_init(&http);
	bool json = false, password_stdin = false;
	int verbosity = 1;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': o.output = optarg; break;
		case OPT_PLATFORM: o.platform = optarg; break;
		case OPT_MEDIA_TYPE: o.media_type = optarg; break;
		case OPT_TITLE: o.title = optarg; break;
		case OPT_ALL_LAYERS: o.all_layers = true; break;
		case OPT_FORMAT:
			if (strcmp(optarg, "raw") == 0)
				o.format = IMGFETCH_PULL_RAW;
			else if (strcmp(optarg, "qcow2") == 0)
				o.format = IMGFETCH_PULL_QCOW2;
			else if (strcmp(optarg, "blob") == 0)
				o.format = IMGFETCH_PULL_BLOB;
			else {
				fprintf(stderr, "imgfetch pull: --format is raw, qcow2 or blob, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_USERNAME: o.username = optarg; break;
		case OPT_PASSWORD_STDIN: password_stdin = true; break;
		case OPT_AUTHFILE: o.authfile = optarg; break;
		case OPT_CACERT: http.cacert = optarg; break;
		case OPT_JSON: json = true; break;
		case 'q': verbosity = 0; break;
		case 'v': verbosity = 2; break;
		case 'h': pull_usage(stdout); return EXIT_OK;
		default: pull_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "imgfetch pull: expected exactly one reference\n");
		pull_usage(stderr);
		return EXIT_USAGE;
	}
	if (!o.output) {
		fprintf(stderr, "imgfetch pull: -o PATH is required\n");
		return EXIT_USAGE;
	}
	if ((o.title != NULL) + (o.media_type != NULL) + o.all_layers > 1) {
		fprintf(stderr, "imgfetch pull: choose one of --media-type, --title and --all-layers\n");
		return EXIT_USAGE;
	}
	if (o.all_layers && o.format != IMGFETCH_PULL_BLOB) {
		fprintf(stderr, "imgfetch pull: --all-layers writes the blobs as they are; --format does not apply\n");
		return EXIT_USAGE;
	}
	if (o.platform && !cli_platform_valid(o.platform)) {
		fprintf(stderr, "imgfetch pull: --platform needs OS/ARCH[/VARIANT], not '%s'\n", o.platform);
		return EXIT_USAGE;
	}
	o.ref = argv[optind];
	char *password = NULL;
	if (cli_registry_password("pull", o.username, password_stdin, &password) != EXIT_OK)
		return EXIT_USAGE;
	o.password = password;

	cli_output out = { .verbosity = verbosity, .progress = verbosity > 0 && !json && isatty(STDERR_FILENO) };
	imgfetch_ctx *ctx = cli_ctx_new(&out);
	if (!ctx) {
		cli_wipe_password(password);
		return EXIT_ERROR;
	}

	imgfetch_pull_result *res = NULL;
	imgfetch_status st = imgfetch_ctx_set_http(ctx, &http);
	if (st == IMGFETCH_OK)
		st = imgfetch_pull(ctx, &o, &res);
	cli_wipe_password(password);
	o.password = NULL;
	cli_output_clear(&out);
	int code = cli_exit_code(st);
	if (st < 0) {
		fprintf(stderr, "imgfetch: %s\n", imgfetch_ctx_error(ctx));
	} else if (json) {
		char *text = imgfetch_pull_result_to_json(res);
		if (!text || printf("%s\n", text) < 0 || fflush(stdout) != 0) {
			fprintf(stderr, "imgfetch: cannot write the JSON result\n");
			code = EXIT_ERROR;
		}
		free(text);
	} else if (verbosity > 0) {
		for (size_t i = 0; i < res->n_files; i++) {
			const imgfetch_pull_file *f = &res->files[i];
			printf("%s %s (%s, %" PRIu64 " bytes%s)\n", f->skipped ? "up to date:" : "pulled:", f->path,
			       f->digest, f->size, res->format != IMGFETCH_PULL_BLOB ? ", converted" : "");
		}
		if (fflush(stdout) != 0)
			code = EXIT_ERROR;
	}
	imgfetch_pull_result_free(res);
	cli_signals_release();
	imgfetch_ctx_free(ctx);
	return code;
}
