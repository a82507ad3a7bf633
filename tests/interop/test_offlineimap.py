"""Interop: offlineimap3 (Debian offlineimap3), a second real two-way
synchroniser with its own IMAP client code (imaplib2), against our cluster
over implicit TLS with certificate verification.

Initial pull of several folders, near-side changes pushed (new message via
APPENDUID, flag added, message deleted), far-side changes pulled (new
message, flag, expunge from another session), then a run that must change
nothing; both sides compared exactly each time. Skipped when offlineimap is
not installed."""

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

OFFLINEIMAP = shutil.which("offlineimap")
PW = "oi-pw"
USER = "offline"
FOLDERS = ["Default", "INBOX", "Lists", "Lists/cpm"]
def message(subject):
    return ("From: oi@example.com\r\nSubject: %s\r\nMessage-ID: <%s@example.com>\r\n\r\nbody: %s\r\n"
            % (subject, re.sub(r"[^a-z0-9]", ".", subject.lower()), subject)).encode()


def populate(c):
    c.add_user(USER, PW)
    w = c.login_raw(USER, fe=0)
    try:
        for name in ("Lists", "Lists/cpm"):
            _, t = w.cmd("CREATE " + name)
            assert b" OK" in t, t
        for folder in FOLDERS:
            for i, flags in enumerate(("\\Seen", "\\Flagged")):
                _, t = w.cmd_literal('APPEND "%s" (%s)' % (folder, flags), message("%s %d" % (folder, i)))
                assert b" OK [APPENDUID" in t, t
    finally:
        w.close()


@unittest.skipIf(OFFLINEIMAP is None, "offlineimap is not installed (deploy/deps.sh installs offlineimap3)")
class OfflineIMAP(ClusterTest):
    maxDiff = None

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="cpm-offlineimap-")
        self.local = os.path.join(self.tmp, "Mail")
        self.rc = os.path.join(self.tmp, "offlineimaprc")
        with open(self.rc, "w") as f:
            f.write("[general]\naccounts = cpm\nmetadata = %s/meta\n\n" % self.tmp)
            f.write("[Account cpm]\nlocalrepository = local\nremoterepository = remote\n\n")
            f.write("[Repository local]\ntype = Maildir\nlocalfolders = %s\nsep = /\n\n" % self.local)
            f.write("[Repository remote]\ntype = IMAP\nremotehost = localhost\nremoteport = %d\n"
                    "remoteuser = %s\nremotepass = %s\nssl = yes\nsslcacertfile = %s\nmaxconnections = 1\n"
                    % (self.cluster.port(1, tls=True), USER, PW, self.cluster.cert))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        super().tearDown()

    def offlineimap(self):
        r = subprocess.run([OFFLINEIMAP, "-c", self.rc, "-o", "-u", "basic"], capture_output=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        text = (r.stdout + r.stderr).decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, "offlineimap failed:\n" + text)
        self.assertNotRegex(text, r"(?im)^\s*(ERROR|WARNING)\b|Traceback", text)
        return text

    def local_state(self):
        return {folder: maildir_folder(self.local, folder) for folder in FOLDERS}

    def server_state(self):
        w = self.cluster.login_raw(USER, fe=0)
        try:
            return {folder: server_folder(w, folder) for folder in FOLDERS}
        finally:
            w.close()

    def assert_both(self, spec):
        want = {f: sorted((s, " ".join(sorted(fl.split())), message(s).replace(b"\r\n", b"\n")) for s, fl in msgs)
                for f, msgs in spec.items()}
        self.assertEqual(self.server_state(), want, "server side")
        self.assertEqual(self.local_state(), want, "local Maildir")

    def find_local(self, folder, subject):
        for path, _ in maildir_files(self.local, folder):
            with open(path, "rb") as f:
                if subject_of(f.read()) == subject:
                    return path
        raise AssertionError("%s not in local %s" % (subject, folder))

    def test_sync_both_ways(self):
        want = {f: [("%s 0" % f, "\\Seen"), ("%s 1" % f, "\\Flagged")] for f in FOLDERS}
        self.offlineimap()
        self.assert_both(want)

        # near side: new message, a flag added, a message removed
        with open(os.path.join(self.local, "Lists/cpm", "new", "1709629200_0.1.host"), "wb") as f:
            f.write(message("near new").replace(b"\r\n", b"\n"))
        p = self.find_local("INBOX", "INBOX 1")
        os.rename(p, p.rsplit(":2,", 1)[0] + ":2,FS")
        os.unlink(self.find_local("Default", "Default 0"))
        self.offlineimap()
        want["Lists/cpm"] = want["Lists/cpm"] + [("near new", "")]
        want["INBOX"] = [("INBOX 0", "\\Seen"), ("INBOX 1", "\\Flagged \\Seen")]
        want["Default"] = [("Default 1", "\\Flagged")]
        self.assert_both(want)

        # far side, another session: new message, flag removed, expunge
        w = self.cluster.login_raw(USER, fe=0)
        try:
            _, t = w.cmd_literal("APPEND Lists (\\Draft)", message("far new"))
            self.assertIn(b" OK [APPENDUID", t)
            _, t = w.cmd("SELECT Lists")
            u, t = w.cmd("UID STORE 2 -FLAGS (\\Flagged)")
            self.assertEqual(u, [b"* 2 FETCH (UID 2 FLAGS ())"])
            _, t = w.cmd("SELECT INBOX")
            u, t = w.cmd("UID STORE 1 +FLAGS.SILENT (\\Deleted)")
            u, t = w.cmd("UID EXPUNGE 1")
            self.assertEqual(u, [b"* 1 EXPUNGE"])
        finally:
            w.close()
        self.offlineimap()
        want["Lists"] = [("Lists 0", "\\Seen"), ("Lists 1", ""), ("far new", "\\Draft")]
        want["INBOX"] = [("INBOX 1", "\\Flagged \\Seen")]
        self.assert_both(want)

        # nothing left to do: a further run copies nothing and changes nothing
        text = self.offlineimap()
        self.assertNotIn("Copy message", text)
        self.assertNotRegex(text, r"(?i)(adding flags|removing flags|deleting)")
        self.assert_both(want)


if __name__ == "__main__":
    unittest.main()
