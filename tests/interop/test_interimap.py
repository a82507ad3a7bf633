"""Interop: InterIMAP (Debian `interimap`), a real synchroniser built on
QRESYNC: it keeps two IMAP servers in step using SELECT (QRESYNC ...),
VANISHED, CHANGEDSINCE, UIDPLUS, LIST-EXTENDED/LIST-STATUS and, in watch
mode, NOTIFY. Here the "local" side is a Dovecot 2.3 imap process (tunnel)
and the "remote" side is our 2-front-end / 2-back-end cluster.

One test walks a sync pair's life: the first run copies our folders to
Dovecot; changes on our side (another session on the other front-end: new
message, flag change, expunge, new folder) and on Dovecot's are carried
across by the next run, which must resynchronise our folders through
QRESYNC (InterIMAP aborts on a server without it); a last run changes
nothing. A second test runs `interimap --watch --notify` and checks that a
change made on our server reaches Dovecot by NOTIFY alone. Both sides'
states are compared exactly (Subject, flags, bytes) each time. Skipped when
interimap or Dovecot is missing. InterIMAP runs with --debug, and a failure
shows the end of its log (the IMAP traffic of both sides)."""

import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import cluster
import imapwire
from cluster import ClusterTest
from syncstate import server_folder
from dovecot import DOVECOT_IMAP, HAVE_DOVECOT, PipeSock, dovecot_config

cluster.module_fixtures(globals(), shards=2, frontends=2)

INTERIMAP = shutil.which("interimap")
PW = "interimap-pw"
USERS = ("isync1", "isync2")


def populate(c):
    for u in USERS:
        c.add_user(u, PW)


def message(subject):
    return ("From: ii@example.com\r\nSubject: %s\r\nMessage-ID: <%s@example.com>\r\n"
            "Date: Tue, 5 Mar 2024 09:00:00 +0000\r\n\r\nbody: %s\r\n"
            % (subject, re.sub(r"[^a-z0-9]", ".", subject.lower()), subject)).encode()


