# SPDX-License-Identifier: MIT
"""OmniOS fixture: media/<stable|lts|bloody>/ directory listings holding the
channel's current images (cloud vmdk beside ISO/USB media, lts with a
refresh r151054r next to r151054, bloody named by date) with bare-hex
.sha256 sidecars."""

from pathlib import Path

from vendor_mirror import sha256_file

STABLE = "r151056"


def _image(d: Path, images, ident: str) -> Path:
    name = "omnios-%s.cloud.vmdk" % ident
    p = images.copy("vmdk", d / name)
    (d / (name + ".sha256")).write_text(sha256_file(p) + "\n")
    return p


def build(root: Path, images) -> dict:
    media = root / "media"
    st = media / "stable"
    _image(st, images, STABLE)
    for extra in ("omnios-%s.iso" % STABLE, "omnios-%s.usb-dd" % STABLE, "omnios-%s.cloud.raw.zst" % STABLE):
        (st / extra).write_text("not a cloud vmdk\n")
    lts = media / "lts"
    _image(lts, images, "r151054")
    _image(lts, images, "r151054r")
    bl = media / "bloody"
    _image(bl, images, "bloody-20261101")
    _image(bl, images, "bloody-20261115")
    return {"stable": STABLE}
