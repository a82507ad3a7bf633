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

# Every section kind: a quoted-printable leaf, a base64 leaf, a
# message/rfc822 holding a multipart/alternative (base64 and
# quoted-printable leaves), a message/rfc822 whose embedded message is a
# base64 single part; preamble and epilogue. (That embedded message says
# MIME-Version: without it or a Content-Type, its Content-* fields are
# not MIME (mime-parse.h) and BINARY leaves its body alone, where Dovecot
# decodes it.)
SECT = (b"From: a@example.org\r\n"
        b"Subject: sections\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=XX\r\n"
        b"\r\n"
        b"preamble\r\n"
        b"--XX\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n"
        b"\r\n"
        b"Hello=20w=C3=B6rld=\r\n soft\r\n"
        b"--XX\r\n"
        b"Content-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"\r\n"
        b"AAECA2hlbGxv\r\n"
        b"--XX\r\n"
        b"Content-Type: message/rfc822\r\n"
        b"\r\n"
        b"From: b@example.org\r\n"
        b"Subject: inner\r\n"
        b"Content-Type: multipart/alternative; boundary=YY\r\n"
        b"\r\n"
        b"--YY\r\n"
        b"Content-Type: text/plain\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"\r\n"
        b"aGVsbG8gd29ybGQ=\r\n"
        b"--YY\r\n"
        b"Content-Type: text/html\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n"
        b"\r\n"
        b"<p>caf=C3=A9</p>\r\n"
        b"--YY--\r\n"
        b"--XX\r\n"
        b"Content-Type: message/rfc822\r\n"
        b"Content-Transfer-Encoding: 7bit\r\n"
        b"\r\n"
        b"From: c@example.org\r\n"
        b"Subject: inner2\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"\r\n"
        b"aW5uZXIgYm9keQ==\r\n"
        b"--XX--\r\n"
        b"epilogue\r\n")
# BINARY[] of SECT (as Dovecot 2.3 answers it).
SECT_BIN = (b"From: a@example.org\r\n"
            b"Subject: sections\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=XX\r\n"
            b"\r\n"
            b"preamble\r\n"
            b"--XX\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: binary\r\n"
            b"\r\n"
            b"Hello w\xc3\xb6rld soft\r\n"
            b"--XX\r\n"
            b"Content-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: binary\r\n"
            b"\r\n"
            b"\x00\x01\x02\x03hello\r\n"
            b"--XX\r\n"
            b"Content-Type: message/rfc822\r\n"
            b"\r\n"
            b"From: b@example.org\r\n"
            b"Subject: inner\r\n"
            b"Content-Type: multipart/alternative; boundary=YY\r\n"
            b"\r\n"
            b"--YY\r\n"
            b"Content-Type: text/plain\r\n"
            b"Content-Transfer-Encoding: binary\r\n"
            b"\r\n"
            b"hello world\r\n"
            b"--YY\r\n"
            b"Content-Type: text/html\r\n"
            b"Content-Transfer-Encoding: binary\r\n"
            b"\r\n"
            b"<p>caf\xc3\xa9</p>\r\n"
            b"--YY--\r\n"
            b"--XX\r\n"
            b"Content-Type: message/rfc822\r\n"
            b"Content-Transfer-Encoding: 7bit\r\n"
            b"\r\n"
            b"From: c@example.org\r\n"
            b"Subject: inner2\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Transfer-Encoding: binary\r\n"
            b"\r\n"
            b"inner body\r\n"
            b"--XX--\r\n"
            b"epilogue\r\n")
SECT_HDR_LEN = SECT.index(b"\r\n\r\n") + 4
# A single part whose decoded body holds a NUL.
SINGLE_NUL = (b"From: a@example.org\r\nSubject: single\r\nContent-Type: text/plain\r\n"
              b"Content-Transfer-Encoding: base64\r\n\r\nAAFoaQ==\r\n")


