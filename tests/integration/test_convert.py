# SPDX-License-Identifier: MIT
"""imgfetch convert/info against qemu-img, the oracle: images made by qemu-img,
qemu-io, xz, gzip, zstd and bzip2 at test time; raw output must be
byte-identical to `qemu-img convert -O raw`, qcow2 output must pass
`qemu-img check` and `qemu-img compare`."""

import hashlib
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

from harness import MiB, check, eq, listing

SIZE = 24 * MiB + 64 * 1024  # not a multiple of 1 MiB: exercises the last unit


def sh(*args, **kw):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (" ".join(map(str, args)), r.returncode, r.stderr[-2000:]))
    return r.stdout


def make_source(t, name="src.raw") -> Path:
    """An OS-disk-like raw image: data runs, zero runs, a hole, a partial tail."""
    path = t.dir("src") / name
    rng = t.rng
    with open(path, "wb") as f:
        f.truncate(SIZE)
        off = 0
        while off < SIZE:
            n = min(SIZE - off, rng.choice([4096, 65536, 300000, MiB, 3 * MiB]))
            kind = rng.random()
            if kind < 0.45:
                f.seek(off)
                f.write(rng.randbytes(n))
            elif kind < 0.6:
                f.seek(off)
                # Compressible but not zero: text-like data.
                f.write((b"imgfetch test pattern %d\n" % off) * (n // 32 + 1))
            off += n
        f.truncate(SIZE)
    return path


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            h.update(chunk)
    return h.hexdigest()


def qemu_raw(t, image: Path, fmt: str | None = None) -> Path:
    out = t.dir("ref") / (image.name + ".ref.raw")
    args = ["qemu-img", "convert"] + (["-f", fmt] if fmt else []) + ["-O", "raw", image, out]
    sh(*args)
    return out


def convert_and_compare(t, image: Path, fmt: str | None = None):
    ref = qemu_raw(t, image, fmt)
    out = t.dir("out") / (image.name + ".raw")
    r = t.run("convert", image, out, "--json", timeout=120).ok()
    eq(digest(out), digest(ref), "raw output of %s vs qemu-img convert -O raw" % image.name)
    eq(out.stat().st_size, ref.stat().st_size, "raw output size")
    j = r.json()
    eq(j["input"]["virtual_size"], ref.stat().st_size, "reported virtual size")
    # Sparse: the output allocates no more than the reference does (plus slack for blocks).
    check(out.stat().st_blocks * 512 <= ref.stat().st_blocks * 512 + 2 * MiB,
          "output is sparse: %d allocated vs qemu's %d" % (out.stat().st_blocks * 512, ref.stat().st_blocks * 512))
    return j


def qcow2_from(t, src: Path, name: str, *opts: str, compress: bool = False) -> Path:
    img = t.dir("img") / name
    args = ["qemu-img", "convert", "-f", "raw", "-O", "qcow2"]
    if compress:
        args.append("-c")
    if opts:
        args += ["-o", ",".join(opts)]
    sh(*args, src, img)
    return img


# ------------------------------------------------------------------ qcow2 in

def test_qcow2_v2_compat010(t):
    src = make_source(t)
    j = convert_and_compare(t, qcow2_from(t, src, "v2.qcow2", "compat=0.10"))
    eq(j["input"]["format"], "qcow2", "format")
    eq(j["input"]["version"], 2, "version")


def test_qcow2_v3_compat11(t):
    src = make_source(t)
    j = convert_and_compare(t, qcow2_from(t, src, "v3.qcow2", "compat=1.1"))
    eq(j["input"]["version"], 3, "version")


def test_qcow2_zlib_compressed(t):
    src = make_source(t)
    img = qcow2_from(t, src, "zlib.qcow2", "compression_type=zlib", compress=True)
    j = convert_and_compare(t, img)
    eq(j["input"]["compression"], "zlib", "compression")


def test_qcow2_zstd_compressed(t):
    src = make_source(t)
    img = qcow2_from(t, src, "zstd.qcow2", "compression_type=zstd", compress=True)
    j = convert_and_compare(t, img)
    eq(j["input"]["compression"], "zstd", "compression")


def test_qcow2_cluster_sizes(t):
    src = make_source(t)
    for cs in ("512", "4096", "65536", "2M"):
        convert_and_compare(t, qcow2_from(t, src, "cs%s.qcow2" % cs, "cluster_size=" + cs))
        convert_and_compare(t, qcow2_from(t, src, "cs%s-c.qcow2" % cs, "cluster_size=" + cs, compress=True))


def test_qcow2_extended_l2(t):
    src = make_source(t)
    img = qcow2_from(t, src, "el2.qcow2", "extended_l2=on", "cluster_size=128K")
    # Subclusters: zero a range that is smaller than a cluster.
    sh("qemu-io", "-f", "qcow2", "-c", "write -z 1M 8K", "-c", "write -P 0x5a 3M 4K", img)
    j = convert_and_compare(t, img)
    check("extended_l2" in (j["input"]["features"] or ""), "features mention extended_l2: %r" % j["input"])


def test_qcow2_preallocation_metadata_and_zero_clusters(t):
    img = t.dir("img") / "prealloc.qcow2"
    sh("qemu-img", "create", "-f", "qcow2", "-o", "preallocation=metadata", img, "16M")
    sh("qemu-io", "-f", "qcow2", "-c", "write -P 0xab 0 2M", "-c", "write -z 4M 2M", "-c", "write -P 0xcd 9M 100K",
       img)
    convert_and_compare(t, img)


def test_qcow2_zero_clusters_over_data(t):
    src = make_source(t)
    img = qcow2_from(t, src, "zero.qcow2")
    sh("qemu-io", "-f", "qcow2", "-c", "write -z 0 4M", "-c", "write -z 10M 1M", img)
    convert_and_compare(t, img)


# ------------------------------------------------------------------- vmdk in

def test_vmdk_stream_optimized(t):
    src = make_source(t)
    img = t.dir("img") / "so.vmdk"
    sh("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", src, img)
    j = convert_and_compare(t, img, "vmdk")
    eq(j["input"]["format"], "vmdk", "format")
    eq(j["input"]["subformat"], "streamOptimized", "subformat")


def test_vmdk_monolithic_sparse(t):
    src = make_source(t)
    img = t.dir("img") / "ms.vmdk"
    sh("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=monolithicSparse", src, img)
    j = convert_and_compare(t, img, "vmdk")
    eq(j["input"]["subformat"], "monolithicSparse", "subformat")


def test_vmdk_descriptor_with_extents_refused(t):
    img = t.dir("img") / "flat.vmdk"
    sh("qemu-img", "create", "-f", "vmdk", "-o", "subformat=monolithicFlat", img, "8M")
    out = t.dir("out") / "x.raw"
    r = t.run("convert", img, out).expect_rc(6)
    check("extent" in r.stderr, "message names the external extents: %r" % r.stderr)
    check(not out.exists(), "no output")


# ----------------------------------------------------------------- streams in

def _stream(t, src: Path, tool: list[str], suffix: str) -> Path:
    out = t.dir("img") / (src.name + suffix)
    with open(src, "rb") as fi, open(out, "wb") as fo:
        subprocess.run(tool, stdin=fi, stdout=fo, check=True)
    return out


def test_raw_xz_single_and_multi_block(t):
    src = make_source(t)
    for tool, name in ((["xz", "-T1", "-c"], ".xz"), (["xz", "-T2", "--block-size=1MiB", "-c"], ".mb.xz")):
        img = _stream(t, src, tool, name)
        out = t.dir("out") / (img.name + ".raw")
        r = t.run("convert", img, out, "--json", timeout=120).ok()
        eq(digest(out), digest(src), "decoded %s" % img.name)
        eq(r.json()["input"]["container"], "xz", "container")
        info = t.run("info", img, "--json").ok().json()
        eq(info["virtual_size"], SIZE, "virtual size from the xz index")


def _xz_blocks(img: Path) -> list[tuple[int, int]]:
    """(file offset, total size) of every block, from xz --robot --list."""
    out = sh("xz", "--robot", "-lvv", img)
    return [(int(f[4]), int(f[6])) for f in (line.split("\t") for line in out.splitlines()) if f[0] == "block"]


def test_xz_blocks_decoded_in_parallel(t):
    """Multi-block files go block-parallel to files; pipes and -j1 take the
    sequential decoder; all must give the same bytes, whatever the check."""
    src = make_source(t)
    want = digest(src)
    half = t.dir("src") / "half.raw"
    half.write_bytes(src.read_bytes()[:5 * MiB + 12345])
    for check_kind in ("crc32", "crc64", "sha256", "none"):
        img = _stream(t, src, ["xz", "-T2", "--block-size=1MiB", "--check=" + check_kind, "-c"], ".%s.xz" % check_kind)
        out = t.dir("out") / (img.name + ".raw")
        r = t.run("convert", "-v", "-j", "2", img, out, timeout=120).ok()
        check("xz blocks on 2 threads" in r.stderr, "block-parallel decoder used for %s: %r" % (check_kind, r.stderr))
        eq(digest(out), want, "block-parallel decode, check %s" % check_kind)
    # Two multi-block streams with stream padding between them; block sizes
    # that are not a multiple of anything.
    a = _stream(t, half, ["xz", "-T2", "--block-size=700001", "-c"], ".a.xz")
    rest = t.dir("src") / "rest.raw"
    rest.write_bytes(src.read_bytes()[5 * MiB + 12345:])
    b = _stream(t, rest, ["xz", "-T2", "--block-size=1500000", "-c"], ".b.xz")
    cat = t.dir("img") / "two-streams.raw.xz"
    cat.write_bytes(a.read_bytes() + bytes(8) + b.read_bytes())
    for extra, name in (([], "parallel"), (["-j", "1"], "one thread")):
        out = t.dir("out") / ("cat-%s.raw" % name.replace(" ", "-"))
        t.run("convert", *extra, cat, out, timeout=120).ok()
        eq(digest(out), want, "two padded multi-block streams, %s" % name)
    check(out.stat().st_blocks * 512 < SIZE, "sparse output from parallel blocks")
    r = subprocess.run([t.bin, "convert", str(cat), "-"], capture_output=True, env=t.env, timeout=120)
    eq(r.returncode, 0, "exit code to a pipe (stderr %s)" % r.stderr[-500:])
    eq(hashlib.sha256(r.stdout).hexdigest(), want, "the same to a pipe (in-order decoder)")


def test_xz_blocks_damage(t):
    src = make_source(t)
    img = _stream(t, src, ["xz", "-T2", "--block-size=1MiB", "-c"], ".mb.xz")
    blocks = _xz_blocks(img)
    check(len(blocks) >= 8, "enough blocks to damage one in the middle")
    data = img.read_bytes()
    d = t.dir("hostile")
    off, size = blocks[5]
    # A flipped byte in the compressed data of block 6: the block's check fails.
    bad = bytearray(data)
    bad[off + size // 2] ^= 0x55
    (d / "data.raw.xz").write_bytes(bad)
    _expect_bad(t, d / "data.raw.xz", ("corrupt", "block"), "-j", "2")
    # A damaged block header (its CRC32 no longer matches).
    bad = bytearray(data)
    bad[off + 2] ^= 0x01
    (d / "header.raw.xz").write_bytes(bad)
    _expect_bad(t, d / "header.raw.xz", ("corrupt", "header"), "-j", "2")
    # Cut in the middle: the index at the end is gone, so it is decoded in
    # order and reported as truncated.
    (d / "cut.raw.xz").write_bytes(data[:blocks[4][0] + 100])
    _expect_bad(t, d / "cut.raw.xz", ("truncat", "unexpected end"), "-j", "2")


def test_raw_gzip_zstd_bzip2(t):
    src = make_source(t)
    for tool, suffix, name in ((["gzip", "-c"], ".gz", "gzip"), (["zstd", "-q", "-c"], ".zst", "zstd"),
                               (["bzip2", "-c"], ".bz2", "bzip2")):
        img = _stream(t, src, tool, suffix)
        out = t.dir("out") / (img.name + ".raw")
        r = t.run("convert", img, out, "--json", timeout=120).ok()
        eq(digest(out), digest(src), "decoded " + img.name)
        eq(r.json()["input"]["container"], name, "container")
        check(out.stat().st_blocks * 512 < SIZE, "sparse output from a stream")


def test_multi_stream_xz_and_multi_member_gzip(t):
    src = make_source(t)
    half = t.dir("src") / "half.raw"
    data = src.read_bytes()
    cut = 10 * MiB
    half.write_bytes(data[:cut])
    rest = t.dir("src") / "rest.raw"
    rest.write_bytes(data[cut:])
    for tool, suffix in ((["xz", "-c"], ".xz"), (["gzip", "-c"], ".gz"), (["zstd", "-q", "-c"], ".zst")):
        cat = t.dir("img") / ("multi" + suffix)
        cat.write_bytes(_stream(t, half, tool, suffix).read_bytes() + _stream(t, rest, tool, suffix).read_bytes())
        out = t.dir("out") / (cat.name + ".raw")
        t.run("convert", cat, out, timeout=120).ok()
        eq(digest(out), digest(src), "concatenated " + cat.name)


def test_qcow2_inside_xz(t):
    src = make_source(t)
    img = qcow2_from(t, src, "in.qcow2", compress=True)
    xz = _stream(t, img, ["xz", "-T2", "-c"], ".xz")
    out = t.dir("out") / "x.raw"
    r = t.run("convert", xz, out, "--json", timeout=120).ok()
    eq(digest(out), digest(src), "qcow2.xz decoded and converted")
    eq((r.json()["input"]["format"], r.json()["input"]["container"]), ("qcow2", "xz"), "format in container")
    eq(listing(out.parent), {"x.raw"}, "no temp file left beside the output")


def test_raw_to_stdout(t):
    src = make_source(t)
    img = qcow2_from(t, src, "s.qcow2", compress=True)
    r = subprocess.run([t.bin, "convert", str(img), "-"], capture_output=True, env=t.env)
    eq(r.returncode, 0, "exit code (stderr %s)" % r.stderr[-500:])
    eq(hashlib.sha256(r.stdout).hexdigest(), digest(src), "raw on stdout")


# ----------------------------------------------------------------- qcow2 out

def _check_qcow2_out(t, src: Path, out: Path, compression: str | None):
    r = subprocess.run(["qemu-img", "check", "-f", "qcow2", str(out)], capture_output=True, text=True)
    eq(r.returncode, 0, "qemu-img check exit code: %s%s" % (r.stdout[-1500:], r.stderr[-500:]))
    check("No errors were found" in r.stdout, "qemu-img check reports no errors: %s" % r.stdout[-1000:])
    sh("qemu-img", "compare", "-f", "raw", "-F", "qcow2", src, out)
    info = json.loads(sh("qemu-img", "info", "--output=json", out))
    eq(info["virtual-size"], src.stat().st_size, "qemu-img sees the virtual size")
    if compression:
        eq(info["format-specific"]["data"].get("compression-type"), compression, "compression type")


def test_qcow2_output_plain_zlib_zstd(t):
    src = make_source(t)
    for comp in (None, "zlib", "zstd"):
        out = t.dir("out") / ("o-%s.qcow2" % comp)
        args = ["convert", src, out, "-O", "qcow2"] + (["--compress", comp] if comp else [])
        t.run(*args, timeout=120).ok()
        _check_qcow2_out(t, src, out, comp)
        if comp:
            check(out.stat().st_size < src.stat().st_size // 2, "compressed output is smaller")


def test_qcow2_output_cluster_sizes(t):
    src = make_source(t)
    for cs in ("512", "4096", "2M"):
        out = t.dir("out") / ("cs%s.qcow2" % cs)
        t.run("convert", src, out, "-O", "qcow2", "--cluster-size", cs, "--compress", "zlib", timeout=120).ok()
        _check_qcow2_out(t, src, out, "zlib")


def test_qcow2_to_qcow2_from_vmdk(t):
    src = make_source(t)
    img = t.dir("img") / "so.vmdk"
    sh("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", src, img)
    out = t.dir("out") / "from-vmdk.qcow2"
    t.run("convert", img, out, "-O", "qcow2", "--compress", "zstd", timeout=120).ok()
    _check_qcow2_out(t, src, out, "zstd")


# ------------------------------------------------------------------- info

def test_info_matches_qemu(t):
    src = make_source(t)
    img = qcow2_from(t, src, "i.qcow2", "cluster_size=4096", compress=True)
    j = t.run("info", img, "--json").ok().json()
    q = json.loads(sh("qemu-img", "info", "--output=json", img))
    eq(j["format"], "qcow2", "format")
    eq(j["virtual_size"], q["virtual-size"], "virtual size")
    eq(j["cluster_size"], 4096, "cluster size")
    eq(j["file_size"], img.stat().st_size, "file size")
    check(0 < j["allocated_bytes"] <= SIZE, "allocated bytes in range: %r" % j)
    human = t.run("info", img).ok().stdout
    check("qcow2" in human and str(SIZE) in human, "human output: %r" % human)


# ---------------------------------------------------------------- hostile

def _expect_bad(t, img: Path, words: tuple[str, ...], *extra):
    out = t.dir("out") / (img.name + ".raw")
    r = t.run("convert", img, out, *extra, timeout=60).expect_rc(6)
    low = r.stderr.lower()
    check(any(w in low for w in words), "message for %s mentions one of %s: %r" % (img.name, words, r.stderr))
    check(not out.exists(), "no output for " + img.name)
    check(not any(p.name.startswith(".") for p in out.parent.iterdir()), "no temp file left")


def test_hostile_qcow2(t):
    src = make_source(t)
    good = qcow2_from(t, src, "good.qcow2").read_bytes()
    d = t.dir("hostile")
    trunc = d / "truncated.qcow2"
    trunc.write_bytes(good[:len(good) // 2])
    _expect_bad(t, trunc, ("beyond", "past", "truncat", "outside", "end of"))
    big_l1 = bytearray(good)
    big_l1[36:40] = (0x7FFFFFFF).to_bytes(4, "big")   # l1_size
    (d / "l1.qcow2").write_bytes(big_l1)
    _expect_bad(t, d / "l1.qcow2", ("l1",))
    unaligned = bytearray(good)
    off = int.from_bytes(good[40:48], "big") + 8
    unaligned[40:48] = off.to_bytes(8, "big")          # l1_table_offset
    (d / "unaligned.qcow2").write_bytes(unaligned)
    _expect_bad(t, d / "unaligned.qcow2", ("align", "l1"))
    cb = bytearray(good)
    cb[20:24] = (30).to_bytes(4, "big")                # cluster_bits
    (d / "cb.qcow2").write_bytes(cb)
    _expect_bad(t, d / "cb.qcow2", ("cluster",))
    enc = bytearray(good)
    enc[32:36] = (2).to_bytes(4, "big")                # crypt_method LUKS
    (d / "enc.qcow2").write_bytes(enc)
    _expect_bad(t, d / "enc.qcow2", ("encrypt",))


def test_backing_file_refused(t):
    d = t.dir("hostile")
    base = d / "base.qcow2"
    sh("qemu-img", "create", "-f", "qcow2", base, "8M")
    over = d / "overlay.qcow2"
    sh("qemu-img", "create", "-f", "qcow2", "-b", base.name, "-F", "qcow2", over)
    _expect_bad(t, over, ("backing",))


def test_bombs_and_broken_streams(t):
    d = t.dir("hostile")
    zeros = d / "zeros.raw"
    with open(zeros, "wb") as f:
        f.truncate(64 * MiB)
    for tool, suffix in ((["xz", "-c"], ".xz"), (["gzip", "-c"], ".gz"), (["zstd", "-q", "-c"], ".zst"),
                         (["bzip2", "-c"], ".bz2")):
        bomb = _stream(t, zeros, tool, suffix)
        _expect_bad(t, bomb, ("limit", "exceed", "max"), "--max-size", "8M")
    src = make_source(t)
    xz = _stream(t, src, ["xz", "-c"], ".xz")
    data = xz.read_bytes()
    (d / "trunc.raw.xz").write_bytes(data[:len(data) * 2 // 3])
    _expect_bad(t, d / "trunc.raw.xz", ("truncat", "unexpected end", "corrupt"))
    (d / "garbage.raw.xz").write_bytes(data + b"this is not xz")
    _expect_bad(t, d / "garbage.raw.xz", ("trailing", "garbage", "corrupt"))


def test_refuses_to_overwrite_input(t):
    src = make_source(t)
    before = digest(src)
    r = t.run("convert", src, src).expect_rc(2)
    check("overwrite" in r.stderr, "message: %r" % r.stderr)
    eq(digest(src), before, "input untouched")


def test_missing_input_exit5(t):
    t.run("convert", t.tmp / "nope.qcow2", t.tmp / "out.raw").expect_rc(5)


# ------------------------------------------------------------- block device

def test_block_device_output(t):
    """Raw into a block device: written in place, zero ranges made zero only
    where the device holds something else (here: 0xFF garbage everywhere)."""
    src = make_source(t)
    img = qcow2_from(t, src, "bd.qcow2", compress=True)
    for mode in ("check", "zeroout", "discard"):
        backing = t.dir("bd") / ("device-%s.img" % mode)
        backing.write_bytes(b"\xff" * (SIZE + MiB))
        dev = sh("losetup", "--find", "--show", backing).strip()
        try:
            r = t.run("convert", img, dev, "--json", "--block-zero", mode, timeout=120).ok()
            eq(r.json()["output"], dev, "output is the device")
            with open(dev, "rb") as f:
                head = f.read(SIZE)
                tail = f.read()
            eq(hashlib.sha256(head).hexdigest(), digest(src), "device content equals the source (%s)" % mode)
            eq(tail, b"\xff" * MiB, "bytes past the virtual size untouched (%s)" % mode)
        finally:
            subprocess.run(["losetup", "-d", dev])


# ------------------------------------------------------------ odd outputs

def test_fifo_and_char_device_outputs_are_streams(t):
    """An existing FIFO or character device is written to, never replaced."""
    src = make_source(t)
    img = qcow2_from(t, src, "f.qcow2", compress=True)
    fifo = t.dir("out") / "pipe"
    os.mkfifo(fifo)
    got = t.dir("out") / "from-fifo.raw"
    with open(got, "wb") as sink:
        reader = subprocess.Popen(["cat", str(fifo)], stdout=sink)
        r = t.run("convert", img, fifo, timeout=120)
        reader.wait(timeout=60)
    r.ok()
    check(fifo.is_fifo(), "the FIFO is still a FIFO")
    eq(digest(got), digest(src), "bytes that went through the FIFO")
    # A private null device node: a regression must not be able to clobber /dev/null.
    null = t.dir("out") / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    t.run("convert", img, null, timeout=120).ok()
    check(stat.S_ISCHR(null.stat().st_mode), "the character device is still a character device")
    t.run("convert", img, fifo, "-O", "qcow2").expect_rc(2)


def test_closed_stdout_is_a_write_error_not_a_bad_image(t):
    src = make_source(t)
    xz = _stream(t, src, ["xz", "-T1", "-0", "-c"], ".xz")
    p = subprocess.Popen([t.bin, "convert", str(xz), "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=t.env)
    p.stdout.read(10)
    p.stdout.close()
    err = p.stderr.read().decode()
    rc = p.wait(timeout=60)
    eq(rc, 1, "exit code for a closed output (stderr: %s)" % err)
    check("pipe" in err.lower() or "writing" in err.lower(), "message blames the output: %r" % err)


def test_json_escapes_output_path(t):
    src = make_source(t)
    out = t.dir("out") / 'we"ird\\name.raw'
    r = t.run("convert", src, out, "--json").ok()
    eq(r.json()["output"], str(out), "output path survives JSON escaping")
