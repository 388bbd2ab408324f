# SPDX-License-Identifier: MIT
"""ubuntu: simplestreams com.ubuntu.cloud:released:download.json, served by
nginx as a mirror."""

import json

from harness import check, eq, listing
from vendor_mirror import AUTOINDEX, VendorMirror, sha256_file

FEED = "releases/streams/v1/com.ubuntu.cloud:released:download.json"


def _mirror(t):
    m = VendorMirror(t.tmp / "mirror", ["ubuntu"])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    return m, ng, m.mirror_args(ng)


def _resolve(t, args, *extra):
    return t.run("resolve", "ubuntu", *extra, "--json", *args).ok().json()


def test_ubuntu_tokens(t):
    m, ng, args = _mirror(t)
    j = _resolve(t, args)
    # 25.10 is newer but not LTS; 20.04 is LTS but unsupported.
    eq((j["release"], j["series"], j["version"], j["arch"]), ("latest", "noble", "24.04-20261101", "x86_64"), "latest")
    path = "releases/server/releases/noble/release-20261101/ubuntu-24.04-server-cloudimg-amd64.img"
    eq(j["url"], ng.url("/ubuntu/cloud/" + path), "image URL relative to the streams root")
    eq(j["file_name"], "ubuntu-24.04-server-cloudimg-amd64.img", "file name")
    eq((j["verifier"], j["format"], j["os"]), ("pinned", "qcow2", "linux"), "verifier, format, os")
    eq(j["sha256"], sha256_file(m.root / "ubuntu" / "cloud" / path), "sha256 from the feed")
    eq(j["size"], (m.root / "ubuntu" / "cloud" / path).stat().st_size, "size from the feed")
    for token, series, version in (("24.04", "noble", "24.04-20261101"), ("noble", "noble", "24.04-20261101"),
                                   ("22.04", "jammy", "22.04-20261015"), ("jammy", "jammy", "22.04-20261015"),
                                   ("25.10", "questing", "25.10-20261105"), ("questing", "questing", "25.10-20261105"),
                                   ("focal", "focal", "20.04-20250501"), ("20.04", "focal", "20.04-20250501")):
        j = _resolve(t, args, token)
        eq((j["release"], j["series"], j["version"]), (token, series, version), "token " + token)
    j = _resolve(t, args, "--arch", "aarch64")
    eq((j["arch"], j["version"], j["file_name"]), ("aarch64", "24.04-20261020.1", "ubuntu-24.04-server-cloudimg-arm64.img"),
       "aarch64")
    j = _resolve(t, args, "questing", "--arch", "aarch64")
    eq(j["version"], "25.10-20261105", "questing aarch64")


def test_ubuntu_unknown_release_and_arch(t):
    m, ng, args = _mirror(t)
    for token in ("99.04", "trusty", "14.04", "Noble"):
        r = t.run("resolve", "ubuntu", token, *args).expect_rc(5)
        check("24.04" in r.stderr and "noble" in r.stderr and "22.04" in r.stderr,
              "%s: lists the releases that exist: %r" % (token, r.stderr))
    r = t.run("resolve", "ubuntu", "jammy", "--arch", "aarch64", *args).expect_rc(5)
    check("x86_64" in r.stderr, "names the architectures that exist: %r" % r.stderr)


def test_ubuntu_malformed_feed(t):
    m, ng, args = _mirror(t)
    feed = m.root / "ubuntu" / "cloud" / FEED
    text = feed.read_text()
    doc = json.loads(text)
    no_lts = json.loads(text)
    no_lts["products"] = {k: v for k, v in doc["products"].items() if "LTS" not in v["release_title"]}
    for bad in (text[:len(text) // 2], "[]", '{"products": []}', "", json.dumps(no_lts)):
        feed.write_text(bad)
        r = t.run("resolve", "ubuntu", *args).expect_rc(6)
        check("com.ubuntu.cloud:released:download.json" in r.stderr, "message names the feed: %r" % r.stderr)
    feed.unlink()
    r = t.run("resolve", "ubuntu", *args)
    check(r.rc != 0, "missing feed fails")


def test_ubuntu_fetch_raw(t):
    m, ng, args = _mirror(t)
    out = t.dir("out")
    j = t.run("fetch", "ubuntu", "--format", "raw", "-o", out, "--cache-dir", t.dir("cache"), "--json", *args,
              timeout=120).ok().json()
    name = "ubuntu-noble-24.04-20261101.x86_64.raw"
    eq(j["path"], str(out / name), "output path")
    eq((out / name).read_bytes(), m.images.raw.read_bytes(), "raw output is the image's disk")
    meta = json.loads((out / (name + ".json")).read_text())
    eq((meta["version"], meta["verifier"], meta["verified"]), ("24.04-20261101", "pinned", True), "metadata")


def test_ubuntu_checksum_mismatch(t):
    m, ng, args = _mirror(t)
    out = t.dir("out")
    feed = m.root / "ubuntu" / "cloud" / FEED
    doc = json.loads(feed.read_text())
    doc["products"]["com.ubuntu.cloud:server:24.04:amd64"]["versions"]["20261101"]["items"]["disk1.img"]["sha256"] = \
        "0" * 64
    feed.write_text(json.dumps(doc))
    # The feed is unsigned: the signed SHA256SUMS of the build directory wins;
    # --verify checksum uses the feed's digest, and refuses.
    t.run("fetch", "ubuntu", "-o", t.dir("out1"), "--cache-dir", t.dir("cache1"), *args, timeout=60).ok()
    t.run("fetch", "ubuntu", "-o", out, "--cache-dir", t.dir("cache"), "--verify", "checksum", *args,
          timeout=60).expect_rc(3)
    eq(listing(out), set(), "nothing written after a mismatch")
