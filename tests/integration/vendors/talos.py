# SPDX-License-Identifier: MIT
"""Talos fixture: the GitHub releases API (releases/latest and
releases/tags/<tag> objects, a prerelease among them), the Image Factory's
GET /versions array, and factory image paths
image/<schematic>/<tag>/nocloud-<amd64|arm64>.raw.xz with the
"<hex>  <name>" .sha256 an enterprise factory serves (the tests model the
public factory's 402 with an nginx rule)."""

import json
from pathlib import Path

from vendor_mirror import sha256_file

EMPTY = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"
OTHER = "ab" * 32  # a schematic whose image exists but has no checksum (404)
LATEST = "v1.11.5"


def _release(tag: str, prerelease=False, draft=False) -> dict:
    return {"url": "https://api.github.com/repos/siderolabs/talos/releases/1", "tag_name": tag,
            "target_commitish": "release-" + tag[1:].rsplit(".", 1)[0], "name": tag, "draft": draft,
            "prerelease": prerelease, "published_at": "2026-10-01T12:00:00Z",
            "assets": [{"name": "talosctl-linux-amd64", "size": 1000,
                        "browser_download_url": "https://github.com/siderolabs/talos/releases/download/%s/"
                                                "talosctl-linux-amd64" % tag}]}


def _image(factory: Path, images, schematic: str, tag: str, arch: str, sidecar=True) -> Path:
    d = factory / "image" / schematic / tag
    p = images.copy("raw.xz", d / ("nocloud-%s.raw.xz" % arch))
    if sidecar:
        (d / (p.name + ".sha256")).write_text("%s  %s\n" % (sha256_file(p), p.name))
    return p


def build(root: Path, images) -> dict:
    gh = root / "github" / "releases"
    (gh / "tags").mkdir(parents=True, exist_ok=True)
    (gh / "latest").write_text(json.dumps(_release(LATEST), indent=1))
    for tag, pre in ((LATEST, False), ("v1.10.7", False), ("v1.12.0-beta.1", True)):
        (gh / "tags" / tag).write_text(json.dumps(_release(tag, prerelease=pre), indent=1))
    factory = root / "factory"
    factory.mkdir(parents=True, exist_ok=True)
    (factory / "versions").write_text(json.dumps(["v1.10.6", "v1.10.7", "v1.11.5", "v1.12.0-beta.1"]))
    _image(factory, images, EMPTY, LATEST, "amd64")
    _image(factory, images, EMPTY, LATEST, "arm64")
    _image(factory, images, EMPTY, "v1.10.7", "amd64")
    _image(factory, images, OTHER, LATEST, "amd64", sidecar=False)
    return {"latest": LATEST, "empty": EMPTY, "other": OTHER}
