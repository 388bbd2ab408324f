/* SPDX-License-Identifier: MIT */
/* imgfetch vendors | resolve | fetch */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "zvol_opts.h"

#define MAX_MIRRORS 64

static void vendors_usage(FILE *f)
{
	fputs("Usage: imgfetch vendors [--json]\n"
	      "\n"
	      "List the built-in vendors: release tokens, architectures, source format,\n"
	      "how downloads are verified, and the base URLs --mirror replaces.\n",
	      f);
}

static void resolve_usage(FILE *f, const char *cmd)
{
	bool fetch = strcmp(cmd, "fetch") == 0;
	fprintf(f, "Usage: imgfetch %s VENDOR [RELEASE] [OPTIONS]\n       imgfetch %s --profile FILE [OPTIONS]\n\n", cmd,
	        cmd);
	fputs(fetch ? "Resolve a vendor's cloud image from its own release feed, download it through the\n"
	              "cache with verification, convert it, and write DIR/<vendor>-<series>-<version>.<arch>.<ext>\n"
	              "with a metadata JSON beside it.\n\n"
	            : "Resolve a vendor's cloud image from its own release feed without downloading it.\n\n",
	      f);
	fputs("RELEASE defaults to 'latest'; see 'imgfetch vendors' for each vendor's tokens.\n\n"
	      "Options:\n"
	      "      --arch ARCH         x86_64 or aarch64 (also amd64, arm64); default: this host's\n"
	      "      --mirror V=URL      replace every base URL of vendor V by URL/<base>/ (repeatable);\n"
	      "                          V.BASE=URL replaces one base; file:// works\n"
	      "      --config FILE       mirror config (lines as --mirror); default\n"
	      "                          $XDG_CONFIG_HOME/imgfetch/mirrors.conf when it exists\n"
	      "      --schematic ID      Talos Image Factory schematic (default: the empty one)\n"
	      "      --profile FILE      an image no vendor covers (JSON or TOML: url, format, version,\n"
	      "                          sha256 or sums_url, os, series, arch, description, homepage)\n"
	      "      --cacert FILE       trust this CA bundle for HTTPS\n",
	      f);
	if (fetch)
		fputs("  -o, --output-dir DIR    where to write the image (default: .)\n"
		      "      --format FMT        raw (default), qcow2, source (the file as published) or\n"
		      "                          zvol (SmartOS/Triton: <name>.x86_64.zfs.gz + IMGAPI\n"
		      "                          manifest <vendor>-<series>-<version>.json)\n"
		      "      --target T          zvol: file (default: print the imgadm command), smartos\n"
		      "                          (imgadm install, global zone) or imgapi (--imgapi URL)\n"
		      "      --imgapi URL        zvol: the IMGAPI to import into\n"
		      "      --imgadm CMD        zvol: the imgadm command (default: imgadm)\n"
		      "      --expected-sha256 HEX  pin the source digest instead of the vendor's verifier\n"
		      "      --verify POLICY     auto (default: the strongest evidence the vendor publishes;\n"
		      "                          a signature, where there is one, must verify), signature\n"
		      "                          (refuse vendors that sign nothing; exit 3), checksum (a\n"
		      "                          digest is enough, signatures unchecked), none (no check)\n"
		      "      --keyring FILE      trust the keys in FILE instead of the shipped ones\n"
		      "      --insecure-no-verify   the same as --verify none\n"
		      "      --cache-dir DIR     download cache (default: $XDG_CACHE_HOME/imgfetch)\n"
		      "      --dry-run           print the plan; download and write nothing\n"
		      "      --push REF          also push the image (metadata as its config) to a registry\n"
		      "      --authfile FILE     registry credentials for --push (default: the usual auth files)\n"
		      "  -j, --threads N         conversion threads (default: one per CPU)\n",
		      f);
	if (fetch)
		fputs(cli_zvol_help, f);
	fputs("      --json              print the result as one JSON object on stdout\n"
	      "  -q, --quiet             print only warnings and errors\n"
	      "  -v, --verbose           also print each feed and request\n"
	      "  -h, --help              show this help\n",
	      f);
}

