# SPDX-License-Identifier: MIT
"""alpine: releases.json + directory listings, served by nginx as a mirror."""

import json
import subprocess

from harness import check, eq, listing
from vendor_mirror import AUTOINDEX, VendorMirror, sha256_file


def _mirror(t):
    m = VendorMirror(t.tmp / "mirror", ["alpine"])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    return m, ng, m.mirror_args(ng)


def _resolve(t, args, *extra):
    return t.run("resolve", "alpine", *extra, "--json", *args).ok().json()


def test_alpine_tokens(t):
    m, ng, args = _mirror(t)
    j = _resolve(t, args)
    eq((j["release"], j["series"], j["version"], j["arch"]), ("latest", "3.23", "3.23.4", "x86_64"), "latest")
    eq(j["file_name"], "nocloud_alpine-3.23.4-x86_64-uefi-cloudinit-r2.qcow2", "newest revision, uefi, cloud-init")
    eq(j["url"], ng.url("/alpine/cdn/v3.23/releases/cloud/" + j["file_name"]), "image URL under the mirror")
    eq((j["verifier"], j["format"], j["os"]), ("sidecar", "qcow2", "linux"), "verifier, format, os")
    for token, version in (("3.23", "3.23.4"), ("v3.23", "3.23.4"), ("3.23.3", "3.23.3"), ("3.22", "3.22.4"),
                           ("v3.22", "3.22.4"), ("3.22.3", "3.22.3")):
        j = _resolve(t, args, token)
        eq((j["release"], j["version"]), (token, version), "token " + token)
    j = _resolve(t, args, "--arch", "aarch64")
    eq(j["file_name"], "nocloud_alpine-3.23.4-aarch64-uefi-cloudinit-r0.qcow2", "aarch64")
    j = _resolve(t, args, "--arch", "arm64")
    eq(j["arch"], "aarch64", "arm64 is aarch64")


def test_alpine_unknown_release_and_arch(t):
    m, ng, args = _mirror(t)
    r = t.run("resolve", "alpine", "3.99", *args).expect_rc(5)
    check("3.23" in r.stderr and "3.22" in r.stderr, "lists the branches that exist: %r" % r.stderr)
    r = t.run("resolve", "alpine", "edge", *args).expect_rc(5)
    r = t.run("resolve", "alpine", "3.22", "--arch", "aarch64", *args).expect_rc(5)
    check("x86_64" in r.stderr, "names the architectures that exist: %r" % r.stderr)
    r = t.run("resolve", "nosuchvendor", *args[:0]).expect_rc(5)
    check("alpine" in r.stderr and "debian" in r.stderr, "lists the vendors: %r" % r.stderr)


def test_alpine_malformed_feed(t):
    m, ng, args = _mirror(t)
    feed = m.root / "alpine" / "www" / "releases.json"
    text = feed.read_text()
    for bad in (text[:len(text) // 2], "[]", '{"latest_stable": 3}', ""):
        feed.write_text(bad)
        r = t.run("resolve", "alpine", *args).expect_rc(6)
        check("releases.json" in r.stderr, "message names the feed: %r" % r.stderr)
    feed.unlink()
    t.run("resolve", "alpine", *args).expect_rc(5)


def test_alpine_fetch_raw_and_qcow2(t):
    m, ng, args = _mirror(t)
    out = t.dir("out")
    cache = t.dir("cache")
    r = t.run("fetch", "alpine", "-o", out, "--cache-dir", cache, "--json", *args, timeout=120).ok()
    j = r.json()
    name = "alpine-3.23-3.23.4.x86_64.raw"
    eq(j["path"], str(out / name), "output path")
    eq((out / name).read_bytes(), m.images.raw.read_bytes(), "raw output is the image's disk")
    meta = json.loads((out / (name + ".json")).read_text())
    src = m.root / "alpine" / "cdn" / "v3.23" / "releases" / "cloud" / m.facts["alpine"]["latest_file"]
    eq(meta["sha256"], sha256_file(src), "metadata: source sha256")
    eq(meta["url"], j["url"], "metadata: source URL")
    eq((meta["version"], meta["verifier"], meta["verified"]), ("3.23.4", "sidecar", True), "metadata fields")
    eq(meta["virtual_size"], m.images.raw.stat().st_size, "metadata: virtual size")
    check(len(meta["uuid"]) == 36, "metadata: manifest uuid")
    # Again: served from the cache, same result.
    j2 = t.run("fetch", "alpine", "-o", out, "--cache-dir", cache, "--json", *args, timeout=120).ok().json()
    check(j2["from_cache"], "second fetch from the cache")
    j3 = t.run("fetch", "alpine", "3.22", "--format", "qcow2", "-o", out, "--cache-dir", cache, "--json", *args,
               timeout=120).ok().json()
    subprocess.run(["qemu-img", "check", j3["path"]], check=True, capture_output=True)
    subprocess.run(["qemu-img", "compare", "-f", "qcow2", "-F", "raw", j3["path"], str(m.images.raw)], check=True,
                   capture_output=True)


def test_alpine_checksum_mismatch_and_dry_run(t):
    m, ng, args = _mirror(t)
    out = t.dir("out")
    cloud = m.root / "alpine" / "cdn" / "v3.23" / "releases" / "cloud"
    name = m.facts["alpine"]["latest_file"]
    r = t.run("fetch", "alpine", "--dry-run", "-o", out, *args).ok()
    check("alpine-3.23-3.23.4.x86_64.raw" in r.stdout and name in r.stdout, "plan printed: %r" % r.stdout)
    eq(listing(out), set(), "dry run wrote nothing")
    eq(ng.count("/alpine/cdn/v3.23/releases/cloud/" + name), 0, "dry run downloaded nothing")
    (cloud / (name + ".sha256")).write_text("0" * 64 + "\n")
    r = t.run("fetch", "alpine", "-o", out, "--cache-dir", t.dir("cache"), *args, timeout=60).expect_rc(3)
    eq(listing(out), set(), "nothing written after a mismatch")
