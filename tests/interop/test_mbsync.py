"""Interop: mbsync (Debian isync), a real two-way synchroniser, between a local
Maildir and our cluster over implicit TLS.

One test walks the whole life of a sync pair: the initial pull of several
folders (with a sub-folder), then changes on both sides (near side: a new
message, a flag change, a deletion; far side, through our IMAP from another
session on the other front-end: a new message, a flag change, an expunge), a
second sync that carries them across, a third sync that must change nothing,
and at each step both sides' whole state compared exactly (folder -> sorted
(Subject, flags) pairs, and message bytes). Skipped when mbsync is missing."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

import cluster
from cluster import ClusterTest
from syncstate import maildir_files, maildir_folder, server_folder, subject_of

cluster.module_fixtures(globals(), shards=2, frontends=2)

MBSYNC = shutil.which("mbsync")
PW = "mbsync-pw"
USER = "syncer"
FOLDERS = ["INBOX", "Default", "Work", "Work/Sub"]
def message(subject, body):
    return ("From: sync@example.com\r\nTo: %s@example.com\r\nSubject: %s\r\nMessage-ID: <%s@example.com>\r\n"
            "Date: Tue, 5 Mar 2024 09:00:00 +0000\r\n\r\n%s\r\n"
            % (USER, subject, re.sub(r"[^a-z0-9]", ".", subject.lower()), body)).encode()


def populate(c):
    c.add_user(USER, PW)
    w = c.login_raw(USER, fe=1)
    try:
        for name in ("Work", "Work/Sub"):
            _, t = w.cmd("CREATE " + name)
            assert b" OK" in t, t
        for folder in FOLDERS:
            for i, flags in enumerate(("", "\\Seen")):
                data = message("%s %d" % (folder, i), "body of %s %d" % (folder, i))
                _, t = w.cmd_literal('APPEND "%s" (%s) "05-Mar-2024 09:00:00 +0000"' % (folder, flags), data)
                assert b" OK [APPENDUID" in t, t
    finally:
        w.close()


def strip_tuid(data):
    """mbsync writes an X-TUID header into every message it propagates (both
    directions: it finds the copy again by it after an interrupted run)."""
    return re.sub(rb"(?m)^X-TUID: [A-Za-z0-9+/]{12}\r?\n", b"", data)


@unittest.skipIf(MBSYNC is None, "mbsync is not installed (deploy/deps.sh installs isync)")
class MbsyncTwoWay(ClusterTest):
    maxDiff = None

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="cpm-mbsync-")
        self.local = os.path.join(self.tmp, "Maildir")
        os.mkdir(self.local)
        self.rc = os.path.join(self.tmp, "mbsyncrc")
        with open(self.rc, "w") as f:
            f.write("IMAPAccount cpm\nHost localhost\nPort %d\nUser %s\nPass %s\nSSLType IMAPS\n"
                    "CertificateFile %s\n\n" % (self.cluster.port(0, tls=True), USER, PW, self.cluster.cert))
            f.write("IMAPStore remote\nAccount cpm\n\n")
            f.write("MaildirStore local\nPath %s/\nInbox %s/INBOX\nSubFolders Verbatim\n\n"
                    % (self.local, self.local))
            f.write("Channel ch\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\n"
                    "SyncState *\n")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        super().tearDown()

    def mbsync(self):
        r = subprocess.run([MBSYNC, "-c", self.rc, "-a"], capture_output=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        text = (r.stdout + r.stderr).decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, "mbsync failed:\n" + text)
        # no warnings about the server: only Maildir's own timing notice may appear
        complaints = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("Maildir notice:")]
        self.assertEqual(complaints, [], text)
        return r

    # --- the two sides' states ---------------------------------------------
    def local_files(self, folder):
        return maildir_files(self.local, folder)

    def local_state(self):
        state = {}
        for folder in sorted(os.listdir(self.local)) + ["Work/Sub"]:
            if folder == "Work/Sub" or os.path.isdir(os.path.join(self.local, folder, "cur")):
                state[folder] = maildir_folder(self.local, folder, strip_tuid)
        return state

    def server_state(self):
        w = self.cluster.login_raw(USER, fe=1)
        try:
            u, _ = w.cmd('LIST "" "*"')
            names = sorted(re.search(rb'"/" "?([^"]*)"?$', ln).group(1).decode() for ln in u)
            return {folder: server_folder(w, folder, strip_tuid) for folder in names}
        finally:
            w.close()

    def expected(self, spec):
        """spec: folder -> [(subject, flags)] -> the state both sides must have."""
        out = {}
        for folder, msgs in spec.items():
            out[folder] = sorted((s, " ".join(sorted(f.split())), message(s, b).replace(b"\r\n", b"\n"))
                                 for s, f, b in msgs)
        return out

    def assert_both(self, spec):
        want = self.expected(spec)
        self.assertEqual(self.server_state(), want, "server side")
        self.assertEqual(self.local_state(), want, "local Maildir")

    def snapshot(self):
        files = {}
        for root, _, names in os.walk(self.local):
            for n in names:
                p = os.path.join(root, n)
                with open(p, "rb") as f:
                    files[os.path.relpath(p, self.local)] = f.read()
        w = self.cluster.login_raw(USER, fe=0)
        try:
            status = {}
            for folder in FOLDERS:
                u, _ = w.cmd('STATUS "%s" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)' % folder)
                status[folder] = u
        finally:
            w.close()
        return files, status

    def test_two_way_sync(self):
        base = {f: [("%s %d" % (f, i), fl, "body of %s %d" % (f, i)) for i, fl in ((0, ""), (1, "\\Seen"))]
                for f in FOLDERS}

        # 1. initial pull of every folder
        self.mbsync()
        self.assert_both(base)

        # 2. near-side changes: a new message, a flag change, a deletion
        with open(os.path.join(self.local, "Work", "new", "1709629200.local1.host"), "wb") as f:
            f.write(message("local new", "written on the near side").replace(b"\r\n", b"\n"))
        (path, _), = [x for x in self.local_files("INBOX") if subject_of(open(x[0], "rb").read()) == "INBOX 0"]
        flagged = os.path.join(self.local, "INBOX", "cur", os.path.basename(path).split(":2,")[0] + ":2,F")
        os.rename(path, flagged)
        (gone, _), = [x for x in self.local_files("Default") if subject_of(open(x[0], "rb").read()) == "Default 1"]
        os.unlink(gone)

        # far-side changes from another session on the other front-end
        w = self.cluster.login_raw(USER, fe=1)
        try:
            _, t = w.cmd_literal('APPEND Default (\\Answered) "05-Mar-2024 09:00:00 +0000"',
                                 message("server new", "written on the far side"))
            self.assertIn(b" OK [APPENDUID", t)
            _, t = w.cmd("SELECT Work/Sub")
            self.assertIn(b" OK [READ-WRITE]", t)
            _, t = w.cmd("UID STORE 1 +FLAGS.SILENT (\\Deleted)")
            self.assertIn(b" OK", t)
            u, t = w.cmd("EXPUNGE")
            self.assertEqual(u, [b"* 1 EXPUNGE"])
            _, t = w.cmd("SELECT INBOX")
            u, t = w.cmd("UID STORE 2 +FLAGS (\\Flagged)")
            self.assertEqual(u, [b"* 2 FETCH (UID 2 FLAGS (\\Seen \\Flagged))"])
        finally:
            w.close()

        # 3. the second sync carries both sides' changes across
        self.mbsync()
        want = dict(base)
        want["INBOX"] = [("INBOX 0", "\\Flagged", "body of INBOX 0"), ("INBOX 1", "\\Seen \\Flagged", "body of INBOX 1")]
        want["Default"] = [("Default 0", "", "body of Default 0"),
                           ("server new", "\\Answered", "written on the far side")]
        want["Work"] = base["Work"] + [("local new", "", "written on the near side")]
        want["Work/Sub"] = [("Work/Sub 1", "\\Seen", "body of Work/Sub 1")]
        self.assert_both(want)

        # 4. a third run is a no-op on both sides
        before = self.snapshot()
        self.mbsync()
        self.assertEqual(self.snapshot(), before)
        self.assert_both(want)


if __name__ == "__main__":
    unittest.main()
