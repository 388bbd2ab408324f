#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A deliberately misbehaving HTTP/1.1 server for tests (standard library only).

Runs in a background thread of the calling process, on 127.0.0.1 and a port
chosen by the kernel:

    from faultserver import FaultServer
    with FaultServer() as fs:
        url = fs.serve("/img.raw", data, drop_after=65536)   # drop the 1st response after 64 KiB
        ...
        fs.requests("/img.raw")    # [Request(method, path, range, if_range, user_agent, status, ...)]
        fs.count("/img.raw")       # number of requests for that path

Each path is configured independently (`serve(path, data, **behaviour)`); the
behaviour is selected by the request's path. Unknown paths get 404.

Behaviour options (see Route):
  status=404              always answer this status (404, 403, 410, 500, ...)
  fail=[503, 503, 503]    answer these statuses to the first requests, then serve
  retry_after=1           Retry-After header value sent with `fail` statuses
  etag / last_modified    send validators (default True); If-Range honoured against them
  honour_range=False      ignore Range: always 200 with the full body
  drop_after=N            close the connection after N body bytes ...
  drop_times=1            ... on the first `drop_times` served responses (None: always)
  short_by=N              send N bytes fewer than Content-Length, then close ...
  short_times=None        ... on every served response (or on the first `short_times`)
  stall_after=N           send headers and N body bytes, then send nothing (connection
  stall_times=1           kept open) for stall_seconds, on the first `stall_times`
  stall_seconds=30        served responses (None: always); then close
  silent_times=N          send nothing at all (no status line) for stall_seconds on the
                          first N requests, then close; later requests are served
  range_cap=N             answer a Range request with at most N bytes (a valid, shorter
                          206, as range-capping CDNs do)
  rate=B                  throttle every body to B bytes per second
  corrupt=True            serve the data with one byte flipped (valid-looking response,
                          wrong content)
  headers={...}           extra response headers

