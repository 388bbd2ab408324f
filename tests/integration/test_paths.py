# SPDX-License-Identifier: MIT
"""Names on disk: the names imgfetch chooses (cache entries, their metadata
and locks, temp files, fetch's output names in -o DIR, pull's layer titles
and .digest stamps, the zvol manifest) are never followed when they are
symbolic links, never waited on when they are FIFOs, and a directory or
special file there is healed (the cache) or refused with a message. Paths
the user names (-o of get, convert and pull, convert's input) may be links
to block devices; a link to a FIFO or character device is refused (exit 2),
naming the node itself keeps working. And xz streams whose integrity check
cannot be verified are refused (exit 6); --check=none decodes with a warning."""

import hashlib
import os
import stat
import struct
import subprocess
import zlib
from pathlib import Path

from harness import MiB, check, eq, sha256

EXIT_USAGE, EXIT_FORMAT = 2, 6
NAME = "disk.img"
QUICK = 20  # seconds: a run that waits on a FIFO would hit this


# ------------------------------------------------------------------ helpers

def _entry_name(url: str) -> str:
    """The cache's name for url: 16 hex of sha256(url), '-', the URL's file name."""
    return hashlib.sha256(url.encode()).hexdigest()[:16] + "-" + url.rsplit("/", 1)[1]


def _served(t, size=1 * MiB):
    root = t.dir("www")
    data = t.make_file(root / NAME, size)
    ng = t.nginx(root)
    return data, ng, ng.url("/" + NAME)


def _victim(t, name: str, content: bytes = b"precious bytes outside the cache\n") -> Path:
    """A file outside every directory imgfetch writes to; links point here."""
    p = t.dir("outside") / name
    p.write_bytes(content)
    os.utime(p, (1_000_000_000, 1_000_000_000))
    return p


def _untouched(p: Path, content: bytes = b"precious bytes outside the cache\n") -> None:
    check(p.is_file() and not p.is_symlink(), "%s is no longer a plain file" % p)
    eq(p.read_bytes(), content, "content of %s (a link to it was followed)" % p)
    eq(int(p.stat().st_mtime), 1_000_000_000, "mtime of %s (it was written through a link)" % p)


def _regular(p: Path, data: bytes | None = None) -> None:
    st = os.lstat(p)
    check(stat.S_ISREG(st.st_mode), "%s is not a regular file (mode %o)" % (p, st.st_mode))
    if data is not None:
        check(p.read_bytes() == data, "%s does not hold the expected bytes" % p)


def _loop_device(t, size: int) -> tuple[str, Path]:
    """A loop block device over a file of 0xFF bytes, detached after the test."""
    backing = t.dir("bd") / ("backing-%d.img" % len(list(t.dir("bd").iterdir())))
    backing.write_bytes(b"\xff" * size)
    r = subprocess.run(["losetup", "--find", "--show", str(backing)], capture_output=True, text=True)
    check(r.returncode == 0, "losetup failed: %s" % r.stderr)
    dev = r.stdout.strip()
    t._cleanups.append(lambda: subprocess.run(["losetup", "-d", dev], capture_output=True))
    return dev, backing


def _device_bytes(dev: str, n: int) -> bytes:
    with open(dev, "rb") as f:
        return f.read(n)


