/* SPDX-License-Identifier: MIT */
#include "verify/expected.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/xfer.h"
#include "trust/clearsign.h"
#include "trust/pgp.h"
#include "trust/signify.h"
#include "util/cleanup.h"
#include "util/strutil.h"
#include "verify/digest.h"

static imgfetch_status pinned(imgfetch_ctx *ctx, imgfetch_hash h, const char *hex, expected_digest *ret)
{
	size_t len = imgfetch_hash_hexlen(h);
	if (!hex_valid(hex, len))
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "--%s needs %zu hex digits, got \"%.140s\"",
		                imgfetch_hash_name(h), len, hex);
	ret->kind = IMGFETCH_VERIFIER_PINNED;
	ret->evidence = IMGFETCH_EVIDENCE_PINNED;
	ret->sum.hash = h;
	hex_lower(hex, len, ret->sum.hex);
	return IMGFETCH_OK;
}

static int sha256_of(const void *buf, size_t len, char **ret)
{
	char hex[129];
	int r = digest_hex_of(IMGFETCH_HASH_SHA256, buf, len, hex);
	if (r == 0 && !(*ret = strdup(hex)))
		r = -ENOMEM;
	return r;
}

/* A small document (checksum file, sidecar, signature). 404/410 stays
 * IMGFETCH_E_NOT_FOUND for the caller to word. */
static imgfetch_status fetch_doc(imgfetch_ctx *ctx, const char *url, const char *what, char **text, size_t *len)
{
	return xfer_fetch_mem(ctx, url, IMGFETCH_SUMS_MAX_BYTES, what, text, len, NULL);
}

static imgfetch_status fill_chain(imgfetch_ctx *ctx, expected_digest *ret, const char *sig_url, const char *signed_url,
                                  const char *signed_bytes, size_t signed_len)
{
	ret->sig.signature_url = strdup(sig_url);
	ret->sig.signed_url = strdup(signed_url);
	if (!ret->sig.signature_url || !ret->sig.signed_url || !ret->sig.scheme ||
	    sha256_of(signed_bytes, signed_len, &ret->sig.signed_sha256) < 0)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	ret->evidence = IMGFETCH_EVIDENCE_SIGNATURE;
	return IMGFETCH_OK;
}

/* Verifies a signify signature over `msg` (or its own embedded message when
 * msg is NULL). */
static imgfetch_status signify_check(imgfetch_ctx *ctx, const trust_keys *keys, const char *what, const char *sig_text,
                                     size_t sig_len, const char *msg, size_t msg_len, signify_sig *ret_sig,
                                     imgfetch_signature *ret)
{
	const char *why = "malformed";
	int r = signify_parse_sig(sig_text, sig_len, ret_sig, &why);
	if (r < 0)
		return ifx_fail(ctx, IMGFETCH_E_VERIFY, "cannot read the signify signature for %s: %s", what, why);
	if (!msg && !ret_sig->message)
		return ifx_fail(ctx, IMGFETCH_E_INVALID,
		                "the signify signature for %s carries no message; give the file it signs with --sums", what);
	if (msg && ret_sig->message &&
	    (ret_sig->message_len != msg_len || memcmp(ret_sig->message, msg, msg_len) != 0))
		return ifx_fail(ctx, IMGFETCH_E_VERIFY,
		                "the signify signature for %s embeds a checksum list that differs from the file given", what);
	size_t nkeys = 0;
	signify_key *k = calloc(keys->n ? keys->n : 1, sizeof(*k));
	size_t *file_of = calloc(keys->n ? keys->n : 1, sizeof(*file_of));
	if (!k || !file_of) {
		free(k);
		free(file_of);
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	}
	for (size_t i = 0; i < keys->n; i++) {
		if (!keys->v[i].signify)
			continue;
		if (signify_parse_key(keys->v[i].data, keys->v[i].len, &k[nkeys], &why) < 0) {
			ifx_log(ctx, IMGFETCH_LOG_WARNING, "ignoring key file %s: not a signify public key (%s)",
			        keys->v[i].path, why);
			continue;
		}
		file_of[nkeys++] = i;
	}
	char keynum[17];
	signify_keynum_hex(ret_sig->keynum, keynum);
	size_t which = 0;
	const void *m = msg ? msg : ret_sig->message;
	size_t ml = msg ? msg_len : ret_sig->message_len;
	r = signify_verify(k, nkeys, ret_sig, m, ml, &which, &why);
	free(k);
	imgfetch_status st = IMGFETCH_OK;
	if (r == -ENOKEY)
		st = ifx_fail(ctx, IMGFETCH_E_VERIFY,
		              "signify signature on %s was made by key %s, which is not among the trusted keys (%s); add "
		              "the release's public key (*.pub) under /etc/imgfetch/keys/ or name it with --keyring FILE",
		              what, keynum, keys->searched ? keys->searched : "none");
	else if (r == -ENOMEM)
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	else if (r < 0)
		st = ifx_fail(ctx, IMGFETCH_E_VERIFY, "BAD signify signature on %s by key %s: %s; refusing it", what, keynum,
		              why);
	if (st == IMGFETCH_OK) {
		ret->scheme = strdup("signify");
		ret->fingerprint = strdup(keynum);
		ret->key_file = strdup(keys->v[file_of[which]].path);
		if (!ret->scheme || !ret->fingerprint || !ret->key_file)
			st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	}
	free(file_of);
	return st;
}

