/* SPDX-License-Identifier: MIT */
/*
 * signify(1) key and signature files, and Ed25519 verification.
 *
 * Everything cryptographic, base64 included, is OpenSSL's; the only thing
 * parsed by hand is the two-line framing, and that is done strictly (exact
 * lengths, "\n" only, canonical base64), so that one signed record has exactly
 * one accepted spelling apart from the unsigned comment.
 */
#include "trust/signify.h"

#include <errno.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "util/strutil.h"

#define COMMENT_HDR "untrusted comment: "
#define COMMENT_HDR_LEN (sizeof(COMMENT_HDR) - 1)
/* signify keeps the comment text in a char[1024] with its terminator and
 * refuses a longer one, so 1023 bytes is the most a real file can carry. */
#define COMMENT_TEXT_MAX 1023u

#define PKALG "Ed"
#define PKALG_LEN 2u
#define KEYNUM_LEN 8u
#define PUB_LEN 32u
#define SIG_LEN 64u
/* signify's struct pubkey / struct sig / struct enckey, packed. */
#define PUBREC_LEN (PKALG_LEN + KEYNUM_LEN + PUB_LEN)
#define SIGREC_LEN (PKALG_LEN + KEYNUM_LEN + SIG_LEN)
#define SECREC_LEN (PKALG_LEN + 2u + 4u + 16u + 8u + KEYNUM_LEN + 64u)

/* Base64 length of n bytes, padding included. */
#define B64_LEN(n) (4u * (((n) + 2u) / 3u))

_Static_assert(sizeof(((signify_key *)0)->keynum) == KEYNUM_LEN, "keynum size");
_Static_assert(sizeof(((signify_key *)0)->pub) == PUB_LEN, "Ed25519 public key size");
_Static_assert(sizeof(((signify_sig *)0)->sig) == SIG_LEN, "Ed25519 signature size");

static int fail(const char **why, int code, const char *reason)
{
	if (why)
		*why = reason;
	return code;
}

bool signify_looks_like(const char *text, size_t len)
{
	return text && len >= COMMENT_HDR_LEN && memcmp(text, COMMENT_HDR, COMMENT_HDR_LEN) == 0;
}

/*
 * Splits text into the base64 line (checked to be exactly `rec_len` bytes of
 * canonical base64, decoded into rec) and what follows its newline.
 */
static int parse_frame(const char *text, size_t len, uint8_t *rec, size_t rec_len, const char **rest,
                       size_t *rest_len, const char **why)
{
	if (len > SIGNIFY_MAX_BYTES)
		return fail(why, -EFBIG, "signify file is larger than 1 MiB");
	if (!signify_looks_like(text, len))
		return fail(why, -EBADMSG, "not a signify file: it does not start with \"untrusted comment: \"");

	/* Comment line. The search stops at the longest legal line, so a large
	 * file without newlines costs no more than a real one. */
	size_t limit = COMMENT_HDR_LEN + COMMENT_TEXT_MAX + 1;
	const char *nl = memchr(text, '\n', len < limit ? len : limit);
	if (!nl)
		return fail(why, -EBADMSG,
		            len >= limit ? "signify comment is longer than 1023 bytes" : "signify comment line has no newline");
	size_t comment_len = (size_t)(nl - text) - COMMENT_HDR_LEN;
	const char *comment = text + COMMENT_HDR_LEN;
	/* signify itself refuses an empty comment. */
	if (comment_len == 0)
		return fail(why, -EBADMSG, "signify comment is empty");
	if (comment[comment_len - 1] == '\r')
		return fail(why, -EBADMSG, "signify file has CRLF line ends (only \"\\n\" is valid)");
	/* signify reads the file as a C string: a NUL would end it early there,
	 * so a file with one is not one signify wrote. A lone CR has no business
	 * in a one-line comment either. */
	if (memchr(comment, '\0', comment_len) || memchr(comment, '\r', comment_len))
		return fail(why, -EBADMSG, "signify comment contains a NUL or CR byte");

	/* Base64 line: its length is fixed by the record, so the search is short. */
	const char *b64 = nl + 1;
	size_t avail = len - (size_t)(b64 - text);
	size_t want = B64_LEN(rec_len);
	/* Room for a 140-byte secret key line plus CR, so that it can be named. */
	size_t b64_limit = B64_LEN(SECREC_LEN) + 2;
	const char *nl2 = memchr(b64, '\n', avail < b64_limit ? avail : b64_limit);
	if (!nl2)
		return fail(why, -EBADMSG,
		            avail >= b64_limit ? "signify base64 line is too long" : "signify base64 line has no newline");
	size_t b64_len = (size_t)(nl2 - b64);
	if (b64_len > 0 && b64[b64_len - 1] == '\r')
		return fail(why, -EBADMSG, "signify file has CRLF line ends (only \"\\n\" is valid)");
	if (b64_len != want) {
		/* The lengths tell the kinds apart: name a file given in the wrong place. */
		if (b64_len == B64_LEN(SIGREC_LEN))
			return fail(why, -EBADMSG, "this is a signify signature, not a public key");
		if (b64_len == B64_LEN(PUBREC_LEN))
			return fail(why, -EBADMSG, "this is a signify public key, not a signature");
		if (b64_len == B64_LEN(SECREC_LEN))
			return fail(why, -EBADMSG, "this is a signify SECRET key, not a public key or a signature");
		return fail(why, -EBADMSG, rec_len == PUBREC_LEN ? "signify public key line has the wrong length"
		                                                 : "signify signature line has the wrong length");
	}

	/* EVP_DecodeBlock counts the bytes that '=' padding stands for and skips
	 * surrounding whitespace, so its answer alone does not prove the line is
	 * the record. Re-encoding the record and comparing with the line does:
	 * only the canonical spelling of exactly rec_len bytes survives. */
	/* b64_len == want here, and the signature is the larger record. */
	unsigned char raw[B64_LEN(SIGREC_LEN) / 4 * 3];
	unsigned char again[B64_LEN(SIGREC_LEN) + 1];
	_Static_assert(B64_LEN(PUBREC_LEN) <= B64_LEN(SIGREC_LEN), "buffers sized for the larger record");
	int got = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)b64_len);
	size_t pad = (b64_len >= 1 && b64[b64_len - 1] == '=') + (b64_len >= 2 && b64[b64_len - 2] == '=');
	if (got < 0 || (size_t)got < pad || (size_t)got - pad != rec_len)
		return fail(why, -EBADMSG, "signify base64 line is not valid base64");
	int enc = EVP_EncodeBlock(again, raw, (int)rec_len);
	if (enc < 0 || (size_t)enc != b64_len || memcmp(again, b64, b64_len) != 0)
		return fail(why, -EBADMSG, "signify base64 line is not canonical base64");
	if (memcmp(raw, PKALG, PKALG_LEN) != 0)
		return fail(why, -EBADMSG, "unsupported signify algorithm (not \"Ed\")");

	memcpy(rec, raw, rec_len);
	*rest = nl2 + 1;
	*rest_len = len - (size_t)(*rest - text);
	return 0;
}

