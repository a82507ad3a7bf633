"""Large CATENATE (RFC 4469) in bounded memory: a message whose parts add up
to append_stream_kb or more is staged on the user's shard (AppendBegin with
open_size, AppendChunk pieces) and committed by the AppendReq /
MultiAppendReq naming it. A TEXT literal inside the part list is streamed
as it arrives (like a plain APPEND literal); a URL part naming a large
message (or a byte range of one) is read window by window. Neither the
front-end nor the back-end holds such a message whole; a command that fails
or a client that goes away leaves no staging file."""

import hashlib
import re
import threading
import time

import cluster
from cluster import ClusterTest, group_pids, rss_kb
from imapwire import status
from test_append_large import staging_files, wait_no_staging
from test_large import big_message

cluster.module_fixtures(globals())

PW = "catl-pw"
MB = 1024 * 1024
USERS = ("curl", "ctext", "cplus", "cmulti", "ccut", "cbig", "cmany", "cquota")
HEAD = b"From: composer@example.org\r\nSubject: forwarded\r\nX-Note: composed\r\n\r\n"
TRAILER = b"\r\n-- \r\nsent from the test\r\n"


def populate(c):
    for u in USERS:
        c.add_user(u, PW)


def lit(data):
    """A LITERAL+ literal as the client sends it."""
    return b"{%d+}\r\n" % len(data) + data


