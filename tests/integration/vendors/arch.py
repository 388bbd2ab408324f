# SPDX-License-Identifier: MIT
"""Arch Linux fixture: images/ with v<date>.<pipeline>/ dirs (pipeline ids
of different widths, so only the date-first lexical order is right), the
rolling latest/ dir, and per-image GNU .SHA256 sidecars plus .sig files,
the basic (no cloud-init) image beside the cloud one."""

from pathlib import Path

from vendor_mirror import sha256_file

BUILDS = ["20260915.99999", "20261015.400001", "20261101.123456"]
LATEST = "20261101.123456"


def _build(top: Path, images, b: str) -> str:
    d = top / ("v" + b)
    name = "Arch-Linux-x86_64-cloudimg-%s.qcow2" % b
    for n in (name, "Arch-Linux-x86_64-basic-%s.qcow2" % b):
        p = images.copy("qcow2", d / n)
        (d / (n + ".SHA256")).write_text("%s  %s\n" % (sha256_file(p), n))
        images.signer.detach(p, ".sig")
        images.signer.detach(d / (n + ".SHA256"), ".sig")
    return name


def build(root: Path, images) -> dict:
    top = root / "images"
    top.mkdir(parents=True, exist_ok=True)
    files = {b: _build(top, images, b) for b in BUILDS}
    (top / "latest").mkdir()
    (top / "latest" / "Arch-Linux-x86_64-cloudimg.qcow2").symlink_to("../v%s/%s" % (LATEST, files[LATEST]))
    return {"latest": LATEST, "files": files}
