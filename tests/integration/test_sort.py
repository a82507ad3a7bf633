"""SORT, ESORT and THREAD (RFC 5256, RFC 5267 section 3, RFC 5957 SORT=DISPLAY)
with their UID forms, on a crafted folder: References / In-Reply-To chains,
a parent that is missing, a duplicate Message-ID, subjects with Re:/Fwd:/
[blob]/(fwd)/[fwd: ...], groups, display names as RFC 2047 words, messages
without Date: (the internal date counts).

Every expected answer in CASES is what Dovecot 2.3 answered for the same
twelve messages (appended with the same internal dates), ESEARCH item order
(MIN MAX ALL COUNT) included."""

import re

import cluster
from cluster import ClusterTest
from imapwire import status

cluster.module_fixtures(globals())

PW = "sort-pw"


def m(hdrs, body=b"body\r\n"):
    return b"".join(h.encode() + b"\r\n" for h in hdrs) + b"\r\n" + body


# (message, internal date); sequence numbers 1..12 in this order.
MSGS = [
    (m(["Date: Mon, 7 Feb 1994 21:52:25 -0800", 'From: "Zed Zulu" <alice@example.org>', "To: bob@example.net",
        "Cc: carol@example.com", "Subject: Lunch plans", "Message-ID: <m1@example.org>"]), "01-Feb-2020 10:00:00 +0000"),
    (m(["Date: Tue, 8 Feb 1994 08:00:00 +0000", "From: Bob <bob@example.net>", 'To: "alice A" <alice@example.org>',
        "Subject: Re: Lunch plans", "Message-ID: <m2@example.net>", "In-Reply-To: <m1@example.org>",
        "References: <m1@example.org>"]), "02-Feb-2020 10:00:00 +0000"),
    (m(["From: =?utf-8?q?Emile_E?= <emile@example.org>", "Subject: [list] report",
        "Message-ID: <m3@example.org>"], b"x" * 500 + b"\r\n"), "03-Feb-2020 10:00:00 +0000"),
    (m(["Date: Wed, 9 Feb 1994 10:00:00 +0100", "From: carol@example.com", "To: team: dave@example.org;",
        "Cc: Bob <bob@example.net>", "Subject: Fwd: Lunch plans",
        "Message-ID: <m4@example.com>", "References: <m1@example.org> <m2@example.net>"]), "04-Feb-2020 10:00:00 +0000"),
    (m(["Date: Thu, 10 Feb 1994 10:00:00 +0000", "From: dave@example.org", "To: Zed <zed@example.org>",
        "Subject: Re: ghost", "Message-ID: <m5@example.org>", "References: <gone@example.org>"]), "05-Feb-2020 10:00:00 +0000"),
    (m(["Date: Thu, 10 Feb 1994 09:00:00 +0000", "From: Eve <eve@example.org>", "To: dave@example.org",
        "Subject: Re: ghost", "Message-ID: <m6@example.org>", "In-Reply-To: <gone@example.org>"]), "06-Feb-2020 10:00:00 +0000"),
    (m(["Date: Fri, 11 Feb 1994 10:00:00 +0000", "From: Frank <frank@example.org>", "To: bob@example.net",
        "Subject: report", "Message-ID: <m7@example.org>"]), "07-Feb-2020 10:00:00 +0000"),
    (m(["Date: Sat, 12 Feb 1994 10:00:00 +0000", "From: Bob <bob@example.net>", "To: frank@example.org",
        "Subject: Re: report", "Message-ID: <m8@example.net>"]), "08-Feb-2020 10:00:00 +0000"),
    (m(["From: Gina <gina@example.org>", "To: =?utf-8?q?Andr=C3=A9?= <andre@example.org>",
        "Subject: Zebra (fwd)", "Message-ID: <m9@example.org>"], b"y" * 2000 + b"\r\n"), "09-Feb-2020 10:00:00 +0000"),
    (m(["Date: Sun, 13 Feb 1994 10:00:00 +0000", "From: Alice <alice@example.org>", "To: Bob <bob@example.net>",
        "Subject: Re: Lunch plans", "Message-ID: <m10@example.org>",
        "References: <m1@example.org> <lost@example.org>"]), "10-Feb-2020 10:00:00 +0000"),
    (m(["Date: Mon, 14 Feb 1994 10:00:00 +0000", "From: Hal <hal@example.org>", "To: bob@example.net",
        "Subject: unrelated", "Message-ID: <m1@example.org>"]), "11-Feb-2020 10:00:00 +0000"),
    (m(["Date: Mon, 7 Feb 1994 21:52:25 -0800", "From: Ivy <ivy@example.org>", "Cc: zed@example.org",
        "Subject: [fwd: zebra]", "Message-ID: <m12@example.org>", "References: <m9@example.org>"]), "12-Feb-2020 10:00:00 +0000"),
]


