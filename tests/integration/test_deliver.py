# SPDX-License-Identifier: MIT
"""imgfetch deliver: a SmartOS/Triton zvol image pair (IMGAPI manifest +
.zfs.gz) to its three targets, through the CLI.

- imgapi: against imgapi_server.py, a loopback stand-in for Triton's IMGAPI;
  the exact request sequence and bodies, re-delivery (only a GET), an image
  with another sha1, unactivated images, an import race (409), server errors,
  and pairs that do not match (nothing sent, or the upload refused);
- smartos: stand-in `imgadm` and `zonename` scripts first on PATH that record
  how they were called (named stand_in_* on disk so nobody mistakes them);
- file: the printed imgadm command, shell-quoted.

The pairs are made here: some random bytes gzip'd with Python's gzip module
(not a real zfs send stream: nothing here receives it) and a manifest with
every field IMGAPI has for a zvol image, the right sha1/size/uuid.
"""

import gzip
import hashlib
import json
import os
import shlex
import signal
import time
import uuid as uuidlib
from pathlib import Path

from harness import check, eq
from imgapi_server import ImgapiServer

EXIT_OTHER, EXIT_USAGE, EXIT_VERIFY, EXIT_NETWORK, EXIT_NOT_FOUND, EXIT_FORMAT = 1, 2, 3, 4, 5, 6
EXIT_SIGINT, EXIT_SIGTERM = 130, 143


# ------------------------------------------------------------------ helpers

class Pair:
    def __init__(self, manifest_path: Path, file_path: Path, manifest: dict, data: bytes):
        self.manifest_path = manifest_path
        self.file_path = file_path
        self.manifest = manifest
        self.manifest_bytes = manifest_path.read_bytes()
        self.data = data
        self.uuid = manifest["uuid"]
        self.sha1 = hashlib.sha1(data).hexdigest()


def make_pair(t, name="debian-13", size=300000, sha1=None, file_size=None, directory=None, **overrides) -> Pair:
    """A gzip'd payload and its IMGAPI manifest; sha1/file_size override what
    the manifest claims about the file."""
    d = Path(directory) if directory else t.dir("pair")
    d.mkdir(parents=True, exist_ok=True)
    data = gzip.compress(t.random_bytes(size), compresslevel=1, mtime=0)
    stem = "%s-20260101.x86_64" % name
    f = d / (stem + ".zfs.gz")
    f.write_bytes(data)
    manifest = {
        "v": 2,
        "uuid": str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, t.name + "/" + name)),
        "owner": "00000000-0000-0000-0000-000000000000",
        "name": name,
        "version": "20260101",
        "state": "active",
        "disabled": False,
        "public": True,
        "published_at": "2026-01-01T00:00:00.000Z",
        "type": "zvol",
        "os": "linux",
        "description": "test image made by test_deliver.py",
        "files": [{"sha1": sha1 or hashlib.sha1(data).hexdigest(),
                   "size": len(data) if file_size is None else file_size,
                   "compression": "gzip"}],
        "requirements": {"brand": "bhyve", "bootrom": "uefi", "networks": [{"name": "net0",
                                                                             "description": "public"}]},
        "image_size": 10240,
        "tags": {"role": "os", "org.smartos:source": "test"},
        "nic_driver": "virtio",
        "disk_driver": "virtio",
        "cpu_type": "host",
    }
    manifest.update(overrides)
    m = d / (stem + ".json")
    m.write_text(json.dumps(manifest, indent=2) + "\n")
    return Pair(m, f, manifest, data)


def imgapi(t):
    srv = ImgapiServer().start()
    t._cleanups.append(srv.stop)
    return srv


def deliver_imgapi(t, srv, pair, *extra):
    return t.run("deliver", pair.manifest_path, pair.file_path, "--target", "imgapi", "--imgapi", srv.url, *extra)


def check_fresh_sequence(srv, pair):
    """GET 404, import with the manifest's bytes, PUT the file, activate."""
    u = pair.uuid
    eq(srv.briefs(), [("GET", "/images/" + u, None), ("POST", "/images/" + u, "import"),
                      ("PUT", "/images/%s/file" % u, None), ("POST", "/images/" + u, "activate")], "requests")
    get, imp, put, act = srv.requests
    eq(get.status, 404, "GET status")
    eq(imp.body, pair.manifest_bytes, "import body (the manifest as it is on disk)")
    eq(imp.headers.get("content-type"), "application/json", "import Content-Type")
    eq(put.query, {"compression": "gzip", "sha1": pair.sha1, "size": str(len(pair.data))}, "PUT query")
    eq(put.headers.get("content-type"), "application/octet-stream", "PUT Content-Type")
    eq(put.headers.get("content-length"), str(len(pair.data)), "PUT Content-Length")
    eq((put.body_len, put.body_sha1), (len(pair.data), pair.sha1), "PUT body")
    check(act.body_len == 0, "activate has no body: %r" % act)
    check(all(r.headers.get("user-agent", "").startswith("imgfetch/") for r in srv.requests),
          "User-Agent: %r" % [r.headers.get("user-agent") for r in srv.requests])
    img = srv.images[u]
    eq((img["state"], img["files"]), ("active", [{"sha1": pair.sha1, "size": len(pair.data),
                                                  "compression": "gzip"}]), "image on the server")
    eq(srv.files[u], pair.data, "file on the server")


