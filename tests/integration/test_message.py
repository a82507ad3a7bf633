"""Messages: APPEND with APPENDUID (RFC 3501 6.3.11, RFC 4315) and FETCH of FLAGS,
UID, RFC822.SIZE, INTERNALDATE, BODY[] and BODY.PEEK[] (RFC 3501 6.4.5), byte-exact
and 8-bit clean."""

import datetime
import re
import random
import time

import cluster
from cluster import ClusterTest
from checks import DATE, append, binary_message, check_select, fetch, flagset, parse_internaldate
from imapwire import status

cluster.module_fixtures(globals())

PW = "msg-pw"


def populate(c):
    for name in ("appender", "peeker", "bigmail", "libuser", "ranger", "multi"):
        c.add_user(name, PW)


class AppendFetch(ClusterTest):
    def test_append_then_fetch_byte_exact(self):
        msg = binary_message(b"exact")
        w = self.cluster.login_raw("appender")
        v, uid, _ = append(self, w, "INBOX", msg, flags=["\\Seen", "\\Flagged"], date=DATE)
        untagged, tagged = w.cmd("SELECT INBOX")
        sel = check_select(self, untagged, tagged)
        self.assertEqual(int(sel["UIDVALIDITY"]), v, "APPENDUID uidvalidity must match SELECT's")
        self.assertGreater(int(sel["UIDNEXT"]), uid)
        n = int(sel["EXISTS"])
        self.assertGreaterEqual(n, 1)
        res = fetch(self, w, n, "(FLAGS UID RFC822.SIZE INTERNALDATE)")
        self.assertEqual(len(res), 1, res)
        seq, it = res[0]
        self.assertEqual(seq, n)
        self.assertEqual(set(it), {"FLAGS", "UID", "RFC822.SIZE", "INTERNALDATE"})
        self.assertEqual(flagset(it["FLAGS"]), {"\\Seen", "\\Flagged"})
        self.assertEqual(int(it["UID"]), uid)
        self.assertEqual(int(it["RFC822.SIZE"]), len(msg))
        self.assertEqual(parse_internaldate(it["INTERNALDATE"]), parse_internaldate(DATE))
        res = fetch(self, w, n, "BODY[]")
        self.assertEqual(len(res), 1)
        body = res[0][1]["BODY[]"]
        self.assertEqual(len(body), len(msg))
        self.assertTrue(body == msg, "BODY[] differs from what was appended")
        w.close()

    def test_append_literal_plus(self):
        msg = b"Subject: literal+\r\n\r\nbody \xff\xfe\r\n"
        w = self.cluster.login_raw("appender", fe=1)
        v, uid, _ = append(self, w, "Default", msg, plus=True)
        untagged, tagged = w.cmd("EXAMINE Default")
        sel = check_select(self, untagged, tagged, readonly=True)
        self.assertEqual(int(sel["UIDVALIDITY"]), v)
        res = fetch(self, w, sel["EXISTS"], "(UID BODY.PEEK[])")
        self.assertEqual(int(res[0][1]["UID"]), uid)
        self.assertEqual(res[0][1]["BODY[]"], msg)
        w.close()

    def test_append_without_flags_or_date(self):
        msg = b"Subject: plain\r\n\r\nhello\r\n"
        w = self.cluster.login_raw("appender")
        w.cmd("CREATE Plain")
        before = datetime.datetime.now(datetime.timezone.utc)
        v, uid, _ = append(self, w, "Plain", msg)
        untagged, tagged = w.cmd("SELECT Plain")
        check_select(self, untagged, tagged, exists=1)
        (seq, it), = fetch(self, w, 1, "(FLAGS UID INTERNALDATE RFC822.SIZE)")
        self.assertEqual(flagset(it["FLAGS"]), set())
        self.assertEqual(int(it["UID"]), uid)
        self.assertEqual(int(it["RFC822.SIZE"]), len(msg))
        when = parse_internaldate(it["INTERNALDATE"])
        self.assertLess(abs((when - before).total_seconds()), 600, "INTERNALDATE should be the time of APPEND")
        w.close()

    def test_uids_ascend_and_uidvalidity_is_stable(self):
        w = self.cluster.login_raw("appender")
        w.cmd("CREATE Series")
        got = [append(self, w, "Series", b"Subject: n%d\r\n\r\nx\r\n" % i) for i in range(4)]
        self.assertEqual(len({v for v, _, _ in got}), 1, "UIDVALIDITY changed between APPENDs")
        uids = [u for _, u, _ in got]
        self.assertEqual(uids, sorted(uids))
        self.assertEqual(len(set(uids)), 4, "UIDs must be unique and strictly ascending: %r" % uids)
        untagged, tagged = w.cmd("SELECT Series")
        sel = check_select(self, untagged, tagged, exists=4)
        self.assertEqual(int(sel["UIDVALIDITY"]), got[0][0])
        self.assertGreater(int(sel["UIDNEXT"]), uids[-1])
        res = fetch(self, w, "1:*", "(UID RFC822.SIZE)")
        self.assertEqual([s for s, _ in res], [1, 2, 3, 4])
        self.assertEqual([int(it["UID"]) for _, it in res], uids)
        w.close()

    def test_append_to_missing_mailbox_is_trycreate(self):
        w = self.cluster.login_raw("appender")
        w.send(b"a1 APPEND NoSuchBox {9}\r\n")
        r = w.read_response()
        if r.startswith(b"+"):
            w.send(b"Subject: x\r\n"[:9] + b"\r\n")
            _, tagged = w.read_until_tagged("a1")
        else:
            tagged = r.rstrip(b"\r\n")
        self.assertRegex(tagged, rb"^a1 NO \[TRYCREATE\] [\x20-\x7e]+$")
        w.close()

    def test_append_bad_date_is_bad(self):
        w = self.cluster.login_raw("appender")
        w.send(b'a1 APPEND INBOX "31-Foo-2023 99:00:00 +0000" {5}\r\n')
        r = w.read_response()
        if r.startswith(b"+"):
            w.send(b"x\r\n\r\n\r\n")
            _, tagged = w.read_until_tagged("a1")
        else:
            tagged = r.rstrip(b"\r\n")
        self.assertEqual(status(tagged), "BAD", tagged)
        w.close()

    def test_append_keyword(self):
        w = self.cluster.login_raw("appender")
        w.cmd("CREATE Keywords")
        append(self, w, "Keywords", b"Subject: kw\r\n\r\nx\r\n", flags=["$Label1", "\\Answered"])
        w.cmd("SELECT Keywords")
        (seq, it), = fetch(self, w, 1, "FLAGS")
        self.assertEqual(flagset(it["FLAGS"]), {"$Label1", "\\Answered"})
        w.close()

    def test_append_to_selected_mailbox_reports_exists(self):
        w = self.cluster.login_raw("appender")
        w.cmd("CREATE Live")
        untagged, tagged = w.cmd("SELECT Live")
        check_select(self, untagged, tagged, exists=0)
        _, _, untagged = append(self, w, "Live", b"Subject: live\r\n\r\nx\r\n")
        untagged2, tagged = w.cmd("NOOP")
        self.assertEqual(status(tagged), "OK")
        self.assertIn(b"* 1 EXISTS", untagged + untagged2,
                      "RFC 3501 6.3.11: APPEND to the selected mailbox SHOULD be announced with EXISTS")
        w.close()

    def test_large_message_byte_exact(self):
        rnd = random.Random(20240601)
        msg = b"Subject: big\r\n\r\n" + bytes(rnd.randrange(1, 256) for _ in range(2 * 1024 * 1024))
        w = self.cluster.login_raw("bigmail")
        w.settimeout(30)
        v, uid, _ = append(self, w, "INBOX", msg)
        w.cmd("SELECT INBOX")
        (seq, it), = fetch(self, w, 1, "(RFC822.SIZE BODY.PEEK[])")
        self.assertEqual(int(it["RFC822.SIZE"]), len(msg))
        self.assertTrue(it["BODY[]"] == msg, "2 MB body differs")
        w.close()


