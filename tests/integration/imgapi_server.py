# SPDX-License-Identifier: MIT
"""A loopback stand-in for Triton's Image API (IMGAPI), just the operator
import path imgfetch deliver uses, with the real service's states and error
shapes (restify's {"code", "message"} bodies):

    GET  /images/<uuid>                   GetImage: 200 image | 404 ResourceNotFound
    POST /images/<uuid>?action=import     AdminImportImage: 200 unactivated image |
                                          409 ImageUuidAlreadyExists | 422 InvalidParameter
    PUT  /images/<uuid>/file?compression=&sha1=&size=
                                          AddImageFile: 200 | 404 | 422 ImageFilesImmutable |
                                          400 Upload (sha1 or size of the body differs from
                                          the query, as the real IMGAPI refuses them)
    POST /images/<uuid>?action=activate   ActivateImage: 200 active image | 422
                                          ImageAlreadyActivated | 422 NoActivationNoFile

Every request is recorded (method, path, query, headers of interest, body
length and sha1, the body itself when small, the status answered) so tests
can assert the exact sequence. Behaviours: seed() an image in any state,
fail() a call with a given status, delay() an answer, race_import() to have "someone else"
import the UUID just before our import arrives (so it gets 409).

    with ImgapiServer() as srv:
        srv.url  ->  "http://127.0.0.1:PORT"
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
KEEP_BODY = 1 << 20  # bodies up to this size are kept in the request log


class Request:
    def __init__(self, method, path, query, headers, body_len, body_sha1, body):
        self.method = method
        self.path = path            # without the query
        self.query = query          # {name: value} (last value wins)
        self.headers = headers      # lowercased name -> value, the ones tests look at
        self.body_len = body_len
        self.body_sha1 = body_sha1
        self.body = body            # bytes, or None when larger than KEEP_BODY
        self.status = None          # what the server answered

    @property
    def action(self):
        return self.query.get("action")

    def brief(self):
        """("GET", "/images/U", "import"|None) for sequence assertions."""
        return (self.method, self.path, self.action)

    def __repr__(self):
        q = "&".join("%s=%s" % kv for kv in sorted(self.query.items()))
        return "<%s %s%s%s -> %s (%d bytes)>" % (self.method, self.path, "?" if q else "", q, self.status,
                                                 self.body_len)


class ImgapiServer:
    def __init__(self):
        self.images: dict[str, dict] = {}      # uuid -> manifest as the server holds it
        self.files: dict[str, bytes] = {}      # uuid -> the file's bytes
        self.requests: list[Request] = []
        self._fail: dict[tuple, tuple] = {}    # (method, action or "file") -> (status, code, message)
        self._delay: dict[tuple, float] = {}   # (method, action or "file") -> seconds before answering
        self._race: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._httpd = None
        self._thread = None

    # -- lifecycle
    def start(self) -> "ImgapiServer":
        srv = self

        class Handler(_Handler):
            server_state = srv

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="imgapi", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self._httpd.server_address[1]

    # -- behaviours
    def seed(self, manifest: dict, state: str = "active", file: bytes | None = None) -> None:
        """Puts an image on the server as if imported earlier: `state` as
        given; with `file`, files[0] describes it (sha1, size, gzip)."""
        m = copy.deepcopy(manifest)
        m["state"] = state
        m["files"] = []
        if file is not None:
            m["files"] = [{"sha1": hashlib.sha1(file).hexdigest(), "size": len(file), "compression": "gzip"}]
            self.files[m["uuid"]] = file
        if state != "active":
            m.pop("published_at", None)
        with self._lock:
            self.images[m["uuid"]] = m

    def fail(self, method: str, what: str, status: int = 500, code: str = "InternalError",
             message: str = "internal error") -> None:
        """Answers every `method` request for `what` ("get", "import",
        "activate" or "file") with status and a restify error body."""
        self._fail[(method, what)] = (status, code, message)

    def delay(self, method: str, what: str, seconds: float) -> None:
        """Answers `method` requests for `what` only after `seconds` (a slow
        or hung server)."""
        self._delay[(method, what)] = seconds

    def race_import(self, manifest: dict, state: str = "unactivated", file: bytes | None = None) -> None:
        """When our import arrives, another client has just imported the UUID."""
        self._race[manifest["uuid"]] = {"manifest": manifest, "state": state, "file": file}

    # -- reading the log
    def briefs(self):
        return [r.brief() for r in self.requests]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: ImgapiServer = None  # set by the subclass made in start()
    server_version = "IMGAPI-stand-in/1.0"

    def log_message(self, fmt, *args):  # quiet
        pass

    # -- helpers
    def _send(self, status: int, obj) -> None:
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self._rec.status = status

    def _error(self, status: int, code: str, message: str) -> None:
        self._send(status, {"code": code, "message": message})

    def _read_body(self):
        n = self.headers.get("Content-Length")
        if n is None:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                return None  # the stand-in, like a strict proxy, wants a length
            return b""
        n = int(n)
        h = hashlib.sha1()
        kept = bytearray()
        left = n
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 16))
            if not chunk:
                break
            h.update(chunk)
            if len(kept) < KEEP_BODY:
                kept += chunk
            left -= len(chunk)
        data = bytes(kept) if n <= KEEP_BODY else None
        return (n - left, h.hexdigest(), data)

    def _handle(self, method: str) -> None:
        st = self.server_state
        u = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()
                   if k.lower() in ("content-type", "content-length", "user-agent", "expect", "accept")}
        body = self._read_body() if method in ("POST", "PUT") else (0, hashlib.sha1(b"").hexdigest(), b"")
        if body is None:
            self._rec = Request(method, u.path, query, headers, 0, "", None)
            with st._lock:
                st.requests.append(self._rec)
            self._error(411, "BadRequestError", "Content-Length required")
            return
        blen, bsha1, bdata = body
        self._rec = Request(method, u.path, query, headers, blen, bsha1, bdata)
        with st._lock:
            st.requests.append(self._rec)

        m = re.match(r"^/images/([^/]+)(/file)?$", u.path)
        if not m:
            return self._error(404, "ResourceNotFound", "%s does not exist" % u.path)
        uuid, is_file = m.group(1), bool(m.group(2))
        if not UUID_RE.match(uuid):
            return self._error(404, "ResourceNotFound", "%s does not exist" % u.path)
        what = "file" if is_file else (query.get("action") or "get")
        if (method, what) in st._delay:
            time.sleep(st._delay[(method, what)])
        injected = st._fail.get((method, what))
        if injected:
            return self._error(*injected)

        with st._lock:
            if method == "GET" and not is_file and "action" not in query:
                img = st.images.get(uuid)
                if img is None:
                    return self._error(404, "ResourceNotFound", "image %s not found" % uuid)
                return self._send(200, img)
            if method == "POST" and not is_file and what == "import":
                return self._import(uuid, bdata)
            if method == "PUT" and is_file:
                return self._add_file(uuid, query, blen, bsha1, bdata)
            if method == "POST" and not is_file and what == "activate":
                return self._activate(uuid)
        return self._error(405, "BadMethod", "%s is not allowed on %s" % (method, u.path))

    # -- the endpoints (called with the lock held)
    def _import(self, uuid, data):
        st = self.server_state
        race = st._race.pop(uuid, None)
        if race:
            m = copy.deepcopy(race["manifest"])
            m["state"] = race["state"]
            m["files"] = []
            if race["file"] is not None:
                m["files"] = [{"sha1": hashlib.sha1(race["file"]).hexdigest(), "size": len(race["file"]),
                               "compression": "gzip"}]
                st.files[uuid] = race["file"]
            st.images[uuid] = m
        if uuid in st.images:
            return self._error(409, "ImageUuidAlreadyExists", "image uuid \"%s\" already exists" % uuid)
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            return self._error(400, "InvalidHeader", "Content-Type must be application/json")
        try:
            manifest = json.loads(data or b"")
        except ValueError as e:
            return self._error(400, "BadRequestError", "invalid JSON: %s" % e)
        if not isinstance(manifest, dict):
            return self._error(422, "ValidationFailed", "the manifest is not an object")
        if manifest.get("uuid") != uuid:
            return self._error(422, "InvalidParameter", "uuid in the manifest (%r) is not the one in the URL"
                               % manifest.get("uuid"))
        for f in ("name", "version", "type", "os", "owner"):
            if not manifest.get(f):
                return self._error(422, "ValidationFailed", "missing manifest field %r" % f)
        # An import creates an unactivated image (keeping uuid and
        # published_at); the file comes with AddImageFile.
        img = copy.deepcopy(manifest)
        img["state"] = "unactivated"
        img["files"] = []
        self.server_state.images[uuid] = img
        return self._send(200, img)

    def _add_file(self, uuid, query, blen, bsha1, data):
        st = self.server_state
        img = st.images.get(uuid)
        if img is None:
            return self._error(404, "ResourceNotFound", "image %s not found" % uuid)
        if img["state"] != "unactivated":
            return self._error(422, "ImageFilesImmutable", "cannot modify files on activated image %s" % uuid)
        comp = query.get("compression")
        if comp not in ("none", "gzip", "bzip2", "xz"):
            return self._error(422, "InvalidParameter", "invalid compression %r" % comp)
        if "sha1" in query and query["sha1"] != bsha1:
            return self._error(400, "Upload", "checksum error: sha1 of the uploaded file is %s, not %s"
                               % (bsha1, query["sha1"]))
        if "size" in query and int(query["size"]) != blen:
            return self._error(400, "Upload", "size error: %d bytes uploaded, not %s" % (blen, query["size"]))
        img["files"] = [{"sha1": bsha1, "size": blen, "compression": comp}]
        if data is not None:
            st.files[uuid] = data
        return self._send(200, img)

    def _activate(self, uuid):
        img = self.server_state.images.get(uuid)
        if img is None:
            return self._error(404, "ResourceNotFound", "image %s not found" % uuid)
        if img["state"] != "unactivated":
            return self._error(422, "ImageAlreadyActivated", "image %s is already activated" % uuid)
        if not img.get("files"):
            return self._error(422, "NoActivationNoFile", "image %s must have a file to be activated" % uuid)
        img["state"] = "active"
        img.setdefault("published_at", datetime.datetime.now(datetime.timezone.utc)
                       .strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")
        return self._send(200, img)

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")
