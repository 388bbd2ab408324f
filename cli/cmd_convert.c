/* SPDX-License-Identifier: MIT */
/* imgfetch convert and imgfetch info: argument parsing and printing around
 * imgfetch_convert() and imgfetch_image_info_read(). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "zvol_opts.h"

static void convert_usage(FILE *f)
{
	fputs("Usage: imgfetch convert IN OUT [-O raw|qcow2|zvol] [OPTIONS]\n"
	      "\n"
	      "Convert a disk image. IN may be qcow2 (v2/v3, zlib or zstd compressed clusters,\n"
	      "extended L2), vmdk (monolithicSparse, streamOptimized) or raw, optionally inside\n"
	      "an xz, gzip, zstd or bzip2 stream; formats are detected from content, never from\n"
	      "the file name; other formats qemu-img reads (VHD, VHDX, VDI, QED, Parallels,\n"
	      "Bochs, cloop, DMG, LUKS, QCOW v1) are recognised and refused (exit 6).\n"
	      "OUT is written atomically (or '-' for raw on stdout); raw output\n"
	      "is sparse.\n"
	      "\n"
	      "Options:\n"
	      "  -O, --format FMT        raw (default), qcow2, or zvol (OUT.zfs.gz: the gzip'd\n"
	      "                          zfs send stream of a volume, + the IMGAPI manifest)\n"
	      "      --compress ALG      qcow2 output: zlib or zstd compressed clusters\n"
	      "      --cluster-size N    qcow2 output: cluster size in bytes (512 ... 2097152,\n"
	      "                          power of two; default 65536)\n"
	      "      --max-size N        refuse a compressed stream that decodes to more than N\n"
	      "                          bytes, or a qcow2/vmdk whose tables describe more than\n"
	      "                          N bytes of data (suffixes K, M, G, T; default 64G)\n"
	      "      --input-format F    auto (default: detect qcow2, vmdk, raw; refuse formats\n"
	      "                          imgfetch does not read, such as VHDX or VDI) or raw\n"
	      "                          (take the decompressed bytes as a raw disk as they are)\n"
	      "      --block-zero MODE   raw output to a block device: 'check' (default: write\n"
	      "                          zeros only where the device is not zero), 'zeroout'\n"
	      "                          (BLKZEROOUT) or 'discard' (BLKDISCARD)\n"
	      "  -j, --threads N         worker threads (default: one per CPU)\n"
	      "      --json              print the result as one JSON object on stdout\n"
	      "  -q, --quiet             print only warnings and errors\n"
	      "  -v, --verbose           also print how the input is decoded\n"
	      "  -h, --help              show this help\n"
	      "\n",
	      f);
	fputs(cli_zvol_help, f);
}

static void info_usage(FILE *f)
{
	fputs("Usage: imgfetch info FILE [--json] [--max-size N]\n"
	      "\n"
	      "Show an image's format, virtual size, allocated bytes, cluster size,\n"
	      "compression and features. A compressed stream's size is read from the xz\n"
	      "index or zstd frame headers where recorded; otherwise it is decoded.\n",
	      f);
}

/* "64G", "512M", "1048576". */
static bool parse_size(const char *s, uint64_t *ret)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return false;
	unsigned shift = 0;
	switch (*end) {
	case '\0': break;
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	case 'T': case 't': shift = 40; end++; break;
	default: return false;
	}
	if (*end == 'i' && shift)
		end++;
	if (*end == 'B' && shift)
		end++;
	if (*end || v == 0 || (shift && v > (UINT64_MAX >> shift)))
		return false;
	*ret = (uint64_t)v << shift;
	return true;
}

static int run_with_ctx(int verbosity, imgfetch_ctx **ret_ctx, cli_output *out)
{
	*out = (cli_output){ .verbosity = verbosity, .progress = verbosity > 0 && isatty(STDERR_FILENO) };
	imgfetch_ctx *ctx = cli_ctx_new(out);
	if (!ctx)
		return EXIT_ERROR;
	*ret_ctx = ctx;
	return EXIT_OK;
}

