"""IDLE (RFC 2177): changes made through the other front-end are pushed to an
idling session at once (change feed + change log), with exact untagged
responses; DONE ends it; IDLE also works in the authenticated state."""

import re
import time

import cluster
from cluster import ClusterTest
from imapwire import status

cluster.module_fixtures(globals())

PW = "idle-pw"


def populate(c):
    c.add_user("idler", PW)


def append(w, box, i):
    _, tagged = w.cmd_literal(("APPEND %s" % box).encode(), b"Subject: i%d\r\n\r\nx\r\n" % i)
    assert status(tagged) == "OK", tagged
    return int(re.search(rb"APPENDUID \d+ (\d+)", tagged).group(1))


class Idle(ClusterTest):
    def read_line(self, w, timeout=3.0):
        """The next pushed line; "* n RECENT" (\\Recent claims, test_dovecot_parity.py) skipped."""
        w.settimeout(timeout)
        try:
            while True:
                line = w.readline().rstrip(b"\r\n")
                if not re.match(rb"^\* \d+ RECENT$", line):
                    return line
        finally:
            w.settimeout(10)

    def test_push_across_frontends(self):
        a = self.cluster.login_raw("idler", fe=0)
        b = self.cluster.login_raw("idler", fe=1)
        a.cmd("CREATE Push")
        append(b, "Push", 1)
        a.cmd("SELECT Push")
        a.send(b"i1 IDLE\r\n")
        self.assertEqual(self.read_line(a), b"+ idling")
        t0 = time.monotonic()
        append(b, "Push", 2)
        self.assertEqual(self.read_line(a), b"* 2 EXISTS")
        self.assertLess(time.monotonic() - t0, 3.0)
        b.cmd("SELECT Push")
        b.cmd("STORE 1 +FLAGS.SILENT (\\Flagged)")
        self.assertRegex(self.read_line(a), rb"^\* 1 FETCH \(FLAGS \([^)]*\\Flagged[^)]*\)\)$")
        b.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
        line = self.read_line(a)  # the \Deleted flag change
        self.assertRegex(line, rb"^\* 1 FETCH \(FLAGS \(")
        b.cmd("EXPUNGE")
        self.assertEqual(self.read_line(a), b"* 1 EXPUNGE")
        a.send(b"DONE\r\n")
        self.assertRegex(self.read_line(a), rb"^i1 OK ")
        untagged, _ = a.cmd("FETCH 1:* UID")
        self.assertEqual(len(untagged), 1, untagged)
        b.close()
        a.close()

    def test_many_idlers_share_the_change_fetch(self):
        """40 sessions of one front-end idle on a folder; each change reaches
        every one of them exactly once (the front-end asks the back-end once
        per folder and MODSEQ and fans the answer out: frontend/changes.c)."""
        w = self.cluster.login_raw("idler", fe=1)
        w.cmd("CREATE Many")
        append(w, "Many", 0)
        idlers = []
        for i in range(40):
            a = self.cluster.login_raw("idler", fe=0)
            a.cmd("SELECT Many")
            a.send(b"m IDLE\r\n")
            self.assertEqual(self.read_line(a), b"+ idling")
            idlers.append(a)
        for n in (2, 3):
            append(w, "Many", n)
            for a in idlers:
                self.assertEqual(self.read_line(a), b"* %d EXISTS" % n)
        w.cmd("SELECT Many")
        w.cmd("STORE 1 +FLAGS.SILENT (\\Seen)")
        for a in idlers:
            self.assertRegex(self.read_line(a), rb"^\* 1 FETCH \(FLAGS \(\\Seen( \\Recent)?\)\)$")
        for a in idlers:
            a.send(b"DONE\r\n")
            self.assertRegex(self.read_line(a), rb"^m OK ")
            untagged, _ = a.cmd("NOOP")
            self.assertEqual(untagged, [])
            a.close()
        w.close()

    def test_idle_authenticated_state_and_bad_continuation(self):
        a = self.cluster.login_raw("idler", fe=1)
        a.send(b"i1 IDLE\r\n")
        self.assertEqual(self.read_line(a), b"+ idling")
        a.send(b"done\r\n")
        self.assertRegex(self.read_line(a), rb"^i1 OK ")
        a.send(b"i2 IDLE\r\n")
        self.assertEqual(self.read_line(a), b"+ idling")
        a.send(b"NOOP\r\n")
        self.assertRegex(self.read_line(a), rb"^i2 BAD ")
        untagged, tagged = a.cmd("NOOP")
        self.assertEqual(status(tagged), "OK")
        a.close()
