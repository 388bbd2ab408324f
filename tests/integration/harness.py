#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration-test fixture, assertion helpers, discovery and the single-test
worker used by tests/run.py.

A test is a function `test_*(t)` in tests/integration/test_*.py; `t` is a
TestEnv: the CLI path (t.bin), a fresh private directory (t.tmp), helpers to
run the CLI and to start servers that are stopped automatically afterwards.
A test fails by raising (AssertionError from the helpers below, or anything).

Run one test by hand:
    tests/integration/harness.py --bin build/cli/imgfetch test_nginx::test_pinned_sha256_json
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib
import json
import os
import random
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from faultserver import FaultServer  # noqa: E402
from nginx import Nginx  # noqa: E402

ASAN_OPTIONS = "detect_leaks=1:abort_on_error=0:exitcode=99"
UBSAN_OPTIONS = "halt_on_error=1:print_stacktrace=1:exitcode=99"
SANITIZER_MARKERS = ("runtime error:", "ERROR: AddressSanitizer", "LeakSanitizer")

MiB = 1024 * 1024


class TestFailure(AssertionError):
    pass


# ------------------------------------------------------------- assertions

def check(cond, msg: str) -> None:
    if not cond:
        raise TestFailure(msg)


def eq(actual, expected, what: str) -> None:
    if actual != expected:
        raise TestFailure("%s: expected %r, got %r" % (what, expected, actual))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


def listing(directory: os.PathLike | str) -> set[str]:
    """Every name in a directory, hidden files included."""
    return set(os.listdir(directory))


def sanitizer_findings(text: str) -> list[str]:
    return [m for m in SANITIZER_MARKERS if m in text]


def same_file(a, b) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def check_content(path: os.PathLike | str, data: bytes, what: str = "") -> None:
    p = Path(path)
    check(p.is_file(), "%s%s does not exist" % (what + ": " if what else "", p))
    got = p.read_bytes()
    if got != data:
        raise TestFailure("%s%s differs from the served data (size %d vs %d, sha256 %s vs %s)"
                          % (what + ": " if what else "", p, len(got), len(data), sha256(got)[:16], sha256(data)[:16]))


def check_result(j: dict, *, data: bytes, path=None, url: str | None = None, verifier: str | None = None,
                 verified: bool = True, attempts: int | None = None, resumed: int | None = None,
                 from_cache: bool | None = None, sha512_expected: bool = False, cwd=None) -> None:
    """Checks the --json object against the served data; None means "don't check".
    A relative reported path is taken relative to cwd (the CLI's working directory)."""
    for key in ("path", "size", "sha256", "url", "verified", "verifier", "attempts", "resumed_bytes", "from_cache"):
        check(key in j, "JSON output lacks %r: %r" % (key, j))
    check(isinstance(j["path"], str) and j["path"], "JSON path is not a non-empty string: %r" % j)
    reported = Path(cwd or ".") / j["path"]
    if path is not None:
        check(same_file(reported, path), "JSON path: expected %s, got %r" % (path, j["path"]))
    check(isinstance(j["size"], int) and not isinstance(j["size"], bool), "JSON size is not an integer: %r" % j)
    eq(j["size"], len(data), "JSON size")
    eq(j["sha256"], sha256(data), "JSON sha256")
    if sha512_expected:
        check("sha512" in j, "JSON output lacks sha512 although the verifier is SHA-512: %r" % j)
        eq(j["sha512"], sha512(data), "JSON sha512")
    else:
        check("sha512" not in j, "JSON has sha512 although SHA-512 was not computed: %r" % j)
    if url is not None:
        eq(j["url"], url, "JSON url")
    check(j["verified"] is verified, "JSON verified: expected %r, got %r" % (verified, j["verified"]))
    if verifier is not None:
        eq(j["verifier"], verifier, "JSON verifier")
    if attempts is not None:
        eq(j["attempts"], attempts, "JSON attempts")
    if resumed is not None:
        eq(j["resumed_bytes"], resumed, "JSON resumed_bytes")
    if from_cache is not None:
        check(j["from_cache"] is from_cache, "JSON from_cache: expected %r, got %r" % (from_cache, j["from_cache"]))
    check_content(reported, data, "reported path")


# ------------------------------------------------------------------ results

