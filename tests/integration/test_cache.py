# SPDX-License-Identifier: MIT
"""--cache: reuse, re-verification of corrupted entries, locking between processes."""

import os
import re
import time
from pathlib import Path

from harness import MiB, check, check_content, check_result, eq, listing, sha256

NAME = "disk.img"


def _entries(cache: Path) -> list[Path]:
    """Cache data files: regular files whose name ends with the URL's basename."""
    return sorted(f for f in cache.rglob("*") if f.is_file() and f.name.endswith(NAME))


def _one_entry(cache: Path) -> Path:
    e = _entries(cache)
    eq(len(e), 1, "cache entries ending with %s under %s (%s)" % (NAME, cache, [str(x) for x in e]))
    return e[0]


def test_cache_reuse_default_location(t):
    root = t.dir("www")
    data = t.make_file(root / NAME, 2 * MiB)
    ng = t.nginx(root)
    cwd = t.dir("cwd")
    url = ng.url("/" + NAME)
    cache = t.xdg_cache / "imgfetch"

    r1 = t.run("get", url, "--sha256", sha256(data), "--cache", "--json", cwd=cwd).ok()
    j1 = r1.json()
    check_result(j1, data=data, verifier="pinned", from_cache=False, attempts=1, cwd=cwd)
    entry = _one_entry(cache)
    check(os.path.samefile(cwd / j1["path"], entry), "reported path %r is not the cache entry %s" % (j1["path"], entry))
    eq(listing(cwd), set(), "working directory (with --cache and no -o nothing is written there)")

    r2 = t.run("get", url, "--sha256", sha256(data), "--cache", "--json", cwd=cwd).ok()
    j2 = r2.json()
    check_result(j2, data=data, from_cache=True, cwd=cwd)
    check(os.path.samefile(cwd / j2["path"], entry), "second run reports %r, not the cache entry" % j2["path"])
    eq(j2["attempts"], 0, "attempts of a cache hit")
    eq(ng.count("/" + NAME), 1, "GET requests for the file (the second run must not download)")


def test_cache_dir_and_output_copy(t):
    root = t.dir("www")
    data = t.make_file(root / NAME, 1 * MiB)
    ng = t.nginx(root)
    cache = t.dir("mycache")
    out = t.dir("out")
    url = ng.url("/" + NAME)
    common = ("--sha256", sha256(data), "--cache", "--cache-dir", cache, "--json")

    r1 = t.run("get", url, "-o", out / "a.img", *common).ok()
    check_result(r1.json(), data=data, path=out / "a.img", from_cache=False)
    entry = _one_entry(cache)
    check_content(entry, data, "cache entry")
    check(not (t.xdg_cache / "imgfetch").exists() or not _entries(t.xdg_cache),
          "--cache-dir given, but an entry appeared under $XDG_CACHE_HOME")

    r2 = t.run("get", url, "-o", out / "b.img", *common).ok()
    check_result(r2.json(), data=data, path=out / "b.img", from_cache=True)
    eq(ng.count("/" + NAME), 1, "GET requests for the file")
    eq(listing(out), {"a.img", "b.img"}, "output directory")
    check(not os.path.samefile(out / "b.img", entry), "-o output is the cache entry itself, not a copy")
    check_content(entry, data, "cache entry after the copy")


