# SPDX-License-Identifier: MIT
"""Registry credentials from auth files for `imgfetch inspect`, against an
htpasswd docker-registry on loopback: ~/.docker/config.json ($DOCKER_CONFIG),
$REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, --authfile,
credHelpers and credsStore (docker-credential-<name> scripts in a private PATH
directory), the precedence explicit > --authfile > $REGISTRY_AUTH_FILE >
default files, failing helpers (no credentials: exit 7) and malformed files
(exit 2). The password never appears in any output, also with -v."""

import base64
import json
import os
import subprocess
import time

from harness import Result, check
from registry import start_registry

REPO = "test/os"
EXIT_USAGE, EXIT_AUTH = 2, 7
PW = "Af7-auth-file-secret"
BAD = "Wrong-file-secret-9"


def b64(user, pw):
    return base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()


def setup(t):
    reg = start_registry(t, auth="htpasswd", users={"alice": PW})
    reg.push_artifact(REPO, "v1", {"disk.raw": b"auth file disk"})
    bindir = t.dir("credbin")
    return reg, bindir


def clean_env(t, bindir, **extra):
    e = dict(t.env)
    for k in ("REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "DOCKER_CONFIG"):
        e.pop(k, None)
    e["PATH"] = str(bindir) + os.pathsep + e.get("PATH", "/usr/bin:/bin")
    e.update({k: str(v) for k, v in extra.items()})
    return e


def inspect(t, reg, env, *args, password=None, user="alice"):
    argv = t._argv(["inspect", reg.ref(REPO, "v1"), "--cacert", reg.cacert, "--json", *args] +
                   (["--username", user, "--password-stdin"] if password is not None else []))
    t0 = time.monotonic()
    p = subprocess.run(argv, cwd=str(t.tmp), env=env, input=(password or "").encode() + b"\n",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    r = Result(argv, p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"),
               time.monotonic() - t0)
    t.results.append(r)
    return r


def write_json(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return path


def auths(host, pw, user="alice"):
    return {"auths": {host: {"auth": b64(user, pw)}}}


def helper(bindir, name, body):
    p = bindir / ("docker-credential-" + name)
    p.write_text("#!/bin/sh\n" + body)
    p.chmod(0o755)
    return p


def no_leak(t):
    for res in t.results:
        for secret in (PW, b64("alice", PW)):
            check(secret not in res.stdout and secret not in res.stderr,
                  "secret leaked in: %s" % " ".join(res.args))


def test_docker_config(t):
    reg, bindir = setup(t)
    env = clean_env(t, bindir)
    cfg = t.home / ".docker" / "config.json"

    inspect(t, reg, env).expect_rc(EXIT_AUTH, "no config: anonymous")
    write_json(cfg, auths(reg.host, PW))
    r = inspect(t, reg, env, "-v").ok()
    check(str(cfg) in r.stderr, "-v names the auth file: %s" % r.stderr)
    inspect(t, reg, env).ok()
    # legacy "https://host/v1/" key, and username/password fields
    write_json(cfg, {"auths": {"https://%s/v1/" % reg.host: {"auth": b64("alice", PW)}}})
    inspect(t, reg, env, "-v").ok()
    write_json(cfg, {"auths": {reg.host: {"username": "alice", "password": PW}}})
    inspect(t, reg, env).ok()
    # an entry for another registry only, a namespaced key: anonymous
    write_json(cfg, {"auths": {"127.0.0.1:1": {"auth": b64("alice", PW)},
                               reg.host + "/other": {"auth": b64("alice", PW)}}})
    inspect(t, reg, env).expect_rc(EXIT_AUTH, "no entry for this host")
    # a wrong password in the file: refused
    write_json(cfg, auths(reg.host, BAD))
    r = inspect(t, reg, env, "-v").expect_rc(EXIT_AUTH, "wrong password in config.json")
    check("authentication failed" in r.stderr, r.stderr)
    # $DOCKER_CONFIG/config.json instead of ~/.docker
    dc = t.dir("dockercfg")
    write_json(dc / "config.json", auths(reg.host, PW))
    inspect(t, reg, clean_env(t, bindir, DOCKER_CONFIG=dc)).ok()
    no_leak(t)


def test_precedence(t):
    reg, bindir = setup(t)
    good = write_json(t.tmp / "good.json", auths(reg.host, PW))
    bad = write_json(t.tmp / "bad.json", auths(reg.host, BAD))
    write_json(t.home / ".docker" / "config.json", auths(reg.host, BAD))
    xdg = t.dir("xdg")

    # default: docker config (bad); podman's auth.json comes first when it exists
    inspect(t, reg, clean_env(t, bindir)).expect_rc(EXIT_AUTH, "docker config bad")
    write_json(xdg / "containers" / "auth.json", auths(reg.host, PW))
    inspect(t, reg, clean_env(t, bindir, XDG_RUNTIME_DIR=xdg)).ok()
    # $REGISTRY_AUTH_FILE beats the default files
    inspect(t, reg, clean_env(t, bindir, REGISTRY_AUTH_FILE=good)).ok()
    inspect(t, reg, clean_env(t, bindir, XDG_RUNTIME_DIR=xdg, REGISTRY_AUTH_FILE=bad)).expect_rc(
        EXIT_AUTH, "env (bad) beats auth.json (good)")
    # --authfile beats $REGISTRY_AUTH_FILE
    inspect(t, reg, clean_env(t, bindir, REGISTRY_AUTH_FILE=bad), "--authfile", good).ok()
    inspect(t, reg, clean_env(t, bindir, REGISTRY_AUTH_FILE=good), "--authfile", bad).expect_rc(
        EXIT_AUTH, "--authfile (bad) beats env (good)")
    # explicit --username/--password-stdin beat everything
    inspect(t, reg, clean_env(t, bindir), "--authfile", bad, password=PW).ok()
    inspect(t, reg, clean_env(t, bindir), "--authfile", good, password=BAD).expect_rc(
        EXIT_AUTH, "explicit (bad) beats --authfile (good)")
    no_leak(t)


def test_cred_helpers(t):
    reg, bindir = setup(t)
    log = t.tmp / "helper.log"
    helper(bindir, "test", 'read -r server; echo "get $1 $server" >> %s\n'
           'printf \'{"ServerURL":"%%s","Username":"alice","Secret":"%s"}\\n\' "$server"\n' % (log, PW))
    helper(bindir, "none", 'cat >/dev/null; echo "credentials not found in native keychain"; exit 1\n')
    helper(bindir, "broken", 'cat >/dev/null; echo "boom" >&2; exit 3\n')
    helper(bindir, "garbage", 'cat >/dev/null; echo "not json"\n')
    f = t.tmp / "auth.json"
    env = clean_env(t, bindir, REGISTRY_AUTH_FILE=f)

    # credHelpers for this host wins over auths
    write_json(f, {"auths": {reg.host: {"auth": b64("alice", BAD)}}, "credHelpers": {reg.host: "test"}})
    inspect(t, reg, env, "-v").ok()
    check(log.read_text().splitlines() == ["get get %s" % reg.host], "helper calls: %r" % log.read_text())
    # credsStore when no credHelpers entry matches
    write_json(f, {"credsStore": "test", "credHelpers": {"other.example": "none"}})
    inspect(t, reg, env).ok()
    # a helper without credentials, failing, printing garbage or missing: anonymous -> 401 -> 7
    for name in ("none", "broken", "garbage", "missing"):
        write_json(f, {"credHelpers": {reg.host: name}, "auths": {reg.host: {"auth": b64("alice", PW)}}})
        r = inspect(t, reg, env, "-v").expect_rc(EXIT_AUTH, "helper " + name)
        if name != "none":
            check("docker-credential-" + name in r.stderr, "warning names the helper: %s" % r.stderr)
    # helper names cannot point outside PATH
    write_json(f, {"credHelpers": {reg.host: "../credbin/docker-credential-test"}})
    r = inspect(t, reg, env).expect_rc(EXIT_USAGE, "helper name with a slash")
    check("malformed auth file" in r.stderr, r.stderr)
    no_leak(t)


def test_malformed(t):
    reg, bindir = setup(t)
    cfg = t.home / ".docker" / "config.json"
    env = clean_env(t, bindir)
    for text in ('{"auths": {', '[]', '{"auths": []}', '{"auths": {"%s": {"auth": "%s!"}}}' % (reg.host, PW),
                 '{"credsStore": 7}', '{"auths": {"%s": {"username": "alice"}}}' % reg.host):
        write_json(cfg, text)
        r = inspect(t, reg, env).expect_rc(EXIT_USAGE, "malformed: " + text)
        check("malformed auth file %s" % cfg in r.stderr, "message: %s" % r.stderr)
    # too large
    write_json(cfg, '{"x": "%s"}' % ("a" * (1024 * 1024)))
    r = inspect(t, reg, env).expect_rc(EXIT_USAGE, "too large")
    check("larger than 1 MiB" in r.stderr, r.stderr)
    # an explicit --authfile that does not exist; a missing $REGISTRY_AUTH_FILE is no credentials
    r = inspect(t, reg, env, "--authfile", t.tmp / "nope.json").expect_rc(EXIT_USAGE, "missing --authfile")
    check("does not exist" in r.stderr, r.stderr)
    cfg.unlink()
    inspect(t, reg, clean_env(t, bindir, REGISTRY_AUTH_FILE=t.tmp / "nope.json")).expect_rc(EXIT_AUTH, "missing env")
    # explicit credentials do not read the files at all
    write_json(cfg, '{"auths": {')
    inspect(t, reg, env, password=PW).ok()
    no_leak(t)


def test_pull_and_push_use_auth_files(t):
    """pull and push find credentials the same way inspect does."""
    reg, bindir = setup(t)
    write_json(t.home / ".docker" / "config.json", {"auths": {reg.host: {"auth": b64("alice", PW)}}})
    env = clean_env(t, bindir)
    out = t.dir("pulled") / "disk.raw"
    r = t.run("pull", reg.ref(REPO, "v1"), "-o", out, "--cacert", reg.cacert, env=env, timeout=60)
    check(r.rc == 0, "pull with config.json credentials: %s" % r.describe())
    check(out.read_bytes() == b"auth file disk", "pulled bytes")
    src = t.dir("push") / "payload.bin"
    src.write_bytes(b"pushed with auth-file credentials")
    af = write_json(t.tmp / "auth.json", {"auths": {reg.host: {"username": "alice", "password": PW}}})
    r = t.run("push", src, reg.ref(REPO, "v2"), "--cacert", reg.cacert, "--authfile", af, env=env, timeout=60)
    check(r.rc == 0, "push with --authfile: %s" % r.describe())
    for res in (r,):
        check(PW not in res.stdout + res.stderr, "password never printed")
    bad = write_json(t.tmp / "bad.json", {"auths": {reg.host: {"auth": b64("alice", BAD)}}})
    r = t.run("push", src, reg.ref(REPO, "v3"), "--cacert", reg.cacert, "--authfile", bad, env=env, timeout=60)
    check(r.rc == EXIT_AUTH, "wrong credentials from the file: exit 7, got %s" % r.rc)
