"""CATENATE (RFC 4469) with IMAP URLs (RFC 5092): APPEND and MULTIAPPEND whose
messages are built from TEXT literals and URL parts naming messages, sections
and partial ranges in the user's own folders; [BADURL] and [TOOBIG] answers;
a failing part appends nothing.

The expected answers follow Dovecot 2.3 (same codes and texts, without the
trailing '.'), except where this server is stricter by design: an absolute
URL naming the session's own user is accepted (Dovecot wants relative URLs),
and a section that is not in the message is a BADURL (Dovecot appends an
empty part)."""

import re

import cluster
from cluster import ClusterTest
from imapwire import fetch_items, status

# Small literals so that [TOOBIG] is cheap to reach: one message <= 100000
# bytes, one command <= 100000 + max_line.
MAX_LITERAL = 100000
MAX_LINE = 65536
cluster.module_fixtures(globals(), frontend_options=[{"max_literal": str(MAX_LITERAL)}] * 2)

PW = "cat-pw"

MULTI = (b"From: a@example.org\r\nSubject: parts\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
         b"preamble\r\n--XX\r\nContent-Type: text/plain\r\n\r\npart one\r\n"
         b"--XX\r\nContent-Type: text/html\r\n\r\n<b>part two</b>\r\n--XX--\r\n")
PART1 = b"part one"
PART1_MIME = b"Content-Type: text/plain\r\n\r\n"
PART2 = b"<b>part two</b>"
HEADER = MULTI[:MULTI.index(b"\r\n\r\n") + 4]
SIMPLE = b"From: b@example.org\r\nSubject: simple\r\n\r\nhello world\r\n"


def populate(c):
    c.add_user("cat", PW)
    c.add_user("cat2", PW)


def lit(data, plus=True):
    """A literal as the client sends it: {n+}CRLF data (LITERAL+)."""
    return b"{%d%s}\r\n" % (len(data), b"+" if plus else b"") + data


class CatenateBase(ClusterTest):
    def login(self, fe=0):
        return self.cluster.login_raw("cat", fe=fe)

    def send_cmd(self, w, body):
        """Send `tag body CRLF` (literals inside are LITERAL+); (untagged, tagged)."""
        tag = w.next_tag()
        w.send(tag.encode() + b" " + body + b"\r\n")
        return tag, w.read_until_tagged(tag)

    def append(self, w, mailbox, body):
        """APPEND a plain message; its UID."""
        _, (_, tagged) = self.send_cmd(w, b"APPEND " + mailbox.encode() + b" " + lit(body))
        m = re.search(rb"OK \[APPENDUID \d+ (\d+)\]", tagged)
        self.assertTrue(m, tagged)
        return int(m.group(1))

    def catenate(self, w, mailbox, parts, extra=b""):
        """APPEND mailbox [extra] CATENATE (parts); (tag, untagged, tagged)."""
        head = b"APPEND " + mailbox.encode() + (b" " + extra if extra else b"")
        tag, (untagged, tagged) = self.send_cmd(w, head + b" CATENATE (" + b" ".join(parts) + b")")
        return tag, untagged, tagged

    def body_of(self, w, mailbox, uid):
        """BODY[] of uid in mailbox (selects it)."""
        _, tagged = w.cmd("EXAMINE " + mailbox)
        self.assertEqual(status(tagged), "OK", tagged)
        untagged, tagged = w.cmd("UID FETCH %d (BODY.PEEK[])" % uid)
        self.assertEqual(status(tagged), "OK", tagged)
        got = [fetch_items(r)[1] for r in untagged if b" FETCH " in r]
        self.assertEqual(len(got), 1, untagged)
        return got[0]["BODY[]"]

    def appended_uid(self, tag, tagged):
        m = re.match(rb"^%s OK \[APPENDUID (\d+) (\d+)\] Append completed\.$" % tag.encode(), tagged)
        self.assertTrue(m, tagged)
        return int(m.group(1)), int(m.group(2))

    def count(self, w, mailbox):
        untagged, tagged = w.cmd("STATUS %s (MESSAGES)" % mailbox)
        self.assertEqual(status(tagged), "OK", tagged)
        return int(re.search(rb"MESSAGES (\d+)", untagged[0]).group(1))


class Capability(CatenateBase):
    def test_advertised(self):
        w = self.login()
        untagged, _ = w.cmd("CAPABILITY")
        caps = untagged[0].split()
        self.assertIn(b"CATENATE", caps)
        self.assertIn(b"URL-PARTIAL", caps)
        self.assertIn(b"MULTIAPPEND", caps)
        w.close()


