"""FETCH BINARY (RFC 3516) of large parts in bounded memory: a part of a
message above the FETCH page limit is decoded by the back-end window by
window from a saved decoder state (backend/binary-window.c), counted first
for BINARY.SIZE and the literal8 choice, skipped to a partial's origin, and
written as the client drains; neither process holds the part or its decoded
bytes whole. Answers must be byte-exact against an independent model."""

import base64
import hashlib
import os
import re
import socket
import time

import cluster
from cluster import ClusterTest
from imapwire import fetch_items, status

cluster.module_fixtures(globals())

PW = "binlarge-pw"
KB = 1024
MB = 1024 * KB


def pseudo_random(n, tag):
    """n deterministic pseudo-random bytes (NULs included)."""
    seed = hashlib.sha256(tag).digest()
    out, have = [], 0
    while have < n:
        seed = hashlib.sha256(seed).digest()
        out.append(seed)
        have += len(seed)
    return b"".join(out)[:n]


def qp_encode(text_lines):
    """Quoted-printable of CRLF-joined lines, written here (not by the
    library the server might share assumptions with): =XX for 8-bit bytes
    and "=", soft breaks at 76 columns, some with blanks before the CRLF."""
    out = []
    for k, line in enumerate(text_lines):
        cur = b""
        for ch in line:
            tok = bytes([ch]) if 33 <= ch <= 126 and ch != 61 or ch in (32, 9) else b"=%02X" % ch
            if len(cur) + len(tok) > 75:
                out.append(cur + (b"= \t\r\n" if k % 7 == 3 else b"=\r\n"))
                cur = b""
            cur += tok
        out.append(cur + b"\r\n")
    return b"".join(out)


RAW = pseudo_random(22 * MB + 12345, b"binary-large")   # ~30 MB as base64
B64 = base64.encodebytes(RAW).replace(b"\n", b"\r\n")
QP_LINES = []
_words = pseudo_random(2 * MB, b"qp")
for _i in range(0, len(_words), 97):
    chunk = _words[_i:_i + 97]
    # Mostly text, some 8-bit bytes and "=" signs, blanks inside lines.
    QP_LINES.append(bytes(b if b >= 0xe0 or b == 0x3d else 0x61 + b % 26 if b % 9 else 0x20 for b in chunk).rstrip(b" "))
QP_TEXT = b"\r\n".join(QP_LINES) + b"\r\n"
QP = qp_encode(QP_LINES)
assert b"\x00" not in QP_TEXT and len(QP) > 2 * MB

