#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Benchmark: a vendor-like qcow2 (qemu-img -c, ~2 GiB virtual, ~600 MiB of
real binaries with zero gaps) to a SmartOS/Triton zvol image (.zfs.gz),
imgfetch's native stream writer against the lower bound of the zfs-based
pipeline: `qemu-img convert -O raw` followed by `pigz -p<cores>` of the raw
file (the real pipeline adds a zvol write and a `zfs send` read on top).
Same run, same machine. Goal (issue): ratio <= 0.6, peak RSS <= 64 MiB.
Not a timed test.

    python3 bench/bench_zvol.py --imgfetch build/cli/imgfetch [--data-mib 600] [--virtual-mib 2048]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_convert import MiB, best, make_disk  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--imgfetch", required=True)
    ap.add_argument("--data-mib", type=int, default=600)
    ap.add_argument("--virtual-mib", type=int, default=2048)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default="/dev/shm" if os.path.isdir("/dev/shm") else "/var/tmp")
    args = ap.parse_args()
    imgfetch = str(Path(args.imgfetch).resolve())
    for tool in ("qemu-img", "pigz"):
        if not shutil.which(tool):
            raise SystemExit("bench: %s not found" % tool)
    cores = os.cpu_count() or 1

    with tempfile.TemporaryDirectory(prefix="imgfetch-bench-zvol-", dir=args.dir) as tmp:
        d = Path(tmp)
        raw = d / "disk.raw"
        data = make_disk(raw, args.data_mib, args.virtual_mib)
        src = d / "vendor.qcow2"
        subprocess.run(["qemu-img", "convert", "-c", "-O", "qcow2", raw, src], check=True)
        raw.unlink()
        print("image: %d MiB virtual, %d MiB of /usr binaries with zero gaps, zlib qcow2 of %d MiB; %d cores" %
              (args.virtual_mib, data // MiB, src.stat().st_size // MiB, cores))

        out = d / "img.zfs.gz"
        peer_raw = d / "peer.raw"
        peer_gz = d / "peer.raw.gz"

        def clean():
            for p in (out, out.with_name("img.json"), peer_raw, peer_gz):
                p.unlink(missing_ok=True)

        ours, rss = best([imgfetch, "convert", "-q", src, out, "-O", "zvol"], args.runs, cleanup=clean)
        # Once more, kept, for the sizes.
        subprocess.run([imgfetch, "convert", "-q", src, out, "-O", "zvol"], check=True)
        our_size = out.stat().st_size
        clean()

        def peer_once():
            subprocess.run(["qemu-img", "convert", "-O", "raw", src, peer_raw], check=True)
            with open(peer_gz, "wb") as fo:
                subprocess.run(["pigz", "-p%d" % cores, "-c", peer_raw], stdout=fo, check=True)

        import time
        times = []
        for _ in range(args.runs):
            t0 = time.monotonic()
            peer_once()
            times.append(time.monotonic() - t0)
            peer_size = peer_gz.stat().st_size
            clean()
        times.sort()
        peer = times[len(times) // 2]
        print("qcow2 -> .zfs.gz (native)          imgfetch %6.2f s  qemu-img + pigz -p%d %6.2f s  ratio %.2f "
              "(goal <= 0.60)" % (ours, cores, peer, ours / peer))
        print("output size: imgfetch %d MiB (gzip level 4, zero blocks as FREE records), pigz %d MiB (level 6)" %
              (our_size // MiB, peer_size // MiB))
        print("imgfetch peak RSS: %.1f MiB (goal <= 64 MiB)" % (rss / 1024))
    return 0


if __name__ == "__main__":
    sys.exit(main())
