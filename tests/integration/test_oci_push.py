# SPDX-License-Identifier: MIT
"""imgfetch push / index create against a real docker-registry on loopback
(registry.py), checked with skopeo as an independent client: titles,
artifactType and annotations; a chunked upload of a large blob; idempotent
re-push (no blob upload the second time); a multi-platform index; what skopeo
pushes, imgfetch inspect reads; bad credentials."""

import json
import subprocess
import time

from harness import MiB, Result, check, eq
from registry import OCI_EMPTY, OCI_INDEX, OCI_MANIFEST, digest_of, make_oci_layout, start_registry

REPO = "test/os"
ARTIFACT_TYPE = "application/vnd.imgfetch.test.disk.v1"
KERNEL_MT = "application/vnd.imgfetch.test.kernel.v1+octet-stream"
EXIT_NOT_FOUND, EXIT_AUTH = 5, 7
PW = "Pu5h-secret-pw"


def cli(t, reg, *args, password=PW, user="alice"):
    """Runs `imgfetch ARGS --cacert CA [--username U --password-stdin]`."""
    argv = t._argv([*args, "--cacert", reg.cacert] +
                   (["--username", user, "--password-stdin"] if password is not None else []))
    t0 = time.monotonic()
    p = subprocess.run(argv, cwd=str(t.tmp), env=t.env, input=(password or "").encode() + b"\n",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    r = Result(argv, p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"),
               time.monotonic() - t0)
    t.results.append(r)
    return r


def skopeo(reg, *args, prefix="", creds=True):
    argv = ["skopeo", *args[:1], *reg.skopeo_tls_args(prefix)]
    if creds:
        argv += ["--%screds" % prefix, "alice:" + PW]
    argv += list(args[1:])
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    check(p.returncode == 0, "%s failed: %s" % (" ".join(argv), p.stderr.decode(errors="replace")))
    return p.stdout


def uploads(entries):
    """(PATCH, PUT to blobs/uploads) counts in access-log entries."""
    patch = [e for e in entries if e.method == "PATCH" and "/blobs/uploads/" in e.path]
    put = [e for e in entries if e.method == "PUT" and "/blobs/uploads/" in e.path]
    return patch, put


def no_password(t):
    for res in t.results:
        check(PW not in res.stdout and PW not in res.stderr, "password leaked in: %s" % " ".join(res.args))


def test_push_artifact(t):
    reg = start_registry(t, auth="htpasswd", users={"alice": PW})
    d = t.dir("in")
    kernel = t.make_file(d / "vmlinuz", 300000)
    disk = t.make_file(d / "disk.raw", 123457)
    ref = reg.ref(REPO, "v1")
    r = cli(t, reg, "push", "%s:%s" % (d / "vmlinuz", KERNEL_MT), str(d / "disk.raw"), ref,
            "--artifact-type", ARTIFACT_TYPE, "--annotation", "org.opencontainers.image.version=1.2.3",
            "--annotation", "io.example.note=a=b", "-v").ok()
    digest = r.stdout.strip()
    check(digest.startswith("sha256:") and len(digest) == 71, "stdout: %r" % r.stdout)

    raw = skopeo(reg, "inspect", "--raw", "docker://" + ref)
    eq(digest_of(raw), digest, "manifest digest (skopeo)")
    m = json.loads(raw)
    eq((m["schemaVersion"], m["mediaType"], m["artifactType"]), (2, OCI_MANIFEST, ARTIFACT_TYPE), "manifest head")
    eq(m["config"], {"mediaType": OCI_EMPTY, "digest": digest_of(b"{}"), "size": 2}, "config")
    eq([(x["annotations"]["org.opencontainers.image.title"], x["mediaType"], x["digest"], x["size"])
        for x in m["layers"]],
       [("vmlinuz", KERNEL_MT, digest_of(kernel), len(kernel)),
        ("disk.raw", "application/octet-stream", digest_of(disk), len(disk))], "layers")
    eq(m["annotations"], {"org.opencontainers.image.version": "1.2.3", "io.example.note": "a=b"}, "annotations")

    out = t.tmp / "copy"
    skopeo(reg, "copy", "--preserve-digests", "docker://" + ref, "oci:%s:v1" % out, prefix="src-")
    blobs = out / "blobs" / "sha256"
    eq((blobs / digest_of(kernel)[7:]).read_bytes(), kernel, "kernel blob")
    eq((blobs / digest_of(disk)[7:]).read_bytes(), disk, "disk blob")
    eq(json.loads((out / "index.json").read_text())["manifests"][0]["digest"], digest, "copied manifest")

    # imgfetch inspect reads it back
    j = cli(t, reg, "inspect", ref, "--json").ok().json()
    eq((j["digest"], j["artifact_type"]), (digest, ARTIFACT_TYPE), "inspect")
    eq([x["title"] for x in j["layers"]], ["vmlinuz", "disk.raw"], "inspect titles")

    # idempotent: same digest, blobs found by HEAD, nothing uploaded
    n = len(reg.access_log())
    r = cli(t, reg, "push", "%s:%s" % (d / "vmlinuz", KERNEL_MT), str(d / "disk.raw"), ref,
            "--artifact-type", ARTIFACT_TYPE, "--annotation", "org.opencontainers.image.version=1.2.3",
            "--annotation", "io.example.note=a=b", "--json").ok()
    j = r.json()
    eq((j["digest"], j["blobs_uploaded"], j["blobs_skipped"], j["bytes_uploaded"]), (digest, 0, 3, 0), "re-push")
    log = reg.access_log()[n:]
    eq(uploads(log), ([], []), "uploads on re-push")
    check(not [e for e in log if e.method == "POST"], "POST on re-push: %r" % log)
    check(len([e for e in log if e.method == "HEAD" and e.status == 200]) == 3, "HEADs: %r" % log)

    # bad credentials / none / missing file / digest ref
    r = cli(t, reg, "push", str(d / "disk.raw"), ref, password="wrong-" + PW).expect_rc(EXIT_AUTH, "bad password")
    check("authentication failed" in r.stderr, "message: %s" % r.stderr)
    cli(t, reg, "push", str(d / "disk.raw"), ref, password=None).expect_rc(EXIT_AUTH, "anonymous")
    cli(t, reg, "push", str(d / "nope"), ref).expect_rc(EXIT_NOT_FOUND, "missing file")
    cli(t, reg, "push", str(d / "disk.raw"), reg.ref(REPO, digest)).expect_rc(2, "digest reference")
    t.run("push", str(d / "disk.raw")).expect_rc(2, "no reference")
    cli(t, reg, "push", str(d / "disk.raw"), ref, "--platform", "linux").expect_rc(2, "bad platform")
    no_password(t)


def test_push_chunked(t):
    reg = start_registry(t, auth="htpasswd", users={"alice": PW}, relative_urls=True)
    big = t.make_file(t.tmp / "big.img", 20 * MiB + 12345)
    ref = reg.ref("big/os", "v1")
    r = cli(t, reg, "push", str(t.tmp / "big.img"), ref, "--chunk-size", "4M", "--json").ok()
    j = r.json()
    eq((j["blobs_uploaded"], j["bytes_uploaded"]), (2, len(big) + 2), "uploaded")
    log = reg.access_log()
    patch, put = uploads(log)
    eq(len([e for e in patch if e.status == 202]), 6 + 1, "PATCH requests (6 for the image, 1 for the config)")
    eq(len([e for e in put if e.status == 201]), 2, "blob PUTs")
    # each PATCH went to the newest Location: distinct _state values, none refused
    check(all(e.status == 202 for e in patch), "refused PATCH: %r" % patch)
    eq(len({e.uri for e in patch}), len(patch), "distinct upload URLs")
    out = t.tmp / "copy"
    skopeo(reg, "copy", "docker://" + ref, "oci:%s:v1" % out, prefix="src-")
    eq((out / "blobs" / "sha256" / digest_of(big)[7:]).read_bytes(), big, "large blob intact")
    raw = skopeo(reg, "inspect", "--raw", "docker://" + ref)
    eq(digest_of(raw), j["digest"], "manifest digest")
    eq(json.loads(raw)["layers"][0]["annotations"]["org.opencontainers.image.title"], "big.img", "title")


def test_index_create(t):
    reg = start_registry(t, auth="token", users={"alice": PW}, redirect_blobs=True)
    digests = {}
    for plat in ("linux/amd64", "linux/arm64/v8"):
        arch = plat.split("/")[1]
        f = t.tmp / ("disk-%s.raw" % arch)
        f.write_bytes(("disk for " + plat).encode())
        r = cli(t, reg, "push", str(f), reg.ref(REPO, arch), "--platform", plat, "--artifact-type",
                ARTIFACT_TYPE).ok()
        digests[plat] = r.stdout.strip()
        m = json.loads(skopeo(reg, "inspect", "--raw", "docker://" + reg.ref(REPO, arch)))
        eq(m["annotations"], {"org.opencontainers.image.platform": plat}, "platform annotation")
    # one by tag (platform from its annotation), one by full reference with an explicit platform
    r = cli(t, reg, "index", "create", reg.ref(REPO, "multi"), "amd64",
            reg.ref(REPO, digests["linux/arm64/v8"]) + "=linux/arm64/v8",
            "--annotation", "org.opencontainers.image.description=multi", "-v").ok()
    idx = r.stdout.strip()
    raw = skopeo(reg, "inspect", "--raw", "docker://" + reg.ref(REPO, "multi"))
    eq(digest_of(raw), idx, "index digest")
    j = json.loads(raw)
    eq((j["schemaVersion"], j["mediaType"]), (2, OCI_INDEX), "index head")
    eq([(e["digest"], e["mediaType"], e["platform"], e["artifactType"]) for e in j["manifests"]],
       [(digests["linux/amd64"], OCI_MANIFEST, {"architecture": "amd64", "os": "linux"}, ARTIFACT_TYPE),
        (digests["linux/arm64/v8"], OCI_MANIFEST, {"architecture": "arm64", "os": "linux", "variant": "v8"},
         ARTIFACT_TYPE)], "index entries")
    eq(j["annotations"], {"org.opencontainers.image.description": "multi"}, "index annotations")
    for plat, dg in digests.items():
        s = cli(t, reg, "inspect", reg.ref(REPO, "multi"), "--platform", plat, "--json").ok().json()
        eq(s["selected"]["digest"], dg, "selected " + plat)
    # the tokens asked for push
    scopes = {s for e in reg.token_log() for s in (e["params"].get("scope") or [])}
    check("repository:%s:pull,push" % REPO in scopes, "token scopes: %r" % scopes)
    # re-push while blob HEADs answer 307 (to the CDN): still "present", nothing uploaded; an expired
    # first token is replaced once
    reg.expired_first = reg.tokens_issued + 1
    n_tok, n_log = len(reg.token_log()), len(reg.access_log())
    j = cli(t, reg, "push", str(t.tmp / "disk-amd64.raw"), reg.ref(REPO, "amd64"), "--platform", "linux/amd64",
            "--artifact-type", ARTIFACT_TYPE, "--json").ok().json()
    eq((j["digest"], j["blobs_uploaded"], j["blobs_skipped"]), (digests["linux/amd64"], 0, 2), "re-push (307 HEAD)")
    eq([e.get("expired") for e in reg.token_log()[n_tok:]], [True, False], "tokens for the refresh")
    log = reg.access_log()[n_log:]
    eq(sorted(e.status for e in log if e.method == "HEAD"), [307, 307, 401, 401], "blob HEADs (anonymous, expired token, 307 x2)")
    eq(uploads(log), ([], []), "uploads on re-push")

    # the platform from an OCI image config (fetched through the 307 to the CDN, without credentials)
    cfg = t.tmp / "config.json"
    cfg.write_bytes(b'{"architecture":"riscv64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}')
    f = t.tmp / "disk-riscv64.raw"
    f.write_bytes(b"disk for riscv64")
    rv = cli(t, reg, "push", str(f), reg.ref(REPO, "riscv64"), "--config",
             "%s:application/vnd.oci.image.config.v1+json" % cfg).ok().stdout.strip()
    j = json.loads(skopeo(reg, "inspect", "--raw", "docker://" + reg.ref(REPO, "riscv64")))
    eq((j["config"]["mediaType"], j["config"]["digest"]),
       ("application/vnd.oci.image.config.v1+json", digest_of(cfg.read_bytes())), "config descriptor")
    r = cli(t, reg, "index", "create", reg.ref(REPO, "three"), "amd64", "riscv64", "arm64", "--json").ok()
    j = json.loads(skopeo(reg, "inspect", "--raw", "docker://" + reg.ref(REPO, "three")))
    eq([(e["digest"], e["platform"]) for e in j["manifests"]],
       [(digests["linux/amd64"], {"architecture": "amd64", "os": "linux"}),
        (rv, {"architecture": "riscv64", "os": "linux"}),
        (digests["linux/arm64/v8"], {"architecture": "arm64", "os": "linux", "variant": "v8"})], "detected platforms")
    cdn = reg.cdn_log()
    check(any(e["path"].endswith(digest_of(cfg.read_bytes())[7:] + "/data") for e in cdn), "config via CDN: %r" % cdn)
    check(not any("authorization" in e["headers"] for e in cdn), "credentials reached the CDN: %r" % cdn)

    cli(t, reg, "index", "create", reg.ref(REPO, "bad"), "nope").expect_rc(EXIT_NOT_FOUND, "unknown manifest")
    cli(t, reg, "index", "create", reg.ref(REPO, "bad"), "amd64", password="nope").expect_rc(EXIT_AUTH,
                                                                                             "bad password")
    cli(t, reg, "index", "create", reg.ref(REPO, "bad"), "other.host/x:y").expect_rc(2, "other repository")
    no_password(t)


def test_skopeo_pushed(t):
    """What skopeo pushes (a manifest, and an index built over two of them), imgfetch inspects and pulls."""
    reg = start_registry(t, auth="htpasswd", users={"alice": PW})
    lay = make_oci_layout(t.tmp / "layout", {"disk.raw": b"skopeo disk", "SHA256SUMS": b"x\n"}, tag="v1",
                          artifact_type=ARTIFACT_TYPE)
    skopeo(reg, "copy", "--preserve-digests", "oci:%s:v1" % (t.tmp / "layout"), "docker://" + reg.ref(REPO, "v1"),
           prefix="dest-")
    j = cli(t, reg, "inspect", reg.ref(REPO, "v1"), "--json").ok().json()
    eq((j["digest"], j["artifact_type"]), (lay["manifest"], ARTIFACT_TYPE), "skopeo-pushed manifest")
    eq([x["title"] for x in j["layers"]], ["disk.raw", "SHA256SUMS"], "titles")
    got = t.tmp / "pulled-v1.raw"
    cli(t, reg, "pull", reg.ref(REPO, "v1"), "-o", got, "--title", "disk.raw").ok()
    eq(got.read_bytes(), b"skopeo disk", "pulled the skopeo-pushed layer")

    # a multi-arch index in an OCI layout, copied with --all
    d = t.tmp / "multi"
    entries = []
    for arch in ("amd64", "arm64"):
        one = make_oci_layout(d, {"disk-%s.raw" % arch: ("disk " + arch).encode()}, tag=arch)
        entries.append({"mediaType": OCI_MANIFEST, "digest": one["manifest"], "size": len(one["manifest_bytes"]),
                        "platform": {"architecture": arch, "os": "linux"}})
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries},
                       separators=(",", ":")).encode()
    (d / "blobs" / "sha256" / digest_of(index)[7:]).write_bytes(index)
    (d / "index.json").write_text(json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_INDEX, "digest": digest_of(index), "size": len(index),
         "annotations": {"org.opencontainers.image.ref.name": "multi"}}]}))
    skopeo(reg, "copy", "--all", "--preserve-digests", "oci:%s:multi" % d, "docker://" + reg.ref(REPO, "multi"),
           prefix="dest-")
    j = cli(t, reg, "inspect", reg.ref(REPO, "multi"), "--json", "--platform", "linux/arm64").ok().json()
    eq((j["kind"], j["digest"]), ("index", digest_of(index)), "skopeo-pushed index")
    eq(j["selected"]["digest"], entries[1]["digest"], "selected arm64")
    for arch in ("amd64", "arm64"):
        got = t.tmp / ("pulled-%s.raw" % arch)
        cli(t, reg, "pull", reg.ref(REPO, "multi"), "--platform", "linux/" + arch, "-o", got).ok()
        eq(got.read_bytes(), ("disk " + arch).encode(), "pulled %s from the skopeo-pushed index" % arch)
    no_password(t)
