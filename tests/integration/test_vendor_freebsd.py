# SPDX-License-Identifier: MIT
"""freebsd: VM-IMAGES listings + BSD CHECKSUM.SHA256, served by nginx as a mirror."""

from harness import check, eq, listing
from vendor_mirror import AUTOINDEX, VendorMirror


def _mirror(t):
    m = VendorMirror(t.tmp / "mirror", ["freebsd"])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    return m, ng, m.mirror_args(ng)


def _resolve(t, args, *extra):
    return t.run("resolve", "freebsd", *extra, "--json", *args).ok().json()


def test_freebsd_tokens(t):
    m, ng, args = _mirror(t)
    j = _resolve(t, args)
    eq((j["release"], j["series"], j["version"], j["arch"]), ("latest", "15", "15.0", "x86_64"),
       "latest is the numerically highest X.Y-RELEASE")
    eq(j["file_name"], "FreeBSD-15.0-RELEASE-amd64-BASIC-CLOUDINIT-ufs.raw.xz", "BASIC-CLOUDINIT ufs")
    eq(j["url"], ng.url("/freebsd/download/15.0-RELEASE/amd64/Latest/" + j["file_name"]), "image URL")
    eq(j["sums_url"], ng.url("/freebsd/www/releases/15.0R/checksums/CHECKSUM.SHA256-FreeBSD-15.0-RELEASE-amd64-vm.asc"),
       "sums URL: the clearsigned list on the web site")
    eq(j["evidence"], "signature", "evidence")
    eq((j["verifier"], j["format"], j["os"]), ("sums", "raw.xz", "bsd"), "verifier, format, os")
    for token, version in (("15.0", "15.0"), ("14.3", "14.3"), ("14.3-RELEASE", "14.3"), ("15.0-RELEASE", "15.0")):
        j = _resolve(t, args, token)
        eq((j["release"], j["version"]), (token, version), "token " + token)
    j = _resolve(t, args, "--arch", "aarch64")
    eq(j["file_name"], "FreeBSD-15.0-RELEASE-arm64-aarch64-BASIC-CLOUDINIT-ufs.raw.xz", "aarch64 file token")
    eq(j["url"], ng.url("/freebsd/download/15.0-RELEASE/aarch64/Latest/" + j["file_name"]), "aarch64 dir token")


def test_freebsd_unknown_release_and_arch(t):
    m, ng, args = _mirror(t)
    for bad in ("13.9", "15.1", "15.1-BETA2", "latest-RELEASE"):
        r = t.run("resolve", "freebsd", bad, *args).expect_rc(5)
        check("15.0, 14.3, 9.3" in r.stderr, "lists the releases, newest first: %r" % r.stderr)
    r = t.run("resolve", "freebsd", "14.3", "--arch", "aarch64", *args).expect_rc(5)
    check("x86_64" in r.stderr and "aarch64 image" in r.stderr, "names the architectures that exist: %r" % r.stderr)


def test_freebsd_malformed_listing(t):
    m, ng, args = _mirror(t)
    top = m.root / "freebsd" / "download"
    # An error page or captive portal where the index should be.
    (top / "index.html").write_text("<html><body>Service temporarily unavailable</body></html>")
    r = t.run("resolve", "freebsd", *args).expect_rc(6)
    check(ng.url("/freebsd/download/") in r.stderr, "message names the listing: %r" % r.stderr)


def test_freebsd_fetch_and_mismatch(t):
    m, ng, args = _mirror(t)
    out = t.dir("out")
    j = t.run("fetch", "freebsd", "14.3", "-o", out, "--cache-dir", t.dir("cache"), "--json", *args,
              timeout=120).ok().json()
    name = "freebsd-14-14.3.x86_64.raw"
    eq(j["path"], str(out / name), "output path")
    eq((out / name).read_bytes(), m.images.raw.read_bytes(), "raw output is the image's disk")
    # The signed list on the web site, replaced by an unsigned one with another digest.
    sums = m.root / "freebsd" / "www" / "releases" / "15.0R" / "checksums" / \
        "CHECKSUM.SHA256-FreeBSD-15.0-RELEASE-amd64-vm.asc"
    f = m.facts["freebsd"]["files"]["15.0/amd64"]
    sums.write_text("".join("SHA256 (%s) = %s\n" % (f, "0" * 64) if ("(%s)" % f) in line else line
                            for line in sums.read_text().splitlines(True)))
    out2 = t.dir("out2")
    t.run("fetch", "freebsd", "-o", out2, "--cache-dir", t.dir("cache2"), *args, timeout=60).expect_rc(3)
    eq(listing(out2), set(), "nothing written after a mismatch")
