#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run a real nginx on 127.0.0.1 for tests, demos and benchmarks.

    from nginx import Nginx
    with Nginx(docroot, tls=True) as ng:
        ng.url("/file.img")            # http://127.0.0.1:PORT/file.img
        ng.https_url("/file.img")      # https://127.0.0.1:TLSPORT/file.img (trust ng.cacert)
        ng.requests(path="/file.img")  # parsed access-log entries

Everything nginx writes (config, pid, logs, temp paths, TLS material) lives in
a private temporary directory (or `workdir`), removed on exit unless keep=True.
Only 127.0.0.1 is ever bound.

Built-in locations (on the HTTP server, and on the HTTPS server with https URLs):
  /<path>            static files from the document root
  /slow/<path>       the same files throttled to `slow_rate` (nginx limit_rate)
  /gone/<path>       410 Gone
  /redirN/<path>     exactly N chained 302 redirects ending at /<path>
                     (N = 1 .. max_redirect_chain; absolute Location URLs)
HTTPS server only:
  /to-http/<path>    302 to http://127.0.0.1:PORT/<path> (the plain server)

Access-log entries (LogEntry) carry: time, method, uri, path, proto, status,
bytes, range, if_range, user_agent, port, scheme. Headers absent from the
request are None.
"""

from __future__ import annotations

import dataclasses
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

NGINX_BIN = os.environ.get("IMGFETCH_TEST_NGINX", "/usr/sbin/nginx")
HOST = "127.0.0.1"

__all__ = ["Nginx", "LogEntry", "TestCA", "make_test_ca", "free_port", "stop_process", "NginxError"]


class NginxError(RuntimeError):
    pass


def stop_process(proc: subprocess.Popen | None, timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `timeout` seconds; None and exited processes are fine."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        pass


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago (callers retry on collision)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------- test CA

@dataclasses.dataclass
class TestCA:
    __test__ = False  # not a pytest class
    dir: Path
    ca_cert: Path      # PEM of the CA: pass to --cacert
    server_cert: Path  # leaf for 127.0.0.1 / localhost, signed by the CA
    server_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    r = subprocess.run(["openssl", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    if r.returncode != 0:
        raise NginxError("openssl %s failed:\n%s" % (" ".join(args), r.stdout.decode(errors="replace")))


def make_test_ca(directory: os.PathLike | str) -> TestCA:
    """Generate a throw-away CA and a server certificate for 127.0.0.1/localhost
    (SAN IP:127.0.0.1, DNS:localhost) with the openssl CLI. EC P-256, fast."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "3",
             "-subj", "/CN=imgfetch test CA %d" % os.getpid(),
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    _openssl("req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=localhost", cwd=d)
    (d / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.pem", "-days", "2",
             "-extfile", "server.ext", cwd=d)
    return TestCA(d, d / "ca.pem", d / "server.pem", d / "server.key")


# --------------------------------------------------------------- access log

@dataclasses.dataclass
class LogEntry:
    time: float
    method: str | None
    uri: str | None        # as requested, with query
    path: str | None       # decoded path without query
    proto: str | None
    status: int
    bytes: int             # body bytes sent
    range: str | None      # Range request header
    if_range: str | None   # If-Range request header
    user_agent: str | None
    port: int
    scheme: str
    request_time: float

    @property
    def request_line(self) -> str:
        return "%s %s %s" % (self.method, self.uri, self.proto)


_LOG_FIELDS = ["$msec", "$request", "$status", "$body_bytes_sent", "$http_range",
               "$http_if_range", "$http_user_agent", "$server_port", "$scheme", "$request_time"]


def _unescape(v: str) -> str | None:
    if v == "-":
        return None
    # nginx escape=default writes ", \ and bytes < 0x20 / >= 0x7f as \xHH
    if "\\x" in v:
        out = bytearray()
        i = 0
        b = v.encode()
        while i < len(b):
            if b[i:i + 2] == b"\\x" and i + 4 <= len(b):
                try:
                    out.append(int(b[i + 2:i + 4], 16))
                    i += 4
                    continue
                except ValueError:
                    pass
            out.append(b[i])
            i += 1
        return out.decode(errors="replace")
    return v


def _parse_log_line(line: str) -> LogEntry | None:
    parts = line.rstrip("\n").split("\t")
    if len(parts) != len(_LOG_FIELDS):
        return None
    msec, request, status, nbytes, rng, ifr, ua, port, scheme, rtime = parts
    request = _unescape(request) or ""
    rp = request.split(" ")
    method = uri = proto = path = None
    if len(rp) >= 2:
        method, uri = rp[0], rp[1]
        proto = rp[2] if len(rp) > 2 else None
        path = urllib.parse.unquote(urllib.parse.urlsplit(uri).path)
    return LogEntry(time=float(msec), method=method, uri=uri, path=path, proto=proto,
                    status=int(status), bytes=int(nbytes), range=_unescape(rng),
                    if_range=_unescape(ifr), user_agent=_unescape(ua), port=int(port),
                    scheme=scheme, request_time=float(rtime))


