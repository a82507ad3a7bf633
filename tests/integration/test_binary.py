"""BINARY (RFC 3516): FETCH BINARY[part]<partial>, BINARY.PEEK, BINARY.SIZE,
the whole message with every leaf decoded, [UNKNOWN-CTE], literal8 only
when the decoded bytes hold a NUL, and APPEND of a literal8."""

import re

import cluster
from cluster import ClusterTest
from imapwire import capabilities, status

cluster.module_fixtures(globals())

PW = "binary-pw"
MSG = (b"From: a@example.org\r\n"
       b"Subject: binary\r\n"
       b"MIME-Version: 1.0\r\n"
       b"Content-Type: multipart/mixed; boundary=XX\r\n"
       b"\r\n"
       b"--XX\r\n"
       b"Content-Type: text/plain; charset=utf-8\r\n"
       b"Content-Transfer-Encoding: quoted-printable\r\n"
       b"\r\n"
       b"Hello=20w=C3=B6rld=\r\n soft break\r\nline2\r\n"
       b"--XX\r\n"
       b"Content-Type: application/octet-stream\r\n"
       b"Content-Transfer-Encoding: base64\r\n"
       b"\r\n"
       b"AAECA2hlbGxv\r\n"
       b"--XX\r\n"
       b"Content-Type: text/plain\r\n"
       b"Content-Transfer-Encoding: base64\r\n"
       b"\r\n"
       b"aGVsbG8gd29ybGQ=\r\n"
       b"--XX--\r\n")
# The same message with an x-uuencode part 3: BINARY cannot decode it.
UUE = MSG.replace(b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8gd29ybGQ=",
                  b"Content-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 a")
SINGLE = (b"From: a@example.org\r\n"
          b"Subject: single\r\n"
          b"Content-Type: text/plain; charset=koi8-r\r\n"
          b"Content-Transfer-Encoding: base64\r\n"
          b"\r\n"
          b"8NLJ18XUIM3J0g==\r\n")


def populate(c):
    c.add_user("binny", PW)


