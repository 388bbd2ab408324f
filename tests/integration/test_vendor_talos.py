# SPDX-License-Identifier: MIT
"""talos: GitHub releases API + Image Factory, served by nginx as a mirror;
the public factory's HTTP 402 for checksums is modelled with an nginx rule."""

from harness import check, eq, listing
from vendor_mirror import AUTOINDEX, VendorMirror, sha256_file

E402 = AUTOINDEX + "\n        location ~ \\.sha256$ { return 402; }"


def _mirror(t, conf=AUTOINDEX):
    m = VendorMirror(t.tmp / "mirror", ["talos"])
    ng = t.nginx(m.root, extra_conf=conf)
    return m, ng, m.mirror_args(ng)


def _resolve(t, args, *extra):
    return t.run("resolve", "talos", *extra, "--json", *args).ok().json()


def _image(m, tag="v1.11.5", arch="amd64", schematic=None):
    f = m.facts["talos"]
    return (m.root / "talos" / "factory" / "image" / (schematic or f["empty"]) / tag /
            ("nocloud-%s.raw.xz" % arch))


def test_talos_tokens(t):
    m, ng, args = _mirror(t)
    empty = m.facts["talos"]["empty"]
    j = _resolve(t, args)
    eq((j["release"], j["series"], j["version"], j["arch"]), ("latest", "v1.11", "v1.11.5", "x86_64"), "latest")
    eq(j["url"], ng.url("/talos/factory/image/%s/v1.11.5/nocloud-amd64.raw.xz" % empty), "factory URL")
    eq((j["verifier"], j["format"], j["os"], j["file_name"]), ("sidecar", "raw.xz", "linux", "nocloud-amd64.raw.xz"),
       "verifier, format, os, file")
    check(j["notice"] is None, "no notice when the factory serves checksums")
    check("cloud-init" in j["description"], "description says it is not cloud-init: %r" % j["description"])
    for token, version in (("v1.11.5", "v1.11.5"), ("1.11.5", "v1.11.5"), ("1.10.7", "v1.10.7")):
        j = _resolve(t, args, token)
        eq((j["release"], j["version"], j["series"]), (token, version, version.rsplit(".", 1)[0]), "token " + token)
    j = _resolve(t, args, "--arch", "aarch64")
    eq(j["url"], ng.url("/talos/factory/image/%s/v1.11.5/nocloud-arm64.raw.xz" % empty), "aarch64 is arm64")
    eq(j["arch"], "aarch64", "arch")
    other = m.facts["talos"]["other"]
    r = t.run("resolve", "talos", "--schematic", other, "--json", *args).expect_rc(5)
    check("404" in r.stderr and other in r.stderr, "404 on the probe is an error naming it: %r" % r.stderr)


def test_talos_unknown_release(t):
    m, ng, args = _mirror(t)
    for token in ("1.99.0", "v1.12.0-beta.1", "1.11", "nonsense"):
        r = t.run("resolve", "talos", token, *args).expect_rc(5)
        check("v1.11.5" in r.stderr and "v1.10.7" in r.stderr, "lists what exists (%s): %r" % (token, r.stderr))
        check("beta" not in r.stderr.split("available")[-1], "prereleases not offered: %r" % r.stderr)


def test_talos_malformed_feed(t):
    m, ng, args = _mirror(t)
    feed = m.root / "talos" / "github" / "releases" / "latest"
    text = feed.read_text()
    for bad in (text[:len(text) // 2], "[]", '{"tag_name": 3}', '{"tag_name": "1.11"}', ""):
        feed.write_text(bad)
        r = t.run("resolve", "talos", *args).expect_rc(6)
        check("releases/latest" in r.stderr, "message names the feed: %r" % r.stderr)


def test_talos_fetch_sidecar(t):
    m, ng, args = _mirror(t)
    out = t.dir("out")
    j = t.run("fetch", "talos", "-o", out, "--cache-dir", t.dir("cache"), "--json", *args, timeout=60).ok().json()
    name = "talos-v1.11-v1.11.5.x86_64.raw"
    eq(j["path"], str(out / name), "output path")
    eq((out / name).read_bytes(), m.images.raw.read_bytes(), "raw output is the image's disk")
    # A wrong sidecar: exit 3, nothing written.
    img = _image(m)
    (img.parent / (img.name + ".sha256")).write_text("0" * 64 + "  " + img.name + "\n")
    out2 = t.dir("out2")
    t.run("fetch", "talos", "-o", out2, "--cache-dir", t.dir("cache2"), *args, timeout=60).expect_rc(3)
    eq(listing(out2), set(), "nothing written after a mismatch")


def test_talos_402_trust_only(t):
    m, ng, args = _mirror(t, E402)
    j = _resolve(t, args)
    eq(j["verifier"], "trust-only", "402: trust-only")
    check("402" in (j["notice"] or "") and "paying" in j["notice"], "notice explains the 402: %r" % j["notice"])
    out = t.dir("out")
    r = t.run("fetch", "talos", "-o", out, "--cache-dir", t.dir("cache"), *args, timeout=60).expect_rc(3)
    check("--expected-sha256" in r.stderr and "402" in r.stderr, "refusal says how to pin: %r" % r.stderr)
    eq(listing(out), set(), "nothing written when refused")
    digest = sha256_file(_image(m))
    r = t.run("fetch", "talos", "-o", out, "--cache-dir", t.dir("cache"), "--expected-sha256", "1" * 64, *args,
              timeout=60).expect_rc(3)
    eq(listing(out), set(), "nothing written after a wrong pin")
    j = t.run("fetch", "talos", "-o", out, "--cache-dir", t.dir("cache"), "--expected-sha256", digest, "--json",
              *args, timeout=60).ok().json()
    eq(open(j["path"], "rb").read(), m.images.raw.read_bytes(), "pinned fetch")
