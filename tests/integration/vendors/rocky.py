# SPDX-License-Identifier: MIT
"""Rocky fixture: dl/ with major directories (10 a symlink to 10.1; 9 a real
directory that still holds the last 9.9 build beside the 9.10 one, so that a
lexical sort picks the wrong one) and 9.9/ 9.10/ minors; images/<arch>/ with
the .latest. aliases, LVM/EC2/Azure variants and a BSD CHECKSUM with
"# name: N bytes" comments."""

import hashlib
import os
from pathlib import Path

from vendor_mirror import sha256_file


def _images(d: Path, images, picks: list[str], decoys: list[str]):
    d.mkdir(parents=True, exist_ok=True)
    out = []
    for n in picks:
        images.copy("qcow2", d / n)
    for n in decoys:
        (d / n).write_bytes(b"not the image: " + n.encode())
    for n in sorted(picks + decoys):
        p = d / n
        out.append("# %s: %d bytes\nSHA256 (%s) = %s" % (n, p.stat().st_size, n, sha256_file(p)))
        (d / (n + ".CHECKSUM")).write_text(out[-1] + "\n")
    (d / "CHECKSUM").write_text("\n".join(out) + "\n")
    images.signer.detach(d / "CHECKSUM")


def _decoys(major, ver, arch):
    return ["Rocky-%s-GenericCloud-Base.latest.%s.qcow2" % (major, arch),
            "Rocky-%s-GenericCloud-LVM-%s-20260601.0.%s.qcow2" % (major, ver, arch),
            "Rocky-%s-GenericCloud-LVM.latest.%s.qcow2" % (major, arch),
            "Rocky-%s-EC2-Base-%s-20260601.0.%s.qcow2" % (major, ver, arch),
            "Rocky-%s-Azure-Base-%s-20260601.0.%s.vhd" % (major, ver, arch)]


def build(root: Path, images) -> dict:
    dl = root / "dl"
    dl.mkdir(parents=True, exist_ok=True)
    for arch in ("x86_64", "aarch64"):
        _images(dl / "10.1" / "images" / arch, images,
                ["Rocky-10-GenericCloud-Base-10.1-20251116.0.%s.qcow2" % arch],
                ["Rocky-10-GenericCloud-Base-10.1-20251001.0.%s.qcow2" % arch] + _decoys("10", "10.1", arch))
    os.symlink("10.1", dl / "10")
    _images(dl / "9.10" / "images" / "x86_64", images, ["Rocky-9-GenericCloud-Base-9.10-20260520.0.x86_64.qcow2"],
            _decoys("9", "9.10", "x86_64"))
    _images(dl / "9.9" / "images" / "x86_64", images, ["Rocky-9-GenericCloud-Base-9.9-20251120.0.x86_64.qcow2"],
            _decoys("9", "9.9", "x86_64"))
    _images(dl / "9" / "images" / "x86_64", images, ["Rocky-9-GenericCloud-Base-9.10-20260520.0.x86_64.qcow2"],
            ["Rocky-9-GenericCloud-Base-9.9-20251120.0.x86_64.qcow2"] + _decoys("9", "9.10", "x86_64"))
    for f in ("RPM-GPG-KEY-Rocky-9", "RPM-GPG-KEY-Rocky-10", "fullfilelist"):
        (dl / f).write_text("x\n")
    (dl / "sig").mkdir()
    return {"latest_file": "Rocky-10-GenericCloud-Base-10.1-20251116.0.x86_64.qcow2"}
