# SPDX-License-Identifier: MIT
"""imgfetch against the misbehaving fault server: resume, retries, truncation, stalls."""

import re
import time

from harness import MiB, check, check_result, eq, listing, sha256

NAME = "disk.img"
FAST = ("--retry-delay", "50")


def _setup(t, size=2 * MiB):
    fs = t.faultserver()
    data = t.random_bytes(size)
    return fs, data, t.dir("out")


def _get(t, url, dest, data, *extra, timeout=30, env=None):
    return t.run("get", url, "-o", dest, "--sha256", sha256(data), "--json", *extra, timeout=timeout, env=env)


def _range_start(req):
    m = re.fullmatch(r"\s*bytes=(\d+)-\s*", req.range or "")
    check(m, "request %d has no open-ended Range header (bytes=N-): Range=%r" % (req.n, req.range))
    return int(m.group(1))


def _requests(fs, path):
    reqs = fs.requests(path, "GET")
    for i, r in enumerate(reqs):
        r.n = i + 1
    return reqs


# ---------------------------------------------------------------- resume

def test_drop_resume_with_etag(t):
    fs, data, out = _setup(t, 4 * MiB)
    n = 1536 * 1024
    url = fs.serve("/drop/" + NAME, data, drop_after=n)
    dest = out / NAME
    r = _get(t, url, dest, data, *FAST).ok()
    reqs = _requests(fs, "/drop/" + NAME)
    eq(len(reqs), 2, "requests")
    eq(reqs[0].range, None, "Range of the first request")
    eq(reqs[0].bytes_sent, n, "bytes sent before the drop")
    k = _range_start(reqs[1])
    check(0 < k <= n, "resume offset %d not in (0, %d]" % (k, n))
    eq(reqs[1].if_range, fs.route("/drop/" + NAME).etag_value, "If-Range of the resumed request (the ETag)")
    eq(reqs[1].status, 206, "status of the resumed request")
    check_result(r.json(), data=data, path=dest, url=url, verifier="pinned", attempts=2, resumed=k)
    eq(listing(out), {NAME}, "output directory entries")


def test_drop_resume_last_modified_only(t):
    fs, data, out = _setup(t, 2 * MiB)
    n = 700 * 1024
    url = fs.serve("/lm/" + NAME, data, drop_after=n, etag=False)
    dest = out / NAME
    r = _get(t, url, dest, data, *FAST).ok()
    reqs = _requests(fs, "/lm/" + NAME)
    eq(len(reqs), 2, "requests")
    k = _range_start(reqs[1])
    check(0 < k <= n, "resume offset %d not in (0, %d]" % (k, n))
    eq(reqs[1].if_range, fs.route("/lm/" + NAME).last_modified_value, "If-Range (the Last-Modified date)")
    check_result(r.json(), data=data, path=dest, attempts=2, resumed=k)


def test_drop_without_validator_restarts(t):
    fs, data, out = _setup(t, 2 * MiB)
    url = fs.serve("/noval/" + NAME, data, drop_after=512 * 1024, etag=False, last_modified=False)
    dest = out / NAME
    r = _get(t, url, dest, data, *FAST).ok()
    reqs = _requests(fs, "/noval/" + NAME)
    eq(len(reqs), 2, "requests")
    check(reqs[1].range is None or re.fullmatch(r"bytes=0-\d*", reqs[1].range),
          "without a validator the retry must restart from 0, but it sent Range=%r" % reqs[1].range)
    eq(reqs[1].status, 200, "status of the second request")
    check_result(r.json(), data=data, path=dest, attempts=2, resumed=0)


def test_range_ignored_restarts_from_zero(t):
    fs, data, out = _setup(t, 2 * MiB)
    url = fs.serve("/norange/" + NAME, data, honour_range=False, drop_after=900 * 1024)
    dest = out / NAME
    r = _get(t, url, dest, data, *FAST).ok()
    reqs = _requests(fs, "/norange/" + NAME)
    eq(len(reqs), 2, "requests")
    eq(reqs[1].status, 200, "second response (server ignores Range)")
    check_result(r.json(), data=data, path=dest, attempts=2, resumed=0)


# --------------------------------------------------------------- retries

def test_503_three_times_then_ok(t):
    fs, data, out = _setup(t, 256 * 1024)
    url = fs.serve("/503/" + NAME, data, fail=[503, 503, 503])
    dest = out / NAME
    r = _get(t, url, dest, data, *FAST).ok()
    eq([q.status for q in _requests(fs, "/503/" + NAME)], [503, 503, 503, 200], "response statuses")
    check_result(r.json(), data=data, path=dest, attempts=4, resumed=0)


def test_retryable_statuses(t):
    fs, data, out = _setup(t, 64 * 1024)
    for code in (408, 500, 502, 504):
        path = "/s%d/%s" % (code, NAME)
        url = fs.serve(path, data, fail=[code])
        dest = out / ("%d.img" % code)
        r = _get(t, url, dest, data, *FAST).expect_rc(0, "after one %d" % code)
        eq([q.status for q in _requests(fs, path)], [code, 200], "statuses for %d" % code)
        check_result(r.json(), data=data, path=dest, attempts=2)