# (command, the one untagged answer); tags are "t<index>".
CASES = [
    ('SORT (ARRIVAL) UTF-8 ALL', '* SORT 1 2 3 4 5 6 7 8 9 10 11 12'),
    ('SORT (DATE) UTF-8 ALL', '* SORT 1 12 2 4 6 5 7 8 10 11 3 9'),
    ('SORT (SIZE) UTF-8 ALL', '* SORT 11 7 8 1 5 12 6 10 2 4 3 9'),
    ('SORT (SUBJECT) UTF-8 ALL', '* SORT 5 6 1 2 4 10 3 7 8 11 9 12'),
    ('SORT (FROM) UTF-8 ALL', '* SORT 1 10 2 8 4 5 3 6 7 9 11 12'),
    ('SORT (TO) UTF-8 ALL', '* SORT 3 12 2 9 1 7 10 11 6 8 4 5'),
    ('SORT (CC) UTF-8 ALL', '* SORT 2 3 5 6 7 8 9 10 11 4 1 12'),
    ('SORT (DISPLAYFROM) UTF-8 ALL', '* SORT 10 2 8 4 5 3 6 7 9 11 12 1'),
    ('SORT (DISPLAYTO) UTF-8 ALL', '* SORT 3 12 2 9 10 1 7 11 6 8 4 5'),
    ('SORT (REVERSE ARRIVAL) UTF-8 ALL', '* SORT 12 11 10 9 8 7 6 5 4 3 2 1'),
    ('SORT (REVERSE DATE) UTF-8 ALL', '* SORT 9 3 11 10 8 7 5 6 4 2 1 12'),
    ('SORT (REVERSE SIZE) UTF-8 ALL', '* SORT 9 3 4 2 10 6 1 5 12 8 7 11'),
    ('SORT (REVERSE SUBJECT) UTF-8 ALL', '* SORT 9 12 11 3 7 8 1 2 4 10 5 6'),
    ('SORT (REVERSE FROM) UTF-8 ALL', '* SORT 12 11 9 7 6 3 5 4 2 8 1 10'),
    ('SORT (REVERSE TO) UTF-8 ALL', '* SORT 5 4 8 6 1 7 10 11 9 2 3 12'),
    ('SORT (REVERSE CC) UTF-8 ALL', '* SORT 12 1 4 2 3 5 6 7 8 9 10 11'),
    ('SORT (REVERSE DISPLAYFROM) UTF-8 ALL', '* SORT 1 12 11 9 7 6 3 5 4 2 8 10'),
    ('SORT (REVERSE DISPLAYTO) UTF-8 ALL', '* SORT 5 4 8 6 1 7 11 10 9 2 3 12'),
    ('SORT (SUBJECT REVERSE DATE) UTF-8 ALL', '* SORT 5 6 10 4 2 1 3 8 7 11 9 12'),
    ('SORT (REVERSE SUBJECT DATE) UTF-8 ALL', '* SORT 12 9 11 7 8 3 1 2 4 10 6 5'),
    ('SORT (REVERSE SUBJECT REVERSE DATE) UTF-8 ALL', '* SORT 9 12 11 3 8 7 10 4 2 1 5 6'),
    ('SORT (CC REVERSE ARRIVAL) UTF-8 ALL', '* SORT 11 10 9 8 7 6 5 3 2 4 1 12'),
    ('SORT (TO FROM) UTF-8 ALL', '* SORT 3 12 2 9 1 10 7 11 6 8 4 5'),
    ('SORT (REVERSE REVERSE DATE) UTF-8 ALL', '* SORT 1 12 2 4 6 5 7 8 10 11 3 9'),
    ('SORT (from) utf-8 1:6', '* SORT 1 2 4 5 3 6'),
    ('SORT (SUBJECT) UTF-8 FROM bob', '* SORT 2 8'),
    ('SORT (REVERSE SIZE) UTF-8 SUBJECT lunch', '* SORT 4 2 10 1'),
    ('SORT (DATE) US-ASCII ALL', '* SORT 1 12 2 4 6 5 7 8 10 11 3 9'),
    ('SORT (FROM) UTF-8 NOT ALL', '* SORT'),
    ('THREAD ORDEREDSUBJECT UTF-8 ALL', '* THREAD (1 (2)(4)(10))(12 9)(6 5)(7 (8)(3))(11)'),
    ('THREAD REFERENCES UTF-8 ALL', '* THREAD (1 (2 4)(10))((6)(5))((7 8)(3))(11)(9 12)'),
    ('THREAD REFERENCES UTF-8 NOT 1', '* THREAD ((6)(5))((7 8)(3))(11 (2 4)(10))(9 12)'),
    ('THREAD REFERENCES UTF-8 4:*', '* THREAD ((6)(5))(7 8)(11 (4)(10))(9 12)'),
    ('THREAD ORDEREDSUBJECT US-ASCII SUBJECT report', '* THREAD (7 (8)(3))'),
    ('THREAD references utf-8 5', '* THREAD (5)'),
    ('THREAD REFERENCES UTF-8 DELETED', '* THREAD'),
    ('SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL', '* ESEARCH (TAG "t36") MIN 1 MAX 9 ALL 1,12,2,4,6,5,7:8,10:11,3,9 COUNT 12'),
    ('SORT RETURN (ALL) (REVERSE ARRIVAL) UTF-8 ALL', '* ESEARCH (TAG "t37") ALL 12,11,10,9,8,7,6,5,4,3,2,1'),
    ('SORT RETURN () (SUBJECT) UTF-8 ALL', '* ESEARCH (TAG "t38") ALL 5:6,1:2,4,10,3,7:8,11,9,12'),
    ('SORT RETURN (COUNT) (SUBJECT) UTF-8 DELETED', '* ESEARCH (TAG "t39") COUNT 0'),
    ('SORT RETURN (MIN) (SUBJECT) UTF-8 DELETED', '* ESEARCH (TAG "t40")'),
    ('SORT RETURN (MIN MAX) (REVERSE DATE) UTF-8 ALL', '* ESEARCH (TAG "t41") MIN 9 MAX 12'),
    ('SORT RETURN (COUNT ALL) (DISPLAYFROM) UTF-8 OR FROM bob TO bob', '* ESEARCH (TAG "t42") ALL 10,2,8,7,11,1 COUNT 6'),
]

