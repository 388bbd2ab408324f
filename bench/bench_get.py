#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Benchmark: `imgfetch get --sha256` against `curl -o f && sha256sum f`, the
pipeline most scripts use, on the same 1 GiB file from a loopback nginx, in the
same run. Prints the median wall time of each, the ratio, and peak RSS.
Goal: ratio <= 0.6 (hashing overlapped with the transfer), imgfetch peak RSS <= 32 MiB.
Not a timed test: numbers depend on the machine.

    python3 bench/bench_get.py --imgfetch build/cli/imgfetch [--size-mib 1024] [--runs 3]
"""

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
from nginx import Nginx  # noqa: E402


def timed(cmd: list) -> tuple[float, int, int]:
    """Runs cmd; returns (seconds, exit status, peak RSS in KiB). The RSS comes
    from /usr/bin/time: a child forked from Python would report Python's pages."""
    with tempfile.NamedTemporaryFile(prefix="imgfetch-bench-rss-") as rss:
        t0 = time.monotonic()
        r = subprocess.run(["/usr/bin/time", "-o", rss.name, "-f", "%M"] + cmd, stdout=subprocess.DEVNULL)
        elapsed = time.monotonic() - t0
        text = Path(rss.name).read_text().split()
    return elapsed, r.returncode, int(text[-1]) if text else 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--imgfetch", required=True)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default=None, help="scratch directory (default: a temp dir under /var/tmp)")
    args = ap.parse_args()
    imgfetch = str(Path(args.imgfetch).resolve())
    for tool in ("curl", "sha256sum"):
        if not shutil.which(tool):
            print(f"bench: {tool} not found", file=sys.stderr)
            return 1

    with tempfile.TemporaryDirectory(prefix="imgfetch-bench-", dir=args.dir or "/var/tmp") as tmp:
        root = Path(tmp) / "root"
        out = Path(tmp) / "out"
        root.mkdir()
        out.mkdir()
        src = root / "big.img"
        h = hashlib.sha256()
        chunk = os.urandom(1 << 20)
        with open(src, "wb") as f:
            for i in range(args.size_mib):
                # Vary each MiB so nothing downstream can shortcut repeated data.
                block = i.to_bytes(8, "little") + chunk[8:]
                f.write(block)
                h.update(block)
        digest = h.hexdigest()

        with Nginx(root) as ng:
            url = ng.url("/big.img")
            ours, theirs, rss_ours, rss_theirs = [], [], [], []
            for run in range(args.runs + 1):  # run 0 warms the page cache
                dest = out / "a.img"
                t, rc, rss = timed([imgfetch, "get", url, "--sha256", digest, "-o", str(dest), "-q"])
                if rc != 0:
                    print(f"bench: imgfetch failed (exit {rc})", file=sys.stderr)
                    return 1
                dest.unlink()
                t2, rc2, rss2 = timed(["sh", "-c", f"curl -sfo {out}/b.img {url} && sha256sum {out}/b.img"])
                if rc2 != 0:
                    print(f"bench: curl/sha256sum failed (exit {rc2})", file=sys.stderr)
                    return 1
                (out / "b.img").unlink()
                if run == 0:
                    continue
                ours.append(t)
                theirs.append(t2)
                rss_ours.append(rss)
                rss_theirs.append(rss2)

    a, b = statistics.median(ours), statistics.median(theirs)
    size = args.size_mib
    print(f"file: {size} MiB from nginx on 127.0.0.1, {args.runs} runs each (median), {os.cpu_count()} cores")
    print(f"imgfetch get --sha256          {a:7.2f} s  {size / a:7.0f} MiB/s  peak RSS {max(rss_ours) / 1024:6.1f} MiB")
    print(f"curl -o f && sha256sum f       {b:7.2f} s  {size / b:7.0f} MiB/s  peak RSS {max(rss_theirs) / 1024:6.1f} MiB")
    print(f"ratio imgfetch/curl+sha256sum  {a / b:7.2f}   (goal <= 0.60)")
    print(f"imgfetch peak RSS              {max(rss_ours) / 1024:7.1f} MiB (goal <= 32 MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
