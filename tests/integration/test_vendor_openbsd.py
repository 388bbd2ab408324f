# SPDX-License-Identifier: MIT
"""openbsd: GitHub releases API of hcartiaux/openbsd-cloud-image + release
assets, served by nginx as a mirror."""

from harness import check, eq, listing
from vendor_mirror import AUTOINDEX, VendorMirror

LATEST = "v7.8_2025-10-22-15-14"


def _mirror(t):
    m = VendorMirror(t.tmp / "mirror", ["openbsd"])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    return m, ng, m.mirror_args(ng)


def _resolve(t, args, *extra):
    return t.run("resolve", "openbsd", *extra, "--json", *args).ok().json()


def test_openbsd_tokens(t):
    m, ng, args = _mirror(t)
    j = _resolve(t, args)
    eq((j["release"], j["series"], j["version"], j["arch"]), ("latest", "7.8", LATEST, "x86_64"), "latest")
    eq(j["url"], ng.url("/openbsd/download/%s/openbsd-min.qcow2" % LATEST), "asset URL under the mirror")
    eq((j["verifier"], j["format"], j["os"], j["file_name"]), ("sidecar", "qcow2", "bsd", "openbsd-min.qcow2"),
       "verifier, format, os, file")
    for token, version in (("7.8", LATEST), ("7.7", "v7.7_2025-05-01-10-20"), (LATEST, LATEST),
                           ("7.8_2025-10-10-09-00", "v7.8_2025-10-10-09-00")):
        j = _resolve(t, args, token)
        eq((j["release"], j["version"]), (token, version), "token " + token)


def test_openbsd_unknown_release_and_arch(t):
    m, ng, args = _mirror(t)
    for token in ("7.9", "7.6", "v7.8_2025-10-01-00-00"):
        r = t.run("resolve", "openbsd", token, *args).expect_rc(5)
        check("7.8" in r.stderr and "7.7" in r.stderr, "lists what exists: %r" % r.stderr)
    r = t.run("resolve", "openbsd", "--arch", "aarch64", *args).expect_rc(5)
    check("x86_64" in r.stderr, "names the architectures that exist: %r" % r.stderr)


def test_openbsd_malformed_feed(t):
    m, ng, args = _mirror(t)
    feed = m.root / "openbsd" / "api" / "releases"
    text = feed.read_text()
    for bad in (text[:len(text) // 2], "[]", '{"message": "API rate limit exceeded"}', '[{"tag_name": 3}]', ""):
        feed.write_text(bad)
        r = t.run("resolve", "openbsd", *args).expect_rc(6)
        check("/openbsd/api/releases" in r.stderr, "message names the feed: %r" % r.stderr)


def test_openbsd_fetch_and_mismatch(t):
    m, ng, args = _mirror(t)
    out = t.dir("out")
    j = t.run("fetch", "openbsd", "-o", out, "--cache-dir", t.dir("cache"), "--json", *args, timeout=60).ok().json()
    name = "openbsd-7.8-%s.x86_64.raw" % LATEST
    eq(j["path"], str(out / name), "output path")
    eq((out / name).read_bytes(), m.images.raw.read_bytes(), "raw output is the image's disk")
    side = m.root / "openbsd" / "download" / "v7.7_2025-05-01-10-20" / "openbsd-min.qcow2.sha256"
    side.write_text("0" * 64 + "  images/openbsd-min.qcow2\n")
    out2 = t.dir("out2")
    t.run("fetch", "openbsd", "7.7", "-o", out2, "--cache-dir", t.dir("cache2"), *args, timeout=60).expect_rc(3)
    eq(listing(out2), set(), "nothing written after a mismatch")
