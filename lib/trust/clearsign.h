/* SPDX-License-Identifier: MIT */
/*
 * The framing of an OpenPGP clearsigned message (RFC 4880 §7), without the
 * cryptography: where the signed text starts and ends. Used only when the
 * caller chose not to check the signature (--verify checksum), so that even
 * then nothing outside the signed part — lines before the header, after the
 * signature — is read as part of the file.
 */
#pragma once

#include <stddef.h>

/* Copies the cleartext of a clearsigned message into *ret (NUL-terminated,
 * caller frees), dash-escaping undone, line ends kept as given. 0; -EBADMSG
 * when the framing is wrong (*why says how); -EFBIG over
 * IMGFETCH_SUMS_MAX_BYTES; -ENOMEM. */
int clearsign_body(const char *text, size_t len, char **ret, size_t *ret_len, const char **why);
