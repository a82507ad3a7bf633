"""SEARCH and UID SEARCH (RFC 3501 6.4.4): flag, keyword, size, date, UID,
sequence, header and text keys with NOT/OR/parentheses; CHARSET."""

import re

import cluster
from cluster import ClusterTest
from imapwire import status

cluster.module_fixtures(globals())

PW = "search-pw"

MSGS = [
    (b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\nFrom: Alice <alice@example.org>\r\nTo: bob@example.org\r\n"
     b"Subject: Lunch plans\r\nConversation-ID: f81d4fae-7dec\r\nContent-Type: Message/CPIM\r\n\r\n"
     b"Let's meet at noon.\r\n", "(\\Seen)", "01-Feb-2020 10:00:00 +0000"),
    (b"Date: Tue, 8 Feb 1994 08:00:00 +0000\r\nFrom: carol@example.org\r\nTo: alice@example.org\r\n"
     b"Subject: Re: lunch\r\n\r\nI am in. NOON works.\r\n", "(\\Flagged $Work)", "05-Feb-2020 10:00:00 +0000"),
    (b"From: dave@example.org\r\nSubject: report\r\nX-Long: a\r\n folded-value here\r\n\r\n" + b"x" * 3000 + b"\r\n",
     "()", "10-Feb-2020 23:30:00 -0500"),
]


def populate(c):
    c.add_user("srch", PW)
    c.add_user("srchmedia", PW)


UIDS = []


def fill_q(c):
    """Folder Q with MSGS, once per module (every class here uses it)."""
    if UIDS:
        return
    w = c.login_raw("srch")
    w.cmd("CREATE Q")
    for body, flags, date in MSGS:
        _, tagged = w.cmd_literal(('APPEND Q %s "%s"' % (flags, date)).encode(), body)
        assert status(tagged) == "OK", tagged
        UIDS.append(int(re.search(rb"APPENDUID \d+ (\d+)", tagged).group(1)))
    w.close()


