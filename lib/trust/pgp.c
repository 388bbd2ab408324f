/* SPDX-License-Identifier: MIT */
#include "trust/pgp.h"

#include <errno.h>
#include <jansson.h>
#include <rnp/rnp.h>
#include <rnp/rnp_err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/cleanup.h"
#include "util/fileio.h"

static const char armour_key[] = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
static const char clearsign_header[] = "-----BEGIN PGP SIGNED MESSAGE-----";

/* Anywhere at the start of a line, not only at the start of the file: lines
 * put before the header must make the file a clearsigned one that fails to
 * verify, not a plain checksum list whose first lines are trusted. */
bool pgp_is_clearsigned(const char *text, size_t len)
{
	const size_t hl = sizeof(clearsign_header) - 1;
	for (const char *p = text; p && (size_t)(p - text) + hl <= len;) {
		p = memmem(p, len - (size_t)(p - text), clearsign_header, hl);
		if (!p)
			break;
		if (p == text || p[-1] == '\n')
			return true;
		p++;
	}
	return false;
}

void signature_clear(imgfetch_signature *s)
{
	free(s->scheme);
	free(s->fingerprint);
	free(s->signing_key);
	free(s->uid);
	free(s->key_file);
	free(s->signature_url);
	free(s->signed_url);
	free(s->signed_sha256);
	*s = (imgfetch_signature){ 0 };
}

/* Takes an RNP string: copies it into a malloc'd one. */
static char *take(char *rnp)
{
	char *s = rnp ? strdup(rnp) : NULL;
	rnp_buffer_destroy(rnp);
	return s;
}

/* The keys, imported into a fresh RNP instance; which file brought which
 * primary key is kept so that a result can name it. */
typedef struct loaded {
	rnp_ffi_t ffi;
	json_t *imports; /* array, per OpenPGP key file: the JSON rnp_import_keys() returned */
	size_t nfiles;
} loaded;

static void loaded_free(loaded *l)
{
	if (l->ffi)
		rnp_ffi_destroy(l->ffi);
	json_decref(l->imports);
}

/* Imports one key from memory (binary); the JSON RNP returns, or NULL. */
static json_t *import_binary(rnp_ffi_t ffi, const uint8_t *data, size_t len, rnp_result_t *ret)
{
	rnp_input_t in = NULL;
	char *res = NULL;
	json_t *j = NULL;
	rnp_result_t r = rnp_input_from_memory(&in, data, len, false);
	/* Permissive: a packet RNP cannot use (an odd signature on a uid) must
	 * not drop the whole key. */
	if (r == RNP_SUCCESS)
		r = rnp_import_keys(ffi, in, RNP_LOAD_SAVE_PUBLIC_KEYS | RNP_LOAD_SAVE_PERMISSIVE, &res);
	rnp_input_destroy(in);
	if (r == RNP_SUCCESS)
		j = json_loads(res, 0, NULL);
	rnp_buffer_destroy(res);
	*ret = r;
	return j;
}

/* Merges the "keys" arrays of b into a (b is consumed). */
static json_t *merge(json_t *a, json_t *b)
{
	if (!a)
		return b;
	if (b)
		json_array_extend(json_object_get(a, "keys"), json_object_get(b, "keys"));
	json_decref(b);
	return a;
}

/*
 * Imports a key file: binary, or one or more armoured key blocks, possibly
 * with text around them (key files as people download them carry a web
 * page's or README's text). Each armoured block is dearmoured by RNP and
 * imported as binary: RNP's own import of armoured input refuses some real
 * vendor keys (openSUSE's 2022 key) that its dearmouring reads fine.
 */
