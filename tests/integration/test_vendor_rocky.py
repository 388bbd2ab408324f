# SPDX-License-Identifier: MIT
"""rocky: listings, numeric minor order (9.10 > 9.9), BSD CHECKSUM."""

from harness import check, eq
from vendor_mirror import check_fetch_then_mismatch, check_malformed_root_index, resolve_json, serve

V = "rocky"


def _mirror(t):
    return serve(t, V)


def _resolve(t, args, *extra):
    return resolve_json(t, V, args, *extra)


def test_rocky_tokens(t):
    m, ng, args = _mirror(t)
    j = _resolve(t, args)
    eq((j["release"], j["series"], j["version"]), ("latest", "10", "10.1-20251116.0"), "latest")
    eq(j["file_name"], "Rocky-10-GenericCloud-Base-10.1-20251116.0.x86_64.qcow2", "dated Base, not .latest.")
    eq(j["url"], ng.url("/rocky/dl/10/images/x86_64/" + j["file_name"]), "URL")
    eq(j["sums_url"], ng.url("/rocky/dl/10/images/x86_64/CHECKSUM"), "sums URL")
    eq(j["verifier"], "sums", "verifier")
    for token, name in (("9", "Rocky-9-GenericCloud-Base-9.10-20260520.0.x86_64.qcow2"),
                        ("9.10", "Rocky-9-GenericCloud-Base-9.10-20260520.0.x86_64.qcow2"),
                        ("9.9", "Rocky-9-GenericCloud-Base-9.9-20251120.0.x86_64.qcow2"),
                        ("10.1", "Rocky-10-GenericCloud-Base-10.1-20251116.0.x86_64.qcow2")):
        eq(_resolve(t, args, token)["file_name"], name, "token " + token)
    eq(_resolve(t, args, "--arch", "aarch64")["file_name"], "Rocky-10-GenericCloud-Base-10.1-20251116.0.aarch64.qcow2",
       "aarch64")


def test_rocky_unknown_and_malformed(t):
    m, ng, args = _mirror(t)
    check_malformed_root_index(t, V, m.root / V / "dl" / "index.html", args)
    r = t.run("resolve", V, "9.11", *args).expect_rc(5)
    check("9.10" in r.stderr and "9.9" in r.stderr, "lists releases: %r" % r.stderr)
    t.run("resolve", V, "9", "--arch", "aarch64", *args).expect_rc(5)
    d = m.root / V / "dl" / "9.9" / "images" / "x86_64"
    (d / "Rocky-9-GenericCloud-Base-9.9-20251120.0.x86_64.qcow2").unlink()
    t.run("resolve", V, "9.9", *args).expect_rc(5)


def test_rocky_fetch_and_mismatch(t):
    m, ng, args = _mirror(t)
    d = m.root / V / "dl" / "9.9" / "images" / "x86_64"
    n = "Rocky-9-GenericCloud-Base-9.9-20251120.0.x86_64.qcow2"
    check_fetch_then_mismatch(t, m, V, args, ["9"], d / "CHECKSUM",
                              "# %s: 1 bytes\nSHA256 (%s) = %s\n" % (n, n, "0" * 64), "9.9")