"Served responses" are those that carry the file (200/206), i.e. not the `fail`
statuses. The `add_standard_routes(name, data)` helper registers one route per
behaviour under /<behaviour>/<name> (used by the standalone mode:
`python3 faultserver.py FILE`).
"""

from __future__ import annotations

import dataclasses
import email.utils
import hashlib
import http.server
import re
import select
import socket
import socketserver
import threading
import time
import urllib.parse

__all__ = ["FaultServer", "Route", "Request"]

HOST = "127.0.0.1"
LAST_MODIFIED_TS = 1700000000  # Tue, 14 Nov 2023 22:13:20 GMT


@dataclasses.dataclass
class Route:
    data: bytes
    status: int | None = None
    fail: list[int] = dataclasses.field(default_factory=list)
    retry_after: str | int | None = None
    etag: bool = True
    last_modified: bool = True
    honour_range: bool = True
    drop_after: int | None = None
    drop_times: int | None = 1
    short_by: int | None = None
    short_times: int | None = None
    stall_after: int | None = None
    stall_times: int | None = 1
    stall_seconds: float = 30.0
    silent_times: int = 0
    range_cap: int | None = None
    rate: int | None = None
    corrupt: bool = False
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    content_type: str = "application/octet-stream"
    # state
    requests: int = 0
    served: int = 0

    def body(self) -> bytes:
        if self.corrupt and self.data:
            b = bytearray(self.data)
            b[len(b) // 2] ^= 0xFF
            return bytes(b)
        return self.data

    @property
    def etag_value(self) -> str:
        return '"%s"' % hashlib.sha256(self.body()).hexdigest()[:20]

    @property
    def last_modified_value(self) -> str:
        return email.utils.formatdate(LAST_MODIFIED_TS, usegmt=True)


@dataclasses.dataclass
class Request:
    time: float                # time.time() when the request head was parsed
    mono: float                # time.monotonic() at the same moment
    method: str
    path: str                  # without query
    target: str                # as requested
    range: str | None
    if_range: str | None
    user_agent: str | None
    headers: dict[str, str]
    status: int = 0
    content_length: int | None = None
    bytes_sent: int = 0        # body bytes actually written (updated live)
    outcome: str = "pending"   # ok | status | drop | short | stall | client-closed | error
    done: bool = False
    end_mono: float | None = None


def _parse_range(value: str, size: int):
    """Returns (start, end_inclusive), None to ignore the header, or 'unsatisfiable'."""
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", value)
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return None  # invalid or multi-range: ignore, send 200
    if m.group(1) == "":
        n = int(m.group(2))
        if n == 0:
            return "unsatisfiable"
        return (max(0, size - n), size - 1) if size else "unsatisfiable"
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else size - 1
    if start >= size:
        return "unsatisfiable"
    if end < start:
        return None
    return start, min(end, size - 1)


class _Stop(Exception):
    pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "faultserver/1"
    sys_version = ""
    timeout = 60  # idle keep-alive connections

    def log_message(self, format, *args):  # noqa: A002 - silence stderr logging
        pass

    def setup(self):
        super().setup()
        self.server.fs._track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.fs._track(self.connection, False)

    def do_HEAD(self):
        self._serve(head=True)

    def do_GET(self):
        self._serve(head=False)

    # ------------------------------------------------------------------
    def _serve(self, head: bool):
        fs: FaultServer = self.server.fs
        target = self.path
        # A proxy request carries the absolute URL (RFC 9112 3.2.2); route by its path.
        path = urllib.parse.urlsplit(target).path if target.startswith("http://") else target
        path = path.split("?", 1)[0].split("#", 1)[0]
        rec = Request(time=time.time(), mono=time.monotonic(), method=self.command, path=path,
                      target=target, range=self.headers.get("Range"), if_range=self.headers.get("If-Range"),
                      user_agent=self.headers.get("User-Agent"),
                      headers={k: v for k, v in self.headers.items()})
        route = fs._begin(rec)
        try:
            self._respond(fs, route, rec, head)
        except (_Stop, BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError, OSError):
            if rec.outcome in ("pending", "ok"):
                rec.outcome = "client-closed"
            self.close_connection = True
        finally:
            rec.done = True
            rec.end_mono = time.monotonic()
            fs._end(rec)

    def _simple(self, rec: Request, status: int, extra: dict[str, str] | None = None, head: bool = False):
        body = ("%d %s\n" % (status, self.responses.get(status, ("",))[0])).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        rec.status = status
        rec.content_length = len(body)
        rec.outcome = "status"
        if not head:
            self.connection.sendall(body)
            rec.bytes_sent = len(body)

    def _respond(self, fs: "FaultServer", route: Route | None, rec: Request, head: bool):
        if route is None:
            self._simple(rec, 404, head=head)
            return
        n = route.requests  # 1-based index of this request for the path
        if n <= route.silent_times:
            rec.outcome = "silent"
            self._stall(fs, route.stall_seconds)
            self.close_connection = True
            return
        if route.status is not None:
            extra = {}
            if route.retry_after is not None:
                extra["Retry-After"] = str(route.retry_after)
            self._simple(rec, route.status, extra, head)
            return
        if n <= len(route.fail):
            extra = {}
            if route.retry_after is not None:
                extra["Retry-After"] = str(route.retry_after)
            self._simple(rec, route.fail[n - 1], extra, head)
            return

        with fs._lock:
            route.served += 1
            served = route.served
        data = route.body()
        size = len(data)
        etag = route.etag_value if route.etag else None
        lastmod = route.last_modified_value if route.last_modified else None

        rng = None
        if rec.range is not None and route.honour_range:
            ok = True
            if rec.if_range is not None:
                ir = rec.if_range.strip()
                ok = (etag is not None and ir == etag and not ir.startswith("W/")) or \
                     (lastmod is not None and ir == lastmod)
            if ok:
                rng = _parse_range(rec.range, size)
        if rng == "unsatisfiable":
            self._simple(rec, 416, {"Content-Range": "bytes */%d" % size}, head)
            return

        if rng is None:
            status, start, end = 200, 0, size - 1
        else:
            status, (start, end) = 206, rng
            if route.range_cap is not None:
                end = min(end, start + route.range_cap - 1)
        body = data[start:end + 1]

        self.send_response(status)
        self.send_header("Content-Type", route.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes" if route.honour_range else "none")
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        if etag:
            self.send_header("ETag", etag)
        if lastmod:
            self.send_header("Last-Modified", lastmod)
        for k, v in route.headers.items():
            self.send_header(k, v)
        self.end_headers()
        rec.status = status
        rec.content_length = len(body)
        if head:
            rec.outcome = "ok"
            return

        def applies(times: int | None) -> bool:
            return times is None or served <= times

        if route.stall_after is not None and applies(route.stall_times):
            self._send(fs, rec, body[:route.stall_after], route.rate)
            rec.outcome = "stall"
            self._stall(fs, route.stall_seconds)
            self.close_connection = True
            return
        if route.drop_after is not None and applies(route.drop_times):
            self._send(fs, rec, body[:route.drop_after], route.rate)
            rec.outcome = "drop"
            self.close_connection = True
            return
        if route.short_by is not None and applies(route.short_times):
            self._send(fs, rec, body[:max(0, len(body) - route.short_by)], route.rate)
            rec.outcome = "short"
            self.close_connection = True
            return
        self._send(fs, rec, body, route.rate)
        rec.outcome = "ok"

    def _send(self, fs: "FaultServer", rec: Request, data: bytes, rate: int | None):
        chunk = 65536
        if rate:
            chunk = max(1024, min(65536, rate // 20))
        start = time.monotonic()
        off = 0
        mv = memoryview(data)
        while off < len(data):
            if fs._stopping.is_set():
                raise _Stop()
            if rate:
                delay = start + off / rate - time.monotonic()
                if delay > 0 and fs._stopping.wait(delay):
                    raise _Stop()
            piece = mv[off:off + chunk]
            self.connection.sendall(piece)
            off += len(piece)
            rec.bytes_sent = off

    def _stall(self, fs: "FaultServer", seconds: float):
        """Send nothing for `seconds`, keeping the connection open; return early
        when the client closes it or the server stops."""
        deadline = time.monotonic() + seconds
        conn = self.connection
        while time.monotonic() < deadline and not fs._stopping.is_set():
            r, _, _ = select.select([conn], [], [], 0.05)
            if r:
                try:
                    peek = conn.recv(1, socket.MSG_PEEK)
                except OSError:
                    return
                if not peek:
                    return  # client closed
                time.sleep(0.05)  # pipelined data: keep stalling


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        import sys
        self.fs.errors.append(sys.exc_info()[1])


class FaultServer:
    """See the module documentation. Thread-safe; use as a context manager."""

    def __init__(self):
        self._lock = threading.Lock()
        self._routes: dict[str, Route] = {}
        self._log: list[Request] = []
        self._conns: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.errors: list[BaseException] = []
        self.host = HOST
        self.port = 0

    # -- lifecycle
    def start(self) -> "FaultServer":
        self._server = _Server((HOST, 0), _Handler)
        self._server.fs = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="faultserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> "FaultServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- configuration
    def url(self, path: str = "/") -> str:
        if not path.startswith("/"):
            path = "/" + path
        return "http://%s:%d%s" % (self.host, self.port, path)

    def serve(self, path: str, data: bytes, **behaviour) -> str:
        """Configure `path` (replacing any previous configuration) and return its URL."""
        if not path.startswith("/"):
            path = "/" + path
        route = Route(data=bytes(data), **behaviour)
        with self._lock:
            self._routes[path] = route
        return self.url(path)

    def route(self, path: str) -> Route:
        return self._routes[path]

    def add_standard_routes(self, name: str, data: bytes) -> dict[str, str]:
        """One route per behaviour, /<behaviour>/<name>; returns {behaviour: url}."""
        third = max(1, len(data) // 3)
        spec = {
            "ok": {},
            "noval": {"etag": False, "last_modified": False},
            "drop": {"drop_after": third},
            "drop-noval": {"drop_after": third, "etag": False, "last_modified": False},
            "503x3": {"fail": [503, 503, 503]},
            "429": {"fail": [429], "retry_after": 1},
            "404": {"status": 404},
            "403": {"status": 403},
            "410": {"status": 410},
            "short": {"short_by": max(1, len(data) // 4)},
            "short-once": {"short_by": max(1, len(data) // 4), "short_times": 1},
            "norange-drop": {"honour_range": False, "drop_after": third},
            "wrong": {"corrupt": True},
            "stall-once": {"stall_after": third, "stall_times": 1},
            "stall": {"stall_after": third, "stall_times": None},
            "slow": {"rate": max(1024, len(data) // 4)},  # about 4 s
        }
        return {k: self.serve("/%s/%s" % (k, name), data, **v) for k, v in spec.items()}

    # -- inspection
    def requests(self, path: str | None = None, method: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self._log if (path is None or r.path == path)
                    and (method is None or r.method == method)]

    def count(self, path: str | None = None, method: str | None = None) -> int:
        return len(self.requests(path, method))

    def bytes_sent(self, path: str) -> int:
        return sum(r.bytes_sent for r in self.requests(path))

    def wait_for(self, predicate, timeout: float = 10.0, interval: float = 0.01) -> bool:
        """Poll predicate() until true or timeout; returns its last value as bool."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)

    def wait_sent(self, path: str, nbytes: int, timeout: float = 10.0) -> bool:
        """Wait until at least nbytes of body have been written for path."""
        return self.wait_for(lambda: self.bytes_sent(path) >= nbytes, timeout)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every logged request has finished."""
        return self.wait_for(lambda: all(r.done for r in self.requests()), timeout)

    # -- internal
    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def _begin(self, rec: Request) -> Route | None:
        with self._lock:
            self._log.append(rec)
            route = self._routes.get(rec.path)
            if route is not None:
                route.requests += 1
            return route

    def _end(self, rec: Request) -> None:
        pass


def main() -> None:
    import argparse
    import os
    ap = argparse.ArgumentParser(description="Serve FILE through every faultserver behaviour on 127.0.0.1.")
    ap.add_argument("file")
    a = ap.parse_args()
    with open(a.file, "rb") as f:
        data = f.read()
    with FaultServer() as fs:
        urls = fs.add_standard_routes(os.path.basename(a.file), data)
        for k, u in urls.items():
            print("%-14s %s" % (k, u))
        print("sha256 %s" % hashlib.sha256(data).hexdigest(), flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        for r in fs.requests():
            print(r.method, r.path, r.status, r.outcome, r.bytes_sent, r.range, r.if_range)


if __name__ == "__main__":
    main()