def test_backoff_doubles(t):
    fs, data, out = _setup(t, 64 * 1024)
    url = fs.serve("/backoff/" + NAME, data, fail=[503, 503, 503])
    _get(t, url, out / NAME, data, "--retry-delay", "200").ok()
    reqs = _requests(fs, "/backoff/" + NAME)
    eq(len(reqs), 4, "requests")
    gaps = [b.mono - a.mono for a, b in zip(reqs, reqs[1:])]
    for i, (gap, base) in enumerate(zip(gaps, (0.2, 0.4, 0.8))):
        check(base * 0.8 - 0.02 <= gap <= base * 1.2 + 0.35,
              "gap before retry %d is %.3fs, expected %.2fs +-20%% (all gaps: %s)"
              % (i + 1, gap, base, ["%.3f" % g for g in gaps]))


def test_429_retry_after_honoured(t):
    fs, data, out = _setup(t, 256 * 1024)
    url = fs.serve("/429/" + NAME, data, fail=[429], retry_after=1)
    dest = out / NAME
    r = _get(t, url, dest, data, *FAST).ok()
    reqs = _requests(fs, "/429/" + NAME)
    eq([q.status for q in reqs], [429, 200], "response statuses")
    gap = reqs[1].mono - reqs[0].mono
    check(gap >= 0.9, "retry came %.3fs after the 429 with Retry-After: 1" % gap)
    check(gap < 5, "retry came only %.1fs after the 429 with Retry-After: 1" % gap)
    check_result(r.json(), data=data, path=dest, attempts=2)


def test_retries_option_limits_attempts(t):
    fs, data, out = _setup(t, 64 * 1024)
    url = fs.serve("/500/" + NAME, data, status=500)
    before = listing(out)
    _get(t, url, out / NAME, data, "--retries", "3", *FAST).expect_rc(4, "500 every time")
    eq(fs.count("/500/" + NAME), 4, "requests with --retries 3 (the first attempt + 3 retries)")
    eq(listing(out), before, "output directory")


def test_404_not_retried(t):
    fs, data, out = _setup(t, 64 * 1024)
    url = fs.serve("/404/" + NAME, data, status=404)
    before = listing(out)
    _get(t, url, out / NAME, data, *FAST).expect_rc(5, "404")
    eq(fs.count(), 1, "requests")
    eq(listing(out), before, "output directory")


def test_403_not_retried(t):
    fs, data, out = _setup(t, 64 * 1024)
    url = fs.serve("/403/" + NAME, data, status=403)
    before = listing(out)
    _get(t, url, out / NAME, data, *FAST).expect_rc(4, "403")
    eq(fs.count(), 1, "requests")
    eq(listing(out), before, "output directory")


# ------------------------------------------------------------ truncation

def test_short_body_every_time(t):
    fs, data, out = _setup(t, 1 * MiB)
    url = fs.serve("/short/" + NAME, data, short_by=256 * 1024)
    before = listing(out)
    r = _get(t, url, out / NAME, data, *FAST).expect_rc(4, "always truncated")
    eq(fs.count("/short/" + NAME), 5, "attempts (default 5)")
    check("truncated" in r.stderr.lower(), "stderr does not say the download was truncated")
    eq(listing(out), before, "output directory")


def test_short_body_first_time_only(t):
    fs, data, out = _setup(t, 1 * MiB)
    url = fs.serve("/short1/" + NAME, data, short_by=300 * 1024, short_times=1)
    dest = out / NAME
    r = _get(t, url, dest, data, *FAST).ok()
    reqs = _requests(fs, "/short1/" + NAME)
    eq(len(reqs), 2, "requests")
    check_result(r.json(), data=data, path=dest, attempts=2)
    eq(r.json()["resumed_bytes"], _range_start(reqs[1]) if reqs[1].range else 0, "resumed_bytes vs the Range sent")


# --------------------------------------------------------- wrong content

def test_wrong_content_exit3(t):
    fs, data, out = _setup(t, 1 * MiB)
    url = fs.serve("/wrong/" + NAME, data, corrupt=True)
    (out / "other").write_bytes(b"x")
    before = listing(out)
    r = _get(t, url, out / NAME, data, *FAST)
    r.expect_rc(3, "content does not match the pinned digest")
    check(not (out / NAME).exists(), "destination exists")
    eq(listing(out), before, "output directory (temp file left behind?)")
    eq(fs.count("/wrong/" + NAME), 1, "requests (a digest mismatch is not retried)")


# ----------------------------------------------------------------- stall

