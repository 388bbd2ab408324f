# SPDX-License-Identifier: MIT
"""smartos: the Manta `latest` pointer + per-build sha256sums.txt, served by
nginx as a mirror."""

from harness import check, eq, listing
from vendor_mirror import AUTOINDEX, VendorMirror

LATEST = "20261105T000000Z"
OLDER = "20261022T000000Z"


def _mirror(t):
    m = VendorMirror(t.tmp / "mirror", ["smartos"])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    return m, ng, m.mirror_args(ng)


def _resolve(t, args, *extra):
    return t.run("resolve", "smartos", *extra, "--json", *args).ok().json()


def test_smartos_tokens(t):
    m, ng, args = _mirror(t)
    j = _resolve(t, args)
    eq((j["release"], j["series"], j["version"], j["arch"]), ("latest", "rolling", LATEST, "x86_64"), "latest")
    eq(j["url"], ng.url("/smartos/manta/%s/smartos-%s-USB.img.gz" % (LATEST, LATEST)), "image URL")
    eq(j["sums_url"], ng.url("/smartos/manta/%s/sha256sums.txt" % LATEST), "sums URL")
    eq((j["verifier"], j["format"], j["os"]), ("sums", "raw.gz", "illumos"), "verifier, format, os")
    check("not a cloud-init" in j["description"], "description says so: %r" % j["description"])
    j = _resolve(t, args, OLDER)
    eq((j["release"], j["version"], j["file_name"]), (OLDER, OLDER, "smartos-%s-USB.img.gz" % OLDER), "release id")


def test_smartos_unknown_release_and_arch(t):
    m, ng, args = _mirror(t)
    for token in ("20250101T000000Z", "2026", "stable"):
        r = t.run("resolve", "smartos", token, *args).expect_rc(5)
        check(LATEST in r.stderr and OLDER in r.stderr, "lists what exists (%s): %r" % (token, r.stderr))
    r = t.run("resolve", "smartos", "--arch", "aarch64", *args).expect_rc(5)
    check("x86_64" in r.stderr, "names the architectures that exist: %r" % r.stderr)


def test_smartos_malformed_feed(t):
    m, ng, args = _mirror(t)
    ptr = m.root / "smartos" / "manta" / "latest"
    for bad in ("", "<html>error</html>\n", "/Joyent_Dev/public/SmartOS/garbage\n", "relative/" + LATEST):
        ptr.write_text(bad)
        r = t.run("resolve", "smartos", *args).expect_rc(6)
        check("/smartos/manta/latest" in r.stderr, "message names the pointer: %r" % r.stderr)
    # A sums file without the image is malformed too, and named.
    ptr.write_text("/Joyent_Dev/public/SmartOS/%s/\n" % LATEST)
    (m.root / "smartos" / "manta" / LATEST / "sha256sums.txt").write_text("0" * 64 + "  other.iso\n")
    r = t.run("resolve", "smartos", *args).expect_rc(6)
    check("sha256sums.txt" in r.stderr, "message names the sums file: %r" % r.stderr)


def test_smartos_fetch_and_mismatch(t):
    m, ng, args = _mirror(t)
    out = t.dir("out")
    j = t.run("fetch", "smartos", "-o", out, "--cache-dir", t.dir("cache"), "--json", *args, timeout=60).ok().json()
    name = "smartos-rolling-%s.x86_64.raw" % LATEST
    eq(j["path"], str(out / name), "output path")
    eq((out / name).read_bytes(), m.images.raw.read_bytes(), "raw output is the image's disk")
    sums = m.root / "smartos" / "manta" / OLDER / "sha256sums.txt"
    sums.write_text("%s  smartos-%s-USB.img.gz\n" % ("0" * 64, OLDER))
    out2 = t.dir("out2")
    t.run("fetch", "smartos", OLDER, "-o", out2, "--cache-dir", t.dir("cache2"), *args, timeout=60).expect_rc(3)
    eq(listing(out2), set(), "nothing written after a mismatch")
