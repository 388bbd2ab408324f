/* SPDX-License-Identifier: MIT */
/* imgfetch push / imgfetch index create: argument parsing around imgfetch_push()
 * and imgfetch_index_create(). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"


static void push_usage(FILE *f)
{
	fputs("Usage: imgfetch push FILE[:MEDIATYPE]... REF [OPTIONS]\n"
	      "\n"
	      "Upload the files as the layers of one OCI image manifest tagged REF\n"
	      "(host[:port]/repo[:tag] or oras://...). Blobs the registry already has are\n"
	      "not uploaded again; large ones go in chunks. Prints the manifest digest.\n"
	      "\n"
	      "Options:\n"
	      "      --artifact-type TYPE  the manifest's artifactType\n"
	      "      --annotation KEY=VALUE  a manifest annotation (repeatable)\n"
	      "      --platform OS/ARCH[/VARIANT]  record the platform in the annotations\n"
	      "      --config FILE:MEDIATYPE  the config blob (default: the empty descriptor)\n"
	      "      --chunk-size SIZE     upload chunk size (K/M/G suffixes; default 8M)\n"
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
	      "Exit codes: 0 ok, 2 usage, 3 the registry stored other digests, 4 network,\n"
	      "5 file or repository not found, 7 authentication failed or push denied.\n",
	      f);
}

static void index_usage(FILE *f)
{
	fputs("Usage: imgfetch index create REF MANIFEST[=OS/ARCH[/VARIANT]]... [OPTIONS]\n"
	      "\n"
	      "Push an OCI image index tagged REF listing the manifests (tags, digests or\n"
	      "references in REF's repository). Each entry's platform comes from\n"
	      "=OS/ARCH, --platform (one per manifest, in order), or the manifest itself\n"
	      "(its platform annotation or image config). Prints the index digest.\n"
	      "\n"
	      "Options:\n"
	      "      --platform OS/ARCH[/VARIANT]  the platform of the next manifest (repeatable)\n"
	      "      --annotation KEY=VALUE  an index annotation (repeatable)\n"
	      "      --username USER, --password-stdin, --authfile FILE, --cacert FILE, --json, -q, -v, -h\n"
	      "                            as for push\n",
	      f);
}

enum {
	OPT_ARTIFACT_TYPE = 256,
	OPT_ANNOTATION,
	OPT_PLATFORM,
	OPT_CONFIG,
	OPT_CHUNK_SIZE,
	OPT_USERNAME,
	OPT_PASSWORD_STDIN,
	OPT_AUTHFILE,
	OPT_CACERT,
	OPT_JSON,
};

static bool parse_size(const char *s, uint64_t *ret)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return false;
	uint64_t mul = 1;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': mul = 1ull << 10; end++; break;
	case 'm': case 'M': mul = 1ull << 20; end++; break;
	case 'g': case 'G': mul = 1ull << 30; end++; break;
	default: return false;
	}
	if (*end == 'i' || *end == 'B')
		end += *end == 'i' ? (end[1] == 'B' ? 2 : 1) : 1;
	if (*end || v > UINT64_MAX / mul)
		return false;
	*ret = v * mul;
	return true;
}

/* "FILE[:MEDIATYPE]": an existing file name wins over a split at the first ':'. */
static void split_file(char *arg, const char **path, const char **mt)
{
	struct stat sb;
	*path = arg;
	*mt = NULL;
	if (stat(arg, &sb) == 0)
		return;
	char *colon = strchr(arg, ':');
	if (colon && colon != arg && colon[1]) {
		*colon = '\0';
		*mt = colon + 1;
	}
}

typedef struct common {
	const char *cmd;
	const char *username;
	const char *authfile;
	bool password_stdin;
	bool json;
	int verbosity;
	imgfetch_http_opts http;
	imgfetch_oci_annotation *ann;
	size_t n_ann;
} common;

static bool add_annotation(common *c, char *kv)
{
	char *eq = strchr(kv, '=');
	if (!eq || eq == kv) {
		fprintf(stderr, "imgfetch %s: --annotation needs KEY=VALUE, not '%s'\n", c->cmd, kv);
		return false;
	}
	imgfetch_oci_annotation *a = realloc(c->ann, (c->n_ann + 1) * sizeof(*a));
	if (!a) {
		fprintf(stderr, "imgfetch %s: out of memory\n", c->cmd);
		return false;
	}
	c->ann = a;
	*eq = '\0';
	a[c->n_ann].key = kv;
	a[c->n_ann].value = eq + 1;
	c->n_ann++;
	return true;
}

