# SPDX-License-Identifier: MIT
"""fetch VENDOR --push REF: a vendor image mirrored into a registry in one
command, then pulled back by another host (here: another pull) by tag."""

import json

from harness import check, eq
from registry import start_registry
from vendor_mirror import AUTOINDEX, VendorMirror


def test_fetch_push_then_pull(t):
    m = VendorMirror(t.tmp / "mirror", ["alpine"])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    reg = start_registry(t, auth="htpasswd", users={"alice": "s3cret-push"})
    auth = t.tmp / "auth.json"
    auth.write_text(json.dumps({"auths": {reg.host: {"username": "alice", "password": "s3cret-push"}}}))
    out = t.dir("out")
    ref = reg.ref("mirror/alpine", "3.23")
    r = t.run("fetch", "alpine", "-o", out, "--cache-dir", t.dir("cache"), "--push", ref, "--authfile", auth,
              "--cacert", reg.cacert, "--json", *m.mirror_args(ng), timeout=120).ok()
    j = r.json()
    check(j["pushed"].startswith(reg.host + "/mirror/alpine:3.23@sha256:"), "pushed reference: %s" % j["pushed"])
    check("s3cret-push" not in r.stdout + r.stderr, "password never printed")
    ins = t.run("inspect", ref, "--cacert", reg.cacert, "--authfile", auth, "--json").ok().json()
    text = json.dumps(ins)
    for want in ("application/vnd.imgfetch.image.v1", "application/vnd.imgfetch.image.metadata.v1+json",
                 "application/vnd.imgfetch.disk.raw", "3.23.4", "linux/amd64"):
        check(want in text, "manifest carries %s: %s" % (want, text[:600]))
    pulled = t.dir("pulled") / "alpine.raw"
    t.run("pull", ref, "-o", pulled, "--cacert", reg.cacert, "--authfile", auth, timeout=120).ok()
    eq(pulled.read_bytes(), m.images.raw.read_bytes(), "the pulled image is the fetched one")
    r = t.run("fetch", "alpine", "--dry-run", "-o", out, "--push", ref, *m.mirror_args(ng)).ok()
    check("push to:" in r.stdout, "the plan names the push target")