class Result:
    """Outcome of one CLI run."""

    def __init__(self, args: list[str], rc: int | None, stdout: str, stderr: str, elapsed: float,
                 timed_out: bool = False):
        self.args = args
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed
        self.timed_out = timed_out

    def describe(self, limit: int = 40) -> str:
        def tail(s: str) -> str:
            lines = s.rstrip("\n").splitlines()
            if len(lines) > limit:
                lines = ["... (%d lines cut)" % (len(lines) - limit)] + lines[-limit:]
            return "\n".join("      " + x for x in lines)
        rc = "TIMEOUT" if self.timed_out else str(self.rc)
        out = ["  $ %s" % " ".join(shlex.quote(a) for a in self.args),
               "    exit %s after %.2fs" % (rc, self.elapsed)]
        if self.stdout.strip():
            out += ["    stdout:", tail(self.stdout)]
        if self.stderr.strip():
            out += ["    stderr:", tail(self.stderr)]
        return "\n".join(out)

    def expect_rc(self, code: int, what: str = "") -> "Result":
        if self.timed_out:
            raise TestFailure("%scommand timed out after %.1fs" % (what + ": " if what else "", self.elapsed))
        if self.rc != code:
            raise TestFailure("%sexpected exit code %d, got %s" % (what + ": " if what else "", code, self.rc))
        return self

    def ok(self) -> "Result":
        return self.expect_rc(0)

    def json(self) -> dict:
        """stdout must be exactly one JSON object (surrounding whitespace allowed)."""
        try:
            obj = json.loads(self.stdout)
        except ValueError as e:
            raise TestFailure("stdout is not exactly one JSON object (%s): %r" % (e, self.stdout[:500]))
        check(isinstance(obj, dict), "JSON output is not an object: %r" % (obj,))
        return obj


class Proc:
    """A CLI run in the background (t.spawn)."""

    def __init__(self, env: "TestEnv", args: list[str], popen: subprocess.Popen, out: Path, err: Path):
        self._env = env
        self.args = args
        self.popen = popen
        self.pid = popen.pid
        self._out = out
        self._err = err
        self.start = time.monotonic()
        self.result: Result | None = None

    def poll(self):
        return self.popen.poll()

    def send_signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            os.kill(self.pid, sig)

    def wait(self, timeout: float = 30.0) -> Result:
        if self.result is not None:
            return self.result
        timed_out = False
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self.popen.kill()
            self.popen.wait()
        self.result = Result(self.args, None if timed_out else self.popen.returncode,
                             self._out.read_text(errors="replace"), self._err.read_text(errors="replace"),
                             time.monotonic() - self.start, timed_out)
        self._env.results.append(self.result)
        return self.result


# ------------------------------------------------------------------ fixture

class TestEnv:
    __test__ = False

    def __init__(self, binary: os.PathLike | str, tmp: os.PathLike | str, name: str = "test"):
        self.bin = str(Path(binary).resolve())
        self.tmp = Path(tmp).resolve()
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.results: list[Result] = []
        self._procs: list[Proc] = []
        self._cleanups: list = []
        self._seq = 0
        self._logs = self.tmp / ".logs"
        self._logs.mkdir(exist_ok=True)
        self.home = self.dir("home")
        self.xdg_cache = self.home / "xdg-cache"
        self.env = self._make_env()
        self.rng = random.Random(name)

    def _make_env(self) -> dict[str, str]:
        env = dict(os.environ)
        for k in list(env):
            if k.lower() in ("http_proxy", "https_proxy", "all_proxy", "ftp_proxy", "no_proxy") or \
                    k in ("CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_HOME"):
                del env[k]
        env.update({
            "no_proxy": "*", "NO_PROXY": "*",
            "HOME": str(self.home),
            "XDG_CACHE_HOME": str(self.xdg_cache),
            "LC_ALL": "C",
            "ASAN_OPTIONS": ASAN_OPTIONS,
            "UBSAN_OPTIONS": UBSAN_OPTIONS,
        })
        return env

    # -- files
    def dir(self, name: str) -> Path:
        p = self.tmp / name
        p.mkdir(parents=True, exist_ok=True)
        return p

    def random_bytes(self, size: int) -> bytes:
        return self.rng.randbytes(size)

    def make_file(self, path: os.PathLike | str, size: int) -> bytes:
        data = self.random_bytes(size)
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        return data

    # -- servers
    def nginx(self, root: os.PathLike | str, tls: bool = False, **kw) -> Nginx:
        ng = Nginx(root, tls=tls, workdir=self.tmp / (".nginx%d" % self._next()), **kw)
        ng.start()
        self._cleanups.append(ng.stop)
        return ng

    def faultserver(self) -> FaultServer:
        fs = FaultServer().start()
        self._cleanups.append(fs.stop)
        return fs

    # -- the CLI
    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _argv(self, args) -> list[str]:
        return [self.bin] + [str(a) for a in args]

    def run(self, *args, cwd: os.PathLike | str | None = None, timeout: float = 30.0,
            env: dict[str, str] | None = None) -> Result:
        """Run the CLI to completion; never raises for a non-zero exit."""
        argv = self._argv(args)
        e = dict(self.env)
        if env:
            e.update(env)
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, cwd=str(cwd or self.tmp), env=e, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
            r = Result(argv, p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"),
                       time.monotonic() - t0)
        except subprocess.TimeoutExpired as ex:
            r = Result(argv, None, (ex.stdout or b"").decode(errors="replace"),
                       (ex.stderr or b"").decode(errors="replace"), time.monotonic() - t0, timed_out=True)
        self.results.append(r)
        return r

    def spawn(self, *args, cwd: os.PathLike | str | None = None, env: dict[str, str] | None = None) -> Proc:
        """Start the CLI in the background; use .wait() / .send_signal()."""
        argv = self._argv(args)
        e = dict(self.env)
        if env:
            e.update(env)
        n = self._next()
        out, err = self._logs / ("%d.out" % n), self._logs / ("%d.err" % n)
        with open(out, "wb") as fo, open(err, "wb") as fe:
            p = subprocess.Popen(argv, cwd=str(cwd or self.tmp), env=e, stdin=subprocess.DEVNULL,
                                 stdout=fo, stderr=fe)
        proc = Proc(self, argv, p, out, err)
        self._procs.append(proc)
        return proc

    def version(self) -> str:
        return self.run("--version").stdout.strip()

    # -- teardown
    def close(self) -> list[str]:
        """Stop everything; returns problems found (sanitizer reports)."""
        for p in self._procs:
            if p.popen.poll() is None:
                p.popen.kill()
            p.wait(timeout=10)
        for fn in reversed(self._cleanups):
            try:
                fn()
            except Exception as e:  # noqa: BLE001
                print("cleanup error: %r" % (e,), file=sys.stderr)
        problems = []
        for r in self.results:
            found = sanitizer_findings(r.stderr)
            if found:
                problems.append("sanitizer report (%s) from: %s" % (", ".join(found), " ".join(r.args)))
        return problems

    def transcript(self) -> str:
        return "\n".join(r.describe() for r in self.results)


