# SPDX-License-Identifier: MIT
"""Formats imgfetch does not read are refused, never taken for raw disks;
qcow2 and vmdk tables that alias one stored cluster many times are held to
--max-size. Images come from qemu-img where it can write the format (vpc,
vhdx, vdi, qed, parallels, luks, qcow); Bochs, cloop and DMG, which qemu-img
only reads, are headers written here from their format definitions."""

import json
import struct
import subprocess
from pathlib import Path

from harness import MiB, check, eq, listing


def sh(*args):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("%s failed: %s" % (" ".join(map(str, args)), r.stderr[-1000:]))
    return r.stdout


QEMU_MADE = {  # qemu-img -f name: what the message calls it
    "vpc": "VHD", "vhdx": "VHDX", "vdi": "VDI", "qed": "QED", "parallels": "Parallels",
    "luks": "LUKS", "qcow": "QCOW (version 1)",
}


def qemu_image(t, fmt: str, extra=()) -> Path:
    path = t.dir("img") / ("disk." + fmt + ("-" + "-".join(extra).replace("=", "") if extra else ""))
    if fmt == "luks":
        # qemu-img times its PBKDF on the thread's CPU clock and, on a loaded
        # machine, now and then gives up ("Unable to get accurate CPU
        # usage"): a flake of the tool, not of what is tested, so retry it.
        argv = ["qemu-img", "create", "-f", "luks", "--object", "secret,id=s0,data=pw", "-o", "key-secret=s0",
                "-o", "iter-time=250", str(path), "8M"]
        for _ in range(5):
            r = subprocess.run(argv, capture_output=True, text=True)
            if r.returncode == 0 or "accurate CPU usage" not in r.stderr:
                break
        check(r.returncode == 0, "qemu-img create -f luks: %s" % r.stderr[-500:])
    else:
        sh("qemu-img", "create", "-f", fmt, *[x for e in extra for x in ("-o", e)], path, "8M")
    # qemu-img probes a fixed VHD (raw data + a 512-byte footer) as raw; it
    # must be named (-f vpc). imgfetch refuses it: as raw the disk would end
    # in the footer.
    named = ["-f", fmt] if extra else []
    info = json.loads(sh("qemu-img", "info", *named, "--output=json", path))
    eq(info["format"], fmt, "qemu-img reads its own %s image" % fmt)
    return path


def hand_made(t) -> dict[str, tuple[Path, str]]:
    d = t.dir("hand")
    bochs = d / "disk.bochs"
    hdr = bytearray(512)
    hdr[0:22] = b"Bochs Virtual HD Image"
    hdr[32:39] = b"Redolog"
    hdr[48:55] = b"Growing"
    bochs.write_bytes(bytes(hdr) + bytes(4096))
    cloop = d / "disk.cloop"
    cloop.write_bytes(b"#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n"
                      + bytes(128 - 84) + struct.pack(">II", 65536, 1) + bytes(4096))
    dmg = d / "disk.dmg"
    koly = bytearray(512)
    koly[0:4] = b"koly"
    struct.pack_into(">II", koly, 4, 4, 512)
    dmg.write_bytes(bytes(64 * 1024) + bytes(koly))
    return {"bochs": (bochs, "Bochs"), "cloop": (cloop, "cloop"), "dmg": (dmg, "DMG")}


def test_foreign_formats_refused(t):
    images = {f: (qemu_image(t, f), name) for f, name in QEMU_MADE.items()}
    images["vpc-fixed"] = (qemu_image(t, "vpc", ("subformat=fixed",)), "VHD")
    images.update(hand_made(t))
    out_dir = t.dir("out")
    for key, (img, name) in images.items():
        for fmt in ("raw", "qcow2"):
            r = t.run("convert", "-O", fmt, img, out_dir / "o").expect_rc(6, key)
            check("is a %s image" % name in r.stderr and "qemu-img" in r.stderr and "--input-format raw" in r.stderr,
                  "%s: the message names the format and the ways out: %s" % (key, r.stderr))
        eq(listing(out_dir), set(), "%s: nothing written" % key)
        j = t.run("info", img, "--json").ok().json()
        eq(j["supported"], False, "%s: info says unsupported" % key)
        eq(j["format"], "vpc" if key.startswith("vpc") else key, "%s: info names the format" % key)
        check(t.run("info", img).ok().stdout.startswith("format:"), "human info")
    # Inside a compressed stream too (there is no end to read: head magic only).
    xz = t.dir("xz") / "disk.vhdx.xz"
    sh("sh", "-c", "xz -T1 -c '%s' > '%s'" % (images["vhdx"][0], xz))
    r = t.run("convert", xz, out_dir / "o").expect_rc(6)
    check("VHDX" in r.stderr, r.stderr)
    eq(t.run("info", xz, "--json").ok().json()["format"], "vhdx", "info inside xz")
    # --input-format raw: the user says the bytes are a disk; they are copied as they are.
    vhdx = images["vhdx"][0]
    t.run("convert", "--input-format", "raw", vhdx, out_dir / "as-raw").ok()
    eq((out_dir / "as-raw").read_bytes(), vhdx.read_bytes(), "forced raw copies the bytes")
    t.run("convert", "--input-format", "vhdx", vhdx, out_dir / "x").expect_rc(2)


