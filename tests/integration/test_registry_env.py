# SPDX-License-Identifier: MIT
"""The OCI registry test environment itself (registry.py): docker-registry with TLS,
htpasswd and token auth, blob redirects to a CDN. Uses skopeo and urllib only."""

import subprocess
import urllib.parse

from harness import check, eq
from registry import OCI_MANIFEST, digest_of, make_oci_layout, parse_challenge, start_registry

REPO = "test/os"


def _skopeo(t, *args, timeout=60):
    r = subprocess.run(["skopeo", "--insecure-policy", *[str(a) for a in args]], env=t.env, cwd=str(t.tmp),
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    check(r.returncode == 0, "skopeo %s failed (%d):\n%s" % (" ".join(map(str, args)), r.returncode,
                                                            r.stderr.decode(errors="replace")))
    return r.stdout


def test_plain_tls_skopeo_roundtrip(t):
    reg = start_registry(t)
    check(reg.url().startswith("https://127.0.0.1:"), "registry URL: %s" % reg.url())
    files = {"vmlinuz": t.random_bytes(30000), "initrd.img": t.random_bytes(7000)}
    layout = make_oci_layout(t.dir("layout"), files, tag="v1", artifact_type="application/vnd.imgfetch.test.v1")
    _skopeo(t, "copy", "--preserve-digests", *reg.skopeo_tls_args("dest-"),
            "oci:%s:v1" % t.dir("layout"), "docker://" + reg.ref(REPO, "v1"))
    raw = _skopeo(t, "inspect", "--raw", *reg.skopeo_tls_args(), "docker://" + reg.ref(REPO, "v1"))
    eq(raw, layout["manifest_bytes"], "manifest read back by skopeo")
    eq(digest_of(raw), layout["manifest"], "manifest digest")
    # the same through urllib, and the blobs
    m = reg.get_manifest(REPO, "v1", auth=None)
    eq(m.status, 200, "manifest GET")
    eq(m.header("Content-Type"), OCI_MANIFEST, "manifest Content-Type")
    eq(m.header("Docker-Content-Digest"), layout["manifest"], "Docker-Content-Digest")
    for name, data in files.items():
        b = reg.get_blob(REPO, layout["layers"][name], auth=None)
        eq(b.status, 200, "blob GET " + name)
        check(b.body == data, "blob %s differs" % name)
    # a blob pushed by the helper is readable by skopeo's view of the repo (tags)
    reg.push_artifact(REPO, "v2", {"x": b"pushed by urllib"})
    tags = _skopeo(t, "list-tags", *reg.skopeo_tls_args(), "docker://%s/%s" % (reg.host, REPO)).decode()
    check('"v1"' in tags and '"v2"' in tags, "tags: %s" % tags)
    paths = [e.path for e in reg.access_log()]
    check("/v2/%s/manifests/v1" % REPO in paths, "access log lacks the manifest GET: %s" % paths)


def test_htpasswd(t):
    reg = start_registry(t, auth="htpasswd", users={"alice": "secret", "bob": "p@ss:w0rd"})
    r = reg.request("GET", "/v2/", auth=None)
    eq(r.status, 401, "anonymous /v2/")
    scheme, ch = parse_challenge(r.header("WWW-Authenticate"))
    eq(scheme, "basic", "challenge scheme")
    eq(ch.get("realm"), reg.realm, "challenge realm")
    eq(reg.request("GET", "/v2/", auth=("alice", "secret")).status, 200, "alice /v2/")
    eq(reg.request("GET", "/v2/", auth=("bob", "p@ss:w0rd")).status, 200, "bob (':' in password) /v2/")
    eq(reg.request("GET", "/v2/", auth=("alice", "wrong")).status, 401, "wrong password")
    eq(reg.request("GET", "/v2/", auth=("mallory", "secret")).status, 401, "unknown user")
    a = reg.push_artifact(REPO, "v1", {"f": b"data"})
    eq(reg.get_manifest(REPO, "v1", auth=None).status, 401, "anonymous manifest GET")
    raw = _skopeo(t, "inspect", "--raw", "--creds", "alice:secret", *reg.skopeo_tls_args(),
                  "docker://" + reg.ref(REPO, "v1"))
    eq(raw, a["manifest_bytes"], "manifest via skopeo with credentials")


def test_token(t):
    reg = start_registry(t, auth="token", users={"alice": "secret"})
    r = reg.request("GET", "/v2/", auth=None)
    eq(r.status, 401, "anonymous /v2/")
    scheme, ch = parse_challenge(r.header("WWW-Authenticate"))
    eq(scheme, "bearer", "challenge scheme")
    eq(ch.get("realm"), reg.token_realm, "realm")
    eq(ch.get("service"), reg.service, "service")
    a = reg.push_artifact(REPO, "v1", {"f": b"token data"})  # helper tokens are not counted
    eq(reg.tokens_issued, 0, "tokens issued by the token server")

    r = reg.get_manifest(REPO, "v1", auth=None)
    eq(r.status, 401, "anonymous manifest GET")
    scheme, ch = parse_challenge(r.header("WWW-Authenticate"))
    eq((ch.get("realm"), ch.get("service"), ch.get("scope")),
       (reg.token_realm, reg.service, "repository:%s:pull" % REPO), "manifest challenge")

    # wrong credentials: the token server refuses
    q = urllib.parse.urlencode({"service": ch["service"], "scope": ch["scope"]})
    bad = reg.raw_request("GET", ch["realm"] + "?" + q, headers={"Authorization": "Basic YWxpY2U6bm9wZQ=="})
    eq(bad.status, 401, "token request with a wrong password")
    # right credentials: a token the registry accepts
    tok = reg.fetch_token([ch["scope"]], ("alice", "secret"))
    eq(reg.tokens_issued, 1, "tokens issued")
    ok = reg.get_manifest(REPO, "v1", auth="Bearer " + tok)
    eq(ok.status, 200, "manifest GET with the token")
    eq(ok.body, a["manifest_bytes"], "manifest bytes")
    # a pull-only token cannot push
    r = reg.request("POST", "/v2/%s/blobs/uploads/" % REPO, b"", auth="Bearer " + tok)
    eq(r.status, 401, "push with a pull token")
    eq(parse_challenge(r.header("WWW-Authenticate"))[1].get("error"), "insufficient_scope", "error")
    # anonymous token: no access granted (no public repos configured)
    anon = reg.fetch_token([ch["scope"]])
    eq(reg.get_manifest(REPO, "v1", auth="Bearer " + anon).status, 401, "anonymous token")
    # expired tokens (beyond the registry's 60 s leeway) are refused
    reg.expired_first = reg.tokens_issued + 1
    old = reg.fetch_token([ch["scope"]], ("alice", "secret"))
    r = reg.get_manifest(REPO, "v1", auth="Bearer " + old)
    eq(r.status, 401, "expired token from the token server")
    eq(parse_challenge(r.header("WWW-Authenticate"))[1].get("error"), "invalid_token", "error")
    eq(reg.get_manifest(REPO, "v1", auth="Bearer " + reg.mint_token(ch["scope"], ttl=-120)).status, 401,
       "minted expired token")
    eq(reg.get_manifest(REPO, "v1", auth="Bearer " + reg.mint_token(ch["scope"], ttl=30)).status, 200,
       "minted valid token")
    eq(reg.tokens_issued, 3, "tokens issued")
    log = reg.token_log()
    eq([e["status"] for e in log], [401, 200, 200, 200], "token server statuses")
    eq(log[1]["params"]["scope"], ["repository:%s:pull" % REPO], "scope sent")
    check(all("secret" not in str(e) for e in log), "password in the token log")


def test_redirect_blobs(t):
    reg = start_registry(t, auth="token", redirect_blobs=True)
    data = t.random_bytes(100000)
    d = reg.push_blob(REPO, data)
    tok = "Bearer " + reg.mint_token("repository:%s:pull" % REPO)
    r = reg.request("GET", "/v2/%s/blobs/%s" % (REPO, d), auth=tok)
    eq(r.status, 307, "blob GET")
    loc = urllib.parse.urlsplit(r.header("Location"))
    eq((loc.scheme, loc.hostname, loc.port), ("https", "localhost", reg.cdn.port), "redirect target")
    eq(loc.path, reg.blob_path(d), "redirect path")
    h = reg.request("HEAD", "/v2/%s/blobs/%s" % (REPO, d), auth=tok)
    eq(h.status, 307, "blob HEAD")
    reg.push_blob(REPO, b"{}")  # the empty config
    m = reg.push_manifest(REPO, "v1", reg.manifest_for([("application/octet-stream", d, len(data))]))
    eq(reg.get_manifest(REPO, m, auth=tok).status, 200, "manifests are not redirected")

    got = reg.get_blob(REPO, d, auth=tok)  # follows the 307 without the Authorization header
    eq(got.status, 200, "blob via the CDN")
    check(got.body == data, "blob bytes via the CDN differ")
    part = reg.request("GET", "/v2/%s/blobs/%s" % (REPO, d), headers={"Range": "bytes=100-199"}, auth=tok,
                       follow=True)
    eq(part.status, 206, "ranged GET via the CDN")
    check(part.body == data[100:200], "range bytes differ")

    cdn = reg.cdn_log()
    eq([(e["method"], e["path"], e["status"]) for e in cdn],
       [("GET", reg.blob_path(d), 200), ("GET", reg.blob_path(d), 206)], "CDN requests")
    check(all("authorization" not in e["headers"] for e in cdn), "Authorization reached the CDN: %r" % cdn)
    eq(cdn[1]["headers"].get("range"), "bytes=100-199", "Range forwarded to the CDN")
    eq(cdn[0]["headers"].get("host"), "localhost:%d" % reg.cdn.port, "CDN Host header")
    reg_log, _ = reg.logs()
    check(any(e.status == 307 and e.path.endswith(d) for e in reg_log), "registry log lacks the 307")