/*
 * Turns the fetched checksum document into the text that may be trusted,
 * according to the policy:
 *   - a detached signature (sig_url) must verify over the bytes as fetched;
 *   - a clearsigned document must verify, and only its signed literal text
 *     is kept (under --verify checksum: only its framed text, unchecked);
 *   - a signify signature with an embedded message may stand in for it.
 * *text / *len are replaced by what the lookup may read.
 */
static imgfetch_status authenticate(imgfetch_ctx *ctx, const imgfetch_get_opts *o, imgfetch_verify_policy policy,
                                    const char *doc_url, char **text, size_t *len, expected_digest *ret)
{
	const char *sig_url = o->signature_url;
	bool clearsigned = *text && pgp_is_clearsigned(*text, *len);

	if (policy == IMGFETCH_VERIFY_CHECKSUM) {
		if (clearsigned) {
			char *body = NULL;
			size_t blen = 0;
			const char *why = "malformed";
			int r = clearsign_body(*text, *len, &body, &blen, &why);
			if (r == -ENOMEM)
				return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
			if (r < 0)
				return ifx_fail(ctx, IMGFETCH_E_VERIFY, "cannot read %s: %s", doc_url, why);
			free(*text);
			*text = body;
			*len = blen;
			ifx_log(ctx, IMGFETCH_LOG_WARNING, "%s is signed, but its signature is not checked (--verify checksum)",
			        doc_url);
		}
		ret->evidence = IMGFETCH_EVIDENCE_CHECKSUM;
		return IMGFETCH_OK;
	}
	if (!sig_url && !clearsigned) {
		if (policy == IMGFETCH_VERIFY_SIGNATURE)
			return ifx_fail(ctx, IMGFETCH_E_VERIFY,
			                "--verify signature: nothing signs %s (it is not clearsigned and no --signature was "
			                "given); it publishes only a checksum file",
			                doc_url);
		ret->evidence = IMGFETCH_EVIDENCE_CHECKSUM;
		return IMGFETCH_OK;
	}

	imgfetch_status st = trust_keys_load(ctx, o->keyring, o->keys_for, &ret->keys);
	if (st < 0)
		return st;
	if (!sig_url) {
		char *lit = NULL;
		size_t llen = 0;
		st = pgp_verify(ctx, &ret->keys, doc_url, *text, *len, NULL, 0, -1, &lit, &llen, &ret->sig);
		if (st < 0)
			return st;
		st = fill_chain(ctx, ret, doc_url, doc_url, *text, *len);
		free(*text);
		*text = lit;
		*len = llen;
		return st;
	}

	_cleanup_free_ char *sig = NULL;
	size_t slen = 0;
	st = fetch_doc(ctx, sig_url, "signature", &sig, &slen);
	if (st == IMGFETCH_E_NOT_FOUND)
		return ifx_fail(ctx, IMGFETCH_E_VERIFY,
		                "signature %s not found, so %s cannot be trusted; if the publisher really stopped signing, "
		                "accept its checksum file alone with --verify checksum",
		                sig_url, doc_url);
	if (st < 0)
		return st;
	if (slen && signify_looks_like(sig, slen)) {
		signify_sig ss;
		st = signify_check(ctx, &ret->keys, doc_url ? doc_url : sig_url, sig, slen, *text, *len, &ss, &ret->sig);
		if (st < 0)
			return st;
		if (!*text) {
			/* The embedded message is the checksum list. */
			char *m = strndup(ss.message, ss.message_len);
			if (!m)
				return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
			*text = m;
			*len = ss.message_len;
			return fill_chain(ctx, ret, sig_url, sig_url, sig, slen);
		}
		return fill_chain(ctx, ret, sig_url, doc_url, *text, *len);
	}
	if (!*text) {
		/* Over the file itself: kept, and checked after the download. */
		ret->file_sig = TAKE_PTR(sig);
		ret->file_sig_len = slen;
		return IMGFETCH_OK;
	}
	if (clearsigned)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "%s is clearsigned; it needs no --signature", doc_url);
	st = pgp_verify(ctx, &ret->keys, doc_url, sig, slen, *text, *len, -1, NULL, NULL, &ret->sig);
	if (st < 0)
		return st;
	return fill_chain(ctx, ret, sig_url, doc_url, *text, *len);
}