def stand_in(t, name: str, body: str) -> Path:
    """An executable shell script called stand_in_<name> on disk, reachable
    as `name` through a bin directory to put first on PATH."""
    bindir = t.dir("bin")
    real = t.dir("stand-ins") / ("stand_in_" + name)
    real.write_text("#!/bin/sh\n# stand_in_%s: a test double for %s, written by test_deliver.py\n%s\n"
                    % (name, name, body))
    real.chmod(0o755)
    link = bindir / name
    if link.exists() or link.is_symlink():
        link.unlink()
    link.symlink_to(real)
    return real


def stand_in_imgadm(t, behaviour: str = 'echo "Installed image $4"') -> Path:
    """Records its arguments (NUL-separated) and pid, then `behaviour`."""
    rec = t.tmp / "imgadm.args"
    pidf = t.tmp / "imgadm.pid"
    return stand_in(t, "imgadm", "echo $$ > %s\nprintf '%%s\\0' \"$@\" > %s\n%s"
                    % (shlex.quote(str(pidf)), shlex.quote(str(rec)), behaviour))


def imgadm_args(t):
    rec = t.tmp / "imgadm.args"
    if not rec.exists():
        return None
    return rec.read_bytes().split(b"\0")[:-1]


def path_env(t):
    return {"PATH": "%s:%s" % (t.dir("bin"), os.environ.get("PATH", "/usr/bin:/bin"))}


def no_host_zonename():
    """These tests assume a host without zones (Linux): no zonename on PATH."""
    for d in os.environ.get("PATH", "").split(":"):
        check(not os.access(os.path.join(d or ".", "zonename"), os.X_OK),
              "this host has a zonename command (%s): the smartos tests assume Linux" % d)


# --------------------------------------------------------------- file target

def test_file_target_prints_command(t):
    p = make_pair(t)
    r = t.run("deliver", p.manifest_path, p.file_path).ok()
    eq(r.stdout, "imgadm install -m %s -f %s\n" % (p.manifest_path, p.file_path), "stdout")

    # paths a shell would split are quoted, and the line runs as printed
    odd = make_pair(t, directory=t.tmp / "it's a dir")
    r = t.run("deliver", odd.manifest_path, odd.file_path, "--target", "file").ok()
    line = r.stdout.strip()
    eq(shlex.split(line), ["imgadm", "install", "-m", str(odd.manifest_path), "-f", str(odd.file_path)],
       "the printed command, as a shell splits it")

    j = t.run("deliver", p.manifest_path, p.file_path, "--json").ok().json()
    eq(j, {"uuid": p.uuid, "target": "file", "manifest": str(p.manifest_path), "file": str(p.file_path),
           "already_present": False,
           "command": "imgadm install -m %s -f %s" % (p.manifest_path, p.file_path)}, "JSON")


def test_file_target_checks_the_pair(t):
    p = make_pair(t, file_size=12345)
    r = t.run("deliver", p.manifest_path, p.file_path).expect_rc(EXIT_VERIFY)
    check("12345" in r.stderr and str(len(p.data)) in r.stderr and "files[0].size" in r.stderr,
          "the message names both sizes: %r" % r.stderr)
    eq(r.stdout, "", "stdout")


