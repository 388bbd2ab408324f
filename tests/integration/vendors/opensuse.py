# SPDX-License-Identifier: MIT
"""openSUSE fixture: distribution/leap/ with 15.5, 15.6, 16.0 and an empty
16.1 (the newest dir has no image yet, as in May 2026); Leap 15 names
(openSUSE-Leap-15.6-…) with single-space sidecars and Leap 16 names
(Leap-16.0-…) whose rolling sidecar names the build-numbered file; the
kvm-and-xen flavour beside; tumbleweed/appliances/ and
ports/aarch64/tumbleweed/appliances/. _mc/leap.json is a MirrorCache
`?json` reply for distribution/leap/ (lists 15.5 and 15.6 only, so a test
can tell which was read) that the test's nginx serves for `?json`."""

import json
from pathlib import Path

from vendor_mirror import sha256_file


def _img(d: Path, images, name: str, side_name: str | None = None, sep: str = "  ") -> Path:
    p = images.copy("qcow2", d / name)
    (d / (name + ".sha256")).write_text("%s%s%s\n" % (sha256_file(p), sep, side_name or name))
    images.signer.detach(d / (name + ".sha256"))
    return p


def build(root: Path, images) -> dict:
    dl = root / "download"
    leap = dl / "distribution" / "leap"
    a155 = leap / "15.5" / "appliances"
    _img(a155, images, "openSUSE-Leap-15.5-Minimal-VM.x86_64-Cloud.qcow2", sep=" ")
    a156 = leap / "15.6" / "appliances"
    for arch in ("x86_64", "aarch64"):
        _img(a156, images, "openSUSE-Leap-15.6-Minimal-VM.%s-Cloud.qcow2" % arch, sep=" ")
        _img(a156, images, "openSUSE-Leap-15.6-Minimal-VM.%s-15.6.0-Cloud-Build19.143.qcow2" % arch, sep=" ")
        _img(a156, images, "openSUSE-Leap-15.6-Minimal-VM.%s-kvm-and-xen.qcow2" % arch)
    a160 = leap / "16.0" / "appliances"
    _img(a160, images, "Leap-16.0-Minimal-VM.x86_64-Cloud.qcow2", "Leap-16.0-Minimal-VM.x86_64-Cloud-Build16.2.qcow2")
    _img(a160, images, "Leap-16.0-Minimal-VM.x86_64-Cloud-Build16.2.qcow2")
    _img(a160, images, "Leap-16.0-Minimal-VM.x86_64-kvm-and-xen.qcow2")
    (leap / "16.1" / "appliances").mkdir(parents=True)
    (leap / "16.1" / "repo").mkdir()
    (leap / "15.6" / "repo").mkdir()
    (leap / "42.x-README").write_text("old\n")
    tw = dl / "tumbleweed" / "appliances"
    _img(tw, images, "openSUSE-Tumbleweed-Minimal-VM.x86_64-Cloud.qcow2",
         "openSUSE-Tumbleweed-Minimal-VM.x86_64-1.0.0-Cloud-Snapshot20261120.qcow2")
    _img(tw, images, "openSUSE-Tumbleweed-Minimal-VM.x86_64-1.0.0-Cloud-Snapshot20261120.qcow2")
    _img(tw, images, "openSUSE-Tumbleweed-Minimal-VM.x86_64-kvm-and-xen.qcow2")
    twa = dl / "ports" / "aarch64" / "tumbleweed" / "appliances"
    _img(twa, images, "openSUSE-Tumbleweed-Minimal-VM.aarch64-1.0.0-Cloud-Snapshot20261118.qcow2")
    _img(twa, images, "openSUSE-Tumbleweed-Minimal-VM.aarch64-1.0.0-Cloud-Snapshot20261103.qcow2")
    mc = root / "_mc"
    mc.mkdir(parents=True, exist_ok=True)
    (mc / "leap.json").write_text(json.dumps([
        {"name": "15.5/", "size": None, "mtime": 1700000000},
        {"name": "15.6/", "size": None, "mtime": 1720000000},
        {"name": "../", "size": None, "mtime": None},
        {"name": "README", "size": 120, "mtime": 1720000000},
    ]))
    return {"latest": "16.0"}