def _raw_disk(t, name="src.raw", size=4 * MiB) -> tuple[Path, bytes]:
    p = t.dir("src") / name
    data = bytearray(size)
    data[0:65536] = t.random_bytes(65536)
    data[size // 2:size // 2 + 4096] = t.random_bytes(4096)
    p.write_bytes(bytes(data))
    return p, bytes(data)


# -------------------------------------------------------------- the cache

def test_cache_planted_links_not_followed(t):
    """Entry, metadata and lock are links out of the cache: none is followed,
    the lock's target is not even created; the entry is made anew."""
    data, ng, url = _served(t)
    cache = t.dir("cache")
    e = cache / _entry_name(url)
    v_entry, v_meta = _victim(t, "entry"), _victim(t, "meta.json")
    lock_target = t.tmp / "outside" / "lock-target"
    os.symlink(v_entry, e)
    os.symlink(v_meta, str(e) + ".json")
    os.symlink(lock_target, str(e) + ".lock")
    out = t.dir("out")
    r = t.run("get", url, "--sha256", sha256(data), "--cache", "--cache-dir", cache, "-o", out / "a.img", "--json",
              timeout=QUICK).ok()
    check("symbolic link" in r.stderr, "no warning about the links that were removed: %r" % r.stderr)
    check(not lock_target.exists() and not os.path.lexists(lock_target), "the lock's link target was created")
    _untouched(v_entry)
    _untouched(v_meta)
    _regular(e, data)
    _regular(Path(str(e) + ".json"))
    _regular(Path(str(e) + ".lock"))
    _regular(out / "a.img", data)
    # The healed entry is reused.
    j = t.run("get", url, "--sha256", sha256(data), "--cache", "--cache-dir", cache, "--json", timeout=QUICK).ok().json()
    check(j["from_cache"], "healed entry not reused: %r" % j)
    eq(ng.count("/" + NAME), 1, "GET requests (one download, then the healed entry)")


def test_cache_special_files_healed_no_hang(t):
    """FIFOs (which an open for reading would wait on) and an empty directory
    at the cache's names are removed, a temp-named FIFO is not waited on by
    the sweep; a directory with files in it is refused with a message."""
    data, ng, url = _served(t)
    cache = t.dir("cache")
    e = cache / _entry_name(url)
    os.mkfifo(e)
    os.mkfifo(str(e) + ".json")
    os.mkfifo(str(e) + ".lock")
    os.mkfifo(cache / (".%s.imgfetch-tmp-abcdef" % e.name))
    common = ("--sha256", sha256(data), "--cache", "--cache-dir", cache, "--json")
    r = t.run("get", url, *common, timeout=QUICK).ok()
    check("FIFO" in r.stderr, "no warning naming the FIFOs: %r" % r.stderr)
    for p in (e, Path(str(e) + ".json"), Path(str(e) + ".lock")):
        _regular(p)
    _regular(e, data)

    os.unlink(e)
    os.mkdir(e)
    t.run("get", url, *common, timeout=QUICK).ok()
    _regular(e, data)

    os.unlink(e)
    os.mkdir(e)
    (e / "keep").write_bytes(b"not imgfetch's")
    r = t.run("get", url, *common, timeout=QUICK).expect_rc(1)
    check("directory" in r.stderr and str(e) in r.stderr, "message names the directory: %r" % r.stderr)
    eq((e / "keep").read_bytes(), b"not imgfetch's", "the directory's content")


# ------------------------------------------------------- user-named paths

def test_get_output_link_to_fifo_or_null_refused(t):
    data, ng, url = _served(t, 64 * 1024)
    out = t.dir("out")
    fifo = t.dir("nodes") / "pipe"
    os.mkfifo(fifo)
    for target, what in ((fifo, "FIFO"), ("/dev/null", "character device")):
        link = out / ("to-" + Path(target).name)
        os.symlink(target, link)
        r = t.run("get", url, "--sha256", sha256(data), "-o", link, timeout=QUICK).expect_rc(EXIT_USAGE)
        check("symbolic link to a %s" % what in r.stderr and "name the node itself" in r.stderr,
              "message: %r" % r.stderr)
        check(os.path.islink(link), "the link was replaced")
    check(stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO is still a FIFO")
    check(stat.S_ISCHR(os.stat("/dev/null").st_mode), "/dev/null is still a character device")
    eq(ng.count("/" + NAME), 0, "GET requests (refused before downloading)")
    # With the cache, too.
    link = out / "to-pipe"
    t.run("get", url, "--sha256", sha256(data), "--cache", "-o", link, timeout=QUICK).expect_rc(EXIT_USAGE)


def test_get_chosen_name_in_directory(t):
    """get -o DIR: the URL's name inside DIR is imgfetch's choice: a link
    there is replaced, a FIFO there is refused, not opened."""
    data, ng, url = _served(t, 64 * 1024)
    out = t.dir("out")
    victim = _victim(t, "v")
    os.symlink(victim, out / NAME)
    t.run("get", url, "--sha256", sha256(data), "-o", out, timeout=QUICK).ok()
    _untouched(victim)
    _regular(out / NAME, data)
    os.unlink(out / NAME)
    os.mkfifo(out / NAME)
    r = t.run("get", url, "--sha256", sha256(data), "-o", out, timeout=QUICK).expect_rc(EXIT_USAGE)
    check("FIFO" in r.stderr, "message: %r" % r.stderr)
    check(stat.S_ISFIFO(os.lstat(out / NAME).st_mode), "the FIFO was replaced")


def test_convert_links_to_streams_refused_block_device_kept(t):
    src, data = _raw_disk(t)
    out = t.dir("out")
    fifo = t.dir("nodes") / "pipe"
    os.mkfifo(fifo)
    null = t.dir("nodes") / "null"  # a private null device: nothing can clobber /dev/null
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    for target, what in ((fifo, "FIFO"), (null, "character device"), (Path("/dev/null"), "character device")):
        link = out / ("to-%s-%s" % (target.parent.name, target.name))
        os.symlink(target, link)
        r = t.run("convert", src, link, timeout=QUICK).expect_rc(EXIT_USAGE)
        check("symbolic link to a %s" % what in r.stderr and "name the node itself" in r.stderr,
              "message: %r" % r.stderr)
        check(os.path.islink(link), "the link was replaced")
        # the input too: a link to a FIFO would wait for a writer
        r = t.run("info", link, timeout=QUICK).expect_rc(EXIT_USAGE)
        r = t.run("convert", link, out / "x.raw", timeout=QUICK).expect_rc(EXIT_USAGE)
        check("symbolic link to a %s" % what in r.stderr, "input message: %r" % r.stderr)
    check(not (out / "x.raw").exists(), "output written from a refused input")
    # Named directly, the node is written to (as before).
    t.run("convert", src, null, timeout=QUICK).ok()
    check(stat.S_ISCHR(null.stat().st_mode), "the private null device is still one")
    # A link to a block device is that device (/dev/disk/by-id/..., /dev/zvol/...).
    dev, _ = _loop_device(t, len(data) + MiB)
    link = out / "by-id-disk"
    os.symlink(dev, link)
    j = t.run("convert", src, link, "--json", timeout=60).ok().json()
    eq(j["output"], str(link), "output")
    check(os.path.islink(link), "the link to the device was replaced")
    check(_device_bytes(dev, len(data)) == data, "the device does not hold the converted disk")
    eq(_device_bytes(dev, len(data) + MiB)[len(data):], b"\xff" * MiB, "bytes past the disk untouched")


def test_convert_zvol_manifest_link_replaced(t):
    """The manifest's name beside a zvol stream is imgfetch's: a link there is
    replaced by the manifest, its target untouched (a directory there is
    test_zvol::test_zvol_pair_is_all_or_nothing)."""
    src, _ = _raw_disk(t)
    out = t.dir("out")
    victim = _victim(t, "manifest")
    os.symlink(victim, out / "mine.json")
    t.run("convert", src, out / "mine.zfs.gz", "-O", "zvol", "--name", "mine", "--os", "linux", timeout=60).ok()
    _untouched(victim)
    _regular(out / "mine.json")


# ------------------------------------------------------------------ fetch

def _alpine(t):
    from vendor_mirror import AUTOINDEX, VendorMirror
    m = VendorMirror(t.tmp / "mirror", ["alpine"])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    return m, m.mirror_args(ng)


def test_fetch_output_names_not_followed(t):
    m, args = _alpine(t)
    out = t.dir("out")
    cache = t.dir("cache")
    name = "alpine-3.23-3.23.4.x86_64.raw"
    raw = m.images.raw.read_bytes()
    # The output name is a link to a block device, its .json a link to a file.
    dev, _ = _loop_device(t, len(raw) + MiB)
    before = _device_bytes(dev, len(raw) + MiB)
    v_meta = _victim(t, "meta")
    os.symlink(dev, out / name)
    os.symlink(v_meta, out / (name + ".json"))
    t.run("fetch", "alpine", "-o", out, "--cache-dir", cache, *args, timeout=120).ok()
    check(_device_bytes(dev, len(raw) + MiB) == before, "fetch wrote into the device a planted link points to")
    _untouched(v_meta)
    _regular(out / name, raw)
    _regular(out / (name + ".json"))
    # A FIFO or a directory there is refused, not waited on, not written into.
    os.unlink(out / name)
    os.mkfifo(out / name)
    r = t.run("fetch", "alpine", "-o", out, "--cache-dir", cache, *args, timeout=QUICK).expect_rc(EXIT_USAGE)
    check("FIFO" in r.stderr and name in r.stderr, "message: %r" % r.stderr)
    check(stat.S_ISFIFO(os.lstat(out / name).st_mode), "the FIFO was replaced")
    os.unlink(out / name)
    os.mkdir(out / name)
    r = t.run("fetch", "alpine", "-o", out, "--cache-dir", cache, *args, timeout=QUICK).expect_rc(EXIT_USAGE)
    check("directory" in r.stderr and name in r.stderr, "message: %r" % r.stderr)
    eq(os.listdir(out / name), [], "files written into the directory")


# ------------------------------------------------------------------- pull

def test_pull_layer_title_and_stamp_links(t):
    from registry import start_registry
    from test_oci_pull import pull, push_layers
    reg = start_registry(t)
    src, disk = _raw_disk(t, size=2 * MiB)
    _, (dd,) = push_layers(reg, "test/os", "v1", [("application/vnd.imgfetch.disk.raw", disk, "disk.raw")])
    ref = reg.ref("test/os", "v1")
    out = t.dir("out")
    v_disk, v_stamp = _victim(t, "disk"), _victim(t, "stamp")
    os.symlink(v_disk, out / "disk.raw")
    os.symlink(v_stamp, out / "disk.raw.digest")
    j = pull(t, reg, ref, "-o", out, "--json").ok().json()
    eq(j["files"][0]["path"], str(out / "disk.raw"), "layer path")
    _untouched(v_disk)
    _untouched(v_stamp)
    _regular(out / "disk.raw", disk)
    _regular(out / "disk.raw.digest")
    # A FIFO as the stamp: not waited on, replaced by a real stamp.
    os.unlink(out / "disk.raw.digest")
    os.mkfifo(out / "disk.raw.digest")
    pull(t, reg, ref, "-o", out).ok()
    _regular(out / "disk.raw.digest")
    # Converted (--format raw): a link to a device at the layer's title is
    # not written through.
    dev, _ = _loop_device(t, len(disk) + MiB)
    before = _device_bytes(dev, len(disk) + MiB)
    os.unlink(out / "disk.raw")
    os.unlink(out / "disk.raw.digest")
    os.symlink(dev, out / "disk.raw")
    pull(t, reg, ref, "-o", out, "--format", "raw").ok()
    check(_device_bytes(dev, len(disk) + MiB) == before, "pull wrote into the device a planted link points to")
    _regular(out / "disk.raw", disk)
    # --all-layers: the same for each title.
    d = t.dir("all")
    v_all = _victim(t, "all")
    os.symlink(v_all, d / "disk.raw")
    pull(t, reg, ref, "-o", d, "--all-layers").ok()
    _untouched(v_all)
    _regular(d / "disk.raw", disk)
    # The user's own -o: a link to a FIFO is refused, a link to a device is the device.
    fifo = t.dir("nodes") / "pipe"
    os.mkfifo(fifo)
    os.symlink(fifo, t.tmp / "to-pipe")
    r = pull(t, reg, ref, "-o", t.tmp / "to-pipe").expect_rc(EXIT_USAGE)
    check("symbolic link to a FIFO" in r.stderr, "message: %r" % r.stderr)
    os.symlink(dev, t.tmp / "to-dev")
    pull(t, reg, ref, "-o", t.tmp / "to-dev", "--format", "raw").ok()
    check(_device_bytes(dev, len(disk)) == disk, "pull -o LINK-TO-DEVICE --format raw did not write the device")


# -------------------------------------------------------------------- xz

def _xz(data: bytes, *args: str) -> bytes:
    return subprocess.run(["xz", "-c", "-0", *args], input=data, capture_output=True, check=True).stdout


def _with_check_id(xz: bytes, cid: int) -> bytes:
    """xz's stream flags (header bytes 6-7, footer bytes -4..-3) with check id
    cid, both CRC32s recomputed: liblzma reads it as that check type."""
    b = bytearray(xz)
    eq((b[6], b[7], bytes(b[-2:])), (0, 1, b"YZ"), "an xz --check=crc32 stream")
    b[7] = cid
    b[8:12] = struct.pack("<I", zlib.crc32(bytes(b[6:8])))
    b[-3] = cid
    b[-12:-8] = struct.pack("<I", zlib.crc32(bytes(b[-8:-2])))
    return bytes(b)


def test_xz_unsupported_check_refused(t):
    src, data = _raw_disk(t)
    d = t.dir("xz")
    variants = {
        "one-block": _xz(data, "--check=crc32"),
        "blocks": _xz(data, "--check=crc32", "--block-size=1MiB"),
    }
    for label, xz in variants.items():
        for cid in (2, 3):
            f = d / ("%s-check%d.raw.xz" % (label, cid))
            f.write_bytes(_with_check_id(xz, cid))
            for out, extra in ((d / "out.raw", []), (d / "out.qcow2", ["-O", "qcow2"]), ("-", [])):
                r = t.run("convert", f, out, *extra, timeout=60).expect_rc(EXIT_FORMAT)
                check("integrity check type %d" % cid in r.stderr and "refusing to decode unchecked data" in r.stderr,
                      "message: %r" % r.stderr)
                eq(r.stdout, "", "bytes on stdout from a refused stream")
            check(not (d / "out.raw").exists() and not (d / "out.qcow2").exists(), "output left behind")
            t.run("info", f, timeout=60).expect_rc(EXIT_FORMAT)
    # A good stream followed by one with an unverifiable check.
    f = d / "concat.raw.xz"
    f.write_bytes(_xz(data[:MiB], "--check=crc32") + _with_check_id(_xz(data[MiB:], "--check=crc32"), 2))
    r = t.run("convert", f, d / "out.raw", timeout=60).expect_rc(EXIT_FORMAT)
    check("integrity check type 2" in r.stderr, "message: %r" % r.stderr)
    check(not (d / "out.raw").exists(), "output left behind")


def test_xz_check_none_decodes_with_warning(t):
    src, data = _raw_disk(t)
    d = t.dir("xz")
    for label, args in (("one-block", []), ("blocks", ["--block-size=1MiB"])):
        f = d / ("%s-none.raw.xz" % label)
        f.write_bytes(_xz(data, "--check=none", *args))
        out = d / ("%s.raw" % label)
        r = t.run("convert", f, out, timeout=60).ok()
        check("warning" in r.stderr and "no integrity check" in r.stderr, "no warning: %r" % r.stderr)
        eq(r.stderr.count("no integrity check"), 1, "warnings given")
        check(out.read_bytes() == data, "decoded bytes differ (%s)" % label)
        r = t.run("convert", f, d / ("%s.qcow2" % label), "-O", "qcow2", timeout=60).ok()
        check("no integrity check" in r.stderr, "no warning for qcow2 output: %r" % r.stderr)
    # Only a later stream is unchecked: still said.
    f = d / "concat-none.raw.xz"
    f.write_bytes(_xz(data[:MiB], "--check=crc32") + _xz(data[MiB:], "--check=none"))
    r = t.run("convert", f, d / "concat.raw", timeout=60).ok()
    check("no integrity check" in r.stderr, "no warning for the second stream: %r" % r.stderr)
    check((d / "concat.raw").read_bytes() == data, "decoded bytes differ (concatenated)")
    # A checked stream says nothing of the kind.
    f = d / "crc64.raw.xz"
    f.write_bytes(_xz(data, "--check=crc64"))
    r = t.run("convert", f, d / "crc64.raw", timeout=60).ok()
    check("integrity" not in r.stderr, "warning for a checked stream: %r" % r.stderr)