def test_bad_inputs(t):
    p = make_pair(t)
    (t.tmp / "notjson.json").write_text("{ not json")
    r = t.run("deliver", t.tmp / "notjson.json", p.file_path).expect_rc(EXIT_FORMAT)
    check("not valid JSON" in r.stderr, r.stderr)
    t.run("deliver", t.tmp / "missing.json", p.file_path).expect_rc(EXIT_NOT_FOUND)
    t.run("deliver", p.manifest_path, t.tmp / "missing.zfs.gz").expect_rc(EXIT_NOT_FOUND)
    bad_uuid = make_pair(t, name="baduuid", uuid="not-a-uuid")
    r = t.run("deliver", bad_uuid.manifest_path, bad_uuid.file_path).expect_rc(EXIT_FORMAT)
    check("uuid" in r.stderr, r.stderr)
    bad_sha1 = make_pair(t, name="badsha1", sha1="xyz")
    r = t.run("deliver", bad_sha1.manifest_path, bad_sha1.file_path).expect_rc(EXIT_VERIFY)
    check("sha1" in r.stderr, r.stderr)
    m = dict(p.manifest)
    m["files"] = [dict(m["files"][0], compression="bzip2")]
    (t.tmp / "bz.json").write_text(json.dumps(m))
    r = t.run("deliver", t.tmp / "bz.json", p.file_path).expect_rc(EXIT_FORMAT)
    check("gzip" in r.stderr, r.stderr)
    # the pair given the wrong way round
    t.run("deliver", p.file_path, p.manifest_path).expect_rc(EXIT_FORMAT)


def test_usage_errors(t):
    p = make_pair(t)
    r = t.run("deliver", p.manifest_path, p.file_path, "--target", "imgapi").expect_rc(EXIT_USAGE)
    check("--imgapi" in r.stderr, r.stderr)
    t.run("deliver", p.manifest_path, p.file_path, "--target", "cloud").expect_rc(EXIT_USAGE)
    t.run("deliver", p.manifest_path).expect_rc(EXIT_USAGE)
    t.run("deliver", p.manifest_path, p.file_path, "--imgapi", "http://127.0.0.1:9").expect_rc(EXIT_USAGE)
    t.run("deliver", p.manifest_path, p.file_path, "--target", "imgapi", "--imgapi",
          "ftp://127.0.0.1/").expect_rc(EXIT_USAGE)
    r = t.run("deliver", "--help").ok()
    check("--target" in r.stdout and "imgapi" in r.stdout and "Exit codes" in r.stdout, r.stdout)


# ------------------------------------------------------------- IMGAPI target

def test_imgapi_fresh_import(t):
    srv = imgapi(t)
    p = make_pair(t)
    r = deliver_imgapi(t, srv, p, "--json").ok()
    check_fresh_sequence(srv, p)
    eq(r.json(), {"uuid": p.uuid, "target": "imgapi", "manifest": str(p.manifest_path), "file": str(p.file_path),
                  "already_present": False, "command": None, "imgapi": srv.url}, "JSON")


def test_imgapi_redelivery_is_already_present(t):
    srv = imgapi(t)
    p = make_pair(t)
    r = deliver_imgapi(t, srv, p).ok()
    eq(r.stdout, "delivered: %s\n" % p.uuid, "stdout of the first delivery")
    n = len(srv.requests)
    r = deliver_imgapi(t, srv, p, "--json").ok()
    check(r.json()["already_present"] is True, "already_present: %r" % r.stdout)
    eq(srv.briefs()[n:], [("GET", "/images/" + p.uuid, None)], "requests of the re-delivery")
    r = deliver_imgapi(t, srv, p).ok()
    eq(r.stdout, "already present: %s\n" % p.uuid, "stdout")


def test_imgapi_same_uuid_other_sha1(t):
    srv = imgapi(t)
    p = make_pair(t)
    other = gzip.compress(b"another image entirely" * 100, mtime=0)
    srv.seed(p.manifest, state="active", file=other)
    r = deliver_imgapi(t, srv, p).expect_rc(EXIT_OTHER)
    other_sha1 = hashlib.sha1(other).hexdigest()
    check(other_sha1 in r.stderr and p.sha1 in r.stderr and p.uuid in r.stderr,
          "the message names the UUID and both sha1s: %r" % r.stderr)
    eq(srv.briefs(), [("GET", "/images/" + p.uuid, None)], "requests")
    eq(srv.images[p.uuid]["files"][0]["sha1"], other_sha1, "the server's image is untouched")


def test_imgapi_unactivated_without_file(t):
    srv = imgapi(t)
    p = make_pair(t)
    srv.seed(p.manifest, state="unactivated")   # an import that stopped before the upload
    deliver_imgapi(t, srv, p).ok()
    u = p.uuid
    eq(srv.briefs(), [("GET", "/images/" + u, None), ("PUT", "/images/%s/file" % u, None),
                      ("POST", "/images/" + u, "activate")], "requests")
    eq(srv.requests[1].body_sha1, p.sha1, "uploaded file")
    eq(srv.images[u]["state"], "active", "state")


