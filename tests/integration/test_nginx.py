# SPDX-License-Identifier: MIT
"""imgfetch against a real nginx: verification modes, errors, redirects, TLS, CLI basics."""

import re

from harness import MiB, check, check_content, check_result, eq, listing, sha256, sha512

NAME = "disk.img"


def _site(t, size=2 * MiB, tls=False, name=NAME):
    """Document root with one random file; returns (root, data, nginx, out_dir)."""
    root = t.dir("www")
    data = t.make_file(root / name, size)
    ng = t.nginx(root, tls=tls)
    return root, data, ng, t.dir("out")


def _nothing_written(out, before, what=""):
    after = listing(out)
    check(after == before, "%sdirectory changed: new entries %s" % (what + ": " if what else "", sorted(after - before)))


# ----------------------------------------------------------- pinned digests

def test_pinned_sha256_json(t):
    root, data, ng, out = _site(t)
    dest = out / NAME
    r = t.run("get", ng.url("/" + NAME), "-o", dest, "--sha256", sha256(data), "--json").ok()
    check_result(r.json(), data=data, path=dest, url=ng.url("/" + NAME), verifier="pinned", verified=True,
                 attempts=1, resumed=0, from_cache=False)
    eq(listing(out), {NAME}, "output directory entries")
    eq(ng.count("/" + NAME), 1, "GET requests for the file")


def test_pinned_sha512(t):
    root, data, ng, out = _site(t)
    dest = out / NAME
    r = t.run("get", ng.url("/" + NAME), "-o", dest, "--sha512", sha512(data), "--json").ok()
    check_result(r.json(), data=data, path=dest, verifier="pinned", attempts=1, resumed=0, sha512_expected=True)


def test_wrong_sha256_exit3(t):
    root, data, ng, out = _site(t)
    (out / "unrelated.txt").write_text("keep me\n")
    before = listing(out)
    wrong = sha256(data + b"x")
    r = t.run("get", ng.url("/" + NAME), "-o", out / NAME, "--sha256", wrong, "--json")
    r.expect_rc(3, "digest mismatch")
    check(not (out / NAME).exists(), "destination exists after a failed verification")
    _nothing_written(out, before)
    eq((out / "unrelated.txt").read_text(), "keep me\n", "unrelated file")
    check(r.stderr.strip() != "", "no error message on stderr")


def test_default_output_name(t):
    root, data, ng, out = _site(t)
    r = t.run("get", ng.url("/" + NAME), "--sha256", sha256(data), "--json", cwd=out).ok()
    check_content(out / NAME, data, "file in the working directory")
    eq(listing(out), {NAME}, "working directory entries")
    check_result(r.json(), data=data, path=out / NAME, verifier="pinned", cwd=out)


# ----------------------------------------------------------------- sums

def _sums_site(t, sums_text, sums_name="SHA256SUMS", size=1 * MiB):
    root, data, ng, out = _site(t, size=size)
    text = sums_text(data) if callable(sums_text) else sums_text
    (root / sums_name).write_text(text) if isinstance(text, str) else (root / sums_name).write_bytes(text)
    return root, data, ng, out


def test_sums_gnu(t):
    other = sha256(b"other")
    root, data, ng, out = _sums_site(t, lambda d: "# checksums\n%s  other.img\n%s  %s\n%s  %s.sig\n"
                                     % (other, sha256(d), NAME, other, NAME))
    dest = out / NAME
    r = t.run("get", ng.url("/" + NAME), "-o", dest, "--sums", ng.url("/SHA256SUMS"), "--json").ok()
    check_result(r.json(), data=data, path=dest, verifier="sums", verified=True, attempts=1)
    eq(ng.count("/SHA256SUMS"), 1, "GET requests for the sums file")


def test_sums_gnu_binary_marker_crlf(t):
    root, data, ng, out = _sums_site(t, lambda d: "%s *%s\r\n%s *x.iso\r\n" % (sha256(d), NAME, sha256(b"x")))
    dest = out / NAME
    r = t.run("get", ng.url("/" + NAME), "-o", dest, "--sums", ng.url("/SHA256SUMS"), "--json").ok()
    check_result(r.json(), data=data, path=dest, verifier="sums")


def test_sums_bsd(t):
    root, data, ng, out = _sums_site(t, lambda d: "SHA256 (other.img) = %s\nSHA256 (%s) = %s\n"
                                     % (sha256(b"o"), NAME, sha256(d)), sums_name="CHECKSUM")
    dest = out / NAME
    r = t.run("get", ng.url("/" + NAME), "-o", dest, "--sums", ng.url("/CHECKSUM"), "--json").ok()
    check_result(r.json(), data=data, path=dest, verifier="sums")