int signify_parse_key(const char *text, size_t len, signify_key *ret, const char **why)
{
	if (!ret || (!text && len > 0))
		return fail(why, -EINVAL, "invalid argument");
	uint8_t rec[PUBREC_LEN];
	const char *rest;
	size_t rest_len;
	int r = parse_frame(text, len, rec, sizeof(rec), &rest, &rest_len, why);
	if (r < 0)
		return r;
	/* A key file is the two lines and nothing else: anything after them
	 * means this is not the file we think it is. */
	if (rest_len > 0)
		return fail(why, -EBADMSG, "data after the signify public key line");
	memcpy(ret->keynum, rec + PKALG_LEN, KEYNUM_LEN);
	memcpy(ret->pub, rec + PKALG_LEN + KEYNUM_LEN, PUB_LEN);
	return 0;
}

int signify_parse_sig(const char *text, size_t len, signify_sig *ret, const char **why)
{
	if (!ret || (!text && len > 0))
		return fail(why, -EINVAL, "invalid argument");
	uint8_t rec[SIGREC_LEN];
	const char *rest;
	size_t rest_len;
	int r = parse_frame(text, len, rec, sizeof(rec), &rest, &rest_len, why);
	if (r < 0)
		return r;
	memcpy(ret->keynum, rec + PKALG_LEN, KEYNUM_LEN);
	memcpy(ret->sig, rec + PKALG_LEN + KEYNUM_LEN, SIG_LEN);
	/* An embedded signature over an empty message looks exactly like a
	 * detached one; either way the caller supplies the (empty) message. */
	ret->message = rest_len > 0 ? rest : NULL;
	ret->message_len = rest_len;
	return 0;
}

/* 0 valid, -EBADMSG not, -ENOMEM when OpenSSL could not even try. */
static int ed25519_verify(const uint8_t pub[PUB_LEN], const uint8_t sig[SIG_LEN], const void *msg, size_t msg_len)
{
	/* Errors OpenSSL queues on the way are ours to drop; the mark keeps
	 * whatever the caller's thread had queued before. */
	static const unsigned char empty[1];
	ERR_set_mark();
	int r = -ENOMEM;
	EVP_MD_CTX *md = NULL;
	EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, PUB_LEN);
	if (!pkey)
		goto out;
	md = EVP_MD_CTX_new();
	/* Ed25519 is "pure": no separate digest, the whole message goes in at once. */
	if (!md || EVP_DigestVerifyInit(md, NULL, NULL, NULL, pkey) != 1)
		goto out;
	/* Only 1 means valid; 0 is a mismatch and anything else an error, and a
	 * verifier that cannot tell must say no. */
	r = EVP_DigestVerify(md, sig, SIG_LEN, msg_len ? msg : empty, msg_len) == 1 ? 0 : -EBADMSG;
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	ERR_pop_to_mark();
	return r;
}

int signify_verify(const signify_key *keys, size_t n, const signify_sig *sig, const void *msg, size_t msg_len,
                   size_t *which, const char **why)
{
	if (!sig || (!keys && n > 0) || (!msg && msg_len > 0))
		return fail(why, -EINVAL, "invalid argument");
	/* The keynum is not signed: it only picks the key. A forged one can at
	 * most select another trusted key, against which the signature fails. */
	bool matched = false;
	for (size_t i = 0; i < n; i++) {
		if (memcmp(keys[i].keynum, sig->keynum, KEYNUM_LEN) != 0)
			continue;
		matched = true;
		int r = ed25519_verify(keys[i].pub, sig->sig, msg, msg_len);
		if (r == 0) {
			if (which)
				*which = i;
			return 0;
		}
		if (r == -ENOMEM)
			return fail(why, r, "out of memory (OpenSSL could not set up Ed25519 verification)");
	}
	if (!matched)
		return fail(why, -ENOKEY, "signed by a key that is not trusted (no trusted key has its key number)");
	return fail(why, -EBADMSG, "signify signature does not verify: the message was altered or the key is wrong");
}

void signify_keynum_hex(const uint8_t keynum[8], char out[17])
{
	hex_encode(keynum, KEYNUM_LEN, out);
}
