#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run a real OCI registry (Debian's /usr/bin/docker-registry, distribution 2.8)
on 127.0.0.1 for tests, with optional TLS, basic (htpasswd) or bearer-token
auth, and blob GETs redirected to a second host (a "CDN").

    from registry import Registry
    with Registry(workdir, auth="token", redirect_blobs=True) as reg:
        d = reg.push_blob("test/os", b"kernel bytes")
        m = reg.push_manifest("test/os", "v1", reg.manifest_for([("application/octet-stream", d, 12)]))
        reg.url("/v2/")               # https://127.0.0.1:PORT/v2/  (trust reg.cacert)
        reg.host                      # "127.0.0.1:PORT"  (for docker://HOST/repo:tag refs)
        r = reg.request("GET", "/v2/test/os/blobs/" + d)   # r.status == 307 to the CDN
        reg.access_log(); reg.cdn_log(); reg.token_log(); reg.tokens_issued

In a test, start_registry(t, ...) starts one and registers its stop() with t.

Pieces (everything binds 127.0.0.1 only, ports picked free, never :5000):
  * docker-registry: own config YAML, own storage dir, TLS leaf from
    nginx.make_test_ca() (SAN 127.0.0.1 + localhost). Its access log (gorilla
    combined format, on stdout) is kept in WORKDIR/registry.access.log, its
    application log (stderr) in WORKDIR/registry.log.
  * auth="htpasswd": bcrypt file written by `htpasswd -B` (apache2-utils).
  * auth="token": TokenServer, a thread in this process serving
    GET /token?service=..&scope=..[&scope=..] (HTTPS when tls=True). Basic
    credentials are checked against `users`; a known user gets every action
    it asks for; anonymous callers get only "pull" on repositories starting
    with one of `public_repos`; wrong credentials -> 401. Tokens are ES256
    JWTs signed with the `openssl` CLI (no python-jwt needed); the header
    carries the libtrust "kid" of the signing certificate, which is the
    registry's rootcertbundle. Claims: iss, sub, aud (a string), exp, nbf,
    iat, jti, access[]. token_ttl sets exp = now + token_ttl (may be <= 0);
    expired_first=N makes the first N issued tokens already expired by 120 s.
    NOTE: distribution allows 60 s clock skew, so a token is only refused
    once it expired more than 60 s ago -- use expired_first / a negative
    token_ttl (<= -61) to test refusal quickly. `tokens_issued` counts tokens
    issued over HTTP; token_log() lists every /token request.
  * redirect_blobs=True: the registry's own `redirect` storage middleware
    (baseurl = the CDN) makes blob GET/HEAD answer 307 with
    Location: <cdn>/docker/registry/v2/blobs/sha256/xx/<hex>/data (manifests
    are never redirected). BlobCDN, a thread in this process, serves those
    files straight from the registry's storage directory (Range: 206/416)
    under the host name `cdn_host` (default "localhost", so the redirect is
    cross-origin: 127.0.0.1 -> localhost, another port), over HTTPS when
    tls=True, and records every request with all its headers (cdn_log()), so
    a test can assert that no Authorization header arrived there.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from nginx import HOST, TestCA, free_port, make_test_ca, stop_process

REGISTRY_BIN = os.environ.get("IMGFETCH_TEST_REGISTRY", "/usr/bin/docker-registry")
HTPASSWD_BIN = "htpasswd"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
# distribution 2.8 answers 404 (not 406) for OCI manifests unless Accept lists the OCI types.
MANIFEST_ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])

__all__ = ["Registry", "TokenServer", "BlobCDN", "Response", "RegistryLogEntry", "RegistryError",
           "start_registry", "make_oci_layout", "digest_of", "parse_challenge", "OCI_MANIFEST", "OCI_INDEX",
           "OCI_EMPTY", "MANIFEST_ACCEPT"]


