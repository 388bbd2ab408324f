/* SPDX-License-Identifier: MIT */
/* Oracle Linux's template parser: pure, for the resolver and its fuzz target. */
#pragma once

#include <stddef.h>

typedef struct oracle_pick {
	char *version;  /* "9.8" */
	char *path;     /* image path under the yum base, no leading '/' */
	char *file;     /* "OL9U8_x86_64-kvm-b293.qcow2" */
	char *sha256;   /* lowercase hex */
} oracle_pick;

/* Reads a templates/OracleLinux/ol<N>[_aarch64-cloud]-template.json: the
 * KVM image ("kvm-cloud" preferred over "kvm" on aarch64, whose plain kvm
 * image lacks cloud-init). 0; -EBADMSG with a message in err; -ENOMEM. */
int oracle_parse_template(const char *json, size_t len, const char *arch, oracle_pick *ret, char *err,
                          size_t errlen);
void oracle_pick_clear(oracle_pick *p);

/* The fallback: the templates landing page (oracle-linux-templates.html),
 * whose rows carry <a class="kvm-image" href=…> and <tt class="kvm-sha256">.
 * Picks the newest update of `major` (0: of the newest major) for arch,
 * from file names OL<M>U<U>_<arch>-kvm[-cloud]-b<build>.qcow2. 0; -ENOENT
 * (nothing for that major/arch); -EBADMSG with a message; -ENOMEM. */
int oracle_parse_html(const char *html, size_t len, const char *arch, unsigned major, oracle_pick *ret, char *err,
                      size_t errlen);