static imgfetch_status from_sums(imgfetch_ctx *ctx, const imgfetch_get_opts *o, imgfetch_verify_policy policy,
                                 const char *name, expected_digest *ret)
{
	const char *sums_url = o->sums_url;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	imgfetch_status st = fetch_doc(ctx, sums_url, "checksum file", &text, &len);
	if (st == IMGFETCH_E_NOT_FOUND)
		return ifx_fail(ctx, IMGFETCH_E_VERIFY, "cannot verify %s: checksum file %s not found", name, sums_url);
	if (st < 0) {
		ifx_fail_append(ctx, "cannot verify %s without its checksum file", name);
		return st;
	}
	st = authenticate(ctx, o, policy, sums_url, &text, &len, ret);
	if (st < 0)
		return st;
	const char *why = NULL;
	st = imgfetch_sums_lookup(text, len, name, &ret->sum, &why);
	if (st == IMGFETCH_E_NOT_FOUND)
		return ifx_fail(ctx, IMGFETCH_E_VERIFY, "cannot verify %s: %s has no entry for it%s", name, sums_url,
		                ret->evidence == IMGFETCH_EVIDENCE_SIGNATURE ? " in its signed part" : "");
	if (st < 0)
		return ifx_fail(ctx, IMGFETCH_E_VERIFY, "cannot verify %s: %s: %s", name, sums_url,
		                why ? why : imgfetch_status_name(st));
	ret->kind = IMGFETCH_VERIFIER_SUMS;
	ret->source = strdup(sums_url);
	return ret->source ? IMGFETCH_OK : ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
}

/* A signify signature with its checksum list embedded, and no --sums. */
static imgfetch_status from_embedded(imgfetch_ctx *ctx, const imgfetch_get_opts *o, const char *name,
                                     expected_digest *ret, char *text, size_t len)
{
	const char *why = NULL;
	imgfetch_status st = imgfetch_sums_lookup(text, len, name, &ret->sum, &why);
	if (st == IMGFETCH_E_NOT_FOUND)
		return ifx_fail(ctx, IMGFETCH_E_VERIFY, "cannot verify %s: the list signed in %s has no entry for it", name,
		                o->signature_url);
	if (st < 0)
		return ifx_fail(ctx, IMGFETCH_E_VERIFY, "cannot verify %s: %s: %s", name, o->signature_url,
		                why ? why : imgfetch_status_name(st));
	ret->kind = IMGFETCH_VERIFIER_SUMS;
	ret->source = strdup(o->signature_url);
	return ret->source ? IMGFETCH_OK : ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
}

static imgfetch_status from_sidecar(imgfetch_ctx *ctx, const imgfetch_get_opts *o, imgfetch_verify_policy policy,
                                    const char *name, expected_digest *ret)
{
	static const char *const exts[] = { ".sha256", ".sha512" };
	const char *url = o->url;
	for (size_t i = 0; i < 2; i++) {
		_cleanup_free_ char *side = NULL, *text = NULL;
		size_t len = 0;
		/* The extension belongs to the path, before any query string. */
		size_t pathlen = strcspn(url, "?#");
		if (asprintf(&side, "%.*s%s%s", (int)pathlen, url, exts[i], url + pathlen) < 0)
			return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		imgfetch_status st = fetch_doc(ctx, side, "sidecar checksum", &text, &len);
		if (st == IMGFETCH_E_NOT_FOUND)
			continue;
		if (st < 0)
			return st;
		st = authenticate(ctx, o, policy, side, &text, &len, ret);
		if (st < 0)
			return st;
		const char *why = NULL;
		st = imgfetch_sidecar_parse(text, len, &ret->sum, &why);
		if (st < 0)
			return ifx_fail(ctx, IMGFETCH_E_VERIFY, "cannot verify %s: %s: %s", name, side,
			                why ? why : imgfetch_status_name(st));
		imgfetch_hash want = i == 0 ? IMGFETCH_HASH_SHA256 : IMGFETCH_HASH_SHA512;
		if (ret->sum.hash != want)
			return ifx_fail(ctx, IMGFETCH_E_VERIFY, "cannot verify %s: %s holds a %s digest, not %s", name,
			                side, imgfetch_hash_name(ret->sum.hash), imgfetch_hash_name(want));
		ret->kind = IMGFETCH_VERIFIER_SIDECAR;
		ret->source = TAKE_PTR(side);
		return IMGFETCH_OK;
	}
	return ifx_fail(ctx, IMGFETCH_E_VERIFY, "cannot verify %s: neither %s.sha256 nor %s.sha512 exists", name, url,
	                url);
}

