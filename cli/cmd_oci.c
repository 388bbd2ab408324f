/* SPDX-License-Identifier: MIT */
/* imgfetch inspect: argument parsing and printing around imgfetch_inspect(). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"


static void inspect_usage(FILE *f)
{
	fputs("Usage: imgfetch inspect REF [OPTIONS]\n"
	      "\n"
	      "Show the manifest or index REF names in an OCI registry, without downloading\n"
	      "any blob. REF is host[:port]/repo[:tag][@sha256:...] or oras://host/repo:tag.\n"
	      "\n"
	      "Options:\n"
	      "      --platform OS/ARCH[/VARIANT]  with an index, also show that platform's\n"
	      "                            manifest (exit 5 when the index has none)\n"
	      "      --username USER       authenticate as USER (Basic, or for the token server)\n"
	      "      --password-stdin      read the password from standard input\n"
	      "      --authfile FILE       without --username: credentials from FILE (auths,\n"
	      "                            credHelpers, credsStore); default $REGISTRY_AUTH_FILE,\n"
	      "                            $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json\n"
	      "      --cacert FILE         trust the CA certificates in FILE (PEM) for HTTPS\n"
	      "      --json                print the result as one JSON object on stdout\n"
	      "  -q, --quiet               print only warnings and errors\n"
	      "  -v, --verbose             also print each request\n"
	      "  -h, --help                show this help\n"
	      "\n"
	      "Exit codes: 0 ok, 2 usage, 3 manifest digest mismatch, 4 network, 5 not found\n"
	      "(or no such platform), 6 invalid manifest, 7 authentication failed;\n"
	      "a malformed or missing --authfile is 2.\n",
	      f);
}

enum {
	OPT_PLATFORM = 256,
	OPT_USERNAME,
	OPT_PASSWORD_STDIN,
	OPT_CACERT,
	OPT_JSON,
	OPT_AUTHFILE,
};

/* Registry-supplied text for a terminal: control bytes become '?', so an
 * annotation cannot rewrite the screen or fake output lines. Truncates at
 * the buffer (manifest strings are capped well below it). */
static const char *clean(const char *s, char *buf, size_t len)
{
	size_t i = 0;
	for (; s && s[i] && i + 1 < len; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static void print_annotations(const char *indent, const imgfetch_oci_annotation *a, size_t n)
{
	char k[512], v[4100];
	for (size_t i = 0; i < n; i++)
		printf("%s%s=%s\n", indent, clean(a[i].key, k, sizeof(k)), clean(a[i].value, v, sizeof(v)));
}

static void print_manifest(const imgfetch_oci_manifest *m, const char *indent)
{
	printf("%sKind:          %s\n", indent, m->is_index ? "index" : "manifest");
	printf("%sDigest:        %s\n", indent, m->digest);
	char b1[512], b2[512];
	printf("%sMedia type:    %s\n", indent, m->media_type ? clean(m->media_type, b1, sizeof(b1)) : "(none)");
	if (m->artifact_type)
		printf("%sArtifact type: %s\n", indent, clean(m->artifact_type, b1, sizeof(b1)));
	if (m->is_index) {
		printf("%sManifests:     %zu\n", indent, m->n_manifests);
		for (size_t i = 0; i < m->n_manifests; i++) {
			const imgfetch_oci_descriptor *d = &m->manifests[i];
			printf("%s  %-20s %s %" PRIu64 " %s\n", indent,
			       d->platform ? clean(d->platform, b1, sizeof(b1)) : "(no platform)", d->digest, d->size,
			       clean(d->media_type, b2, sizeof(b2)));
		}
	} else {
		if (m->config)
			printf("%sConfig:        %s %s %" PRIu64 "\n", indent, clean(m->config->media_type, b1, sizeof(b1)),
			       m->config->digest, m->config->size);
		printf("%sLayers:        %zu\n", indent, m->n_layers);
		for (size_t i = 0; i < m->n_layers; i++) {
			const imgfetch_oci_descriptor *d = &m->layers[i];
			printf("%s  %s %" PRIu64 " %s %s\n", indent, d->title ? clean(d->title, b1, sizeof(b1)) : "-", d->size,
			       clean(d->media_type, b2, sizeof(b2)), d->digest);
		}
	}
	if (m->n_annotations) {
		printf("%sAnnotations:\n", indent);
		char in2[64];
		snprintf(in2, sizeof(in2), "%s  ", indent);
		print_annotations(in2, m->annotations, m->n_annotations);
	}
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "platform", required_argument, NULL, OPT_PLATFORM },
		{ "username", required_argument, NULL, OPT_USERNAME },
		{ "password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN },
		{ "cacert", required_argument, NULL, OPT_CACERT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "authfile", required_argument, NULL, OPT_AUTHFILE },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	imgfetch_inspect_opts o = { 0 };
	imgfetch_http_opts http;
	imgfetch_http_opts_init(&http);
	bool json = false, password_stdin = false;
	int verbosity = 1;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "qvh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_PLATFORM: o.platform = optarg; break;
		case OPT_USERNAME: o.username = optarg; break;
		case OPT_PASSWORD_STDIN: password_stdin = true; break;
		case OPT_CACERT: http.cacert = optarg; break;
		case OPT_JSON: json = true; break;
		case OPT_AUTHFILE: o.authfile = optarg; break;
		case 'q': verbosity = 0; break;
		case 'v': verbosity = 2; break;
		case 'h': inspect_usage(stdout); return EXIT_OK;
		default: inspect_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "imgfetch inspect: expected exactly one reference\n");
		inspect_usage(stderr);
		return EXIT_USAGE;
	}
	if (o.platform && !cli_platform_valid(o.platform)) {
		fprintf(stderr, "imgfetch inspect: --platform needs OS/ARCH[/VARIANT], not '%s'\n", o.platform);
		return EXIT_USAGE;
	}
	o.ref = argv[optind];
	char *password = NULL;
	if (cli_registry_password("inspect", o.username, password_stdin, &password) != EXIT_OK)
		return EXIT_USAGE;
	o.password = password;

	cli_output out = { .verbosity = verbosity, .progress = false };
	imgfetch_ctx *ctx = cli_ctx_new(&out);
	if (!ctx) {
		cli_wipe_password(password);
		return EXIT_ERROR;
	}

	imgfetch_inspect_result *res = NULL;
	imgfetch_status st = imgfetch_ctx_set_http(ctx, &http);
	if (st == IMGFETCH_OK)
		st = imgfetch_inspect(ctx, &o, &res);
	cli_wipe_password(password);
	o.password = NULL;
	int code = cli_exit_code(st);
	if (st < 0) {
		fprintf(stderr, "imgfetch: %s\n", imgfetch_ctx_error(ctx));
	} else if (json) {
		char *text = imgfetch_inspect_result_to_json(res);
		if (!text || printf("%s\n", text) < 0 || fflush(stdout) != 0) {
			fprintf(stderr, "imgfetch: cannot write the JSON result\n");
			code = EXIT_ERROR;
		}
		free(text);
	} else {
		printf("Reference:     %s\n", res->reference);
		print_manifest(&res->manifest, "");
		if (res->selected) {
			printf("Selected (%s):\n", o.platform);
			print_manifest(res->selected, "  ");
		}
		if (fflush(stdout) != 0)
			code = EXIT_ERROR;
	}
	imgfetch_inspect_result_free(res);
	cli_signals_release();
	imgfetch_ctx_free(ctx);
	return code;
}
