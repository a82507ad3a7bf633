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
    for u in ("nt1", "nt2", "nt3", "nt4", "nt5", "nt6", "nt7"):
        c.add_user(u, PW)


def append(w, box, i):
    _, tagged = w.cmd_literal(("APPEND %s" % box).encode(), b"Subject: n%d\r\n\r\nx\r\n" % i)
    assert status(tagged) == "OK", tagged
    return int(re.search(rb"APPENDUID \d+ (\d+)", tagged).group(1))


def read_lines(conn, n, timeout=5.0):
    """The next n unsolicited lines, waiting at most timeout seconds.
    "* n RECENT" lines (this session's \\Recent claims, test_dovecot_parity.py) are skipped."""
    out = []
    deadline = time.time() + timeout
    while len(out) < n:
        left = deadline - time.time()
        if left <= 0:
            break
        conn.settimeout(left)
        try:
            line = conn.readline().rstrip(b"\r\n")
            if not re.match(rb"^\* \d+ RECENT$", line):
                out.append(line)
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
        untagged, _ = a.cmd("CAPABILITY")
        self.assertIn(b"NOTIFY", untagged[0].split())
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
        # (and "* n RECENT": how many of its messages this session claimed races with b's SELECT)
        self.assertEqual([u for u in untagged if not u.endswith(b" RECENT")], [b"* 2 EXISTS"])
        a.close()
        b.close()

    def test_message_new_fetch_attributes(self):
        """MessageNew (fetch-att): each new message of the selected folder is
        reported with those attributes after its EXISTS, with no \\Seen side
        effect — between commands and inside IDLE."""
        a = self.cluster.login_raw("nt7", fe=0)
        b = self.cluster.login_raw("nt7", fe=1)
        a.cmd("CREATE Att")
        append(b, "Att", 1)
        a.cmd("SELECT Att")
        _, tagged = a.cmd("NOTIFY SET (selected (MessageNew (BOGUS) MessageExpunge))")
        self.assertEqual(status(tagged), "BAD")
        _, tagged = a.cmd("NOTIFY SET (selected (MessageNew (UID FLAGS BODY[HEADER.FIELDS (Subject)]) "
                          "MessageExpunge))")
        self.assertEqual(status(tagged), "OK", tagged)
        u2 = append(b, "Att", 2)
        got = read_lines(a, 3)
        self.assertEqual(got[0], b"* 2 EXISTS")
        self.assertEqual(got[1], b"* 2 FETCH (UID %d FLAGS (\\Recent) BODY[HEADER.FIELDS (SUBJECT)] {15}" % u2)
        self.assertEqual(got[2], b"Subject: n2")
        self.assertEqual(read_lines(a, 2), [b"", b")"])
        # Inside IDLE too.
        a.send(b"i IDLE\r\n")
        self.assertEqual(read_lines(a, 1), [b"+ idling"])
        u3 = append(b, "Att", 3)
        got = read_lines(a, 5)
        self.assertEqual(got[:2], [b"* 3 EXISTS",
                                   b"* 3 FETCH (UID %d FLAGS (\\Recent) BODY[HEADER.FIELDS (SUBJECT)] {15}" % u3])
        a.send(b"DONE\r\n")
        self.assertRegex(read_lines(a, 1)[0], rb"^i OK ")
        # Not marked \Seen by the notification.
        untagged, _ = a.cmd("FETCH 2:3 (FLAGS)")
        self.assertEqual(untagged, [b"* 2 FETCH (FLAGS (\\Recent))", b"* 3 FETCH (FLAGS (\\Recent))"])
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


