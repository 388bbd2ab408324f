# SPDX-License-Identifier: MIT
"""imgfetch pull against a real docker-registry on loopback (registry.py): by
tag and digest, platform selection, layer selection, --all-layers with hostile
titles, tampered blobs and wrong sizes, blob redirects with htpasswd and token
auth (no credentials at the CDN), the digest stamp, --format raw, and a blob
cut mid-transfer (resumed with Range)."""

import json
import os
import subprocess
import time

from harness import Result, check, eq
from registry import OCI_INDEX, OCI_MANIFEST, digest_of, start_registry

REPO = "test/os"
EXIT_VERIFY, EXIT_NOT_FOUND, EXIT_AUTH = 3, 5, 7
DISK_MT = "application/vnd.imgfetch.disk.raw"
SIG_MT = "application/vnd.dev.cosign.simplesigning.v1+json"
SIG_MT2 = "application/vnd.imgfetch.signature.v1"
SBOM_MT = "application/spdx+json"
TITLE = "org.opencontainers.image.title"


def pull(t, reg, ref, *args, password=None, user="alice"):
    """Runs `imgfetch pull REF --cacert CA ARGS`, the password (if any) on stdin."""
    argv = t._argv(["pull", ref, "--cacert", reg.cacert, *args] +
                   (["--username", user, "--password-stdin"] if password is not None else []))
    t0 = time.monotonic()
    p = subprocess.run(argv, cwd=str(t.tmp), env=t.env, input=(password or "").encode() + b"\n",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    r = Result(argv, p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"),
               time.monotonic() - t0)
    t.results.append(r)
    return r


def push_layers(reg, repo, tag, layers, annotations=None):
    """layers: [(media_type, data, title or None)] -> (manifest digest, [layer digests])."""
    reg.push_blob(repo, b"{}")
    descs, digests = [], []
    for mt, data, title in layers:
        d = reg.push_blob(repo, data)
        digests.append(d)
        descs.append((mt, d, len(data), {TITLE: title} if title else None))
    m = reg.manifest_for(descs, annotations=annotations)
    return reg.push_manifest(repo, tag, m, OCI_MANIFEST), digests


def blob_file(reg, digest):
    hexd = digest.split(":", 1)[1]
    return reg.storage / "docker/registry/v2/blobs/sha256" / hexd[:2] / hexd / "data"


def blob_gets(reg, since=0):
    return [e for e in reg.access_log()[since:] if e.method == "GET" and "/blobs/" in e.path]


def test_pull_select_and_stamp(t):
    reg = start_registry(t)
    disk = t.random_bytes(20000)
    small = t.random_bytes(3000)
    sig = t.random_bytes(50000)   # larger than the disk: must still be ignored
    sbom = t.random_bytes(40000)
    md, (d_disk, d_small, d_sig, d_sig2, d_sbom) = push_layers(reg, REPO, "v1", [
        (DISK_MT, disk, "disk.raw"), ("application/octet-stream", small, "README"),
        (SIG_MT, sig, "disk.raw.sig-cosign"), (SIG_MT2, sig + b"2", None), (SBOM_MT, sbom, "sbom.json")])
    out = t.tmp / "disk.img"

    j = pull(t, reg, reg.ref(REPO, "v1"), "-o", out, "--json").ok().json()
    eq(out.read_bytes(), disk, "pulled by tag (the largest non-signature layer)")
    eq(j["digest"], md, "resolved digest")
    eq(j["manifest_digest"], md, "manifest digest")
    eq([(f["digest"], f["size"], f["title"], f["skipped"]) for f in j["files"]],
       [(d_disk, len(disk), "disk.raw", False)], "files")
    stamp = (t.tmp / "disk.img.digest").read_text()
    check(stamp.startswith(d_disk + " %d " % len(disk)), "stamp: %r" % stamp)

    # the same tag again: the stamp says it is there, no blob GET at all
    n = len(reg.access_log())
    j = pull(t, reg, reg.ref(REPO, "v1"), "-o", out, "--json").ok().json()
    eq(j["files"][0]["skipped"], True, "second pull skipped")
    eq(blob_gets(reg, n), [], "blob GETs on the second pull")
    # a stamp that no longer describes the file (size changed) is not trusted
    out.write_bytes(disk[:-1])
    j = pull(t, reg, reg.ref(REPO, "v1"), "-o", out, "--json").ok().json()
    eq((j["files"][0]["skipped"], out.read_bytes() == disk), (False, True), "re-pulled after the file changed")

    # by digest: the same bytes
    out2 = t.tmp / "by-digest.img"
    pull(t, reg, reg.ref(REPO, md), "-o", out2, "-q").ok()
    eq(out2.read_bytes(), disk, "pulled by digest")

    # explicit selection
    o = t.tmp / "readme"
    pull(t, reg, reg.ref(REPO, "v1"), "-o", o, "--title", "README").ok()
    eq(o.read_bytes(), small, "--title")
    o = t.tmp / "sbom"
    pull(t, reg, reg.ref(REPO, "v1"), "-o", o, "--media-type", SBOM_MT).ok()
    eq(o.read_bytes(), sbom, "--media-type")
    r = pull(t, reg, reg.ref(REPO, "v1"), "-o", t.tmp / "none", "--title", "nope").expect_rc(EXIT_NOT_FOUND)
    check("disk.raw" in r.stderr and "README" in r.stderr, "missing-title message: %s" % r.stderr)
    check(not (t.tmp / "none").exists(), "output for a missing layer")
    pull(t, reg, reg.ref(REPO, "nope"), "-o", t.tmp / "none").expect_rc(EXIT_NOT_FOUND, "unknown tag")
    pull(t, reg, reg.ref(REPO, "v1"), "-o", o, "--title", "a", "--all-layers").expect_rc(2, "two selections")
    pull(t, reg, reg.ref(REPO, "v1")).expect_rc(2, "no -o")

    # only side layers: nothing to pick by default
    pull_only, _ = push_layers(reg, REPO, "sigs", [(SIG_MT2, sig, "x.sig"), (SBOM_MT, sbom, None)])
    pull(t, reg, reg.ref(REPO, "sigs"), "-o", t.tmp / "none").expect_rc(EXIT_NOT_FOUND, "only side layers")


def test_all_layers_hostile_titles(t):
    reg = start_registry(t)
    a, b, c, e = (t.random_bytes(n) for n in (100, 200, 300, 400))
    _, (da, db, dc, de) = push_layers(reg, REPO, "v1", [
        (DISK_MT, a, "disk.raw"), ("application/octet-stream", b, "../x"),
        ("application/octet-stream", c, ".hidden"), ("application/octet-stream", e, None)])
    d = t.tmp / "out"
    j = pull(t, reg, reg.ref(REPO, "v1"), "-o", d, "--all-layers", "--json").ok().json()
    hexof = lambda dg: dg.split(":", 1)[1]
    eq(sorted(os.listdir(d)), sorted(["disk.raw", hexof(db), hexof(dc), hexof(de)]), "directory listing")
    eq((d / "disk.raw").read_bytes(), a, "disk.raw")
    eq((d / hexof(db)).read_bytes(), b, "../x stored under its digest")
    eq((d / hexof(dc)).read_bytes(), c, ".hidden stored under its digest")
    eq((d / hexof(de)).read_bytes(), e, "untitled layer")
    check(not (t.tmp / "x").exists(), "../x escaped the directory")
    eq(len(j["files"]), 4, "files in JSON")


def test_tampered_blob_and_wrong_size(t):
    reg = start_registry(t)
    disk = t.random_bytes(10000)
    _, (dd,) = push_layers(reg, REPO, "v1", [(DISK_MT, disk, "disk.raw")])
    p = blob_file(reg, dd)
    bad = bytearray(disk)
    bad[5000] ^= 0xFF
    p.write_bytes(bytes(bad))
    out = t.tmp / "disk.img"
    r = pull(t, reg, reg.ref(REPO, "v1"), "-o", out, "--json").expect_rc(EXIT_VERIFY, "tampered blob")
    check("digest mismatch" in r.stderr, "message: %s" % r.stderr)
    eq(r.stdout, "", "stdout on a mismatch")
    eq(sorted(x for x in os.listdir(t.tmp) if not x.startswith(".") and x != "home"), [], "files written")

    # the manifest declares another size than the blob has (both ways)
    good = t.random_bytes(8000)
    dg = reg.push_blob(REPO, good)
    for delta in (1, -1):
        m = reg.manifest_for([(DISK_MT, dg, len(good) + delta, {TITLE: "disk.raw"})])
        tag = "size-plus" if delta > 0 else "size-minus"
        reg.push_manifest(REPO, tag, m, OCI_MANIFEST)
        r = pull(t, reg, reg.ref(REPO, tag), "-o", out).expect_rc(EXIT_VERIFY, "size %+d" % delta)
        check("size mismatch" in r.stderr or "larger than" in r.stderr, "message: %s" % r.stderr)
        check(not out.exists() and not (t.tmp / "disk.img.digest").exists(), "output after a size mismatch")


def test_index_platforms(t):
    reg = start_registry(t)
    plats = [("linux", "amd64", None), ("linux", "arm64", "v8"), ("linux", "riscv64", None)]
    entries, disks = [], {}
    for os_, arch, var in plats:
        disks[arch] = ("disk for " + arch).encode() * 50
        md, _ = push_layers(reg, REPO, None, [(DISK_MT, disks[arch], "disk-%s.raw" % arch)])
        p = {"os": os_, "architecture": arch}
        if var:
            p["variant"] = var
        raw = reg.get_manifest(REPO, md).body
        entries.append({"mediaType": OCI_MANIFEST, "digest": md, "size": len(raw), "platform": p})
    idx = reg.push_manifest(REPO, "multi", {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    out = t.tmp / "disk.img"

    j = pull(t, reg, reg.ref(REPO, "multi"), "-o", out, "--platform", "linux/arm64", "--json").ok().json()
    eq(out.read_bytes(), disks["arm64"], "arm64 disk")
    eq((j["digest"], j["manifest_digest"], j["platform"]), (idx, entries[1]["digest"], "linux/arm64"), "json")
    pull(t, reg, reg.ref(REPO, "multi"), "-o", out, "--platform", "linux/riscv64").ok()
    eq(out.read_bytes(), disks["riscv64"], "riscv64 disk")
    if os.uname().machine == "x86_64":
        pull(t, reg, reg.ref(REPO, "multi"), "-o", out).ok()
        eq(out.read_bytes(), disks["amd64"], "host platform by default")

    r = pull(t, reg, reg.ref(REPO, "multi"), "-o", t.tmp / "none", "--platform", "linux/s390x")
    r.expect_rc(EXIT_NOT_FOUND, "missing platform")
    for p in ("linux/amd64", "linux/arm64/v8", "linux/riscv64", "linux/s390x"):
        check(p in r.stderr, "missing-platform message lacks %s: %s" % (p, r.stderr))
    check(not (t.tmp / "none").exists(), "output for a missing platform")

    # a single manifest annotated for arm64 is refused for an explicit amd64
    md, _ = push_layers(reg, REPO, "armonly", [(DISK_MT, b"arm disk", "disk.raw")],
                        annotations={"org.opencontainers.platform.os": "linux",
                                     "org.opencontainers.platform.architecture": "arm64"})
    pull(t, reg, reg.ref(REPO, "armonly"), "-o", t.tmp / "none", "--platform", "linux/amd64").expect_rc(
        EXIT_NOT_FOUND, "single manifest for another platform")
    pull(t, reg, reg.ref(REPO, "armonly"), "-o", out, "--platform", "linux/arm64").ok()
    eq(out.read_bytes(), b"arm disk", "single manifest for the right platform")


def _redirected(t, auth):
    pw = "Rd1-secret-%s" % auth
    kw = {"public_repos": ()} if auth == "token" else {}
    reg = start_registry(t, auth=auth, users={"alice": pw}, redirect_blobs=True, **kw)
    disk = t.random_bytes(30000)
    _, (dd,) = push_layers(reg, REPO, "v1", [(DISK_MT, disk, "disk.raw")])
    out = t.tmp / "disk.img"
    pull(t, reg, reg.ref(REPO, "v1"), "-o", out).expect_rc(EXIT_AUTH, "anonymous")
    pull(t, reg, reg.ref(REPO, "v1"), "-o", out, "-v", password=pw).ok()
    eq(out.read_bytes(), disk, "pulled through the redirect")
    cdn = [e for e in reg.cdn_log() if e["method"] == "GET"]
    check(cdn and all(e["status"] in (200, 206) for e in cdn), "CDN requests: %r" % cdn)
    for e in cdn:
        check("authorization" not in e["headers"], "credentials sent to the CDN: %r" % e["headers"])
    gets = blob_gets(reg)
    check(gets and all(e.status == 307 for e in gets), "registry blob GETs: %r" % gets)
    # second pull: the stamp spares the CDN
    n = len(reg.cdn_log())
    pull(t, reg, reg.ref(REPO, "v1"), "-o", out, password=pw).ok()
    eq(reg.cdn_log()[n:], [], "CDN requests on the second pull")
    for res in t.results:
        check(pw not in res.stdout and pw not in res.stderr, "password leaked in: %s" % " ".join(res.args))
    return reg, disk, dd


def test_redirect_htpasswd(t):
    _redirected(t, "htpasswd")


def test_redirect_token(t):
    reg, disk, dd = _redirected(t, "token")
    # the blob cut mid-transfer at the CDN once: resumed with Range, verified, installed
    cdn = reg.cdn
    orig = cdn._handle
    state = {"cut": 0}

    def cutting(h, body):
        # serves the blob itself, with an ETag (as CDNs do), the first full GET cut halfway
        path = os.path.normpath(os.path.join(cdn.root, h.path.split("?")[0].lstrip("/")))
        if not body or not os.path.isfile(path):
            return orig(h, body)
        data = open(path, "rb").read()
        rng = h.headers.get("Range") or ""
        start = int(rng[6:].split("-")[0]) if rng.startswith("bytes=") else 0
        cut = state["cut"] == 0 and start == 0
        state["cut"] += cut
        h.send_response(206 if start else 200)
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("ETag", '"%s"' % dd.split(":", 1)[1][:16])
        if start:
            h.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        h.send_header("Content-Length", str(len(data) - start))
        h.end_headers()
        h.wfile.write(data[start:len(data) // 2] if cut else data[start:])
        h.wfile.flush()
        if cut:
            h.close_connection = True
        with cdn.lock:
            cdn.log.append({"method": "GET", "path": path, "headers": {k.lower(): v for k, v in
                            h.headers.items()}, "status": 206 if start else 200, "cut": cut})

    cdn._handle = cutting
    out = t.tmp / "resumed.img"
    n = len(reg.cdn_log())
    pull(t, reg, reg.ref(REPO, "v1"), "-o", out, "-v", password="Rd1-secret-token").ok()
    eq(out.read_bytes(), disk, "resumed blob")
    log = reg.cdn_log()[n:]
    check(len(log) >= 2 and log[0].get("cut"), "CDN log: %r" % log)
    check(any((e["headers"].get("range") or "").startswith("bytes=%d-" % (len(disk) // 2)) for e in log[1:]),
          "no Range resume in %r" % [e["headers"].get("range") for e in log])
    for e in log:
        check("authorization" not in e["headers"], "credentials sent to the CDN on resume")


def test_format_raw_from_qcow2(t):
    reg = start_registry(t)
    raw_in = t.tmp / "src.raw"
    data = bytearray(4 << 20)
    data[0:65536] = t.random_bytes(65536)
    data[3 << 20:(3 << 20) + 4096] = t.random_bytes(4096)
    raw_in.write_bytes(bytes(data))
    q = t.tmp / "src.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw_in), str(q)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
    ref_raw = t.tmp / "ref.raw"
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(q), str(ref_raw)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
    qbytes = q.read_bytes()
    _, (dq,) = push_layers(reg, REPO, "q", [("application/vnd.imgfetch.disk.qcow2", qbytes, "disk.qcow2")])
    out = t.dir("o") / "disk.raw"
    j = pull(t, reg, reg.ref(REPO, "q"), "-o", out, "--format", "raw", "--json").ok().json()
    eq(j["format"], "raw", "format")
    check(out.read_bytes() == ref_raw.read_bytes(), "--format raw differs from qemu-img's raw output")
    eq(sorted(os.listdir(out.parent)), ["disk.raw", "disk.raw.digest"], "no temp file left beside the output")
    # again: skipped via the stamp (which records the format)
    n = len(reg.access_log())
    j = pull(t, reg, reg.ref(REPO, "q"), "-o", out, "--format", "raw", "--json").ok().json()
    eq((j["files"][0]["skipped"], blob_gets(reg, n)), (True, []), "second --format raw pull")
    # a blob pull to the same path is not fooled by the raw stamp
    j = pull(t, reg, reg.ref(REPO, "q"), "-o", out, "--json").ok().json()
    eq((j["files"][0]["skipped"], out.read_bytes() == qbytes), (False, True), "blob after raw")
