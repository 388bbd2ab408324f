#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Self-test of the integration harness (nginx.py, faultserver.py) using curl,
independent of imgfetch. Not collected by tests/run.py (its file name does not
start with test_); run it after changing the harness:

    tests/integration/selftest.py
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from faultserver import FaultServer  # noqa: E402
from nginx import Nginx  # noqa: E402


def curl(*args, timeout=30):
    """Returns (curl exit code, HTTP code, body bytes, response headers text)."""
    with tempfile.TemporaryDirectory() as d:
        body, hdr = Path(d) / "body", Path(d) / "hdr"
        p = subprocess.run(["curl", "--noproxy", "*", "-sS", "-o", str(body), "-D", str(hdr),
                            "-w", "%{http_code}", *[str(a) for a in args]],
                           capture_output=True, text=True, timeout=timeout)
        b = body.read_bytes() if body.exists() else b""
        h = hdr.read_text(errors="replace") if hdr.exists() else ""
        return p.returncode, int(p.stdout or 0), b, h


def header(h: str, name: str):
    val = None
    for line in h.splitlines():
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            val = v.strip()  # last response wins (redirect chains)
    return val


def alive(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------- nginx

def st_nginx_basics(tmp: Path):
    root = tmp / "www"
    root.mkdir()
    data = random.randbytes(1 << 20)
    (root / "f.img").write_bytes(data)
    with Nginx(root, tls=True) as ng:
        port, tls_port, workdir, pid = ng.port, ng.tls_port, ng.workdir, ng.proc.pid
        rc, code, body, h = curl("-A", "probe/1", ng.url("/f.img"))
        assert (rc, code, body) == (0, 200, data), (rc, code)
        etag = header(h, "ETag")
        assert etag, h
        # nginx honours Range, and If-Range with its ETag; a stale If-Range gives 200
        rc, code, body, h = curl("-r", "1000-", "-H", "If-Range: " + etag, ng.url("/f.img"))
        assert (code, body) == (206, data[1000:]), code
        assert header(h, "Content-Range") == "bytes 1000-%d/%d" % (len(data) - 1, len(data))
        rc, code, body, h = curl("-r", "1000-", "-H", 'If-Range: "stale"', ng.url("/f.img"))
        assert (code, body) == (200, data), code
        # redirect chains
        rc, code, body, h = curl("-L", ng.url("/redir3/f.img"))
        assert (code, body) == (200, data)
        rc, code, body, h = curl("-L", "--max-redirs", "10", ng.url("/redir11/f.img"))
        assert rc == 47, rc  # curl: too many redirects
        rc, code, body, h = curl(ng.url("/gone/f.img"))
        assert code == 410
        # TLS: trusted with the test CA only, and the https->http location
        rc, code, body, h = curl("--cacert", ng.cacert, ng.https_url("/f.img"))
        assert (rc, code, body) == (0, 200, data), (rc, code)
        rc, code, body, h = curl("--cacert", ng.cacert, "https://localhost:%d/f.img" % ng.tls_port)
        assert (rc, code) == (0, 200), (rc, code)
        rc, code, body, h = curl(ng.https_url("/f.img"))
        assert rc == 60, rc  # peer certificate cannot be authenticated
        rc, code, body, h = curl("--cacert", ng.cacert, ng.https_url("/to-http/f.img"))
        assert code == 302 and header(h, "Location") == ng.url("/f.img"), h
        # slow location is throttled
        t0 = time.monotonic()
        rc, code, body, h = curl(ng.url("/slow/f.img"))
        assert body == data and time.monotonic() - t0 > 1.5
        # the access log
        log = ng.requests("/f.img")
        assert log[0].user_agent == "probe/1" and log[0].status == 200 and log[0].bytes == len(data), log[0]
        assert log[0].request_line == "GET /f.img HTTP/1.1"
        assert log[1].range == "bytes=1000-" and log[1].if_range == etag and log[1].status == 206, log[1]
        assert [e.status for e in ng.requests()[3:7]] == [302, 302, 302, 200]
        assert ng.count("/f.img", scheme="https") == 2  # the untrusted attempt never got a request through
    assert not alive(port) and not alive(tls_port), "nginx still listening after stop()"
    assert not workdir.exists(), "work directory not removed"
    try:
        os.kill(pid, 0)
        raise AssertionError("nginx process %d still exists" % pid)
    except ProcessLookupError:
        pass


def st_nginx_stops_on_exception(tmp: Path):
    root = tmp / "www"
    root.mkdir()
    try:
        with Nginx(root) as ng:
            port = ng.port
            raise KeyError("boom")
    except KeyError:
        pass
    assert not alive(port)


def st_nginx_many(tmp: Path):
    root = tmp / "www"
    root.mkdir()
    (root / "x").write_text("x")
    servers = [Nginx(root) for _ in range(6)]
    try:
        for s in servers:
            s.start()
        assert len({s.port for s in servers}) == 6
        for s in servers:
            assert curl(s.url("/x"))[1] == 200
    finally:
        for s in servers:
            s.stop()


# ---------------------------------------------------------- faultserver

def st_faultserver(tmp: Path):
    data = random.randbytes(600_000)
    with FaultServer() as fs:
        u = fs.add_standard_routes("f.img", data)
        third = len(data) // 3
        rc, code, body, h = curl(u["ok"])
        assert (rc, code, body) == (0, 200, data)
        etag, lm = header(h, "ETag"), header(h, "Last-Modified")
        assert etag and lm
        assert curl("-r", "10-", "-H", "If-Range: " + etag, u["ok"])[1:3] == (206, data[10:])
        assert curl("-r", "10-", "-H", "If-Range: " + lm, u["ok"])[1:3] == (206, data[10:])
        assert curl("-r", "10-", "-H", 'If-Range: "x"', u["ok"])[1:3] == (200, data)
        assert curl("-r", "10-19", u["ok"])[1:3] == (206, data[10:20])
        assert curl("-r", "%d-" % len(data), u["ok"])[1] == 416
        # drop once, then fine
        rc, code, body, h = curl(u["drop"])
        assert rc == 18 and len(body) == third, (rc, len(body))
        assert curl(u["drop"])[2] == data
        # statuses
        assert [curl(u["503x3"])[1] for _ in range(4)] == [503, 503, 503, 200]
        rc, code, body, h = curl(u["429"])
        assert code == 429 and header(h, "Retry-After") == "1"
        assert curl(u["429"])[1] == 200
        assert curl(u["404"])[1] == 404 and curl(u["403"])[1] == 403 and curl(u["410"])[1] == 410
        # short every time / once
        assert curl(u["short"])[0] == 18 and curl(u["short"])[0] == 18
        assert curl(u["short-once"])[0] == 18 and curl(u["short-once"])[2] == data
        # range ignored
        assert curl("-r", "10-", u["norange-drop"])[0:2] == (18, 200)
        assert curl("-r", "10-", u["norange-drop"])[1:3] == (200, data)
        # wrong content: valid response, other bytes
        rc, code, body, h = curl(u["wrong"])
        assert rc == 0 and len(body) == len(data) and body != data
        # stall: part of the body, then silence on an open connection until curl gives up
        t0 = time.monotonic()
        rc, code, body, h = curl("-m", "1.5", u["stall-once"])
        took = time.monotonic() - t0
        assert rc == 28 and len(body) == third and 1.4 < took < 3, (rc, len(body), took)
        assert curl(u["stall-once"])[2] == data
        # slow: ~4 s for the whole body
        t0 = time.monotonic()
        rc, code, body, h = curl("-m", "1", u["slow"])
        assert rc == 28 and 0 < len(body) < len(data) // 2, (rc, len(body))
        assert fs.wait_idle(3)
        # request log and counters
        assert fs.count("/503x3/f.img") == 4
        reqs = fs.requests("/ok/f.img")
        assert reqs[1].range == "bytes=10-" and reqs[1].if_range == etag and reqs[1].status == 206
        assert reqs[0].user_agent.startswith("curl/")
        assert fs.requests("/drop/f.img")[0].outcome == "drop"
        assert fs.requests("/stall-once/f.img")[0].outcome == "stall"
        assert fs.errors == [], fs.errors
        port = fs.port
    assert not alive(port), "faultserver still listening after stop()"


def st_faultserver_stop_with_open_stall(tmp: Path):
    data = random.randbytes(100_000)
    fs = FaultServer().start()
    url = fs.serve("/s", data, stall_after=10, stall_times=None, stall_seconds=60)
    p = subprocess.Popen(["curl", "--noproxy", "*", "-s", "-o", "/dev/null", url])
    assert fs.wait_sent("/s", 10, 5)
    t0 = time.monotonic()
    fs.stop()
    assert time.monotonic() - t0 < 3, "stop() blocked by a stalled connection"
    assert p.wait(10) != 0


def main() -> int:
    tests = [(n, f) for n, f in globals().items() if n.startswith("st_")]
    failed = 0
    for name, fn in tests:
        tmp = Path(tempfile.mkdtemp(prefix="imgfetch-selftest-"))
        try:
            fn(tmp)
            print("PASS", name, flush=True)
        except Exception:  # noqa: BLE001
            failed += 1
            print("FAIL", name)
            print("    " + traceback.format_exc().replace("\n", "\n    ").rstrip())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (len(tests) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
