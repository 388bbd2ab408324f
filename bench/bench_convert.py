#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Benchmark: imgfetch convert against the peer tools, in the same run, on an
OS-disk-like image (~2 GiB virtual, ~600 MiB of real binaries with zero gaps).
Prints one line per comparison with the wall-time ratio, and imgfetch's peak RSS.
Goals (issue): zlib qcow2 -> raw <= 0.35x qemu-img; zstd qcow2 -> raw <= 0.5x
qemu-img -m 16 -W; plain qcow2 -> raw <= 1.0x; raw.xz -> raw >= 0.97x the
throughput of xz -dc (single block) and at least xz -dc -T2 (multi-block);
peak RSS <= 64 MiB. Not a timed test.

    python3 bench/bench_convert.py --imgfetch build/cli/imgfetch [--data-mib 600] [--virtual-mib 2048]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MiB = 1 << 20


def timed(cmd, stdout=None) -> tuple[float, int]:
    """(seconds, peak RSS in KiB) of cmd. The RSS comes from /usr/bin/time: a
    child forked from this (large) Python process would report Python's pages."""
    rss_file = tempfile.NamedTemporaryFile(prefix="imgfetch-bench-rss-", delete=False)
    rss_file.close()
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL
    t0 = time.monotonic()
    r = subprocess.run(["/usr/bin/time", "-o", rss_file.name, "-f", "%M"] + [str(c) for c in cmd], stdout=out)
    elapsed = time.monotonic() - t0
    if stdout:
        out.close()
    rss = int(Path(rss_file.name).read_text().split()[-1])
    os.unlink(rss_file.name)
    if r.returncode != 0:
        raise SystemExit("bench: %s failed with exit code %d" % (" ".join(map(str, cmd)), r.returncode))
    return elapsed, rss


def best(cmd, runs, stdout=None, cleanup=None):
    times, rss = [], 0
    for _ in range(runs):
        t, r = timed(cmd, stdout)
        times.append(t)
        rss = max(rss, r)
        if cleanup:
            cleanup()
    return statistics.median(times), rss


def make_disk(path: Path, data_mib: int, virtual_mib: int):
    """Real binaries from /usr, laid out in runs separated by zero gaps."""
    files = []
    for root in ("/usr/lib", "/usr/bin", "/usr/libexec", "/usr/share"):
        for dirpath, _, names in os.walk(root):
            for n in names:
                p = os.path.join(dirpath, n)
                if os.path.isfile(p) and not os.path.islink(p):
                    files.append(p)
    files.sort()
    want = data_mib * MiB
    gap_every = max(1, (virtual_mib - data_mib) * MiB // max(1, data_mib // 8))
    written = 0
    with open(path, "wb") as out:
        out.truncate(virtual_mib * MiB)
        pos = 0
        for p in files:
            if written >= want:
                break
            try:
                data = open(p, "rb").read(min(8 * MiB, want - written))
            except OSError:
                continue
            out.seek(pos)
            out.write(data)
            written += len(data)
            pos += len(data)
            if written // (8 * MiB) != (written - len(data)) // (8 * MiB):
                pos += gap_every  # a zero gap, like free space on a file system
            if pos >= virtual_mib * MiB - 16 * MiB:
                break
    return written


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--imgfetch", required=True)
    ap.add_argument("--data-mib", type=int, default=600)
    ap.add_argument("--virtual-mib", type=int, default=2048)
    ap.add_argument("--runs", type=int, default=3)
    # tmpfs by default: on a disk the figures measure the disk, and qemu-img
    # (cache=unsafe for convert output) never flushes while imgfetch fsyncs
    # before it installs the output.
    ap.add_argument("--dir", default="/dev/shm" if os.path.isdir("/dev/shm") else "/var/tmp")
    args = ap.parse_args()
    imgfetch = str(Path(args.imgfetch).resolve())
    for tool in ("qemu-img", "xz"):
        if not shutil.which(tool):
            raise SystemExit("bench: %s not found" % tool)

    with tempfile.TemporaryDirectory(prefix="imgfetch-bench-convert-", dir=args.dir) as tmp:
        d = Path(tmp)
        raw = d / "disk.raw"
        data = make_disk(raw, args.data_mib, args.virtual_mib)
        print("disk: %d MiB virtual, %d MiB of /usr binaries with zero gaps; %d cores" %
              (args.virtual_mib, data // MiB, os.cpu_count()))
        zlib = d / "zlib.qcow2"
        zstd = d / "zstd.qcow2"
        plain = d / "plain.qcow2"
        subprocess.run(["qemu-img", "convert", "-c", "-O", "qcow2", "-o", "compression_type=zlib", raw, zlib], check=True)
        subprocess.run(["qemu-img", "convert", "-c", "-O", "qcow2", "-o", "compression_type=zstd", raw, zstd], check=True)
        subprocess.run(["qemu-img", "convert", "-O", "qcow2", raw, plain], check=True)
        xz1 = d / "disk.raw.xz"
        xzm = d / "disk.mb.raw.xz"
        with open(raw, "rb") as fi, open(xz1, "wb") as fo:
            subprocess.run(["xz", "-T1", "-3", "-c"], stdin=fi, stdout=fo, check=True)
        with open(raw, "rb") as fi, open(xzm, "wb") as fo:
            subprocess.run(["xz", "-T2", "-3", "--block-size=64MiB", "-c"], stdin=fi, stdout=fo, check=True)

        out = d / "out.raw"
        rm = lambda: out.unlink(missing_ok=True)  # noqa: E731
        rows = []
        peak = 0

        def compare(name, ours, theirs, goal, higher_is_better=False, theirs_stdout=None):
            nonlocal peak
            a, rss = best(ours, args.runs, cleanup=rm)
            b, _ = best(theirs, args.runs, stdout=theirs_stdout, cleanup=rm)
            peak = max(peak, rss)
            ratio = a / b
            if higher_is_better:
                print("%-34s imgfetch %6.2f s  peer %6.2f s  throughput ratio %.2f (goal >= %.2f)  RSS %.1f MiB" %
                      (name, a, b, b / a, goal, rss / 1024))
            else:
                print("%-34s imgfetch %6.2f s  peer %6.2f s  ratio %.2f (goal <= %.2f)  RSS %.1f MiB" %
                      (name, a, b, ratio, goal, rss / 1024))
            rows.append((name, ratio))

        compare("zlib qcow2 -> raw", [imgfetch, "convert", "-q", zlib, out],
                ["qemu-img", "convert", "-O", "raw", zlib, out], 0.35)
        compare("zstd qcow2 -> raw", [imgfetch, "convert", "-q", zstd, out],
                ["qemu-img", "convert", "-m", "16", "-W", "-O", "raw", zstd, out], 0.5)
        compare("plain qcow2 -> raw", [imgfetch, "convert", "-q", plain, out],
                ["qemu-img", "convert", "-O", "raw", plain, out], 1.0)
        compare("raw.xz (1 block) -> raw", [imgfetch, "convert", "-q", xz1, out],
                ["xz", "-dc", xz1], 0.97, higher_is_better=True, theirs_stdout=str(out))
        compare("raw.xz (multi-block) -> raw", [imgfetch, "convert", "-q", xzm, out],
                ["xz", "-dc", "-T2", xzm], 1.0, higher_is_better=True, theirs_stdout=str(out))
        print("imgfetch peak RSS over all runs: %.1f MiB (goal <= 64 MiB)" % (peak / 1024))
    return 0


if __name__ == "__main__":
    sys.exit(main())