static json_t *import_file(imgfetch_ctx *ctx, rnp_ffi_t ffi, const trust_key_file *f)
{
	static const char end_marker[] = "-----END PGP PUBLIC KEY BLOCK-----";
	rnp_result_t r = RNP_SUCCESS;
	json_t *all = NULL;
	const char *p = memmem(f->data, f->len, armour_key, sizeof(armour_key) - 1);
	if (!p) {
		all = import_binary(ffi, (const uint8_t *)f->data, f->len, &r);
	} else {
		while (p) {
			size_t left = f->len - (size_t)(p - f->data);
			const char *e = memmem(p, left, end_marker, sizeof(end_marker) - 1);
			size_t blen = e ? (size_t)(e - p) + sizeof(end_marker) - 1 : left;
			rnp_input_t in = NULL;
			rnp_output_t out = NULL;
			uint8_t *bin = NULL;
			size_t binlen = 0;
			r = rnp_input_from_memory(&in, (const uint8_t *)p, blen, false);
			if (r == RNP_SUCCESS)
				r = rnp_output_to_memory(&out, TRUST_KEY_FILE_MAX);
			if (r == RNP_SUCCESS)
				r = rnp_dearmor(in, out);
			if (r == RNP_SUCCESS)
				r = rnp_output_memory_get_buf(out, &bin, &binlen, false);
			if (r == RNP_SUCCESS && binlen)
				all = merge(all, import_binary(ffi, bin, binlen, &r));
			rnp_input_destroy(in);
			rnp_output_destroy(out);
			if (r != RNP_SUCCESS || !e)
				break;
			left = f->len - (size_t)(e - f->data);
			p = memmem(e, left, armour_key, sizeof(armour_key) - 1);
		}
	}
	if (r != RNP_SUCCESS || !all) {
		ifx_log(ctx, IMGFETCH_LOG_WARNING, "ignoring %skey file %s: not OpenPGP public keys (%s)",
		        all ? "part of " : "", f->path, rnp_result_to_string(r));
	}
	return all;
}

static imgfetch_status load(imgfetch_ctx *ctx, const trust_keys *keys, loaded *l)
{
	*l = (loaded){ 0 };
	if (rnp_ffi_create(&l->ffi, RNP_KEYSTORE_GPG, RNP_KEYSTORE_GPG) != RNP_SUCCESS)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot initialise the OpenPGP library (is /dev/urandom there?)");
	l->imports = json_array();
	if (!l->imports)
		return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	for (size_t i = 0; i < keys->n; i++) {
		const trust_key_file *f = &keys->v[i];
		json_t *j = NULL;
		if (!f->signify)
			j = import_file(ctx, l->ffi, f);
		if (json_array_append_new(l->imports, j ? j : json_null()) < 0)
			return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	}
	l->nfiles = keys->n;
	return IMGFETCH_OK;
}

/* The key file that brought a primary key in. */
static const char *file_of(const loaded *l, const trust_keys *keys, const char *fpr)
{
	for (size_t i = 0; i < l->nfiles; i++) {
		json_t *arr = json_object_get(json_array_get(l->imports, i), "keys"), *k;
		size_t j;
		json_array_foreach(arr, j, k)
		{
			const char *f = json_string_value(json_object_get(k, "fingerprint"));
			if (f && strcasecmp(f, fpr) == 0)
				return keys->v[i].path;
		}
	}
	return NULL;
}

typedef enum verdict {
	V_NONE = 0,   /* ordered: a later verdict explains a failure better */
	V_UNKNOWN_KEY,
	V_BAD,
	V_SIG_EXPIRED,
	V_KEY_EXPIRED,
	V_KEY_REVOKED,
	V_OK,
} verdict;

typedef struct judged {
	verdict v;
	char issuer[41];     /* from the signature packet: fingerprint, or the 16-hex key id */
	imgfetch_signature sig;
	uint64_t key_until;  /* for expired keys: when */
} judged;

