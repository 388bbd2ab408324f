#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The built-in demo mirror: a local copy of vendor release feeds, listings
and checksum files (the same fixture trees the tests use, in the vendors' real
formats) around small real disk images, served by nginx on 127.0.0.1. Then
imgfetch's main job runs against it, exactly as a user runs it against the
real vendors, minus --mirror:

    imgfetch fetch alpine latest
    imgfetch fetch debian stable --arch aarch64 --format qcow2
    imgfetch fetch debian stable --arch x86_64 --format zvol     (a SmartOS/Triton image)

plus a reuse from the cache and a tampered image refused.

    python3 demo/demo.py --imgfetch build/cli/imgfetch
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
from nginx import Nginx  # noqa: E402
from vendor_mirror import AUTOINDEX, VendorMirror  # noqa: E402

VENDORS = ["alpine", "debian"]


def run(cmd, **kw):
    print("\n$ " + " ".join(str(c) for c in cmd if not str(c).startswith("--mirror=")), flush=True)
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
        mirror = VendorMirror(Path(tmp) / "mirror", VENDORS)
        env = dict(os.environ, XDG_CACHE_HOME=str(out / "cache"))
        with Nginx(mirror.root, extra_conf=AUTOINDEX) as ng:
            # The mirror goes into imgfetch's config file, so the commands
            # below are word for word what a user types.
            conf = out / "config" / "imgfetch"
            conf.mkdir(parents=True)
            (conf / "mirrors.conf").write_text("".join("%s=%s\n" % (v, ng.url("/%s/" % v)) for v in VENDORS))
            env["XDG_CONFIG_HOME"] = str(out / "config")
            print("demo mirror: %s (%s), configured in %s" % (ng.url("/"), ", ".join(VENDORS), conf / "mirrors.conf"))

            run([imgfetch, "vendors"], env=env, stdout=subprocess.DEVNULL)
            for cmd in (["fetch", "alpine", "latest", "-o", out],
                        ["fetch", "debian", "stable", "--arch", "aarch64", "--format", "qcow2", "-o", out],
                        ["fetch", "debian", "stable", "--arch", "x86_64", "--format", "zvol", "-o", out]):
                r = run([imgfetch, *cmd], env=env, stdout=subprocess.PIPE, text=True)
                if r.returncode != 0:
                    print("demo: imgfetch failed with exit code %d" % r.returncode, file=sys.stderr)
                    return 1
                lines = r.stdout.split()
                path = Path(lines[0])
                meta = json.loads(Path(str(path) + ".json").read_text())
                print(path)
                print(json.dumps({k: meta[k] for k in ("vendor", "series", "version", "arch", "url", "verifier",
                                                       "sha256", "uuid", "virtual_size")}, indent=2))
                if len(lines) > 1:
                    # The zvol pair: the IMGAPI manifest next to the .zfs.gz.
                    man = json.loads(Path(lines[1]).read_text())
                    print(lines[1])
                    print(json.dumps({k: man[k] for k in ("uuid", "name", "version", "os", "type", "image_size",
                                                          "files", "requirements")}, indent=2))
                    run([imgfetch, "info", path], env=env)

            print("\nAgain: the cached download is re-verified and reused, nothing is downloaded:")
            r = run([imgfetch, "fetch", "alpine", "latest", "-o", out, "--json"], env=env, stdout=subprocess.PIPE,
                    text=True)
            print("from_cache=%s" % json.loads(r.stdout)["from_cache"])

            print("\nA tampered image on the mirror is refused (exit code 3) and nothing is written:")
            cloud = mirror.root / "alpine" / "cdn" / "v3.23" / "releases" / "cloud"
            name = mirror.facts["alpine"]["latest_file"]
            with open(cloud / name, "r+b") as f:
                f.seek(70000)
                b = f.read(1)
                f.seek(70000)
                f.write(bytes([b[0] ^ 0xFF]))
            tampered = out / "tampered"
            tampered.mkdir()
            r = run([imgfetch, "fetch", "alpine", "latest", "-o", tampered, "--cache-dir", out / "cache2"], env=env)
            print("exit code %d; files written: %s" % (r.returncode, sorted(p.name for p in tampered.iterdir())))
            if r.returncode != 3 or any(tampered.iterdir()):
                return 1
    print("\ndemo done: images in %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
