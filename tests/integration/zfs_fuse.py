# SPDX-License-Identifier: MIT
"""Real ZFS for the tests: Debian's zfs-fuse (a userland ZFS, pool version 23)
on a file-backed pool. One zfs-fuse daemon serves the whole machine through a
fixed socket, so tests that use it take a machine-wide lock and run one at a
time; each starts its own daemon and pool and removes both afterwards.

zfs-fuse receives and sends volumes but cannot create them, and it is laxer
than illumos and OpenZFS receivers (unknown feature bits, nlevels, descending
WRITEs): the unit tests check those rules on the stream writer directly."""

import fcntl
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

LOCK = "/tmp/imgfetch-tests-zfs-fuse.lock"
CACHE = "/var/lib/zfs/zpool.cache"


def available() -> str | None:
    """None when zfs-fuse can run here, else why not."""
    for tool in ("zfs-fuse", "zpool", "zfs"):
        if not shutil.which(tool):
            return "%s is not installed (package zfs-fuse)" % tool
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is missing"
    if os.geteuid() != 0:
        return "zfs-fuse needs root"
    return None


def run(*args, stdin=None, stdout=None, timeout=60) -> subprocess.CompletedProcess:
    r = subprocess.run([str(a) for a in args], stdin=stdin, stdout=stdout or subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (" ".join(map(str, args)), r.returncode,
                                                     r.stderr.decode(errors="replace")[-2000:]))
    return r


class ZfsFuse:
    """with ZfsFuse(directory) as z: z.pool is a fresh pool; z.receive(stream, name)..."""

    def __init__(self, directory: Path, pool_mib: int = 512):
        self.dir = Path(directory)
        self.pool_mib = pool_mib
        self.pool = "ift%d" % os.getpid()
        self._lock = None
        self._daemon = None

    def __enter__(self):
        why = available()
        if why:
            raise AssertionError("zfs-fuse unavailable: " + why)
        self._lock = open(LOCK, "w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        try:
            self._start()
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc):
        self._stop()

    def _start(self):
        # A pool cache left by a killed run would make the daemon import a
        # pool whose file is gone.
        if os.path.exists(CACHE):
            os.unlink(CACHE)
        log = open(self.dir / "zfs-fuse.log", "wb")
        self._daemon = subprocess.Popen(["zfs-fuse", "--no-daemon", "--no-kstat-mount"], stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        img = self.dir / "pool.img"
        with open(img, "wb") as f:
            f.truncate(self.pool_mib << 20)
        deadline = time.monotonic() + 20
        while True:
            r = subprocess.run(["zpool", "create", "-m", "none", self.pool, str(img)], capture_output=True)
            if r.returncode == 0:
                break
            if self._daemon.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("zfs-fuse did not start: %s / %s" % (
                    r.stderr.decode(errors="replace"), (self.dir / "zfs-fuse.log").read_text(errors="replace")))
            time.sleep(0.2)

    def _stop(self):
        if self._daemon is not None:
            subprocess.run(["zpool", "destroy", "-f", self.pool], capture_output=True, timeout=60)
            self._daemon.send_signal(signal.SIGTERM)
            try:
                self._daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._daemon.kill()
                self._daemon.wait()
            self._daemon = None
        if os.path.exists(CACHE):
            os.unlink(CACHE)
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def receive(self, stream: Path, name: str) -> str:
        """zfs receive POOL/name < stream (plain, not gzip); returns the dataset."""
        ds = "%s/%s" % (self.pool, name)
        with open(stream, "rb") as f:
            run("zfs", "receive", ds, stdin=f, timeout=120)
        return ds

    def get(self, ds: str, prop: str) -> str:
        return run("zfs", "get", "-H", "-p", "-o", "value", prop, ds).stdout.decode().strip()

    def snapshots(self, ds: str) -> list[str]:
        out = run("zfs", "list", "-H", "-o", "name", "-t", "snapshot", "-r", ds).stdout.decode()
        return [l for l in out.splitlines() if l]

    def send(self, snap: str, out: Path) -> None:
        with open(out, "wb") as f:
            run("zfs", "send", snap, stdout=f, timeout=120)