def test_stall_detected_and_resumed(t):
    fs, data, out = _setup(t, 2 * MiB)
    n = 600 * 1024
    url = fs.serve("/stall/" + NAME, data, stall_after=n, stall_times=1, stall_seconds=30)
    dest = out / NAME
    t0 = time.monotonic()
    r = _get(t, url, dest, data, "--stall-timeout", "1", *FAST, timeout=25).ok()
    elapsed = time.monotonic() - t0
    reqs = _requests(fs, "/stall/" + NAME)
    eq(len(reqs), 2, "requests")
    gap = reqs[1].mono - reqs[0].mono
    check(0.8 <= gap <= 3.0, "stall detected after %.2fs with --stall-timeout 1 (expected ~1s, < 3s)" % gap)
    check(elapsed < 10, "took %.1fs overall" % elapsed)
    k = _range_start(reqs[1])
    check(0 < k <= n, "resume offset %d not in (0, %d]" % (k, n))
    check_result(r.json(), data=data, path=dest, attempts=2, resumed=k)


def test_stall_every_time_gives_up(t):
    fs, data, out = _setup(t, 1 * MiB)
    url = fs.serve("/stallx/" + NAME, data, stall_after=100 * 1024, stall_times=None, stall_seconds=60)
    before = listing(out)
    t0 = time.monotonic()
    r = _get(t, url, out / NAME, data, "--stall-timeout", "0.5", "--retries", "2", *FAST, timeout=30)
    elapsed = time.monotonic() - t0
    r.expect_rc(4, "stalls every time")
    n = fs.count("/stallx/" + NAME)
    eq(n, 3, "requests with --retries 2 (the first attempt + 2 retries)")
    check(elapsed < 8, "gave up only after %.1fs (--stall-timeout 0.5, --retries 2)" % elapsed)
    eq(listing(out), before, "output directory")


def test_stall_timeout_fraction(t):
    fs, data, out = _setup(t, 1 * MiB)
    url = fs.serve("/stallf/" + NAME, data, stall_after=200 * 1024, stall_times=1, stall_seconds=30)
    dest = out / NAME
    r = _get(t, url, dest, data, "--stall-timeout", "0.5", *FAST, timeout=25).ok()
    reqs = _requests(fs, "/stallf/" + NAME)
    eq(len(reqs), 2, "requests")
    gap = reqs[1].mono - reqs[0].mono
    check(0.45 <= gap <= 1.0, "with --stall-timeout 0.5 the stall was detected after %.2fs (expected 0.5-1.0s: "
          "fractions must be honoured, not rounded up to whole seconds)" % gap)
    check_result(r.json(), data=data, path=dest, attempts=2)


# ---------------------------------------------------------------- proxy

def test_http_proxy_env_honoured(t):
    """http_proxy from the environment is used (the fault server plays the proxy)."""
    fs, data, out = _setup(t)
    fs.serve("/proxied/" + NAME, data)
    url = "http://images.imgfetch-proxy-test.invalid/proxied/" + NAME
    dest = out / NAME
    r = _get(t, url, dest, data, env={"http_proxy": fs.url("/"), "no_proxy": "", "NO_PROXY": ""})
    r.ok()
    reqs = _requests(fs, "/proxied/" + NAME)
    eq(len(reqs), 1, "requests through the proxy")
    eq(reqs[0].target, url, "absolute request target sent to the proxy")
    eq(reqs[0].headers.get("Host"), "images.imgfetch-proxy-test.invalid", "Host header")
    check_result(r.json(), data=data, path=dest, url=url, verifier="pinned", attempts=1, resumed=0)


# ---------------------------------------------------------------- first byte

def test_response_timeout_no_headers(t):
    """A server that accepts the request but never answers is timed out and retried."""
    fs, data, out = _setup(t)
    url = fs.serve("/silent/" + NAME, data, silent_times=1, stall_seconds=20)
    dest = out / NAME
    r = _get(t, url, dest, data, "--response-timeout", "0.5", *FAST)
    r.ok()
    reqs = _requests(fs, "/silent/" + NAME)
    eq(len(reqs), 2, "requests (silent one, then served)")
    gap = reqs[1].mono - reqs[0].mono
    check(0.5 <= gap < 2.0, "second request %.2f s after the first; want 0.5 s timeout + short backoff" % gap)
    check("no response within 0.5 s" in r.stderr, "stderr explains the timeout: %r" % r.stderr[-500:])
    check_result(r.json(), data=data, path=dest, attempts=2, resumed=0)


def test_short_206_keeps_resuming(t):
    """A 206 covering less than the rest of the file is not the end of the file."""
    fs, data, out = _setup(t, 1 * MiB)
    n, cap = 100 * 1000, 300 * 1000
    url = fs.serve("/cap/" + NAME, data, drop_after=n, range_cap=cap)
    dest = out / NAME
    # Unverified on purpose: only the transfer engine stands between a short
    # range and an installed, truncated file.
    r = t.run("get", url, "-o", dest, "--insecure-no-verify", "--json", *FAST)
    r.ok()
    reqs = _requests(fs, "/cap/" + NAME)
    starts = [_range_start(q) for q in reqs[1:]]
    eq(starts, [n, n + cap, n + 2 * cap, n + 3 * cap], "resume offsets, one per capped range")
    # One failed attempt (the drop); the capped ranges are progress, not failures.
    check_result(r.json(), data=data, path=dest, verifier="none", verified=False, attempts=2, resumed=sum(starts))