class Seen(ClusterTest):
    def test_peek_does_not_set_seen_but_body_does(self):
        msg = binary_message(b"peek")
        w = self.cluster.login_raw("peeker")
        v, uid, _ = append(self, w, "INBOX", msg, flags=["\\Flagged"])
        untagged, tagged = w.cmd("SELECT INBOX")
        n = int(check_select(self, untagged, tagged)["EXISTS"])
        (seq, it), = fetch(self, w, n, "BODY.PEEK[]")
        self.assertEqual(set(it), {"BODY[]"}, "BODY.PEEK[] is answered as BODY[] and must not change flags")
        self.assertTrue(it["BODY[]"] == msg)
        (seq, it), = fetch(self, w, n, "FLAGS")
        self.assertEqual(flagset(it["FLAGS"]), {"\\Flagged"})
        (seq, it), = fetch(self, w, n, "BODY[]")
        self.assertTrue(it["BODY[]"] == msg)
        self.assertIn("FLAGS", it, "RFC 3501: the implicit \\Seen change SHOULD be reported in the FETCH")
        self.assertEqual(flagset(it["FLAGS"]), {"\\Seen", "\\Flagged"})
        (seq, it), = fetch(self, w, n, "FLAGS")
        self.assertEqual(flagset(it["FLAGS"]), {"\\Seen", "\\Flagged"})
        w.close()
        # The flag is stored, not session state: another front-end sees it.
        w = self.cluster.login_raw("peeker", fe=1)
        w.cmd("EXAMINE INBOX")
        (seq, it), = fetch(self, w, n, "(UID FLAGS)")
        self.assertEqual(int(it["UID"]), uid)
        self.assertEqual(flagset(it["FLAGS"]), {"\\Seen", "\\Flagged"})
        w.close()

    def test_body_in_examine_does_not_set_seen(self):
        w = self.cluster.login_raw("peeker")
        w.cmd("CREATE ReadOnly")
        append(self, w, "ReadOnly", b"Subject: ro\r\n\r\nx\r\n")
        w.cmd("EXAMINE ReadOnly")
        (seq, it), = fetch(self, w, 1, "BODY[]")
        self.assertNotIn("\\Seen", it.get("FLAGS", []))
        (seq, it), = fetch(self, w, 1, "FLAGS")
        self.assertEqual(flagset(it["FLAGS"]), set(), "EXAMINE is read-only: BODY[] must not set \\Seen")
        w.close()

    def test_fetch_errors(self):
        w = self.cluster.login_raw("peeker")
        _, tagged = w.cmd("FETCH 1 FLAGS")
        self.assertEqual(status(tagged), "BAD", "FETCH without a selected mailbox: %r" % tagged)
        w.cmd("SELECT INBOX")
        _, tagged = w.cmd("FETCH 1 (NOSUCHITEM)")
        self.assertEqual(status(tagged), "BAD", tagged)
        _, tagged = w.cmd("FETCH x FLAGS")
        self.assertEqual(status(tagged), "BAD", tagged)
        _, tagged = w.cmd("FETCH 1")
        self.assertEqual(status(tagged), "BAD", tagged)
        _, tagged = w.cmd("NOOP")
        self.assertEqual(status(tagged), "OK")
        w.close()


