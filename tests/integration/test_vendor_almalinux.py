# SPDX-License-Identifier: MIT
"""almalinux: repository listings, dated GenericCloud builds, GNU CHECKSUM."""

from harness import check, eq
from vendor_mirror import check_fetch_then_mismatch, check_malformed_root_index, resolve_json, serve

V = "almalinux"


def _mirror(t):
    return serve(t, V)


def _resolve(t, args, *extra):
    return resolve_json(t, V, args, *extra)


def test_almalinux_tokens(t):
    m, ng, args = _mirror(t)
    j = _resolve(t, args)
    eq((j["release"], j["series"], j["version"]), ("latest", "10", "10.2-20260526.0"), "latest")
    eq(j["file_name"], "AlmaLinux-10-GenericCloud-10.2-20260526.0.x86_64.qcow2", "dated GenericCloud, not ext4")
    eq(j["url"], ng.url("/almalinux/repo/10/cloud/x86_64/images/" + j["file_name"]), "URL")
    eq(j["sums_url"], ng.url("/almalinux/repo/10/cloud/x86_64/images/CHECKSUM"), "sums URL")
    eq(j["verifier"], "sums", "verifier")
    for token, name in (("10", "AlmaLinux-10-GenericCloud-10.2-20260526.0.x86_64.qcow2"),
                        ("10.1", "AlmaLinux-10-GenericCloud-10.1-20251125.0.x86_64.qcow2"),
                        ("9", "AlmaLinux-9-GenericCloud-9.8-20260526.x86_64.qcow2"),
                        ("9.6", "AlmaLinux-9-GenericCloud-9.6-20250522.x86_64.qcow2"),
                        ("8", "AlmaLinux-8-GenericCloud-8.10-20250101.x86_64.qcow2"),
                        ("8.10", "AlmaLinux-8-GenericCloud-8.10-20250101.x86_64.qcow2")):
        eq(_resolve(t, args, token)["file_name"], name, "token " + token)
    eq(_resolve(t, args, "--arch", "aarch64")["file_name"], "AlmaLinux-10-GenericCloud-10.2-20260526.0.aarch64.qcow2",
       "aarch64")


def test_almalinux_unknown_and_malformed(t):
    m, ng, args = _mirror(t)
    check_malformed_root_index(t, V, m.root / V / "repo" / "index.html", args)
    r = t.run("resolve", V, "11", *args).expect_rc(5)
    check("10" in r.stderr and "9.6" in r.stderr, "lists releases: %r" % r.stderr)
    t.run("resolve", V, "9", "--arch", "aarch64", *args).expect_rc(5)
    # An images listing without the dated image.
    d = m.root / V / "repo" / "10.2" / "cloud" / "x86_64" / "images"
    (d / "AlmaLinux-10-GenericCloud-10.2-20260526.0.x86_64.qcow2").unlink()
    (d / "AlmaLinux-10-GenericCloud-10.2-20260410.0.x86_64.qcow2").unlink()
    r = t.run("resolve", V, *args).expect_rc(5)
    check("images" in r.stderr, "names the directory: %r" % r.stderr)


def test_almalinux_fetch_and_mismatch(t):
    m, ng, args = _mirror(t)
    d = m.root / V / "repo" / "9.6" / "cloud" / "x86_64" / "images"
    check_fetch_then_mismatch(t, m, V, args, [], d / "CHECKSUM",
                              "%s  AlmaLinux-9-GenericCloud-9.6-20250522.x86_64.qcow2\n" % ("0" * 64), "9.6")