def test_sums_sha512_entry(t):
    root, data, ng, out = _sums_site(t, lambda d: "%s  %s\n" % (sha512(d), NAME), sums_name="SHA512SUMS")
    dest = out / NAME
    r = t.run("get", ng.url("/" + NAME), "-o", dest, "--sums", ng.url("/SHA512SUMS"), "--json").ok()
    check_result(r.json(), data=data, path=dest, verifier="sums", sha512_expected=True)


def test_sums_wrong_digest_exit3(t):
    root, data, ng, out = _sums_site(t, lambda d: "%s  %s\n" % (sha256(d + b"!"), NAME))
    before = listing(out)
    r = t.run("get", ng.url("/" + NAME), "-o", out / NAME, "--sums", ng.url("/SHA256SUMS"))
    r.expect_rc(3, "sums digest mismatch")
    _nothing_written(out, before)


def test_sums_missing_entry_exit3(t):
    root, data, ng, out = _sums_site(t, lambda d: "%s  other.img\n%s  %s.bak\n" % (sha256(d), sha256(d), NAME))
    before = listing(out)
    r = t.run("get", ng.url("/" + NAME), "-o", out / NAME, "--sums", ng.url("/SHA256SUMS"))
    r.expect_rc(3, "no entry for the file in the sums file")
    _nothing_written(out, before)
    check(NAME in r.stderr, "error message does not name the missing entry %r" % NAME)


def test_sums_over_1mib_rejected(t):
    def big(d):
        lines = ["%064x  filler-%06d.img\n" % (i * 7919, i) for i in range(16000)]  # ~1.3 MB
        lines.append("%s  %s\n" % (sha256(d), NAME))
        return "".join(lines)
    root, data, ng, out = _sums_site(t, big)
    check((root / "SHA256SUMS").stat().st_size > 1024 * 1024, "test sums file is not over 1 MiB")
    before = listing(out)
    r = t.run("get", ng.url("/" + NAME), "-o", out / NAME, "--sums", ng.url("/SHA256SUMS"))
    check(r.rc in (3, 4), "expected exit 3 or 4 for an oversized sums file, got %s" % r.rc)
    _nothing_written(out, before)
    check(re.search(r"too (large|big)|limit|exceed|cap|maximum|\bmax\b|1 ?MiB|1048576", r.stderr, re.I),
          "error message does not mention the size cap")


def test_sums_file_404(t):
    root, data, ng, out = _site(t)
    before = listing(out)
    r = t.run("get", ng.url("/" + NAME), "-o", out / NAME, "--sums", ng.url("/NOSUCHSUMS"))
    check(r.rc in (3, 4, 5), "expected a verification/network/not-found exit code, got %s" % r.rc)
    _nothing_written(out, before)


# --------------------------------------------------------------- sidecar

def test_sidecar_sha256(t):
    root, data, ng, out = _site(t)
    (root / (NAME + ".sha256")).write_text("%s  %s\n" % (sha256(data), NAME))
    dest = out / NAME
    r = t.run("get", ng.url("/" + NAME), "-o", dest, "--sidecar", "--json").ok()
    check_result(r.json(), data=data, path=dest, verifier="sidecar", verified=True)
    eq(ng.count("/" + NAME + ".sha256"), 1, "GET requests for the .sha256 sidecar")
    eq(ng.count("/" + NAME + ".sha512"), 0, "GET requests for the .sha512 sidecar")


def test_sidecar_sha512_only(t):
    root, data, ng, out = _site(t)
    (root / (NAME + ".sha512")).write_text(sha512(data) + "\n")
    dest = out / NAME
    r = t.run("get", ng.url("/" + NAME), "-o", dest, "--sidecar", "--json").ok()
    check_result(r.json(), data=data, path=dest, verifier="sidecar", sha512_expected=True)
    s256 = ng.requests("/" + NAME + ".sha256", "GET")
    eq([e.status for e in s256], [404], "statuses of the .sha256 sidecar requests")
    eq(ng.count("/" + NAME + ".sha512"), 1, "GET requests for the .sha512 sidecar")


def test_sidecar_wrong_digest_exit3(t):
    root, data, ng, out = _site(t)
    (root / (NAME + ".sha256")).write_text(sha256(data[:-1]) + "\n")
    before = listing(out)
    t.run("get", ng.url("/" + NAME), "-o", out / NAME, "--sidecar").expect_rc(3, "sidecar mismatch")
    _nothing_written(out, before)