# ------------------------------------------------------------- discovery

def discover(directory: os.PathLike | str = HERE) -> list[str]:
    """'module::function' for every top-level test_* function of test_*.py, in file order."""
    names = []
    for f in sorted(Path(directory).glob("test_*.py")):
        tree = ast.parse(f.read_text(), str(f))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                names.append("%s::%s" % (f.stem, node.name))
    return names


# ---------------------------------------------------------------- worker

def run_one(test: str, binary: str, tmp: str) -> int:
    """Runs one test; prints diagnostics; returns 0 (pass) or 1 (fail)."""
    modname, _, func = test.partition("::")
    t = TestEnv(binary, tmp, test)
    failure = None
    try:
        mod = importlib.import_module(modname)
        getattr(mod, func)(t)
    except TestFailure as e:
        failure = str(e)
    except Exception:  # noqa: BLE001
        failure = traceback.format_exc().rstrip()
    problems = t.close()
    if problems:
        failure = "\n".join(([failure] if failure else []) + problems)
    if failure:
        print(failure)
        if t.results:
            print("CLI runs:")
            print(t.transcript())
        return 1
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description="Run integration tests against an imgfetch binary.")
    ap.add_argument("--bin", required=True, help="path to the imgfetch CLI")
    ap.add_argument("--tmp", help="work directory (default: a new temp dir, removed when all passed)")
    ap.add_argument("--worker", action="store_true", help="internal (tests/run.py): run exactly one test in --tmp, "
                    "print only diagnostics, exit status 0 = pass")
    ap.add_argument("tests", nargs="*", help="module::function or a substring of it (default: all)")
    a = ap.parse_args()
    os.environ["ASAN_OPTIONS"] = ASAN_OPTIONS
    os.environ["UBSAN_OPTIONS"] = UBSAN_OPTIONS
    # Children inherit an ignored SIGINT (background jobs of a non-interactive
    # shell); the signal tests need the default disposition in the CLI.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if a.worker:
        if len(a.tests) != 1 or not a.tmp:
            ap.error("--worker needs --tmp and exactly one test")
        return run_one(a.tests[0], a.bin, a.tmp)
    alltests = discover()
    tests = [n for n in alltests if not a.tests or any(p in n for p in a.tests)]
    base = Path(a.tmp) if a.tmp else Path(tempfile.mkdtemp(prefix="imgfetch-it-"))
    failed = 0
    for name in tests:
        rc = run_one(name, a.bin, str(base / name.replace("::", ".")))
        print("%s %s" % ("PASS" if rc == 0 else "FAIL", name), flush=True)
        failed += rc
    print("%d passed, %d failed" % (len(tests) - failed, failed))
    if failed == 0 and not a.tmp:
        import shutil
        shutil.rmtree(base, ignore_errors=True)
    elif failed:
        print("work directories kept under %s" % base)
    return 1 if failed or not tests else 0


if __name__ == "__main__":
    sys.exit(main())