static void print_info_human(const imgfetch_image_info *i)
{
	printf("format:          %s%s%s\n", i->format, i->container ? " in " : "", i->container ? i->container : "");
	if (!i->supported) {
		printf("supported:       no (imgfetch does not read %s images; convert with qemu-img first)\n",
		       i->format);
		printf("file size:       %" PRIu64 " bytes\n", i->file_size);
		return;
	}
	printf("virtual size:    %" PRIu64 " bytes (%.2f GiB)\n", i->virtual_size, (double)i->virtual_size / (1 << 30));
	printf("file size:       %" PRIu64 " bytes\n", i->file_size);
	if (i->allocated_known)
		printf("allocated:       %" PRIu64 " bytes\n", i->allocated_bytes);
	if (i->cluster_size)
		printf("cluster size:    %" PRIu32 "\n", i->cluster_size);
	if (i->version)
		printf("version:         %" PRIu32 "\n", i->version);
	if (i->subformat)
		printf("subformat:       %s\n", i->subformat);
	if (i->compression)
		printf("compression:     %s\n", i->compression);
	if (i->features)
		printf("features:        %s\n", i->features);
}

int cmd_info(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "max-size", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool json = false;
	uint64_t max_size = 0;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'J': json = true; break;
		case 'M':
			if (!parse_size(optarg, &max_size)) {
				fprintf(stderr, "imgfetch info: bad --max-size '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h': info_usage(stdout); return EXIT_OK;
		default: info_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "imgfetch info: expected exactly one FILE\n");
		info_usage(stderr);
		return EXIT_USAGE;
	}
	imgfetch_ctx *ctx;
	cli_output out;
	if (run_with_ctx(1, &ctx, &out) != EXIT_OK)
		return EXIT_ERROR;
	out.progress = false;
	imgfetch_image_info *info = NULL;
	imgfetch_status st = imgfetch_image_info_read(ctx, argv[optind], max_size, &info);
	int code = cli_exit_code(st);
	if (st < 0) {
		fprintf(stderr, "imgfetch: %s\n", imgfetch_ctx_error(ctx));
	} else if (json) {
		char *text = imgfetch_image_info_to_json(info);
		if (!text || printf("%s\n", text) < 0)
			code = EXIT_ERROR;
		free(text);
	} else {
		print_info_human(info);
	}
	if (fflush(stdout) != 0)
		code = EXIT_ERROR;
	imgfetch_image_info_free(info);
	cli_signals_release();
	imgfetch_ctx_free(ctx);
	return code;
}

/* {"input": {...}, "output": PATH, "format": "raw"|"qcow2", "data_bytes": N, "output_size": N} */
static const char *format_name(imgfetch_image_format f)
{
	return f == IMGFETCH_FORMAT_RAW ? "raw" : f == IMGFETCH_FORMAT_QCOW2 ? "qcow2" : "zvol";
}

static char *result_json(const imgfetch_convert_result *res, const imgfetch_convert_opts *o)
{
	char *in = imgfetch_image_info_to_json(res->input);
	json_t *input = in ? json_loads(in, 0, NULL) : NULL;
	free(in);
	json_t *j = input ? json_pack("{s:o, s:s, s:s, s:I, s:I}", "input", input, "output", o->output, "format",
	                              format_name(o->format), "data_bytes", (json_int_t)res->data_bytes,
	                              "output_size", (json_int_t)res->output_size)
	                  : NULL;
	if (j && res->manifest_path &&
	    (json_object_set_new(j, "manifest_path", json_string(res->manifest_path)) ||
	     json_object_set_new(j, "uuid", json_string(res->uuid)) || json_object_set_new(j, "sha1", json_string(res->sha1)))) {
		json_decref(j);
		j = NULL;
	}
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	return text;
}

