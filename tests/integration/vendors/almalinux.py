# SPDX-License-Identifier: MIT
"""AlmaLinux fixture: repo/ with integer major directories (symlinks to the
newest minor, as on the real mirror) beside major.minor ones and key files;
images directories with the -latest aliases, ext4 and OpenNebula variants
(dated newer than the GenericCloud build), an older GenericCloud build, AL9
names without the ".0", and a GNU CHECKSUM."""

import hashlib
import os
from pathlib import Path

from vendor_mirror import sha256_file

LATEST_FILE = "AlmaLinux-10-GenericCloud-10.2-20260526.0.x86_64.qcow2"


def _images(d: Path, images, arch: str, pick: str, decoys: list[str]):
    d.mkdir(parents=True, exist_ok=True)
    lines = []
    p = images.copy("qcow2", d / pick)
    lines.append("%s  %s" % (sha256_file(p), pick))
    for n in decoys:
        (d / n).write_bytes(b"not the image: " + n.encode())
        lines.append("%s  %s" % (hashlib.sha256((d / n).read_bytes()).hexdigest(), n))
    (d / "CHECKSUM").write_text("\n".join(sorted(lines, key=lambda x: x.split()[1])) + "\n")
    images.signer.detach(d / "CHECKSUM")


def build(root: Path, images) -> dict:
    repo = root / "repo"
    repo.mkdir(parents=True, exist_ok=True)
    for arch in ("x86_64", "aarch64"):
        _images(repo / "10.2" / "cloud" / arch / "images", images, arch,
                "AlmaLinux-10-GenericCloud-10.2-20260526.0.%s.qcow2" % arch,
                ["AlmaLinux-10-GenericCloud-10.2-20260410.0.%s.qcow2" % arch,
                 "AlmaLinux-10-GenericCloud-latest.%s.qcow2" % arch,
                 "AlmaLinux-10-GenericCloud-ext4-10.2-20260601.0.%s.qcow2" % arch,
                 "AlmaLinux-10-GenericCloud-ext4-latest.%s.qcow2" % arch,
                 "AlmaLinux-10-OpenNebula-10.2-20260601.0.%s.qcow2" % arch,
                 "AlmaLinux-10-GenericCloud-10.2-20260526.0.%s.qcow2.sha256sum" % arch])
    _images(repo / "10.2" / "cloud" / "x86_64_v2" / "images", images, "x86_64_v2",
            "AlmaLinux-10-GenericCloud-10.2-20260526.0.x86_64_v2.qcow2", [])
    _images(repo / "10.1" / "cloud" / "x86_64" / "images", images, "x86_64",
            "AlmaLinux-10-GenericCloud-10.1-20251125.0.x86_64.qcow2", [])
    _images(repo / "9.8" / "cloud" / "x86_64" / "images", images, "x86_64",
            "AlmaLinux-9-GenericCloud-9.8-20260526.x86_64.qcow2",
            ["AlmaLinux-9-GenericCloud-9.8-20260301.x86_64.qcow2", "AlmaLinux-9-GenericCloud-latest.x86_64.qcow2"])
    _images(repo / "9.6" / "cloud" / "x86_64" / "images", images, "x86_64",
            "AlmaLinux-9-GenericCloud-9.6-20250522.x86_64.qcow2", [])
    _images(repo / "8.10" / "cloud" / "x86_64" / "images", images, "x86_64",
            "AlmaLinux-8-GenericCloud-8.10-20250101.x86_64.qcow2", [])
    for major, minor in (("10", "10.2"), ("9", "9.8"), ("8", "8.10")):
        os.symlink(minor, repo / major)
    for f in ("RPM-GPG-KEY-AlmaLinux-9", "RPM-GPG-KEY-AlmaLinux-10", "almalinux-release-latest.rpm"):
        (repo / f).write_text("x\n")
    (repo / "vault").mkdir()
    return {"latest_file": LATEST_FILE}
