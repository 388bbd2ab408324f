# SPDX-License-Identifier: MIT
"""FreeBSD fixture: VM-IMAGES/ with X.Y-RELEASE/ dirs whose numeric order
differs from the lexical one (9.3 < 14.3 < 15.0), a BETA dir and files
beside them; <arch>/Latest/ with ufs and zfs, cloud-init and plain images
and a BSD-format CHECKSUM.SHA256 (no comments) covering the .xz files; the
same lines clearsigned under www/releases/<X.Y>R/checksums/ as on
www.freebsd.org."""

from pathlib import Path

from vendor_mirror import sha256_file

LATEST = "15.0"


def _latest_dir(rel: Path, images, version: str, dir_arch: str, file_arch: str) -> str:
    d = rel / dir_arch / "Latest"
    lines = []
    main = "FreeBSD-%s-RELEASE-%s-BASIC-CLOUDINIT-ufs.raw.xz" % (version, file_arch)
    for name in (main, "FreeBSD-%s-RELEASE-%s-BASIC-CLOUDINIT-zfs.raw.xz" % (version, file_arch),
                 "FreeBSD-%s-RELEASE-%s-ufs.raw.xz" % (version, file_arch)):
        p = images.copy("raw.xz", d / name)
        lines.append("SHA256 (%s) = %s\n" % (name, sha256_file(p)))
    # A listed qcow2 that is not there: only the line matters.
    lines.insert(1, "SHA256 (FreeBSD-%s-RELEASE-%s-BASIC-CLOUDINIT-ufs.qcow2.xz) = %s\n"
                 % (version, file_arch, "ab" * 32))
    (d / "CHECKSUM.SHA256").write_text("".join(lines))
    # The signed copy of the release's VM image checksums, on the web site
    # (www/releases/<X.Y>R/checksums/), clearsigned.
    www = rel.parent.parent / "www" / "releases" / ("%sR" % version) / "checksums"
    www.mkdir(parents=True, exist_ok=True)
    (www / ("CHECKSUM.SHA256-FreeBSD-%s-RELEASE-%s-vm.asc" % (version, file_arch))).write_text(
        images.signer.clearsign("".join(lines)))
    (d / "CHECKSUM.SHA512").write_text("")
    return main


def build(root: Path, images) -> dict:
    top = root / "download"
    top.mkdir(parents=True, exist_ok=True)
    (top / "README.TXT").write_text("VM images\n")
    (top / "15.1-BETA2").mkdir()
    (top / "9.3-RELEASE" / "amd64").mkdir(parents=True)
    files = {}
    files["15.0/amd64"] = _latest_dir(top / "15.0-RELEASE", images, "15.0", "amd64", "amd64")
    files["15.0/aarch64"] = _latest_dir(top / "15.0-RELEASE", images, "15.0", "aarch64", "arm64-aarch64")
    (top / "15.0-RELEASE" / "riscv64").mkdir()
    files["14.3/amd64"] = _latest_dir(top / "14.3-RELEASE", images, "14.3", "amd64", "amd64")
    return {"latest": LATEST, "files": files}
