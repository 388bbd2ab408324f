# SPDX-License-Identifier: MIT
"""almalinux: repository listings, dated GenericCloud builds, GNU CHECKSUM."""

from harness import check, eq, listing
from vendor_mirror import AUTOINDEX, VendorMirror

V = "almalinux"


def _mirror(t):
    m = VendorMirror(t.tmp / "mirror", [V])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    return m, ng, m.mirror_args(ng)


def _resolve(t, args, *extra):
    return t.run("resolve", V, *extra, "--json", *args).ok().json()


def test_almalinux_tokens(t):
    m, ng, args = _mirror(t)
    j = _resolve(t, args)
    eq((j["release"], j["series"], j["version"]), ("latest", "10", "10.2-20260526.0"), "latest")
    eq(j["file_name"], "AlmaLinux-10-GenericCloud-10.2-20260526.0.x86_64.qcow2", "dated GenericCloud, not ext4")
    eq(j["url"], ng.url("/almalinux/repo/10/cloud/x86_64/images/" + j["file_name"]), "URL")
    eq(j["sums_url"], ng.url("/almalinux/repo/10/cloud/x86_64/images/CHECKSUM"), "sums URL")
    eq(j["verifier"], "sums", "verifier")
    for token, name in (("10", "AlmaLinux-10-GenericCloud-10.2-20260526.0.x86_64.qcow2"),
                        ("10.1", "AlmaLinux-10-GenericCloud-10.1-20251125.0.x86_64.qcow2"),
                        ("9", "AlmaLinux-9-GenericCloud-9.8-20260526.x86_64.qcow2"),
                        ("9.6", "AlmaLinux-9-GenericCloud-9.6-20250522.x86_64.qcow2"),
                        ("8", "AlmaLinux-8-GenericCloud-8.10-20250101.x86_64.qcow2"),
                        ("8.10", "AlmaLinux-8-GenericCloud-8.10-20250101.x86_64.qcow2")):
        eq(_resolve(t, args, token)["file_name"], name, "token " + token)
    eq(_resolve(t, args, "--arch", "aarch64")["file_name"], "AlmaLinux-10-GenericCloud-10.2-20260526.0.aarch64.qcow2",
       "aarch64")


def test_almalinux_unknown_and_malformed(t):
    m, ng, args = _mirror(t)
    # A root index that is not a release listing (truncated, or another page): a
    # malformed feed; the image listing tests below are a plain miss.
    idx = m.root / V / "repo" / "index.html"
    for bad in ('<html><body><pre><a href="../">../</a>\n<a href="RPM-GPG', '<html>nope</html>'):
        idx.write_text(bad)
        r = t.run("resolve", V, *args).expect_rc(6)
        check("lists no" in r.stderr, "names the problem: %r" % r.stderr)
    idx.unlink()
    r = t.run("resolve", V, "11", *args).expect_rc(5)
    check("10" in r.stderr and "9.6" in r.stderr, "lists releases: %r" % r.stderr)
    t.run("resolve", V, "9", "--arch", "aarch64", *args).expect_rc(5)
    # An images listing without the dated image.
    d = m.root / V / "repo" / "10.2" / "cloud" / "x86_64" / "images"
    (d / "AlmaLinux-10-GenericCloud-10.2-20260526.0.x86_64.qcow2").unlink()
    (d / "AlmaLinux-10-GenericCloud-10.2-20260410.0.x86_64.qcow2").unlink()
    r = t.run("resolve", V, *args).expect_rc(5)
    check("images" in r.stderr, "names the directory: %r" % r.stderr)


def test_almalinux_fetch_and_mismatch(t):
    m, ng, args = _mirror(t)
    out, cache = t.dir("out"), t.dir("cache")
    j = t.run("fetch", V, "-o", out, "--cache-dir", cache, "--json", *args, timeout=120).ok().json()
    eq(open(j["path"], "rb").read(), m.images.raw.read_bytes(), "raw output is the image's disk")
    d = m.root / V / "repo" / "9.6" / "cloud" / "x86_64" / "images"
    (d / "CHECKSUM").write_text("%s  AlmaLinux-9-GenericCloud-9.6-20250522.x86_64.qcow2\n" % ("0" * 64))
    out2 = t.dir("out2")
    t.run("fetch", V, "9.6", "-o", out2, "--cache-dir", t.dir("cache2"), *args, timeout=60).expect_rc(3)
    eq(listing(out2), set(), "nothing written after a mismatch")
