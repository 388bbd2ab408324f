/* SPDX-License-Identifier: MIT */
/*
 * OpenPGP signature verification, in process, with RNP (librnp). Each call
 * builds its own RNP instance from the keys given and destroys it: RNP has
 * no internal locking, and nothing outside the call (no gpg home, agent or
 * keyring file) is read or written.
 */
#pragma once

#include "core/ctx.h"
#include "trust/keys.h"

/* True when a line of text starts a clearsigned message ("-----BEGIN PGP
 * SIGNED MESSAGE-----"), wherever it is. */
bool pgp_is_clearsigned(const char *text, size_t len);

/*
 * Verifies an OpenPGP signature made by one of `keys`:
 *   data != NULL   `sig` is a detached signature (binary or armoured) over data;
 *   data_fd >= 0   the same over the file open at data_fd, read once from
 *                  offset 0 to its end (pread: the fd's offset is untouched);
 *   neither        `sig` is a clearsigned (or inline-signed) message, and on
 *                  success *ret_text (NUL-terminated, caller frees) holds the
 *                  literal data that the signature covers, nothing else.
 * `what` names the signed file in messages. Success needs one signature
 * whose own status is good and whose key is neither expired nor revoked now.
 * On success *ret_sig gets scheme, fingerprint, signing_key, uid, key_file
 * and created (the caller owns the strings). Errors: IMGFETCH_E_VERIFY with a
 * message that names the key's fingerprint and what to do; IMGFETCH_E_FAILED.
 */
imgfetch_status pgp_verify(imgfetch_ctx *ctx, const trust_keys *keys, const char *what, const void *sig,
                           size_t sig_len, const void *data, size_t data_len, int data_fd, char **ret_text,
                           size_t *ret_text_len, imgfetch_signature *ret_sig);

/* Frees the strings of a signature record (not the record). */
void signature_clear(imgfetch_signature *s);
