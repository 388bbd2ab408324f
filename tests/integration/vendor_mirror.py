# SPDX-License-Identifier: MIT
"""Local vendor mirrors for the catalog tests and the demo.

Every vendor has a fixture builder in vendors/<name>.py:

    def build(root: Path, images: Images) -> dict

which lays out the vendor's feeds, listings and checksum files under `root`
(one directory per base URL key, as `imgfetch vendors --json` lists them:
`--mirror VENDOR=URL` makes base KEY read from URL/KEY/), in the vendors'
real formats and with their documented quirks, around small real images
made at test time. It returns facts the tests assert on (versions, names).

    m = VendorMirror(t.tmp / "mirror", ["alpine", "debian"])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    args = m.mirror_args(ng)     # ["--mirror", "alpine=http://127.0.0.1:P/alpine/", ...]
"""

from __future__ import annotations

import atexit
import gzip
import hashlib
import importlib
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

AUTOINDEX = "autoindex on;"
MiB = 1 << 20


def sha256_file(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def sha512_file(p: Path) -> str:
    return hashlib.sha512(p.read_bytes()).hexdigest()


class Signer:
    """A throw-away OpenPGP key (ed25519, no passphrase, private GNUPGHOME),
    so that fixtures carry real signatures where vendors publish them: a
    mirror copies them, and resolvers must not mistake them for images."""

    def __init__(self, directory: Path):
        self.home: Path | None = None
        self._cleanup_registered = False

    def _key(self) -> None:
        if self.home is None:
            # gpg-agent's socket lives in the home: it must be a short path
            # (108 bytes for a socket), not one deep in a test directory.
            self.home = Path(tempfile.mkdtemp(prefix="ifgpg-", dir="/tmp"))
            self._gpg("--quick-gen-key", "imgfetch test vendor <vendor@example.invalid>", "ed25519", "sign", "never")

    def _gpg(self, *args: str) -> None:
        subprocess.run(["gpg", "--homedir", str(self.home), "--batch", "--yes", "--quiet", "--pinentry-mode",
                        "loopback", "--passphrase", "", *args], check=True, capture_output=True)

    def detach(self, path: Path, ext: str = ".asc", armor: bool | None = None) -> Path:
        """path + ext: a detached signature, armored for .asc (or when armor
        is True: Ubuntu's SHA256SUMS.gpg is armored despite its name), else
        binary."""
        out = Path(str(path) + ext)
        self._key()
        armor = ext == ".asc" if armor is None else armor
        self._gpg(*(["--armor"] if armor else []), "--detach-sign", "--output", str(out), str(path))
        return out

    def close(self) -> None:
        """Stops the gpg-agent signing started (it would outlive the test),
        keeping the key: later signatures (a test re-signing a changed file)
        must come from the same key. The home goes when the process ends."""
        if self.home is not None:
            subprocess.run(["gpgconf", "--homedir", str(self.home), "--kill", "all"], capture_output=True)
            if not self._cleanup_registered:
                atexit.register(shutil.rmtree, str(self.home), True)
                self._cleanup_registered = True

    def public_key(self, dest: Path) -> Path | None:
        """The signing key's public half, armoured, at dest (None before any
        signature was made): what a test passes as --keyring."""
        if self.home is None:
            return None
        self._gpg("--armor", "--export", "--output", str(dest))
        subprocess.run(["gpgconf", "--homedir", str(self.home), "--kill", "all"], capture_output=True)
        return dest

    def clearsign(self, text: str) -> str:
        """text wrapped in a clearsigned message (dash-escaping and all)."""
        self._key()
        assert self.home is not None
        src = self.home / "clearsign.in"
        src.write_text(text)
        out = self.home / "clearsign.out"
        self._gpg("--clearsign", "--output", str(out), str(src))
        return out.read_text()


class Images:
    """Small real disk images, made once per directory by qemu-img, xz and gzip:
    a raw disk with data and holes, and the same disk as qcow2 (compressed
    clusters), raw.xz, raw.gz and streamOptimized vmdk."""

    def __init__(self, directory: Path, size: int = 8 * MiB, seed: int = 7):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.raw = self.dir / "disk.raw"
        if not self.raw.exists():
            rng = random.Random(seed)
            with open(self.raw, "wb") as f:
                f.truncate(size)
                for off in range(0, size, 2 * MiB):
                    f.seek(off)
                    f.write(rng.randbytes(300000))
                    f.write(b"imgfetch vendor fixture %d\n" % off * 1000)
        self.qcow2 = self._make("disk.qcow2", ["qemu-img", "convert", "-c", "-O", "qcow2", str(self.raw)])
        self.vmdk = self._make("disk.vmdk", ["qemu-img", "convert", "-O", "vmdk", "-o", "subformat=streamOptimized",
                                             str(self.raw)])
        self.raw_xz = self.dir / "disk.raw.xz"
        if not self.raw_xz.exists():
            with open(self.raw, "rb") as fi, open(self.raw_xz, "wb") as fo:
                subprocess.run(["xz", "-T1", "-0", "-c"], stdin=fi, stdout=fo, check=True)
        self.raw_gz = self.dir / "disk.raw.gz"
        if not self.raw_gz.exists():
            self.raw_gz.write_bytes(gzip.compress(self.raw.read_bytes(), compresslevel=1, mtime=0))
        self.signer = Signer(self.dir)

    def _make(self, name: str, cmd: list[str]) -> Path:
        out = self.dir / name
        if not out.exists():
            subprocess.run(cmd + [str(out)], check=True, capture_output=True)
        return out

    def copy(self, kind: str, dest: Path) -> Path:
        """Copies the image of `kind` (qcow2, vmdk, raw, raw.xz, raw.gz) to dest."""
        src = {"qcow2": self.qcow2, "vmdk": self.vmdk, "raw": self.raw, "raw.xz": self.raw_xz,
               "raw.gz": self.raw_gz}[kind]
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        return dest


class VendorMirror:
    def __init__(self, root: Path, vendors: list[str], images: Images | None = None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.images = images or Images(self.root.parent / "vendor-images")
        self.vendors = list(vendors)
        self.facts: dict[str, dict] = {}
        try:
            for v in self.vendors:
                mod = importlib.import_module("vendors." + v.replace("-", "_"))
                self.facts[v] = mod.build(self.root / v, self.images) or {}
        finally:
            self.images.signer.close()

    def keyring(self) -> Path | None:
        """The public key the fixtures' signatures were made with."""
        return self.images.signer.public_key(self.root.parent / "vendor-signing-key.asc")

    def mirror_args(self, ng) -> list[str]:
        """--mirror for each vendor, and --keyring: the fixtures' signatures
        are made by a test key, trusted in place of the vendors' keys."""
        args = []
        for v in self.vendors:
            args += ["--mirror", "%s=%s" % (v, ng.url("/%s/" % v))]
        key = self.keyring()
        if key:
            args += ["--keyring", str(key)]
        return args


# ---- checks shared by the vendor tests -------------------------------------

def serve(t, vendor: str):
    """The vendor's mirror served by nginx with directory listings:
    (mirror, nginx, the --mirror arguments)."""
    m = VendorMirror(t.tmp / "mirror", [vendor])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    return m, ng, m.mirror_args(ng)


def resolve_json(t, vendor: str, args, *extra) -> dict:
    return t.run("resolve", vendor, *extra, "--json", *args).ok().json()


def check_malformed_root_index(t, vendor: str, index: Path, args) -> None:
    """A root index that is not a release listing (truncated, or another
    page) is a malformed feed (exit 6); without it the release is not found."""
    from harness import check
    for bad in ('<html><body><pre><a href="../">../</a>\n<a href="RPM-GPG', '<html>nope</html>'):
        index.write_text(bad)
        r = t.run("resolve", vendor, *args).expect_rc(6)
        check("lists no" in r.stderr, "names the problem: %r" % r.stderr)
    index.unlink()


def check_fetch_then_mismatch(t, m: VendorMirror, vendor: str, args, first: list[str], sums: Path, sums_text: str,
                              second: str) -> None:
    """fetch VENDOR *first gives the image's disk; after `sums` is replaced by
    `sums_text` (a wrong digest), fetch VENDOR second fails with exit 3 and
    writes nothing."""
    from harness import eq, listing
    out, cache = t.dir("out"), t.dir("cache")
    j = t.run("fetch", vendor, *first, "-o", out, "--cache-dir", cache, "--json", *args, timeout=120).ok().json()
    eq(open(j["path"], "rb").read(), m.images.raw.read_bytes(), "raw output is the image's disk")
    sums.write_text(sums_text)
    out2 = t.dir("out2")
    t.run("fetch", vendor, second, "-o", out2, "--cache-dir", t.dir("cache2"), *args, timeout=60).expect_rc(3)
    eq(listing(out2), set(), "nothing written after a mismatch")