HEAD = (b"From: media@example.org\r\n"
        b"To: u@example.org\r\n"
        b"Subject: binary large\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=BB\r\n"
        b"\r\n"
        b"--BB\r\n"
        b"Content-Type: text/plain\r\n"
        b"\r\n"
        b"see the attachment\r\n"
        b"--BB\r\n"
        b"Content-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"\r\n")
MID = (b"\r\n--BB\r\n"
       b"Content-Type: text/plain; charset=iso-8859-1\r\n"
       b"Content-Transfer-Encoding: quoted-printable\r\n"
       b"\r\n")
BIG = HEAD + B64 + MID + QP + b"\r\n--BB--\r\n"
# The CRLF before a boundary belongs to the boundary (RFC 2046): the parts'
# bodies are B64 and QP exactly, each ending with its own CRLF.
QP_DECODED = QP_TEXT

# A 3 MB message whose part 2 has an encoding BINARY cannot undo.
UUE = (b"Subject: uue\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=UU\r\n\r\n"
       b"--UU\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
       b"--UU\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n" +
       b"M" * (3 * MB) + b"\r\n--UU--\r\n")

# A 2 MB message for BINARY[] (a multipart: every leaf decoded, its
# Content-Transfer-Encoding rewritten; made from the whole message).
SMALL_RAW = pseudo_random(1536 * KB, b"whole")
WHOLE = (b"Subject: whole\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=WW\r\n\r\n"
         b"--WW\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
         base64.encodebytes(SMALL_RAW).replace(b"\n", b"\r\n") + b"--WW--\r\n")
WHOLE_BINARY = (b"Subject: whole\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=WW\r\n\r\n"
                b"--WW\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
                SMALL_RAW + b"\r\n--WW--\r\n")


def rss_kb(pid, field="VmRSS"):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def group_pids(pgid):
    """The processes of a process group (a front-end's master and workers)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                out.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return out


def populate(c):
    c.add_user("binlarge", PW)
    w = c.login_raw("binlarge", fe=1)
    w.settimeout(120)
    for m in (BIG, UUE, WHOLE):
        _, tagged = w.cmd_literal(b"APPEND INBOX", m)
        assert status(tagged) == "OK", tagged
    w.close()


class LargeBinary(ClusterTest):
    def session(self, examine=True, fe=0):
        w = self.cluster.login_raw("binlarge", fe=fe)
        w.settimeout(120)
        _, tagged = w.cmd("EXAMINE INBOX" if examine else "SELECT INBOX")
        self.assertEqual(status(tagged), "OK", tagged)
        return w

    def fetch1(self, w, text):
        untagged, tagged = w.cmd(text)
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertEqual(len(untagged), 1, [u[:200] for u in untagged])
        return untagged[0]

    def test_attachment_streams_in_bounded_memory(self):
        """BINARY.PEEK[2] of the ~30 MB base64 attachment: a literal8 (the
        bytes hold NULs) whose bytes are the attachment (sha256), read slowly;
        the front-end (not the one that appended) and the back-end grow far
        less than the part."""
        c = self.cluster
        w = self.session(fe=0)
        time.sleep(0.5)
        be = c.backends[c.shard_of("binlarge")].pid
        pids = group_pids(c.frontends[0].pid) + [be]
        base = {p: rss_kb(p) for p in pids}
        dbase = {p: rss_kb(p, "VmData") for p in pids}
        peak, dpeak = dict(base), dict(dbase)
        for p in pids:
            with open("/proc/%d/clear_refs" % p, "w") as f:
                f.write("5")  # resets VmHWM to the current RSS (proc(5))
        w.send(b"s1 FETCH 1 (UID BINARY.PEEK[2])\r\n")
        sock = w.sock
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        data, w.buf = w.buf, b""
        head = b"* 1 FETCH (UID 1 BINARY[2] ~{%d}\r\n" % len(RAW)
        while len(data) < len(head):
            data += sock.recv(65536)
        self.assertEqual(data[:len(head)], head)
        data = data[len(head):]
        h, got, tail = hashlib.sha256(), 0, b""
        while True:
            if data:
                take = min(len(data), len(RAW) - got)
                h.update(data[:take])
                got += take
                tail += data[take:]
                data = b""
            if got == len(RAW) and tail.endswith(b"\r\n") and b"s1 " in tail:
                break
            data = sock.recv(64 * 1024)
            if not data:
                self.fail("connection closed after %d bytes" % got)
            for p in pids:
                peak[p] = max(peak[p], rss_kb(p))
                dpeak[p] = max(dpeak[p], rss_kb(p, "VmData"))
            time.sleep(0.001)
        self.assertEqual(h.hexdigest(), hashlib.sha256(RAW).hexdigest())
        self.assertEqual(tail, b")\r\ns1 OK Fetch completed.\r\n")
        grown = {p: max(max(peak[p], rss_kb(p, "VmHWM")) - base[p], dpeak[p] - dbase[p]) // 1024 for p in pids}
        w.close()
        print("grown MB:", grown, "back-end", be)
        if "asan" in os.path.basename(cluster.build_dir().rstrip("/")):
            return  # ASan's quarantine keeps freed memory resident
        for p, mb in grown.items():
            self.assertLess(mb, 12, "pid %d grew by %d MB (back-end %d): %r" % (p, mb, be, grown))

    def test_sizes(self):
        w = self.session()
        self.assertEqual(self.fetch1(w, "FETCH 1 (BINARY.SIZE[2] BINARY.SIZE[3] BINARY.SIZE[1] BINARY.SIZE[7])"),
                         b"* 1 FETCH (BINARY.SIZE[2] %d BINARY.SIZE[3] %d BINARY.SIZE[1] 18 BINARY.SIZE[7] 0)"
                         % (len(RAW), len(QP_DECODED)))

    def test_quoted_printable_part(self):
        """The large quoted-printable part: a plain literal (no NUL), exact."""
        w = self.session()
        resp = self.fetch1(w, "FETCH 1 (BINARY.PEEK[3])")
        self.assertTrue(resp.startswith(b"* 1 FETCH (BINARY[3] {%d}\r\n" % len(QP_DECODED)), resp[:80])
        self.assertEqual(fetch_items(resp)[1]["BINARY[3]"], QP_DECODED)

    def test_partials_at_window_boundaries(self):
        """Origins and lengths around the front-end's 256 KiB chunks, the
        back-end's 1 MiB output and 8 MiB input windows, and the part's end."""
        w = self.session()
        n = len(RAW)
        cases = [(0, 10), (1, 5), (256 * KB - 1, 3), (256 * KB, 256 * KB + 1), (MB - 2, 5), (MB, MB + 3),
                 (6 * MB - 1, 2), (6 * MB + 7, 300 * KB), (8 * MB - 1, 3), (n - 3, 100), (n, 5), (n + 10, 5)]
        # A NUL right after the partial's end, in the same base64 group: the
        # answer holds no NUL, so it is a plain literal, not a literal8.
        j = next(j for j in range(2 * MB, n) if RAW[j] == 0 and j % 3 and b"\x00" not in RAW[j - 5:j])
        cases.append((j - 5, 5))
        for origin, count in cases:
            want = RAW[origin:origin + count]
            resp = self.fetch1(w, "FETCH 1 (BINARY.PEEK[2]<%d.%d>)" % (origin, count))
            lit = b"~{%d}" % len(want) if b"\x00" in want else b"{%d}" % len(want)
            self.assertEqual(resp, b"* 1 FETCH (BINARY[2]<%d> %s\r\n%s)" % (origin, lit, want),
                             "<%d.%d>: %r" % (origin, count, resp[:80]))
        for origin, count in [(0, 77), (MB - 1, 2), (MB + 5, 2 * MB), (len(QP_DECODED) - 4, 9)]:
            want = QP_DECODED[origin:origin + count]
            resp = self.fetch1(w, "FETCH 1 (BINARY.PEEK[3]<%d.%d> BINARY.PEEK[1]<4.3>)" % (origin, count))
            self.assertEqual(resp, b"* 1 FETCH (BINARY[3]<%d> {%d}\r\n%s BINARY[1]<4> {3}\r\nthe)"
                             % (origin, len(want), want))

    def test_mixed_items_and_seen(self):
        """BINARY (not PEEK) sets \\Seen and reports FLAGS, with BODY ranges
        and BINARY.SIZE of the same large message in one response."""
        w = self.session(examine=False)
        _, tagged = w.cmd("STORE 1 -FLAGS.SILENT (\\Seen)")
        self.assertEqual(status(tagged), "OK", tagged)
        want = RAW[100:110]
        lit = b"~{10}" if b"\x00" in want else b"{10}"
        resp = self.fetch1(w, "FETCH 1 (BINARY[2]<100.10> BODY.PEEK[1] BINARY.SIZE[3])").replace(b" \\Recent", b"")
        self.assertEqual(resp, b"* 1 FETCH (FLAGS (\\Seen) BINARY[2]<100> %s\r\n%s BODY[1] {18}\r\n"
                         b"see the attachment BINARY.SIZE[3] %d)" % (lit, want, len(QP_DECODED)))
        self.assertEqual(self.fetch1(w, "FETCH 1 (FLAGS)").replace(b" \\Recent", b""), b"* 1 FETCH (FLAGS (\\Seen))")

    def test_unknown_cte(self):
        w = self.session()
        untagged, tagged = w.cmd("FETCH 2 (UID BINARY.PEEK[2] BINARY.PEEK[1])")
        self.assertRegex(tagged, rb"^a\d+ NO \[UNKNOWN-CTE\] ")
        self.assertEqual(untagged, [b"* 2 FETCH (UID 2 BINARY[1] {5}\r\nhello)"])
        untagged, tagged = w.cmd("FETCH 2 (BINARY.SIZE[2])")
        self.assertRegex(tagged, rb"^a\d+ NO \[UNKNOWN-CTE\] ")
        self.assertEqual(untagged, [])
        untagged, tagged = w.cmd("FETCH 2 (BINARY.PEEK[])")
        self.assertRegex(tagged, rb"^a\d+ NO \[UNKNOWN-CTE\] ")
        self.assertEqual(untagged, [])

    def test_whole_message_of_a_large_one(self):
        w = self.session()
        resp = self.fetch1(w, "FETCH 3 (BINARY.SIZE[] BINARY.PEEK[]<10.20> BINARY.PEEK[1]<0.4>)")
        self.assertEqual(resp, b"* 3 FETCH (BINARY.SIZE[] %d BINARY[]<10> {20}\r\n%s BINARY[1]<0> %s\r\n%s)"
                         % (len(WHOLE_BINARY), WHOLE_BINARY[10:30],
                            b"~{4}" if b"\x00" in SMALL_RAW[:4] else b"{4}", SMALL_RAW[:4]))
        resp = self.fetch1(w, "FETCH 3 BINARY.PEEK[]")
        self.assertEqual(fetch_items(resp)[1]["BINARY[]"], WHOLE_BINARY)