# -------------------------------------------------------------------- nginx

_CONF = """\
# generated by tests/integration/nginx.py
daemon off;
master_process off;
worker_processes 1;
{user}
pid {work}/nginx.pid;
lock_file {work}/nginx.lock;
error_log {work}/error.log info;
events {{ worker_connections 512; }}
http {{
    default_type application/octet-stream;
    types {{ }}
    log_format imgfetch_test escape=default "{logfmt}";
    access_log {work}/access.log imgfetch_test;
    client_body_temp_path {work}/tmp/body;
    proxy_temp_path {work}/tmp/proxy;
    fastcgi_temp_path {work}/tmp/fastcgi;
    uwsgi_temp_path {work}/tmp/uwsgi;
    scgi_temp_path {work}/tmp/scgi;
    keepalive_timeout 10;
    server_tokens off;
    etag on;

    server {{
        listen {host}:{port};
        server_name localhost;
        root {root};
{common}
{extra}
    }}
{tls_server}
}}
"""

_TLS_SERVER = """
    server {{
        listen {host}:{tls_port} ssl;
        server_name localhost;
        root {root};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
{common}
        location ~ ^/to-http/(.*)$ {{ return 302 http://{host}:{port}/$1; }}
{extra}
    }}
"""


def _common_locations(scheme: str, host: str, port: int, root: str, slow_rate: str, chain: int) -> str:
    lines = [
        "        location / { }",
        "        location /slow/ { alias %s/; limit_rate %s; }" % (root, slow_rate),
        "        location /gone/ { return 410; }",
    ]
    for n in range(1, chain + 1):
        target = "/redir%d/$1" % (n - 1) if n > 1 else "/$1"
        lines.append("        location ~ ^/redir%d/(.*)$ { return 302 %s://%s:%d%s; }"
                     % (n, scheme, host, port, target))
    return "\n".join(lines)