def populate(c):
    c.add_user("binny", PW)


class Binary(ClusterTest):
    @classmethod
    def setUpClass(cls):
        w = cls.cluster.login_raw("binny")
        for m in (MSG, UUE, SINGLE, SECT, SINGLE_NUL):
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

    def lit(self, w, seq, item, want, name=None):
        """FETCH seq (BINARY.PEEK[item] BINARY.SIZE[item]): want, as a
        literal8 exactly when it holds a NUL, and its length."""
        name = name or item
        got = self.fetch1(w, "FETCH %s (BINARY.PEEK[%s] BINARY.SIZE[%s])" % (seq, item, item))
        tilde = b"~" if b"\x00" in want else b""
        self.assertEqual(got, b"* %s FETCH (BINARY[%s] %s{%d}\r\n" % (seq.encode(), name.encode(), tilde, len(want))
                         + want + b" BINARY.SIZE[%s] %d)" % (name.encode(), len(want)), item)

    def test_sections(self):
        """BINARY[TEXT], [HEADER], [n.MIME], [n.HEADER], [n.TEXT] and the
        header filters: BINARY[] (or BINARY[n]) cut the way BODY's sections
        cut the message (the bytes checked against Dovecot 2.3 but for
        n.MIME of an encoded leaf, which Dovecot leaves as BODY[n.MIME])."""
        w = self.session()
        self.lit(w, "4", "", SECT_BIN)
        self.lit(w, "4", "TEXT", SECT_BIN[SECT_HDR_LEN:])
        self.lit(w, "4", "HEADER", SECT[:SECT_HDR_LEN])
        self.lit(w, "4", "HEADER.FIELDS (Subject)", b"Subject: sections\r\n\r\n", "HEADER.FIELDS (SUBJECT)")
        self.lit(w, "4", "HEADER.FIELDS.NOT (Subject From Content-Type)", b"MIME-Version: 1.0\r\n\r\n",
                 "HEADER.FIELDS.NOT (SUBJECT FROM CONTENT-TYPE)")
        # n.MIME: a leaf BINARY decodes shows its header as BINARY[] does
        self.lit(w, "4", "1.MIME",
                 b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: binary\r\n\r\n")
        self.lit(w, "4", "2.MIME",
                 b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n")
        self.lit(w, "4", "3.1.MIME", b"Content-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\n")
        self.lit(w, "4", "3.1.1.MIME", b"Content-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\n")
        # ... any other part's is BODY[n.MIME]
        self.lit(w, "4", "3.MIME", b"Content-Type: message/rfc822\r\n\r\n")
        self.lit(w, "4", "4.MIME", b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
        self.lit(w, "4", "4.1.MIME",
                 b"From: c@example.org\r\nSubject: inner2\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: binary\r\n\r\n")
        # n.HEADER: the embedded header as BINARY[n] shows it (BODY's, but for
        # a message whose body is one decoded leaf: then it is that leaf's
        # MIME header, rewritten as in 4.1.MIME); n.TEXT: BINARY[n] without it
        self.lit(w, "4", "3.HEADER", b"From: b@example.org\r\nSubject: inner\r\n"
                 b"Content-Type: multipart/alternative; boundary=YY\r\n\r\n")
        self.lit(w, "4", "4.HEADER",
                 b"From: c@example.org\r\nSubject: inner2\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: binary\r\n\r\n")
        self.lit(w, "4", "3.HEADER.FIELDS.NOT (Subject)",
                 b"From: b@example.org\r\nContent-Type: multipart/alternative; boundary=YY\r\n\r\n",
                 "3.HEADER.FIELDS.NOT (SUBJECT)")
        inner = SECT_BIN[SECT_BIN.index(b"--YY\r\n"):SECT_BIN.index(b"--YY--\r\n") + 8]
        self.lit(w, "4", "3.TEXT", inner)
        self.assertEqual(len(inner), 172)  # Dovecot's BINARY.SIZE[3.TEXT]
        self.lit(w, "4", "4.TEXT", b"inner body")
        # TEXT / HEADER of a part that is no message/rfc822: empty, as BODY's
        for item in ("1.TEXT", "1.HEADER", "2.TEXT", "9.TEXT", "9.MIME", "1.HEADER.FIELDS (A)"):
            self.lit(w, "4", item, b"", item.replace("(A)", "(A)"))
        # partials cut the answer
        self.assertEqual(self.fetch1(w, "FETCH 4 (BINARY.PEEK[TEXT]<10.20> BINARY.PEEK[2.MIME]<14.11>)"),
                         b"* 4 FETCH (BINARY[TEXT]<10> {20}\r\n--XX\r\nContent-Type:  "
                         b"BINARY[2.MIME]<14> {11}\r\napplication)")
        self.assertEqual(self.fetch1(w, "FETCH 4 (BINARY.PEEK[TEXT]<196.6>)"),
                         b"* 4 FETCH (BINARY[TEXT]<196> ~{6}\r\n\x00\x01\x02\x03he)")
        # a single part: TEXT is its body decoded; HEADER and 1.MIME (the same
        # header) as BINARY[] shows it, rewritten
        hdr = SINGLE_NUL[:SINGLE_NUL.index(b"\r\n\r\n") + 4]
        self.lit(w, "5", "TEXT", b"\x00\x01hi")
        self.lit(w, "5", "HEADER", hdr.replace(b"base64", b"binary"))
        self.lit(w, "5", "1.MIME", hdr.replace(b"base64", b"binary"))
        self.lit(w, "5", "1.TEXT", b"")
        self.assertEqual(self.fetch1(w, "FETCH 5 (BINARY.PEEK[TEXT]<2.10> BINARY.PEEK[TEXT]<10.10>)"),
                         b"* 5 FETCH (BINARY[TEXT]<2> {2}\r\nhi BINARY[TEXT]<10> {0}\r\n)")
        # without PEEK, \Seen as for BINARY[part]
        self.assertRegex(self.fetch1(self.session(examine=False), "FETCH 5 (BINARY[HEADER.FIELDS (Subject)])"),
                         rb"^\* 5 FETCH \(FLAGS \(\\Seen( \\Recent)?\) "
                         rb"BINARY\[HEADER.FIELDS \(SUBJECT\)\] \{19\}\r\nSubject: single\r\n\r\n\)$")

    def test_sections_unknown_cte(self):
        w = self.session()
        # TEXT holds the x-uuencode leaf as BINARY[] does
        for item in ("BINARY.PEEK[TEXT]", "BINARY.SIZE[TEXT]"):
            untagged, tagged = w.cmd("FETCH 2 (%s)" % item)
            self.assertEqual(untagged, [])
            self.assertRegex(tagged, rb"^a\d+ NO \[UNKNOWN-CTE\] ")
        # a header is never encoded: HEADER and MIME are answered
        self.assertEqual(self.fetch1(w, "FETCH 2 (BINARY.PEEK[3.MIME] BINARY.SIZE[HEADER.FIELDS (Subject)])"),
                         b"* 2 FETCH (BINARY[3.MIME] {67}\r\nContent-Type: text/plain\r\n"
                         b"Content-Transfer-Encoding: x-uuencode\r\n\r\n BINARY.SIZE[HEADER.FIELDS (SUBJECT)] 19)")

    def test_bad_syntax(self):
        w = self.session()
        for item in ("BINARY[1.2.X]", "BINARY.PEEK[MIME]", "BINARY[TEXT.HEADER]", "BINARY.SIZE[1]<0.5>",
                     "BINARY.SIZE[TEXT]<0.5>", "BINARY[HEADER.FIELDS]", "BINARY[1]<0.0>", "BINARY[0]",
                     "BINARY[1", "BINARY.SIZE"):
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