class Sampler:
    """Peak memory growth of pids (MB) while a block runs: VmRSS and VmData
    sampled, VmHWM reset before and read after (as read_literal_measured)."""

    def __init__(self, pids):
        self.pids = pids

    def __enter__(self):
        self.base = {p: rss_kb(p) for p in self.pids}
        self.dbase = {p: rss_kb(p, "VmData") for p in self.pids}
        self.peak, self.dpeak = dict(self.base), dict(self.dbase)
        for p in self.pids:
            with open("/proc/%d/clear_refs" % p, "w") as f:
                f.write("5")
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()
        return self

    def sample(self):
        for p in self.pids:
            self.peak[p] = max(self.peak[p], rss_kb(p))
            self.dpeak[p] = max(self.dpeak[p], rss_kb(p, "VmData"))

    def run(self):
        while not self.stop:
            self.sample()
            time.sleep(0.005)

    def __exit__(self, *exc):
        self.stop = True
        self.t.join()
        self.sample()
        for p in self.pids:
            self.peak[p] = max(self.peak[p], rss_kb(p, "VmHWM"))
        self.grown = {p: max(self.peak[p] - self.base[p], self.dpeak[p] - self.dbase[p]) // 1024 for p in self.pids}
        return False


class Large(ClusterTest):
    def pids(self, user, fe):
        c = self.cluster
        return group_pids(c.frontends[fe].pid) + [c.backends[c.shard_of(user)].pid]

    def check_grown(self, grown, what):
        if cluster.sanitized():  # ASan's quarantine keeps freed memory resident
            return
        for p, mb in grown.items():
            self.assertLess(mb, 12, "%s: pid %d grew by %d MB: %r" % (what, p, mb, grown))

    def check_stored(self, user, fe, uid, want):
        """The message uid of INBOX is want (sha256 of BODY[] read slowly),
        and reading it back stays in bounded memory too."""
        c = self.cluster
        r = c.login_raw(user, fe=fe)
        r.settimeout(120)
        r.cmd("SELECT INBOX")
        head = b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (uid, uid, len(want))
        digest, _, grown = cluster.read_literal_measured(
            r, b"UID FETCH %d (UID BODY.PEEK[])" % uid, head, len(want), self.pids(user, fe))
        self.assertEqual(digest, hashlib.sha256(want).hexdigest())
        r.close()
        self.check_grown(grown, "fetch")

    def append_big(self, w, body):
        """A plain APPEND (streamed); its UIDVALIDITY and UID."""
        untagged, tagged = w.cmd_literal(b"APPEND INBOX", body, plus=True)
        m = re.search(rb"OK \[APPENDUID (\d+) (\d+)\]", tagged)
        self.assertTrue(m, tagged)
        return int(m.group(1)), int(m.group(2))

    def test_url_of_a_large_message(self):
        """TEXT + URL naming a 30 MB message + TEXT: byte-exact, and the
        URL's bytes went window by window (neither process grew)."""
        c = self.cluster
        body = big_message(30 * MB, b"caturl")
        w = c.login_raw("curl", fe=1)
        w.settimeout(120)
        uidv, uid = self.append_big(w, body)
        url = b'"/INBOX;UIDVALIDITY=%d/;UID=%d"' % (uidv, uid)
        time.sleep(0.3)
        with Sampler(self.pids("curl", 1)) as m:
            tag = w.next_tag()
            w.send(tag.encode() + b" APPEND INBOX CATENATE (TEXT " + lit(HEAD) + b" URL " + url +
                   b" TEXT " + lit(TRAILER) + b")\r\n")
            _, tagged = w.read_until_tagged(tag)
        self.assertRegex(tagged, rb"OK \[APPENDUID %d 2\]" % uidv)
        self.assertEqual(wait_no_staging(c, "curl"), [])
        # A section of it (the attachment, BODY[2]) and a partial range.
        tag = w.next_tag()
        w.send(tag.encode() + b' APPEND INBOX CATENATE (URL "/INBOX/;UID=%d/;SECTION=2")\r\n' % uid)
        _, tagged = w.read_until_tagged(tag)
        self.assertRegex(tagged, rb"OK \[APPENDUID %d 3\]" % uidv)
        tag = w.next_tag()
        w.send(tag.encode() + b' APPEND INBOX CATENATE (TEXT ' + lit(HEAD) +
               b' URL "/INBOX/;UID=%d/;PARTIAL=1000.5000000")\r\n' % uid)
        _, tagged = w.read_until_tagged(tag)
        self.assertRegex(tagged, rb"OK \[APPENDUID %d 4\]" % uidv)
        w.close()
        self.check_grown(m.grown, "catenate url")
        self.check_stored("curl", 0, 2, HEAD + body + TRAILER)
        self.check_stored("curl", 0, 4, HEAD + body[1000:1000 + 5000000])
        sec = body[body.index(b"Content-Type: application/octet-stream"):]
        sec = sec[sec.index(b"\r\n\r\n") + 4:]
        sec = sec[:sec.rindex(b"\r\n--BB--")]
        self.check_stored("curl", 0, 3, sec)

    def big_text(self, user, plus):
        """TEXT + a 30 MB TEXT literal (sent slowly) + URL of a small message
        + TEXT: byte-exact, bounded memory."""
        c = self.cluster
        big = big_message(30 * MB, user.encode())
        small = b"Subject: small\r\n\r\nsmall one\r\n"
        w = c.login_raw(user, fe=1)
        w.settimeout(120)
        untagged, tagged = w.cmd_literal(b"APPEND INBOX", small, plus=True)
        self.assertEqual(status(tagged), "OK", tagged)
        time.sleep(0.3)
        with Sampler(self.pids(user, 1)) as m:
            tag = w.next_tag()
            w.send(tag.encode() + b" APPEND INBOX (\\Seen) CATENATE (TEXT " + lit(HEAD) +
                   b" TEXT {%d%s}\r\n" % (len(big), b"+" if plus else b""))
            if not plus:
                self.assertTrue(w.read_response().startswith(b"+ "))
            for off in range(0, len(big), MB):
                w.sock.sendall(big[off:off + MB])
                m.sample()
            w.send(b' URL "/INBOX/;UID=1" TEXT ' + lit(TRAILER) + b")\r\n")
            _, tagged = w.read_until_tagged(tag)
        self.assertRegex(tagged, rb"OK \[APPENDUID \d+ 2\]")
        self.assertEqual(wait_no_staging(c, user), [])
        w.close()
        self.check_grown(m.grown, "catenate text")
        self.check_stored(user, 0, 2, HEAD + big + small + TRAILER)

    def test_large_text_literal_synchronising(self):
        self.big_text("ctext", plus=False)

    def test_large_text_literal_plus(self):
        self.big_text("cplus", plus=True)

    def test_toobig_while_streaming(self):
        """Parts past max_literal (64 MiB here): NO [TOOBIG] before the "+"
        of the literal that would pass it; nothing stored, nothing staged."""
        c = self.cluster
        w = c.login_raw("cbig")
        w.settimeout(120)
        chunk = b"x" * (40 * MB)
        tag = w.next_tag()
        w.send(tag.encode() + b" APPEND INBOX CATENATE (TEXT " + lit(HEAD) + b" TEXT {%d}\r\n" % len(chunk))
        self.assertTrue(w.read_response().startswith(b"+ "))
        w.sock.sendall(chunk)
        w.send(b" TEXT {%d}\r\n" % len(chunk))
        _, tagged = w.read_until_tagged(tag)
        self.assertRegex(tagged, rb"NO \[TOOBIG\]")
        self.assertEqual(status(w.cmd("NOOP")[1]), "OK")
        self.assertEqual(wait_no_staging(c, "cbig"), [])
        self.assertEqual(w.cmd("STATUS INBOX (MESSAGES)")[0], [b"* STATUS INBOX (MESSAGES 0)"])
        w.close()

    def test_multiappend_all_or_none(self):
        """MULTIAPPEND of a large CATENATE message and a small plain one:
        both stored; with a BADURL in a later message, none is stored and
        no staging file stays."""
        c = self.cluster
        big = big_message(8 * MB, b"catmulti")
        small = b"Subject: plain\r\n\r\nplain\r\n"
        w = c.login_raw("cmulti")
        w.settimeout(120)
        uidv, uid = self.append_big(w, big)
        w.cmd("CREATE M")
        tag = w.next_tag()
        w.send(tag.encode() + b" APPEND M CATENATE (TEXT " + lit(HEAD) + b" TEXT {%d}\r\n" % len(big))
        self.assertTrue(w.read_response().startswith(b"+ "))
        w.sock.sendall(big)
        w.send(b' URL "/INBOX/;UID=%d") (\\Flagged) ' % uid + lit(small) + b"\r\n")
        _, tagged = w.read_until_tagged(tag)
        self.assertRegex(tagged, rb"OK \[APPENDUID \d+ 1:2\]")
        self.assertEqual(wait_no_staging(c, "cmulti"), [])
        w.cmd("SELECT M")
        untagged, _ = w.cmd("FETCH 2 (FLAGS BODY.PEEK[])")
        self.assertIn(b"\\Flagged", untagged[0])
        self.assertIn(small, untagged[0])
        w.cmd("UNSELECT")
        w.close()
        self.check_stored_in("cmulti", "M", 1, HEAD + big + big)
        # A BADURL in the third message: nothing of the command is stored.
        w = c.login_raw("cmulti")
        w.settimeout(120)
        tag = w.next_tag()
        w.send(tag.encode() + b" APPEND M CATENATE (TEXT " + lit(HEAD) + b" TEXT {%d}\r\n" % len(big))
        self.assertTrue(w.read_response().startswith(b"+ "))
        w.sock.sendall(big)
        w.send(b' URL "/INBOX/;UID=%d") ' % uid + lit(small) +
               b' CATENATE (TEXT ' + lit(HEAD) + b' URL "/INBOX/;UID=999")\r\n')
        _, tagged = w.read_until_tagged(tag)
        self.assertRegex(tagged, rb"NO \[BADURL /INBOX/;UID=999\]")
        self.assertEqual(w.cmd("STATUS M (MESSAGES)")[0], [b"* STATUS M (MESSAGES 2)"])
        self.assertEqual(wait_no_staging(c, "cmulti"), [])
        # A URL-built large message in the first place, BADURL in the second.
        tag = w.next_tag()
        w.send(tag.encode() + b' APPEND M CATENATE (URL "/INBOX/;UID=%d" URL "/INBOX/;UID=%d")' % (uid, uid) +
               b' CATENATE (URL "/Nowhere/;UID=1")\r\n')
        _, tagged = w.read_until_tagged(tag)
        self.assertRegex(tagged, rb"NO \[BADURL /Nowhere/;UID=1\]")
        self.assertEqual(w.cmd("STATUS M (MESSAGES)")[0], [b"* STATUS M (MESSAGES 2)"])
        self.assertEqual(wait_no_staging(c, "cmulti"), [])
        w.close()

    def check_stored_in(self, user, folder, seq, want):
        r = self.cluster.login_raw(user)
        r.settimeout(120)
        r.cmd("SELECT " + folder)
        head = b"* %d FETCH (BODY[] {%d}\r\n" % (seq, len(want))
        digest, _, _ = cluster.read_literal_measured(r, b"FETCH %d BODY.PEEK[]" % seq, head, len(want), [])
        self.assertEqual(digest, hashlib.sha256(want).hexdigest())
        r.close()

    def test_disconnect_mid_catenate(self):
        """A client gone in the middle of a large TEXT literal, or while a
        large URL part is being copied: no staging file stays."""
        c = self.cluster
        big = big_message(20 * MB, b"catcut")
        for fe in (0, 1):
            w = c.login_raw("ccut", fe=fe)
            tag = w.next_tag()
            w.send(tag.encode() + b" APPEND INBOX CATENATE (TEXT " + lit(HEAD) + b" TEXT {%d}\r\n" % len(big))
            self.assertTrue(w.read_response().startswith(b"+ "))
            w.sock.sendall(big[:7 * MB])
            time.sleep(0.3)
            self.assertEqual(len(staging_files(c, "ccut")), 1)
            w.sock.close()
            self.assertEqual(wait_no_staging(c, "ccut"), [])
        w = c.login_raw("ccut")
        w.settimeout(120)
        self.assertEqual(w.cmd("STATUS INBOX (MESSAGES)")[0], [b"* STATUS INBOX (MESSAGES 0)"])
        uidv, uid = self.append_big(w, big)
        tag = w.next_tag()
        w.send(tag.encode() + b' APPEND INBOX CATENATE (URL "/INBOX/;UID=%d" URL "/INBOX/;UID=%d")\r\n' % (uid, uid))
        end = time.time() + 10
        while not staging_files(c, "ccut") and time.time() < end:
            time.sleep(0.005)
        w.sock.close()
        self.assertEqual(wait_no_staging(c, "ccut"), [])
        w = c.login_raw("ccut")
        st = w.cmd("STATUS INBOX (MESSAGES)")[0][0]
        self.assertIn(st, [b"* STATUS INBOX (MESSAGES 1)", b"* STATUS INBOX (MESSAGES 2)"])
        w.close()

    def test_too_many_staged_messages(self):
        """append_staging_max (8) large CATENATE messages in one MULTIAPPEND:
        the ninth large TEXT literal is refused before its "+" ([LIMIT]);
        nothing is stored, nothing stays staged."""
        c = self.cluster
        big = b"y" * (MB + 4096)
        w = c.login_raw("cmany")
        w.settimeout(60)
        tag = w.next_tag()
        w.send(tag.encode() + b" APPEND INBOX CATENATE (TEXT " + lit(HEAD) + b" TEXT {%d}\r\n" % len(big))
        for i in range(9):
            line = w.read_response()
            if i == 8:
                self.assertRegex(line, (r"^%s NO \[LIMIT\] " % tag).encode())
                break
            self.assertTrue(line.startswith(b"+ "), line)
            w.sock.sendall(big)
            w.send(b") CATENATE (TEXT " + lit(HEAD) + b" TEXT {%d}\r\n" % len(big))
        self.assertEqual(status(w.cmd("NOOP")[1]), "OK")
        self.assertEqual(w.cmd("STATUS INBOX (MESSAGES)")[0], [b"* STATUS INBOX (MESSAGES 0)"])
        self.assertEqual(wait_no_staging(c, "cmany"), [])
        w.close()

    def test_quota_and_trycreate(self):
        """[TRYCREATE] and [OVERQUOTA] before the "+" of a large TEXT
        literal; [OVERQUOTA] at the commit of a message built large from
        URL parts (its size known only then); nothing stays staged."""
        c = self.cluster
        w = c.login_raw("cquota")
        w.settimeout(60)
        tag = w.next_tag()
        w.send(tag.encode() + b" APPEND Nowhere CATENATE (TEXT " + lit(HEAD) + b" TEXT {%d}\r\n" % (5 * MB))
        self.assertRegex(w.read_response(), (r"^%s NO \[TRYCREATE\] " % tag).encode())
        body = big_message(3 * MB, b"catquota")
        uidv, uid = self.append_big(w, body)
        r = c.admin("user", "quota", "cquota", "5")
        self.assertEqual(r.returncode, 0, r.stderr)
        try:
            tag = w.next_tag()
            w.send(tag.encode() + b" APPEND INBOX CATENATE (TEXT " + lit(HEAD) + b" TEXT {%d}\r\n" % (50 * MB))
            self.assertRegex(w.read_response(), (r"^%s NO \[OVERQUOTA\] " % tag).encode())
            self.assertEqual(status(w.cmd("NOOP")[1]), "OK")
            tag = w.next_tag()
            w.send(tag.encode() + b' APPEND INBOX CATENATE (URL "/INBOX/;UID=%d" URL "/INBOX/;UID=%d")\r\n' %
                   (uid, uid))
            _, tagged = w.read_until_tagged(tag)
            self.assertRegex(tagged, rb"NO \[OVERQUOTA\]")
            self.assertEqual(w.cmd("STATUS INBOX (MESSAGES)")[0], [b"* STATUS INBOX (MESSAGES 1)"])
            self.assertEqual(wait_no_staging(c, "cquota"), [])
        finally:
            c.admin("user", "quota", "cquota", "0")
        w.close()
