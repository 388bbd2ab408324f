# SPDX-License-Identifier: MIT
"""The catalog's shared machinery: vendors --json, mirrors (--mirror,
VENDOR.BASE, config file, file:// trees), profiles, dry runs."""

import json
import shutil

from harness import check, eq, listing
from vendor_mirror import AUTOINDEX, Images, VendorMirror, sha256_file


def test_vendors_json(t):
    j = t.run("vendors", "--json").ok().json()["vendors"]
    names = [v["name"] for v in j]
    eq(len(names), 15, "fifteen vendors")
    for want in ("ubuntu", "debian", "alpine", "freebsd", "talos", "fedora", "almalinux", "rocky", "arch", "oracle",
                 "centos-stream", "opensuse", "omnios", "openbsd", "smartos"):
        check(want in names, "vendor %s listed" % want)
    for v in j:
        check(v["bases"] and all(u.startswith("https://") for u in v["bases"].values()), "%s has bases" % v["name"])
        check(set(v["arches"]) <= {"x86_64", "aarch64"} and v["arches"], "%s arches" % v["name"])
        check(v["format"] in ("qcow2", "raw.xz", "vmdk", "raw.gz"), "%s format" % v["name"])
    r = t.run("vendors").ok()
    check("alpine" in r.stdout and "releases:" in r.stdout, "human listing")


def test_mirror_forms(t):
    m = VendorMirror(t.tmp / "mirror", ["alpine"])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    base = ng.url("/alpine/")
    # One base at a time.
    j = t.run("resolve", "alpine", "--json", "--mirror", "alpine.www=" + base + "www/",
              "--mirror", "alpine.cdn=" + base + "cdn").ok().json()
    eq(j["version"], "3.23.4", "per-base mirrors")
    # The config file, at its default place and given explicitly.
    conf = t.home / ".config" / "imgfetch"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "mirrors.conf").write_text("# test mirror\n\nalpine=%s\n" % base)
    j = t.run("resolve", "alpine", "--json").ok().json()
    check(j["url"].startswith(base), "default config file used: %s" % j["url"])
    other = t.tmp / "other.conf"
    other.write_text("alpine = nonsense\n")
    r = t.run("resolve", "alpine", "--config", other).expect_rc(2)
    check("other.conf line 1" in r.stderr, "bad config line named: %r" % r.stderr)
    # --mirror wins over the config.
    (conf / "mirrors.conf").write_text("alpine=http://127.0.0.1:9/nothing/\n")
    j = t.run("resolve", "alpine", "--json", "--mirror", "alpine=" + base).ok().json()
    check(j["url"].startswith(base), "--mirror wins over the config file")
    (conf / "mirrors.conf").unlink()
    r = t.run("resolve", "alpine", "--mirror", "alpine.nope=" + base).expect_rc(2)
    check("nope" in r.stderr, "unknown base named: %r" % r.stderr)


def test_file_mirror_tree(t):
    """A copied directory tree serves as a mirror through file://."""
    m = VendorMirror(t.tmp / "mirror", ["alpine"])
    copy = t.tmp / "copied tree"
    shutil.copytree(m.root, copy)
    url = "file://" + str(copy).replace(" ", "%20") + "/alpine/"
    out = t.dir("out")
    j = t.run("fetch", "alpine", "--mirror", "alpine=" + url, "-o", out, "--cache-dir", t.dir("cache"), "--json",
              timeout=120).ok().json()
    eq((out / "alpine-3.23-3.23.4.x86_64.raw").read_bytes(), m.images.raw.read_bytes(), "fetched over file://")
    check(j["verified"], "verified over file://")