class NotifyOthers(ClusterTest):
    def test_message_events_as_status(self):
        a = self.cluster.login_raw("nt4", fe=0)
        b = self.cluster.login_raw("nt4", fe=1)
        for box in ("Other", "Quiet"):
            a.cmd("CREATE %s" % box)
        append(b, "Other", 1)
        a.cmd("SELECT INBOX")
        # SET STATUS: the followed folders' STATUS at once (with UIDVALIDITY).
        untagged, tagged = a.cmd("NOTIFY SET STATUS (selected (MessageNew MessageExpunge)) "
                                 "(mailboxes (Other Missing) (MessageNew MessageExpunge FlagChange))")
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertEqual(len(untagged), 1, untagged)
        # FlagChange followed: HIGHESTMODSEQ too (RFC 5465, as Dovecot).
        self.assertRegex(untagged[0], rb"^\* STATUS Other \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1 "
                                      rb"HIGHESTMODSEQ \d+\)$")
        # New mail in a followed folder: STATUS by itself.
        append(b, "Other", 2)
        self.assertRegex(read_lines(a, 1)[0], rb"^\* STATUS Other \(MESSAGES 2 UIDNEXT 3 UNSEEN 2 HIGHESTMODSEQ \d+\)$")
        # A folder that is not followed: nothing.
        append(b, "Quiet", 1)
        self.assertTrue(quiet(a))
        # Flag change and expunge.
        a.cmd("ENABLE CONDSTORE")
        b.cmd("SELECT Other")
        b.cmd("STORE 1 +FLAGS.SILENT (\\Seen)")
        got = read_lines(a, 1)
        self.assertRegex(got[0], rb"^\* STATUS Other \(MESSAGES 2 UIDNEXT 3 UNSEEN 1 HIGHESTMODSEQ \d+\)$")
        b.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
        read_lines(a, 1)
        b.cmd("EXPUNGE")
        got = read_lines(a, 1)
        self.assertRegex(got[0], rb"^\* STATUS Other \(MESSAGES 1 UIDNEXT 3 UNSEEN 1 HIGHESTMODSEQ \d+\)$")
        # While a command runs, notifications wait for its tagged answer.
        untagged, tagged = a.cmd("NOOP")
        self.assertEqual((untagged, status(tagged)), ([], "OK"))
        a.close()
        b.close()

    def test_mailbox_name_and_subscription(self):
        a = self.cluster.login_raw("nt5", fe=0)
        b = self.cluster.login_raw("nt5", fe=1)
        _, tagged = a.cmd("NOTIFY SET (personal (MailboxName SubscriptionChange))")
        self.assertEqual(status(tagged), "OK")
        b.cmd("CREATE Fresh")
        self.assertEqual(read_lines(a, 1), [b'* LIST () "/" Fresh'])
        b.cmd("RENAME Fresh Renamed")
        self.assertEqual(read_lines(a, 1), [b'* LIST () "/" Renamed ("OLDNAME" (Fresh))'])
        b.cmd("SUBSCRIBE Renamed")
        self.assertEqual(read_lines(a, 1), [b'* LIST (\\Subscribed) "/" Renamed'])
        b.cmd("UNSUBSCRIBE Renamed")
        self.assertEqual(read_lines(a, 1), [b'* LIST () "/" Renamed'])
        b.cmd("DELETE Renamed")
        self.assertEqual(read_lines(a, 1), [b'* LIST (\\NonExistent) "/" Renamed'])
        # Message events were not asked for.
        b.cmd("CREATE Box")
        read_lines(a, 1)
        append(b, "Box", 1)
        self.assertTrue(quiet(a))
        a.close()
        b.close()

    def test_subscribed_filter_and_idle(self):
        a = self.cluster.login_raw("nt6", fe=0)
        b = self.cluster.login_raw("nt6", fe=1)
        for box in ("Sub1", "Unsub", "Sel"):
            a.cmd("CREATE %s" % box)
        a.cmd("SUBSCRIBE Sub1")
        a.cmd("SELECT Sel")
        a.cmd("NOTIFY SET (selected (MessageNew MessageExpunge)) (subscribed (MessageNew MessageExpunge))")
        # Inside IDLE: the selected folder as IDLE reports it, other folders as STATUS.
        a.send(b"i IDLE\r\n")
        self.assertEqual(read_lines(a, 1), [b"+ idling"])
        append(b, "Sub1", 1)
        self.assertEqual(read_lines(a, 1), [b"* STATUS Sub1 (MESSAGES 1 UIDNEXT 2 UNSEEN 1)"])
        append(b, "Unsub", 1)
        append(b, "Sel", 1)
        self.assertEqual(read_lines(a, 1), [b"* 1 EXISTS"])
        self.assertTrue(quiet(a))
        # Subscribing later brings the folder in.
        b.cmd("SUBSCRIBE Unsub")
        append(b, "Unsub", 2)
        self.assertEqual(read_lines(a, 1), [b"* STATUS Unsub (MESSAGES 2 UIDNEXT 3 UNSEEN 2)"])
        a.send(b"DONE\r\n")
        got = read_lines(a, 1)
        self.assertRegex(got[0], rb"^i OK ")
        a.close()
        b.close()
