# SPDX-License-Identifier: MIT
"""SmartOS/Triton zvol images written natively: `imgfetch convert -O zvol`
streams received by real ZFS (zfs-fuse), sent back by it and read by imgfetch
again; manifests; reproducibility; damaged streams."""

import gzip
import hashlib
import json
import subprocess
import uuid
from pathlib import Path

from harness import MiB, check, eq
from zfs_fuse import ZfsFuse

UUID_VECTOR = ("5c3ddb00f60bc455dac0862fabe9d8bacec46c33ac1751143c5c3683404b110d",
               "57fe71d0-ba70-5536-b4ae-c87222727b19")


def sh(*args, **kw):
    r = subprocess.run([str(a) for a in args], capture_output=True, **kw)
    if r.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (" ".join(map(str, args)), r.returncode,
                                                     r.stderr.decode(errors="replace")[-2000:]))
    return r.stdout


def make_disk(t, name: str, size: int, zero: bool = False) -> Path:
    """Data runs, zero runs and text; the size need not be a block multiple."""
    path = t.dir("src") / name
    with open(path, "wb") as f:
        f.truncate(size)
        off = 0
        while not zero and off < size:
            n = min(size - off, t.rng.choice([512, 4096, 8192, 65536, 200000, MiB]))
            k = t.rng.random()
            f.seek(off)
            if k < 0.45:
                f.write(t.rng.randbytes(n))
            elif k < 0.6:
                f.write(((b"zvol test %d\n" % off) * (n // 10 + 1))[:n])
            off += n
        f.truncate(size)
    return path


def os_like_qcow2(t, mib: int = 24) -> tuple[Path, Path]:
    """A vendor-like image: real binaries with zero gaps, as a compressed qcow2
    made by qemu-img. Returns (qcow2, its raw rendering by qemu-img)."""
    raw = t.dir("src") / "os.raw"
    files = sorted(p for p in Path("/usr/bin").iterdir() if p.is_file() and not p.is_symlink())
    with open(raw, "wb") as f:
        f.truncate(mib * MiB)
        pos = 0
        for p in files:
            data = p.read_bytes()[: 2 * MiB]
            if pos + len(data) > (mib - 2) * MiB:
                break
            f.seek(pos)
            f.write(data)
            pos += len(data) + t.rng.choice([0, 4096, 65536, 300000])
    qcow2 = t.dir("src") / "os.qcow2"
    sh("qemu-img", "convert", "-c", "-O", "qcow2", raw, qcow2)
    ref = t.dir("src") / "os.ref.raw"
    sh("qemu-img", "convert", "-O", "raw", qcow2, ref)
    return qcow2, ref


def gunzip(src: Path, dst: Path) -> Path:
    with gzip.open(src, "rb") as fi, open(dst, "wb") as fo:
        while True:
            b = fi.read(MiB)
            if not b:
                break
            fo.write(b)
    return dst


def same_padded(back: Path, src: Path, volsize: int) -> bool:
    """back holds src followed by zeros up to volsize."""
    if back.stat().st_size != volsize:
        return False
    with open(back, "rb") as a, open(src, "rb") as b:
        while True:
            x = b.read(MiB)
            if not x:
                break
            if a.read(len(x)) != x:
                return False
        rest = a.read()
        return rest.count(0) == len(rest)


def roundup_mib(n: int) -> int:
    return (n + MiB - 1) // MiB * MiB


def zfs_round_trip(t, z: ZfsFuse, src: Path, ref: Path, name: str, bs: int | None):
    """convert -> zfs receive -> volsize/volblocksize -> zfs send -> convert back -> compare."""
    out = t.dir("out") / (name + ".zfs.gz")
    args = ["convert", src, out, "-O", "zvol", "--json"] + (["--volblocksize", str(bs)] if bs else [])
    j = t.run(*args).ok().json()
    manifest = json.loads(Path(j["manifest_path"]).read_text())
    volsize = roundup_mib(ref.stat().st_size)
    eq(manifest["image_size"] * MiB, volsize, "%s: image_size in MiB" % name)
    stream = gunzip(out, t.dir("out") / (name + ".zfs"))
    ds = z.receive(stream, name)
    eq(int(z.get(ds, "volsize")), volsize, "%s: volsize after zfs receive" % name)
    eq(int(z.get(ds, "volblocksize")), bs or 8192, "%s: volblocksize after zfs receive" % name)
    eq(z.snapshots(ds), [ds + "@final"], "%s: the received snapshot" % name)
    back_stream = t.dir("out") / (name + ".back.zfs")
    z.send(ds + "@final", back_stream)
    info = t.run("info", back_stream, "--json").ok().json()
    # zfs-fuse sends in the older illumos order; with no data at all the
    # order cannot be told.
    order = "illumos" if info["allocated_bytes"] else info["subformat"]
    eq((info["format"], info["virtual_size"], info["cluster_size"], info["subformat"]),
       ("zvol", volsize, bs or 8192, order), "%s: info on zfs-fuse's own stream" % name)
    back = t.dir("out") / (name + ".back.raw")
    t.run("convert", back_stream, back).ok()
    check(same_padded(back, ref, volsize), "%s: the disk ZFS sent back equals the source, zero-padded" % name)


def test_zvol_received_by_zfs_fuse(t):
    a = make_disk(t, "a.raw", 6 * MiB + 12345)
    zero = make_disk(t, "zero.raw", 3 * MiB, zero=True)
    with ZfsFuse(t.dir("zfs")) as z:
        zfs_round_trip(t, z, a, a, "a8k", None)
        zfs_round_trip(t, z, a, a, "a4k", 4096)
        zfs_round_trip(t, z, a, a, "a128k", 131072)
        zfs_round_trip(t, z, zero, zero, "zero", None)


def test_zvol_vendor_like_image_received_by_zfs_fuse(t):
    qcow2, ref = os_like_qcow2(t)
    with ZfsFuse(t.dir("zfs")) as z:
        zfs_round_trip(t, z, qcow2, ref, "os", None)


def test_zvol_manifest_and_stream_fields(t):
    src = make_disk(t, "disk.raw", 5 * MiB + 100)
    out = t.dir("out") / "img.x86_64.zfs.gz"
    j = t.run("convert", src, out, "-O", "zvol", "--json", "--source-sha256", UUID_VECTOR[0],
              "--name", "custom", "--image-version", "1.2.3", "--description", "a test image",
              "--homepage", "https://example.org/", "--os", "linux", "--owner",
              "930896af-bf8c-48d4-885c-6573a94b1853", "--private", "--bios", "--ssh-key").ok().json()
    eq(j["manifest_path"], str(t.dir("out") / "img.json"), "manifest beside the file, without the arch")
    eq(j["uuid"], UUID_VECTOR[1], "UUID from the source sha256 (tritonadm's scheme)")
    m = json.loads(Path(j["manifest_path"]).read_text())
    data = out.read_bytes()
    eq(m["files"], [{"sha1": hashlib.sha1(data).hexdigest(), "size": len(data), "compression": "gzip"}],
       "files[0] is the .zfs.gz written")
    eq(j["sha1"], m["files"][0]["sha1"], "--json sha1")
    for k, v in {"v": 2, "uuid": UUID_VECTOR[1], "owner": "930896af-bf8c-48d4-885c-6573a94b1853",
                 "name": "custom", "version": "1.2.3", "state": "active", "disabled": False, "public": False,
                 "type": "zvol", "os": "linux", "description": "a test image",
                 "homepage": "https://example.org/", "image_size": 6, "nic_driver": "virtio",
                 "disk_driver": "virtio", "cpu_type": "host",
                 "tags": {"role": "os", "org.smartos:cloudinit_datasource": "nocloud"}}.items():
        eq(m.get(k), v, "manifest %s" % k)
    eq(m["requirements"], {"networks": [{"name": "net0", "description": "public"}], "brand": "bhyve",
                           "bootrom": "bios", "ssh_key": True, "min_platform": {"7.0": "20260306T044811Z"}},
       "requirements")
    check(len(m["published_at"]) == 20 and m["published_at"].endswith("Z"), "published_at is ISO 8601 UTC")
    sh("gzip", "-t", out)
    # One gzip member holding the stream; BEGIN names zones/<uuid>@final.
    raw = gzip.decompress(data)
    check(raw[8:16] == (0x2F5BACBAC).to_bytes(8, "little"), "BEGIN magic")
    eq(raw[56:56 + 64].rstrip(b"\0").decode(), "zones/%s@final" % UUID_VECTOR[1], "toname")
    info = t.run("info", out, "--json").ok().json()
    eq((info["format"], info["container"], info["virtual_size"], info["cluster_size"], info["subformat"]),
       ("zvol", "gzip", 6 * MiB, 8192, "openzfs"), "info on the .zfs.gz")
    # Defaults: public, uefi, no ssh_key for an anonymous image, the file's stem as name.
    out2 = t.dir("out") / "plain.zfs.gz"
    j2 = t.run("convert", src, out2, "-O", "zvol", "--json").ok().json()
    m2 = json.loads(Path(j2["manifest_path"]).read_text())
    eq((m2["name"], m2["public"], m2["requirements"]["bootrom"], "ssh_key" in m2["requirements"], m2["os"]),
       ("plain", True, "uefi", False, "other"), "default manifest fields")
    want = str(uuid.uuid5(uuid.UUID("bdf833c1-7263-58e2-891e-a8e846427562"),
                          hashlib.sha256(src.read_bytes()).hexdigest()))
    eq(j2["uuid"], want,
       "UUID computed from the input when not given")


def test_zvol_reproducible(t):
    src = make_disk(t, "disk.raw", 9 * MiB + 4096)
    outs = []
    for i, threads in enumerate(("1", "2", "4")):
        out = t.dir("r%d" % i) / "img.zfs.gz"
        t.run("convert", src, out, "-O", "zvol", "--reproducible", "-j", threads).ok()
        outs.append(out)
    check(outs[0].read_bytes() == outs[1].read_bytes() == outs[2].read_bytes(),
          "--reproducible: identical .zfs.gz whatever the thread count")
    check(outs[0].with_name("img.json").read_bytes() == outs[2].with_name("img.json").read_bytes(),
          "--reproducible: identical manifests")
    a = t.dir("n1") / "img.zfs.gz"
    b = t.dir("n2") / "img.zfs.gz"
    t.run("convert", src, a, "-O", "zvol").ok()
    t.run("convert", src, b, "-O", "zvol").ok()
    check(a.read_bytes() != b.read_bytes(), "without --reproducible every stream gets its own guid")
    ma, mb = (json.loads(p.with_name("img.json").read_text()) for p in (a, b))
    eq(ma["uuid"], mb["uuid"], "the UUID depends on the source only")


def test_zvol_read_back_without_zfs(t):
    src = make_disk(t, "disk.raw", 7 * MiB + 777)
    z = t.dir("out") / "d.zfs.gz"
    t.run("convert", src, z, "-O", "zvol", "--volblocksize", "16K").ok()
    back = t.dir("out") / "back.raw"
    j = t.run("convert", z, back, "--json").ok().json()
    eq(j["input"]["format"], "zvol", "input detected as a zvol stream")
    check(same_padded(back, src, 8 * MiB), "raw from the .zfs.gz equals the source")
    q = t.dir("out") / "back.qcow2"
    t.run("convert", z, q, "-O", "qcow2").ok()
    sh("qemu-img", "check", q)
    pad = t.dir("out") / "padded.raw"
    pad.write_bytes(src.read_bytes())
    with open(pad, "r+b") as f:
        f.truncate(8 * MiB)
    sh("qemu-img", "compare", "-f", "raw", "-F", "qcow2", pad, q)
    plain = gunzip(z, t.dir("out") / "d.zfs")
    back2 = t.dir("out") / "back2.raw"
    t.run("convert", plain, back2).ok()
    check(back2.read_bytes() == back.read_bytes(), "an uncompressed .zfs reads the same")
    # Another zvol from the zvol: same disk inside.
    z2 = t.dir("out") / "again.zfs.gz"
    j2 = t.run("convert", z, z2, "-O", "zvol", "--json").ok().json()
    eq((j2["input"]["format"], j2["input"]["virtual_size"], j2["input"]["cluster_size"], j2["input"]["subformat"]),
       ("zvol", 8 * MiB, 16384, "openzfs"), "zvol -> zvol: what the input stream said, as for any other output")
    back3 = t.dir("out") / "back3.raw"
    t.run("convert", z2, back3).ok()
    check(back3.read_bytes() == back.read_bytes(), "zvol -> zvol keeps the disk")


def test_zvol_damaged_streams_refused(t):
    src = make_disk(t, "disk.raw", 4 * MiB)
    z = t.dir("out") / "d.zfs.gz"
    t.run("convert", src, z, "-O", "zvol").ok()
    stream = bytearray(gzip.decompress(z.read_bytes()))
    cases = {
        "truncated": bytes(stream[: len(stream) // 2]),
        "flipped": bytes(stream[:5000]) + bytes([stream[5000] ^ 0x10]) + bytes(stream[5001:]),
        "trailing": bytes(stream) + b"\0" * 64,
    }
    for name, data in cases.items():
        p = t.dir("bad") / (name + ".zfs.gz")
        p.write_bytes(gzip.compress(data))
        out = t.dir("bad") / (name + ".raw")
        r = t.run("convert", p, out).expect_rc(6)
        check("zfs send stream" in r.stderr, "%s: the message names the stream: %s" % (name, r.stderr))
        check(not out.exists(), "%s: nothing written" % name)
    r = t.run("info", t.dir("bad") / "flipped.zfs.gz").expect_rc(6)
    check("checksum" in r.stderr, "info reports the checksum failure: %s" % r.stderr)
    # Options that make no sense are refused before anything happens.
    t.run("convert", src, t.dir("out") / "x.zfs.gz", "-O", "zvol", "--volblocksize", "3000").expect_rc(2)
    # 2^54 + 8 KiB: shifted to bytes it wraps around to 8192.
    t.run("convert", src, t.dir("out") / "x.zfs.gz", "-O", "zvol", "--volblocksize",
          "18014398509481992K").expect_rc(2)
    t.run("convert", src, t.dir("out") / "x.raw", "--volblocksize", "4096").expect_rc(2)
    t.run("convert", src, t.dir("out") / "x.zfs.gz", "-O", "zvol", "--os", "plan9").expect_rc(2)


def test_fetch_vendor_image_as_zvol(t):
    """imgfetch fetch alpine --format zvol through a local mirror: the pair is
    named as Triton's importers name it, the manifest carries the vendor's
    fields, the UUID comes from the verified download, and ZFS receives it."""
    from vendor_mirror import AUTOINDEX, VendorMirror, sha256_file
    m = VendorMirror(t.tmp / "mirror", ["alpine", "talos"])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    args = m.mirror_args(ng)
    out = t.dir("images")
    j = t.run("fetch", "alpine", "--arch", "x86_64", "--format", "zvol", "-o", out, "--json", *args,
              timeout=60).ok().json()
    stem = "alpine-%s-%s" % (j["series"], j["version"])
    eq(j["path"], str(out / (stem + ".x86_64.zfs.gz")), "the .zfs.gz name")
    eq(j["manifest_path"], str(out / (stem + ".json")), "the manifest name")
    eq(j["delivered"]["command"], "imgadm install -m %s -f %s" % (j["manifest_path"], j["path"]),
       "the default target prints the imgadm command")
    man = json.loads(Path(j["manifest_path"]).read_text())
    want_uuid = str(uuid.uuid5(uuid.UUID("bdf833c1-7263-58e2-891e-a8e846427562"), j["sha256"]))
    eq((man["uuid"], j["uuid"]), (want_uuid, want_uuid), "UUID from the verified source sha256")
    eq((man["name"], man["version"], man["os"], man["requirements"]["ssh_key"], man["requirements"]["bootrom"]),
       ("alpine-%s-nocloud" % j["series"], j["version"], "linux", True, "uefi"), "vendor fields")
    data = Path(j["path"]).read_bytes()
    eq((man["files"][0]["sha1"], man["files"][0]["size"]), (hashlib.sha1(data).hexdigest(), len(data)),
       "files[0]")
    eq(man["image_size"] * MiB, roundup_mib(j["virtual_size"]), "image_size")
    # The disk inside equals the vendor's image decoded by qemu-img.
    ref = t.dir("ref") / "ref.raw"
    sh("qemu-img", "convert", "-O", "raw", j["source_path"], ref)
    back = t.dir("ref") / "back.raw"
    t.run("convert", j["path"], back).ok()
    check(same_padded(back, ref, man["image_size"] * MiB), "the zvol holds the vendor's disk")
    # A second fetch reuses the cache and rebuilds the same UUID.
    j2 = t.run("fetch", "alpine", "--arch", "x86_64", "--format", "zvol", "-o", out, "--json", *args).ok().json()
    eq(j2["uuid"], j["uuid"], "same UUID on a rebuild")
    # Talos has no SSH: ssh_key false; aarch64 makes no sense for SmartOS.
    jt = t.run("fetch", "talos", "--arch", "x86_64", "--format", "zvol", "-o", out, "--json", *args,
               timeout=60).ok().json()
    mt = json.loads(Path(jt["manifest_path"]).read_text())
    eq((mt["requirements"]["ssh_key"], mt["name"]), (False, "talos-%s-nocloud" % jt["series"]), "talos: no ssh_key")
    r = t.run("fetch", "alpine", "--arch", "aarch64", "--format", "zvol", "-o", out, *args).expect_rc(2)
    check("x86_64" in r.stderr, "aarch64 refused with a reason: %s" % r.stderr)
    t.run("fetch", "alpine", "--format", "raw", "--volblocksize", "4096", *args).expect_rc(2)
    with ZfsFuse(t.dir("zfs")) as z:
        ds = z.receive(gunzip(Path(j["path"]), t.dir("zfs") / "a.zfs"), "alpine")
        eq(int(z.get(ds, "volsize")), man["image_size"] * MiB, "volsize = image_size MiB")


def test_zvol_holding_an_image_header_stays_raw(t):
    """A guest disk that starts with a qcow2 header is still a raw disk: a
    zvol holding one converts to the same bytes whatever the output format
    (the volume's content is never probed for an image format)."""
    inner = t.dir("src") / "inner.qcow2"
    sh("qemu-img", "create", "-f", "qcow2", inner, "64M")
    outer = t.dir("src") / "outer.qcow2"
    sh("qemu-img", "convert", "-f", "raw", "-O", "qcow2", inner, outer)
    z = t.dir("out") / "nested.zfs.gz"
    t.run("convert", outer, z, "-O", "zvol").ok()
    raw = t.dir("out") / "back.raw"
    t.run("convert", z, raw).ok()
    check(raw.read_bytes()[: inner.stat().st_size] == inner.read_bytes(), "raw output: the disk as stored")
    q = t.dir("out") / "back.qcow2"
    j = t.run("convert", z, q, "-O", "qcow2", "--json").ok().json()
    eq((j["input"]["format"], j["input"]["virtual_size"]), ("zvol", raw.stat().st_size),
       "qcow2 output: the input is the zvol's raw disk, not the image inside it")
    sh("qemu-img", "compare", "-f", "raw", "-F", "qcow2", raw, q)
    z2 = t.dir("out") / "again.zfs.gz"
    t.run("convert", z, z2, "-O", "zvol").ok()
    raw2 = t.dir("out") / "again.raw"
    t.run("convert", z2, raw2).ok()
    check(raw2.read_bytes() == raw.read_bytes(), "zvol output: the same disk")


def test_fetch_zvol_delivery_options(t):
    """fetch --format zvol --target smartos installs with imgadm and does not
    then tell the user to install it; --imgapi or --imgadm without their
    target are refused rather than ignored (the image would stay in DIR)."""
    import os
    from vendor_mirror import AUTOINDEX, VendorMirror
    m = VendorMirror(t.tmp / "mirror", ["alpine"])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    args = m.mirror_args(ng)
    out = t.dir("images")
    base = ("fetch", "alpine", "--arch", "x86_64", "--format", "zvol", "-o", out, *args)
    r = t.run(*base, "--imgapi", "http://127.0.0.1:1").expect_rc(2)
    check("--target imgapi" in r.stderr, "--imgapi alone: %r" % r.stderr)
    r = t.run(*base, "--imgadm", "/bin/true").expect_rc(2)
    check("--target smartos" in r.stderr, "--imgadm alone: %r" % r.stderr)
    check(not list(out.iterdir()), "nothing fetched on a usage error")
    imgadm = t.dir("bin") / "imgadm"
    imgadm.write_text("#!/bin/sh\n# stand-in for imgadm (records its arguments)\necho \"$@\" > %s\n"
                      % (t.tmp / "imgadm.args"))
    imgadm.chmod(0o755)
    env = {"PATH": "%s:%s" % (imgadm.parent, os.environ.get("PATH", "/usr/bin:/bin"))}
    r = t.run(*base, "--target", "smartos", timeout=60, env=env).ok()
    check((t.tmp / "imgadm.args").read_text().startswith("install -m "), "imgadm ran")
    check("install with" not in r.stderr and "delivered" in r.stderr,
          "after imgadm ran, no advice to install: %r" % r.stderr)


def test_zvol_bad_manifest_fields_refused_first(t):
    """A manifest field IMGAPI cannot take is refused before anything is
    written: not found out after the .zfs.gz is installed (which would stay
    behind without its manifest), and with a message that names the field."""
    import os
    src = make_disk(t, "disk.raw", 2 * MiB)
    out = t.dir("out") / "img.zfs.gz"
    r = t.run("convert", src, out, "-O", "zvol", "--owner", "alice").expect_rc(2)
    check("owner" in r.stderr and "UUID" in r.stderr, "--owner not a UUID: %r" % r.stderr)
    bad = os.fsencode("caf") + b"\xe9"   # Latin-1, not UTF-8
    r = t.run("convert", src, out, "-O", "zvol", "--name", os.fsdecode(bad)).expect_rc(2)
    check("UTF-8" in r.stderr and "--os" not in r.stderr, "--name not UTF-8: %r" % r.stderr)
    r = t.run("convert", src, t.dir("out") / (os.fsdecode(bad) + ".zfs.gz"), "-O", "zvol").expect_rc(2)
    check("UTF-8" in r.stderr, "an output name that is not UTF-8 (the default manifest name): %r" % r.stderr)
    eq(sorted(p.name for p in t.dir("out").iterdir()), [], "nothing written")
    t.run("convert", src, out, "-O", "zvol", "--owner", "930896af-bf8c-48d4-885c-6573a94b1853").ok()
    eq(json.loads(out.with_name("img.json").read_text())["owner"], "930896af-bf8c-48d4-885c-6573a94b1853",
       "a UUID owner is taken")


def test_zvol_from_a_stream_of_unknown_size(t):
    """A raw.gz (SmartOS's own vendor format) records no trustworthy size:
    the stream writer learns it at the end, so it is still one pass, no temp
    file; an empty disk is refused."""
    src = make_disk(t, "disk.raw", 5 * MiB + 3000)
    gz = t.dir("src") / "disk.raw.gz"
    gz.write_bytes(gzip.compress(src.read_bytes(), 1))
    out = t.dir("out") / "d.zfs.gz"
    r = t.run("convert", gz, out, "-O", "zvol", "-v", "--json").ok()
    check("unpacking" not in r.stderr, "no temporary unpacking: %s" % r.stderr)
    j = r.json()
    eq(j["input"]["virtual_size"], 5 * MiB + 3000, "the size found while converting")
    m = json.loads(Path(j["manifest_path"]).read_text())
    eq(m["image_size"], 6, "image_size from the size learnt at the end")
    back = t.dir("out") / "back.raw"
    t.run("convert", out, back).ok()
    check(same_padded(back, src, 6 * MiB), "the disk inside")
    # The stream frees from 0 instead of from volsize: ZFS takes it the same.
    with ZfsFuse(t.dir("zfs")) as z:
        zfs_round_trip(t, z, gz, src, "fromgz", None)
    empty = t.dir("src") / "empty.raw.gz"
    empty.write_bytes(gzip.compress(b""))
    r = t.run("convert", empty, t.dir("out") / "e.zfs.gz", "-O", "zvol").expect_rc(6)
    check("empty" in r.stderr and not (t.dir("out") / "e.zfs.gz").exists(), "empty disk refused: %s" % r.stderr)


def test_zvol_pair_is_all_or_nothing(t):
    """When the manifest cannot be written, the .zfs.gz does not stay behind
    alone (a directory in the manifest's place makes the write fail)."""
    src = make_disk(t, "disk.raw", 2 * MiB)
    out = t.dir("out") / "img.zfs.gz"
    (t.dir("out") / "img.json").mkdir()
    r = t.run("convert", src, out, "-O", "zvol").expect_rc(1)
    check("img.json" in r.stderr and "removed" in r.stderr, "the message says what happened: %s" % r.stderr)
    check(not out.exists(), "no .zfs.gz without its manifest")
