# SPDX-License-Identifier: MIT
"""centos-stream: listings, newest build that CHECKSUM already lists."""

from harness import check, eq, listing
from vendor_mirror import AUTOINDEX, VendorMirror

V = "centos-stream"


def _mirror(t):
    m = VendorMirror(t.tmp / "mirror", [V])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    return m, ng, m.mirror_args(ng)


def _resolve(t, args, *extra):
    return t.run("resolve", V, *extra, "--json", *args).ok().json()


def test_centos_stream_tokens(t):
    m, ng, args = _mirror(t)
    j = _resolve(t, args)
    eq((j["release"], j["series"], j["version"]), ("latest", "10", "10-20260720.0"), "latest")
    eq(j["file_name"], m.facts[V]["latest_file"], "newest build with a CHECKSUM line")
    eq(j["url"], ng.url("/centos-stream/cloud/10-stream/x86_64/images/" + j["file_name"]), "URL")
    eq(j["sums_url"], ng.url("/centos-stream/cloud/10-stream/x86_64/images/CHECKSUM"), "sums URL")
    eq(j["verifier"], "sums", "verifier")
    for token, name in (("10", m.facts[V]["latest_file"]), ("10-stream", m.facts[V]["latest_file"]),
                        ("9", "CentOS-Stream-GenericCloud-9-20260715.0.x86_64.qcow2")):
        eq(_resolve(t, args, token)["file_name"], name, "token " + token)
    eq(_resolve(t, args, "--arch", "aarch64")["file_name"], "CentOS-Stream-GenericCloud-10-20260720.0.aarch64.qcow2",
       "aarch64")


def test_centos_stream_unknown_and_malformed(t):
    m, ng, args = _mirror(t)
    # A root index that is not a release listing (truncated, or another page): a
    # malformed feed; the image listing tests below are a plain miss.
    idx = m.root / V / "cloud" / "index.html"
    for bad in ('<html><body><pre><a href="../">../</a>\n<a href="RPM-GPG', '<html>nope</html>'):
        idx.write_text(bad)
        r = t.run("resolve", V, *args).expect_rc(6)
        check("lists no" in r.stderr, "names the problem: %r" % r.stderr)
    idx.unlink()
    r = t.run("resolve", V, "11", *args).expect_rc(5)
    check("10" in r.stderr and "9" in r.stderr, "lists streams: %r" % r.stderr)
    t.run("resolve", V, "9", "--arch", "aarch64", *args).expect_rc(5)
    t.run("resolve", V, "8", *args).expect_rc(5)
    d = m.root / V / "cloud" / "10-stream" / "x86_64" / "images"
    (d / "CHECKSUM").write_text("")
    t.run("resolve", V, *args).expect_rc(5)


def test_centos_stream_fetch_and_mismatch(t):
    m, ng, args = _mirror(t)
    out, cache = t.dir("out"), t.dir("cache")
    j = t.run("fetch", V, "-o", out, "--cache-dir", cache, "--json", *args, timeout=120).ok().json()
    eq(open(j["path"], "rb").read(), m.images.raw.read_bytes(), "raw output is the image's disk")
    d = m.root / V / "cloud" / "9-stream" / "x86_64" / "images"
    n = "CentOS-Stream-GenericCloud-9-20260715.0.x86_64.qcow2"
    (d / "CHECKSUM").write_text("# %s: 1 bytes\nSHA256 (%s) = %s\n" % (n, n, "0" * 64))
    out2 = t.dir("out2")
    t.run("fetch", V, "9", "-o", out2, "--cache-dir", t.dir("cache2"), *args, timeout=60).expect_rc(3)
    eq(listing(out2), set(), "nothing written after a mismatch")
