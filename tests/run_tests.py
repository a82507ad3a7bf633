#!/usr/bin/env python3
"""run_tests: the one test runner behind `make test` / `make unit` / `make asan-test`.

  python3 tests/run_tests.py [--build DIR] [--unit-only] [-k SUBSTRING] [--keep]

1. Unit tests: every executable DIR/tests/test-* runs with
   CMOCKA_MESSAGE_OUTPUT=TAP; each "ok N - name" / "not ok N - name" line is
   one test ("not ok N # SKIP name" is a skip). A binary that crashes, times
   out, prints no TAP result at all, or exits non-zero without reporting a
   failed test counts as one failure (its output is shown).
2. Integration and interop tests (unless --unit-only): every
   tests/integration/test_*.py, then every tests/interop/test_*.py, loaded
   and run with unittest in this process. The modules start real clusters
   from DIR/bin (tests/integration/cluster.py; DIR reaches it as $CPM_BUILD);
   interop tests skip themselves when their third-party client is missing.

Each test's result is printed as it finishes; the last line is exactly
"N passed, N failed" (plus ", N skipped" when some were skipped). Exit
status 1 when anything failed. -k keeps the unit binaries whose name and the
integration tests whose id (module.Class.test) contain SUBSTRING.
--keep leaves the clusters' temp dirs (configs, logs, data) in place.
"""

import argparse
import glob
import importlib
import os
import re
import signal
import subprocess
import sys
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
UNIT_TIMEOUT = 300
TEST_TIMEOUT = int(os.environ.get("CPM_TEST_TIMEOUT", "180"))
TAP_RE = re.compile(r"^(not ok|ok) (\d+)(?: - (.*?))?(?: # (SKIP|TODO)\b ?(.*))?\s*$")


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Counts:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures = []  # names, for the summary

    def summary(self):
        s = "%d passed, %d failed" % (self.passed, self.failed)
        if self.skipped:
            s += ", %d skipped" % self.skipped
        return s


def indent(text, n=4, limit=200):
    lines = text.rstrip("\n").splitlines()
    if len(lines) > limit:
        lines = ["... (%d lines cut)" % (len(lines) - limit)] + lines[-limit:]
    return "\n".join(" " * n + ln for ln in lines)


# --- unit tests -----------------------------------------------------------------

def run_unit(build, counts, pattern):
    bins = sorted(p for p in glob.glob(os.path.join(build, "tests", "test-*"))
                  if os.path.isfile(p) and os.access(p, os.X_OK) and not p.endswith((".o", ".d")))
    if pattern:
        bins = [b for b in bins if pattern in os.path.basename(b)]
    if not bins:
        out("# no unit test binaries in %s/tests%s" % (build, " matching -k" if pattern else ""))
        return
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="TAP")
    for path in bins:
        name = os.path.basename(path)
        t0 = time.time()
        try:
            p = subprocess.run([path], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env=env, timeout=UNIT_TIMEOUT, cwd=REPO)
            text = p.stdout.decode("utf-8", "replace")
            rc = p.returncode
        except subprocess.TimeoutExpired as e:
            text = (e.stdout or b"").decode("utf-8", "replace")
            rc = "timeout after %ds" % UNIT_TIMEOUT
        results = 0
        failed_here = 0
        lines = text.splitlines()
        for i, line in enumerate(lines):
            m = TAP_RE.match(line)
            if not m:
                continue
            results += 1
            verdict, num, tname, directive, reason = m.groups()
            tname = tname or reason or ("#" + num)
            label = "%s: %s" % (name, tname)
            if directive == "SKIP":
                counts.skipped += 1
                out("SKIP  %s" % label)
            elif verdict == "ok":
                counts.passed += 1
                out("PASS  %s" % label)
            else:
                counts.failed += 1
                failed_here += 1
                counts.failures.append(label)
                out("FAIL  %s" % label)
                detail = []
                for nxt in lines[i + 1:]:
                    if not nxt.startswith("#") or nxt.startswith("# ok - ") or nxt.startswith("# not ok - "):
                        break
                    detail.append(nxt)
                if detail:
                    out(indent("\n".join(detail)))
        if (rc != 0 and failed_here == 0) or results == 0:
            counts.failed += 1
            why = "exit status %s" % rc if rc != 0 else "no TAP results"
            if isinstance(rc, int) and rc < 0:
                why = "killed by signal %d" % -rc
            label = "%s (%s)" % (name, why)
            counts.failures.append(label)
            out("FAIL  %s" % label)
            if text.strip():
                out(indent(text, limit=80))
        elif rc != 0 and failed_here and re.search(r"Sanitizer|runtime error", text):
            out(indent(text, limit=80))
        out("#     %s: %d results in %.1fs" % (name, results, time.time() - t0))


