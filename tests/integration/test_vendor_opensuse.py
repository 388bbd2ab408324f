# SPDX-License-Identifier: MIT
"""opensuse: MirrorCache `?json` listings with the HTML-index fallback,
GNU .sha256 sidecars, served by nginx as a mirror."""

from harness import check, eq, listing
from vendor_mirror import AUTOINDEX, VendorMirror

# MirrorCache answers `distribution/leap/?json` with JSON; plain nginx ignores
# the query. This location plays MirrorCache for that one directory.
MIRRORCACHE = AUTOINDEX + """
        location = /opensuse/download/distribution/leap/ {
            if ($args ~ "^json") { rewrite ^ /opensuse/_mc/leap.json? last; }
        }
"""


def _mirror(t, conf=AUTOINDEX):
    m = VendorMirror(t.tmp / "mirror", ["opensuse"])
    ng = t.nginx(m.root, extra_conf=conf)
    return m, ng, m.mirror_args(ng)


def _resolve(t, args, *extra):
    return t.run("resolve", "opensuse", *extra, "--json", *args).ok().json()


def test_opensuse_tokens_html_fallback(t):
    m, ng, args = _mirror(t)
    j = _resolve(t, args)
    eq((j["release"], j["series"], j["version"], j["arch"]), ("latest", "16.0", "16.0", "x86_64"),
       "latest: newest X.Y with a Cloud image (16.1 is empty)")
    eq(j["file_name"], "Leap-16.0-Minimal-VM.x86_64-Cloud.qcow2", "Leap 16 name, rolling")
    eq(j["url"], ng.url("/opensuse/download/distribution/leap/16.0/appliances/" + j["file_name"]), "image URL")
    eq((j["verifier"], j["format"], j["os"]), ("sidecar", "qcow2", "linux"), "verifier, format, os")
    check(ng.count("/opensuse/download/distribution/leap/") >= 1, "the listing was read")
    j = _resolve(t, args, "15.6")
    eq((j["version"], j["file_name"]), ("15.6", "openSUSE-Leap-15.6-Minimal-VM.x86_64-Cloud.qcow2"), "15.6")
    j = _resolve(t, args, "16.0")
    eq(j["version"], "16.0", "16.0")
    j = _resolve(t, args, "--arch", "aarch64")
    eq((j["version"], j["file_name"]), ("15.6", "openSUSE-Leap-15.6-Minimal-VM.aarch64-Cloud.qcow2"),
       "aarch64 latest: 16.0 has none")
    j = _resolve(t, args, "tumbleweed")
    eq((j["series"], j["version"], j["file_name"]),
       ("tumbleweed", "current", "openSUSE-Tumbleweed-Minimal-VM.x86_64-Cloud.qcow2"), "tumbleweed")
    eq(j["url"], ng.url("/opensuse/download/tumbleweed/appliances/" + j["file_name"]), "tumbleweed URL")
    j = _resolve(t, args, "tumbleweed", "--arch", "aarch64")
    eq((j["version"], j["file_name"]),
       ("20261118", "openSUSE-Tumbleweed-Minimal-VM.aarch64-1.0.0-Cloud-Snapshot20261118.qcow2"),
       "tumbleweed aarch64: ports/, newest snapshot")


def test_opensuse_mirrorcache_json(t):
    m, ng, args = _mirror(t, MIRRORCACHE)
    j = _resolve(t, args)
    eq(j["version"], "15.6", "latest from the JSON listing (which lists 15.5 and 15.6 only)")
    eq(ng.count("/opensuse/download/distribution/leap/"), 1, "one listing request")
    r = t.run("resolve", "opensuse", "16.0", *args).expect_rc(5)
    check("15.6, 15.5" in r.stderr, "lists the JSON's versions: %r" % r.stderr)
    (m.root / "opensuse" / "_mc" / "leap.json").write_text('[{"name": "15.6/", ')
    r = t.run("resolve", "opensuse", *args).expect_rc(6)
    check(ng.url("/opensuse/download/distribution/leap/?json") in r.stderr, "names the URL: %r" % r.stderr)
    (m.root / "opensuse" / "_mc" / "leap.json").write_text('{"data": [{"name": "15.5/"}]}')
    eq(_resolve(t, args)["version"], "15.5", "?jsontable shape")


def test_opensuse_unknown_release_and_arch(t):
    m, ng, args = _mirror(t)
    for bad in ("15.4", "17.0", "leap", "Tumbleweed"):
        r = t.run("resolve", "opensuse", bad, *args).expect_rc(5)
        check("16.1, 16.0, 15.6, 15.5" in r.stderr, "lists the versions: %r" % r.stderr)
    r = t.run("resolve", "opensuse", "16.0", "--arch", "aarch64", *args).expect_rc(5)
    check("x86_64" in r.stderr, "names the architectures that exist: %r" % r.stderr)
    r = t.run("resolve", "opensuse", "16.1", *args).expect_rc(5)


def test_opensuse_malformed_listing(t):
    m, ng, args = _mirror(t)
    (m.root / "opensuse" / "download" / "distribution" / "leap" / "index.html").write_text("<html>maintenance</html>")
    r = t.run("resolve", "opensuse", *args).expect_rc(6)
    check(ng.url("/opensuse/download/distribution/leap/") in r.stderr, "names the URL: %r" % r.stderr)


def test_opensuse_fetch_and_mismatch(t):
    m, ng, args = _mirror(t)
    out = t.dir("out")
    # The rolling name's sidecar names the build-numbered file (MirrorCache #386).
    j = t.run("fetch", "opensuse", "-o", out, "--cache-dir", t.dir("cache"), "--json", *args,
              timeout=120).ok().json()
    name = "opensuse-16.0-16.0.x86_64.raw"
    eq(j["path"], str(out / name), "output path")
    eq((out / name).read_bytes(), m.images.raw.read_bytes(), "raw output is the image's disk")
    a = m.root / "opensuse" / "download" / "distribution" / "leap" / "15.6" / "appliances"
    f = "openSUSE-Leap-15.6-Minimal-VM.x86_64-Cloud.qcow2"
    (a / (f + ".sha256")).write_text("%s %s\n" % ("0" * 64, f))
    out2 = t.dir("out2")
    t.run("fetch", "opensuse", "15.6", "-o", out2, "--cache-dir", t.dir("cache2"), *args, timeout=60).expect_rc(3)
    eq(listing(out2), set(), "nothing written after a mismatch")
