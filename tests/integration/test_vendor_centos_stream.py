# SPDX-License-Identifier: MIT
"""centos-stream: listings, newest build that CHECKSUM already lists."""

from harness import check, eq
from vendor_mirror import check_fetch_then_mismatch, check_malformed_root_index, resolve_json, serve

V = "centos-stream"


def _mirror(t):
    return serve(t, V)


def _resolve(t, args, *extra):
    return resolve_json(t, V, args, *extra)


def test_centos_stream_tokens(t):
    m, ng, args = _mirror(t)
    j = _resolve(t, args)
    eq((j["release"], j["series"], j["version"]), ("latest", "10", "10-20260720.0"), "latest")
    eq(j["file_name"], m.facts[V]["latest_file"], "newest build with a CHECKSUM line")
    eq(j["url"], ng.url("/centos-stream/cloud/10-stream/x86_64/images/" + j["file_name"]), "URL")
    eq(j["sums_url"], ng.url("/centos-stream/cloud/10-stream/x86_64/images/CHECKSUM"), "sums URL")
    eq(j["verifier"], "sums", "verifier")
    for token, name in (("10", m.facts[V]["latest_file"]), ("10-stream", m.facts[V]["latest_file"]),
                        ("9", "CentOS-Stream-GenericCloud-9-20260715.0.x86_64.qcow2")):
        eq(_resolve(t, args, token)["file_name"], name, "token " + token)
    eq(_resolve(t, args, "--arch", "aarch64")["file_name"], "CentOS-Stream-GenericCloud-10-20260720.0.aarch64.qcow2",
       "aarch64")


def test_centos_stream_unknown_and_malformed(t):
    m, ng, args = _mirror(t)
    check_malformed_root_index(t, V, m.root / V / "cloud" / "index.html", args)
    r = t.run("resolve", V, "11", *args).expect_rc(5)
    check("10" in r.stderr and "9" in r.stderr, "lists streams: %r" % r.stderr)
    t.run("resolve", V, "9", "--arch", "aarch64", *args).expect_rc(5)
    t.run("resolve", V, "8", *args).expect_rc(5)
    d = m.root / V / "cloud" / "10-stream" / "x86_64" / "images"
    (d / "CHECKSUM").write_text("")
    t.run("resolve", V, *args).expect_rc(5)


def test_centos_stream_fetch_and_mismatch(t):
    m, ng, args = _mirror(t)
    d = m.root / V / "cloud" / "9-stream" / "x86_64" / "images"
    n = "CentOS-Stream-GenericCloud-9-20260715.0.x86_64.qcow2"
    check_fetch_then_mismatch(t, m, V, args, [], d / "CHECKSUM",
                              "# %s: 1 bytes\nSHA256 (%s) = %s\n" % (n, n, "0" * 64), "9")
