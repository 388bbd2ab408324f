# SPDX-License-Identifier: MIT
"""CentOS Stream fixture: cloud/ with <N>-stream/ directories (8-stream EOL,
no images) beside other trees; images/ with the -latest alias, ec2 and
container variants, the second "GenericCloud-<arch>-<N>" image, and a newest
dated build that is listed but not yet in the BSD CHECKSUM."""

import hashlib
from pathlib import Path

from vendor_mirror import sha256_file

LATEST_FILE = "CentOS-Stream-GenericCloud-10-20260720.0.x86_64.qcow2"
INCOMPLETE = "CentOS-Stream-GenericCloud-10-20260727.0.x86_64.qcow2"


def _images(d: Path, images, picks, decoys, unlisted=()):
    d.mkdir(parents=True, exist_ok=True)
    for n in picks:
        images.copy("qcow2", d / n)
    for n in list(decoys) + list(unlisted):
        (d / n).write_bytes(b"not the image: " + n.encode())
    out = []
    for n in sorted(list(picks) + list(decoys)):
        p = d / n
        out.append("# %s: %d bytes\nSHA256 (%s) = %s" % (n, p.stat().st_size, n, sha256_file(p)))
        (d / (n + ".SHA256SUM")).write_text(out[-1] + "\n")
    (d / "CHECKSUM").write_text("\n".join(out) + "\n")


def build(root: Path, images) -> dict:
    cloud = root / "cloud"
    for arch in ("x86_64", "aarch64"):
        _images(cloud / "10-stream" / arch / "images", images,
                ["CentOS-Stream-GenericCloud-10-20260720.0.%s.qcow2" % arch],
                ["CentOS-Stream-GenericCloud-10-20260713.0.%s.qcow2" % arch,
                 "CentOS-Stream-GenericCloud-10-20260706.12.%s.qcow2" % arch,
                 "CentOS-Stream-GenericCloud-10-latest.%s.qcow2" % arch,
                 "CentOS-Stream-GenericCloud-%s-10-20260801.0.%s.qcow2" % (arch, arch),
                 "CentOS-Stream-ec2-10-20260801.0.%s.raw.xz" % arch,
                 "CentOS-Stream-Container-Base-10-20260801.0.%s.tar.xz" % arch],
                unlisted=["CentOS-Stream-GenericCloud-10-20260727.0.%s.qcow2" % arch])
    _images(cloud / "9-stream" / "x86_64" / "images", images, ["CentOS-Stream-GenericCloud-9-20260715.0.x86_64.qcow2"],
            ["CentOS-Stream-GenericCloud-9-latest.x86_64.qcow2"])
    (cloud / "8-stream" / "x86_64").mkdir(parents=True)
    for d in ("altarch", "x86_64", "experimental"):
        (cloud / d).mkdir(exist_ok=True)
    return {"latest_file": LATEST_FILE, "incomplete": INCOMPLETE}
