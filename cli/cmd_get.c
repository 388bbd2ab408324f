/* SPDX-License-Identifier: MIT */
/* imgfetch get: argument parsing and printing around imgfetch_get(). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void get_usage(FILE *f)
{
	fputs("Usage: imgfetch get URL [-o PATH] VERIFIER [OPTIONS]\n"
	      "\n"
	      "Download URL into PATH (default: the URL's file name in the current directory).\n"
	      "The file is written to an invisible temporary file, verified, fsynced and only\n"
	      "then renamed into place: PATH never holds a partial or unverified download.\n"
	      "Without --json, the final path is printed on stdout.\n"
	      "\n"
	      "Verifier (exactly one, optionally with --signature):\n"
	      "      --sha256 HEX          pinned SHA-256 digest\n"
	      "      --sha512 HEX          pinned SHA-512 digest\n"
	      "      --sums URL            checksum file (GNU or BSD format) listing the file; a\n"
	      "                            clearsigned one is verified and only its signed text read\n"
	      "      --sidecar             fetch URL.sha256 (or URL.sha512) and use its digest\n"
	      "      --signature URL       detached signature (OpenPGP .gpg/.sig/.asc, binary or\n"
	      "                            armoured; or signify) over the --sums file, or over the\n"
	      "                            file itself without --sums; a signify SHA256.sig that\n"
	      "                            embeds its checksum list needs no --sums\n"
	      "      --keyring FILE        trust the keys in FILE instead of the shipped ones (the\n"
	      "                            site's in /etc/imgfetch/keys and ~/.config/imgfetch/keys\n"
	      "                            still count)\n"
	      "      --verify POLICY       auto (default: a signature when one is given or the sums\n"
	      "                            file is clearsigned, and then it must verify), signature\n"
	      "                            (a signature must verify), checksum (a digest is enough;\n"
	      "                            signatures are not checked), none (nothing is checked)\n"
	      "      --insecure-no-verify  the same as --verify none (a warning is printed)\n"
	      "\n"
	      "Options:\n"
	      "  -o, --output PATH         destination file\n"
	      "      --cache               keep the download in the cache and reuse it when it\n"
	      "                            still verifies; without -o the cached file's path is\n"
	      "                            the result\n"
	      "      --cache-dir DIR       cache location (default $XDG_CACHE_HOME/imgfetch or\n"
	      "                            ~/.cache/imgfetch)\n"
	      "      --no-wait             fail (exit 1) instead of waiting when another imgfetch\n"
	      "                            holds the cache entry's lock\n"
	      "      --cacert FILE         trust the CA certificates in FILE (PEM) for HTTPS\n"
	      "      --connect-timeout SEC time allowed to connect (default 30)\n"
	      "      --response-timeout SEC time allowed between sending a request and its\n"
	      "                            response headers (default 30)\n"
	      "      --stall-timeout SEC   fail an attempt when no data arrives for SEC seconds\n"
	      "                            (default 60)\n"
	      "      --retries N           retry transient failures N times (default 4)\n"
	      "      --retry-delay MS      first backoff delay, doubled per retry up to 16 s,\n"
	      "                            with +-20% jitter (default 500)\n"
	      "      --json                print the result as one JSON object on stdout\n"
	      "  -q, --quiet               print only warnings and errors\n"
	      "  -v, --verbose             also print each request and retry\n"
	      "  -h, --help                show this help\n",
	      f);
}

enum {
	OPT_SHA256 = 256,
	OPT_SHA512,
	OPT_SUMS,
	OPT_SIDECAR,
	OPT_INSECURE,
	OPT_CACHE,
	OPT_CACHE_DIR,
	OPT_NO_WAIT,
	OPT_CACERT,
	OPT_STALL,
	OPT_CONNECT_TIMEOUT,
	OPT_RESPONSE_TIMEOUT,
	OPT_RETRIES,
	OPT_RETRY_DELAY,
	OPT_JSON,
	OPT_SIGNATURE,
	OPT_KEYRING,
	OPT_VERIFY,
};

static bool parse_seconds(const char *s, uint32_t *ret_ms)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0.1 || v > 86400)
		return false;
	*ret_ms = (uint32_t)(v * 1000 + 0.5);
	return true;
}

static bool parse_uint(const char *s, uint32_t max, uint32_t *ret)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > max)
		return false;
	*ret = (uint32_t)v;
	return true;
}

int cmd_get(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "sha256", required_argument, NULL, OPT_SHA256 },
		{ "sha512", required_argument, NULL, OPT_SHA512 },
		{ "sums", required_argument, NULL, OPT_SUMS },
		{ "sidecar", no_argument, NULL, OPT_SIDECAR },
		{ "insecure-no-verify", no_argument, NULL, OPT_INSECURE },
		{ "cache", no_argument, NULL, OPT_CACHE },
		{ "cache-dir", required_argument, NULL, OPT_CACHE_DIR },
		{ "no-wait", no_argument, NULL, OPT_NO_WAIT },
		{ "cacert", required_argument, NULL, OPT_CACERT },
		{ "stall-timeout", required_argument, NULL, OPT_STALL },
		{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
		{ "response-timeout", required_argument, NULL, OPT_RESPONSE_TIMEOUT },
		{ "retries", required_argument, NULL, OPT_RETRIES },
		{ "retry-delay", required_argument, NULL, OPT_RETRY_DELAY },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "signature", required_argument, NULL, OPT_SIGNATURE },
		{ "keyring", required_argument, NULL, OPT_KEYRING },
		{ "verify", required_argument, NULL, OPT_VERIFY },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	imgfetch_get_opts o = { 0 };
	imgfetch_http_opts http;
	imgfetch_http_opts_init(&http);
	bool json = false;
	int verbosity = 1;
	uint32_t retries;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': o.output = optarg; break;
		case OPT_SHA256: o.sha256 = optarg; break;
		case OPT_SHA512: o.sha512 = optarg; break;
		case OPT_SUMS: o.sums_url = optarg; break;
		case OPT_SIDECAR: o.sidecar = true; break;
		case OPT_INSECURE: o.insecure_no_verify = true; break;
		case OPT_CACHE: o.use_cache = true; break;
		case OPT_CACHE_DIR: o.cache_dir = optarg; o.use_cache = true; break;
		case OPT_NO_WAIT: o.no_wait = true; break;
		case OPT_CACERT: http.cacert = optarg; break;
		case OPT_STALL:
		case OPT_CONNECT_TIMEOUT:
		case OPT_RESPONSE_TIMEOUT: {
			uint32_t *field = c == OPT_STALL           ? &http.stall_timeout_ms
			                  : c == OPT_CONNECT_TIMEOUT ? &http.connect_timeout_ms
			                                             : &http.first_byte_timeout_ms;
			if (!parse_seconds(optarg, field)) {
				fprintf(stderr, "imgfetch get: --%s needs seconds between 0.1 and 86400, not '%s'\n",
				        c == OPT_STALL ? "stall-timeout" : c == OPT_CONNECT_TIMEOUT ? "connect-timeout"
				                                                                    : "response-timeout",
				        optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case OPT_RETRIES:
			if (!parse_uint(optarg, 99, &retries)) {
				fprintf(stderr, "imgfetch get: --retries needs a number from 0 to 99, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			http.max_attempts = retries + 1;
			break;
		case OPT_RETRY_DELAY:
			if (!parse_uint(optarg, 16000, &http.retry_base_ms)) {
				fprintf(stderr, "imgfetch get: --retry-delay needs milliseconds from 0 to 16000, not '%s'\n",
				        optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_JSON: json = true; break;
		case OPT_SIGNATURE: o.signature_url = optarg; break;
		case OPT_KEYRING: o.keyring = optarg; break;
		case OPT_VERIFY:
			if (imgfetch_verify_policy_parse(optarg, &o.verify) < 0) {
				fprintf(stderr, "imgfetch get: --verify takes auto, signature, checksum or none, not '%s'\n",
				        optarg);
				return EXIT_USAGE;
			}
			break;
		case 'q': verbosity = 0; break;
		case 'v': verbosity = 2; break;
		case 'h': get_usage(stdout); return EXIT_OK;
		default: get_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "imgfetch get: expected exactly one URL\n");
		get_usage(stderr);
		return EXIT_USAGE;
	}
	o.url = argv[optind];

	cli_output out = { .verbosity = verbosity, .progress = verbosity > 0 && isatty(STDERR_FILENO) };
	imgfetch_ctx *ctx = cli_ctx_new(&out);
	if (!ctx)
		return EXIT_ERROR;

	imgfetch_get_result *res = NULL;
	imgfetch_status st = imgfetch_ctx_set_http(ctx, &http);
	if (st == IMGFETCH_OK)
		st = imgfetch_get(ctx, &o, &res);
	cli_output_clear(&out);
	int code = cli_exit_code(st);
	if (st < 0) {
		fprintf(stderr, "imgfetch: %s\n", imgfetch_ctx_error(ctx));
	} else if (json) {
		char *text = imgfetch_get_result_to_json(res);
		if (!text || printf("%s\n", text) < 0 || fflush(stdout) != 0) {
			fprintf(stderr, "imgfetch: cannot write the JSON result\n");
			code = EXIT_ERROR;
		}
		free(text);
	} else {
		if (verbosity > 0) {
			fprintf(stderr, "imgfetch: %s %s (%" PRIu64 " bytes, sha256 %s, %s%s)\n",
			        res->from_cache ? "reused verified cached copy" : "saved", res->path, res->size,
			        res->sha256, res->verified ? "verified by " : "NOT verified",
			        res->verified ? imgfetch_verifier_name(res->verifier) : "");
			cli_print_signature(res->signature);
		}
		if (printf("%s\n", res->path) < 0 || fflush(stdout) != 0)
			code = EXIT_ERROR;
	}
	imgfetch_get_result_free(res);
	cli_signals_release();
	imgfetch_ctx_free(ctx);
	return code;
}