class RegistryError(RuntimeError):
    pass


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def _run(argv: list[str], cwd=None, input: bytes | None = None) -> bytes:
    r = subprocess.run(argv, cwd=cwd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if r.returncode != 0:
        raise RegistryError("%s failed (%d):\n%s" % (" ".join(argv), r.returncode, r.stderr.decode(errors="replace")))
    return r.stdout


def parse_challenge(header: str | None) -> tuple[str, dict[str, str]]:
    """'Bearer realm="x",service="y",scope="a b"' -> ("bearer", {"realm": "x", ...})."""
    if not header:
        return "", {}
    scheme, _, rest = header.strip().partition(" ")
    params = {}
    for m in re.finditer(r'([A-Za-z_]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))', rest):
        params[m.group(1).lower()] = m.group(2) if m.group(2) is not None else m.group(3)
    return scheme.lower(), params


# ------------------------------------------------------------ JWT signing

def _der_ecdsa_to_raw(der: bytes, size: int = 32) -> bytes:
    """ASN.1 SEQUENCE { INTEGER r, INTEGER s } -> r||s (JWS ES256 form)."""
    def read_len(b, i):
        n = b[i]
        i += 1
        if n & 0x80:
            k = n & 0x7F
            n = int.from_bytes(b[i:i + k], "big")
            i += k
        return n, i
    if der[0] != 0x30:
        raise RegistryError("bad ECDSA signature")
    _, i = read_len(der, 1)
    out = b""
    for _ in range(2):
        if der[i] != 0x02:
            raise RegistryError("bad ECDSA signature")
        n, i = read_len(der, i + 1)
        v = int.from_bytes(der[i:i + n], "big")
        i += n
        out += v.to_bytes(size, "big")
    return out


class TokenSigner:
    """An EC P-256 key + self-signed certificate (made by the openssl CLI);
    mints ES256 JWTs accepted by distribution when cert is its rootcertbundle."""

    def __init__(self, directory: os.PathLike | str):
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.key = d / "token-signer.key"
        self.cert = d / "token-signer.pem"
        _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
              "-days", "3", "-subj", "/CN=imgfetch test token signer", "-keyout", str(self.key),
              "-out", str(self.cert)])
        pub = _run(["openssl", "pkey", "-in", str(self.key), "-pubout", "-outform", "DER"])
        b32 = base64.b32encode(hashlib.sha256(pub).digest()[:30]).decode().rstrip("=")
        self.kid = ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))  # libtrust key ID

    def sign(self, claims: dict) -> str:
        header = {"typ": "JWT", "alg": "ES256", "kid": self.kid}
        signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         _b64url(json.dumps(claims, separators=(",", ":")).encode()))
        der = _run(["openssl", "dgst", "-sha256", "-sign", str(self.key), "-binary"], input=signing_input.encode())
        return signing_input + "." + _b64url(_der_ecdsa_to_raw(der))


def parse_scope(scope: str) -> dict | None:
    """'repository:a/b:pull,push' -> {"type", "name", "actions"}; name may hold ':' (host:port)."""
    parts = scope.split(":")
    if len(parts) < 3:
        return None
    return {"type": parts[0], "name": ":".join(parts[1:-1]), "actions": [a for a in parts[-1].split(",") if a]}


# ------------------------------------------------------- threaded servers

class _ThreadServer:
    """A ThreadingHTTPServer on 127.0.0.1 in a daemon thread, optional TLS."""

    handler: type

    def __init__(self, tls_ca: TestCA | None, host: str = HOST):
        self.tls_ca = tls_ca
        self.bind_host = host
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.port = 0
        self.lock = threading.Lock()

    @property
    def scheme(self) -> str:
        return "https" if self.tls_ca else "http"

    def start(self):
        httpd = ThreadingHTTPServer((self.bind_host, 0), self.handler)
        httpd.daemon_threads = True
        httpd.owner = self
        if self.tls_ca:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(self.tls_ca.server_cert), str(self.tls_ca.server_key))
            httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        self.httpd = httpd
        self.port = httpd.server_address[1]
        self.thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       name=type(self).__name__, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(timeout=5)
            self.httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class _QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def setup(self):
        super().setup()
        self.connection.settimeout(30)

    def _send(self, code: int, body: bytes = b"", headers: dict | None = None, head: bool = False):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and not head:
            self.wfile.write(body)


class _TokenHandler(_QuietHandler):
    def do_GET(self):
        self.server.owner._handle(self)