static int print_result(const common *c, const imgfetch_push_result *r)
{
	if (c->json) {
		json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "reference", r->reference, "digest", r->digest,
		                      "size", (json_int_t)r->size, "blobs_uploaded", (json_int_t)r->blobs_uploaded,
		                      "blobs_skipped", (json_int_t)r->blobs_skipped, "bytes_uploaded",
		                      (json_int_t)r->bytes_uploaded);
		char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		int bad = !text || printf("%s\n", text) < 0;
		free(text);
		if (bad)
			return EXIT_ERROR;
	} else if (printf("%s\n", r->digest) < 0) {
		return EXIT_ERROR;
	}
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_ERROR;
}

/* Runs fn with a context set up from c; prints errors; returns the exit code. */
typedef imgfetch_status (*run_fn)(imgfetch_ctx *ctx, void *opts, const char *password, imgfetch_push_result **r);

static int run(common *c, run_fn fn, void *opts)
{
	char *password = NULL;
	if (cli_registry_password(c->cmd, c->username, c->password_stdin, &password) != EXIT_OK)
		return EXIT_USAGE;
	cli_output out = { .verbosity = c->verbosity, .progress = false };
	imgfetch_ctx *ctx = cli_ctx_new(&out);
	if (!ctx) {
		cli_wipe_password(password);
		return EXIT_ERROR;
	}
	imgfetch_push_result *res = NULL;
	imgfetch_status st = imgfetch_ctx_set_http(ctx, &c->http);
	if (st == IMGFETCH_OK)
		st = fn(ctx, opts, password, &res);
	cli_wipe_password(password);
	int code = cli_exit_code(st);
	if (st < 0)
		fprintf(stderr, "imgfetch: %s\n", imgfetch_ctx_error(ctx));
	else
		code = print_result(c, res);
	imgfetch_push_result_free(res);
	cli_signals_release();
	imgfetch_ctx_free(ctx);
	return code;
}

static imgfetch_status run_push(imgfetch_ctx *ctx, void *opts, const char *password, imgfetch_push_result **r)
{
	imgfetch_push_opts *o = opts;
	o->password = password;
	imgfetch_status st = imgfetch_push(ctx, o, r);
	o->password = NULL;
	return st;
}

static imgfetch_status run_index(imgfetch_ctx *ctx, void *opts, const char *password, imgfetch_push_result **r)
{
	imgfetch_index_opts *o = opts;
	o->password = password;
	imgfetch_status st = imgfetch_index_create(ctx, o, r);
	o->password = NULL;
	return st;
}

static const struct option longopts[] = {
	{ "artifact-type", required_argument, NULL, OPT_ARTIFACT_TYPE },
	{ "annotation", required_argument, NULL, OPT_ANNOTATION },
	{ "platform", required_argument, NULL, OPT_PLATFORM },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "chunk-size", required_argument, NULL, OPT_CHUNK_SIZE },
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

/* Options both commands share; 1 handled, 0 not, -1 bad. */
static int common_opt(common *c, int opt)
{
	switch (opt) {
	case OPT_ANNOTATION: return add_annotation(c, optarg) ? 1 : -1;
	case OPT_USERNAME: c->username = optarg; return 1;
	case OPT_PASSWORD_STDIN: c->password_stdin = true; return 1;
	case OPT_AUTHFILE: c->authfile = optarg; return 1;
	case OPT_CACERT: c->http.cacert = optarg; return 1;
	case OPT_JSON: c->json = true; return 1;
	case 'q': c->verbosity = 0; return 1;
	case 'v': c->verbosity = 2; return 1;
	default: return 0;
	}
}