class Build(CatenateBase):
    @classmethod
    def setUpClass(cls):
        w = cls.cluster.login_raw("cat")
        w.cmd("CREATE Src")
        w.cmd("CREATE Par")
        w.cmd("CREATE Par/Kid")
        w.cmd("CREATE Side")
        w.cmd("CREATE Out")
        uids = {}
        for box, body in (("Src", MULTI), ("Src", SIMPLE), ("Par/Kid", b"Subject: kid\r\n\r\nin kid\r\n"),
                          ("Side", b"Subject: side\r\n\r\nin side\r\n")):
            tag = w.next_tag()
            w.send(tag.encode() + b" APPEND " + box.encode() + b" " + lit(body) + b"\r\n")
            _, tagged = w.read_until_tagged(tag)
            uids[(box, body)] = int(re.search(rb"APPENDUID \d+ (\d+)", tagged).group(1))
            uv = int(re.search(rb"APPENDUID (\d+)", tagged).group(1))
            uids[box] = uv
        cls.multi_uid = uids[("Src", MULTI)]
        cls.simple_uid = uids[("Src", SIMPLE)]
        cls.src_uv = uids["Src"]
        cls.side_uv = uids["Side"]
        w.close()

    def test_text_only(self):
        w = self.login()
        # synchronising literals: the client waits for "+" before each
        tag = w.next_tag()
        w.send(tag.encode() + b' APPEND Out (\\Flagged) "05-Mar-2021 10:11:12 +0100" CATENATE (TEXT {14}\r\n')
        self.assertTrue(w.readline().startswith(b"+ "))
        w.send(b"Subject: t\r\n\r\n TEXT ~{6}\r\n")
        self.assertTrue(w.readline().startswith(b"+ "))
        w.send(b"a\x00bc\r\n)\r\n")
        untagged, tagged = w.read_until_tagged(tag)
        self.assertEqual(untagged, [])
        _, uid = self.appended_uid(tag, tagged)
        w.cmd("EXAMINE Out")
        untagged, _ = w.cmd("UID FETCH %d (FLAGS INTERNALDATE BODY.PEEK[])" % uid)
        it = fetch_items(untagged[0])[1]
        self.assertEqual(it["BODY[]"], b"Subject: t\r\n\r\na\x00bc\r\n")
        self.assertIn("\\Flagged", it["FLAGS"])
        self.assertEqual(it["INTERNALDATE"], b"05-Mar-2021 10:11:12 +0100")
        # A NUL needs a literal8, in a TEXT part as in APPEND's message.
        _, tagged = w.cmd_literal("APPEND Out CATENATE (TEXT", b"Subject: n\r\n\r\na\x00b\r\n", tail=b")")
        self.assertRegex(tagged, rb"^\S+ BAD .*literal8")
        w.close()

    def test_text_and_whole_message_url(self):
        w = self.login()
        tag, untagged, tagged = self.catenate(
            w, "Out", [b"TEXT " + lit(b"X-Fwd: 1\r\n"), b'URL "/Src/;UID=%d"' % self.simple_uid,
                       b"TEXT " + lit(b"-- end\r\n")])
        _, uid = self.appended_uid(tag, tagged)
        self.assertEqual(self.body_of(w, "Out", uid), b"X-Fwd: 1\r\n" + SIMPLE + b"-- end\r\n")
        w.close()

    def test_sections_and_partial(self):
        w = self.login(fe=1)
        u = self.multi_uid
        cases = [
            (b"/Src/;UID=%d/;SECTION=1" % u, PART1),
            (b"/Src/;UID=%d/;SECTION=2" % u, PART2),
            (b"/Src/;UID=%d/;SECTION=1.MIME" % u, PART1_MIME),
            (b"/Src/;UID=%d/;SECTION=HEADER" % u, HEADER),
            (b"/Src/;UID=%d/;SECTION=header.fields%%20(Subject)" % u, b"Subject: parts\r\n\r\n"),
            (b"/Src/;UID=%d/;PARTIAL=6.11" % u, MULTI[6:17]),
            (b"/Src/;UID=%d/;SECTION=2/;PARTIAL=3" % u, PART2[3:]),
            (b"/Src/;UID=%d/;SECTION=TEXT/;PARTIAL=0.8" % u, b"preamble"),
            (b"/Src/;UID=%d/;PARTIAL=100000.5" % u, b""),
            (b"/Src;UIDVALIDITY=%d/;uid=%d/;section=1" % (self.src_uv, u), PART1),
        ]
        want = b""
        parts = []
        for i, (url, data) in enumerate(cases):
            # an atom is an astring too (no parentheses in it, though)
            parts.append(b"URL " + url if i == 0 else b'URL "' + url + b'"')
            parts.append(b"TEXT " + lit(b"|"))
            want += data + b"|"
        tag, untagged, tagged = self.catenate(w, "Out", parts)
        _, uid = self.appended_uid(tag, tagged)
        self.assertEqual(self.body_of(w, "Out", uid), want)
        # the same bytes FETCH gives for BODY[1] and BODY[]<6.11>
        w.cmd("EXAMINE Src")
        untagged, _ = w.cmd("UID FETCH %d (BODY.PEEK[1] BODY.PEEK[]<6.11>)" % u)
        it = fetch_items(untagged[0])[1]
        self.assertEqual(it["BODY[1]"], PART1)
        self.assertEqual(it["BODY[]<6>"], MULTI[6:17])
        w.close()

    def test_relative_urls_and_other_folders(self):
        w = self.login()
        untagged, tagged = w.cmd("SELECT Par")
        self.assertEqual(status(tagged), "OK", tagged)
        # relative to the selected folder "Par": "Kid" is Par/Kid, ".." leaves it
        tag, _, tagged = self.catenate(w, "Out", [b'URL "Kid/;UID=1"', b'URL "../Side/;UID=1"',
                                                  b'URL "/Src/;UID=%d/;SECTION=1"' % self.multi_uid])
        _, uid = self.appended_uid(tag, tagged)
        self.assertEqual(self.body_of(w, "Out", uid), b"Subject: kid\r\n\r\nin kid\r\nSubject: side\r\n\r\nin side\r\n"
                         + PART1)
        # ";UID=n" is a message of the selected folder (with its UIDVALIDITY)
        untagged, _ = w.cmd("SELECT Src")
        exists = int(next(r for r in untagged if r.endswith(b" EXISTS")).split()[1])
        recent = int(next(r for r in untagged if r.endswith(b" RECENT")).split()[1])
        tag, untagged, tagged = self.catenate(w, "Src", [b'URL ";UID=%d/;SECTION=2"' % self.multi_uid])
        _, uid = self.appended_uid(tag, tagged)
        self.assertEqual(untagged, [b"* %d EXISTS" % (exists + 1), b"* %d RECENT" % (recent + 1)])  # ours
        self.assertEqual(self.body_of(w, "Src", uid), PART2)
        # an absolute URL naming this user, from either front-end, any host name
        w2 = self.login(fe=1)
        tag, _, tagged = self.catenate(
            w2, "Out", [b'URL "imap://cat@cpm-test-fe0/Side;UIDVALIDITY=%d/;UID=1"' % self.side_uv,
                        b'URL "imap://cat;AUTH=*@mail.example.net:143/Par/Kid/;UID=1"'])
        _, uid = self.appended_uid(tag, tagged)
        self.assertEqual(self.body_of(w2, "Out", uid), b"Subject: side\r\n\r\nin side\r\nSubject: kid\r\n\r\nin kid\r\n")
        # an INBOX in any case, and a URL as a quoted string with escapes
        uid_in = self.append(w2, "INBOX", b"Subject: in\r\n\r\ninbox\r\n")
        tag, _, tagged = self.catenate(w2, "Out", [b'URL "/inbox/;UID=%d"' % uid_in, b'URL "/%%49NBOX/;UID=%d"' % uid_in])
        _, uid = self.appended_uid(tag, tagged)
        self.assertEqual(self.body_of(w2, "Out", uid), b"Subject: in\r\n\r\ninbox\r\n" * 2)
        w.close()
        w2.close()

    def test_bad_urls(self):
        w = self.login()
        before = self.count(w, "Out")
        u = self.multi_uid
        cases = [
            (b"/Src/;UID=0", b"Invalid IMAP URL: Invalid ;UID= (a non-zero 32-bit number)"),
            (b";UID=1", b"Mailbox-relative IMAP URL, but no mailbox selected"),
            (b"Src", b"Invalid messagepart IMAP URL"),
            (b"/Src?ALL", b"Invalid messagepart IMAP URL"),
            (b"/Nope/;UID=1", b"Mailbox doesn't exist: Nope"),
            (b"/Src;UIDVALIDITY=1/;UID=%d" % u, b"Invalid UIDVALIDITY"),
            (b"/Src/;UID=999999", b"Message not found"),
            (b"/Src/;UID=%d/;SECTION=bogus" % u, b"Invalid section"),
            (b"/Src/;UID=%d/;SECTION=7" % u, b"No such section in the message"),
            (b"/Src/;UID=%d/;PARTIAL=0.0" % u,
             b"Invalid IMAP URL: Invalid ;PARTIAL= length (a non-zero 32-bit number)"),
            (b"/Src/;UID=%d/;SECTION=1;URLAUTH=anonymous:INTERNAL:0123456789abcdef0123456789abcdef" % u,
             b"URLAUTH-authorized URLs are not supported"),
            (b"http://example.org/Src", b"Invalid IMAP URL: Not an IMAP URL"),
            (b"imap:///Src/;UID=1", b"Invalid IMAP URL: Empty host name"),
        ]
        for url, text in cases:
            tag, untagged, tagged = self.catenate(w, "Out", [b"TEXT " + lit(b"x"), b'URL "%s"' % url])
            self.assertEqual(tagged, b"%s NO [BADURL %s] %s" % (tag.encode(), url, text), url)
            self.assertEqual(untagged, [])
        # bytes that cannot be in a URL are %-escaped in the response code
        tag, _, tagged = self.catenate(w, "Out", [b'URL "/S rc]/;UID=1"'])
        self.assertEqual(tagged, b"%s NO [BADURL /S%%20rc%%5D/;UID=1] Invalid IMAP URL: Invalid character in URL"
                         % tag.encode())
        tag, _, tagged = self.catenate(w, "Out", [b"URL " + lit(b"/Src/;UID=1\r\n")])
        self.assertEqual(tagged, b"%s NO [BADURL /Src/;UID=1%%0D%%0A] Invalid IMAP URL: Invalid character in URL"
                         % tag.encode())
        self.assertEqual(self.count(w, "Out"), before)
        w.close()

    def test_other_users_urls(self):
        w2 = self.cluster.login_raw("cat2")
        uid = self.append(w2, "INBOX", b"Subject: secret\r\n\r\nof cat2\r\n")
        w2.close()
        w = self.login()
        for url in (b"imap://cat2@cpm-test-fe0/INBOX/;UID=%d" % uid, b"//cat2@cpm-test-fe0/INBOX/;UID=%d" % uid,
                    b"imap://cpm-test-fe0/INBOX/;UID=%d" % uid):
            tag, _, tagged = self.catenate(w, "Out", [b'URL "%s"' % url])
            self.assertEqual(tagged, b"%s NO [BADURL %s] Not permitted: the URL does not name this user's mailboxes"
                             % (tag.encode(), url))
        w.close()

    def test_syntax_errors(self):
        w = self.login()
        cases = [
            (b"APPEND Out CATENATE ()", b"Empty CATENATE list"),
            (b'APPEND Out CATENATE (TEXT "abc")', b"CATENATE TEXT needs a literal"),
            (b"APPEND Out CATENATE (TEXT)", b"CATENATE TEXT needs a literal"),
            (b"APPEND Out CATENATE (URL)", b"CATENATE URL needs a string"),
            (b"APPEND Out CATENATE (URL (a))", b"CATENATE URL needs a string"),
            (b'APPEND Out CATENATE (FOO "x")', b"Unknown CATENATE part (TEXT or URL expected)"),
            (b"APPEND Out CATENATE TEXT", b"CATENATE needs a parenthesised list of parts"),
            (b"APPEND Out CATENATE", b"CATENATE needs a parenthesised list of parts"),
        ]
        for cmd, text in cases:
            tag, (untagged, tagged) = self.send_cmd(w, cmd)
            self.assertEqual(tagged, b"%s BAD %s" % (tag.encode(), text), cmd)
        # too many parts
        tag, (_, tagged) = self.send_cmd(w, b"APPEND Out CATENATE (" + b" ".join([b"URL x"] * 1001) + b")")
        self.assertEqual(tagged, b"%s BAD Too many CATENATE parts" % tag.encode())
        # an empty result is not a message
        tag, (_, tagged) = self.send_cmd(w, b"APPEND Out CATENATE (TEXT {0+}\r\n)")
        self.assertEqual(tagged, b"%s NO Can't save an empty message" % tag.encode())
        tag, (_, tagged) = self.send_cmd(
            w, b'APPEND Out CATENATE (URL "/Src/;UID=%d/;PARTIAL=100000")' % self.simple_uid)
        self.assertEqual(tagged, b"%s NO Can't save an empty message" % tag.encode())
        # a missing target folder
        tag, (_, tagged) = self.send_cmd(w, b"APPEND Nope CATENATE (TEXT " + lit(b"x\r\n") + b")")
        self.assertEqual(tagged, b"%s NO [TRYCREATE] Mailbox doesn't exist: Nope" % tag.encode())
        w.close()

    def test_multiappend_all_or_nothing(self):
        w = self.login()
        w.cmd("CREATE Multi")
        # plain + CATENATE + CATENATE with a bad URL in the last message: nothing
        body = (b"APPEND Multi " + lit(b"plain\r\n") + b" (\\Seen) CATENATE (TEXT " + lit(b"two\r\n")
                + b' URL "/Src/;UID=%d")' % self.simple_uid
                + b' CATENATE (URL "/Src/;UID=%d/;SECTION=1" URL "/Src/;UID=424242")' % self.multi_uid)
        tag, (untagged, tagged) = self.send_cmd(w, body)
        self.assertEqual(tagged, b"%s NO [BADURL /Src/;UID=424242] Message not found" % tag.encode())
        self.assertEqual(self.count(w, "Multi"), 0)
        # the same without the bad part: three messages, in order
        body = (b"APPEND Multi " + lit(b"plain\r\n") + b" (\\Seen) CATENATE (TEXT " + lit(b"two\r\n")
                + b' URL "/Src/;UID=%d")' % self.simple_uid
                + b' CATENATE (URL "/Src/;UID=%d/;SECTION=1" TEXT ' % self.multi_uid + lit(b"!\r\n") + b")")
        tag, (untagged, tagged) = self.send_cmd(w, body)
        m = re.match(rb"^%s OK \[APPENDUID \d+ (\d+):(\d+)\] Append completed\.$" % tag.encode(), tagged)
        self.assertTrue(m, tagged)
        first, last = int(m.group(1)), int(m.group(2))
        self.assertEqual(last - first, 2)
        w.cmd("EXAMINE Multi")
        untagged, _ = w.cmd("UID FETCH 1:* (FLAGS BODY.PEEK[])")
        got = [fetch_items(r)[1] for r in untagged]
        self.assertEqual([g["BODY[]"] for g in got], [b"plain\r\n", b"two\r\n" + SIMPLE, PART1 + b"!\r\n"])
        self.assertNotIn("\\Seen", got[0]["FLAGS"])
        self.assertIn("\\Seen", got[1]["FLAGS"])
        w.close()

    def test_toobig(self):
        w = self.login()
        big = b"Subject: big\r\n\r\n" + b"z" * 60000 + b"\r\n"
        uid = self.append(w, "Src", big)
        before = self.count(w, "Out")
        # one message over the literal limit
        tag, _, tagged = self.catenate(w, "Out", [b'URL "/Src/;UID=%d"' % uid, b'URL "/Src/;UID=%d"' % uid])
        self.assertEqual(tagged, b"%s NO [TOOBIG] Composed message grows too big" % tag.encode())
        tag, _, tagged = self.catenate(w, "Out", [b'URL "/Src/;UID=%d"' % uid, b"TEXT " + lit(b"y" * 50000)])
        self.assertEqual(tagged, b"%s NO [TOOBIG] Composed message grows too big" % tag.encode())
        # exactly at the limit is fine
        tag, _, tagged = self.catenate(w, "Out", [b'URL "/Src/;UID=%d"' % uid,
                                                  b"TEXT " + lit(b"y" * (MAX_LITERAL - len(big)))])
        _, new = self.appended_uid(tag, tagged)
        self.assertEqual(len(self.body_of(w, "Out", new)), MAX_LITERAL)
        # each message fits, the command does not (one command <= literal + line limit)
        parts = b' CATENATE (URL "/Src/;UID=%d")' % uid
        tag, (_, tagged) = self.send_cmd(w, b"APPEND Out" + parts * 3)
        self.assertEqual(tagged, b"%s NO [TOOBIG] Composed message grows too big" % tag.encode())
        self.assertEqual(self.count(w, "Out"), before + 1)
        w.close()