class TokenServer(_ThreadServer):
    """Docker/OCI token endpoint: GET <path>?service=S&scope=..[&scope=..], Basic auth optional."""

    handler = _TokenHandler

    def __init__(self, signer: TokenSigner, *, service: str, issuer: str, users: dict[str, str] | None = None,
                 public_repos: tuple[str, ...] = (), anonymous: bool = True, token_ttl: int = 300,
                 expired_first: int = 0, tls_ca: TestCA | None = None, path: str = "/token"):
        super().__init__(tls_ca)
        self.signer = signer
        self.service = service
        self.issuer = issuer
        self.users = dict(users or {})
        self.public_repos = tuple(public_repos)
        self.anonymous = anonymous
        self.token_ttl = token_ttl          # may be changed while running
        self.expired_first = expired_first  # may be changed while running
        self.path = path
        self.tokens_issued = 0
        self.log: list[dict] = []

    @property
    def realm(self) -> str:
        return "%s://%s:%d%s" % (self.scheme, HOST, self.port, self.path)

    def mint(self, access: list[dict], *, sub: str = "", ttl: int | None = None) -> str:
        """A token signed like the served ones, without going through HTTP (not counted)."""
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": sub, "aud": self.service,
                  "exp": now + (self.token_ttl if ttl is None else ttl), "nbf": now - 1, "iat": now,
                  "jti": uuid.uuid4().hex, "access": access}
        return self.signer.sign(claims)

    def _handle(self, h: BaseHTTPRequestHandler):
        u = urllib.parse.urlsplit(h.path)
        params = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        rec = {"time": time.time(), "method": h.command, "path": u.path, "params": params,
               "headers": {k.lower(): v for k, v in h.headers.items()}, "user": None}
        if "authorization" in rec["headers"]:
            rec["headers"]["authorization"] = rec["headers"]["authorization"].split(" ")[0] + " <redacted>"

        def reply(code, obj, extra=None):
            rec["status"] = code
            with self.lock:
                self.log.append(rec)
            h._send(code, json.dumps(obj).encode(), dict({"Content-Type": "application/json"}, **(extra or {})))

        if u.path != self.path:
            return reply(404, {"errors": [{"code": "NOT_FOUND"}]})
        user = password = None
        auth = h.headers.get("Authorization", "")
        if auth:
            scheme, _, cred = auth.partition(" ")
            try:
                if scheme.lower() != "basic":
                    raise ValueError
                user, _, password = base64.b64decode(cred.strip(), validate=True).decode().partition(":")
            except ValueError:
                return reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad Authorization"}]},
                             {"WWW-Authenticate": 'Basic realm="token"'})
            rec["user"] = user
            if self.users.get(user) != password:
                return reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]},
                             {"WWW-Authenticate": 'Basic realm="token"'})
        elif not self.anonymous:
            return reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "credentials required"}]},
                         {"WWW-Authenticate": 'Basic realm="token"'})
        service = (params.get("service") or [""])[0]
        if service != self.service:
            return reply(400, {"errors": [{"code": "DENIED", "message": "unknown service %r" % service}]})
        access = []
        for s in params.get("scope", []):
            for one in s.split(" "):
                sc = parse_scope(one)
                if not sc:
                    continue
                if user is None:
                    public = sc["type"] == "repository" and any(sc["name"].startswith(p) for p in self.public_repos)
                    sc["actions"] = ["pull"] if public and "pull" in sc["actions"] else []
                access.append(sc)
        with self.lock:
            expired = self.tokens_issued < self.expired_first
            self.tokens_issued += 1
        ttl = -120 if expired else self.token_ttl
        tok = self.mint(access, sub=user or "", ttl=ttl)
        rec["access"] = access
        rec["expired"] = expired
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        reply(200, {"token": tok, "access_token": tok, "expires_in": max(ttl, 0),
                    "issued_at": issued})


class _CDNHandler(_QuietHandler):
    def do_GET(self):
        self.server.owner._handle(self, True)

    def do_HEAD(self):
        self.server.owner._handle(self, False)


class BlobCDN(_ThreadServer):
    """Static server for the redirect middleware's URLs: files below `root`
    (the registry's storage root), Range support, every request logged with
    all its headers (header names lower-case)."""

    handler = _CDNHandler

    def __init__(self, root: os.PathLike | str, *, tls_ca: TestCA | None = None, host_name: str = "localhost"):
        super().__init__(tls_ca)
        self.root = os.path.realpath(root)
        self.host_name = host_name
        self.log: list[dict] = []

    def url(self, path: str = "/") -> str:
        return "%s://%s:%d/%s" % (self.scheme, self.host_name, self.port, path.lstrip("/"))

    def _handle(self, h: BaseHTTPRequestHandler, body: bool):
        upath = urllib.parse.unquote(urllib.parse.urlsplit(h.path).path)
        rec = {"time": time.time(), "method": h.command, "path": upath, "uri": h.path,
               "headers": {k.lower(): v for k, v in h.headers.items()}}
        hdr = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}

        def done(code, n=0):
            rec["status"] = code
            rec["bytes"] = n
            with self.lock:
                self.log.append(rec)

        path = os.path.normpath(os.path.join(self.root, upath.lstrip("/")))
        if not path.startswith(self.root + os.sep) or not os.path.isfile(path):
            done(404)
            return h._send(404, head=not body)
        size = os.path.getsize(path)
        start, end, code = 0, size - 1, 200
        rng = h.headers.get("Range")
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng or "")
        if m and (m.group(1) or m.group(2)):
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            else:
                start = max(0, size - int(m.group(2)))
            if start >= size or start > end:
                done(416)
                return h._send(416, headers={"Content-Range": "bytes */%d" % size}, head=not body)
            code = 206
            hdr["Content-Range"] = "bytes %d-%d/%d" % (start, end, size)
        n = end - start + 1
        h.send_response(code)
        for k, v in hdr.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(n))
        h.end_headers()
        sent = 0
        if body:
            with open(path, "rb") as f:
                f.seek(start)
                while sent < n:
                    chunk = f.read(min(n - sent, 65536))
                    if not chunk:
                        break
                    h.wfile.write(chunk)
                    sent += len(chunk)
        done(code, sent)