class Search(ClusterTest):
    @classmethod
    def setUpClass(cls):
        fill_q(cls.cluster)
        cls.uids = UIDS

    def search(self, w, prog):
        untagged, tagged = w.cmd("SEARCH " + prog)
        self.assertEqual(status(tagged), "OK", (prog, tagged))
        self.assertEqual(len(untagged), 1, untagged)
        self.assertTrue(untagged[0].startswith(b"* SEARCH"), untagged)
        return [int(x) for x in untagged[0].split()[2:]]

    def test_keys(self):
        w = self.cluster.login_raw("srch")
        w.cmd("SELECT Q")
        cases = {
            "ALL": [1, 2, 3], "SEEN": [1], "UNSEEN": [2, 3], "FLAGGED": [2], "NOT FLAGGED": [1, 3],
            "KEYWORD $Work": [2], "UNKEYWORD $work": [1, 3], "OR SEEN FLAGGED": [1, 2],
            "LARGER 1000": [3], "SMALLER 1000": [1, 2], "SUBJECT lunch": [1, 2], "FROM alice": [1],
            "TO alice": [2], 'HEADER Conversation-ID "f81d4fae"': [1], "HEADER X-Long folded-value": [3],
            'BODY "noon"': [1, 2], "TEXT carol": [2], "BODY carol": [], "2:*": [2, 3], "1,3": [1, 3],
            "SINCE 5-Feb-2020": [2, 3], "BEFORE 5-Feb-2020": [1], "ON 10-Feb-2020": [3],
            "SENTON 7-Feb-1994": [1], "SENTSINCE 8-Feb-1994": [2],
            "SENTBEFORE 8-Feb-1994": [1, 3], "SENTON 1-Jan-1970": [3],  # 3 has no Date: 1970, as Dovecot
            "(SEEN) (SUBJECT lunch)": [1], "NOT (OR SEEN FLAGGED)": [3], "CHARSET UTF-8 SUBJECT report": [3], "UID %d:*" % self.uids[1]: [2, 3],
            "DELETED": [], "UNDELETED": [1, 2, 3],
        }
        for prog, want in cases.items():
            self.assertEqual(self.search(w, prog), want, prog)
        untagged, _ = w.cmd("UID SEARCH FLAGGED")
        self.assertEqual(untagged, [b"* SEARCH %d" % self.uids[1]])
        w.close()

    def test_recent_new_old(self):
        w = self.cluster.login_raw("srch")
        w.cmd("CREATE R")
        for flags in ("(\\Seen)", "()"):
            _, tagged = w.cmd_literal(("APPEND R %s" % flags).encode(), b"Subject: r\r\n\r\nr\r\n")
            self.assertEqual(status(tagged), "OK", tagged)
        w.cmd("SELECT R")  # this session claims both as \Recent
        self.assertEqual(self.search(w, "RECENT"), [1, 2])
        self.assertEqual(self.search(w, "NEW"), [2])
        self.assertEqual(self.search(w, "OLD"), [])
        w2 = self.cluster.login_raw("srch", fe=1)
        w2.cmd("SELECT R")  # nothing is recent for a later session
        self.assertEqual(self.search(w2, "RECENT"), [])
        self.assertEqual(self.search(w2, "OLD"), [1, 2])
        w2.close()
        w.close()

    def test_errors(self):
        w = self.cluster.login_raw("srch", fe=1)
        w.cmd("EXAMINE Q")
        for bad in ("", "BOGUS", "OR SEEN", "LARGER x", "BEFORE 1994", "HEADER Subject", "NOT", "KEYWORD", "0"):
            _, tagged = w.cmd("SEARCH " + bad)
            self.assertEqual(status(tagged), "BAD", (bad, tagged))
        # A message number past the last one matches nothing (as Dovecot).
        untagged, tagged = w.cmd("SEARCH 9")
        self.assertEqual((untagged, status(tagged)), ([b"* SEARCH"], "OK"))
        untagged, _ = w.cmd("SEARCH 2:9")
        self.assertEqual(untagged, [b"* SEARCH 2 3"])
        self.assertRegex(w.cmd("SEARCH CHARSET KOI8-R SEEN")[1], rb"^a\d+ NO \[BADCHARSET \(UTF-8 US-ASCII\)\] ")
        self.assertEqual(status(w.cmd("SEARCH " + "NOT " * 100 + "SEEN")[1]), "BAD")
        w.close()


class ESearchWithin(ClusterTest):
    @classmethod
    def setUpClass(cls):
        fill_q(cls.cluster)
    def test_esearch_return_options(self):
        w = self.cluster.login_raw("srch")
        w.cmd("SELECT Q")
        untagged, tagged = w.cmd("SEARCH RETURN (MIN MAX COUNT ALL) NOT SEEN", tag="e1")
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertEqual(untagged, [b'* ESEARCH (TAG "e1") MIN 2 MAX 3 ALL 2:3 COUNT 2'])
        untagged, _ = w.cmd("UID SEARCH RETURN () FLAGGED", tag="e2")
        self.assertEqual(untagged, [b'* ESEARCH (TAG "e2") UID ALL %d' % UIDS[1]])
        untagged, _ = w.cmd("SEARCH RETURN (COUNT) DELETED", tag="e3")
        self.assertEqual(untagged, [b'* ESEARCH (TAG "e3") COUNT 0'])
        untagged, _ = w.cmd("SEARCH RETURN (MIN) CHARSET UTF-8 SUBJECT lunch", tag="e4")
        self.assertEqual(untagged, [b'* ESEARCH (TAG "e4") MIN 1'])
        self.assertEqual(status(w.cmd("SEARCH RETURN (BOGUS) ALL")[1]), "BAD")
        w.close()

    def test_within(self):
        w = self.cluster.login_raw("srch", fe=1)
        w.cmd("EXAMINE Q")
        # The messages carry 2020 internal dates: all are older than a day.
        self.assertEqual(self.search_list(w, "OLDER 86400"), [1, 2, 3])
        self.assertEqual(self.search_list(w, "YOUNGER 86400"), [])
        self.assertEqual(status(w.cmd("SEARCH YOUNGER 0")[1]), "BAD")
        w.close()

    def search_list(self, w, prog):
        untagged, tagged = w.cmd("SEARCH " + prog)
        self.assertEqual(status(tagged), "OK", tagged)
        return [int(x) for x in untagged[0].split()[2:]]