def test_sidecar_missing_exit3(t):
    root, data, ng, out = _site(t)
    before = listing(out)
    r = t.run("get", ng.url("/" + NAME), "-o", out / NAME, "--sidecar")
    r.expect_rc(3, "no sidecar")
    _nothing_written(out, before)
    eq(ng.count("/" + NAME + ".sha256"), 1, "GET requests for the .sha256 sidecar")
    eq(ng.count("/" + NAME + ".sha512"), 1, "GET requests for the .sha512 sidecar")


# ------------------------------------------------------- HTTP errors

def test_not_found_404_single_request(t):
    root, data, ng, out = _site(t)
    before = listing(out)
    r = t.run("get", ng.url("/missing.img"), "-o", out / "missing.img", "--sha256", sha256(data))
    r.expect_rc(5, "404")
    log = ng.requests()
    eq([(e.path, e.status) for e in log], [("/missing.img", 404)], "access log (exactly one request)")
    _nothing_written(out, before)


def test_gone_410_exit5(t):
    root, data, ng, out = _site(t)
    before = listing(out)
    t.run("get", ng.url("/gone/" + NAME), "-o", out / NAME, "--sha256", sha256(data)).expect_rc(5, "410")
    eq(len(ng.requests()), 1, "requests in the access log")
    _nothing_written(out, before)


# ------------------------------------------------------------ redirects

def test_redirect_chain_3(t):
    root, data, ng, out = _site(t)
    dest = out / NAME
    r = t.run("get", ng.url("/redir3/" + NAME), "-o", dest, "--sha256", sha256(data), "--json").ok()
    check_result(r.json(), data=data, path=dest, url=ng.url("/" + NAME), verifier="pinned", attempts=1)
    eq([(e.path, e.status) for e in ng.requests()],
       [("/redir3/" + NAME, 302), ("/redir2/" + NAME, 302), ("/redir1/" + NAME, 302), ("/" + NAME, 200)],
       "access log")


def test_redirect_chain_10_allowed(t):
    root, data, ng, out = _site(t, size=64 * 1024)
    dest = out / NAME
    r = t.run("get", ng.url("/redir10/" + NAME), "-o", dest, "--sha256", sha256(data), "--json").ok()
    check_result(r.json(), data=data, path=dest, url=ng.url("/" + NAME))


def test_redirect_chain_11_exit4(t):
    root, data, ng, out = _site(t, size=64 * 1024)
    before = listing(out)
    r = t.run("get", ng.url("/redir11/" + NAME), "-o", out / NAME, "--sha256", sha256(data), "--retry-delay", "50")
    r.expect_rc(4, "too many redirects")
    _nothing_written(out, before)
    eq(ng.count("/" + NAME), 0, "requests for the final file (the 11th redirect must not be followed)")


# ------------------------------------------------------------------ TLS

def test_https_with_cacert(t):
    root, data, ng, out = _site(t, tls=True)
    dest = out / NAME
    r = t.run("get", ng.https_url("/" + NAME), "-o", dest, "--sha256", sha256(data), "--cacert", ng.cacert,
              "--json").ok()
    check_result(r.json(), data=data, path=dest, url=ng.https_url("/" + NAME), verifier="pinned", attempts=1)
    eq(ng.count("/" + NAME, scheme="https"), 1, "HTTPS requests for the file")


def test_https_without_cacert_exit4(t):
    root, data, ng, out = _site(t, tls=True, size=64 * 1024)
    before = listing(out)
    r = t.run("get", ng.https_url("/" + NAME), "-o", out / NAME, "--sha256", sha256(data), "--retry-delay", "50")
    r.expect_rc(4, "untrusted certificate")
    _nothing_written(out, before)
    eq(ng.count("/" + NAME), 0, "requests that got through the TLS handshake")


def test_https_to_http_redirect_refused(t):
    root, data, ng, out = _site(t, tls=True, size=64 * 1024)
    before = listing(out)
    r = t.run("get", ng.https_url("/to-http/" + NAME), "-o", out / NAME, "--sha256", sha256(data),
              "--cacert", ng.cacert, "--retry-delay", "50")
    r.expect_rc(4, "https->http redirect")
    _nothing_written(out, before)
    check(ng.count("/to-http/" + NAME, scheme="https") >= 1, "the HTTPS URL was never requested")
    eq(ng.count(scheme="http"), 0, "requests on the plain-HTTP server")


