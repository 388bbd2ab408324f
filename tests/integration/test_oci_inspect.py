# SPDX-License-Identifier: MIT
"""imgfetch inspect against a real docker-registry on loopback (registry.py):
plain TLS, an OCI index with platforms, htpasswd and token auth, and a
manifest whose bytes do not match its digest."""

import json
import subprocess
import time

from harness import Result, check, eq
from registry import DOCKER_LIST, OCI_INDEX, OCI_MANIFEST, digest_of, start_registry

REPO = "test/os"
ARTIFACT_TYPE = "application/vnd.imgfetch.test.disk.v1"
EXIT_VERIFY, EXIT_NETWORK, EXIT_NOT_FOUND, EXIT_AUTH = 3, 4, 5, 7


def inspect(t, reg, ref, *args, password=None, user="alice"):
    """Runs `imgfetch inspect REF --cacert CA ARGS`, the password (if any) on stdin."""
    argv = t._argv(["inspect", ref, "--cacert", reg.cacert, *args] +
                   (["--username", user, "--password-stdin"] if password is not None else []))
    t0 = time.monotonic()
    p = subprocess.run(argv, cwd=str(t.tmp), env=t.env, input=(password or "").encode() + b"\n",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    r = Result(argv, p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"),
               time.monotonic() - t0)
    t.results.append(r)
    return r


def check_artifact_json(j, pushed, files, tag):
    eq(j["kind"], "manifest", "kind")
    eq(j["digest"], pushed["manifest"], "digest")
    eq(j["media_type"], OCI_MANIFEST, "media_type")
    eq(j["artifact_type"], ARTIFACT_TYPE, "artifact_type")
    eq(j["tag"], tag, "tag")
    eq(j["repository"], REPO, "repository")
    eq(j["size"], len(pushed["manifest_bytes"]), "manifest size")
    eq(j["annotations"], {"org.opencontainers.image.version": "1.2.3"}, "annotations")
    eq(j["config"]["digest"], digest_of(b"{}"), "config digest")
    eq([(x["title"], x["digest"], x["size"], x["media_type"]) for x in j["layers"]],
       [(n, pushed["layers"][n], len(d), "application/octet-stream") for n, d in files.items()], "layers")


def test_artifact_by_tag_and_digest(t):
    reg = start_registry(t)
    files = {"disk.raw.xz": t.random_bytes(3000), "SHA256SUMS": b"abc\n"}
    pushed = reg.push_artifact(REPO, "v1", files, artifact_type=ARTIFACT_TYPE,
                               annotations={"org.opencontainers.image.version": "1.2.3"})

    j = inspect(t, reg, reg.ref(REPO, "v1"), "--json").ok().json()
    check_artifact_json(j, pushed, files, "v1")
    eq(j["registry"], reg.host, "registry")

    j = inspect(t, reg, reg.ref(REPO, pushed["manifest"]), "--json").ok().json()
    check_artifact_json(j, pushed, files, None)

    r = inspect(t, reg, "oras://" + reg.ref(REPO, "v1")).ok()
    for want in ("manifest", pushed["manifest"], OCI_MANIFEST, ARTIFACT_TYPE, "disk.raw.xz", "SHA256SUMS",
                 "3000", "org.opencontainers.image.version=1.2.3"):
        check(want in r.stdout, "human output lacks %r:\n%s" % (want, r.stdout))

    # the Accept header made the OCI manifest visible at all (distribution answers 404 otherwise)
    gets = [e for e in reg.access_log() if e.method == "GET" and e.path == "/v2/%s/manifests/v1" % REPO]
    check(gets and all(e.status == 200 for e in gets), "manifest GETs: %r" % gets)

    inspect(t, reg, reg.ref(REPO, "nope"), "--json").expect_rc(EXIT_NOT_FOUND, "unknown tag")
    inspect(t, reg, "not a reference").expect_rc(2, "bad reference")
    # without the test CA: TLS verification fails (network error, not retried forever)
    r = t.run("inspect", reg.ref(REPO, "v1"))
    r.expect_rc(EXIT_NETWORK, "no --cacert")
    check("--cacert" in r.stderr, "TLS hint missing: %s" % r.stderr)


def test_index_platforms(t):
    reg = start_registry(t)
    plats = [("linux", "amd64", None), ("linux", "arm64", "v8"), ("linux", "riscv64", None)]
    entries = []
    for os_, arch, var in plats:
        a = reg.push_artifact(REPO, None, {"disk-%s.raw" % arch: ("disk for " + arch).encode()},
                              artifact_type=ARTIFACT_TYPE)
        p = {"os": os_, "architecture": arch}
        if var:
            p["variant"] = var
        entries.append({"mediaType": OCI_MANIFEST, "digest": a["manifest"], "size": len(a["manifest_bytes"]),
                        "platform": p})
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries,
             "annotations": {"org.opencontainers.image.description": "multi"}}
    idx_digest = reg.push_manifest(REPO, "multi", index)

    j = inspect(t, reg, reg.ref(REPO, "multi"), "--json").ok().json()
    eq(j["kind"], "index", "kind")
    eq(j["digest"], idx_digest, "index digest")
    eq(j["media_type"], OCI_INDEX, "media_type")
    eq([m["platform"] for m in j["manifests"]], ["linux/amd64", "linux/arm64/v8", "linux/riscv64"], "platforms")
    eq([m["digest"] for m in j["manifests"]], [e["digest"] for e in entries], "entry digests")
    check("selected" not in j, "selected without --platform")

    j = inspect(t, reg, reg.ref(REPO, "multi"), "--json", "--platform", "linux/arm64").ok().json()
    eq(j["selected"]["digest"], entries[1]["digest"], "selected digest")
    eq(j["selected"]["kind"], "manifest", "selected kind")
    eq([x["title"] for x in j["selected"]["layers"]], ["disk-arm64.raw"], "selected layers")

    r = inspect(t, reg, reg.ref(REPO, "multi"), "--platform", "linux/riscv64").ok()
    check("disk-riscv64.raw" in r.stdout and "linux/amd64" in r.stdout, "human output:\n%s" % r.stdout)

    r = inspect(t, reg, reg.ref(REPO, "multi"), "--platform", "linux/s390x", "--json")
    r.expect_rc(EXIT_NOT_FOUND, "missing platform")
    eq(r.stdout, "", "stdout on a missing platform")
    for p in ("linux/amd64", "linux/arm64/v8", "linux/riscv64", "linux/s390x"):
        check(p in r.stderr, "missing-platform message lacks %s: %s" % (p, r.stderr))
    inspect(t, reg, reg.ref(REPO, "multi"), "--platform", "linux").expect_rc(2, "bad --platform")

    # a Docker manifest list is an index too (the Accept header lists it)
    dlist = {"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": entries}
    dl_digest = reg.push_manifest(REPO, "dlist", dlist)
    j = inspect(t, reg, reg.ref(REPO, "dlist"), "--json", "--platform", "linux/riscv64").ok().json()
    eq((j["kind"], j["media_type"], j["digest"]), ("index", DOCKER_LIST, dl_digest), "docker list")
    eq(j["selected"]["digest"], entries[2]["digest"], "selected from the docker list")


