# SPDX-License-Identifier: MIT
"""arch: images/ listing + per-image .SHA256, served by nginx as a mirror."""

from harness import check, eq, listing
from vendor_mirror import AUTOINDEX, VendorMirror


def _mirror(t):
    m = VendorMirror(t.tmp / "mirror", ["arch"])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    return m, ng, m.mirror_args(ng)


def _resolve(t, args, *extra):
    return t.run("resolve", "arch", *extra, "--json", *args).ok().json()


def test_arch_tokens(t):
    m, ng, args = _mirror(t)
    j = _resolve(t, args)
    eq((j["release"], j["version"], j["arch"]), ("latest", "20261101.123456", "x86_64"), "latest: lexically max")
    eq(j["file_name"], "Arch-Linux-x86_64-cloudimg-20261101.123456.qcow2", "cloud image, not basic")
    eq(j["url"], ng.url("/arch/images/v20261101.123456/" + j["file_name"]), "image URL")
    eq(j["sums_url"], j["url"] + ".SHA256", "the upper-case sidecar as a sums file")
    eq((j["verifier"], j["format"], j["os"]), ("sums", "qcow2", "linux"), "verifier, format, os")
    for token, version in (("v20261015.400001", "20261015.400001"), ("20260915.99999", "20260915.99999")):
        j = _resolve(t, args, token)
        eq((j["release"], j["version"]), (token, version), "token " + token)


def test_arch_unknown_release_and_arch(t):
    m, ng, args = _mirror(t)
    for bad in ("20200101.1", "v2026", "latest/"):
        r = t.run("resolve", "arch", bad, *args).expect_rc(5)
        check("20261101.123456, 20261015.400001, 20260915.99999" in r.stderr, "lists the builds: %r" % r.stderr)
    r = t.run("resolve", "arch", "--arch", "aarch64", *args).expect_rc(5)
    check("x86_64" in r.stderr, "names the architecture that exists: %r" % r.stderr)


def test_arch_malformed_listing(t):
    m, ng, args = _mirror(t)
    (m.root / "arch" / "images" / "index.html").write_text("<html><a href=\"https://archlinux.org/\">x</a></html>")
    r = t.run("resolve", "arch", *args).expect_rc(6)
    check(ng.url("/arch/images/") in r.stderr, "message names the listing: %r" % r.stderr)


def test_arch_fetch_and_mismatch(t):
    m, ng, args = _mirror(t)
    out = t.dir("out")
    j = t.run("fetch", "arch", "-o", out, "--cache-dir", t.dir("cache"), "--json", *args, timeout=120).ok().json()
    name = "arch-20261101-20261101.123456.x86_64.raw"
    eq(j["path"], str(out / name), "output path")
    eq((out / name).read_bytes(), m.images.raw.read_bytes(), "raw output is the image's disk")
    b = "20261015.400001"
    side = m.root / "arch" / "images" / ("v" + b) / (m.facts["arch"]["files"][b] + ".SHA256")
    side.write_text("%s  %s\n" % ("0" * 64, m.facts["arch"]["files"][b]))
    out2 = t.dir("out2")
    t.run("fetch", "arch", b, "-o", out2, "--cache-dir", t.dir("cache2"), *args, timeout=60).expect_rc(3)
    eq(listing(out2), set(), "nothing written after a mismatch")
