# SPDX-License-Identifier: MIT
"""imgfetch convert -O zvol --builder zfs, driven through the CLI with
tests/stand_ins/zfs and tests/stand_ins/zonename first on PATH. The zfs
stand-in is not ZFS: it records its arguments and backs each "zvol" with a
plain file, and its `send` prints that file's bytes, so the .zfs.gz must
decompress to the disk itself. Checks the command sequence, the output and
manifest, failures, and that SIGINT during a slow send stops the send,
destroys the build volume and leaves no stand-in running."""

import gzip
import hashlib
import json
import os
import signal
import time
from pathlib import Path

from harness import MiB, check, eq, listing

STAND_INS = Path(__file__).resolve().parent.parent / "stand_ins"
SIZE = 3 * MiB + 12345   # the volume is rounded up to whole MiB
VOLSIZE = 4 * MiB


def _setup(t, **knobs):
    """Source disk, directories and the environment for the stand-ins."""
    src = t.dir("src") / "disk.raw"
    data = t.make_file(src, SIZE)
    w = t.dir("zfs")
    env = {
        "PATH": "%s:%s" % (STAND_INS, t.env.get("PATH", "/usr/bin:/bin")),
        "ZFS_STANDIN_LOG": str(w / "zfs.log"),
        "ZFS_STANDIN_DIR": str(t.dir("zfs/dev-zvol")),
        "ZFS_STANDIN_DATASETS": str(w / "datasets"),
        "ZFS_STANDIN_PIDS": str(w / "pids"),
        "ZONENAME_STANDIN_ZONE": "global",
    }
    env.update({k: str(v) for k, v in knobs.items()})
    return src, data, w, env


def _args(t, src, out, *extra):
    return ("convert", src, out, "-O", "zvol", "--builder", "zfs", "--zvol-dir", t.tmp / "zfs" / "dev-zvol",
            "--lock-dir", t.tmp / "locks", *extra)


def _calls(w):
    p = w / "zfs.log"
    return p.read_text().splitlines() if p.exists() else []