def test_htpasswd(t):
    pw = "Zq9-very-secret-pw"
    reg = start_registry(t, auth="htpasswd", users={"alice": pw})
    files = {"disk.raw": b"htpasswd disk"}
    pushed = reg.push_artifact(REPO, "v1", files, artifact_type=ARTIFACT_TYPE,
                               annotations={"org.opencontainers.image.version": "1.2.3"})
    ref = reg.ref(REPO, "v1")

    r = inspect(t, reg, ref, "--json").expect_rc(EXIT_AUTH, "anonymous")
    check("authentication failed for %s/%s" % (reg.host, REPO) in r.stderr, "message: %s" % r.stderr)

    j = inspect(t, reg, ref, "--json", "-v", password=pw).ok().json()
    check_artifact_json(j, pushed, files, "v1")
    inspect(t, reg, ref, "-v", password=pw).ok()

    r = inspect(t, reg, ref, "--json", "-v", password="wrong-" + pw).expect_rc(EXIT_AUTH, "wrong password")
    check("authentication failed" in r.stderr, "message: %s" % r.stderr)
    inspect(t, reg, ref, password=pw, user="mallory").expect_rc(EXIT_AUTH, "unknown user")
    for res in t.results:
        check(pw not in res.stdout and pw not in res.stderr, "password leaked in: %s" % " ".join(res.args))
    # by digest too (a fresh 401 dance)
    inspect(t, reg, reg.ref(REPO, pushed["manifest"]), password=pw).ok()