int cmd_vendors(int argc, char **argv)
{
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			vendors_usage(stdout);
			return EXIT_OK;
		} else {
			vendors_usage(stderr);
			return EXIT_USAGE;
		}
	}
	json_t *arr = json ? json_array() : NULL;
	for (size_t i = 0; i < imgfetch_vendor_count(); i++) {
		const imgfetch_vendor *v = imgfetch_vendor_at(i);
		if (!json) {
			printf("%-14s %-40s %-15s %-7s %s\n               releases: %s\n               verified by: %s\n"
			       "               evidence: %s%s%s\n",
			       v->name, v->title, v->arches, v->format, v->os, v->releases, v->verifier, v->evidence,
			       v->signature ? ", " : "", v->signature ? v->signature : "");
			continue;
		}
		json_t *bases = json_object();
		for (const char *const *b = v->bases; b && b[0]; b += 2)
			json_object_set_new(bases, b[0], json_string(b[1]));
		json_t *arches = json_array();
		char tmp[64];
		snprintf(tmp, sizeof(tmp), "%s", v->arches);
		for (char *save = NULL, *t = strtok_r(tmp, " ", &save); t; t = strtok_r(NULL, " ", &save))
			json_array_append_new(arches, json_string(t));
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s?, s:s, s:o}", "name",
		                                     v->name, "title", v->title, "os", v->os, "releases", v->releases,
		                                     "arches", arches, "format", v->format, "verifier", v->verifier,
		                                     "evidence", v->evidence, "signature", v->signature, "homepage",
		                                     v->homepage, "bases", bases));
	}
	if (json) {
		json_t *top = json_pack("{s:o}", "vendors", arr);
		char *s = json_dumps(top, JSON_COMPACT | JSON_ENSURE_ASCII);
		json_decref(top);
		if (!s)
			return EXIT_ERROR;
		printf("%s\n", s);
		free(s);
	}
	return EXIT_OK;
}

enum {
	OPT_ARCH = 256, OPT_MIRROR, OPT_CONFIG, OPT_SCHEMATIC, OPT_PROFILE, OPT_CACERT, OPT_FORMAT, OPT_EXPECTED,
	OPT_INSECURE, OPT_CACHE_DIR, OPT_DRY_RUN, OPT_JSON, OPT_PUSH, OPT_AUTHFILE, OPT_TARGET, OPT_IMGAPI, OPT_IMGADM,
	OPT_VERIFY, OPT_KEYRING,
};

static void print_resolved(const imgfetch_resolved *r)
{
	printf("vendor:   %s\nrelease:  %s\nseries:   %s\nversion:  %s\narch:     %s\nurl:      %s\nformat:   %s\n",
	       r->vendor, r->release, r->series, r->version, r->arch, r->url, r->format);
	if (r->size)
		printf("size:     %llu\n", (unsigned long long)r->size);
	printf("verifier: %s%s%s\n", r->verifier == IMGFETCH_VERIFIER_NONE ? "trust-only" : imgfetch_verifier_name(r->verifier),
	       r->sums_url ? " " : "", r->sums_url ? r->sums_url : "");
	printf("evidence: %s", imgfetch_evidence_name(r->evidence));
	if (r->evidence == IMGFETCH_EVIDENCE_SIGNATURE)
		printf(" (%s%s)", r->signature_url ? r->signature_url : r->sums_url,
		       r->signature_url ? "" : ", clearsigned");
	printf("\n");
	if (r->sha256)
		printf("sha256:   %s\n", r->sha256);
	if (r->sha512)
		printf("sha512:   %s\n", r->sha512);
	if (r->uuid)
		printf("uuid:     %s\n", r->uuid);
	if (r->notice)
		printf("notice:   %s\n", r->notice);
}