def test_supported_formats_still_detected(t):
    """The foreign probe must not catch what imgfetch reads."""
    for fmt, opts in (("qcow2", ()), ("vmdk", ("subformat=streamOptimized",)), ("raw", ())):
        img = t.dir("img") / ("d." + fmt)
        sh("qemu-img", "create", "-f", fmt, *[x for o in opts for x in ("-o", o)], img, "8M")
        j = t.run("info", img, "--json").ok().json()
        eq((j["format"], j["supported"]), (fmt, True), fmt)
        t.run("convert", img, t.dir("out") / ("o." + fmt)).ok()


def alias_qcow2(path: Path, virtual: int) -> None:
    """A valid qcow2 (qemu-img check is clean about everything but the
    refcounts) whose every L2 entry points at one data cluster."""
    cs = 65536
    n = virtual // cs
    per = cs // 8
    nl2 = (n + per - 1) // per
    l1, rt, rb, l2 = cs, 2 * cs, 3 * cs, 4 * cs
    data = (4 + nl2) * cs
    f = bytearray(data + cs)
    struct.pack_into(">4sIQIIQIIQQIIQ", f, 0, b"QFI\xfb", 3, 0, 0, 16, virtual, 0, nl2, l1, rt, 1, 0, 0)
    struct.pack_into(">QQQII", f, 72, 0, 0, 0, 4, 104)
    for i in range(nl2):
        struct.pack_into(">Q", f, l1 + 8 * i, (l2 + i * cs) | (1 << 63))
    struct.pack_into(">Q", f, rt, rb)
    for c in range(4 + nl2 + 1):
        struct.pack_into(">H", f, rb + 2 * c, 1)
    for i in range(n):
        struct.pack_into(">Q", f, l2 + 8 * i, data | (1 << 63))
    f[data:data + cs] = b"\xab" * cs
    path.write_bytes(bytes(f))


def test_qcow2_aliasing_bomb(t):
    img = t.dir("img") / "bomb.qcow2"
    alias_qcow2(img, 1 << 30)  # 1 GiB of data from a ~300 KiB file
    info = json.loads(sh("qemu-img", "info", "--output=json", img))
    eq(info["virtual-size"], 1 << 30, "qemu-img reads the bomb")
    out = t.dir("out")
    r = t.run("convert", "--max-size", "256M", img, out / "o.raw").expect_rc(6)
    check("more than 268435456 bytes of data" in r.stderr and "--max-size" in r.stderr, r.stderr)
    r = t.run("convert", "--max-size", "256M", "-O", "qcow2", img, out / "o.qcow2").expect_rc(6)
    eq(listing(out), set(), "nothing at the destination")
    t.run("info", "--max-size", "256M", img).expect_rc(6)
    # Inside xz the unpacked file is walked the same way.
    xz = t.dir("xz") / "bomb.qcow2.xz"
    sh("sh", "-c", "xz -T1 -c '%s' > '%s'" % (img, xz))
    check(xz.stat().st_size < 64 * 1024, "a small xz")
    t.run("convert", "--max-size", "256M", xz, out / "o.raw").expect_rc(6)
    eq(listing(out), set(), "nothing at the destination (xz)")
    # Within the bound it converts, byte for byte what qemu-img makes.
    t.run("convert", "--max-size", "2G", img, out / "ok.raw", timeout=120).ok()
    ref = t.dir("ref") / "ref.raw"
    sh("qemu-img", "convert", "-O", "raw", img, ref)
    sh("cmp", ref, out / "ok.raw")


def test_vmdk_aliasing_bomb(t):
    """A streamOptimized-free monolithicSparse vmdk whose grain tables all
    point at one grain."""
    img = t.dir("img") / "bomb.vmdk"
    sh("qemu-img", "create", "-f", "vmdk", img, "1G")
    b = bytearray(img.read_bytes())
    (magic, version, flags, capacity, grain, desc_off, desc_size, num_gte, rgd, gd, overhead) = struct.unpack_from(
        "<4sIIQQQQIQQQ", b, 0)
    eq(magic, b"KDMV", "a sparse vmdk")
    grain_bytes = grain * 512
    ngt = (capacity // grain + num_gte - 1) // num_gte
    data_sector = (len(b) + 511) // 512
    b += b"\xcd" * grain_bytes
    for gdo in (gd, rgd):
        for i in range(ngt):
            gt = struct.unpack_from("<I", b, gdo * 512 + 4 * i)[0]
            for j in range(num_gte):
                struct.pack_into("<I", b, gt * 512 + 4 * j, data_sector)
    img.write_bytes(bytes(b))
    out = t.dir("out")
    r = t.run("convert", "--max-size", "128M", img, out / "o.raw").expect_rc(6)
    check("vmdk tables describe more than" in r.stderr, r.stderr)
    eq(listing(out), set(), "nothing at the destination")
    t.run("convert", "--max-size", "2G", img, out / "ok.raw", timeout=120).ok()
    ref = t.dir("ref") / "ref.raw"
    sh("qemu-img", "convert", "-O", "raw", img, ref)
    sh("cmp", ref, out / "ok.raw")