# --------------------------------------------------------- misc behaviour

def test_user_agent(t):
    root, data, ng, out = _site(t, size=64 * 1024)
    (root / (NAME + ".sha256")).write_text(sha256(data) + "\n")
    t.run("get", ng.url("/" + NAME), "-o", out / NAME, "--sidecar").ok()
    log = ng.requests()
    check(len(log) >= 2, "expected requests for the sidecar and the file, log has %d" % len(log))
    for e in log:
        check(e.user_agent and e.user_agent.startswith("imgfetch/"),
              "User-Agent of %s is %r, expected imgfetch/<version>" % (e.uri, e.user_agent))
    m = re.search(r"\d+\.\d+(\.\d+)?", t.run("--version").stdout)
    if m:
        eq(log[0].user_agent, "imgfetch/" + m.group(0), "User-Agent vs --version")


def test_no_verifier_exit2(t):
    root, data, ng, out = _site(t, size=64 * 1024)
    before = listing(out)
    r = t.run("get", ng.url("/" + NAME), "-o", out / NAME)
    r.expect_rc(2, "no verifier")
    _nothing_written(out, before)
    eq(len(ng.requests()), 0, "requests made although the download is refused")
    check(r.stderr.strip(), "no explanation on stderr")


def test_insecure_no_verify(t):
    root, data, ng, out = _site(t, size=512 * 1024)
    dest = out / NAME
    r = t.run("get", ng.url("/" + NAME), "-o", dest, "--insecure-no-verify", "--json").ok()
    check_result(r.json(), data=data, path=dest, verifier="none", verified=False, attempts=1)
    check(re.search(r"warn", r.stderr, re.I), "no warning on stderr for an unverified download")


def test_help_and_version(t):
    r = t.run("--help").expect_rc(0, "--help")
    check("get" in r.stdout, "--help output (stdout) does not mention the get command")
    r = t.run("--version").expect_rc(0, "--version")
    check(re.search(r"\d+\.\d+", r.stdout), "--version prints no version number on stdout: %r" % r.stdout)
    r = t.run("get", "--help").expect_rc(0, "get --help")
    for opt in ("--sha256", "--sums", "--sidecar", "--cache", "-o"):
        check(opt in r.stdout, "get --help does not mention %s" % opt)


def test_help_text_has_no_printf_escapes(t):
    for cmd in (("--help",), ("get", "--help")):
        text = t.run(*cmd).stdout
        check("%%" not in text, "%s output contains a literal '%%%%' (printf escape printed verbatim): %r"
              % (" ".join(cmd), [x for x in text.splitlines() if "%%" in x]))


def test_unknown_option_exit2(t):
    t.run("get", "http://127.0.0.1:9/x.img", "--sha256", "0" * 64, "--no-such-option").expect_rc(2, "unknown option")
    t.run("--no-such-option").expect_rc(2, "unknown global option")


def test_usage_errors_exit2(t):
    t.run("get").expect_rc(2, "get without URL")
    t.run("frobnicate").expect_rc(2, "unknown command")
    t.run("get", "http://127.0.0.1:9/x.img", "--sha256", "0" * 64, "--sidecar").expect_rc(2, "two verifiers")
    t.run("get", "http://127.0.0.1:9/x.img", "--sha256", "xyz").expect_rc(2, "malformed --sha256")
    t.run("get", "http://127.0.0.1:9/x.img", "--sha256", "0" * 64, "--retries", "abc").expect_rc(2, "bad --retries")


def test_plain_output_is_path(t):
    root, data, ng, out = _site(t, size=128 * 1024)
    dest = out / NAME
    r = t.run("get", ng.url("/" + NAME), "-o", dest, "--sha256", sha256(data)).ok()
    eq(r.stdout.strip(), str(dest), "stdout without --json (the final path)")
    check_content(dest, data)


def test_quiet_success_is_silent(t):
    root, data, ng, out = _site(t, size=128 * 1024)
    r = t.run("get", ng.url("/" + NAME), "-o", out / NAME, "--sha256", sha256(data), "-q", "--json").ok()
    eq(r.stderr, "", "stderr with --quiet after a clean download")
    check_result(r.json(), data=data, path=out / NAME)
    r = t.run("get", ng.url("/" + NAME), "-o", out / "x", "--insecure-no-verify", "--quiet").ok()
    check(re.search(r"warn", r.stderr, re.I), "--quiet must not hide the unverified-download warning")
