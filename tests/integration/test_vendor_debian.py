# SPDX-License-Identifier: MIT
"""debian: archive Release files + per-image JSON manifests (SHA512SUMS
fallback), served by nginx as a mirror."""

import json

from harness import check, eq, listing
from vendor_mirror import AUTOINDEX, VendorMirror, sha512_file


def _mirror(t):
    m = VendorMirror(t.tmp / "mirror", ["debian"])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    return m, ng, m.mirror_args(ng)


def _resolve(t, args, *extra):
    return t.run("resolve", "debian", *extra, "--json", *args).ok().json()


def test_debian_tokens(t):
    m, ng, args = _mirror(t)
    j = _resolve(t, args)
    eq((j["release"], j["series"], j["version"], j["arch"]), ("latest", "trixie", "13-20260110-2350", "x86_64"),
       "latest is stable")
    eq(j["file_name"], "debian-13-genericcloud-amd64-20260110-2350.qcow2", "dated image from the manifest")
    eq(j["url"], ng.url("/debian/cloud/trixie/20260110-2350/" + j["file_name"]), "pinned URL under the mirror")
    eq((j["verifier"], j["format"], j["os"]), ("pinned", "qcow2", "linux"), "verifier, format, os")
    dated = m.root / "debian" / "cloud" / m.facts["debian"]["refs"]["trixie/amd64"]
    eq(j["sha512"], sha512_file(dated), "sha512 decoded from the manifest's base64 digest")
    for token, series, version in (("stable", "trixie", "13-20260110-2350"), ("trixie", "trixie", "13-20260110-2350"),
                                   ("13", "trixie", "13-20260110-2350"),
                                   ("oldstable", "bookworm", "12-20260105-0007"),
                                   ("bookworm", "bookworm", "12-20260105-0007"), ("12", "bookworm", "12-20260105-0007"),
                                   ("testing", "forky", "14-20261120-0012"), ("forky", "forky", "14-20261120-0012")):
        j = _resolve(t, args, token)
        eq((j["release"], j["series"], j["version"], j["verifier"]), (token, series, version, "pinned"),
           "token " + token)
    j = _resolve(t, args, "testing")
    eq(j["file_name"], "debian-14-genericcloud-amd64-daily-20261120-0012.qcow2", "testing: daily image")
    # No manifest: the rolling image against SHA512SUMS.
    for token in ("oldoldstable", "bullseye", "11"):
        j = _resolve(t, args, token)
        eq((j["series"], j["verifier"], j["file_name"]), ("bullseye", "sums", "debian-11-genericcloud-amd64.qcow2"),
           "token %s: SHA512SUMS fallback" % token)
        eq(j["sums_url"], ng.url("/debian/cloud/bullseye/latest/SHA512SUMS"), "SHA512SUMS URL")
        check("/" not in j["version"], "version is a file-name component: %r" % j["version"])
    j = _resolve(t, args, "sid")
    eq((j["series"], j["file_name"], j["verifier"]), ("sid", "debian-sid-genericcloud-amd64-daily.qcow2", "sums"), "sid")
    eq(j["url"], ng.url("/debian/cloud/sid/daily/latest/debian-sid-genericcloud-amd64-daily.qcow2"), "sid URL")
    j = _resolve(t, args, "--arch", "aarch64")
    eq((j["arch"], j["file_name"]), ("aarch64", "debian-13-genericcloud-arm64-20260110-2350.qcow2"), "aarch64")


def test_debian_unknown_release(t):
    m, ng, args = _mirror(t)
    for token in ("buster", "10", "99", "Trixie", "../x"):
        r = t.run("resolve", "debian", token, *args).expect_rc(5)
        for name in ("stable", "trixie", "bookworm", "13", "sid"):
            check(name in r.stderr, "%s: lists %s: %r" % (token, name, r.stderr))
    # bookworm's arm64 image is not published on this mirror.
    t.run("resolve", "debian", "bookworm", "--arch", "aarch64", *args).expect_rc(5)
    r = t.run("resolve", "debian", "--arch", "riscv64", *args)
    check(r.rc != 0, "riscv64 is refused")


