# SPDX-License-Identifier: MIT
"""Alpine fixture: releases.json (newest release first per branch, an edge
branch without releases, a branch not released yet) and releases/cloud/
listings whose images carry revisions other than r0, with bare-hex
.sha512/.sha256 sidecars."""

import json
from pathlib import Path

from vendor_mirror import sha256_file, sha512_file

LATEST = "3.23.4"


def _image(cloud: Path, images, version: str, arch: str, rev: int, firmware="uefi", bootstrap="cloudinit",
           prefix="nocloud") -> Path:
    name = "%s_alpine-%s-%s-%s-%s-r%d.qcow2" % (prefix, version, arch, firmware, bootstrap, rev)
    p = images.copy("qcow2", cloud / name)
    (cloud / (name + ".sha512")).write_text(sha512_file(p) + "\n")
    (cloud / (name + ".sha256")).write_text(sha256_file(p) + "\n")
    return p


def build(root: Path, images) -> dict:
    feed = {
        "latest_stable": "v3.23",
        "release_branches": [
            {"rel_branch": "edge", "git_branch": "master", "arches": ["x86_64", "aarch64"]},
            {"rel_branch": "v3.24", "git_branch": "3.24-stable", "arches": ["x86_64"], "releases": []},
            {"rel_branch": "v3.23", "git_branch": "3.23-stable", "branch_date": "2025-12-03",
             "eol_date": "2027-11-01", "arches": ["x86_64", "aarch64", "armv7"],
             "releases": [{"version": LATEST, "date": "2026-09-01"}, {"version": "3.23.3", "date": "2026-05-01"}]},
            {"rel_branch": "v3.22", "git_branch": "3.22-stable", "arches": ["x86_64"],
             "releases": [{"version": "3.22.4", "date": "2026-04-01"}, {"version": "3.22.3"}]},
        ],
    }
    www = root / "www"
    www.mkdir(parents=True, exist_ok=True)
    (www / "releases.json").write_text(json.dumps(feed, indent=1))
    c23 = root / "cdn" / "v3.23" / "releases" / "cloud"
    # r0 and r2 exist; r2 is the rebuild to pick. Other clouds, bios and tiny
    # variants sit beside it, as on the real mirror.
    _image(c23, images, LATEST, "x86_64", 0)
    _image(c23, images, LATEST, "x86_64", 2)
    _image(c23, images, LATEST, "x86_64", 0, firmware="bios")
    _image(c23, images, LATEST, "x86_64", 0, bootstrap="tiny")
    _image(c23, images, LATEST, "x86_64", 0, prefix="aws")
    _image(c23, images, LATEST, "aarch64", 0)
    _image(c23, images, "3.23.3", "x86_64", 0)
    c22 = root / "cdn" / "v3.22" / "releases" / "cloud"
    _image(c22, images, "3.22.4", "x86_64", 1)
    _image(c22, images, "3.22.3", "x86_64", 0)
    return {"latest": LATEST, "latest_file": "nocloud_alpine-3.23.4-x86_64-uefi-cloudinit-r2.qcow2"}
