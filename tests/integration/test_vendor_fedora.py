# SPDX-License-Identifier: MIT
"""fedora: releases.json (sha256 pinned), images re-based onto the mirror."""

import json

from harness import check, eq, listing
from vendor_mirror import AUTOINDEX, VendorMirror


def _mirror(t):
    m = VendorMirror(t.tmp / "mirror", ["fedora"])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    return m, ng, m.mirror_args(ng)


def _resolve(t, args, *extra):
    return t.run("resolve", "fedora", *extra, "--json", *args).ok().json()


def test_fedora_tokens(t):
    m, ng, args = _mirror(t)
    j = _resolve(t, args)
    eq((j["release"], j["series"], j["version"], j["arch"]), ("latest", "44", "44-1.7", "x86_64"), "latest, not Beta")
    eq(j["file_name"], "Fedora-Cloud-Base-Generic-44-1.7.x86_64.qcow2", "Generic qcow2")
    eq(j["url"], ng.url("/fedora/download/releases/44/Cloud/x86_64/images/" + j["file_name"]), "re-based URL")
    eq((j["verifier"], j["format"]), ("pinned", "qcow2"), "verifier, format")
    check(len(j["sha256"]) == 64, "sha256 pinned")
    eq(_resolve(t, args, "43")["file_name"], "Fedora-Cloud-Base-Generic-43-1.6.x86_64.qcow2", "token 43")
    eq(_resolve(t, args, "44", "--arch", "aarch64")["file_name"], "Fedora-Cloud-Base-Generic-44-1.7.aarch64.qcow2",
       "aarch64")


def test_fedora_unknown(t):
    m, ng, args = _mirror(t)
    r = t.run("resolve", "fedora", "45", *args).expect_rc(5)
    check("44" in r.stderr and "43" in r.stderr, "lists releases: %r" % r.stderr)
    t.run("resolve", "fedora", "45 Beta", *args).expect_rc(5)
    r = t.run("resolve", "fedora", "43", "--arch", "aarch64", *args).expect_rc(5)
    check("x86_64" in r.stderr, "names arches: %r" % r.stderr)


def test_fedora_malformed_feed(t):
    m, ng, args = _mirror(t)
    feed = m.root / "fedora" / "www" / "releases.json"
    text = feed.read_text()
    entries = json.loads(text)
    bad_size = [dict(e, size="12x") for e in entries]
    for bad in (text[:len(text) // 2], "{}", "[]", "", json.dumps(bad_size)):
        feed.write_text(bad)
        r = t.run("resolve", "fedora", *args).expect_rc(6)
        check("releases.json" in r.stderr, "names the feed: %r" % r.stderr)


def test_fedora_fetch_and_mismatch(t):
    m, ng, args = _mirror(t)
    out, cache = t.dir("out"), t.dir("cache")
    j = t.run("fetch", "fedora", "-o", out, "--cache-dir", cache, "--json", *args, timeout=120).ok().json()
    eq(open(j["path"], "rb").read(), m.images.raw.read_bytes(), "raw output is the image's disk")
    feed = m.root / "fedora" / "www" / "releases.json"
    entries = json.loads(feed.read_text())
    for e in entries:
        e["sha256"] = "0" * 64
    feed.write_text(json.dumps(entries))
    # The signed CHECKSUM wins over the unsigned feed...
    t.run("fetch", "fedora", "-o", t.dir("out1"), "--cache-dir", t.dir("cache1"), *args, timeout=60).ok()
    # ...and the feed's digest is what --verify checksum checks.
    out2 = t.dir("out2")
    t.run("fetch", "fedora", "-o", out2, "--cache-dir", t.dir("cache2"), "--verify", "checksum", *args,
          timeout=60).expect_rc(3)
    eq(listing(out2), set(), "nothing written after a mismatch")