def test_cache_corrupt_entry_redownloaded(t):
    root = t.dir("www")
    data = t.make_file(root / NAME, 1 * MiB)
    ng = t.nginx(root)
    cache = t.dir("cache")
    out = t.dir("out")
    url = ng.url("/" + NAME)
    common = ("--sha256", sha256(data), "--cache", "--cache-dir", cache, "--json")

    t.run("get", url, "-o", out / "a.img", *common).ok()
    entry = _one_entry(cache)
    with open(entry, "r+b") as f:
        f.seek(len(data) // 2)
        f.write(b"\0garbage\0" * 8)
    r = t.run("get", url, "-o", out / "b.img", *common).ok()
    check(re.search(r"warn", r.stderr, re.I), "no warning about the corrupted cache entry on stderr")
    check_result(r.json(), data=data, path=out / "b.img", from_cache=False, attempts=1)
    eq(ng.count("/" + NAME), 2, "GET requests for the file (one re-download)")
    check_content(_one_entry(cache), data, "cache entry after the re-download")

    r = t.run("get", url, "-o", out / "c.img", *common).ok()
    check_result(r.json(), data=data, path=out / "c.img", from_cache=True)
    eq(ng.count("/" + NAME), 2, "GET requests after the repaired entry was reused")


def test_cache_concurrent_single_download(t):
    fs = t.faultserver()
    data = t.random_bytes(2 * MiB)
    path = "/slow/" + NAME
    url = fs.serve(path, data, rate=1 * MiB)  # ~2 s
    cache = t.dir("cache")
    out = t.dir("out")
    common = ("--sha256", sha256(data), "--cache", "--cache-dir", cache, "--json", "--retry-delay", "50")
    a = t.spawn("get", url, "-o", out / "a.img", *common)
    b = t.spawn("get", url, "-o", out / "b.img", *common)
    ra, rb = a.wait(timeout=30), b.wait(timeout=30)
    ra.expect_rc(0, "first concurrent run")
    rb.expect_rc(0, "second concurrent run")
    ja, jb = ra.json(), rb.json()
    check_result(ja, data=data, path=out / "a.img")
    check_result(jb, data=data, path=out / "b.img")
    eq(fs.count(path, "GET"), 1, "GET requests for the file (the runs must serialise on the cache lock)")
    eq(sorted([ja["from_cache"], jb["from_cache"]]), [False, True], "from_cache of the two runs")
    check_content(_one_entry(cache), data, "cache entry")


def test_cache_no_wait_fails_fast(t):
    fs = t.faultserver()
    data = t.random_bytes(2 * MiB)
    path = "/slow/" + NAME
    url = fs.serve(path, data, rate=768 * 1024)  # ~2.7 s
    cache = t.dir("cache")
    out = t.dir("out")
    common = ("--sha256", sha256(data), "--cache", "--cache-dir", cache, "--retry-delay", "50")
    a = t.spawn("get", url, "-o", out / "a.img", "--json", *common)
    check(fs.wait_sent(path, 128 * 1024, timeout=15), "the first download did not start")
    t0 = time.monotonic()
    r = t.run("get", url, "-o", out / "b.img", "--no-wait", *common, timeout=20)
    took = time.monotonic() - t0
    r.expect_rc(1, "--no-wait while another process holds the lock")
    check(took < 2.0, "--no-wait took %.1fs" % took)
    check("lock" in r.stderr.lower(), "the error message does not mention the lock")
    check(not (out / "b.img").exists(), "b.img exists after the --no-wait failure")
    check(a.poll() is None, "the first download already finished: the --no-wait check was not concurrent")
    ra = a.wait(timeout=30).expect_rc(0, "the download holding the lock")
    check_result(ra.json(), data=data, path=out / "a.img", from_cache=False)
    eq(fs.count(path, "GET"), 1, "GET requests for the file")
    eq(listing(out), {"a.img"}, "output directory")


def test_cache_wrong_digest_leaves_no_entry(t):
    root = t.dir("www")
    data = t.make_file(root / NAME, 1 * MiB)
    ng = t.nginx(root)
    cache = t.dir("cache")
    out = t.dir("out")
    r = t.run("get", ng.url("/" + NAME), "-o", out / NAME, "--sha256", sha256(data + b"?"), "--cache",
              "--cache-dir", cache)
    r.expect_rc(3, "wrong pinned digest with --cache")
    eq(listing(out), set(), "output directory")
    eq(_entries(cache), [], "cache entries after a failed verification")
    stray = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file())
    check(stray < 64 * 1024, "%d bytes of files left in the cache directory after a failed download" % stray)