def test_imgapi_unactivated_with_file(t):
    srv = imgapi(t)
    p = make_pair(t)
    srv.seed(p.manifest, state="unactivated", file=p.data)   # stopped before the activation
    deliver_imgapi(t, srv, p).ok()
    eq(srv.briefs(), [("GET", "/images/" + p.uuid, None), ("POST", "/images/" + p.uuid, "activate")], "requests")
    eq(srv.images[p.uuid]["state"], "active", "state")


def test_imgapi_import_race(t):
    srv = imgapi(t)
    p = make_pair(t)
    srv.race_import(p.manifest, state="unactivated")
    deliver_imgapi(t, srv, p).ok()
    u = p.uuid
    eq(srv.briefs(), [("GET", "/images/" + u, None), ("POST", "/images/" + u, "import"),
                      ("GET", "/images/" + u, None), ("PUT", "/images/%s/file" % u, None),
                      ("POST", "/images/" + u, "activate")], "requests")
    eq(srv.requests[1].status, 409, "import status")
    eq(srv.images[u]["state"], "active", "state")


def test_imgapi_import_race_other_image(t):
    srv = imgapi(t)
    p = make_pair(t)
    other = gzip.compress(b"the other writer's image", mtime=0)
    srv.race_import(p.manifest, state="active", file=other)
    r = deliver_imgapi(t, srv, p).expect_rc(EXIT_OTHER)
    check(hashlib.sha1(other).hexdigest() in r.stderr and p.sha1 in r.stderr, r.stderr)
    eq([b[2] or b[0] for b in srv.briefs()], ["GET", "import", "GET"], "requests")


def test_imgapi_server_error(t):
    srv = imgapi(t)
    p = make_pair(t)
    srv.fail("POST", "import", 500, "InternalError", "the database is on fire")
    r = deliver_imgapi(t, srv, p)
    check(r.rc in (EXIT_NETWORK, EXIT_OTHER), "exit code %r" % r.rc)
    eq(r.rc, EXIT_NETWORK, "a 5xx is a network/transfer failure")
    for part in ("POST", "/images/%s?action=import" % p.uuid, "500", "InternalError", "the database is on fire"):
        check(part in r.stderr, "%r not in the message: %r" % (part, r.stderr))
    eq(srv.briefs(), [("GET", "/images/" + p.uuid, None), ("POST", "/images/" + p.uuid, "import")], "requests")

    # activation refused (4xx): exit 1, the server's message quoted; a rerun finishes
    srv2 = imgapi(t)
    srv2.fail("POST", "activate", 422, "ValidationFailed", "owner does not exist")
    r = deliver_imgapi(t, srv2, p).expect_rc(EXIT_OTHER)
    check("owner does not exist" in r.stderr and "activate" in r.stderr and "422" in r.stderr, r.stderr)
    srv2._fail.clear()
    n = len(srv2.requests)
    deliver_imgapi(t, srv2, p).ok()
    eq(srv2.briefs()[n:], [("GET", "/images/" + p.uuid, None), ("POST", "/images/" + p.uuid, "activate")],
       "the rerun only activates")


def test_imgapi_size_mismatch_sends_nothing(t):
    srv = imgapi(t)
    p = make_pair(t, file_size=1000)
    r = deliver_imgapi(t, srv, p).expect_rc(EXIT_VERIFY)
    check("1000" in r.stderr, r.stderr)
    eq(srv.requests, [], "requests")


def test_imgapi_sha1_mismatch_is_a_verify_failure(t):
    srv = imgapi(t)
    wrong = "0123456789abcdef0123456789abcdef01234567"
    p = make_pair(t, sha1=wrong)
    r = deliver_imgapi(t, srv, p).expect_rc(EXIT_VERIFY)
    check(wrong in r.stderr and p.sha1 in r.stderr, "both sha1s named: %r" % r.stderr)
    eq([b[2] or b[0] for b in srv.briefs()], ["GET", "import", "PUT"], "requests (no activation)")
    eq(srv.requests[2].status, 400, "the stand-in refused the upload as the real IMGAPI does")
    eq((srv.images[p.uuid]["state"], srv.images[p.uuid]["files"]), ("unactivated", []), "image left behind")


def test_imgapi_cancel_while_waiting(t):
    """^C while the IMGAPI takes its time: out promptly, nothing else sent."""
    srv = imgapi(t)
    srv.delay("GET", "get", 20)
    p = make_pair(t)
    proc = t.spawn("deliver", p.manifest_path, p.file_path, "--target", "imgapi", "--imgapi", srv.url)
    deadline = time.monotonic() + 10
    while not srv.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    check(srv.requests, "the GET never arrived")
    proc.send_signal(signal.SIGINT)
    r = proc.wait(timeout=10).expect_rc(EXIT_SIGINT)
    check(r.elapsed < 5, "took %.1fs" % r.elapsed)
    check("cancelled" in r.stderr, r.stderr)
    eq(srv.briefs(), [("GET", "/images/" + p.uuid, None)], "requests")