@unittest.skipIf(INTERIMAP is None or not HAVE_DOVECOT, "interimap or dovecot-imapd is not installed")
class InterIMAP(ClusterTest):
    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="cpm-interimap-")
        self.home = os.path.join(self.tmp, "dovecot")
        os.makedirs(os.path.join(self.home, "Maildir"))
        self.conf = os.path.join(self.home, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(dovecot_config(self.home))
        if os.geteuid() == 0:
            for root, dirs, files in os.walk(self.home):
                for n in dirs + files:
                    os.chown(os.path.join(root, n), 65534, 65534)
            os.chown(self.home, 65534, 65534)
            os.chmod(self.tmp, 0o755)
        self.env = {"USER": "local", "HOME": self.home, "TZ": "UTC", "PATH": "/usr/bin:/bin"}

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        super().tearDown()

    def log_tail(self):
        """InterIMAP's --debug log (all IMAP traffic but literals), for failure messages."""
        try:
            with open(os.path.join(self.tmp, "interimap.log"), errors="replace") as f:
                return "".join(f.readlines()[-80:])
        except OSError:
            return ""

    def write_config(self, user):
        rc = os.path.join(self.tmp, "interimap.conf")
        # Dovecot's imap refuses a socket on stdin (it assumes inetd): give it pipes.
        tunnel = "cat | env USER=local HOME=%s TZ=UTC %s -c %s | cat" % (self.home, DOVECOT_IMAP, self.conf)
        with open(rc, "w") as f:
            f.write("database = %s\n" % os.path.join(self.tmp, "interimap.db"))
            f.write("logfile = %s\n\n" % os.path.join(self.tmp, "interimap.log"))
            f.write("[local]\ntype = tunnel\ncommand = %s\nnull-stderr = YES\n\n" % tunnel)
            f.write("[remote]\ntype = imap\nhost = 127.0.0.1\nport = %d\nSTARTTLS = NO\nusername = %s\n"
                    "password = %s\ncompress = NO\n" % (self.cluster.port(1), user, PW))
        return rc

    def interimap(self, rc, *args):
        r = subprocess.run([INTERIMAP, "--config=" + rc, "--debug"] + list(args), capture_output=True, timeout=120,
                           stdin=subprocess.DEVNULL, env=dict(os.environ, XDG_DATA_HOME=self.tmp,
                                                              XDG_CONFIG_HOME=self.tmp))
        text = (r.stdout + r.stderr).decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, "interimap failed:\n" + text + self.log_tail())
        self.assertNotRegex(text, r"(?i)\b(error|abort|warning)", text)
        return text

    def dovecot(self):
        proc = subprocess.Popen([DOVECOT_IMAP, "-c", self.conf], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env=self.env, cwd=self.home)
        w = imapwire.RawIMAP(None, None, connect=False)
        w.sock = PipeSock(proc)
        assert w.greeting().startswith(b"* PREAUTH")
        return w, proc

    @staticmethod
    def folders(w):
        u, _ = w.cmd('LIST "" "*"')
        return sorted(re.search(rb'"/" "?([^"]*)"?$', ln).group(1).decode() for ln in u)

    def states(self, user):
        """(ours, Dovecot's): folder -> sorted [(Subject, flags, bytes)]."""
        w = self.cluster.login_raw(user, fe=0)
        try:
            ours = {f: server_folder(w, f) for f in self.folders(w)}
        finally:
            w.close()
        d, proc = self.dovecot()
        try:
            theirs = {f: server_folder(d, f) for f in self.folders(d)}
        finally:
            d.close()
            proc.wait(timeout=10)
        return ours, theirs

    def assert_same(self, user, expect_folders):
        ours, theirs = self.states(user)
        self.assertEqual(sorted(ours), sorted(expect_folders))
        self.assertEqual(ours, theirs)
        return ours

    def test_qresync_sync_both_ways(self):
        user = "isync1"
        w = self.cluster.login_raw(user, fe=0)
        w.cmd("CREATE Work")
        for box in ("INBOX", "Work"):
            for i, flags in enumerate(("\\Seen", "")):
                _, t = w.cmd_literal(("APPEND %s (%s)" % (box, flags)).encode(), message("%s %d" % (box, i)))
                self.assertIn(b"OK [APPENDUID", t)
        rc = self.write_config(user)
        self.interimap(rc)  # first run: our folders appear in Dovecot
        state = self.assert_same(user, ["Default", "INBOX", "Work"])
        self.assertEqual(len(state["Work"]), 2)

        # Changes on our side, through the other front-end...
        b = self.cluster.login_raw(user, fe=1)
        b.cmd("SELECT Work")
        b.cmd("STORE 2 +FLAGS.SILENT (\\Flagged)")
        b.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
        b.cmd("EXPUNGE")
        b.cmd_literal(b"APPEND Work", message("Work new"))
        b.cmd("CREATE Later")
        b.cmd_literal(b"APPEND Later (\\Answered)", message("Later 0"))
        # ... and on Dovecot's.
        d, proc = self.dovecot()
        d.cmd("SELECT INBOX")
        d.cmd("STORE 2 +FLAGS.SILENT (\\Seen $Work)")
        d.cmd_literal(b"APPEND INBOX (\\Draft)", message("INBOX from dovecot"))
        d.close()
        proc.wait(timeout=10)
        self.interimap(rc)
        state = self.assert_same(user, ["Default", "INBOX", "Later", "Work"])
        self.assertEqual([(s, f) for s, f, _ in state["Work"]], [("Work 1", "\\Flagged"), ("Work new", "")])
        self.assertIn(("INBOX 1", "$Work \\Seen"), [(s, f) for s, f, _ in state["INBOX"]])
        self.assertIn(("INBOX from dovecot", "\\Draft"), [(s, f) for s, f, _ in state["INBOX"]])
        # Nothing left to do: a last run changes nothing on either side.
        self.interimap(rc)
        self.assertEqual(self.assert_same(user, ["Default", "INBOX", "Later", "Work"]), state)
        b.close()
        w.close()

    def test_watch_with_notify(self):
        user = "isync2"
        w = self.cluster.login_raw(user, fe=0)
        w.cmd_literal(b"APPEND INBOX", message("first"))
        rc = self.write_config(user)
        self.interimap(rc)
        self.assert_same(user, ["Default", "INBOX"])
        watcher = subprocess.Popen([INTERIMAP, "--config=" + rc, "--debug", "--watch=600", "--notify"],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   env=dict(os.environ, XDG_DATA_HOME=self.tmp, XDG_CONFIG_HOME=self.tmp))
        try:
            time.sleep(2)  # its first pass and NOTIFY SET
            w.cmd_literal(b"APPEND INBOX (\\Flagged)", message("pushed"))
            # --watch=600: no polling within the test; only NOTIFY can bring it over.
            deadline = time.time() + 20
            while time.time() < deadline:
                ours, theirs = self.states(user)
                if ours == theirs:
                    break
                time.sleep(0.5)
            self.assertEqual(theirs, ours, "NOTIFY did not carry the change over\n" + self.log_tail())
            self.assertIn(("pushed", "\\Flagged"), [(s, f) for s, f, _ in theirs["INBOX"]])
            self.assertIsNone(watcher.poll(), watcher.stdout.read().decode("utf-8", "replace")
                              if watcher.poll() is not None else "")
        finally:
            watcher.terminate()
            out = watcher.communicate(timeout=10)[0].decode("utf-8", "replace")
        self.assertNotRegex(out, r"(?i)\b(error|abort)", out)
        w.close()
