#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""imgfetch test runner.

    tests/run.py --build build [--build build-asan ...] [--only PATTERN ...] [-j N]

For each build directory, in order:
  1. unit tests: every executable DIR/tests/unit/test_* (TAP output; one result
     per "ok"/"not ok" line; a crash or non-zero exit without a "not ok" line, a
     plan mismatch, a timeout or a sanitizer report adds one failure);
  2. fuzz smoke: every executable DIR/tests/fuzz/fuzz_*, deterministic: it
     runs every committed input of tests/fuzz/corpus/<name>/ (the crash
     reproducers "regress-*" among them), then a fixed number of mutations
     from a fixed seed (FUZZ_SEED, FUZZ_RUNS), with the process environment,
     paths and ASLR pinned, so that a commit passes or fails the same way on
     every run and every machine;
  3. integration tests: every test_* function of tests/integration/test_*.py,
     each in its own worker process, against DIR/cli/imgfetch.

Open-ended fuzzing is not part of the checks: --fuzz-soak (`make soak`) runs
each target for --fuzz-time seconds (default 60) from a random seed (printed),
keeping its corpus and crash artifacts under DIR/fuzz-soak/<name>/ from one
soak to the next; --fuzz-merge (`make fuzz-merge`) moves the soak corpus's
inputs that add coverage into tests/fuzz/corpus/<name>/ for review and commit.
A crash found by a soak is fixed, then its input committed to the corpus as
regress-<what>, so that every later smoke run replays it.

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
import shlex
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
                merge: bool = False, env: dict[str, str] | None = None) -> tuple[int | None, str, str, float]:
    """Runs argv in its own session (so a timeout kills the whole tree).
    Returns (returncode or None on timeout, stdout, stderr, seconds)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT if merge else subprocess.PIPE, start_new_session=True,
                         env=env)
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

# The smoke run of `make check` must pass or fail the same way on every run of
# a commit, so nothing in it may depend on time, on the machine or on where
# the tree lives: a fixed seed, a fixed number of executions, the committed
# corpus fed in a fixed order, no corpus reloading, and a fixed process image
# (libFuzzer's stack-depth feature and its compare tables see addresses, so
# the environment, the paths on the command line and ASLR are pinned too).
FUZZ_SEED = 1
FUZZ_RUNS_DEFAULT = 150000
# Executions per target, sized so that each takes at most ~10 s on the CI
# machine (2 cores, both busy) under ASan; the slow parsers get fewer.
FUZZ_RUNS = {
    "detect": 6000, "feed_fedora": 25000, "feed_ubuntu": 30000, "zfs_stream": 25000, "vmdk": 45000,
    "sums": 40000, "signify": 100000, "qcow2": 25000, "feed_oracle": 50000, "feed_openbsd": 70000, "feed_freebsd": 80000,
    "feed_centos_stream": 60000, "feed_alpine": 60000, "feed_arch": 90000,
    "pgp": 8000,
}
FUZZ_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LC_ALL": "C",
    "ASAN_OPTIONS": ASAN_OPTIONS,
    "UBSAN_OPTIONS": UBSAN_OPTIONS,
    # fuzz_init.c: no threads in the targets (fuzz_detect's threaded xz
    # decode makes coverage depend on timing); the soak keeps them.
    "IMGFETCH_FUZZ_ONE_THREAD": "1",
}
SOAK_DIR = "fuzz-soak"

_no_aslr: list[str] | None = None


def no_aslr_prefix() -> list[str]:
    """["setarch", "-R"] where the kernel lets us turn ASLR off, else []."""
    global _no_aslr
    if _no_aslr is None:
        try:
            ok = subprocess.run(["setarch", "-R", "true"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL).returncode == 0
        except OSError:
            ok = False
        _no_aslr = ["setarch", "-R"] if ok else []
    return _no_aslr


def fuzz_seeds(short: str) -> list[Path]:
    src = FUZZ_CORPUS / short
    return sorted((f for f in src.iterdir() if f.is_file()), key=lambda f: f.name) if src.is_dir() else []


def _fuzz_failure(name: str, rc: int | None, text: str, artifacts: list[Path], seeds: list[Path],
                  timeout: float, repro: str) -> Outcome:
    if rc is None:
        return Outcome(name, False, "timed out after %ds\n%s" % (timeout, tail(text, 40)))
    lines = []
    by_content = {f.read_bytes(): f for f in seeds}
    for a in artifacts:
        seed = by_content.get(a.read_bytes())
        lines.append("artifact: %s%s" % (a, (" (= committed input %s)" % seed.relative_to(REPO)) if seed else ""))
    lines.append("reproduce: " + repro)
    return Outcome(name, False, "exit status %d\n%s\n%s" % (rc, "\n".join(lines), tail(text, 50)))


def run_fuzz(binary: Path, build: Path, tmp: Path) -> Outcome:
    """The smoke run: every committed input, then FUZZ_RUNS mutations from
    FUZZ_SEED, all in one deterministic libFuzzer process."""
    name = "fuzz/" + binary.name
    short = binary.name[len("fuzz_"):]
    work = tmp / binary.name
    seeds = fuzz_seeds(short)
    (work / "s").mkdir(parents=True)
    (work / "new").mkdir()
    (work / "artifacts").mkdir()
    # Short relative names, so that the command line is the same wherever
    # the tree and the temporary directory are.
    names = []
    for i, f in enumerate(seeds):
        shutil.copyfile(f, work / "s" / ("%05d" % i))
        names.append("s/%05d" % i)
    os.symlink(binary, work / "fuzzer")
    runs = FUZZ_RUNS.get(short, FUZZ_RUNS_DEFAULT)
    argv = ["./fuzzer", "-seed=%d" % FUZZ_SEED, "-runs=%d" % runs, "-reload=0", "-timeout=30",
            "-rss_limit_mb=2048", "-malloc_limit_mb=2048", "-print_final_stats=1", "-artifact_prefix=artifacts/"]
    if names:
        argv.append("-seed_inputs=" + ",".join(names))
    argv.append("new")
    limit = 600
    rc, out, _err, secs = run_process(no_aslr_prefix() + argv, limit, cwd=work, merge=True, env=FUZZ_ENV)
    if rc != 0 or sanitizer_findings(out):
        # The exact run, replayable from its kept work directory (new inputs
        # go to its new/, never into the committed corpus).
        script = work / "reproduce.sh"
        env = " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in FUZZ_ENV.items())
        script.write_text("#!/bin/sh\ncd %s && rm -rf new && mkdir new && exec env -i %s %s\n"
                          % (shlex.quote(str(work)), env, shlex.join(no_aslr_prefix() + argv)))
        script.chmod(0o755)
        repro = "%s (the same run), or one input: %s ARTIFACT" % (script, binary)
        return _fuzz_failure(name, rc, out, sorted((work / "artifacts").iterdir()), seeds, limit, repro)
    m = re.search(r"^#\d+\s+DONE\s+cov: (\d+) ft: (\d+)", out, re.M)
    note = "%d inputs, %d runs from seed %d%s, %.1fs" % (
        len(seeds), runs, FUZZ_SEED, (", cov %s ft %s" % m.groups()) if m else "", secs)
    if not seeds:
        note = "no committed corpus, " + note
    if not no_aslr_prefix():
        note += ", ASLR on: coverage may vary"
    shutil.rmtree(work, ignore_errors=True)
    return Outcome(name, True, note=note)


def run_fuzz_soak(binary: Path, build: Path, tmp: Path, seconds: int) -> Outcome:
    """Open-ended fuzzing (`make soak`): a random seed, `seconds` of time, a
    corpus kept in BUILD/fuzz-soak/NAME/ across soaks (seeded from the
    committed one), crashes kept beside it."""
    name = "fuzz/" + binary.name
    short = binary.name[len("fuzz_"):]
    home = build / SOAK_DIR / short
    corpus, artifacts = home / "corpus", home / "artifacts"
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(exist_ok=True)
    for f in fuzz_seeds(short):
        if not (corpus / f.name).exists():
            shutil.copyfile(f, corpus / f.name)
    before = set(artifacts.iterdir())
    seed = int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF or 1
    argv = [str(binary), "-seed=%d" % seed, "-max_total_time=%d" % seconds, "-timeout=10", "-rss_limit_mb=2048",
            "-malloc_limit_mb=2048", "-print_final_stats=1", "-artifact_prefix=%s/" % artifacts, str(corpus)]
    limit = seconds + 120
    rc, out, _err, secs = run_process(argv, limit, cwd=home, merge=True)
    (home / "last.log").write_text(out)
    if rc != 0 or sanitizer_findings(out):
        new = sorted(set(artifacts.iterdir()) - before)
        repro = ("%s ARTIFACT; once fixed, add it as %s/regress-WHAT so that `make check` replays it"
                 % (binary, (FUZZ_CORPUS / short).relative_to(REPO)))
        return _fuzz_failure(name + " (seed %d)" % seed, rc, out, new, fuzz_seeds(short), limit, repro)
    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", out)
    c = re.search(r"^#\d+\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)", out, re.M)
    note = "seed %d, %.0fs, %s runs%s" % (seed, secs, m.group(1) if m else "?",
                                          (", cov %s ft %s, corpus %s" % c.groups()) if c else "")
    return Outcome(name, True, note=note)


def merge_fuzz_corpus(binary: Path, build: Path, tmp: Path) -> Outcome:
    """`make fuzz-merge`: the soak corpus's inputs that add coverage go into
    the committed corpus (libFuzzer -merge=1), for review and commit."""
    name = "fuzz-merge/" + binary.name
    short = binary.name[len("fuzz_"):]
    soak = build / SOAK_DIR / short / "corpus"
    if not soak.is_dir():
        return Outcome(name, True, note="no soak corpus; run make soak first")
    dest = FUZZ_CORPUS / short
    dest.mkdir(parents=True, exist_ok=True)
    before = {f.name for f in dest.iterdir()}
    work = tmp / ("merge-" + binary.name)
    work.mkdir(parents=True, exist_ok=True)
    argv = [str(binary), "-merge=1", "-timeout=10", "-rss_limit_mb=2048", "-malloc_limit_mb=2048",
            "-merge_control_file=%s" % (work / "control"), str(dest), str(soak)]
    rc, out, _err, secs = run_process(argv, 1800, cwd=work, merge=True)
    if rc != 0:
        return Outcome(name, False, "exit status %s\n%s" % (rc, tail(out, 40)))
    added = sorted({f.name for f in dest.iterdir()} - before)
    return Outcome(name, True, note="%d inputs added to %s" % (len(added), dest.relative_to(REPO)))


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
        if args.fuzz_merge:
            work, fa = merge_fuzz_corpus, ()
        elif args.fuzz_soak:
            work, fa = run_fuzz_soak, (args.fuzz_time,)
        else:
            work, fa = run_fuzz, ()
        with pool(args.jobs or os.cpu_count() or 2) as ex:
            futs = [ex.submit(guarded, "fuzz/" + b.name, work, b, build, ftmp, *fa) for b in fuzzers]
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
    ap.add_argument("--fuzz-soak", action="store_true",
                    help="fuzz phase: open-ended fuzzing with random seeds instead of the deterministic smoke run")
    ap.add_argument("--fuzz-time", type=int, default=60, metavar="S",
                    help="with --fuzz-soak: seconds per fuzzer (default 60)")
    ap.add_argument("--fuzz-merge", action="store_true",
                    help="fuzz phase: merge each soak corpus's new-coverage inputs into tests/fuzz/corpus/")
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