int cmd_push(int argc, char **argv)
{
	common c = { .cmd = "push", .verbosity = 1 };
	imgfetch_http_opts_init(&c.http);
	imgfetch_push_opts o = { 0 };
	imgfetch_push_file *files = NULL;
	int code = EXIT_USAGE, opt;

	optind = 1;
	/* "+": options may follow the operands too (GNU permutation stays on) */
	while ((opt = getopt_long(argc, argv, "qvh", longopts, NULL)) != -1) {
		int r = common_opt(&c, opt);
		if (r < 0)
			goto out;
		if (r > 0)
			continue;
		switch (opt) {
		case OPT_ARTIFACT_TYPE: o.artifact_type = optarg; break;
		case OPT_PLATFORM:
			if (!cli_platform_valid(optarg)) {
				fprintf(stderr, "imgfetch push: --platform needs OS/ARCH[/VARIANT], not '%s'\n", optarg);
				goto out;
			}
			o.platform = optarg;
			break;
		case OPT_CONFIG:
			split_file(optarg, &o.config_path, &o.config_media_type);
			if (!o.config_media_type) {
				fprintf(stderr, "imgfetch push: --config needs FILE:MEDIATYPE\n");
				goto out;
			}
			break;
		case OPT_CHUNK_SIZE:
			if (!parse_size(optarg, &o.chunk_size) || o.chunk_size < 4096 || o.chunk_size > (256u << 20)) {
				fprintf(stderr, "imgfetch push: --chunk-size must be a size from 4K to 256M, not '%s'\n",
				        optarg);
				goto out;
			}
			break;
		case 'h': push_usage(stdout); code = EXIT_OK; goto out;
		default: push_usage(stderr); goto out;
		}
	}
	if (argc - optind < 2) {
		fprintf(stderr, "imgfetch push: expected FILE... REF\n");
		push_usage(stderr);
		goto out;
	}
	o.n_files = (size_t)(argc - optind - 1);
	files = calloc(o.n_files, sizeof(*files));
	if (!files) {
		code = EXIT_ERROR;
		goto out;
	}
	for (size_t i = 0; i < o.n_files; i++)
		split_file(argv[optind + (int)i], &files[i].path, &files[i].media_type);
	o.files = files;
	o.ref = argv[argc - 1];
	o.username = c.username;
	o.authfile = c.authfile;
	o.annotations = c.ann;
	o.n_annotations = c.n_ann;
	code = run(&c, run_push, &o);
out:
	free(files);
	free(c.ann);
	return code;
}

int cmd_index(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "create") != 0) {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
			index_usage(stdout);
			return EXIT_OK;
		}
		fprintf(stderr, "imgfetch index: expected 'create'\n");
		index_usage(stderr);
		return EXIT_USAGE;
	}
	argc--;
	argv++;
	common c = { .cmd = "index create", .verbosity = 1 };
	imgfetch_http_opts_init(&c.http);
	imgfetch_index_opts o = { 0 };
	const char **plats = NULL, **opt_plats = NULL;
	size_t n_opt_plats = 0;
	int code = EXIT_USAGE, opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "qvh", longopts, NULL)) != -1) {
		int r = common_opt(&c, opt);
		if (r < 0)
			goto out;
		if (r > 0)
			continue;
		switch (opt) {
		case OPT_PLATFORM: {
			if (!cli_platform_valid(optarg)) {
				fprintf(stderr, "imgfetch index create: --platform needs OS/ARCH[/VARIANT], not '%s'\n",
				        optarg);
				goto out;
			}
			const char **p = realloc(opt_plats, (n_opt_plats + 1) * sizeof(*p));
			if (!p) {
				code = EXIT_ERROR;
				goto out;
			}
			opt_plats = p;
			opt_plats[n_opt_plats++] = optarg;
			break;
		}
		case 'h': index_usage(stdout); code = EXIT_OK; goto out;
		default: index_usage(stderr); goto out;
		}
	}
	if (argc - optind < 2) {
		fprintf(stderr, "imgfetch index create: expected REF MANIFEST...\n");
		index_usage(stderr);
		goto out;
	}
	o.ref = argv[optind];
	o.n_manifests = (size_t)(argc - optind - 1);
	if (n_opt_plats && n_opt_plats != o.n_manifests) {
		fprintf(stderr, "imgfetch index create: %zu --platform for %zu manifests (give one per manifest, or "
		        "none)\n", n_opt_plats, o.n_manifests);
		goto out;
	}
	plats = calloc(o.n_manifests, sizeof(*plats));
	if (!plats) {
		code = EXIT_ERROR;
		goto out;
	}
	o.manifests = (const char *const *)(argv + optind + 1);
	for (size_t i = 0; i < o.n_manifests; i++) {
		char *m = argv[optind + 1 + (int)i];
		char *eq = strchr(m, '=');
		if (eq) {
			*eq = '\0';
			if (!cli_platform_valid(eq + 1)) {
				fprintf(stderr, "imgfetch index create: '%s=%s': the platform needs OS/ARCH[/VARIANT]\n", m,
				        eq + 1);
				goto out;
			}
			plats[i] = eq + 1;
		} else if (n_opt_plats) {
			plats[i] = opt_plats[i];
		}
	}
	o.platforms = plats;
	o.username = c.username;
	o.authfile = c.authfile;
	o.annotations = c.ann;
	o.n_annotations = c.n_ann;
	code = run(&c, run_index, &o);
out:
	free(plats);
	free(opt_plats);
	free(c.ann);
	return code;
}