class DecodedText(ClusterTest):
    """BODY/TEXT find text inside base64 and quoted-printable parts, in any charset."""

    def test_decoded_bodies(self):
        import base64
        w = self.cluster.login_raw("srch", fe=1)
        w.cmd("CREATE Enc")
        b64 = base64.encodebytes("Grüße aus Köln".encode()).replace(b"\n", b"\r\n")
        m1 = (b"Subject: b64\r\nContent-Type: text/plain; charset=utf-8\r\n"
              b"Content-Transfer-Encoding: base64\r\n\r\n" + b64)
        m2 = (b"Subject: =?iso-8859-1?q?D=E9j=E0_vu?=\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n"
              b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
              b"caf=E9 cr=E8me br=FB=\r\nl=E9e\r\n--b--\r\n")
        for m in (m1, m2):
            _, tagged = w.cmd_literal(b"APPEND Enc", m)
            self.assertEqual(status(tagged), "OK", tagged)
        w.cmd("SELECT Enc")
        for needle, want in (("Köln", [1]), ("café", [2]), ("crème brûlée", [2]), ("GRÜSSE", []), ("aus", [1])):
            untagged, tagged = w.cmd_literal(b"SEARCH CHARSET UTF-8 BODY", needle.encode())
            self.assertEqual(status(tagged), "OK", tagged)
            self.assertEqual(untagged, [(b"* SEARCH " + b" ".join(b"%d" % x for x in want)).rstrip()], needle)
        untagged, _ = w.cmd_literal(b"SEARCH CHARSET UTF-8 TEXT", "Köln".encode())
        self.assertEqual(untagged, [b"* SEARCH 1"])
        # RFC 2047 encoded words in header fields are decoded before matching.
        untagged, _ = w.cmd_literal(b"SEARCH CHARSET UTF-8 SUBJECT", "Déjà vu".encode())
        self.assertEqual(untagged, [b"* SEARCH 2"])
        w.close()


class BodyTextNotMedia(ClusterTest):
    def test_binary_parts_are_not_body_text(self):
        """BODY/TEXT look at the text a reader sees: a base64 image's encoded
        bytes are not searched (no false hits on base64), while a CPIM chat
        body, a base64 text part and the header of the message are."""
        w = self.cluster.login_raw("srchmedia")
        w.cmd("CREATE M")
        media = (b"From: a@example.org\r\nSubject: pic\r\nMIME-Version: 1.0\r\n"
                 b"Content-Type: multipart/related; boundary=b1\r\n\r\n"
                 b"--b1\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                 b"aGVsbG8gc3Vuc2hpbmU=\r\n"  # "hello sunshine"
                 b"--b1\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                 b"QUJDREVGR0hJSktMTU5PUA==\r\n--b1--\r\n")
        chat = (b"From: b@example.org\r\nSubject: chat\r\nContent-Type: Message/CPIM\r\n\r\n"
                b"From: <sip:b@example.org>\r\n\r\nContent-Type: text/plain\r\n\r\nsee you at QUJDREVG\r\n")
        for body in (media, chat):
            _, tagged = w.cmd_literal(b"APPEND M", body)
            self.assertEqual(status(tagged), "OK", tagged)
        w.cmd("SELECT M")
        self.assertEqual(self.search(w, 'BODY "QUJDREVG"'), [2])    # only as chat text, not as base64 data
        self.assertEqual(self.search(w, 'BODY "sunshine"'), [1])    # decoded text part
        self.assertEqual(self.search(w, 'TEXT "pic"'), [1])          # the header is TEXT
        self.assertEqual(self.search(w, 'BODY "image/png"'), [1])   # MIME headers of parts are raw body text
        w.close()

    search = Search.search