/* resolve and fetch share everything but a few options and the call. */
int cmd_catalog(int argc, char **argv)
{
	const char *cmd = argv[0];
	bool fetch = strcmp(cmd, "fetch") == 0;
	static const struct option longopts[] = {
		{ "arch", required_argument, NULL, OPT_ARCH },
		{ "mirror", required_argument, NULL, OPT_MIRROR },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "schematic", required_argument, NULL, OPT_SCHEMATIC },
		{ "profile", required_argument, NULL, OPT_PROFILE },
		{ "cacert", required_argument, NULL, OPT_CACERT },
		{ "output-dir", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "expected-sha256", required_argument, NULL, OPT_EXPECTED },
		{ "insecure-no-verify", no_argument, NULL, OPT_INSECURE },
		{ "verify", required_argument, NULL, OPT_VERIFY },
		{ "keyring", required_argument, NULL, OPT_KEYRING },
		{ "cache-dir", required_argument, NULL, OPT_CACHE_DIR },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "push", required_argument, NULL, OPT_PUSH },
		{ "authfile", required_argument, NULL, OPT_AUTHFILE },
		{ "threads", required_argument, NULL, 'j' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "target", required_argument, NULL, OPT_TARGET },
		{ "imgapi", required_argument, NULL, OPT_IMGAPI },
		{ "imgadm", required_argument, NULL, OPT_IMGADM },
		CLI_ZVOL_LONGOPTS,
		{ 0 },
	};
	const char *mirrors[MAX_MIRRORS + 1] = { 0 };
	size_t nmirrors = 0;
	imgfetch_catalog_opts cat = { .mirrors = mirrors };
	imgfetch_fetch_opts fo = { .catalog = &cat };
	imgfetch_http_opts http;
	imgfetch_http_opts_init(&http);
	bool json = false, zvol_given = false, target_given = false;
	imgfetch_zvol_opts zvol = { 0 };
	imgfetch_deliver_opts dlv = { .target = IMGFETCH_DELIVER_FILE, .http = &http };
	int verbosity = 1, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, fetch ? "o:j:qvh" : "qvh", longopts, NULL)) != -1) {
		bool fetch_only = c == 'o' || c == OPT_FORMAT || c == OPT_EXPECTED || c == OPT_INSECURE ||
		                  c == OPT_CACHE_DIR || c == OPT_DRY_RUN || c == 'j' || c == OPT_PUSH || c == OPT_AUTHFILE ||
		                  c == OPT_TARGET || c == OPT_IMGAPI || c == OPT_IMGADM || (c >= ZOPT_FIRST && c < ZOPT_LAST);
		if (fetch_only && !fetch) {
			resolve_usage(stderr, cmd);
			return EXIT_USAGE;
		}
		switch (c) {
		case OPT_ARCH: fo.arch = optarg; break;
		case OPT_MIRROR:
			if (nmirrors == MAX_MIRRORS) {
				fprintf(stderr, "imgfetch %s: at most %d --mirror options\n", cmd, MAX_MIRRORS);
				return EXIT_USAGE;
			}
			mirrors[nmirrors++] = optarg;
			break;
		case OPT_CONFIG: cat.config_file = optarg; break;
		case OPT_SCHEMATIC: cat.schematic = optarg; break;
		case OPT_PROFILE: fo.profile = optarg; break;
		case OPT_CACERT: http.cacert = optarg; break;
		case 'o': fo.out_dir = optarg; break;
		case OPT_FORMAT:
			if (strcmp(optarg, "raw") == 0)
				fo.format = IMGFETCH_FETCH_RAW;
			else if (strcmp(optarg, "qcow2") == 0)
				fo.format = IMGFETCH_FETCH_QCOW2;
			else if (strcmp(optarg, "source") == 0)
				fo.format = IMGFETCH_FETCH_SOURCE;
			else if (strcmp(optarg, "zvol") == 0)
				fo.format = IMGFETCH_FETCH_ZVOL;
			else {
				fprintf(stderr, "imgfetch fetch: --format takes raw, qcow2, source or zvol, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_EXPECTED: fo.expected_sha256 = optarg; break;
		case OPT_INSECURE: fo.insecure_no_verify = true; break;
		case OPT_KEYRING: fo.keyring = optarg; break;
		case OPT_VERIFY:
			if (imgfetch_verify_policy_parse(optarg, &fo.verify) < 0) {
				fprintf(stderr, "imgfetch %s: --verify takes auto, signature, checksum or none, not '%s'\n", cmd,
				        optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_CACHE_DIR: fo.cache_dir = optarg; break;
		case OPT_DRY_RUN: fo.dry_run = true; break;
		case OPT_PUSH: fo.push_ref = optarg; break;
		case OPT_AUTHFILE: fo.push_authfile = optarg; break;
		case 'j': {
			char *end;
			unsigned long n = strtoul(optarg, &end, 10);
			if (*end || n < 1 || n > 64) {
				fprintf(stderr, "imgfetch fetch: --threads takes 1 to 64, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			fo.threads = (unsigned)n;
			break;
		}
		case OPT_JSON: json = true; break;
		case 'q': verbosity = 0; break;
		case 'v': verbosity = 2; break;
		case OPT_TARGET:
			target_given = true;
			if (strcmp(optarg, "file") == 0)
				dlv.target = IMGFETCH_DELIVER_FILE;
			else if (strcmp(optarg, "smartos") == 0)
				dlv.target = IMGFETCH_DELIVER_SMARTOS;
			else if (strcmp(optarg, "imgapi") == 0)
				dlv.target = IMGFETCH_DELIVER_IMGAPI;
			else {
				fprintf(stderr, "imgfetch fetch: --target takes file, smartos or imgapi, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_IMGAPI: target_given = true; dlv.imgapi_url = optarg; break;
		case OPT_IMGADM: target_given = true; dlv.imgadm = optarg; break;
		case 'h': resolve_usage(stdout, cmd); return EXIT_OK;
		default:
			if (c >= ZOPT_FIRST && c < ZOPT_LAST) {
				if (!cli_zvol_option(cmd, c, optarg, &zvol, &zvol_given))
					return EXIT_USAGE;
				break;
			}
			resolve_usage(stderr, cmd);
			return EXIT_USAGE;
		}
	}
	if ((zvol_given || target_given) && fo.format != IMGFETCH_FETCH_ZVOL) {
		fprintf(stderr, "imgfetch fetch: zvol options and --target need --format zvol\n");
		return EXIT_USAGE;
	}
	if (dlv.target == IMGFETCH_DELIVER_IMGAPI && !dlv.imgapi_url) {
		fprintf(stderr, "imgfetch fetch: --target imgapi needs --imgapi URL\n");
		return EXIT_USAGE;
	}
	/* Without its target the option would be ignored, and the image left
	 * in DIR while the user believes it was imported or installed. */
	if (dlv.imgapi_url && dlv.target != IMGFETCH_DELIVER_IMGAPI) {
		fprintf(stderr, "imgfetch fetch: --imgapi goes with --target imgapi\n");
		return EXIT_USAGE;
	}
	if (dlv.imgadm && dlv.target != IMGFETCH_DELIVER_SMARTOS) {
		fprintf(stderr, "imgfetch fetch: --imgadm goes with --target smartos\n");
		return EXIT_USAGE;
	}
	if (fo.format == IMGFETCH_FETCH_ZVOL)
		fo.zvol = &zvol;
	int rest = argc - optind;
	if ((fo.profile && rest != 0) || (!fo.profile && (rest < 1 || rest > 2))) {
		fprintf(stderr, "imgfetch %s: expected VENDOR [RELEASE], or --profile FILE alone\n", cmd);
		resolve_usage(stderr, cmd);
		return EXIT_USAGE;
	}
	if (fo.profile && (fo.arch || nmirrors || cat.config_file || cat.schematic)) {
		fprintf(stderr, "imgfetch %s: --profile describes the image itself; --arch, --mirror, --config and "
		                "--schematic do not apply\n", cmd);
		return EXIT_USAGE;
	}
	if (!fo.profile) {
		fo.vendor = argv[optind];
		fo.release = rest == 2 ? argv[optind + 1] : NULL;
		if (cat.schematic && strcmp(fo.vendor, "talos") != 0) {
			fprintf(stderr, "imgfetch %s: --schematic is for talos only\n", cmd);
			return EXIT_USAGE;
		}
	}

	cli_output out = { .verbosity = verbosity, .progress = verbosity > 0 && isatty(STDERR_FILENO) };
	imgfetch_ctx *ctx = cli_ctx_new(&out);
	if (!ctx)
		return EXIT_ERROR;
	imgfetch_status st = imgfetch_ctx_set_http(ctx, &http);
	imgfetch_resolved *r = NULL;
	imgfetch_fetch_result *fr = NULL;
	imgfetch_deliver_result *dr = NULL;
	if (st == IMGFETCH_OK && fetch)
		st = imgfetch_fetch(ctx, &fo, &fr);
	if (st == IMGFETCH_OK && fetch && fr->manifest_path && !fr->dry_run) {
		/* The pair is complete on disk: deliver it where asked. */
		dlv.manifest_path = fr->manifest_path;
		dlv.file_path = fr->path;
		st = imgfetch_deliver(ctx, &dlv, &dr);
	}
	else if (st == IMGFETCH_OK)
		st = fo.profile ? imgfetch_resolve_profile(ctx, fo.profile, &r)
		                : imgfetch_resolve(ctx, &cat, fo.vendor, fo.release, fo.arch, &r);
	cli_output_clear(&out);
	int code = cli_exit_code(st);
	if (st < 0) {
		fprintf(stderr, "imgfetch: %s\n", imgfetch_ctx_error(ctx));
	} else if (json) {
		char *s = fetch ? imgfetch_fetch_result_to_json(fr) : imgfetch_resolved_to_json(r);
		if (s && dr) {
			/* The delivery outcome joins the fetch result. */
			json_t *j = json_loads(s, 0, NULL);
			json_t *d = json_pack("{s:s, s:b, s:s?}", "uuid", dr->uuid ? dr->uuid : "", "already_present",
			                      dr->already_present, "command", dr->command);
			free(s);
			s = NULL;
			if (j && d && json_object_set_new(j, "delivered", d) == 0)
				s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
			else
				json_decref(d);
			json_decref(j);
		}
		if (s)
			printf("%s\n", s);
		else
			code = EXIT_ERROR;
		free(s);
	} else if (fetch) {
		if (fr->dry_run) {
			printf("plan (dry run, nothing downloaded or written):\n");
			print_resolved(fr->image);
			printf("requires: %s\n", imgfetch_verify_policy_name(fr->required));
			printf("output:   %s\nmetadata: %s\n", fr->path, fr->metadata_path);
			if (fr->manifest_path)
				printf("manifest: %s\n", fr->manifest_path);
			if (fo.push_ref)
				printf("push to:  %s\n", fo.push_ref);
		} else {
			if (fr->image->notice && verbosity > 0)
				fprintf(stderr, "imgfetch: notice: %s\n", fr->image->notice);
			if (verbosity > 0)
				cli_print_signature(fr->signature);
			printf("%s\n", fr->path);
			if (fr->manifest_path)
				printf("%s\n", fr->manifest_path);
			if (fr->pushed)
				printf("%s\n", fr->pushed);
			/* Only the file target leaves the installing to the user;
			 * smartos reports the command it already ran. */
			if (dr && dlv.target == IMGFETCH_DELIVER_FILE && dr->command && verbosity > 0)
				fprintf(stderr, "imgfetch: install with: %s\n", dr->command);
			else if (dr && verbosity > 0)
				fprintf(stderr, "imgfetch: image %s %s\n", dr->uuid ? dr->uuid : "",
				        dr->already_present ? "was already there" : "delivered");
		}
	} else {
		print_resolved(r);
	}
	imgfetch_resolved_free(r);
	imgfetch_fetch_result_free(fr);
	imgfetch_deliver_result_free(dr);
	cli_signals_release();
	int sig = cli_signal_exit_code();
	imgfetch_ctx_free(ctx);
	return sig ? sig : code;
}
