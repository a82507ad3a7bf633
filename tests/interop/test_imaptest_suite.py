"""An IMAP conformance suite that is not ours: the scripted tests of Dovecot's
imaptest (their `src/tests/` directory: one script per command family, with
its mbox of messages), run by our interpreter of their documented format
(imaptest_script.py) against Dovecot and against a 2-back-end / 2-front-end
cluster (a fresh user per script; connection N goes to front-end N mod 2).

The scripts are kept outside this repository. Point CPM_IMAPTEST_DIR at a
copy of imaptest's src/tests directory; without it the test is skipped.

A script fails the test when Dovecot passes it and we do not, unless KNOWN
gives the reason (an RFC choice where we differ from Dovecot, written down);
where Dovecot fails a script too, ours must fail at the same line.
Scripts that Dovecot itself fails, or that need what a pre-authenticated
Dovecot cannot do (state: nonauth, a second user), are reported, and on our
side must still pass unless KNOWN says why.

Run: CPM_IMAPTEST_DIR=/path/to/imaptest/src/tests \\
     python3 tests/run_tests.py --build build -k test_imaptest_suite
Set CPM_IMAPTEST_SHOW=1 to print every script's result on both servers."""

import glob
import os
import re
import unittest

import cluster
import imaptest_script
from cluster import ClusterTest
from dovecot import HAVE_DOVECOT, Dovecot

SUITE = os.environ.get("CPM_IMAPTEST_DIR", "")
SCRIPTS = sorted(p for p in glob.glob(os.path.join(SUITE, "*"))
                 if SUITE and os.path.isfile(p) and not p.endswith(".mbox") and not
                 os.path.basename(p).startswith(".") and os.path.basename(p) not in ("Makefile.am", "Makefile"))
PW = "suite-pw"

# script name -> reason we may fail it where Dovecot passes.
KNOWN = {
}

if SCRIPTS:
    cluster.module_fixtures(globals(), shards=2, frontends=2, cluster_options={"default_folders": "INBOX"})


def _show(name, side, r):
    if os.environ.get("CPM_IMAPTEST_SHOW"):
        print("\n[%s] %s: %s (%d commands)" % (side, name, r.status, r.commands))
        for line, msg in r.failures:
            print("   line %d: %s" % (line, msg))


@unittest.skipUnless(SCRIPTS, "CPM_IMAPTEST_DIR does not name a directory of imaptest scripts")
@unittest.skipUnless(HAVE_DOVECOT, "Dovecot (dovecot-imapd) is not installed")
class ImaptestSuite(ClusterTest):
    counter = 0

    def ours(self, test):
        type(self).counter += 1
        n = type(self).counter
        users = {}

        def user_for(conn_user):
            key = conn_user or "$user"
            if key not in users:
                name = "suite%d%s" % (n, chr(ord("a") + len(users)))
                self.cluster.add_user(name, PW)
                users[key] = name
            return users[key]

        def connect(i, conn_user):
            w = self.cluster.raw(fe=(n + i) % 2, greeting=False)
            w.greeting_line = w.greeting()
            if test.state != "nonauth":
                w.login(user_for(conn_user), PW)
            return w

        runner = imaptest_script.Runner(test, connect)
        first = user_for(None)
        runner.vars.update({"user": first, "username": first, "domain": "localhost", "password": PW})
        return runner.run()

    def dovecot(self, test):
        r = imaptest_script.Result(test.name)
        if test.state == "nonauth" or test.users:
            r.status = "skip"
            r.failures.append((0, "needs LOGIN or a second user; this Dovecot is pre-authenticated"))
            return r
        d = Dovecot()
        try:
            conns = [d.w]

            def connect(i, conn_user):
                w = conns.pop() if conns else d.connect()
                w.greeting_line = b"* PREAUTH"
                return w

            runner = imaptest_script.Runner(test, connect)
            runner.vars.update({"user": "diff", "username": "diff", "domain": "localhost", "password": PW})
            return runner.run()
        finally:
            d.close()

    def check(self, path):
        test = imaptest_script.parse(path)
        test.derive_mbox()  # a copy without NAME.mbox: the message the script shows whole
        theirs = self.dovecot(test)
        mine = self.ours(test)
        _show(test.name, "dovecot", theirs)
        _show(test.name, "ours", mine)
        if mine.status in ("pass", "skip") and not (mine.status == "skip" and theirs.status == "pass"):
            return
        if theirs.status == "fail" and mine.status == "fail" and mine.failures[0][0] == theirs.failures[0][0]:
            return  # the same answer as Dovecot's where the script expects another (shown with CPM_IMAPTEST_SHOW)
        if test.name in KNOWN:
            return
        self.fail("%s: Dovecot %s, ours %s:\n%s" % (
            test.name, theirs.status, mine.status,
            "\n".join("  line %d: %s" % x for x in mine.failures)))


def _make(path):
    def test(self):
        self.check(path)
    return test


for _p in SCRIPTS:
    setattr(ImaptestSuite, "test_" + re.sub(r"\W", "_", os.path.basename(_p)), _make(_p))


if __name__ == "__main__":
    unittest.main()