class Nginx:
    """A private nginx instance. Use as a context manager (or start()/stop())."""

    def __init__(self, root: os.PathLike | str, tls: bool = False, *, slow_rate: str = "512k",
                 max_redirect_chain: int = 15, extra_conf: str = "", workdir: os.PathLike | str | None = None,
                 keep: bool = False, nginx_bin: str = NGINX_BIN, ca: TestCA | None = None):
        self.root = Path(root).resolve()
        self.tls = tls
        self.slow_rate = slow_rate
        self.max_redirect_chain = max_redirect_chain
        self.extra_conf = extra_conf
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else None
        self.keep = keep
        self.nginx_bin = nginx_bin
        self.ca = ca
        self.host = HOST
        self.port: int = 0
        self.tls_port: int = 0
        self.proc: subprocess.Popen | None = None

    # -- URLs
    def url(self, path: str = "/") -> str:
        if not path.startswith("/"):
            path = "/" + path
        return "http://%s:%d%s" % (self.host, self.port, path)

    def https_url(self, path: str = "/") -> str:
        if not self.tls:
            raise NginxError("this nginx was started without tls=True")
        if not path.startswith("/"):
            path = "/" + path
        return "https://%s:%d%s" % (self.host, self.tls_port, path)

    @property
    def cacert(self) -> Path:
        if not self.ca:
            raise NginxError("this nginx was started without tls=True")
        return self.ca.ca_cert

    @property
    def access_log_path(self) -> Path:
        return self.workdir / "access.log"

    @property
    def error_log_path(self) -> Path:
        return self.workdir / "error.log"

    # -- lifecycle
    def __enter__(self) -> "Nginx":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _user_directive(self) -> str:
        if os.geteuid() != 0:
            return ""
        try:
            user = pwd.getpwuid(os.geteuid()).pw_name
            group = grp.getgrgid(os.getegid()).gr_name
        except KeyError:
            return ""
        return "user %s %s;" % (user, group)

    def _write_conf(self) -> Path:
        w = str(self.workdir)
        root = str(self.root)
        logfmt = "\\t".join(_LOG_FIELDS)
        common = _common_locations("http", self.host, self.port, root, self.slow_rate, self.max_redirect_chain)
        tls_server = ""
        if self.tls:
            tls_common = _common_locations("https", self.host, self.tls_port, root, self.slow_rate,
                                           self.max_redirect_chain)
            tls_server = _TLS_SERVER.format(host=self.host, tls_port=self.tls_port, port=self.port, root=root,
                                            cert=self.ca.server_cert, key=self.ca.server_key,
                                            common=tls_common, extra=self.extra_conf)
        conf = _CONF.format(user=self._user_directive(), work=w, logfmt=logfmt, host=self.host, port=self.port,
                            root=root, common=common, extra=self.extra_conf, tls_server=tls_server)
        p = self.workdir / "nginx.conf"
        p.write_text(conf)
        return p

    def start(self) -> None:
        if self.proc is not None:
            raise NginxError("already started")
        if not self.root.is_dir():
            raise NginxError("document root %s is not a directory" % self.root)
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="imgfetch-nginx-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "tmp").mkdir(exist_ok=True)
        if self.tls and self.ca is None:
            self.ca = make_test_ca(self.workdir / "tls")
        last_err = ""
        for _attempt in range(8):
            self.port = free_port()
            self.tls_port = free_port() if self.tls else 0
            if self.tls and self.tls_port == self.port:
                continue
            conf = self._write_conf()
            for f in ("access.log", "error.log"):
                (self.workdir / f).write_bytes(b"")
            stderr = open(self.workdir / "nginx.stderr", "wb")
            try:
                self.proc = subprocess.Popen(
                    [self.nginx_bin, "-p", str(self.workdir) + "/", "-c", str(conf),
                     "-e", str(self.workdir / "error.log")],
                    stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr, cwd=self.workdir)
            finally:
                stderr.close()
            ok, last_err = self._wait_ready()
            if ok:
                return
            self._kill()
            if "Address already in use" not in last_err:
                break
        self._cleanup_dir()
        raise NginxError("nginx failed to start:\n" + last_err)

    def _errors(self) -> str:
        out = []
        for f in ("nginx.stderr", "error.log"):
            try:
                out.append((self.workdir / f).read_text(errors="replace"))
            except OSError:
                pass
        return "\n".join(x for x in out if x)

    def _wait_ready(self, timeout: float = 10.0) -> tuple[bool, str]:
        ports = [self.port] + ([self.tls_port] if self.tls else [])
        deadline = time.monotonic() + timeout
        pending = list(ports)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False, self._errors()
            still = []
            for p in pending:
                try:
                    with socket.create_connection((self.host, p), timeout=0.5):
                        pass
                except OSError:
                    still.append(p)
            pending = still
            if not pending:
                return True, ""
            time.sleep(0.02)
        return False, "timed out waiting for nginx\n" + self._errors()

    def _kill(self) -> None:
        stop_process(self.proc)  # SIGTERM: nginx's fast shutdown
        self.proc = None

    def _cleanup_dir(self) -> None:
        if self._own_workdir and not self.keep and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def stop(self) -> None:
        """Stop nginx and wait for it. Safe to call more than once."""
        self._kill()
        self._cleanup_dir()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- access log
    def log(self, settle: float = 0.15) -> list[LogEntry]:
        """All access-log entries so far. nginx writes an entry when a request
        finishes, which can be a moment after the client has seen the last byte:
        wait until the log has not changed for `settle` seconds (at most 2 s)."""
        deadline = time.monotonic() + 2.0
        size = -1
        while True:
            try:
                cur = self.access_log_path.stat().st_size
            except OSError:
                cur = 0
            if cur == size or time.monotonic() > deadline or settle <= 0:
                break
            size = cur
            time.sleep(settle)
        entries = []
        try:
            text = self.access_log_path.read_text(errors="replace")
        except OSError:
            return entries
        for line in text.splitlines():
            e = _parse_log_line(line)
            if e is not None:
                entries.append(e)
        return entries

    def requests(self, path: str | None = None, method: str | None = None, scheme: str | None = None,
                 settle: float = 0.15) -> list[LogEntry]:
        """Access-log entries, optionally filtered by exact decoded path, method and scheme."""
        return [e for e in self.log(settle)
                if (path is None or e.path == path) and (method is None or e.method == method)
                and (scheme is None or e.scheme == scheme)]

    def count(self, path: str | None = None, method: str | None = "GET", **kw) -> int:
        return len(self.requests(path, method, **kw))


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="Serve a directory with a private nginx on 127.0.0.1.")
    ap.add_argument("root")
    ap.add_argument("--tls", action="store_true")
    a = ap.parse_args()
    with Nginx(a.root, tls=a.tls) as ng:
        print("http:  ", ng.url("/"))
        if a.tls:
            print("https: ", ng.https_url("/"), " (CA:", ng.cacert, ")")
        print("access log:", ng.access_log_path)
        print("Ctrl-C to stop", flush=True)
        try:
            while ng.running:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