def test_profiles(t):
    imgs = Images(t.tmp / "imgs")
    www = t.dir("www")
    shutil.copyfile(imgs.raw_xz, www / "custom.raw.xz")
    digest = sha256_file(www / "custom.raw.xz")
    (www / "SHA256SUMS").write_text("%s  custom.raw.xz\n" % digest)
    ng = t.nginx(www)
    toml = t.tmp / "custom.toml"
    toml.write_text('# an in-house image\nurl = "%s"\nformat = "xz"\nos = "linux"\nseries = "lab"\n'
                    'version = "2026.11"\nsha256 = "%s"\ndescription = "lab image"\nssh_key = true\n'
                    % (ng.url("/custom.raw.xz"), digest.upper()))
    j = t.run("resolve", "--profile", toml, "--json").ok().json()
    eq((j["vendor"], j["series"], j["version"], j["format"], j["verifier"]),
       ("custom", "lab", "2026.11", "raw.xz", "pinned"), "TOML profile resolved")
    eq(j["sha256"], digest, "digest lower-cased")
    out = t.dir("out")
    j = t.run("fetch", "--profile", toml, "-o", out, "--cache-dir", t.dir("cache"), "--json", timeout=60).ok().json()
    eq((out / "custom-lab-2026.11.x86_64.raw").read_bytes(), imgs.raw.read_bytes(), "profile image fetched")
    prof = t.tmp / "sums.json"
    prof.write_text(json.dumps({"vendor": "lab", "url": ng.url("/custom.raw.xz"), "format": "raw.xz",
                                "version": "3", "sums_url": ng.url("/SHA256SUMS")}))
    j = t.run("fetch", "--profile", prof, "-o", out, "--format", "qcow2", "--cache-dir", t.dir("cache"), "--json",
              timeout=60).ok().json()
    eq(j["verifier"], "sums", "JSON profile with a sums file")
    check((out / "lab-3-3.x86_64.qcow2").exists(), "qcow2 written")
    bare = t.tmp / "bare.toml"
    bare.write_text('url = "%s"\nformat = "xz"\nversion = "4"\n' % ng.url("/custom.raw.xz"))
    r = t.run("fetch", "--profile", bare, "-o", out, "--cache-dir", t.dir("cache")).expect_rc(3)
    check("--expected-sha256" in r.stderr, "says how to proceed: %r" % r.stderr)
    t.run("fetch", "--profile", bare, "-o", out, "--cache-dir", t.dir("cache"), "--expected-sha256", digest).ok()
    for bad in ('url = "x"\n', "format = \n", "nonsense\n"):
        bare.write_text(bad)
        t.run("resolve", "--profile", bare).expect_rc(2)
    t.run("resolve", "--profile", t.tmp / "missing.toml").expect_rc(5)


def test_hostile_feed_values(t):
    """Feed values become URLs and file names: a branch or name that would
    leave the mirror or change the request is never used."""
    m = VendorMirror(t.tmp / "mirror", ["alpine"])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    args = m.mirror_args(ng)
    feed = m.root / "alpine" / "www" / "releases.json"
    doc = json.loads(feed.read_text())
    for bad in ("v3.23/../../../etc", "v3.23?x=1", "v3.23 x", "3.23"):
        doc["latest_stable"] = bad
        doc["release_branches"][2]["rel_branch"] = bad
        feed.write_text(json.dumps(doc))
        r = t.run("resolve", "alpine", *args)
        check(r.rc in (5, 6), "branch %r refused (rc %s): %r" % (bad, r.rc, r.stderr))
        check(not any(e.path and ".." in e.path for e in ng.log()), "no request left the vendor tree")
    cloud = m.root / "alpine" / "cdn" / "v3.22" / "releases" / "cloud"
    for name in ("nocloud_alpine-3.22.4-x86_64-uefi-cloudinit-r 9.qcow2", "nocloud_alpine-3.22.4-x86_64-uefi-cloudinit-r9.qcow2?x"):
        try:
            (cloud / name).write_bytes(b"x")
        except OSError:
            continue
    j = t.run("resolve", "alpine", "3.22", "--json", *args).ok().json()
    eq(j["file_name"], "nocloud_alpine-3.22.4-x86_64-uefi-cloudinit-r1.qcow2", "odd names in the listing ignored")


def test_usage_errors(t):
    t.run("resolve").expect_rc(2)
    t.run("resolve", "alpine", "latest", "extra").expect_rc(2)
    t.run("resolve", "alpine", "--arch", "mips").expect_rc(2)
    t.run("resolve", "alpine", "--dry-run").expect_rc(2)
    t.run("fetch", "alpine", "--format", "vhd").expect_rc(2)
    t.run("resolve", "talos", "--schematic", "xyz").expect_rc(2)
    t.run("resolve", "alpine", "--schematic", "0" * 64).expect_rc(2)
    t.run("resolve", "--profile", "p.toml", "--arch", "aarch64").expect_rc(2)
    r = t.run("fetch", "--help").ok()
    check("--expected-sha256" in r.stdout and "--mirror" in r.stdout, "fetch --help")
