# SPDX-License-Identifier: MIT
"""Ubuntu fixture: releases/streams/v1/com.ubuntu.cloud:released:download.json
(simplestreams products:1.0) with supported LTS releases, a newer non-LTS
release, an unsupported old LTS that still has builds, an EOL LTS without
builds, amd64 and arm64 products, several serials per product (YYYYMMDD and
YYYYMMDD.N) and the usual non-disk items; image paths are relative to
releases/ (the directory holding streams/). Each release directory also has a
GNU SHA256SUMS with the '*' binary marker."""

import hashlib
import json
from pathlib import Path

# version -> (codename, title, supported, {arch: [serials, oldest first]})
RELEASES = {
    "14.04": ("trusty", "14.04 LTS", False, {"amd64": []}),
    "20.04": ("focal", "20.04 LTS", False, {"amd64": ["20250501"]}),
    "22.04": ("jammy", "22.04 LTS", True, {"amd64": ["20260901", "20261015"]}),
    "24.04": ("noble", "24.04 LTS", True, {"amd64": ["20260901", "20261020.1", "20261101"],
                                           "arm64": ["20261020.1"]}),
    "25.10": ("questing", "25.10", True, {"amd64": ["20261105"], "arm64": ["20261105"]}),
}


def _items(root: Path, images, codename, version, arch, serial, newest) -> dict:
    d = "server/releases/%s/release-%s" % (codename, serial)
    stem = "ubuntu-%s-server-cloudimg-%s" % (version, arch)
    items = {}
    for ftype, suffix in (("lxd.tar.xz", "-lxd.tar.xz"), ("manifest", ".manifest"), ("squashfs", ".squashfs"),
                          ("vmdk", ".vmdk"), ("tar.gz", ".tar.gz")):
        fake = hashlib.sha256((d + suffix).encode()).hexdigest()
        items[ftype] = {"ftype": ftype, "path": "%s/%s%s" % (d, stem, suffix), "sha256": fake, "size": 416,
                        "md5": fake[:32]}
    path = "%s/%s.img" % (d, stem)
    if newest:
        # Only the builds the resolver picks are on the mirror.
        img = images.copy("qcow2", root / "cloud" / "releases" / path)
        data = img.read_bytes()
        sums = img.parent / "SHA256SUMS"
        old = sums.read_text() if sums.exists() else ""
        sums.write_text(old + "%s *%s.img\n" % (hashlib.sha256(data).hexdigest(), stem))
        images.signer.detach(sums, ".gpg", armor=True)
        sha, size = hashlib.sha256(data).hexdigest(), len(data)
    else:
        sha, size = hashlib.sha256(path.encode()).hexdigest(), 583401472
    items["disk1.img"] = {"ftype": "disk1.img", "path": path, "sha256": sha, "size": size, "md5": sha[:32]}
    return items


def build(root: Path, images) -> dict:
    products = {}
    for version, (codename, title, supported, arches) in RELEASES.items():
        for arch, serials in arches.items():
            versions = {}
            for s in serials:
                versions[s] = {"items": _items(root, images, codename, version, arch, s, s == serials[-1]),
                               "label": "release", "pubname": "ubuntu-%s-%s-%s-server-%s" % (codename, version, arch, s)}
            products["com.ubuntu.cloud:server:%s:%s" % (version, arch)] = {
                "aliases": "%s,%s" % (version, codename), "arch": arch, "os": "ubuntu", "release": codename,
                "release_codename": codename.capitalize(), "release_title": title, "support_eol": "2030-05-31",
                "supported": supported, "version": version, "versions": versions}
    feed = {"content_id": "com.ubuntu.cloud:released:download", "creator": "climdb-download-streams-export",
            "datatype": "image-downloads", "format": "products:1.0",
            "license": "https://ubuntu.com/legal/intellectual-property-policy", "products": products,
            "updated": "Sun, 01 Nov 2026 03:28:23 +0000"}
    streams = root / "cloud" / "releases" / "streams" / "v1"
    streams.mkdir(parents=True, exist_ok=True)
    (streams / "com.ubuntu.cloud:released:download.json").write_text(json.dumps(feed, indent=1))
    return {"latest": "24.04-20261101"}
