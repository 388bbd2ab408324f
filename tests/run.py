#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""imgfetch test runner.

    tests/run.py --build build [--build build-asan ...] [--only PATTERN ...] [-j N]

For each build directory, in order:
  1. unit tests: every executable DIR/tests/unit/test_* (TAP output; one result
     per "ok"/"not ok" line; a crash or non-zero exit without a "not ok" line, a
     plan mismatch, a timeout or a sanitizer report adds one failure);
  2. fuzz smoke: every executable DIR/tests/fuzz/fuzz_*, run for --fuzz-time
     seconds (default 10) on a temporary copy of tests/fuzz/corpus/<name>/;
  3. integration tests: every test_* function of tests/integration/test_*.py,
     each in its own worker process, against DIR/cli/imgfetch.

Results are printed as "[build] PASS name" / "[build] FAIL name" (diagnostics
indented below); the last line is "N passed, N failed". Exit status is 0 only
when nothing failed and at least one test ran.

--only PATTERN selects tests by name (a glob when it contains *?[, otherwise a
substring); names look like "unit/test_sums", "fuzz/fuzz_sums",
"integration/test_faults::test_drop_resume_with_etag". Repeatable.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import fnmatch
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INTEGRATION = REPO / "tests" / "integration"
FUZZ_CORPUS = REPO / "tests" / "fuzz" / "corpus"

ASAN_OPTIONS = "detect_leaks=1:abort_on_error=0:exitcode=99"
UBSAN_OPTIONS = "halt_on_error=1:print_stacktrace=1:exitcode=99"
SANITIZER_MARKERS = ("runtime error:", "ERROR: AddressSanitizer", "LeakSanitizer")

UNIT_TIMEOUT = 60
INTEGRATION_TIMEOUT = 120


def sanitizer_findings(text: str) -> list[str]:
    return [m for m in SANITIZER_MARKERS if m in text]


def tail(text: str, n: int = 60) -> str:
    lines = text.rstrip("\n").splitlines()
    if len(lines) > n:
        lines = ["... (%d lines cut)" % (len(lines) - n)] + lines[-n:]
    return "\n".join(lines)


class Outcome:
    def __init__(self, name: str, ok: bool, detail: str = "", note: str = ""):
        self.name = name
        self.ok = ok
        self.detail = detail
        self.note = note


class Reporter:
    def __init__(self):
        self.lock = threading.Lock()
        self.passed = 0
        self.failed: list[str] = []

    def report(self, build: str, o: Outcome) -> None:
        with self.lock:
            status = "PASS" if o.ok else "FAIL"
            line = "[%s] %s %s" % (build, status, o.name)
            if o.note:
                line += "  (%s)" % o.note
            print(line)
            if not o.ok and o.detail:
                for x in o.detail.rstrip("\n").splitlines():
                    print("    " + x)
            sys.stdout.flush()
            if o.ok:
                self.passed += 1
            else:
                self.failed.append("[%s] %s" % (build, o.name))


# ------------------------------------------------------------- processes

_running: set[subprocess.Popen] = set()
_running_lock = threading.Lock()


def run_process(argv: list[str], timeout: float, cwd: os.PathLike | str | None = None,
                merge: bool = False) -> tuple[int | None, str, str, float]:
    """Runs argv in its own session (so a timeout kills the whole tree).
    Returns (returncode or None on timeout, stdout, stderr, seconds)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT if merge else subprocess.PIPE, start_new_session=True)
    with _running_lock:
        _running.add(p)
    try:
        try:
            out, err = p.communicate(timeout=timeout)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            # not reaped yet, so the process group is still ours
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            out, err = p.communicate()
            rc = None
    finally:
        with _running_lock:
            _running.discard(p)
    dec = lambda b: (b or b"").decode(errors="replace")  # noqa: E731
    return rc, dec(out), dec(err), time.monotonic() - t0


def _kill_group(p: subprocess.Popen) -> None:
    """SIGKILL the session of a child we started, while its leader is still ours."""
    if p.poll() is not None:
        return
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def executables(directory: Path, prefix: str) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(f for f in directory.iterdir()
                  if f.name.startswith(prefix) and f.is_file() and os.access(f, os.X_OK)
                  and not f.name.endswith((".p", ".o", ".c", ".py", ".sh")))


def selected(name: str, patterns: list[str] | None) -> bool:
    if not patterns:
        return True
    for p in patterns:
        if any(c in p for c in "*?["):
            if fnmatch.fnmatchcase(name, p):
                return True
        elif p in name:
            return True
    return False


# -------------------------------------------------------------- unit (TAP)

_TAP_RESULT = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?(.*)$")
_TAP_PLAN = re.compile(r"^1\.\.(\d+)")


def run_unit(binary: Path, build: Path) -> list[Outcome]:
    base = "unit/" + binary.name
    rc, out, err, secs = run_process([str(binary)], UNIT_TIMEOUT, cwd=build)
    results: list[Outcome] = []
    plan = None
    current: Outcome | None = None
    for line in out.splitlines():
        m = _TAP_RESULT.match(line)
        if m:
            ok = m.group(1) == "ok"
            num = m.group(2) or str(len(results) + 1)
            desc = m.group(3).strip()
            directive = ""
            if "#" in desc:
                desc, _, directive = desc.partition("#")
                desc, directive = desc.strip(), directive.strip()
            if not ok and re.match(r"(?i)todo\b", directive):
                ok = True  # expected failure
            note = directive if re.match(r"(?i)(skip|todo)\b", directive) else ""
            current = Outcome("%s %s%s" % (base, num, (" - " + desc) if desc else ""), ok, "", note)
            results.append(current)
            continue
        m = _TAP_PLAN.match(line)
        if m:
            plan = int(m.group(1))
            current = None
            continue
        if line.startswith("#") and current is not None and not current.ok:
            current.detail += line + "\n"
    any_not_ok = any(not r.ok for r in results)
    err_tail = tail(err, 40)
    crashed = False
    if rc is None:
        crashed = True
        results.append(Outcome(base, False, "timed out after %ds\n%s" % (UNIT_TIMEOUT, err_tail)))
    elif rc != 0 and not any_not_ok:
        crashed = True
        what = ("killed by %s" % signal.Signals(-rc).name) if rc < 0 else ("exit status %d" % rc)
        results.append(Outcome(base, False, "%s without a 'not ok' line\n%s" % (what, err_tail)))
    elif rc == 0 and plan is not None and plan != len(results):
        results.append(Outcome(base, False, "planned %d tests, ran %d" % (plan, len(results))))
    elif rc == 0 and plan is None and not results:
        results.append(Outcome(base, False, "no TAP output\n" + err_tail))
    found = sanitizer_findings(err) + sanitizer_findings(out)
    if found and not crashed:
        results.append(Outcome(base + " (sanitizer)", False, "sanitizer report (%s):\n%s"
                               % (", ".join(sorted(set(found))), err_tail)))
    for r in results:
        if not r.ok and not r.detail and err.strip():
            r.detail = "stderr:\n" + tail(err, 20)
    return results


# ------------------------------------------------------------------ fuzz

def run_fuzz(binary: Path, build: Path, tmp: Path, seconds: int) -> Outcome:
    name = "fuzz/" + binary.name
    short = binary.name[len("fuzz_"):]
    work = tmp / binary.name
    corpus = work / "corpus"
    artifacts = work / "artifacts"
    src = FUZZ_CORPUS / short
    if src.is_dir():
        shutil.copytree(src, corpus)
    else:
        corpus.mkdir(parents=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    argv = [str(binary), "-max_total_time=%d" % seconds, "-timeout=10", "-rss_limit_mb=2048",
            "-print_final_stats=1", "-artifact_prefix=%s/" % artifacts, str(corpus)]
    rc, out, err, secs = run_process(argv, seconds + 60, cwd=work, merge=True)
    text = out
    found = sanitizer_findings(text)
    if rc is None:
        return Outcome(name, False, "timed out after %ds\n%s" % (seconds + 60, tail(text, 40)))
    if rc != 0 or found:
        crash = sorted(str(p) for p in artifacts.iterdir())
        extra = ("\nartifacts: %s" % " ".join(crash)) if crash else ""
        return Outcome(name, False, "exit status %d%s\n%s" % (rc, extra, tail(text, 50)))
    note = "no seed corpus" if not src.is_dir() else ""
    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", text)
    if m:
        note = (note + ", " if note else "") + "%s runs" % m.group(1)
    shutil.rmtree(work, ignore_errors=True)
    return Outcome(name, True, note=note)


# ------------------------------------------------------------ integration

def discover_integration() -> list[str]:
    sys.path.insert(0, str(INTEGRATION))
    try:
        import harness  # noqa: PLC0415
    finally:
        sys.path.pop(0)
    return harness.discover(INTEGRATION)


def run_integration(test: str, cli: Path, tmp: Path, keep: bool) -> Outcome:
    name = "integration/" + test
    if not (cli.is_file() and os.access(cli, os.X_OK)):
        return Outcome(name, False, "CLI binary %s not found" % cli)
    work = tmp / test.replace("::", ".")
    argv = [sys.executable, str(INTEGRATION / "harness.py"), "--worker", "--bin", str(cli), "--tmp", str(work), test]
    rc, out, _err, secs = run_process(argv, INTEGRATION_TIMEOUT, cwd=tmp, merge=True)
    found = sanitizer_findings(out)
    note = "%.1fs" % secs
    if rc == 0 and not found:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
        return Outcome(name, True, note=note)
    detail = out.rstrip()
    if rc is None:
        detail = "timed out after %ds\n%s" % (INTEGRATION_TIMEOUT, detail)
    elif rc not in (0, 1):
        detail = "worker exit status %d\n%s" % (rc, detail)
    if found and rc == 0:
        detail = "sanitizer report (%s)\n%s" % (", ".join(found), detail)
    detail += "\n(work directory kept: %s)" % work
    return Outcome(name, False, detail, note)


# ------------------------------------------------------------------ main

def guarded(name: str, fn, *a) -> list[Outcome]:
    """Runs a job; a harness exception becomes a failure instead of aborting the run."""
    try:
        r = fn(*a)
        return r if isinstance(r, list) else [r]
    except Exception:  # noqa: BLE001
        import traceback
        return [Outcome(name, False, "runner error:\n" + traceback.format_exc())]


def run_build(build: Path, args, reporter: Reporter, tmp_root: Path, integration_tests: list[str]) -> None:
    label = build.resolve().name or str(build)
    build = build.resolve()
    if not build.is_dir():
        reporter.report(label, Outcome("build directory", False, "%s does not exist" % build))
        return
    tmp = tmp_root / label
    tmp.mkdir(parents=True, exist_ok=True)
    phases = args.phases

    def pool(jobs: int):
        return concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs))

    if "unit" in phases:
        units = [b for b in executables(build / "tests" / "unit", "test_") if selected("unit/" + b.name, args.only)]
        with pool(args.jobs or os.cpu_count() or 2) as ex:
            futs = [ex.submit(guarded, "unit/" + b.name, run_unit, b, build) for b in units]
            for f in concurrent.futures.as_completed(futs):
                for o in f.result():
                    reporter.report(label, o)

    if "fuzz" in phases:
        fuzzers = [b for b in executables(build / "tests" / "fuzz", "fuzz_") if selected("fuzz/" + b.name, args.only)]
        ftmp = tmp / "fuzz"
        with pool(args.jobs or os.cpu_count() or 2) as ex:
            futs = [ex.submit(guarded, "fuzz/" + b.name, run_fuzz, b, build, ftmp, args.fuzz_time) for b in fuzzers]
            for f in concurrent.futures.as_completed(futs):
                for o in f.result():
                    reporter.report(label, o)

    if "integration" in phases:
        tests = [t for t in integration_tests if selected("integration/" + t, args.only)]
        cli = (build / "cli" / "imgfetch").resolve()
        itmp = tmp / "integration"
        itmp.mkdir(parents=True, exist_ok=True)
        jobs = args.jobs or min(6, 2 * (os.cpu_count() or 2))
        with pool(jobs) as ex:
            futs = [ex.submit(guarded, "integration/" + t, run_integration, t, cli, itmp, args.keep_tmp)
                    for t in tests]
            for f in concurrent.futures.as_completed(futs):
                for o in f.result():
                    reporter.report(label, o)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--build", action="append", required=True, type=Path, metavar="DIR",
                    help="meson build directory (repeatable)")
    ap.add_argument("--only", action="append", metavar="PATTERN", help="run only tests whose name matches")
    ap.add_argument("-j", "--jobs", type=int, default=0, metavar="N",
                    help="parallel jobs (default: CPUs for unit/fuzz, 2x CPUs up to 6 for integration)")
    ap.add_argument("--fuzz-time", type=int, default=10, metavar="S", help="seconds per fuzzer (default 10)")
    ap.add_argument("--phases", default="unit,fuzz,integration",
                    help="comma-separated subset of unit,fuzz,integration")
    ap.add_argument("--keep-tmp", action="store_true", help="keep every work directory")
    args = ap.parse_args()
    args.phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    bad = args.phases - {"unit", "fuzz", "integration"}
    if bad:
        ap.error("unknown phase(s): %s" % ", ".join(sorted(bad)))

    os.environ["ASAN_OPTIONS"] = ASAN_OPTIONS
    os.environ["UBSAN_OPTIONS"] = UBSAN_OPTIONS
    reporter = Reporter()
    tmp_root = Path(tempfile.mkdtemp(prefix="imgfetch-run-"))
    t0 = time.monotonic()
    try:
        integration_tests = discover_integration() if "integration" in args.phases else []
        for build in args.build:
            run_build(build, args, reporter, tmp_root, integration_tests)
    except KeyboardInterrupt:
        with _running_lock:
            for p in list(_running):
                _kill_group(p)
        print("interrupted; work directories kept under %s" % tmp_root)
        print("%d passed, %d failed" % (reporter.passed, len(reporter.failed) + 1))
        return 130
    if reporter.failed:
        print("\nFailed (%d):" % len(reporter.failed))
        for n in reporter.failed:
            print("  " + n)
        print("work directories of failed tests kept under %s" % tmp_root)
    elif not args.keep_tmp:
        shutil.rmtree(tmp_root, ignore_errors=True)
    else:
        print("work directories kept under %s" % tmp_root)
    print("(%.0fs)" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (reporter.passed, len(reporter.failed)))
    return 1 if reporter.failed or reporter.passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