class Binary(ClusterTest):
    @classmethod
    def setUpClass(cls):
        w = cls.cluster.login_raw("binny")
        for m in (MSG, UUE, SINGLE):
            _, tagged = w.cmd_literal(b"APPEND INBOX", m)
            assert status(tagged) == "OK", tagged
        w.close()

    def session(self, examine=True):
        w = self.cluster.login_raw("binny")
        _, tagged = w.cmd("EXAMINE INBOX" if examine else "SELECT INBOX")
        self.assertEqual(status(tagged), "OK", tagged)
        return w

    def fetch1(self, w, text):
        untagged, tagged = w.cmd(text)
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertEqual(len(untagged), 1, untagged)
        return untagged[0]

    def test_capability(self):
        w = self.cluster.login_raw("binny")
        untagged, _ = w.cmd("CAPABILITY")
        self.assertIn("BINARY", capabilities(untagged[0]))

    def test_leaf_parts(self):
        w = self.session()
        self.assertEqual(self.fetch1(w, "FETCH 1 (BINARY.PEEK[1])"),
                         b"* 1 FETCH (BINARY[1] {30}\r\nHello w\xc3\xb6rld soft break\r\nline2)")
        # NULs: a literal8
        self.assertEqual(self.fetch1(w, "FETCH 1 (BINARY.PEEK[2])"),
                         b"* 1 FETCH (BINARY[2] ~{9}\r\n\x00\x01\x02\x03hello)")
        self.assertEqual(self.fetch1(w, "FETCH 1 (BINARY.PEEK[3])"),
                         b"* 1 FETCH (BINARY[3] {11}\r\nhello world)")
        self.assertEqual(self.fetch1(w, "FETCH 1 (BINARY.SIZE[1] BINARY.SIZE[2] BINARY.SIZE[3])"),
                         b"* 1 FETCH (BINARY.SIZE[1] 30 BINARY.SIZE[2] 9 BINARY.SIZE[3] 11)")
        # a part that does not exist is empty, like BODY[9]
        self.assertEqual(self.fetch1(w, "FETCH 1 (BINARY.PEEK[9] BINARY.SIZE[9])"),
                         b"* 1 FETCH (BINARY[9] {0}\r\n BINARY.SIZE[9] 0)")
        # the single-part message: part 1 is its body, charset left alone
        self.assertEqual(self.fetch1(w, "FETCH 3 (BINARY.PEEK[1])"),
                         b"* 3 FETCH (BINARY[1] {10}\r\n" + "Привет мир".encode("koi8-r") + b")")

    def test_partial(self):
        w = self.session()
        # the partial counts decoded bytes; literal8 only when what is sent holds a NUL
        self.assertEqual(self.fetch1(w, "FETCH 1 (BINARY.PEEK[2]<1.3> BINARY.PEEK[1]<0.5>)"),
                         b"* 1 FETCH (BINARY[2]<1> {3}\r\n\x01\x02\x03 BINARY[1]<0> {5}\r\nHello)")
        self.assertEqual(self.fetch1(w, "FETCH 1 (BINARY.PEEK[2]<0.3>)"),
                         b"* 1 FETCH (BINARY[2]<0> ~{3}\r\n\x00\x01\x02)")
        self.assertEqual(self.fetch1(w, "FETCH 1 (BINARY.PEEK[2]<4.100>)"),
                         b"* 1 FETCH (BINARY[2]<4> {5}\r\nhello)")
        self.assertEqual(self.fetch1(w, "FETCH 1 (BINARY.PEEK[2]<50.10>)"),
                         b"* 1 FETCH (BINARY[2]<50> {0}\r\n)")

    def test_whole_message(self):
        w = self.session()
        want = (b"From: a@example.org\r\n"
                b"Subject: binary\r\n"
                b"MIME-Version: 1.0\r\n"
                b"Content-Type: multipart/mixed; boundary=XX\r\n"
                b"\r\n"
                b"--XX\r\n"
                b"Content-Type: text/plain; charset=utf-8\r\n"
                b"Content-Transfer-Encoding: binary\r\n"
                b"\r\n"
                b"Hello w\xc3\xb6rld soft break\r\nline2\r\n"
                b"--XX\r\n"
                b"Content-Type: application/octet-stream\r\n"
                b"Content-Transfer-Encoding: binary\r\n"
                b"\r\n"
                b"\x00\x01\x02\x03hello\r\n"
                b"--XX\r\n"
                b"Content-Type: text/plain\r\n"
                b"Content-Transfer-Encoding: binary\r\n"
                b"\r\n"
                b"hello world\r\n"
                b"--XX--\r\n")
        self.assertEqual(self.fetch1(w, "FETCH 1 (BINARY.PEEK[] BINARY.SIZE[])"),
                         b"* 1 FETCH (BINARY[] ~{%d}\r\n" % len(want) + want + b" BINARY.SIZE[] %d)" % len(want))
        single = SINGLE.replace(b"base64", b"binary").replace(b"8NLJ18XUIM3J0g==\r\n",
                                                              "Привет мир".encode("koi8-r"))
        self.assertEqual(self.fetch1(w, "FETCH 3 (BINARY.PEEK[])"),
                         b"* 3 FETCH (BINARY[] {%d}\r\n" % len(single) + single + b")")

    def test_unknown_cte(self):
        w = self.session()
        untagged, tagged = w.cmd("FETCH 2 (BINARY.PEEK[3])")
        self.assertEqual(untagged, [])
        self.assertRegex(tagged, rb"^a\d+ NO \[UNKNOWN-CTE\] ")
        untagged, tagged = w.cmd("FETCH 2 (BINARY.SIZE[3])")
        self.assertEqual(untagged, [])
        self.assertRegex(tagged, rb"^a\d+ NO \[UNKNOWN-CTE\] ")
        # the whole message holds that part too
        untagged, tagged = w.cmd("FETCH 2 (BINARY.PEEK[])")
        self.assertRegex(tagged, rb"^a\d+ NO \[UNKNOWN-CTE\] ")
        # the other items and messages are still answered
        untagged, tagged = w.cmd("FETCH 1:2 (UID BINARY.PEEK[3])")
        self.assertEqual(untagged, [b"* 1 FETCH (UID 1 BINARY[3] {11}\r\nhello world)", b"* 2 FETCH (UID 2)"])
        self.assertRegex(tagged, rb"^a\d+ NO \[UNKNOWN-CTE\] ")
        # a part that decodes is fine in that message
        self.assertEqual(self.fetch1(w, "FETCH 2 (BINARY.PEEK[2])"),
                         b"* 2 FETCH (BINARY[2] ~{9}\r\n\x00\x01\x02\x03hello)")

    def test_seen(self):
        w = self.session(examine=False)
        _, tagged = w.cmd("STORE 1 -FLAGS (\\Seen)")
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertEqual(self.fetch1(w, "FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[3])"),
                         b"* 1 FETCH (BINARY.SIZE[1] 30 BINARY[3] {11}\r\nhello world)")
        self.assertRegex(self.fetch1(w, "FETCH 1 FLAGS"), rb"^\* 1 FETCH \(FLAGS \((\\Recent)?\)\)$")
        # BINARY[] without PEEK sets \Seen, and says so
        self.assertRegex(self.fetch1(w, "FETCH 1 (BINARY[3])"),
                         rb"^\* 1 FETCH \(FLAGS \(\\Seen( \\Recent)?\) BINARY\[3\] \{11\}\r\nhello world\)$")

    def test_bad_syntax(self):
        w = self.session()
        for item in ("BINARY[HEADER]", "BINARY.PEEK[1.MIME]", "BINARY[TEXT]", "BINARY.SIZE[1]<0.5>",
                     "BINARY[1]<0.0>", "BINARY[0]", "BINARY[1", "BINARY.SIZE"):
            _, tagged = w.cmd("FETCH 1 (%s)" % item)
            self.assertEqual(status(tagged), "BAD", (item, tagged))

    def test_append_literal8(self):
        w = self.cluster.login_raw("binny")
        _, tagged = w.cmd("CREATE bin")
        self.assertEqual(status(tagged), "OK", tagged)
        raw = (b"From: a@example.org\r\nSubject: raw\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
               b"\x00\x01nul\xff\r\n")
        w.send(b"b1 APPEND bin ~{%d}\r\n" % len(raw))
        self.assertTrue(w.read_response().startswith(b"+"))
        w.send(raw + b"\r\n")
        untagged, tagged = w.read_until_tagged("b1")
        self.assertRegex(tagged, rb"^b1 OK \[APPENDUID \d+ 1\] ")
        # LITERAL+ form of a literal8
        w.send(b"b2 APPEND bin ~{%d+}\r\n" % len(raw) + raw + b"\r\n")
        _, tagged = w.read_until_tagged("b2")
        self.assertRegex(tagged, rb"^b2 OK \[APPENDUID \d+ 2\] ")
        # NUL in a plain literal: refused (RFC 3501 CHAR8 excludes NUL)
        w.send(b"b3 APPEND bin {%d+}\r\n" % len(raw) + raw + b"\r\n")
        _, tagged = w.read_until_tagged("b3")
        self.assertRegex(tagged, rb"^b3 BAD .*literal8")
        _, tagged = w.cmd("EXAMINE bin")
        self.assertIn(b"[READ-ONLY]", tagged)
        self.assertEqual(self.fetch1(w, "FETCH 1 (RFC822.SIZE BINARY.PEEK[1])"),
                         b"* 1 FETCH (RFC822.SIZE %d BINARY[1] ~{8}\r\n\x00\x01nul\xff\r\n)" % len(raw))
        self.assertEqual(self.fetch1(w, "FETCH 2 (BINARY.PEEK[])"),
                         b"* 2 FETCH (BINARY[] ~{%d}\r\n" % len(raw) + raw + b")")
        untagged, _ = w.cmd("STATUS bin (MESSAGES)")
        self.assertEqual(untagged, [b"* STATUS bin (MESSAGES 2)"])