# --- integration tests ----------------------------------------------------------

class TestTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise TestTimeout("test exceeded %d s" % TEST_TIMEOUT)


class CountingResult(unittest.TestResult):
    """Prints one line per test as it finishes and feeds Counts."""

    def __init__(self, counts):
        super().__init__()
        self.counts = counts
        self.t0 = 0.0

    @staticmethod
    def label(test):
        tid = test.id()
        if tid.startswith("test_"):
            return tid
        # _ErrorHolder for setUpModule/tearDownModule/setUpClass failures
        return str(test)

    def startTest(self, test):
        super().startTest(test)
        self.t0 = time.time()
        signal.alarm(TEST_TIMEOUT)

    def stopTest(self, test):
        signal.alarm(0)
        super().stopTest(test)

    def _took(self):
        return " (%.1fs)" % (time.time() - self.t0) if self.t0 else ""

    def addSuccess(self, test):
        super().addSuccess(test)
        self.counts.passed += 1
        out("PASS  %s%s" % (self.label(test), self._took()))

    def _fail(self, test, err, kind):
        self.counts.failed += 1
        label = self.label(test)
        self.counts.failures.append(label)
        out("FAIL  %s%s%s" % (label, "" if kind == "failure" else " [%s]" % kind, self._took()))
        out(indent(self._exc_info_to_string(err, test), limit=120))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail(test, err, "failure")

    def addError(self, test, err):
        super().addError(test, err)
        self._fail(test, err, "error")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.counts.skipped += 1
        out("SKIP  %s: %s" % (self.label(test), reason))

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.counts.passed += 1
        out("PASS  %s (expected failure)" % self.label(test))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.counts.failed += 1
        self.counts.failures.append(self.label(test))
        out("FAIL  %s (unexpected success)" % self.label(test))

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            kind = "failure" if issubclass(err[0], test.failureException) else "error"
            self._fail(subtest, err, kind)


def iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


def run_integration(counts, pattern):
    idir = os.path.join(HERE, "integration")
    xdir = os.path.join(HERE, "interop")
    sys.path.insert(0, xdir)
    sys.path.insert(0, idir)
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    paths = sorted(glob.glob(os.path.join(idir, "test_*.py"))) + sorted(glob.glob(os.path.join(xdir, "test_*.py")))
    names = [os.path.basename(p) for p in paths]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise SystemExit("test module names must be unique across integration/ and interop/: %s" % dup)
    for path in paths:
        modname = os.path.splitext(os.path.basename(path))[0]
        try:
            mod = importlib.import_module(modname)
        except Exception:
            counts.failed += 1
            counts.failures.append(modname + " (import)")
            out("FAIL  %s (import error)" % modname)
            out(indent(traceback.format_exc()))
            continue
        for t in iter_tests(loader.loadTestsFromModule(mod)):
            if not pattern or pattern in t.id():
                suite.addTest(t)
    if suite.countTestCases() == 0:
        out("# no integration tests%s" % (" matching -k" if pattern else ""))
        return
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        suite.run(CountingResult(counts))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def main():
    ap = argparse.ArgumentParser(description="cpm-store test runner")
    ap.add_argument("--build", default="build", help="build directory (default: build)")
    ap.add_argument("--unit-only", action="store_true", help="run only the cmocka unit tests")
    ap.add_argument("-k", dest="pattern", default=None, help="only tests whose name contains SUBSTRING")
    ap.add_argument("--keep", action="store_true", help="keep the integration clusters' temp dirs")
    args = ap.parse_args()

    build = args.build if os.path.isabs(args.build) else os.path.join(REPO, args.build)
    os.environ["CPM_BUILD"] = build
    if args.keep:
        os.environ["CPM_KEEP"] = "1"
    counts = Counts()
    t0 = time.time()
    try:
        out("# unit tests (%s/tests)" % args.build)
        run_unit(build, counts, args.pattern)
        if not args.unit_only:
            out("# integration and interop tests (binaries from %s/bin)" % args.build)
            run_integration(counts, args.pattern)
    except KeyboardInterrupt:
        counts.failed += 1
        counts.failures.append("interrupted")
        out("FAIL  interrupted")
    if counts.failures:
        out("# failed: " + ", ".join(counts.failures[:50]) + (" ..." if len(counts.failures) > 50 else ""))
    out("# took %.0fs" % (time.time() - t0))
    out(counts.summary())
    return 1 if counts.failed else 0


if __name__ == "__main__":
    sys.exit(main())