int cmd_convert(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'O' },
		{ "compress", required_argument, NULL, 'C' },
		{ "cluster-size", required_argument, NULL, 'S' },
		{ "max-size", required_argument, NULL, 'M' },
		{ "input-format", required_argument, NULL, 'I' },
		{ "threads", required_argument, NULL, 'j' },
		{ "block-zero", required_argument, NULL, 'Z' },
		{ "json", no_argument, NULL, 'J' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		CLI_ZVOL_LONGOPTS,
		{ 0 },
	};
	imgfetch_convert_opts o = { .format = IMGFETCH_FORMAT_RAW };
	imgfetch_zvol_opts zvol = { 0 };
	bool zvol_given = false;
	bool json = false;
	int verbosity = 1;
	uint64_t v;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "O:j:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'O':
			if (strcmp(optarg, "raw") == 0)
				o.format = IMGFETCH_FORMAT_RAW;
			else if (strcmp(optarg, "qcow2") == 0)
				o.format = IMGFETCH_FORMAT_QCOW2;
			else if (strcmp(optarg, "zvol") == 0)
				o.format = IMGFETCH_FORMAT_ZVOL;
			else {
				fprintf(stderr, "imgfetch convert: -O takes raw, qcow2 or zvol, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'C': o.compress = optarg; break;
		case 'I':
			if (strcmp(optarg, "raw") != 0 && strcmp(optarg, "auto") != 0) {
				fprintf(stderr, "imgfetch convert: --input-format takes auto or raw, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			o.input_format = optarg;
			break;
		case 'S':
			if (!parse_size(optarg, &v) || v > UINT32_MAX) {
				fprintf(stderr, "imgfetch convert: bad --cluster-size '%s'\n", optarg);
				return EXIT_USAGE;
			}
			o.cluster_size = (uint32_t)v;
			break;
		case 'M':
			if (!parse_size(optarg, &o.max_size)) {
				fprintf(stderr, "imgfetch convert: bad --max-size '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'j':
			if (!parse_size(optarg, &v) || v > 64) {
				fprintf(stderr, "imgfetch convert: --threads takes 1 to 64, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			o.threads = (unsigned)v;
			break;
		case 'Z':
			if (strcmp(optarg, "check") == 0)
				o.block_zero = IMGFETCH_BLOCK_ZERO_CHECK;
			else if (strcmp(optarg, "zeroout") == 0)
				o.block_zero = IMGFETCH_BLOCK_ZERO_ZEROOUT;
			else if (strcmp(optarg, "discard") == 0)
				o.block_zero = IMGFETCH_BLOCK_ZERO_DISCARD;
			else {
				fprintf(stderr, "imgfetch convert: --block-zero takes check, zeroout or discard\n");
				return EXIT_USAGE;
			}
			break;
		case 'J': json = true; break;
		case 'q': verbosity = 0; break;
		case 'v': verbosity = 2; break;
		case 'h': convert_usage(stdout); return EXIT_OK;
		default:
			if (c >= ZOPT_FIRST && c < ZOPT_LAST) {
				if (!cli_zvol_option("convert", c, optarg, &zvol, &zvol_given))
					return EXIT_USAGE;
				break;
			}
			convert_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (zvol_given && o.format != IMGFETCH_FORMAT_ZVOL) {
		fprintf(stderr, "imgfetch convert: zvol options need -O zvol\n");
		return EXIT_USAGE;
	}
	if (o.format == IMGFETCH_FORMAT_ZVOL)
		o.zvol = &zvol;
	if (optind != argc - 2) {
		fprintf(stderr, "imgfetch convert: expected IN and OUT\n");
		convert_usage(stderr);
		return EXIT_USAGE;
	}
	o.input = argv[optind];
	o.output = argv[optind + 1];
	if (json && strcmp(o.output, "-") == 0) {
		fprintf(stderr, "imgfetch convert: --json and output to stdout exclude each other\n");
		return EXIT_USAGE;
	}
	imgfetch_ctx *ctx;
	cli_output out;
	if (run_with_ctx(verbosity, &ctx, &out) != EXIT_OK)
		return EXIT_ERROR;
	imgfetch_convert_result *res = NULL;
	imgfetch_status st = imgfetch_convert(ctx, &o, &res);
	cli_output_clear(&out);
	int code = cli_exit_code(st);
	if (st < 0) {
		fprintf(stderr, "imgfetch: %s\n", imgfetch_ctx_error(ctx));
	} else if (json) {
		char *text = result_json(res, &o);
		if (!text || printf("%s\n", text) < 0)
			code = EXIT_ERROR;
		free(text);
	} else if (verbosity > 0) {
		fprintf(stderr, "imgfetch: converted %s (%s%s%s, %" PRIu64 " bytes virtual) to %s %s\n", o.input,
		        res->input->format, res->input->container ? " in " : "",
		        res->input->container ? res->input->container : "", res->input->virtual_size,
		        format_name(o.format), o.output);
		if (res->manifest_path)
			fprintf(stderr, "imgfetch: image %s, manifest %s; install with: imgadm install -m %s -f %s\n", res->uuid,
			        res->manifest_path, res->manifest_path, o.output);
	}
	if (fflush(stdout) != 0)
		code = EXIT_ERROR;
	imgfetch_convert_result_free(res);
	cli_signals_release();
	imgfetch_ctx_free(ctx);
	return code;
}
