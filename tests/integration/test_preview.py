"""PREVIEW (RFC 8970): FETCH PREVIEW and PREVIEW (LAZY), with the text
Dovecot 2.3 answers for the same messages (first text part, HTML stripped,
quoted lines dropped, white space collapsed, 200 characters, UTF-8), made
from a bounded prefix of the part even when the message is large."""

import cluster
from cluster import ClusterTest
from imapwire import capabilities, status

cluster.module_fixtures(globals())

PW = "preview-pw"
MSGS = [
    # 1: multipart, quoted-printable UTF-8 first part
    (b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
     b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
     b"Hello=20w=C3=B6rld=\r\n soft break\r\nline2\r\n"
     b"--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECA2hlbGxv\r\n"
     b"--XX--\r\n"),
    # 2: HTML in ISO-8859-1
    (b"From: a@b\r\nSubject: h\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n"
     b"<html><head><style>p {color:red}</style><title>T</title></head><body><p>Hello&nbsp;&amp;  <b>w\xf6rld</b>"
     b"</p>\r\n\r\n<p>second   para &lt;x&gt; &#228; &eacute;</p><script>var x=1;</script>end</body></html>\r\n"),
    # 3: plain, quoted line and white space
    b"From: a@b\r\nSubject: p\r\n\r\n  Hi there,\r\n\r\n> quoted line\r\nThis is  a   test.\r\n-- \r\nsig\r\n",
    # 4: long
    b"From: a@b\r\nSubject: l\r\n\r\n" + (b"abcdefghi " * 40) + b"\r\n",
    # 5: alternative, plain second: the first text part wins (html)
    (b"From: a@b\r\nSubject: alt\r\nContent-Type: multipart/alternative; boundary=YY\r\n\r\n--YY\r\n"
     b"Content-Type: text/html\r\n\r\n<p>html version</p>\r\n--YY\r\nContent-Type: text/plain\r\n\r\n"
     b"plain version\r\n--YY--\r\n"),
    # 6: an image, then text
    (b"From: a@b\r\nSubject: att\r\nContent-Type: multipart/mixed; boundary=ZZ\r\n\r\n--ZZ\r\n"
     b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--ZZ\r\n"
     b"Content-Type: text/plain\r\n\r\nafter image\r\n--ZZ--\r\n"),
    # 7: empty body
    b"From: a@b\r\nSubject: e\r\n\r\n",
    # 8: base64 KOI8-R
    (b"From: a@b\r\nSubject: b\r\nContent-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: base64\r\n"
     b"\r\n8NLJ18XUIM3J0g==\r\n"),
    # 9: a CPIM chat message: no text part of its own (as Dovecot)
    (b"From: a@b\r\nContent-Type: message/cpim\r\n\r\nFrom: <sip:a>\r\n\r\nContent-Type: text/plain\r\n\r\n"
     b"chat body\r\n"),
]
WANT = [
    "Hello w\u00f6rld soft break line2",
    "T Hello\u00a0& w\u00f6rld second para <x> \u00e4 end",
    "Hi there, This is a test. -- sig",
    " ".join(["abcdefghi"] * 20),
    "html version",
    "after image",
    "",
    "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440",
    "",
]


def imap_string(s):
    """How the server writes s: quoted when printable ASCII, else a literal (as Dovecot)."""
    b = s.encode()
    if all(0x20 <= c < 0x7f for c in b):
        return b'"' + b.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d}\r\n" % len(b) + b


def populate(c):
    c.add_user("previewer", PW)


class Preview(ClusterTest):
    @classmethod
    def setUpClass(cls):
        w = cls.cluster.login_raw("previewer")
        for m in MSGS:
            _, tagged = w.cmd_literal(b"APPEND INBOX", m)
            assert status(tagged) == "OK", tagged
        w.close()

    def session(self):
        w = self.cluster.login_raw("previewer")
        _, tagged = w.cmd("SELECT INBOX")
        self.assertEqual(status(tagged), "OK", tagged)
        return w

    def test_capability(self):
        w = self.cluster.login_raw("previewer")
        untagged, _ = w.cmd("CAPABILITY")
        self.assertIn("PREVIEW", capabilities(untagged[0]))

    def test_preview_texts(self):
        w = self.session()
        untagged, tagged = w.cmd("FETCH 1:%d (PREVIEW)" % len(MSGS))
        self.assertEqual(status(tagged), "OK", tagged)
        want = [b"* %d FETCH (PREVIEW %s)" % (i + 1, imap_string(t)) for i, t in enumerate(WANT)]
        self.assertEqual(untagged, want)

    def test_lazy_and_forms(self):
        w = self.session()
        untagged, tagged = w.cmd("UID FETCH 3 (FLAGS PREVIEW (LAZY))")
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertEqual(len(untagged), 1)
        self.assertRegex(untagged[0], rb'^\* 3 FETCH \(UID 3 FLAGS \([^)]*\) PREVIEW "Hi there, This is a test\. -- sig"\)$')
        untagged, tagged = w.cmd("FETCH 5 PREVIEW (LAZY)")
        self.assertEqual(untagged, [b'* 5 FETCH (PREVIEW "html version")'])
        untagged, tagged = w.cmd("FETCH 7 PREVIEW")
        self.assertEqual(untagged, [b'* 7 FETCH (PREVIEW "")'])
        for bad in ("FETCH 1 (PREVIEW (BOGUS))", "FETCH 1 (PREVIEW ())", "FETCH 1 PREVIEW (LAZY) (LAZY)",
                    "FETCH 1 (PREVIEW[])", "FETCH 1 FLAGS (LAZY)"):
            _, tagged = w.cmd(bad)
            self.assertEqual(status(tagged), "BAD", (bad, tagged))

    def test_does_not_set_seen(self):
        w = self.session()
        _, tagged = w.cmd("STORE 6 -FLAGS.SILENT (\\Seen)")
        self.assertEqual(status(tagged), "OK", tagged)
        untagged, _ = w.cmd("FETCH 6 (PREVIEW)")
        self.assertEqual(untagged, [b'* 6 FETCH (PREVIEW "after image")'])
        untagged, _ = w.cmd("FETCH 6 (FLAGS)")
        self.assertNotIn(b"\\Seen", untagged[0])

    def test_large_message(self):
        # A 3 MB message: the preview comes from the first bytes of its text part.
        body = b"Start of a long story. " + b"y" * (3 * 1024 * 1024) + b"\r\n"
        msg = b"From: a@b\r\nSubject: big\r\n\r\n" + body
        w = self.cluster.login_raw("previewer")
        _, tagged = w.cmd("CREATE big")
        self.assertEqual(status(tagged), "OK", tagged)
        _, tagged = w.cmd_literal(b"APPEND big", msg)
        self.assertEqual(status(tagged), "OK", tagged)
        _, tagged = w.cmd("EXAMINE big")
        untagged, tagged = w.cmd("FETCH 1 (RFC822.SIZE PREVIEW)")
        self.assertEqual(status(tagged), "OK", tagged)
        want = "Start of a long story. " + "y" * 177
        self.assertEqual(untagged, [b'* 1 FETCH (RFC822.SIZE %d PREVIEW "%s")' % (len(msg), want.encode())])
