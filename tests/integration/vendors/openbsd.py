# SPDX-License-Identifier: MIT
"""OpenBSD fixture: the GitHub API releases array of
hcartiaux/openbsd-cloud-image (newest build first, a draft, a prerelease,
a release without the image asset) and release assets under
download/<tag>/, with the .sha256 asset naming images/openbsd-min.qcow2
as the real one does."""

import json
from pathlib import Path

from vendor_mirror import sha256_file

LATEST = "v7.8_2025-10-22-15-14"
ASSET = "openbsd-min.qcow2"


def _release(tag: str, assets=(ASSET, ASSET + ".sha256"), draft=False, prerelease=False) -> dict:
    return {"tag_name": tag, "name": "OpenBSD " + tag, "draft": draft, "prerelease": prerelease,
            "published_at": "2025-10-22T15:14:00Z",
            "assets": [{"name": a, "size": 100, "content_type": "application/octet-stream",
                        "browser_download_url": "https://github.com/hcartiaux/openbsd-cloud-image/releases/"
                                                "download/%s/%s" % (tag, a)} for a in assets]}


def _assets(download: Path, images, tag: str) -> Path:
    p = images.copy("qcow2", download / tag / ASSET)
    (download / tag / (ASSET + ".sha256")).write_text("%s  images/%s\n" % (sha256_file(p), ASSET))
    return p


def build(root: Path, images) -> dict:
    rels = [
        _release("v7.9_2026-01-02-00-00", draft=True),
        _release("v7.9_2025-12-20-00-00", prerelease=True),
        _release(LATEST),
        _release("v7.8_2025-10-10-09-00"),
        _release("v7.8_2025-10-01-00-00", assets=("openbsd-min.raw",)),
        _release("v7.7_2025-05-01-10-20"),
    ]
    api = root / "api"
    api.mkdir(parents=True, exist_ok=True)
    (api / "releases").write_text(json.dumps(rels, indent=1))
    dl = root / "download"
    for tag in (LATEST, "v7.8_2025-10-10-09-00", "v7.7_2025-05-01-10-20"):
        _assets(dl, images, tag)
    return {"latest": LATEST}