def _check_nothing_running(w):
    p = w / "pids"
    for line in (p.read_text().splitlines() if p.exists() else []):
        pid, sub = line.split()
        try:
            with open("/proc/%s/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            continue
        check(state in ("Z", "X"), "the zfs stand-in '%s' (pid %s) is still running (state %s)" % (sub, pid, state))


def _uuid_from_create(calls):
    creates = [c for c in calls if c.startswith("create ")]
    eq(len(creates), 1, "zfs create calls (%r)" % calls)
    name = creates[0].split()[-1]
    check("/imgfetch-build-" in name, "build dataset name %r" % name)
    return name.rsplit("imgfetch-build-", 1)[1]


def test_zfs_builder_convert(t):
    src, data, w, env = _setup(t)
    out = t.dir("out") / "disk.zfs.gz"
    r = t.run(*_args(t, src, out), "--json", env=env).ok()
    calls = _calls(w)
    uuid = _uuid_from_create(calls)
    ds = "zones/imgfetch-build-" + uuid
    eq(calls, ["list -H -p -o name,creation -t volume -r zones",
               "create -s -V %d -o volblocksize=8192 %s" % (VOLSIZE, ds),
               "snapshot %s@final" % ds,
               "send %s@final" % ds,
               "destroy -r %s" % ds], "zfs calls")
    stream = gzip.decompress(out.read_bytes())
    # The stand-in's "device" is a regular file, which the raw writer sizes
    # to the disk; a real zvol keeps its volsize. Either way: the disk, then zeros.
    check(len(stream) in (SIZE, VOLSIZE), "size of the decompressed zfs send stream: %d" % len(stream))
    check(stream[:SIZE] == data and stream[SIZE:] == bytes(len(stream) - SIZE),
          "the .zfs.gz holds exactly what zfs send printed (the disk)")
    manifest = json.loads((out.parent / "disk.json").read_text())
    eq(manifest["uuid"], uuid, "manifest uuid (the build dataset is named after it)")
    eq(manifest["files"][0]["sha1"], hashlib.sha1(out.read_bytes()).hexdigest(), "manifest files[0].sha1")
    eq(manifest["files"][0]["size"], out.stat().st_size, "manifest files[0].size")
    check(r.json(), "a JSON result")
    check(not (t.tmp / "zfs" / "dev-zvol" / ds).exists(), "the build volume is gone")
    _check_nothing_running(w)


def test_zfs_builder_dataset_option(t):
    src, data, w, env = _setup(t, ZONENAME_STANDIN_ZONE="somezone")
    out = t.dir("out") / "disk.zfs.gz"
    t.run(*_args(t, src, out, "--dataset", "tank/images", "--volblocksize", "16K"), env=env).ok()
    calls = _calls(w)
    uuid = _uuid_from_create(calls)
    eq(calls[1], "create -s -V %d -o volblocksize=16384 tank/images/imgfetch-build-%s" % (VOLSIZE, uuid),
       "zfs create with --dataset and --volblocksize")
    eq(calls[-1], "destroy -r tank/images/imgfetch-build-%s" % uuid, "the last call")


def test_zfs_builder_zone_refused(t):
    src, data, w, env = _setup(t, ZONENAME_STANDIN_ZONE="myzone", ZFS_STANDIN_ZONED="off")
    out = t.dir("out") / "disk.zfs.gz"
    r = t.run(*_args(t, src, out), env=env).expect_rc(2, "non-global zone without zoned=on")
    check("zones/myzone/data" in r.stderr and "delegate" in r.stderr and "--dataset" in r.stderr,
          "the refusal says what to do: %r" % r.stderr)
    eq(_calls(w), ["get -H -o value zoned zones/myzone/data"], "zfs calls")
    eq(listing(out.parent), set(), "output directory")


def test_zfs_builder_send_fails(t):
    src, data, w, env = _setup(t, ZFS_STANDIN_FAIL="send")
    out = t.dir("out") / "disk.zfs.gz"
    r = t.run(*_args(t, src, out), env=env).expect_rc(1, "zfs send fails")
    check("zfs send" in r.stderr and "I/O error (ZFS_STANDIN_FAIL)" in r.stderr,
          "the error carries zfs send's stderr: %r" % r.stderr)
    check(_calls(w)[-1].startswith("destroy -r zones/imgfetch-build-"), "the build volume is destroyed")
    eq(listing(out.parent), set(), "output directory (no partial .zfs.gz)")
    _check_nothing_running(w)


def test_zfs_builder_sigint_during_send(t):
    src, data, w, env = _setup(t, ZFS_STANDIN_SEND_SLEEP=60)
    out = t.dir("out") / "disk.zfs.gz"
    p = t.spawn(*_args(t, src, out), env=env)
    deadline = time.monotonic() + 20
    pids = w / "pids"
    while time.monotonic() < deadline:
        if pids.exists() and " send" in pids.read_text():
            break
        check(p.poll() is None, "the CLI exited before zfs send started")
        time.sleep(0.05)
    else:
        raise AssertionError("zfs send did not start within 20 s")
    time.sleep(0.3)
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    r = p.wait(timeout=20)
    took = time.monotonic() - t0
    r.expect_rc(130, "exit code after SIGINT during zfs send")
    check(took < 8, "the CLI took %.1fs to exit after SIGINT (send sleeps 60 s)" % took)
    calls = _calls(w)
    check(calls[-1].startswith("destroy -r zones/imgfetch-build-"), "the build volume is destroyed: %r" % calls)
    check(not any(f.startswith("imgfetch-build-") for f in os.listdir(t.tmp / "zfs" / "dev-zvol" / "zones")),
          "no build volume file is left")
    eq(listing(out.parent), set(), "output directory after SIGINT")
    _check_nothing_running(w)


def test_zfs_builder_skips_zero_blocks_on_a_block_device(t):
    """The "zvol" is a loop block device here, as a real one is: the build
    writes the disk's data and leaves its zero blocks alone (the fresh sparse
    volume reads as zeros), so they stay unallocated and out of zfs send."""
    src = t.dir("src") / "sparse.raw"
    data = t.random_bytes(MiB)
    with open(src, "wb") as f:
        f.truncate(32 * MiB)
        f.seek(8 * MiB)
        f.write(data)
    report = t.tmp / "allocated"
    _, _, w, env = _setup(t, ZFS_STANDIN_LOOP=report)
    out = t.dir("out") / "sparse.zfs.gz"
    t.run(*_args(t, src, out), env=env).ok()
    allocated = int(report.read_text())
    check(allocated < 4 * MiB, "the zvol got %d bytes allocated for 1 MiB of data in a 32 MiB disk" % allocated)
    stream = gzip.decompress(out.read_bytes())
    check(len(stream) == 32 * MiB and stream[8 * MiB:9 * MiB] == data and stream.count(0) == 31 * MiB
          + data.count(0), "the .zfs.gz holds the disk")
    check(not (t.tmp / "zfs" / "dev-zvol" / "zones").exists()
          or not os.listdir(t.tmp / "zfs" / "dev-zvol" / "zones"), "the build volume and its loop device are gone")
    _check_nothing_running(w)
