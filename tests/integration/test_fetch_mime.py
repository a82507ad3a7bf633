"""FETCH of MIME structure (RFC 3501 6.4.5, 7.4.2): ENVELOPE, BODY,
BODYSTRUCTURE, BODY[section] with part paths, HEADER, TEXT, MIME,
HEADER.FIELDS(.NOT), partials, RFC822.HEADER/TEXT and the ALL/FULL macros,
answered from the tree parsed once at APPEND."""

import re

import cluster
from cluster import ClusterTest
from imapwire import status

cluster.module_fixtures(globals())

PW = "mime-pw"
MSG = (b"From: Alice <alice@example.org>\r\n"
       b"To: bob@example.org\r\n"
       b"Subject: Hi\r\n"
       b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
       b"Message-ID: <m1@example.org>\r\n"
       b"MIME-Version: 1.0\r\n"
       b"Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
       b"\r\n"
       b"--XX\r\n"
       b"Content-Type: text/plain; charset=utf-8\r\n"
       b"\r\n"
       b"hello\r\n"
       b"--XX\r\n"
       b"Content-Type: Message/CPIM\r\n"
       b"\r\n"
       b"From: <sip:a@example.org>\r\n"
       b"\r\n"
       b"Content-Type: text/plain\r\n"
       b"\r\n"
       b"hi\r\n"
       b"--XX--\r\n")
HEADER = MSG[:MSG.index(b"\r\n\r\n") + 4]


def populate(c):
    c.add_user("mimer", PW)


class FetchMime(ClusterTest):
    @classmethod
    def setUpClass(cls):
        w = cls.cluster.login_raw("mimer")
        _, tagged = w.cmd_literal(b"APPEND INBOX", MSG)
        assert status(tagged) == "OK", tagged
        w.close()

    def fetch(self, w, items):
        untagged, tagged = w.cmd("FETCH 1 " + items)
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertEqual(len(untagged), 1, untagged)
        return untagged[0]

    def test_envelope(self):
        w = self.cluster.login_raw("mimer")
        w.cmd("EXAMINE INBOX")
        env = (b'ENVELOPE ("Mon, 7 Feb 1994 21:52:25 -0800" "Hi" (("Alice" NIL "alice" "example.org")) '
               b'(("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) '
               b'((NIL NIL "bob" "example.org")) NIL NIL NIL "<m1@example.org>")')
        self.assertEqual(self.fetch(w, "ENVELOPE"), b"* 1 FETCH (" + env + b")")
        got = self.fetch(w, "ALL")
        self.assertIn(env, got)
        self.assertIn(b"RFC822.SIZE %d" % len(MSG), got)
        w.close()

    def test_bodystructure(self):
        w = self.cluster.login_raw("mimer", fe=1)
        w.cmd("EXAMINE INBOX")
        bs = self.fetch(w, "BODYSTRUCTURE")
        self.assertRegex(bs, rb'^\* 1 FETCH \(BODYSTRUCTURE \(\("text" "plain" \("charset" "utf-8"\) NIL NIL '
                             rb'"7bit" 5 \d+')
        self.assertRegex(bs, rb'"mixed" \("boundary" "XX"\)')
        self.assertIn(b'"Message" "CPIM"', bs)
        body = self.fetch(w, "BODY")
        self.assertRegex(body, rb'^\* 1 FETCH \(BODY \(\("text" "plain"')
        self.assertNotIn(b'"boundary"', body)  # BODY has no extension data
        full = self.fetch(w, "FULL")
        self.assertIn(b"ENVELOPE (", full)
        self.assertIn(b" BODY ((", full)
        w.close()

    def test_sections(self):
        w = self.cluster.login_raw("mimer")
        w.cmd("EXAMINE INBOX")
        cases = [
            ("BODY.PEEK[1]", b"BODY[1]", b"hello"),
            ("BODY.PEEK[1.MIME]", b"BODY[1.MIME]", b"Content-Type: text/plain; charset=utf-8\r\n\r\n"),
            ("BODY.PEEK[HEADER]", b"BODY[HEADER]", HEADER),
            ("BODY.PEEK[TEXT]<0.4>", b"BODY[TEXT]<0>", b"--XX"),
            ("BODY.PEEK[HEADER.FIELDS (subject TO)]", b"BODY[HEADER.FIELDS (SUBJECT TO)]",
             b"To: bob@example.org\r\nSubject: Hi\r\n\r\n"),
            ("BODY.PEEK[HEADER.FIELDS.NOT (From To Subject Date Message-ID MIME-Version)]",
             b"BODY[HEADER.FIELDS.NOT (FROM TO SUBJECT DATE MESSAGE-ID MIME-VERSION)]",
             b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'),
            ("BODY.PEEK[9]", b"BODY[9]", b""),
            ("RFC822.HEADER", b"RFC822.HEADER", HEADER),
        ]
        for item, name, want in cases:
            got = self.fetch(w, item)
            self.assertEqual(got, b"* 1 FETCH (" + name + b" {%d}\r\n" % len(want) + want + b")", item)
        untagged, _ = w.cmd("FETCH 1 FLAGS")
        self.assertNotIn(b"\\Seen", untagged[0], "PEEK and RFC822.HEADER leave \\Seen alone")
        w.cmd("SELECT INBOX")
        got = self.fetch(w, "RFC822.TEXT")
        # \Seen was set by RFC822.TEXT, so FLAGS comes along (RFC 3501 6.4.5).
        self.assertTrue(got.startswith(b"* 1 FETCH (FLAGS (\\Seen"), got)
        self.assertIn(b" RFC822.TEXT {%d}\r\n" % (len(MSG) - len(HEADER)) + MSG[len(HEADER):] + b")", got)
        self.assertIn(b"\\Seen", self.fetch(w, "FLAGS"))
        self.assertEqual(status(w.cmd("FETCH 1 BODY[BOGUS]")[1]), "BAD")
        w.close()
