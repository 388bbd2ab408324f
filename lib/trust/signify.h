/* SPDX-License-Identifier: MIT */
/*
 * OpenBSD signify(1) files: Ed25519 public keys and signatures, detached or
 * with the signed message embedded (`signify -S -e`, the form of OpenBSD's
 * SHA256.sig), and their verification.
 *
 * Both file kinds are two lines, "untrusted comment: <text>\n" and the base64
 * of a binary record, "\n"-terminated; an embedded signature is followed by
 * the message itself, to the end of the file. The comment is not covered by
 * any signature, so nothing here returns it: it cannot be allowed to decide
 * anything.
 *
 * Pure functions on the caller's buffers: nothing is allocated that outlives
 * a call, nothing is printed, a failure is explained by a static string
 * stored in *why (only on failure, and only when why is non-NULL).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <imgfetch/imgfetch.h>

/* A signed SHA256 list is a few KiB; the cap is the one checksum files have. */
#define SIGNIFY_MAX_BYTES IMGFETCH_SUMS_MAX_BYTES

typedef struct signify_key {
	uint8_t keynum[8];
	uint8_t pub[32];
} signify_key;

typedef struct signify_sig {
	uint8_t keynum[8];
	uint8_t sig[64];
	const char *message; /* embedded message inside the parsed text (not copied), or NULL when detached */
	size_t message_len;
} signify_sig;

/* True when text starts like a signify file ("untrusted comment: "). */
bool signify_looks_like(const char *text, size_t len);

/*
 * Parse a public key file / a signature file. The framing is exact: the
 * comment line starts with "untrusted comment: " followed by 1..1023 bytes
 * (signify's own limit) without NUL or CR; the second line is the canonical
 * base64 of exactly the record's size and nothing else; lines end in "\n"
 * only (CRLF is refused); the algorithm is "Ed". A key file ends after its
 * second line; whatever follows a signature's second line is its embedded
 * message (none: a detached signature, message NULL).
 * 0, or -EBADMSG (malformed; *why = static reason), -EFBIG (over the cap),
 * -EINVAL (ret NULL, or text NULL with len > 0). On failure *ret is untouched.
 */
int signify_parse_key(const char *text, size_t len, signify_key *ret, const char **why);
int signify_parse_sig(const char *text, size_t len, signify_sig *ret, const char **why);

/*
 * Verifies msg against sig with whichever of keys[0..n) has sig's keynum
 * (when several do, each is tried in order; the first that verifies counts).
 * For an embedded signature pass sig->message / sig->message_len as msg.
 * 0 valid; -ENOKEY no key with that keynum; -EBADMSG signature invalid;
 * -ENOMEM; -EINVAL (sig NULL, keys NULL with n > 0, msg NULL with
 * msg_len > 0). *why static. *which = index of the key used (may be NULL),
 * written only on success.
 */
int signify_verify(const signify_key *keys, size_t n, const signify_sig *sig, const void *msg, size_t msg_len,
                   size_t *which, const char **why);

/* Lowercase hex of the keynum, 17 bytes, for messages ("key 0123456789abcdef"). */
void signify_keynum_hex(const uint8_t keynum[8], char out[17]);
