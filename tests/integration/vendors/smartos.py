# SPDX-License-Identifier: MIT
"""SmartOS fixture: the Manta tree Joyent_Dev/public/SmartOS/ — a `latest`
pointer file naming the current build's directory as a Manta path, one
directory per build with smartos-<id>-USB.img.gz among other platform
media and a GNU sha256sums.txt, and the directory listing Manta serves
(one JSON object per line) as the directory's index."""

import hashlib
import json
from pathlib import Path

from vendor_mirror import sha256_file

LATEST = "20261105T000000Z"
OLDER = "20261022T000000Z"


def _build(manta: Path, images, ident: str) -> Path:
    d = manta / ident
    usb = images.copy("raw.gz", d / ("smartos-%s-USB.img.gz" % ident))
    lines = []
    for other in ("platform-%s.tgz" % ident, "smartos-%s.iso" % ident):
        (d / other).write_bytes(b"not the image " + other.encode())
        lines.append("%s  %s" % (hashlib.sha256((d / other).read_bytes()).hexdigest(), other))
    lines.insert(1, "%s  %s" % (sha256_file(usb), usb.name))
    (d / "sha256sums.txt").write_text("\n".join(lines) + "\n")
    return usb


def build(root: Path, images) -> dict:
    manta = root / "manta"
    manta.mkdir(parents=True, exist_ok=True)
    for ident in (OLDER, LATEST):
        _build(manta, images, ident)
    (manta / "latest").write_text("/Joyent_Dev/public/SmartOS/%s\n" % LATEST)
    entries = [{"name": n, "type": "directory", "mtime": "2026-11-05T00:00:00.000Z"} for n in (OLDER, LATEST)]
    entries.append({"name": "latest", "etag": "x", "size": 44, "type": "object", "mtime": "2026-11-05T00:00:00.000Z"})
    entries.append({"name": "smartos.html", "type": "object", "size": 10})
    (manta / "index.html").write_text("".join(json.dumps(e) + "\n" for e in entries))
    return {"latest": LATEST, "older": OLDER}
