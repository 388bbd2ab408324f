# SPDX-License-Identifier: MIT
"""Debian fixture: the archive's dists/<suite>/Release (and a clearsigned
InRelease beside it) for stable/oldstable/oldoldstable, testing and unstable
(no Version field) and each codename; cloud/<codename>/latest/ with the
rolling image, SHA512SUMS (GNU, two spaces) and the per-image JSON manifest
whose Upload items (raw, internal tar.xz, qcow2) point at the dated image with
a "sha512:<base64 without padding>" digest. bullseye has no manifests (the
SHA512SUMS fallback), sid is daily only."""

import base64
import hashlib
import json
from pathlib import Path

from vendor_mirror import sha512_file

SUITES = {
    # suite -> (codename, version or None)
    "stable": ("trixie", "13.4"),
    "oldstable": ("bookworm", "12.15"),
    "oldoldstable": ("bullseye", "11.11"),
    "testing": ("forky", None),
    "unstable": ("sid", None),
}
SERIALS = {"trixie": "20260110-2350", "bookworm": "20260105-0007", "forky": "20261120-0012"}


def _release_text(suite: str, codename: str, version) -> str:
    lines = ["Origin: Debian", "Label: Debian", "Suite: %s" % suite]
    if version:
        lines.append("Version: %s" % version)
    lines += ["Codename: %s" % codename,
              "Changelogs: https://metadata.ftp-master.debian.org/changelogs/@CHANGEPATH@_changelog",
              "Date: Sat, 10 Jan 2026 10:16:37 UTC", "Acquire-By-Hash: yes",
              "Architectures: all amd64 arm64 armel armhf i386 mips64el mipsel ppc64el s390x",
              "Components: main contrib non-free-firmware non-free"]
    if version:
        lines.append("Description: Debian %s Released 10 January 2026" % version)
    else:
        lines.append("Description: Debian x.y %s - Not Released" % suite.capitalize())
    # The hash lists that follow the header (continuation lines).
    lines += ["MD5Sum:", " 0ed6d4c8891eb86358b94bb35d9e4da4  1484322 contrib/Contents-all",
              " d0a0325a97c42fd5f66a8c3e29bcea64    98581 contrib/Contents-all.gz",
              "SHA256:", " " + "ab" * 32 + "  1484322 contrib/Contents-all"]
    return "\n".join(lines) + "\n"


def digest_b64(data: bytes) -> str:
    return "sha512:" + base64.b64encode(hashlib.sha512(data).digest()).decode().rstrip("=")


def manifest(codename: str, major: str, arch: str, serial: str, qcow2_ref: str, qcow2_bytes: bytes,
             daily=False) -> dict:
    labels = {"cloud.debian.org/vendor": "genericcloud", "cloud.debian.org/version": serial,
              "debian.org/arch": arch, "debian.org/dist": "debian", "debian.org/release": codename}
    stem = qcow2_ref.rsplit(".", 1)[0]

    def upload(fmt, ref, digest):
        lab = dict(labels)
        lab["upload.cloud.debian.org/image-format"] = fmt
        lab["upload.cloud.debian.org/type"] = "daily" if daily else "release"
        return {"apiVersion": "cloud.debian.org/v1alpha1", "kind": "Upload",
                "data": {"familyRef": None, "provider": "cloud.debian.org", "ref": ref},
                "metadata": {"annotations": {"cloud.debian.org/digest": digest}, "labels": lab}}

    return {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "cloud.debian.org/v1alpha1", "kind": "Build",
         "data": {"info": {"arch": arch, "build_id": "cloud-admin-team-master", "release": codename,
                           "release_baseid": major, "release_id": major, "type": "official",
                           "vendor": "genericcloud", "version": serial},
                  "packages": [{"name": "adduser", "version": "3.152"}, {"name": "cloud-init", "version": "25.1.4-1"}]},
         "metadata": {"annotations": {"cloud.debian.org/digest": digest_b64(b"build")}, "labels": labels,
                      "uid": "eecd4d6b-0000-4000-8000-000000000000"}},
        # raw first: the resolver must look at the format label, not the order.
        upload("raw", stem + ".raw", digest_b64(b"raw image")),
        upload("internal", stem + ".tar.xz", digest_b64(b"tar image")),
        upload("qcow2", qcow2_ref, digest_b64(qcow2_bytes)),
    ]}


def _image_dir(cloud: Path, images, codename: str, major: str, arch: str, serial, daily=False, with_json=True):
    """The rolling dir (latest/ or daily/latest/) with image, SHA512SUMS and
    manifest, and the dated image the manifest points at."""
    sub = "daily/latest" if daily else "latest"
    d = cloud / codename / sub
    stem = "debian-%s-genericcloud-%s%s" % (major, arch, "-daily" if daily else "")
    rolling = images.copy("qcow2", d / (stem + ".qcow2"))
    sums = d / "SHA512SUMS"
    old = sums.read_text() if sums.exists() else ""
    sums.write_text(old + "%s  %s\n%s  %s\n" % ("1" * 128, stem + ".raw", sha512_file(rolling), stem + ".qcow2"))
    if not with_json:
        return None
    if daily:
        ref = "%s/daily/%s/%s-%s.qcow2" % (codename, serial, stem, serial)
    else:
        ref = "%s/%s/%s-%s.qcow2" % (codename, serial, stem, serial)
    dated = images.copy("qcow2", cloud / ref)
    m = manifest(codename, major, arch, serial, ref, dated.read_bytes(), daily)
    (d / (stem + ".json")).write_text(json.dumps(m, indent=4))
    return ref


def build(root: Path, images) -> dict:
    dists = root / "archive" / "dists"
    for suite, (codename, version) in SUITES.items():
        text = _release_text(suite, codename, version)
        for name in (suite, codename):
            (dists / name).mkdir(parents=True, exist_ok=True)
            (dists / name / "Release").write_text(text)
            (dists / name / "InRelease").write_text(images.signer.clearsign(text))
            images.signer.detach(dists / name / "Release", ".gpg")
    cloud = root / "cloud"
    refs = {}
    for arch in ("amd64", "arm64"):
        refs["trixie", arch] = _image_dir(cloud, images, "trixie", "13", arch, SERIALS["trixie"])
    refs["bookworm", "amd64"] = _image_dir(cloud, images, "bookworm", "12", "amd64", SERIALS["bookworm"])
    _image_dir(cloud, images, "bullseye", "11", "amd64", None, with_json=False)
    refs["forky", "amd64"] = _image_dir(cloud, images, "forky", "14", "amd64", SERIALS["forky"], daily=True)
    _image_dir(cloud, images, "sid", "sid", "amd64", None, daily=True, with_json=False)
    return {"serials": SERIALS, "refs": {"%s/%s" % k: v for k, v in refs.items()}}
