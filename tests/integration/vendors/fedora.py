# SPDX-License-Identifier: MIT
"""Fedora fixture: releases.json as fedoraproject.org serves it (a flat array,
size as a string, absolute links on download.fedoraproject.org) with a
"45 Beta" pre-release above the newest stable, GCE/EC2/UKI/Vagrant artifacts
beside the Generic qcow2, a secondary arch, and the images under download/
(the path below /pub/fedora/linux/)."""

import json
from pathlib import Path

from vendor_mirror import sha256_file

DL = "https://download.fedoraproject.org/pub/fedora/linux/"
LATEST = "44"
FAKE = "ab" * 32


def _entry(version, arch, path, sha=FAKE, size="123456", subvariant="Cloud_Base", variant="Cloud", base=DL):
    return {"version": version, "arch": arch, "link": base + path, "variant": variant, "subvariant": subvariant,
            "sha256": sha, "size": size}


def build(root: Path, images) -> dict:
    dl = root / "download"
    feed = []
    files = {}
    for version, build_id, arches in (("44", "1.7", ("x86_64", "aarch64")), ("43", "1.6", ("x86_64",))):
        for arch in arches:
            d = "releases/%s/Cloud/%s/images/" % (version, arch)
            name = "Fedora-Cloud-Base-Generic-%s-%s.%s.qcow2" % (version, build_id, arch)
            p = images.copy("qcow2", dl / d / name)
            files[(version, arch)] = name
            # The image directory's CHECKSUM: BSD lines with size comments, clearsigned.
            (dl / d / ("Fedora-Cloud-%s-%s-%s-CHECKSUM" % (version, build_id, arch))).write_text(
                images.signer.clearsign("# %s: %d bytes\nSHA256 (%s) = %s\n"
                                        % (name, p.stat().st_size, name, sha256_file(p))))
            feed += [
                _entry(version, arch, d + "Fedora-Cloud-Base-GCE-%s-%s.%s.tar.gz" % (version, build_id, arch)),
                _entry(version, arch, d + "Fedora-Cloud-Base-AmazonEC2-%s-%s.%s.raw.xz" % (version, build_id, arch)),
                _entry(version, arch, d + name, sha=sha256_file(p), size=str(p.stat().st_size)),
                _entry(version, arch, d + "Fedora-Cloud-Base-UEFI-UKI-%s-%s.%s.qcow2" % (version, build_id, arch),
                       subvariant="Cloud_Base_UKI"),
                _entry(version, arch, d + "Fedora-Cloud-Base-Vagrant-libvirt-%s-%s.%s.vagrant.libvirt.box"
                       % (version, build_id, arch)),
                _entry(version, arch, "releases/%s/Server/%s/images/Fedora-Server-KVM-%s-%s.%s.qcow2"
                       % (version, arch, version, build_id, arch), variant="Server", subvariant="Server_KVM"),
            ]
    # A pre-release above the newest stable, and a secondary arch.
    feed.append(_entry("45 Beta", "x86_64", "releases/test/45_Beta/Cloud/x86_64/images/"
                       "Fedora-Cloud-Base-Generic-45_Beta-1.2.x86_64.qcow2"))
    feed.append(_entry("44", "s390x", "releases/44/Cloud/s390x/images/Fedora-Cloud-Base-Generic-44-1.7.s390x.qcow2",
                       base="https://download.fedoraproject.org/pub/fedora-secondary/"))
    www = root / "www"
    www.mkdir(parents=True, exist_ok=True)
    (www / "releases.json").write_text(json.dumps(feed, indent=2))
    return {"latest": LATEST, "latest_file": files[("44", "x86_64")], "files": files}
