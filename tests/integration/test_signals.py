# SPDX-License-Identifier: MIT
"""Interrupted downloads leave nothing behind: kill -9, SIGINT, SIGTERM."""

import signal
import time

from harness import MiB, check, check_content, check_result, eq, listing, sha256

NAME = "disk.img"
SIZE = 2 * MiB
RATE = 512 * 1024  # ~4 s for the whole file


def _start_slow(t, *extra):
    fs = t.faultserver()
    data = t.random_bytes(SIZE)
    path = "/slow/" + NAME
    url = fs.serve(path, data, rate=RATE)
    out = t.dir("out")
    (out / "existing.txt").write_text("unrelated\n")
    before = listing(out)
    p = t.spawn("get", url, "-o", out / NAME, "--sha256", sha256(data), "--retry-delay", "50", "--json", *extra)
    check(fs.wait_sent(path, 256 * 1024, timeout=15), "the download did not start (server sent %d bytes)"
          % fs.bytes_sent(path))
    check(p.poll() is None, "the CLI exited before it was interrupted")
    return fs, data, path, url, out, before, p


def _after_interrupt(t, fs, data, path, url, out, before):
    eq(listing(out), before, "output directory after the interruption (destination or temp file left)")
    # the next run succeeds (same URL, now served at full speed)
    fs.serve(path, data)
    r = t.run("get", url, "-o", out / NAME, "--sha256", sha256(data), "--json").ok()
    check_result(r.json(), data=data, path=out / NAME)
    eq(listing(out), before | {NAME}, "output directory after the next run")


def test_kill9_leaves_nothing(t):
    fs, data, path, url, out, before, p = _start_slow(t)
    p.send_signal(signal.SIGKILL)
    r = p.wait(timeout=10)
    eq(r.rc, -signal.SIGKILL, "exit status")
    _after_interrupt(t, fs, data, path, url, out, before)


def _graceful(t, sig, code):
    fs, data, path, url, out, before, p = _start_slow(t)
    t0 = time.monotonic()
    p.send_signal(sig)
    r = p.wait(timeout=10)
    took = time.monotonic() - t0
    r.expect_rc(code, "exit code after %s" % signal.Signals(sig).name)
    check(took < 3, "the CLI took %.1fs to exit after %s" % (took, signal.Signals(sig).name))
    check(r.stdout.strip() == "", "a result was printed on stdout although interrupted: %r" % r.stdout[:200])
    _after_interrupt(t, fs, data, path, url, out, before)


def test_sigint_exit_130(t):
    _graceful(t, signal.SIGINT, 130)


def test_sigterm_exit_143(t):
    _graceful(t, signal.SIGTERM, 143)


def test_kill9_with_cache_releases_lock(t):
    cache = t.dir("cache")
    fs, data, path, url, out, before, p = _start_slow(t, "--cache", "--cache-dir", cache)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)
    eq(listing(out), before, "output directory after kill -9")
    fs.serve(path, data)
    n = fs.count(path)
    r = t.run("get", url, "-o", out / NAME, "--sha256", sha256(data), "--json", "--cache", "--cache-dir", cache,
              "--no-wait", timeout=20)
    r.expect_rc(0, "next --cache --no-wait run after kill -9 (stale lock?)")
    check_result(r.json(), data=data, path=out / NAME, from_cache=False)
    eq(fs.count(path), n + 1, "requests by the next run")
    entries = [f for f in cache.rglob("*" + NAME) if f.is_file()]
    eq(len(entries), 1, "cache entries ending with %s (%s)" % (NAME, entries))
    check_content(entries[0], data, "cache entry")