static void date_of(uint64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (t == 0 || !gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%d", &tm))
		snprintf(out, 32, "an unknown date");
}

static void describe(const loaded *l, const trust_keys *keys, rnp_op_verify_signature_t s, judged *j)
{
	uint32_t created = 0, expires = 0;
	rnp_op_verify_signature_get_times(s, &created, &expires);
	j->sig.created = created;
	rnp_signature_handle_t sh = NULL;
	if (rnp_op_verify_signature_get_handle(s, &sh) == RNP_SUCCESS && sh) {
		char *v = NULL;
		if (rnp_signature_get_key_fprint(sh, &v) != RNP_SUCCESS || !v) {
			rnp_buffer_destroy(v);
			v = NULL;
			rnp_signature_get_keyid(sh, &v);
		}
		snprintf(j->issuer, sizeof(j->issuer), "%s", v ? v : "");
		rnp_buffer_destroy(v);
		rnp_signature_handle_destroy(sh);
	}
	rnp_key_handle_t key = NULL, prim = NULL;
	if (rnp_op_verify_signature_get_key(s, &key) != RNP_SUCCESS || !key) {
		/* A signature RNP calls good but whose key it cannot hand back (the
		 * fuzzer found one: an issuer key id in the unhashed area that
		 * disagrees with the hashed issuer fingerprint) cannot be checked
		 * for expiry or revocation, nor named: it is not accepted. */
		if (j->v == V_OK)
			j->v = V_BAD;
		return;
	}
	char *v = NULL;
	rnp_key_get_fprint(key, &v);
	j->sig.signing_key = take(v);
	bool sub = false;
	rnp_key_is_sub(key, &sub);
	if (sub) {
		v = NULL;
		rnp_key_get_primary_fprint(key, &v);
		j->sig.fingerprint = take(v);
		if (j->sig.fingerprint)
			rnp_locate_key(l->ffi, "fingerprint", j->sig.fingerprint, &prim);
	} else if (j->sig.signing_key) {
		j->sig.fingerprint = strdup(j->sig.signing_key);
	}
	v = NULL;
	if (rnp_key_get_primary_uid(prim ? prim : key, &v) == RNP_SUCCESS)
		j->sig.uid = take(v);
	else
		rnp_buffer_destroy(v);
	if (j->sig.fingerprint) {
		const char *f = file_of(l, keys, j->sig.fingerprint);
		j->sig.key_file = f ? strdup(f) : NULL;
	}

	/* RNP judges a signature by the time it was made: a key that expired or
	 * was superseded since still yields a good signature. Like apt, imgfetch
	 * accepts only keys that are valid now, so that a retired key is
	 * noticed and replaced rather than trusted forever. */
	bool revoked = false, expired = false;
	rnp_key_handle_t checks[2] = { key, prim };
	for (size_t i = 0; i < 2; i++) {
		if (!checks[i])
			continue;
		bool b = false;
		if (rnp_key_is_revoked(checks[i], &b) == RNP_SUCCESS && b)
			revoked = true;
		b = false;
		if (rnp_key_is_expired(checks[i], &b) == RNP_SUCCESS && b) {
			expired = true;
			uint64_t till = 0;
			if (rnp_key_valid_till64(checks[i], &till) == RNP_SUCCESS && (j->key_until == 0 || till < j->key_until))
				j->key_until = till;
		}
	}
	if (j->v == V_OK && revoked)
		j->v = V_KEY_REVOKED;
	else if (j->v == V_OK && expired)
		j->v = V_KEY_EXPIRED;
	else if (j->v == V_BAD && revoked)
		j->v = V_KEY_REVOKED;
	else if (j->v == V_BAD && expired)
		j->v = V_KEY_EXPIRED;
	rnp_key_handle_destroy(prim);
	rnp_key_handle_destroy(key);
}

static const char update_hint[] =
	"update imgfetch's keys, or add the vendor's current key under /etc/imgfetch/keys/ (or "
	"$XDG_CONFIG_HOME/imgfetch/keys/), or name a keyring with --keyring FILE";

static imgfetch_status explain(imgfetch_ctx *ctx, const trust_keys *keys, const char *what, const judged *j,
                               rnp_result_t exec)
{
	const char *fpr = j->sig.fingerprint ? j->sig.fingerprint : j->issuer[0] ? j->issuer : "(no key id)";
	const char *uid = j->sig.uid ? j->sig.uid : "";
	char date[32];
	switch (j->v) {
	case V_UNKNOWN_KEY:
		return ifx_fail(ctx, IMGFETCH_E_VERIFY,
		                "signature on %s was made by key %s, which is not among the trusted keys (%s); %s", what,
		                fpr, keys->searched ? keys->searched : "none", update_hint);
	case V_KEY_EXPIRED:
		date_of(j->key_until, date);
		return ifx_fail(ctx, IMGFETCH_E_VERIFY, "signature on %s was made by key %s%s%s%s, which expired on %s; %s",
		                what, fpr, uid[0] ? " (" : "", uid, uid[0] ? ")" : "", date, update_hint);
	case V_KEY_REVOKED:
		return ifx_fail(ctx, IMGFETCH_E_VERIFY, "signature on %s was made by key %s%s%s%s, which has been revoked; %s",
		                what, fpr, uid[0] ? " (" : "", uid, uid[0] ? ")" : "", update_hint);
	case V_SIG_EXPIRED:
		return ifx_fail(ctx, IMGFETCH_E_VERIFY,
		                "signature on %s by key %s has expired or is dated in the future; refusing it", what, fpr);
	case V_BAD:
		return ifx_fail(ctx, IMGFETCH_E_VERIFY,
		                "BAD signature on %s by key %s%s%s%s: the file is not what the key signed (or uses a weak "
		                "hash); refusing it",
		                what, fpr, uid[0] ? " (" : "", uid, uid[0] ? ")" : "");
	case V_NONE:
	case V_OK:
		break;
	}
	return ifx_fail(ctx, IMGFETCH_E_VERIFY, "%s holds no OpenPGP signature that can be read (%s)", what,
	                rnp_result_to_string(exec));
}

/* RNP pulls the data; the file is read with pread so that the caller's
 * offset stays, and the context's cancel flag is honoured between reads. */
typedef struct fd_reader {
	imgfetch_ctx *ctx;
	int fd;
	uint64_t off;
	int err;
} fd_reader;

static bool fd_read(void *u, void *buf, size_t len, size_t *nread)
{
	fd_reader *f = u;
	if (ifx_cancelled(f->ctx)) {
		f->err = ECANCELED;
		return false;
	}
	ssize_t n = pread_upto(f->fd, buf, len, f->off);
	if (n < 0) {
		f->err = errno;
		return false;
	}
	f->off += (uint64_t)n;
	*nread = (size_t)n;
	return true;
}

imgfetch_status pgp_verify(imgfetch_ctx *ctx, const trust_keys *keys, const char *what, const void *sig,
                           size_t sig_len, const void *data, size_t data_len, int data_fd, char **ret_text,
                           size_t *ret_text_len, imgfetch_signature *ret_sig)
{
	fd_reader fr = { .ctx = ctx, .fd = data_fd };
	loaded l;
	rnp_input_t sig_in = NULL, data_in = NULL;
	rnp_output_t out = NULL;
	rnp_op_verify_t op = NULL;
	judged best = { 0 };
	imgfetch_status st;

	if (sig_len == 0)
		return ifx_fail(ctx, IMGFETCH_E_VERIFY, "the signature for %s is empty", what);
	if (trust_keys_count(keys, false) == 0)
		return ifx_fail(ctx, IMGFETCH_E_VERIFY, "no OpenPGP keys to check the signature on %s with (looked in %s); %s",
		                what, keys->searched ? keys->searched : "nowhere", update_hint);
	st = load(ctx, keys, &l);
	if (st < 0)
		goto done;

	rnp_result_t r = rnp_input_from_memory(&sig_in, sig, sig_len, false);
	if (r == RNP_SUCCESS && data) {
		/* RNP refuses a zero-length memory input; nothing signed is worth
		 * nothing anyway. */
		if (data_len == 0) {
			st = ifx_fail(ctx, IMGFETCH_E_VERIFY, "%s is empty; there is nothing to verify", what);
			goto done;
		}
		r = rnp_input_from_memory(&data_in, data, data_len, false);
		if (r == RNP_SUCCESS)
			r = rnp_op_verify_detached_create(&op, l.ffi, data_in, sig_in);
	} else if (r == RNP_SUCCESS && data_fd >= 0) {
		r = rnp_input_from_callback(&data_in, fd_read, NULL, &fr);
		if (r == RNP_SUCCESS)
			r = rnp_op_verify_detached_create(&op, l.ffi, data_in, sig_in);
	} else if (r == RNP_SUCCESS) {
		r = rnp_output_to_memory(&out, IMGFETCH_SUMS_MAX_BYTES);
		if (r == RNP_SUCCESS)
			r = rnp_op_verify_create(&op, l.ffi, sig_in, out);
	}
	if (r != RNP_SUCCESS) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot start verifying %s: %s", what, rnp_result_to_string(r));
		goto done;
	}
	rnp_result_t exec = rnp_op_verify_execute(op);
	if (fr.err) {
		st = fr.err == ECANCELED ? ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled while verifying %s", what)
		                         : ifx_fail(ctx, IMGFETCH_E_FAILED, "reading %s: %s", what, strerror(fr.err));
		goto done;
	}

	/* Never the overall result alone: it is "success" for an expired
	 * signature too. One signature that is good by a key valid now is
	 * needed; every signature is looked at, and the best explanation of a
	 * failure kept. */
	size_t n = 0;
	rnp_op_verify_get_signature_count(op, &n);
	for (size_t i = 0; i < n && best.v != V_OK; i++) {
		rnp_op_verify_signature_t s = NULL;
		if (rnp_op_verify_get_signature_at(op, i, &s) != RNP_SUCCESS)
			continue;
		rnp_result_t ss = rnp_op_verify_signature_get_status(s);
		judged j = { .v = ss == RNP_SUCCESS                   ? V_OK
		                  : ss == RNP_ERROR_KEY_NOT_FOUND     ? V_UNKNOWN_KEY
		                  : ss == RNP_ERROR_SIGNATURE_EXPIRED ? V_SIG_EXPIRED
		                                                      : V_BAD };
		describe(&l, keys, s, &j);
		if (j.v > best.v) {
			signature_clear(&best.sig);
			best = j;
		} else {
			signature_clear(&j.sig);
		}
	}
	if (best.v == V_OK && (!best.sig.fingerprint || strlen(best.sig.fingerprint) != 40))
		best.v = V_BAD;
	if (best.v != V_OK) {
		st = explain(ctx, keys, what, &best, exec);
		goto done;
	}
	if (!data && data_fd < 0) {
		/* The output holds only the literal data of the signed part: text
		 * before the armour header is refused by RNP, text after the
		 * signature is not output. */
		uint8_t *buf = NULL;
		size_t len = 0;
		if (rnp_output_memory_get_buf(out, &buf, &len, false) != RNP_SUCCESS) {
			st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot read the signed text of %s", what);
			goto done;
		}
		char *t = malloc(len + 1);
		if (!t) {
			st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
			goto done;
		}
		if (len)
			memcpy(t, buf, len);
		t[len] = '\0';
		*ret_text = t;
		*ret_text_len = len;
	}
	best.sig.scheme = strdup("openpgp");
	*ret_sig = best.sig;
	best.sig = (imgfetch_signature){ 0 };
	st = IMGFETCH_OK;
done:
	signature_clear(&best.sig);
	rnp_op_verify_destroy(op);
	rnp_input_destroy(data_in);
	rnp_input_destroy(sig_in);
	rnp_output_destroy(out);
	loaded_free(&l);
	return st;
}