def test_token(t):
    pw = "Tk7-token-secret"
    reg = start_registry(t, auth="token", users={"alice": pw}, public_repos=("public/",))
    files = {"disk.raw": b"token disk"}
    pub = reg.push_artifact("public/os", "v1", files)
    priv = reg.push_artifact("private/os", "v1", files, artifact_type=ARTIFACT_TYPE,
                             annotations={"org.opencontainers.image.version": "1.2.3"})

    j = inspect(t, reg, reg.ref("public/os", "v1"), "--json").ok().json()
    eq(j["digest"], pub["manifest"], "public digest")
    inspect(t, reg, reg.ref("private/os", "v1"), "--json").expect_rc(EXIT_AUTH, "anonymous, private repo")
    j = inspect(t, reg, reg.ref("private/os", "v1"), "--json", "-v", password=pw).ok().json()
    eq(j["digest"], priv["manifest"], "private digest")
    eq(j["artifact_type"], ARTIFACT_TYPE, "artifact_type")
    inspect(t, reg, reg.ref("private/os", "v1"), password="nope").expect_rc(EXIT_AUTH, "wrong password")

    log = reg.token_log()
    eq([(e["params"].get("scope"), e["user"], e["status"]) for e in log],
       [(["repository:public/os:pull"], None, 200), (["repository:private/os:pull"], None, 200),
        (["repository:private/os:pull"], "alice", 200), (["repository:private/os:pull"], "alice", 401)],
       "token requests (scope, user, status)")

    # an already expired token (invalid_token) is replaced once, then it works
    reg.expired_first = reg.tokens_issued + 1
    j = inspect(t, reg, reg.ref("private/os", "v1"), "--json", password=pw).ok().json()
    eq(j["digest"], priv["manifest"], "digest after a token refresh")
    eq([e.get("expired") for e in reg.token_log()[len(log):]], [True, False], "tokens issued for the refresh")
    # always expired: gives up after the second token
    reg.expired_first = reg.tokens_issued + 10
    inspect(t, reg, reg.ref("private/os", "v1"), password=pw).expect_rc(EXIT_AUTH, "only expired tokens")
    eq(len(reg.token_log()), len(log) + 4, "token requests in all")
    check(all(e["params"].get("service") == [reg.service] for e in log), "service: %r" % log)
    for res in t.results:
        check(pw not in res.stdout and pw not in res.stderr, "password leaked in: %s" % " ".join(res.args))


def test_manifest_digest_mismatch(t):
    reg = start_registry(t)
    pushed = reg.push_artifact(REPO, "v1", {"disk.raw": b"original"})
    # Tamper with the stored manifest: still a valid manifest, but other bytes.
    m = json.loads(pushed["manifest_bytes"])
    m["annotations"] = {"tampered": "yes"}
    hexd = pushed["manifest"].split(":", 1)[1]
    (reg.storage / "docker/registry/v2/blobs/sha256" / hexd[:2] / hexd / "data").write_bytes(
        json.dumps(m, separators=(",", ":")).encode())

    r = inspect(t, reg, reg.ref(REPO, pushed["manifest"]), "--json").expect_rc(EXIT_VERIFY, "by digest")
    eq(r.stdout, "", "stdout on a mismatch")
    check("digest mismatch" in r.stderr, "message: %s" % r.stderr)
    # by tag: Docker-Content-Digest names the original digest, the body is other bytes
    inspect(t, reg, reg.ref(REPO, "v1"), "--json").expect_rc(EXIT_VERIFY, "by tag")