def test_imgapi_url_trailing_slash(t):
    """A trailing slash on --imgapi does not double up in request paths."""
    srv = imgapi(t)
    p = make_pair(t)
    t.run("deliver", p.manifest_path, p.file_path, "--target", "imgapi", "--imgapi", srv.url + "/").ok()
    check(all(not r.path.startswith("//") for r in srv.requests), srv.requests)


# ------------------------------------------------------------ SmartOS target

def test_smartos_runs_imgadm(t):
    no_host_zonename()
    stand_in_imgadm(t)
    p = make_pair(t)
    r = t.run("deliver", p.manifest_path, p.file_path, "--target", "smartos", "--json", env=path_env(t)).ok()
    eq(imgadm_args(t), [b"install", b"-m", str(p.manifest_path).encode(), b"-f", str(p.file_path).encode()],
       "imgadm's arguments")
    j = r.json()
    eq((j["uuid"], j["target"], j["already_present"]), (p.uuid, "smartos", False), "JSON")
    eq(j["command"], "imgadm install -m %s -f %s" % (p.manifest_path, p.file_path), "JSON command")
    # imgadm's stdout does not leak into ours
    check("Installed image" not in r.stdout, r.stdout)


def test_smartos_global_zone_and_imgadm_option(t):
    stand_in(t, "zonename", "echo global")
    real = stand_in_imgadm(t)
    p = make_pair(t)
    env = path_env(t)
    (t.dir("bin") / "imgadm").unlink()   # only reachable through --imgadm
    r = t.run("deliver", p.manifest_path, p.file_path, "--target", "smartos", "--imgadm", real, env=env).ok()
    eq(r.stdout, "delivered: %s\n" % p.uuid, "stdout")
    eq(imgadm_args(t)[0], b"install", "imgadm ran")


def test_smartos_refused_in_non_global_zone(t):
    stand_in(t, "zonename", "echo web01")
    stand_in_imgadm(t)
    p = make_pair(t)
    r = t.run("deliver", p.manifest_path, p.file_path, "--target", "smartos", env=path_env(t))
    r.expect_rc(EXIT_USAGE)
    check("web01" in r.stderr and "global zone" in r.stderr, r.stderr)
    eq(imgadm_args(t), None, "imgadm never ran")


def test_smartos_imgadm_failure(t):
    no_host_zonename()
    stand_in_imgadm(t, 'echo "Importing image $4" \n'
                       'echo "imgadm install: error (InstallFailed): zfs receive failed: out of space" >&2\n'
                       'exit 1')
    p = make_pair(t)
    r = t.run("deliver", p.manifest_path, p.file_path, "--target", "smartos", env=path_env(t))
    r.expect_rc(EXIT_OTHER)
    check("zfs receive failed: out of space" in r.stderr and "exit status 1" in r.stderr, r.stderr)
    check("imgadm install -m" in r.stderr, "the command is named: %r" % r.stderr)


def test_smartos_imgadm_missing(t):
    no_host_zonename()
    p = make_pair(t)
    r = t.run("deliver", p.manifest_path, p.file_path, "--target", "smartos", env=path_env(t))
    r.expect_rc(EXIT_NOT_FOUND)
    check("imgadm" in r.stderr and "--target file" in r.stderr, r.stderr)


def test_smartos_already_installed(t):
    no_host_zonename()
    stand_in_imgadm(t, 'echo "Image $4 (debian-13@20260101) is already installed, skipping"')
    p = make_pair(t)
    r = t.run("deliver", p.manifest_path, p.file_path, "--target", "smartos", "--json", env=path_env(t)).ok()
    check(r.json()["already_present"] is True, r.stdout)


def test_smartos_cancel_stops_imgadm(t):
    no_host_zonename()
    stand_in_imgadm(t, "exec sleep 60")
    p = make_pair(t)
    proc = t.spawn("deliver", p.manifest_path, p.file_path, "--target", "smartos", env=path_env(t))
    pidf = t.tmp / "imgadm.pid"
    deadline = time.monotonic() + 10
    while not (pidf.exists() and pidf.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    check(pidf.exists(), "imgadm never started")
    pid = int(pidf.read_text())
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    r = proc.wait(timeout=10).expect_rc(EXIT_SIGTERM)
    check(r.elapsed < 8, "took %.1fs" % r.elapsed)
    check("cancelled" in r.stderr, r.stderr)
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    check(not alive, "imgadm (pid %d) is still running" % pid)