# -------------------------------------------------------------- client bits

@dataclasses.dataclass
class Response:
    status: int
    headers: dict[str, str]   # lower-case names (last value wins)
    body: bytes
    url: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **kw):
        return None


@dataclasses.dataclass
class RegistryLogEntry:
    """One line of the registry's access log (gorilla combined log format)."""
    remote: str
    user: str | None
    method: str
    uri: str
    path: str
    proto: str
    status: int
    bytes: int
    referer: str
    user_agent: str


_ACCESS_RE = re.compile(r'^(\S+) \S+ (\S+) \[[^\]]*\] "(\S+) (\S+) (\S+)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"')


# -------------------------------------------------------------- registry

_CONF = """\
# generated by tests/integration/registry.py
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
  redirect:
    disable: false
http:
  addr: {host}:{port}
  secret: imgfetch-test-secret
  relativeurls: {relative}
  headers:
    X-Content-Type-Options: [nosniff]
{tls}{auth}{middleware}"""


class Registry:
    """A private docker-registry on 127.0.0.1. Context manager, or start()/stop()."""

    def __init__(self, workdir: os.PathLike | str | None = None, *, tls: bool = True, ca: TestCA | None = None,
                 auth: str | None = None, users: dict[str, str] | None = None, redirect_blobs: bool = False,
                 cdn_host: str = "localhost", public_repos: tuple[str, ...] = (), anonymous_tokens: bool = True,
                 token_ttl: int = 300, expired_first: int = 0, relative_urls: bool = False,
                 service: str = "imgfetch-test-registry", issuer: str = "imgfetch-test-issuer",
                 realm: str = "imgfetch-test", keep: bool = False, registry_bin: str = REGISTRY_BIN):
        if auth not in (None, "htpasswd", "token"):
            raise ValueError("auth must be None, 'htpasswd' or 'token'")
        self._own_workdir = workdir is None
        self.workdir = Path(workdir).resolve() if workdir is not None else None
        self.tls = tls
        self.ca = ca
        self.auth = auth
        self.users = dict(users) if users is not None else {"alice": "secret"}
        self.redirect_blobs = redirect_blobs
        self.cdn_host = cdn_host
        self.public_repos = tuple(public_repos)
        self.anonymous_tokens = anonymous_tokens
        self._token_ttl = token_ttl
        self._expired_first = expired_first
        self.relative_urls = relative_urls
        self.service = service
        self.issuer = issuer
        self.realm = realm
        self.keep = keep
        self.registry_bin = registry_bin
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.token_server: TokenServer | None = None
        self.cdn: BlobCDN | None = None
        self._ssl: ssl.SSLContext | None = None

    # -- addresses
    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def host(self) -> str:
        """host:port as used in image references (docker://HOST/repo:tag)."""
        return "%s:%d" % (HOST, self.port)

    def url(self, path: str = "/v2/") -> str:
        if path.startswith(("http://", "https://")):
            return path
        return "%s://%s%s" % (self.scheme, self.host, path if path.startswith("/") else "/" + path)

    def ref(self, repo: str, tag_or_digest: str = "latest") -> str:
        """HOST/repo:tag or HOST/repo@sha256:..."""
        sep = "@" if tag_or_digest.startswith("sha256:") else ":"
        return "%s/%s%s%s" % (self.host, repo, sep, tag_or_digest)

    @property
    def cacert(self) -> Path:
        if not self.ca:
            raise RegistryError("registry started without tls")
        return self.ca.ca_cert

    @property
    def cert_dir(self) -> Path:
        """Directory holding only ca.crt (for skopeo --cert-dir / containers certs.d)."""
        d = self.workdir / "certs.d"
        if not (d / "ca.crt").exists():
            d.mkdir(exist_ok=True)
            shutil.copy(self.cacert, d / "ca.crt")
        return d

    @property
    def storage(self) -> Path:
        return self.workdir / "storage"

    @property
    def access_log_path(self) -> Path:
        return self.workdir / "registry.access.log"

    @property
    def log_path(self) -> Path:
        return self.workdir / "registry.log"

    @property
    def credentials(self) -> tuple[str, str]:
        """The first user's (name, password)."""
        return next(iter(self.users.items()))

    # -- token knobs (live)
    @property
    def tokens_issued(self) -> int:
        return self.token_server.tokens_issued if self.token_server else 0

    @property
    def token_ttl(self) -> int:
        return self.token_server.token_ttl if self.token_server else self._token_ttl

    @token_ttl.setter
    def token_ttl(self, v: int) -> None:
        self._token_ttl = v
        if self.token_server:
            self.token_server.token_ttl = v

    @property
    def expired_first(self) -> int:
        return self.token_server.expired_first if self.token_server else self._expired_first

    @expired_first.setter
    def expired_first(self, v: int) -> None:
        self._expired_first = v
        if self.token_server:
            self.token_server.expired_first = v

    @property
    def token_realm(self) -> str:
        return self.token_server.realm if self.token_server else ""

    def mint_token(self, scopes: list[str] | str, *, ttl: int | None = None, sub: str = "test") -> str:
        """A registry-valid token for the given scope strings, bypassing the token server (not counted)."""
        if not self.token_server:
            raise RegistryError("registry not in token mode")
        if isinstance(scopes, str):
            scopes = scopes.split(" ")
        return self.token_server.mint([sc for sc in map(parse_scope, scopes) if sc], sub=sub, ttl=ttl)

    # -- lifecycle
    def __enter__(self) -> "Registry":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _write_conf(self) -> Path:
        tls = auth = middleware = ""
        if self.tls:
            tls = "  tls:\n    certificate: %s\n    key: %s\n" % (self.ca.server_cert, self.ca.server_key)
        if self.auth == "htpasswd":
            auth = "auth:\n  htpasswd:\n    realm: %s\n    path: %s\n" % (self.realm, self.workdir / "htpasswd")
        elif self.auth == "token":
            auth = ("auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n    rootcertbundle: %s\n"
                    % (self.token_server.realm, self.service, self.issuer, self.token_server.signer.cert))
        if self.redirect_blobs:
            middleware = ("middleware:\n  storage:\n    - name: redirect\n      options:\n        baseurl: %s\n"
                          % self.cdn.url("/"))
        conf = _CONF.format(storage=self.storage, host=HOST, port=self.port,
                            relative="true" if self.relative_urls else "false",
                            tls=tls, auth=auth, middleware=middleware)
        p = self.workdir / "config.yml"
        p.write_text(conf)
        return p

    def start(self) -> "Registry":
        if self.proc is not None:
            raise RegistryError("already started")
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="imgfetch-registry-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage.mkdir(exist_ok=True)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        if self.tls and self.ca is None:
            self.ca = make_test_ca(self.workdir / "tls")
        if self.tls:
            self._ssl = ssl.create_default_context(cafile=str(self.ca.ca_cert))
        tls_ca = self.ca if self.tls else None
        if self.auth == "htpasswd":
            lines = []
            for u, p in self.users.items():
                out = _run([HTPASSWD_BIN, "-Bbn", u, p]).decode()
                lines += [x for x in out.splitlines() if x.strip()]
            (self.workdir / "htpasswd").write_text("\n".join(lines) + "\n")
        elif self.auth == "token":
            signer = TokenSigner(self.workdir / "token")
            self.token_server = TokenServer(signer, service=self.service, issuer=self.issuer, users=self.users,
                                            public_repos=self.public_repos, anonymous=self.anonymous_tokens,
                                            token_ttl=self._token_ttl, expired_first=self._expired_first,
                                            tls_ca=tls_ca).start()
        if self.redirect_blobs:
            self.cdn = BlobCDN(self.storage, tls_ca=tls_ca, host_name=self.cdn_host).start()
        last = ""
        for _attempt in range(6):
            self.port = free_port()
            if self.port == 5000:
                continue
            conf = self._write_conf()
            self.access_log_path.write_bytes(b"")
            self.log_path.write_bytes(b"")
            with open(self.access_log_path, "ab") as out, open(self.log_path, "ab") as err:
                self.proc = subprocess.Popen([self.registry_bin, "serve", str(conf)], stdin=subprocess.DEVNULL,
                                             stdout=out, stderr=err, cwd=self.workdir)
            ok, last = self._wait_ready()
            if ok:
                return
            self._kill()
            if "address already in use" not in last:
                break
        raise RegistryError("docker-registry failed to start:\n" + last)

    def _wait_ready(self, timeout: float = 10.0) -> tuple[bool, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False, self.log_path.read_text(errors="replace")
            try:
                r = self.request("GET", "/v2/", auth=None, timeout=1)
                if r.status in (200, 401):
                    return True, ""
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.03)
        return False, "timed out waiting for docker-registry\n" + self.log_path.read_text(errors="replace")

    def _kill(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def stop(self) -> None:
        """Stop the registry, token server and CDN. Safe to call more than once."""
        self._kill()
        for s in (self.token_server, self.cdn):
            if s is not None:
                s.stop()
        if self._own_workdir and not self.keep and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- HTTP helpers (urllib, trusting the test CA; never follow redirects silently)
    def raw_request(self, method: str, url: str, data: bytes | None = None, headers: dict | None = None,
                    timeout: float = 15) -> Response:
        """One HTTP request, no auth added, redirects not followed. Trusts the test CA."""
        req = urllib.request.Request(url, data=data, method=method)
        for k, v in (headers or {}).items():
            req.add_unredirected_header(k, v)
        handlers = [_NoRedirect(), urllib.request.ProxyHandler({})]
        if self._ssl is not None:
            handlers.append(urllib.request.HTTPSHandler(context=self._ssl))
        opener = urllib.request.build_opener(*handlers)
        try:
            with opener.open(req, timeout=timeout) as r:
                return Response(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read(), url)
        except urllib.error.HTTPError as e:
            body = e.read() if e.fp else b""
            return Response(e.code, {k.lower(): v for k, v in (e.headers or {}).items()}, body, url)

    def request(self, method: str, path: str, data: bytes | None = None, headers: dict | None = None, *,
                auth="auto", follow: bool = False, timeout: float = 15) -> Response:
        """A request to the registry. auth: "auto" (Basic with the first user for htpasswd; in token mode a
        token minted for the path's repository, or on a 401 for the challenged scope), None (anonymous),
        (user, password) (Basic, or the token dance through the token server in token mode), or a full
        Authorization header value. follow=True follows redirects WITHOUT sending Authorization onward."""
        headers = dict(headers or {})
        if isinstance(auth, tuple) and self.auth == "htpasswd":
            headers["Authorization"] = _basic(*auth)
        elif isinstance(auth, str) and auth != "auto":
            headers["Authorization"] = auth
        elif auth == "auto" and self.auth == "htpasswd":
            headers["Authorization"] = _basic(*self.credentials)
        elif auth == "auto" and self.auth == "token":
            # authenticate up front: the registry may close the connection while a large
            # body is still being sent when it answers 401, so don't rely on the challenge
            scope = _scope_for(urllib.parse.urlsplit(self.url(path)).path)
            if scope:
                headers["Authorization"] = "Bearer " + self.mint_token(scope)
        r = self.raw_request(method, self.url(path), data, headers, timeout)
        if r.status == 401 and self.auth == "token" and (auth == "auto" or isinstance(auth, tuple)):
            scheme, ch = parse_challenge(r.header("WWW-Authenticate"))
            if scheme == "bearer":
                if auth == "auto":
                    tok = self.mint_token(ch.get("scope", ""))
                else:
                    tok = self.fetch_token(ch.get("scope", "").split(" ") if ch.get("scope") else [], auth)
                headers["Authorization"] = "Bearer " + tok
                r = self.raw_request(method, self.url(path), data, headers, timeout)
        hops = 0
        while follow and r.status in (301, 302, 303, 307, 308) and r.header("Location") and hops < 10:
            hops += 1
            nxt = urllib.parse.urljoin(r.url, r.header("Location"))
            keep = {k: v for k, v in headers.items() if k.lower() in ("range", "accept")}
            r = self.raw_request("GET" if r.status == 303 else method, nxt, None if r.status == 303 else data,
                                 keep, timeout)
        return r

    def fetch_token(self, scopes: list[str], creds: tuple[str, str] | None = None) -> str:
        """The token dance's second half: GET the token server (counted in tokens_issued)."""
        if not self.token_server:
            raise RegistryError("registry not in token mode")
        q = urllib.parse.urlencode([("service", self.service)] + [("scope", s) for s in scopes])
        r = self.raw_request("GET", self.token_server.realm + "?" + q,
                             headers={"Authorization": _basic(*creds)} if creds else None)
        if r.status != 200:
            raise RegistryError("token server answered %d: %r" % (r.status, r.body[:300]))
        return r.json()["token"]

    # -- content setup
    def push_blob(self, repo: str, data: bytes) -> str:
        """Upload a blob (POST + monolithic PUT); returns its digest."""
        d = digest_of(data)
        r = self.request("POST", "/v2/%s/blobs/uploads/" % repo, b"")
        if r.status != 202 or not r.header("Location"):
            raise RegistryError("blob upload start: %d %r" % (r.status, r.body[:300]))
        loc = urllib.parse.urljoin(self.url("/v2/"), r.header("Location"))
        loc += ("&" if "?" in loc else "?") + "digest=" + urllib.parse.quote(d)
        r = self.request("PUT", loc, data, {"Content-Type": "application/octet-stream"})
        if r.status != 201:
            raise RegistryError("blob PUT: %d %r" % (r.status, r.body[:300]))
        return d

    def push_manifest(self, repo: str, ref: str | None, manifest, media_type: str | None = None) -> str:
        """PUT a manifest/index (bytes, str or dict) by tag (ref) or, when ref is None, by digest.
        media_type defaults to the document's mediaType. Returns its digest."""
        if isinstance(manifest, dict):
            manifest = json.dumps(manifest, separators=(",", ":")).encode()
        elif isinstance(manifest, str):
            manifest = manifest.encode()
        if media_type is None:
            media_type = json.loads(manifest).get("mediaType") or OCI_MANIFEST
        d = digest_of(manifest)
        r = self.request("PUT", "/v2/%s/manifests/%s" % (repo, ref or d), manifest, {"Content-Type": media_type})
        if r.status != 201:
            raise RegistryError("manifest PUT: %d %r" % (r.status, r.body[:300]))
        return d

    @staticmethod
    def manifest_for(layers: list[tuple], config: tuple | None = None, artifact_type: str | None = None,
                     annotations: dict | None = None) -> dict:
        """An OCI image manifest dict. layers: (mediaType, digest, size[, annotations]);
        config: (mediaType, digest, size), default the empty descriptor (push OCI_EMPTY_BLOB first)."""
        def desc(t):
            d = {"mediaType": t[0], "digest": t[1], "size": t[2]}
            if len(t) > 3 and t[3]:
                d["annotations"] = t[3]
            return d
        m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
        if artifact_type:
            m["artifactType"] = artifact_type
        m["config"] = desc(config or (OCI_EMPTY, digest_of(b"{}"), 2))
        m["layers"] = [desc(x) for x in layers]
        if annotations:
            m["annotations"] = annotations
        return m

    def push_artifact(self, repo: str, tag: str | None, files: dict[str, bytes],
                      media_type: str = "application/octet-stream", artifact_type: str | None = None,
                      annotations: dict | None = None) -> dict:
        """Push files as layers (title annotation = name) with an empty config; returns
        {"manifest": digest, "manifest_bytes": bytes, "layers": {name: digest}}."""
        self.push_blob(repo, b"{}")
        layers, digests = [], {}
        for name, data in files.items():
            digests[name] = self.push_blob(repo, data)
            layers.append((media_type, digests[name], len(data), {"org.opencontainers.image.title": name}))
        m = self.manifest_for(layers, artifact_type=artifact_type, annotations=annotations)
        raw = json.dumps(m, separators=(",", ":")).encode()
        md = self.push_manifest(repo, tag, raw, OCI_MANIFEST)
        return {"manifest": md, "manifest_bytes": raw, "layers": digests}

    def get_manifest(self, repo: str, ref: str, **kw) -> Response:
        return self.request("GET", "/v2/%s/manifests/%s" % (repo, ref), headers={"Accept": MANIFEST_ACCEPT}, **kw)

    def get_blob(self, repo: str, digest: str, follow: bool = True, **kw) -> Response:
        return self.request("GET", "/v2/%s/blobs/%s" % (repo, digest), follow=follow, **kw)

    def blob_path(self, digest: str) -> str:
        """The path the redirect middleware sends blob GETs to (on the CDN)."""
        hexd = digest.split(":", 1)[1]
        return "/docker/registry/v2/blobs/sha256/%s/%s/data" % (hexd[:2], hexd)

    # -- logs
    def access_log(self, settle: float = 0.1) -> list[RegistryLogEntry]:
        """The registry's access log entries (it writes them when a request finishes: wait until the
        file has been unchanged for `settle` seconds, at most 2 s)."""
        deadline = time.monotonic() + 2.0
        size = -1
        while settle > 0 and time.monotonic() < deadline:
            cur = self.access_log_path.stat().st_size if self.access_log_path.exists() else 0
            if cur == size:
                break
            size = cur
            time.sleep(settle)
        out = []
        try:
            text = self.access_log_path.read_text(errors="replace")
        except OSError:
            return out
        for line in text.splitlines():
            m = _ACCESS_RE.match(line)
            if not m:
                continue
            remote, user, method, uri, proto, status, nbytes, ref, ua = m.groups()
            out.append(RegistryLogEntry(remote, None if user == "-" else user, method, uri,
                                        urllib.parse.unquote(urllib.parse.urlsplit(uri).path), proto,
                                        int(status), 0 if nbytes == "-" else int(nbytes), ref, ua))
        return out

    def cdn_log(self) -> list[dict]:
        """Every CDN request: {"method","path","uri","headers" (lower-case names),"status","bytes","time"}."""
        if not self.cdn:
            return []
        with self.cdn.lock:
            return list(self.cdn.log)

    def token_log(self) -> list[dict]:
        """Every token-server request: {"method","path","params","headers" (auth redacted),"user","status",
        "access","expired"}."""
        if not self.token_server:
            return []
        with self.token_server.lock:
            return list(self.token_server.log)

    def logs(self) -> tuple[list[RegistryLogEntry], list[dict]]:
        """(registry access log, CDN request log)."""
        return self.access_log(), self.cdn_log()

    # -- skopeo
    def skopeo_tls_args(self, prefix: str = "") -> list[str]:
        """e.g. ["--dest-cert-dir", DIR] (prefix "dest-") or ["--tls-verify=false"] without TLS."""
        if self.tls:
            return ["--%scert-dir" % prefix, str(self.cert_dir)]
        return ["--%stls-verify=false" % prefix]


def _scope_for(path: str) -> str | None:
    m = re.match(r"^/v2/(.+?)/(blobs|manifests|tags)/", path)
    if m:
        return "repository:%s:pull,push,delete" % m.group(1)
    if path.startswith("/v2/_catalog"):
        return "registry:catalog:*"
    return None


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


# ------------------------------------------------------------ OCI layout

def make_oci_layout(directory: os.PathLike | str, files: dict[str, bytes], tag: str = "latest",
                    media_type: str = "application/octet-stream", artifact_type: str | None = None) -> dict:
    """Write an OCI image layout by hand (oci-layout, index.json, blobs/sha256/*): one manifest whose
    layers are `files` (title annotations), empty config, tagged `tag`. Returns
    {"manifest": digest, "manifest_bytes": bytes, "layers": {name: digest}}."""
    d = Path(directory)
    blobs = d / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def put(data: bytes) -> str:
        dg = digest_of(data)
        (blobs / dg.split(":")[1]).write_bytes(data)
        return dg
    put(b"{}")
    layers, digests = [], {}
    for name, data in files.items():
        digests[name] = put(data)
        layers.append((media_type, digests[name], len(data), {"org.opencontainers.image.title": name}))
    m = Registry.manifest_for(layers, artifact_type=artifact_type)
    raw = json.dumps(m, separators=(",", ":")).encode()
    md = put(raw)
    (d / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX,
             "manifests": [{"mediaType": OCI_MANIFEST, "digest": md, "size": len(raw),
                            "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    (d / "index.json").write_text(json.dumps(index))
    return {"manifest": md, "manifest_bytes": raw, "layers": digests}


# ------------------------------------------------------------ harness glue

_count = 0


def start_registry(t, **kw) -> Registry:
    """Start a Registry in the test's directory; it is stopped when the test ends."""
    global _count
    _count += 1
    reg = Registry(t.tmp / (".registry%d" % _count), **kw)
    reg.start()
    t._cleanups.append(reg.stop)
    return reg


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="Run a private docker-registry on 127.0.0.1.")
    ap.add_argument("--no-tls", action="store_true")
    ap.add_argument("--auth", choices=["htpasswd", "token"])
    ap.add_argument("--redirect-blobs", action="store_true")
    a = ap.parse_args()
    with Registry(tls=not a.no_tls, auth=a.auth, redirect_blobs=a.redirect_blobs) as reg:
        print("registry:", reg.url("/v2/"), "users:", reg.users)
        if reg.tls:
            print("CA:", reg.cacert, " skopeo --cert-dir", reg.cert_dir)
        if reg.token_server:
            print("token realm:", reg.token_realm)
        if reg.cdn:
            print("cdn:", reg.cdn.url("/"))
        print("Ctrl-C to stop", flush=True)
        try:
            while reg.running:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
