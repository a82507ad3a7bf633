"""NOTIFY (RFC 5465) through the cluster: session A on one front-end sets
NOTIFY and waits without IDLE; session B changes things through the other
front-end; A receives exactly the untagged responses the RFC prescribes,
unprompted — for the selected folder (SELECTED, SELECTED-DELAYED) and for
other folders (STATUS, LIST)."""

import re
import socket
import time

import cluster
from cluster import ClusterTest
from imapwire import status

cluster.module_fixtures(globals())

PW = "nt-pw"


def populate(c):
    for u in ("nt1", "nt2", "nt3", "nt4", "nt5", "nt6"):
        c.add_user(u, PW)


def append(w, box, i):
    _, tagged = w.cmd_literal(("APPEND %s" % box).encode(), b"Subject: n%d\r\n\r\nx\r\n" % i)
    assert status(tagged) == "OK", tagged
    return int(re.search(rb"APPENDUID \d+ (\d+)", tagged).group(1))


def read_lines(conn, n, timeout=5.0):
    """The next n unsolicited lines, waiting at most timeout seconds."""
    out = []
    deadline = time.time() + timeout
    while len(out) < n:
        left = deadline - time.time()
        if left <= 0:
            break
        conn.settimeout(left)
        try:
            out.append(conn.readline().rstrip(b"\r\n"))
        except (socket.timeout, TimeoutError):
            break
    conn.settimeout(10.0)
    return out


def quiet(conn, wait=0.5):
    """True when nothing arrives within wait seconds."""
    return read_lines(conn, 1, timeout=wait) == []


class NotifySelected(ClusterTest):
    def test_errors(self):
        a = self.cluster.login_raw("nt1")
        for bad in ("NOTIFY", "NOTIFY SET", "NOTIFY SET (selected (MessageNew))", "NOTIFY SET (bogus NONE)",
                    "NOTIFY SET (personal (MailboxName)) (personal NONE)"):
            _, tagged = a.cmd(bad)
            self.assertEqual(status(tagged), "BAD", bad)
        _, tagged = a.cmd("NOTIFY SET (personal (MailboxMetadataChange))")
        self.assertRegex(tagged, rb"^\S+ NO \[BADEVENT \(MessageNew MessageExpunge FlagChange MailboxName "
                                 rb"SubscriptionChange\)\]")
        _, tagged = a.cmd("NOTIFY NONE")
        self.assertEqual(status(tagged), "OK")
        a.close()

    def test_selected_pushes_without_idle(self):
        a = self.cluster.login_raw("nt2", fe=0)
        b = self.cluster.login_raw("nt2", fe=1)
        a.cmd("CREATE Sel")
        u1 = append(b, "Sel", 1)
        a.cmd("SELECT Sel")
        _, tagged = a.cmd("NOTIFY SET (selected (MessageNew MessageExpunge FlagChange))")
        self.assertEqual(status(tagged), "OK")
        # A new message: EXISTS arrives by itself.
        append(b, "Sel", 2)
        self.assertEqual(read_lines(a, 1), [b"* 2 EXISTS"])
        # A flag change: FETCH FLAGS.
        b.cmd("SELECT Sel")
        b.cmd("UID STORE %d +FLAGS.SILENT (\\Flagged)" % u1)
        got = read_lines(a, 1)
        self.assertEqual(len(got), 1, got)
        self.assertRegex(got[0], rb"^\* 1 FETCH \(FLAGS \(\\Flagged( \\Recent)?\)\)$")
        # An expunge: EXPUNGE at once (no command in progress).
        b.cmd("UID STORE %d +FLAGS.SILENT (\\Deleted)" % u1)
        b.cmd("EXPUNGE")
        got = read_lines(a, 2)
        self.assertIn(b"* 1 EXPUNGE", got)
        self.assertTrue(quiet(a))
        untagged, _ = a.cmd("NOOP")
        self.assertEqual(untagged, [])
        # NOTIFY NONE stops the pushes; NOOP reports as before.
        a.cmd("NOTIFY NONE")
        append(b, "Sel", 3)
        self.assertTrue(quiet(a))
        untagged, _ = a.cmd("NOOP")
        self.assertEqual(untagged, [b"* 2 EXISTS"])
        a.close()
        b.close()

    def test_selected_delayed_keeps_expunges(self):
        a = self.cluster.login_raw("nt3", fe=0)
        b = self.cluster.login_raw("nt3", fe=1)
        a.cmd("CREATE Del")
        u1 = append(b, "Del", 1)
        append(b, "Del", 2)
        a.cmd("SELECT Del")
        a.cmd("NOTIFY SET (selected-delayed (MessageNew MessageExpunge))")
        b.cmd("SELECT Del")
        b.cmd("UID STORE %d +FLAGS.SILENT (\\Deleted)" % u1)
        b.cmd("EXPUNGE")
        append(b, "Del", 3)
        # New mail comes at once; the expunge waits (sequence numbers stay).
        got = read_lines(a, 2, timeout=3)
        self.assertIn(b"* 3 EXISTS", got)
        self.assertFalse(any(b"EXPUNGE" in ln for ln in got), got)
        untagged, _ = a.cmd("FETCH 2:3 (UID)")
        self.assertEqual(len(untagged), 2)
        # NOOP allows EXPUNGE: now it comes.
        untagged, _ = a.cmd("NOOP")
        self.assertEqual(untagged, [b"* 1 EXPUNGE"])
        a.close()
        b.close()