def test_debian_malformed_feeds(t):
    m, ng, args = _mirror(t)
    man = m.root / "debian" / "cloud" / "trixie" / "latest" / "debian-13-genericcloud-amd64.json"
    text = man.read_text()
    doc = json.loads(text)
    bad_digest = json.loads(text)
    bad_digest["items"][3]["metadata"]["annotations"]["cloud.debian.org/digest"] = "sha512:abc"
    bad_ref = json.loads(text)
    bad_ref["items"][3]["data"]["ref"] = "../../etc/passwd"
    no_qcow2 = json.loads(text)
    no_qcow2["items"] = doc["items"][:3]
    for bad in (text[:len(text) // 2], "[]", "", json.dumps(bad_digest), json.dumps(bad_ref), json.dumps(no_qcow2)):
        man.write_text(bad)
        r = t.run("resolve", "debian", *args).expect_rc(6)
        check("debian-13-genericcloud-amd64.json" in r.stderr, "message names the manifest: %r" % r.stderr)
    man.write_text(text)
    rel = m.root / "debian" / "archive" / "dists" / "stable" / "Release"
    for bad in ("Origin: Debian\nVersion: 13.4\n", "Codename: trixie\nVersion: x\n", "Codename: tri/xie\n",
                "Codename: trixie\n"):
        rel.write_text(bad)
        r = t.run("resolve", "debian", "stable", *args).expect_rc(6)
        check("dists/stable/Release" in r.stderr, "message names the Release file: %r" % r.stderr)


def test_debian_fetch_raw(t):
    m, ng, args = _mirror(t)
    out = t.dir("out")
    j = t.run("fetch", "debian", "--format", "raw", "-o", out, "--cache-dir", t.dir("cache"), "--json", *args,
              timeout=120).ok().json()
    name = "debian-trixie-13-20260110-2350.x86_64.raw"
    eq(j["path"], str(out / name), "output path")
    eq((out / name).read_bytes(), m.images.raw.read_bytes(), "raw output is the image's disk")
    meta = json.loads((out / (name + ".json")).read_text())
    eq((meta["version"], meta["verifier"], meta["verified"]), ("13-20260110-2350", "pinned", True), "metadata")
    # The SHA512SUMS fallback verifies too.
    j = t.run("fetch", "debian", "11", "--format", "raw", "-o", out, "--cache-dir", t.dir("cache"), "--json", *args,
              timeout=120).ok().json()
    eq(open(j["path"], "rb").read(), m.images.raw.read_bytes(), "bullseye raw output")


def test_debian_checksum_mismatch(t):
    m, ng, args = _mirror(t)
    out = t.dir("out")
    man = m.root / "debian" / "cloud" / "trixie" / "latest" / "debian-13-genericcloud-amd64.json"
    doc = json.loads(man.read_text())
    doc["items"][3]["metadata"]["annotations"]["cloud.debian.org/digest"] = "sha512:" + "A" * 86
    man.write_text(json.dumps(doc))
    t.run("fetch", "debian", "-o", out, "--cache-dir", t.dir("cache"), *args, timeout=60).expect_rc(3)
    eq(listing(out), set(), "nothing written after a mismatch")
    sums = m.root / "debian" / "cloud" / "bullseye" / "latest" / "SHA512SUMS"
    sums.write_text(sums.read_text().replace(sha512_file(sums.parent / "debian-11-genericcloud-amd64.qcow2"), "2" * 128))
    t.run("fetch", "debian", "bullseye", "-o", out, "--cache-dir", t.dir("cache"), *args, timeout=60).expect_rc(3)
    eq(listing(out), set(), "nothing written after a SHA512SUMS mismatch")
