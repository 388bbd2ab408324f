#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The built-in demo mirror: serves a generated disk image and its SHA256SUMS
from a real nginx on 127.0.0.1, then runs imgfetch's main job against it:
a verified, atomic download, a reuse from the cache, and a refused tampered file.

    python3 demo/demo.py --imgfetch build/cli/imgfetch
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
from nginx import Nginx  # noqa: E402

IMAGE = "imgfetch-demo-disk.raw"
SIZE = 192 * 1024 * 1024


def make_image(path: Path) -> str:
    """A sparse-looking disk: random 'filesystem' blocks separated by zeros."""
    h = hashlib.sha256()
    block = 4 * 1024 * 1024
    with open(path, "wb") as f:
        for i in range(SIZE // block):
            data = os.urandom(block) if i % 3 == 0 else bytes(block)
            f.write(data)
            h.update(data)
    return h.hexdigest()


def run(cmd, **kw):
    print("\n$ " + " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], **kw)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--imgfetch", required=True)
    ap.add_argument("--out", default="build/demo")
    args = ap.parse_args()
    imgfetch = Path(args.imgfetch).resolve()
    out = Path(args.out).resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)

    with tempfile.TemporaryDirectory(prefix="imgfetch-demo-") as tmp:
        root = Path(tmp) / "mirror"
        (root / "images").mkdir(parents=True)
        (root / "tampered").mkdir()
        digest = make_image(root / "images" / IMAGE)
        (root / "images" / "SHA256SUMS").write_text(f"{digest} *{IMAGE}\n")
        # The same checksum file next to a copy with one flipped byte.
        bad = bytearray((root / "images" / IMAGE).read_bytes()[: 8 * 1024 * 1024])
        bad[4096] ^= 0xFF
        (root / "tampered" / IMAGE).write_bytes(bytes(bad))
        (root / "tampered" / "SHA256SUMS").write_text(f"{digest} *{IMAGE}\n")

        env = dict(os.environ, XDG_CACHE_HOME=str(out / "cache"))
        with Nginx(root, slow_rate="96m") as ng:
            print(f"demo mirror: {ng.url('/images/')} serving {IMAGE} ({SIZE >> 20} MiB) and SHA256SUMS")
            url = ng.url(f"/slow/images/{IMAGE}")
            sums = ng.url("/images/SHA256SUMS")

            r = run([imgfetch, "get", url, "--sums", sums, "--cache", "-o", out, "--json"],
                    env=env, stdout=subprocess.PIPE, text=True)
            if r.returncode != 0:
                print(f"demo: imgfetch failed with exit code {r.returncode}", file=sys.stderr)
                return 1
            res = json.loads(r.stdout)
            print(json.dumps(res, indent=2))
            got = hashlib.sha256((out / IMAGE).read_bytes()).hexdigest()
            assert got == digest == res["sha256"], "demo: digest of the written file is wrong"

            print("\nAgain: the cached copy is re-verified and reused, no download:")
            r = run([imgfetch, "get", url, "--sums", sums, "--cache", "--json"],
                    env=env, stdout=subprocess.PIPE, text=True)
            res2 = json.loads(r.stdout)
            print(f"from_cache={res2['from_cache']} path={res2['path']}")

            print("\nA tampered copy is refused (exit code 3) and nothing is written:")
            r = run([imgfetch, "get", ng.url(f"/tampered/{IMAGE}"), "--sums", ng.url("/tampered/SHA256SUMS"),
                     "-o", out / "tampered.raw"], env=env)
            print(f"exit code {r.returncode}; {out / 'tampered.raw'} exists: {(out / 'tampered.raw').exists()}")
            if r.returncode != 3 or (out / "tampered.raw").exists():
                return 1
    print(f"\ndemo done: verified image at {out / IMAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
