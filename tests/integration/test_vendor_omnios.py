# SPDX-License-Identifier: MIT
"""omnios: channel directory listings + bare .sha256 sidecars, served by
nginx as a mirror."""

from harness import check, eq, listing
from vendor_mirror import AUTOINDEX, VendorMirror


def _mirror(t):
    m = VendorMirror(t.tmp / "mirror", ["omnios"])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    return m, ng, m.mirror_args(ng)


def _resolve(t, args, *extra):
    return t.run("resolve", "omnios", *extra, "--json", *args).ok().json()


def test_omnios_tokens(t):
    m, ng, args = _mirror(t)
    j = _resolve(t, args)
    eq((j["release"], j["series"], j["version"], j["arch"]), ("latest", "stable", "r151056", "x86_64"), "latest")
    eq(j["url"], ng.url("/omnios/media/stable/omnios-r151056.cloud.vmdk"), "image URL under the mirror")
    eq((j["verifier"], j["format"], j["os"]), ("sidecar", "vmdk", "illumos"), "verifier, format, os")
    for token, series, version in (("stable", "stable", "r151056"), ("lts", "lts", "r151054r"),
                                   ("bloody", "bloody", "20261115"), ("r151056", "stable", "r151056"),
                                   ("r151054", "lts", "r151054r"), ("r151054r", "lts", "r151054r")):
        j = _resolve(t, args, token)
        eq((j["release"], j["series"], j["version"]), (token, series, version), "token " + token)
    eq(j["file_name"], "omnios-r151054r.cloud.vmdk", "file name")


def test_omnios_unknown_release_and_arch(t):
    m, ng, args = _mirror(t)
    for token in ("r151052", "r151054a", "weekly"):
        r = t.run("resolve", "omnios", token, *args).expect_rc(5)
        check("r151056" in r.stderr and "r151054r" in r.stderr and "lts" in r.stderr,
              "lists what exists: %r" % r.stderr)
    r = t.run("resolve", "omnios", "--arch", "aarch64", *args).expect_rc(5)
    check("x86_64" in r.stderr, "names the architectures that exist: %r" % r.stderr)


def test_omnios_malformed_listing(t):
    m, ng, args = _mirror(t)
    # nginx serves index.html for the directory: a page that lists no image.
    (m.root / "omnios" / "media" / "stable" / "index.html").write_text("<html><body>maintenance</body></html>")
    r = t.run("resolve", "omnios", *args).expect_rc(6)
    check("/omnios/media/stable/" in r.stderr, "message names the listing: %r" % r.stderr)


def test_omnios_fetch_and_mismatch(t):
    m, ng, args = _mirror(t)
    out = t.dir("out")
    j = t.run("fetch", "omnios", "-o", out, "--cache-dir", t.dir("cache"), "--json", *args, timeout=60).ok().json()
    name = "omnios-stable-r151056.x86_64.raw"
    eq(j["path"], str(out / name), "output path")
    eq((out / name).read_bytes(), m.images.raw.read_bytes(), "raw output is the image's disk")
    (m.root / "omnios" / "media" / "lts" / "omnios-r151054r.cloud.vmdk.sha256").write_text("0" * 64 + "\n")
    out2 = t.dir("out2")
    t.run("fetch", "omnios", "lts", "-o", out2, "--cache-dir", t.dir("cache2"), *args, timeout=60).expect_rc(3)
    eq(listing(out2), set(), "nothing written after a mismatch")