class ThirdPartyClient(ClusterTest):
    def test_imaplib_append_select_fetch(self):
        msg = b"From: x@example.com\r\nSubject: imaplib\r\n\r\nline one\r\nline two \xe2\x9c\x93\r\n"
        m = self.cluster.imaps(0)
        m.login("libuser", PW)
        typ, data = m.create("FromLib")
        self.assertEqual(typ, "OK", data)
        typ, data = m.append("FromLib", "(\\Draft)", time.time(), msg)
        self.assertEqual(typ, "OK", data)
        self.assertRegex(data[0], rb"^\[APPENDUID \d+ \d+\]")
        typ, data = m.select("FromLib")
        self.assertEqual((typ, data), ("OK", [b"1"]))
        typ, data = m.fetch("1", "(BODY.PEEK[] FLAGS)")
        self.assertEqual(typ, "OK")
        self.assertEqual(data[0][1], msg)
        meta = b" ".join(x[0] if isinstance(x, tuple) else x for x in data)
        self.assertIn(b"\\Draft", meta)
        m.logout()


class MultiAppend(ClusterTest):
    """MULTIAPPEND (RFC 3502): several messages in one APPEND, all or none."""

    def test_multiappend(self):
        w = self.cluster.login_raw("multi")
        w.cmd("CREATE Many")
        w.cmd("SELECT Many")
        tag = w.next_tag()
        w.send(b"%s APPEND Many (\\Seen) {3}\r\n" % tag.encode())
        self.assertTrue(w.readline().startswith(b"+"))
        w.send(b"one {5+}\r\ntwo!! \"01-Jan-2021 00:00:00 +0000\" {5}\r\n")
        self.assertTrue(w.readline().startswith(b"+"))
        w.send(b"three\r\n")
        untagged, tagged = w.read_until_tagged(tag)
        m = re.match(rb"^%s OK \[APPENDUID (\d+) (\d+):(\d+)\] " % tag.encode(), tagged)
        self.assertTrue(m, tagged)
        self.assertEqual(int(m.group(3)) - int(m.group(2)), 2)
        self.assertEqual(untagged, [b"* 3 EXISTS", b"* 3 RECENT"])  # the first session told claims \Recent
        untagged, _ = w.cmd("FETCH 1:3 (FLAGS RFC822.SIZE)")
        self.assertEqual(len(untagged), 3)
        self.assertIn(b"\\Seen", untagged[0])
        # One bad message refuses them all: nothing is stored.
        tag = w.next_tag()
        w.send(b"%s APPEND Nope {1}\r\n" % tag.encode())
        self.assertTrue(w.readline().startswith(b"+"))
        w.send(b"a {1+}\r\nb\r\n")
        _, tagged = w.read_until_tagged(tag)
        self.assertRegex(tagged, rb"NO \[TRYCREATE\]")
        untagged, _ = w.cmd("STATUS Many (MESSAGES)")
        self.assertEqual(untagged, [b"* STATUS Many (MESSAGES 3)"])
        w.close()