/* A detached signature and nothing else: over the file itself, or (signify)
 * carrying the checksum list. */
static imgfetch_status from_signature(imgfetch_ctx *ctx, const imgfetch_get_opts *o, const char *name,
                                      expected_digest *ret)
{
	char *text = NULL;
	size_t len = 0;
	imgfetch_status st = authenticate(ctx, o, IMGFETCH_VERIFY_SIGNATURE, NULL, &text, &len, ret);
	if (st < 0) {
		free(text);
		return st;
	}
	if (text) {
		st = from_embedded(ctx, o, name, ret, text, len);
		free(text);
		return st;
	}
	/* The signature covers the file (authenticate() kept it). */
	ret->kind = IMGFETCH_VERIFIER_SIGNATURE;
	return IMGFETCH_OK;
}

imgfetch_status expected_check_file_signature(imgfetch_ctx *ctx, expected_digest *e, int fd, const char *url)
{
	signature_clear(&e->sig);
	imgfetch_status st = pgp_verify(ctx, &e->keys, url, e->file_sig, e->file_sig_len, NULL, 0, fd, NULL, NULL,
	                                &e->sig);
	if (st < 0)
		return st;
	e->sig.signature_url = strdup(e->source);
	e->sig.signed_url = strdup(url);
	if (!e->sig.scheme || !e->sig.signature_url || !e->sig.signed_url)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	e->evidence = IMGFETCH_EVIDENCE_SIGNATURE;
	return IMGFETCH_OK;
}

imgfetch_status expected_resolve(imgfetch_ctx *ctx, const imgfetch_get_opts *o, const char *name,
                                 expected_digest *ret)
{
	*ret = (expected_digest){ .kind = IMGFETCH_VERIFIER_NONE };
	imgfetch_verify_policy policy = o->verify;
	if (policy > IMGFETCH_VERIFY_NONE)
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "unknown verification policy %d", (int)policy);
	if (o->insecure_no_verify) {
		if (policy != IMGFETCH_VERIFY_AUTO && policy != IMGFETCH_VERIFY_NONE)
			return ifx_fail(ctx, IMGFETCH_E_INVALID, "--insecure-no-verify contradicts --verify %s",
			                imgfetch_verify_policy_name(policy));
		policy = IMGFETCH_VERIFY_NONE;
	}
	int n = !!o->sha256 + !!o->sha512 + !!o->sums_url + !!o->sidecar;
	if (n > 1)
		return ifx_fail(ctx, IMGFETCH_E_INVALID,
		                "give one verifier: --sha256, --sha512, --sums or --sidecar, not several");
	if (o->signature_url && (o->sha256 || o->sha512))
		return ifx_fail(ctx, IMGFETCH_E_INVALID,
		                "--signature covers a checksum file or the file itself, not a pinned digest");
	if (policy == IMGFETCH_VERIFY_NONE) {
		if (n || o->signature_url)
			return ifx_fail(ctx, IMGFETCH_E_INVALID, "%s contradicts the verifier that was given",
			                o->insecure_no_verify ? "--insecure-no-verify" : "--verify none");
		return IMGFETCH_OK;
	}
	if (n == 0 && !o->signature_url)
		return ifx_fail(ctx, IMGFETCH_E_INVALID,
		                "refusing to download %s without verification: give --sha256 HEX, --sha512 HEX, "
		                "--sums URL, --sidecar or --signature URL (or accept the risk with --verify none)",
		                o->url);
	if (policy == IMGFETCH_VERIFY_SIGNATURE && (o->sha256 || o->sha512))
		return ifx_fail(ctx, IMGFETCH_E_INVALID, "--verify signature needs a signature; a pinned digest is not one");
	if (o->sha256)
		return pinned(ctx, IMGFETCH_HASH_SHA256, o->sha256, ret);
	if (o->sha512)
		return pinned(ctx, IMGFETCH_HASH_SHA512, o->sha512, ret);
	if (o->sums_url)
		return from_sums(ctx, o, policy, name, ret);
	if (o->sidecar)
		return from_sidecar(ctx, o, policy, name, ret);
	if (policy == IMGFETCH_VERIFY_CHECKSUM)
		return ifx_fail(ctx, IMGFETCH_E_INVALID,
		                "--verify checksum needs a digest (--sha256, --sums, --sidecar); --signature alone gives none");
	imgfetch_status st = from_signature(ctx, o, name, ret);
	if (st == IMGFETCH_OK && ret->kind == IMGFETCH_VERIFIER_SIGNATURE && !(ret->source = strdup(o->signature_url)))
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	return st;
}

void expected_clear(expected_digest *e)
{
	free(e->source);
	signature_clear(&e->sig);
	free(e->file_sig);
	trust_keys_clear(&e->keys);
	*e = (expected_digest){ 0 };
}
