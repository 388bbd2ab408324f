/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the checksum-file parsers.
 *
 * Input layout: the first line (capped at 255 bytes) is the file name to look
 * up, the rest is the checksum file. The whole input is also looked up under
 * a fixed name and parsed as a sidecar. Besides the sanitizers, every result
 * is checked against the contract in imgfetch.h; a violation aborts.
 */
#include <imgfetch/imgfetch.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME_MAX_FUZZ 255u

/* Stored in *ret_why before each call: success must leave it alone. */
static const char why_sentinel[] = "sentinel";

static void require(int cond)
{
	if (!cond)
		abort();
}

static void fill_sentinel(imgfetch_checksum *c)
{
	memset(c, 0x5a, sizeof(*c));
}

static int is_sentinel(const imgfetch_checksum *c)
{
	imgfetch_checksum s;
	fill_sentinel(&s);
	return memcmp(c, &s, sizeof(s)) == 0;
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* The digest handed back must be one that is in the file (in any case). */
static int occurs_in(const char *text, size_t len, const char *hex, size_t hexlen)
{
	for (size_t i = 0; i + hexlen <= len; i++) {
		size_t j = 0;
		while (j < hexlen && lower(text[i + j]) == hex[j])
			j++;
		if (j == hexlen)
			return 1;
	}
	return 0;
}

/* The only invalid-argument cases reachable here: too large, or a name that
 * is empty once leading "./" are removed. */
static int name_is_empty(const char *name)
{
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	return name[0] == '\0';
}

static void check_result(imgfetch_status st, const imgfetch_checksum *c, const char *why, const char *text,
                         size_t len, int sidecar, int expect_invalid)
{
	switch (st) {
	case IMGFETCH_OK: {
		require(why == why_sentinel);
		size_t want = imgfetch_hash_hexlen(c->hash);
		require(want == 64 || want == 128);
		require(memchr(c->hex, '\0', sizeof(c->hex)) != NULL);
		require(strlen(c->hex) == want);
		for (size_t i = 0; i < want; i++)
			require((c->hex[i] >= '0' && c->hex[i] <= '9') || (c->hex[i] >= 'a' && c->hex[i] <= 'f'));
		require(occurs_in(text, len, c->hex, want));
		break;
	}
	case IMGFETCH_E_NOT_FOUND:
		require(!sidecar);
		/* fall through */
	case IMGFETCH_E_VERIFY:
	case IMGFETCH_E_INVALID:
		require(why != NULL && why != why_sentinel && why[0] != '\0');
		require(is_sentinel(c));
		break;
	default:
		abort();
	}
	require((st == IMGFETCH_E_INVALID) == (expect_invalid != 0));
}

static void lookup(const char *text, size_t len, const char *name)
{
	imgfetch_checksum c, again;
	const char *why = why_sentinel;
	fill_sentinel(&c);
	imgfetch_status st = imgfetch_sums_lookup(text, len, name, &c, &why);
	check_result(st, &c, why, text, len, 0, len > IMGFETCH_SUMS_MAX_BYTES || name_is_empty(name));

	/* Pure function of its input: the same answer every time. */
	const char *why2 = why_sentinel;
	fill_sentinel(&again);
	require(imgfetch_sums_lookup(text, len, name, &again, &why2) == st);
	require(memcmp(&c, &again, sizeof(c)) == 0 && why == why2);

	/* ret_why may be NULL. */
	fill_sentinel(&again);
	require(imgfetch_sums_lookup(text, len, name, &again, NULL) == st);
}

static void sidecar(const char *text, size_t len)
{
	imgfetch_checksum c, again;
	const char *why = why_sentinel;
	fill_sentinel(&c);
	imgfetch_status st = imgfetch_sidecar_parse(text, len, &c, &why);
	check_result(st, &c, why, text, len, 1, len > IMGFETCH_SUMS_MAX_BYTES);

	const char *why2 = why_sentinel;
	fill_sentinel(&again);
	require(imgfetch_sidecar_parse(text, len, &again, &why2) == st);
	require(memcmp(&c, &again, sizeof(c)) == 0 && why == why2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A private exact-size copy, so that any read past `len` is caught by ASan
	 * and the parsers cannot rely on a terminator. */
	char *text = malloc(size ? size : 1);
	if (!text)
		return 0;
	memcpy(text, data, size);

	const char *nl = memchr(text, '\n', size);
	size_t name_len = nl ? (size_t)(nl - text) : size;
	if (name_len > NAME_MAX_FUZZ)
		name_len = NAME_MAX_FUZZ;
	char name[NAME_MAX_FUZZ + 1];
	memcpy(name, text, name_len);
	name[name_len] = '\0';
	const char *rest = nl ? nl + 1 : text + size;
	size_t rest_len = (size_t)(text + size - rest);

	lookup(rest, rest_len, name);
	lookup(text, size, name);
	lookup(text, size, "foo.img");
	sidecar(text, size);
	sidecar(rest, rest_len);

	free(text);
	return 0;
}