class SlowReader(ClusterTest):
    """A long FETCH to a client that reads slowly: the front-end waits for its
    output to drain between pages (bounded memory) and every byte arrives."""

    def test_fetch_many_large_bodies_slowly(self):
        w = self.cluster.login_raw("multi", fe=1)
        w.cmd("CREATE Big")
        bodies = []
        for i in range(40):
            body = b"Subject: big %d\r\n\r\n" % i + bytes([65 + i % 26]) * (200 * 1024) + b"\r\n"
            bodies.append(body)
            _, tagged = w.cmd_literal(b"APPEND Big", body)
            self.assertEqual(status(tagged), "OK", tagged)
        w.cmd("EXAMINE Big")
        w.send(b"s1 FETCH 1:* BODY.PEEK[]\r\n")
        time.sleep(1.0)  # let the server fill the socket and wait for us
        untagged, tagged = w.read_until_tagged("s1")
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertEqual(len(untagged), 40)
        for i, r in enumerate(untagged):
            self.assertTrue(r.startswith(b"* %d FETCH (BODY[] {%d}\r\n" % (i + 1, len(bodies[i]))), r[:60])
            self.assertIn(bodies[i], r)
        w.close()


def _rss_kb(pid):
    """Resident anonymous memory (heap, not the LMDB map's file pages) of pid
    and its children (a front-end's workers), in KB."""
    total = 0
    pids = [pid]
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            pids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


class LargeMedia(ClusterTest):
    """A message of tens of MB: FETCH streams its body in windows, so neither
    process holds it whole (their resident memory grows far less than the
    message while a slow client reads it), and every byte arrives exactly:
    the whole message, one part, a partial range."""

    def test_large_message_streams_in_bounded_memory(self):
        w = self.cluster.login_raw("multi", fe=0)
        w.cmd("CREATE Media")
        blob = bytes(range(1, 256)) * (24 * 4096)  # 24 MB of every byte value but NUL (a plain literal)
        body = (b"Subject: video\r\nMIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=zz\r\n\r\n"
                b"--zz\r\nContent-Type: text/plain\r\n\r\nsee the clip\r\n"
                b"--zz\r\nContent-Type: video/mp4\r\nContent-Transfer-Encoding: binary\r\n\r\n" + blob +
                b"\r\n--zz--\r\n")
        w.settimeout(60)
        _, tagged = w.cmd_literal(b"APPEND Media", body)
        self.assertEqual(status(tagged), "OK", tagged)
        w.cmd("EXAMINE Media")
        fe = self.cluster.frontends[0].pid
        be = [p.pid for p in self.cluster.backends.values()]
        time.sleep(0.5)
        base = _rss_kb(fe) + sum(_rss_kb(p) for p in be)
        w.send(b"s1 FETCH 1 (RFC822.SIZE BODY.PEEK[])\r\n")
        peak = base
        got = b""
        while True:  # read slowly, sampling the servers' memory
            chunk = w.sock.recv(256 * 1024)
            if not chunk:
                break
            got += chunk
            peak = max(peak, _rss_kb(fe) + sum(_rss_kb(p) for p in be))
            time.sleep(0.01)
            if b"\r\ns1 " in got[-200:]:
                break
        head = b"* 1 FETCH (RFC822.SIZE %d BODY[] {%d}\r\n" % (len(body), len(body))
        self.assertTrue(got.startswith(head), got[:100])
        self.assertEqual(got[len(head):len(head) + len(body)], body)
        self.assertRegex(got[len(head) + len(body):], rb"^\)\r\ns1 OK ")
        if not cluster.sanitized():  # ASan's quarantine keeps freed memory resident
            self.assertLess(peak - base, 12 * 1024, "servers grew by %d KB for a %d KB message"
                            % (peak - base, len(body) // 1024))
        # One part, and a partial window across a chunk boundary.
        w.buf = b""
        untagged, tagged = w.cmd("FETCH 1 (BODY.PEEK[2] BODY.PEEK[]<300000.70000>)")
        self.assertEqual(status(tagged), "OK", tagged)
        r = untagged[0]
        self.assertIn(b"BODY[2] {%d}\r\n" % len(blob) + blob, r)
        self.assertIn(b"BODY[]<300000> {70000}\r\n" + body[300000:370000], r)
        w.close()
