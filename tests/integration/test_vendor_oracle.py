# SPDX-License-Identifier: MIT
"""oracle: template JSON with inline sha256, served by nginx as a mirror."""

from harness import check, eq, listing
from vendor_mirror import AUTOINDEX, VendorMirror


def _mirror(t):
    m = VendorMirror(t.tmp / "mirror", ["oracle"])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    return m, ng, m.mirror_args(ng)


def _resolve(t, args, *extra):
    return t.run("resolve", "oracle", *extra, "--json", *args).ok().json()


def test_oracle_tokens(t):
    m, ng, args = _mirror(t)
    j = _resolve(t, args)
    eq((j["release"], j["series"], j["version"], j["arch"]), ("latest", "10", "10.1", "x86_64"), "latest")
    eq(j["file_name"], "OL10U1_x86_64-kvm-b22.qcow2", "kvm image")
    eq(j["url"], ng.url("/oracle/yum/templates/OracleLinux/OL10/u1/x86_64/" + j["file_name"]), "image URL")
    eq((j["verifier"], j["format"], j["os"]), ("pinned", "qcow2", "linux"), "verifier, format, os")
    check(len(j["sha256"]) == 64 and len(j["uuid"]) == 36, "sha256 and uuid from the template")
    for token, version in (("8", "8.10"), ("9", "9.6"), ("10", "10.1"), ("ol9", "9.6")):
        j = _resolve(t, args, token)
        eq((j["release"], j["version"]), (token, version), "token " + token)
    j = _resolve(t, args, "--arch", "aarch64")
    eq((j["version"], j["file_name"]), ("9.6", "OL9U6_aarch64-kvm-cloud-b265.qcow2"),
       "aarch64: newest major with a template, the -cloud image")
    eq(j["sha256"], j["sha256"].lower(), "digest lowercased")


def test_oracle_unknown_release_and_arch(t):
    m, ng, args = _mirror(t)
    for bad in ("7", "11", "9.6", "x"):
        r = t.run("resolve", "oracle", bad, *args).expect_rc(5)
        check("10, 9, 8" in r.stderr, "lists the majors that exist: %r" % r.stderr)
    r = t.run("resolve", "oracle", "10", "--arch", "aarch64", *args).expect_rc(5)
    check("9, 8" in r.stderr and "10," not in r.stderr, "lists the aarch64 majors: %r" % r.stderr)


def test_oracle_landing_page_fallback(t):
    m, ng, args = _mirror(t)
    want = {tok: _resolve(t, args, tok) for tok in ("latest", "9")}
    want_arm = _resolve(t, args, "--arch", "aarch64")
    top = m.root / "oracle" / "yum" / "templates" / "OracleLinux"
    for tpl in top.glob("*.json"):
        tpl.unlink()
    for tok, j in want.items():
        got = _resolve(t, args, tok)
        eq((got["version"], got["url"], got["sha256"]), (j["version"], j["url"], j["sha256"]),
           "same image from the landing page for " + tok)
    got = _resolve(t, args, "--arch", "aarch64")
    eq((got["file_name"], got["sha256"]), (want_arm["file_name"], want_arm["sha256"]), "aarch64 -cloud from the page")
    t.run("resolve", "oracle", "11", *args).expect_rc(5)
    page = m.root / "oracle" / "yum" / "oracle-linux-templates.html"
    page.write_text("<html>maintenance</html>")
    r = t.run("resolve", "oracle", *args).expect_rc(6)
    check("oracle-linux-templates.html" in r.stderr, "message names the page: %r" % r.stderr)


def test_oracle_malformed_template(t):
    m, ng, args = _mirror(t)
    (m.root / "oracle" / "yum" / "oracle-linux-templates.html").unlink()
    tpl = m.root / "oracle" / "yum" / "templates" / "OracleLinux" / "ol10-template.json"
    text = tpl.read_text()
    for bad in (text[: len(text) // 2], "[]", text.replace('"base_url": "/', '"base_url": "http://evil/'),
                text.replace('"kvm"', '"kvm_old"'), ""):
        tpl.write_text(bad)
        r = t.run("resolve", "oracle", *args).expect_rc(6)
        check("ol10-template.json" in r.stderr, "message names the template: %r" % r.stderr)


def test_oracle_fetch_and_mismatch(t):
    m, ng, args = _mirror(t)
    out = t.dir("out")
    j = t.run("fetch", "oracle", "9", "-o", out, "--cache-dir", t.dir("cache"), "--json", *args,
              timeout=120).ok().json()
    name = "oracle-9-9.6.x86_64.raw"
    eq(j["path"], str(out / name), "output path")
    eq((out / name).read_bytes(), m.images.raw.read_bytes(), "raw output is the image's disk")
    tpl = m.root / "oracle" / "yum" / "templates" / "OracleLinux" / "ol8-template.json"
    import json
    doc = json.loads(tpl.read_text())
    doc["kvm"]["sha256"] = "0" * 64
    tpl.write_text(json.dumps(doc))
    out2 = t.dir("out2")
    t.run("fetch", "oracle", "8", "-o", out2, "--cache-dir", t.dir("cache2"), *args, timeout=60).expect_rc(3)
    eq(listing(out2), set(), "nothing written after a mismatch")
