/* SPDX-License-Identifier: MIT */
/* imgfetch deliver: argument parsing and printing around imgfetch_deliver(). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void deliver_usage(FILE *f)
{
	fputs("Usage: imgfetch deliver MANIFEST FILE [OPTIONS]\n"
	      "\n"
	      "Install a SmartOS/Triton zvol image: MANIFEST is its IMGAPI manifest (JSON),\n"
	      "FILE the gzip'd zfs send stream (.zfs.gz) it describes, as `imgfetch fetch\n"
	      "--format zvol` writes them. The manifest's files[0] size is checked against\n"
	      "FILE before anything is sent or run; its sha1 while the file is uploaded\n"
	      "(IMGAPI) or by imgadm itself (smartos).\n"
	      "\n"
	      "Targets:\n"
	      "  file      (default) change nothing; print the imgadm install command for the pair\n"
	      "  smartos   run `imgadm install -m MANIFEST -f FILE` here (the global zone only)\n"
	      "  imgapi    import into a Triton IMGAPI (--imgapi URL): import the manifest, upload\n"
	      "            the file, activate; an image already there with the same sha1 is left\n"
	      "            alone, one with another sha1 is an error. A rerun after a failure goes\n"
	      "            on from the state the IMGAPI has.\n"
	      "\n"
	      "Options:\n"
	      "      --target file|smartos|imgapi  where the image goes (default: file)\n"
	      "      --imgapi URL          the IMGAPI's base URL, e.g. http://imgapi.example:8080\n"
	      "      --cacert FILE         trust the CA certificates in FILE (PEM) for HTTPS\n"
	      "      --imgadm CMD          the imgadm to run (default: imgadm from PATH)\n"
	      "      --json                print the result as one JSON object on stdout\n"
	      "  -q, --quiet               print only warnings and errors\n"
	      "  -v, --verbose             also print each request and imgadm's output\n"
	      "  -h, --help                show this help\n"
	      "\n"
	      "Exit codes: 0 ok (also when the image was already there), 2 usage (or smartos\n"
	      "outside the global zone), 3 the manifest does not match the file (nothing sent),\n"
	      "4 network, 5 a missing file or command, 6 not a usable manifest, 1 other (an\n"
	      "IMGAPI holding the UUID with another file, imgadm failing).\n",
	      f);
}

enum {
	OPT_TARGET = 256,
	OPT_IMGAPI,
	OPT_CACERT,
	OPT_IMGADM,
	OPT_JSON,
};

static const char *target_name(imgfetch_deliver_target t)
{
	return t == IMGFETCH_DELIVER_SMARTOS ? "smartos" : t == IMGFETCH_DELIVER_IMGAPI ? "imgapi" : "file";
}

static int print_json(const imgfetch_deliver_opts *o, const imgfetch_deliver_result *r)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:b, s:o}", "uuid", r->uuid, "target", target_name(o->target),
	                      "manifest", o->manifest_path, "file", o->file_path, "already_present",
	                      r->already_present, "command", r->command ? json_string(r->command) : json_null());
	if (j && o->imgapi_url && json_object_set_new(j, "imgapi", json_string(o->imgapi_url)) < 0) {
		json_decref(j);
		j = NULL;
	}
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	int code = EXIT_OK;
	if (!text || printf("%s\n", text) < 0) {
		fprintf(stderr, "imgfetch: cannot write the JSON result (a path that is not UTF-8?)\n");
		code = EXIT_ERROR;
	}
	free(text);
	return code;
}

int cmd_deliver(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "target", required_argument, NULL, OPT_TARGET },
		{ "imgapi", required_argument, NULL, OPT_IMGAPI },
		{ "cacert", required_argument, NULL, OPT_CACERT },
		{ "imgadm", required_argument, NULL, OPT_IMGADM },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	imgfetch_deliver_opts o = { .target = IMGFETCH_DELIVER_FILE };
	imgfetch_http_opts http;
	imgfetch_http_opts_init(&http);
	bool json = false;
	int verbosity = 1;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "qvh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_TARGET:
			if (strcmp(optarg, "file") == 0)
				o.target = IMGFETCH_DELIVER_FILE;
			else if (strcmp(optarg, "smartos") == 0)
				o.target = IMGFETCH_DELIVER_SMARTOS;
			else if (strcmp(optarg, "imgapi") == 0)
				o.target = IMGFETCH_DELIVER_IMGAPI;
			else {
				fprintf(stderr, "imgfetch deliver: --target is file, smartos or imgapi, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_IMGAPI: o.imgapi_url = optarg; break;
		case OPT_CACERT: http.cacert = optarg; break;
		case OPT_IMGADM: o.imgadm = optarg; break;
		case OPT_JSON: json = true; break;
		case 'q': verbosity = 0; break;
		case 'v': verbosity = 2; break;
		case 'h': deliver_usage(stdout); return EXIT_OK;
		default: deliver_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc - 2) {
		fprintf(stderr, "imgfetch deliver: expected MANIFEST and FILE\n");
		deliver_usage(stderr);
		return EXIT_USAGE;
	}
	if (o.target == IMGFETCH_DELIVER_IMGAPI && !o.imgapi_url) {
		fprintf(stderr, "imgfetch deliver: --target imgapi needs --imgapi URL\n");
		return EXIT_USAGE;
	}
	if (o.imgapi_url && o.target != IMGFETCH_DELIVER_IMGAPI) {
		fprintf(stderr, "imgfetch deliver: --imgapi goes with --target imgapi\n");
		return EXIT_USAGE;
	}
	if (o.imgadm && o.target != IMGFETCH_DELIVER_SMARTOS) {
		fprintf(stderr, "imgfetch deliver: --imgadm goes with --target smartos\n");
		return EXIT_USAGE;
	}
	o.manifest_path = argv[optind];
	o.file_path = argv[optind + 1];
	o.http = &http;

	cli_output out = { .verbosity = verbosity, .progress = verbosity > 0 && !json && isatty(STDERR_FILENO) };
	imgfetch_ctx *ctx = cli_ctx_new(&out);
	if (!ctx)
		return EXIT_ERROR;

	imgfetch_deliver_result *res = NULL;
	imgfetch_status st = imgfetch_deliver(ctx, &o, &res);
	cli_output_clear(&out);
	int code = cli_exit_code(st);
	if (st < 0) {
		fprintf(stderr, "imgfetch: %s\n", imgfetch_ctx_error(ctx));
	} else if (json) {
		code = print_json(&o, res);
	} else if (o.target == IMGFETCH_DELIVER_FILE) {
		/* The command is the output, even with -q: it is what was asked for. */
		printf("%s\n", res->command);
	} else if (verbosity > 0) {
		printf("%s %s\n", res->already_present ? "already present:" : "delivered:", res->uuid);
	}
	if (fflush(stdout) != 0)
		code = EXIT_ERROR;
	imgfetch_deliver_result_free(res);
	cli_signals_release();
	imgfetch_ctx_free(ctx);
	return code;
}