UIDS = []  # sequence number n has UID UIDS[n - 1]


def populate(c):
    c.add_user("sorter", PW)
    w = c.login_raw("sorter")
    w.cmd("CREATE S")
    # A first message, expunged, so that UIDs differ from sequence numbers.
    _, tagged = w.cmd_literal(b"APPEND S", b"Subject: gone\r\n\r\nx\r\n")
    assert status(tagged) == "OK", tagged
    for body, date in MSGS:
        _, tagged = w.cmd_literal(('APPEND S () "%s"' % date).encode(), body)
        assert status(tagged) == "OK", tagged
        UIDS.append(int(re.search(rb"APPENDUID \d+ (\d+)", tagged).group(1)))
    w.cmd("SELECT S")
    w.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert status(w.cmd("EXPUNGE")[1]) == "OK"
    w.close()


def to_uids(text):
    """The numbers of a SORT/THREAD answer as UIDs."""
    return re.sub(r"\d+", lambda mo: str(UIDS[int(mo.group(0)) - 1]), text)


class Sort(ClusterTest):
    def test_dovecot_answers(self):
        """Every criterion, REVERSE, several criteria, search keys, ESORT, THREAD."""
        w = self.cluster.login_raw("sorter")
        w.cmd("EXAMINE S")
        for i, (command, want) in enumerate(CASES):
            untagged, tagged = w.cmd(command, tag="t%d" % i)
            self.assertEqual(status(tagged), "OK", (command, tagged))
            self.assertEqual(untagged, [want.encode()], command)
            want_tagged = "Thread completed." if command.upper().startswith("THREAD") else "Sort completed."
            self.assertEqual(tagged, ("t%d OK " % i + want_tagged).encode())
        w.close()

    def test_uid_forms(self):
        w = self.cluster.login_raw("sorter", fe=1)
        w.cmd("EXAMINE S")
        self.assertEqual(UIDS[0], 2)
        for command, want in CASES:
            if command.startswith("SORT (") or command.startswith("THREAD"):
                untagged, tagged = w.cmd("UID " + command)
                self.assertEqual(status(tagged), "OK", (command, tagged))
                head = "* THREAD" if command.startswith("THREAD") else "* SORT"
                self.assertEqual(untagged, [(head + to_uids(want[len(head):])).encode()], command)
        # ESORT with UIDs: ranges stay ranges (UID = sequence number + 1 here).
        untagged, _ = w.cmd("UID SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL", tag="u1")
        self.assertEqual(untagged, [b'* ESEARCH (TAG "u1") UID MIN 2 MAX 10 ALL 2,13,3,5,7,6,8:9,11:12,4,10 COUNT 12'])
        untagged, _ = w.cmd("UID SORT RETURN () (REVERSE SUBJECT) UTF-8 UID 5:9", tag="u2")
        self.assertEqual(untagged, [b'* ESEARCH (TAG "u2") UID ALL 8:9,5:7'])
        # UID search keys inside SORT / THREAD.
        untagged, _ = w.cmd("SORT (SUBJECT) UTF-8 UID %d:%d" % (UIDS[3], UIDS[6]))
        self.assertEqual(untagged, [b"* SORT 5 6 4 7"])
        untagged, _ = w.cmd("UID THREAD REFERENCES UTF-8 UID %d:*" % UIDS[3])
        self.assertEqual(untagged, [("* THREAD " + to_uids("((6)(5))(7 8)(11 (4)(10))(9 12)")).encode()])
        w.close()

    def test_errors(self):
        w = self.cluster.login_raw("sorter")
        self.assertEqual(status(w.cmd("SORT (DATE) UTF-8 ALL")[1]), "BAD")  # not selected
        w.cmd("EXAMINE S")
        for bad in ("SORT", "SORT (DATE)", "SORT (DATE) UTF-8", "SORT () UTF-8 ALL", "SORT (FOO) UTF-8 ALL",
                    "SORT DATE UTF-8 ALL", "SORT (REVERSE) UTF-8 ALL", "SORT (DATE REVERSE) UTF-8 ALL",
                    "SORT (DATE) UTF-8 BOGUS", "SORT RETURN (BOGUS) (DATE) UTF-8 ALL", "SORT RETURN ALL (DATE) UTF-8 ALL",
                    "SORT (" + "DATE " * 33 + ") UTF-8 ALL", "THREAD", "THREAD REFERENCES", "THREAD FOO UTF-8 ALL",
                    "THREAD REFERENCES UTF-8", "THREAD (REFERENCES) UTF-8 ALL", "UID SORT (DATE) UTF-8 NOT",
                    "UID THREAD ORDEREDSUBJECT UTF-8 OR SEEN"):
            _, tagged = w.cmd(bad)
            self.assertEqual(status(tagged), "BAD", (bad, tagged))
        self.assertRegex(w.cmd("SORT (DATE) KOI8-R ALL")[1], rb"^a\d+ NO \[BADCHARSET \(UTF-8 US-ASCII\)\] ")
        self.assertRegex(w.cmd("THREAD REFERENCES ISO-8859-1 ALL")[1], rb"^a\d+ NO \[BADCHARSET \(UTF-8 US-ASCII\)\] ")
        # 32 criteria are fine.
        untagged, tagged = w.cmd("SORT (" + " ".join(["REVERSE SIZE"] * 32) + ") UTF-8 1:3")
        self.assertEqual((untagged, status(tagged)), ([b"* SORT 3 2 1"], "OK"))
        # The connection is still good.
        self.assertEqual(w.cmd("SORT (ARRIVAL) UTF-8 2")[0], [b"* SORT 2"])
        w.close()

    def test_capability_and_empty_folder(self):
        w = self.cluster.login_raw("sorter", fe=1)
        untagged, _ = w.cmd("CAPABILITY")
        caps = untagged[0].split()
        for cap in (b"SORT", b"SORT=DISPLAY", b"ESORT", b"THREAD=ORDEREDSUBJECT", b"THREAD=REFERENCES"):
            self.assertIn(cap, caps)
        w.cmd("CREATE Empty")
        w.cmd("SELECT Empty")
        self.assertEqual(w.cmd("SORT (DATE) UTF-8 ALL")[0], [b"* SORT"])
        self.assertEqual(w.cmd("THREAD REFERENCES UTF-8 ALL")[0], [b"* THREAD"])
        self.assertEqual(w.cmd("SORT RETURN (COUNT) (DATE) UTF-8 ALL", tag="e1")[0], [b'* ESEARCH (TAG "e1") COUNT 0'])
        w.close()

    def test_view_changes(self):
        """Sequence numbers come from the session's view: a message another
        session appends is not answered before this session has seen it."""
        w = self.cluster.login_raw("sorter")
        w.cmd("CREATE V")
        for subj in (b"b", b"a"):
            w.cmd_literal(b"APPEND V", b"Subject: " + subj + b"\r\n\r\nx\r\n")
        w.cmd("SELECT V")
        w2 = self.cluster.login_raw("sorter", fe=1)
        w2.cmd_literal(b"APPEND V", b"Subject: 0\r\n\r\nx\r\n")
        w2.close()
        untagged, _ = w.cmd("SORT (SUBJECT) UTF-8 ALL")
        self.assertEqual(untagged[-1], b"* SORT 2 1")
        w.cmd("NOOP")
        untagged, _ = w.cmd("SORT (SUBJECT) UTF-8 ALL")
        self.assertEqual(untagged, [b"* SORT 3 2 1"])
        w.close()
