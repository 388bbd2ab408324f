#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Benchmark: `imgfetch pull` against `skopeo copy docker://REF oci:DIR`, in the
same run, on one 1 GiB random blob pushed as an OCI artifact layer to Debian's
docker-registry on 127.0.0.1 with TLS (tests/integration/registry.py).
Prints one line: the median wall time of each, the ratio, and imgfetch's peak RSS.
Goal (issue 5 §6): ratio <= 0.8, imgfetch peak RSS <= 32 MiB.
Not a timed test: numbers depend on the machine.

    python3 bench/bench_pull.py --imgfetch build/cli/imgfetch [--size-mib 1024] [--runs 3] [--dir DIR]
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
from registry import Registry  # noqa: E402

MiB = 1 << 20


def timed(cmd: list) -> tuple[float, int, int]:
    """Runs cmd; returns (seconds, exit status, peak RSS in KiB). The RSS comes
    from /usr/bin/time: a child forked from Python would report Python's pages."""
    with tempfile.NamedTemporaryFile(prefix="imgfetch-bench-rss-") as rss:
        t0 = time.monotonic()
        r = subprocess.run(["/usr/bin/time", "-o", rss.name, "-f", "%M"] + [str(c) for c in cmd],
                           stdout=subprocess.DEVNULL)
        elapsed = time.monotonic() - t0
        text = Path(rss.name).read_text().split()
    return elapsed, r.returncode, int(text[-1]) if text else 0


def default_dir(size_mib: int) -> str:
    """/dev/shm when it (and the RAM behind it) holds the registry's copy of the
    blob plus one pulled copy with room to spare; /var/tmp otherwise."""
    need = 3 * size_mib * MiB  # storage + one output + margin
    try:
        st = os.statvfs("/dev/shm")
        avail_kib = 0
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail_kib = int(line.split()[1])
        if st.f_bavail * st.f_frsize >= need and avail_kib * 1024 >= need + 2048 * MiB:
            return "/dev/shm"
    except OSError:
        pass
    return "/var/tmp"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--imgfetch", required=True)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default=None,
                    help="scratch directory (default: /dev/shm if it has room, else /var/tmp)")
    args = ap.parse_args()
    # SIGTERM unwinds like Ctrl-C, so the registry and the scratch directory go too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    imgfetch = str(Path(args.imgfetch).resolve())
    if not os.access(imgfetch, os.X_OK):
        print(f"bench: {imgfetch} is not executable", file=sys.stderr)
        return 1
    if not shutil.which("skopeo"):
        print("bench: skopeo not found", file=sys.stderr)
        return 1
    scratch = args.dir or default_dir(args.size_mib)

    with tempfile.TemporaryDirectory(prefix="imgfetch-bench-pull-", dir=scratch) as tmp:
        d = Path(tmp)
        src = d / "big.img"
        chunk = os.urandom(MiB)
        with open(src, "wb") as f:
            for i in range(args.size_mib):
                # Vary each MiB so nothing downstream can shortcut repeated data.
                f.write(i.to_bytes(8, "little") + chunk[8:])

        # The context manager stops the registry (and removes nothing of ours
        # early) on every exit path, errors and Ctrl-C included.
        with Registry(d / "registry", tls=True) as reg:
            ref = reg.ref("bench/disk", "v1")
            ca = str(reg.cacert)
            r = subprocess.run([imgfetch, "push", f"{src}:application/octet-stream", ref, "--cacert", ca, "-q"],
                               stdout=subprocess.DEVNULL)
            if r.returncode != 0:
                print(f"bench: imgfetch push failed (exit {r.returncode})", file=sys.stderr)
                return 1
            src.unlink()  # the registry has its own copy; keep the scratch space to two copies

            out = d / "out.img"
            stamp = d / "out.img.digest"
            oci = d / "oci"
            ours = ["imgfetch", [imgfetch, "pull", ref, "-o", out, "--cacert", ca, "-q"]]
            theirs = ["skopeo", ["skopeo", "--insecure-policy", "copy", "-q",
                                 *reg.skopeo_tls_args("src-"), f"docker://{ref}", f"oci:{oci}"]]

            def clean():
                out.unlink(missing_ok=True)
                stamp.unlink(missing_ok=True)
                shutil.rmtree(oci, ignore_errors=True)

            times = {"imgfetch": [], "skopeo": []}
            peak = {"imgfetch": 0, "skopeo": 0}
            for run in range(args.runs):
                # Alternate who goes first so neither always gets the warmer cache.
                for name, cmd in (ours, theirs) if run % 2 == 0 else (theirs, ours):
                    clean()
                    t, rc, rss = timed(cmd)
                    if rc != 0:
                        print(f"bench: {name} failed (exit {rc}): {' '.join(map(str, cmd))}", file=sys.stderr)
                        return 1
                    if name == "imgfetch" and out.stat().st_size != args.size_mib * MiB:
                        print(f"bench: imgfetch wrote {out.stat().st_size} bytes", file=sys.stderr)
                        return 1
                    times[name].append(t)
                    peak[name] = max(peak[name], rss)
            clean()

    a, b = statistics.median(times["imgfetch"]), statistics.median(times["skopeo"])
    size = args.size_mib
    print(f"blob: {size} MiB from docker-registry (TLS) on 127.0.0.1 to {scratch}, "
          f"{args.runs} runs each (median), {os.cpu_count()} cores")
    print("%-34s imgfetch %6.2f s  peer %6.2f s  ratio %.2f (goal <= 0.80)  RSS %.1f MiB (goal <= 32 MiB)" %
          ("pull vs skopeo copy oci:", a, b, a / b, peak["imgfetch"] / 1024))
    return 0


if __name__ == "__main__":
    sys.exit(main())
