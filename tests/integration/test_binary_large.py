"""FETCH BINARY (RFC 3516) of large parts in bounded memory: a part of a
message above the FETCH page limit is decoded by the back-end window by
window from a saved decoder state (backend/binary-window.c), counted first
for BINARY.SIZE and the literal8 choice, skipped to a partial's origin, and
written as the client drains; neither process holds the part or its decoded
bytes whole. Answers must be byte-exact against an independent model."""

import base64
import hashlib
import os
import time

import cluster
from cluster import ClusterTest, group_pids
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



# ---- A ~25 MB message for BINARY[] and BINARY[n] of a multipart / an
# embedded message, built together with its expected BINARY answer by an
# independent Python model of the rewrite (every base64 / quoted-printable
# leaf: its Content-Transfer-Encoding field becomes "binary" and its body
# is decoded; everything else, boundaries, preambles and epilogues
# included, stays as stored). The model is checked against the server's
# whole-message path (common/mime-binary.c, which test_dovecot_diff
# compares with Dovecot) on the same structure built small (MEDIA_SMALL).

class Ent:
    """An entity as stored (enc) and as BINARY answers it (bin); marks:
    offsets in bin where a piece of the answer starts or ends."""

    def __init__(self, enc=b"", bin_=b"", marks=()):
        self.enc, self.bin, self.marks = enc, bin_, list(marks)

    def __add__(self, other):
        if isinstance(other, bytes):
            other = Ent(other, other)
        return Ent(self.enc + other.enc, self.bin + other.bin,
                   self.marks + [len(self.bin) + m for m in other.marks])


def leaf(ctype, cte, decoded, encoded=None):
    """A leaf part: headers, blank line, body (base64 / quoted-printable
    / 8bit)."""
    if cte == b"base64":
        encoded = base64.encodebytes(decoded).replace(b"\n", b"\r\n")
    elif encoded is None:
        encoded = decoded
    head = b"Content-Type: " + ctype + b"\r\n"
    enc_head = head + (b"Content-Transfer-Encoding: " + cte + b"\r\n" if cte else b"") + b"X-Part: 1\r\n\r\n"
    if cte in (b"base64", b"quoted-printable"):
        bin_head = head + b"Content-Transfer-Encoding: binary\r\nX-Part: 1\r\n\r\n"
        return Ent(enc_head + encoded, bin_head + decoded,
                   [0, len(bin_head), len(bin_head) + len(decoded)])
    return Ent(enc_head + encoded, enc_head + encoded)


def multipart(boundary, parts, preamble=b"", epilogue=b""):
    """A multipart body: preamble, each part after its delimiter, the
    close delimiter, epilogue."""
    out = Ent(preamble, preamble)
    for p in parts:
        out = out + (b"--" + boundary + b"\r\n") + p + b"\r\n"
    return out + (b"--" + boundary + b"--\r\n") + epilogue


def with_header(header, body):
    return Ent(header + b"\r\n\r\n", header + b"\r\n\r\n") + body


def media(attach, qp_lines, inner_attach, alt_text):
    """multipart/mixed: 1 text (8bit), 2 base64 attachment, 3 quoted-
    printable text, 4 message/rfc822 holding a multipart with a base64 part
    (4.1) and a text part (4.2), 5 multipart/alternative of a quoted-
    printable and a base64 text part (no NUL anywhere in 5)."""
    inner = with_header(b"From: inner@example.org\r\nSubject: forwarded\r\nMIME-Version: 1.0\r\n"
                        b"Content-Type: multipart/mixed; boundary=II",
                        multipart(b"II", [leaf(b"image/jpeg", b"base64", inner_attach),
                                          leaf(b"text/plain", b"", b"inner text\r\n")],
                                  preamble=b"inner preamble\r\n"))
    rfc822 = with_header(b"Content-Type: message/rfc822", inner)
    alt = with_header(b"Content-Type: multipart/alternative; boundary=AA",
                      multipart(b"AA", [leaf(b"text/plain", b"quoted-printable", b"\r\n".join(qp_lines[:40]) + b"\r\n",
                                             qp_encode(qp_lines[:40])),
                                        leaf(b"text/html", b"base64", alt_text)],
                                epilogue=b"alt epilogue\r\n"))
    qp_text = b"\r\n".join(qp_lines) + b"\r\n"
    body = multipart(b"MM", [leaf(b"text/plain; charset=utf-8", b"8bit", b"caf\xc3\xa9 see below\r\n"),
                             leaf(b"application/octet-stream", b"base64", attach),
                             leaf(b"text/plain; charset=iso-8859-1", b"quoted-printable", qp_text,
                                  qp_encode(qp_lines)),
                             rfc822, alt],
                     preamble=b"This is a multi-part message in MIME format.\r\n", epilogue=b"the end\r\n")
    msg = with_header(b"From: media@example.org\r\nTo: u@example.org\r\nSubject: media\r\nMIME-Version: 1.0\r\n"
                      b"Content-Type: multipart/mixed; boundary=MM", body)
    return msg, rfc822, alt


MEDIA, MEDIA_4, MEDIA_5 = media(pseudo_random(16 * MB + 7, b"media"), QP_LINES, pseudo_random(MB + 5, b"inner"),
                                b"<p>" + b"no nul here " * 80000 + b"</p>")
MEDIA_SMALL, SMALL_4, SMALL_5 = media(pseudo_random(3000, b"s-media"), QP_LINES[:50],
                                      pseudo_random(700, b"s-inner"), b"<p>small</p>")
# The answers of BINARY[4] and BINARY[5]: the bodies of parts 4 and 5 (the
# embedded message; the alternative's parts with their delimiters).
MEDIA_4_BIN = MEDIA_4.bin[MEDIA_4.bin.index(b"\r\n\r\n") + 4:]
MEDIA_5_BIN = MEDIA_5.bin[MEDIA_5.bin.index(b"\r\n\r\n") + 4:]
SMALL_4_BIN = SMALL_4.bin[SMALL_4.bin.index(b"\r\n\r\n") + 4:]
SMALL_5_BIN = SMALL_5.bin[SMALL_5.bin.index(b"\r\n\r\n") + 4:]
def padded(pad):
    """A multipart whose one base64 leaf has a header of pad + 100 bytes."""
    raw = pseudo_random(MB, b"pad")
    head = b"Content-Type: text/plain\r\nX-Pad: " + b"p" * pad + b"\r\n"
    return with_header(b"Subject: padded\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=PP",
                       multipart(b"PP", [Ent(head + b"Content-Transfer-Encoding: base64\r\n\r\n" +
                                             base64.encodebytes(raw).replace(b"\n", b"\r\n"),
                                             head + b"Content-Transfer-Encoding: binary\r\n\r\n" + raw)]))


# A leaf header longer than the front-end's 256 KiB chunks and 1 MiB reads
# (read as one range, up to 16 MiB), and one longer than any range read
# (that item is made from the whole message).
PADDED = padded(MB + 200 * KB)
PADDED_HUGE = padded(16 * MB + 100 * KB)
assert 20 * MB < len(MEDIA.enc) < 30 * MB and len(MEDIA_SMALL.enc) < 100 * KB
assert b"\x00" not in MEDIA_5_BIN and b"\x00" in MEDIA_4_BIN


def populate(c):
    c.add_user("binlarge", PW)
    w = c.login_raw("binlarge", fe=1)
    w.settimeout(120)
    for m in (BIG, UUE, WHOLE, MEDIA.enc, MEDIA_SMALL.enc, PADDED.enc, PADDED_HUGE.enc):
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

    def stream_measured(self, cmd, head, want):
        """Sends cmd (tag s1) on a new session of the front-end that did
        not append, reads its one literal slowly (a small receive buffer),
        checks the response head, the literal's bytes (sha256 against want)
        and the end; returns how many MB the front-end's processes and the
        back-end grew (peak RSS, VmHWM and VmData) meanwhile."""
        c = self.cluster
        w = self.session(fe=0)
        time.sleep(0.5)
        be = c.backends[c.shard_of("binlarge")].pid
        pids = group_pids(c.frontends[0].pid) + [be]
        digest, tail, grown = cluster.read_literal_measured(w, cmd, head, len(want), pids, pause=0.001)
        self.assertEqual(digest, hashlib.sha256(want).hexdigest())
        self.assertEqual(tail, b")\r\ns1 OK Fetch completed.\r\n")
        w.close()
        print("grown MB:", grown, "back-end", be)
        return grown

    def assert_bounded(self, grown, limit_mb=12):
        if "asan" in os.path.basename(cluster.build_dir().rstrip("/")):
            return  # ASan's quarantine keeps freed memory resident
        for p, mb in grown.items():
            self.assertLess(mb, limit_mb, "pid %d grew by %d MB: %r" % (p, mb, grown))

    def test_attachment_streams_in_bounded_memory(self):
        """BINARY.PEEK[2] of the ~30 MB base64 attachment: a literal8 (the
        bytes hold NULs) whose bytes are the attachment (sha256), read slowly;
        the front-end (not the one that appended) and the back-end grow far
        less than the part."""
        self.assert_bounded(self.stream_measured(b"FETCH 1 (UID BINARY.PEEK[2])",
                                                 b"* 1 FETCH (UID 1 BINARY[2] ~{%d}\r\n" % len(RAW), RAW))

    # ---- BINARY[] / BINARY[multipart | message/rfc822] of MEDIA (UID 4) --

    def test_media_model_is_the_whole_message_path(self):
        """The model of the rewrite equals what the whole-message path
        (mime-binary.c) answers for the same structure built small
        (MEDIA_SMALL, UID 5, below the streaming threshold)."""
        w = self.session()
        resp = self.fetch1(w, "UID FETCH 5 (BINARY.SIZE[] BINARY.SIZE[4] BINARY.SIZE[5] BINARY.PEEK[] "
                              "BINARY.PEEK[4] BINARY.PEEK[5] BODY.PEEK[])")
        items = fetch_items(resp)[1]
        self.assertEqual(items["BODY[]"], MEDIA_SMALL.enc)
        self.assertEqual(items["BINARY[]"], MEDIA_SMALL.bin)
        self.assertEqual(items["BINARY[4]"], SMALL_4_BIN)
        self.assertEqual(items["BINARY[5]"], SMALL_5_BIN)
        self.assertEqual((int(items["BINARY.SIZE[]"]), int(items["BINARY.SIZE[4]"]), int(items["BINARY.SIZE[5]"])),
                         (len(MEDIA_SMALL.bin), len(SMALL_4_BIN), len(SMALL_5_BIN)))
        self.assertIn(b"BINARY[] ~{%d}" % len(MEDIA_SMALL.bin), resp)
        self.assertIn(b"BINARY[5] {%d}" % len(SMALL_5_BIN), resp)

    def test_media_sizes_and_sections(self):
        """BINARY.SIZE of the whole ~25 MB message and of its multipart and
        message/rfc822 parts; BINARY[4] (a literal8: its base64 part holds
        NULs) and BINARY[5] (no NUL: a plain literal) byte-exact."""
        w = self.session()
        self.assertEqual(self.fetch1(w, "UID FETCH 4 (BINARY.SIZE[] BINARY.SIZE[4] BINARY.SIZE[5] BINARY.SIZE[4.1])"),
                         b"* 4 FETCH (UID 4 BINARY.SIZE[] %d BINARY.SIZE[4] %d BINARY.SIZE[5] %d "
                         b"BINARY.SIZE[4.1] %d)" % (len(MEDIA.bin), len(MEDIA_4_BIN), len(MEDIA_5_BIN), MB + 5))
        resp = self.fetch1(w, "UID FETCH 4 (BINARY.PEEK[4] BINARY.PEEK[5])")
        self.assertTrue(resp.startswith(b"* 4 FETCH (UID 4 BINARY[4] ~{%d}\r\n" % len(MEDIA_4_BIN)), resp[:60])
        self.assertIn(b" BINARY[5] {%d}\r\n" % len(MEDIA_5_BIN), resp)
        items = fetch_items(resp)[1]
        self.assertEqual(hashlib.sha256(items["BINARY[4]"]).digest(), hashlib.sha256(MEDIA_4_BIN).digest())
        self.assertEqual(items["BINARY[5]"], MEDIA_5_BIN)

    def test_media_whole_in_bounded_memory(self):
        """BINARY.PEEK[] of the ~25 MB message (a base64 attachment, a
        quoted-printable part, an embedded message with a base64 part), read
        slowly: the model's bytes (sha256), and neither process grows by
        anything like the message."""
        grown = self.stream_measured(b"UID FETCH 4 (UID BINARY.PEEK[])",
                                     b"* 4 FETCH (UID 4 BINARY[] ~{%d}\r\n" % len(MEDIA.bin), MEDIA.bin)
        self.assert_bounded(grown)

    def test_long_headers_to_rewrite(self):
        """A leaf header of 1.2 MB (one range read) and of 16.1 MB (more
        than a range read answers: the whole-message path): BINARY[] of
        both messages is the model's, partials inside the header too."""
        w = self.session()
        for uid, msg in ((6, PADDED), (7, PADDED_HUGE)):
            for at in (300, len(msg.bin) - MB - 3000):  # inside the header, inside the decoded body
                resp = self.fetch1(w, "UID FETCH %d (BINARY.SIZE[] BINARY.PEEK[]<%d.20>)" % (uid, at))
                self.assertEqual(resp, b"* %d FETCH (UID %d BINARY.SIZE[] %d BINARY[]<%d> {20}\r\n%s)"
                                 % (uid, uid, len(msg.bin), at, msg.bin[at:at + 20]))
            resp = self.fetch1(w, "UID FETCH %d BINARY.PEEK[]" % uid)
            self.assertTrue(fetch_items(resp)[1]["BINARY[]"] == msg.bin, uid)

    def test_media_partials_at_piece_boundaries(self):
        """Partials of BINARY[] and BINARY[4] starting and ending around
        every piece boundary of the answer (rewritten headers, decoded
        bodies, copied delimiters), spanning pieces, and past the end; the
        literal8 choice follows the bytes in the window only."""
        w = self.session()
        cases = []
        for m in MEDIA.marks:
            cases += [(m - 1, 1), (m - 1, 2), (m, 1), (m - 3, 7)]
        cases += [(MEDIA.marks[1] - 5, 300 * KB), (MEDIA.marks[2] - 100 * KB, 3 * MB), (0, 40),
                  (len(MEDIA.bin) - 9, 100), (len(MEDIA.bin), 4), (len(MEDIA.bin) + 1000, 4)]
        for origin, count in cases:
            want = MEDIA.bin[origin:origin + count]
            resp = self.fetch1(w, "UID FETCH 4 (BINARY.PEEK[]<%d.%d>)" % (origin, count))
            lit = b"~{%d}" % len(want) if b"\x00" in want else b"{%d}" % len(want)
            head = b"* 4 FETCH (UID 4 BINARY[]<%d> %s\r\n" % (origin, lit)
            self.assertEqual(resp[:len(head)], head, "<%d.%d>: %r" % (origin, count, resp[:80]))
            self.assertTrue(resp[len(head):] == want + b")", "<%d.%d>" % (origin, count))
        inner = MEDIA_4_BIN
        start = MEDIA_4.bin.index(b"\r\n\r\n") + 4
        marks = [m - start for m in MEDIA_4.marks]
        for origin, count in [(marks[0] - 1, 2), (marks[1], 3), (marks[2] - 2, 10), (0, 100), (5, MB)]:
            want = inner[origin:origin + count]
            resp = self.fetch1(w, "UID FETCH 4 (BINARY.PEEK[4]<%d.%d>)" % (origin, count))
            lit = b"~{%d}" % len(want) if b"\x00" in want else b"{%d}" % len(want)
            self.assertEqual(resp, b"* 4 FETCH (UID 4 BINARY[4]<%d> %s\r\n%s)" % (origin, lit, want),
                             "<%d.%d>" % (origin, count))

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
        # TEXT holds that part as BINARY[] does; a header is answered
        untagged, tagged = w.cmd("FETCH 2 (BINARY.SIZE[TEXT] BINARY.PEEK[2.MIME] BINARY.PEEK[HEADER.FIELDS (Subject)])")
        self.assertRegex(tagged, rb"^a\d+ NO \[UNKNOWN-CTE\] ")
        self.assertEqual(untagged, [b"* 2 FETCH (BINARY[2.MIME] {81}\r\nContent-Type: application/octet-stream\r\n"
                                    b"Content-Transfer-Encoding: x-uuencode\r\n\r\n "
                                    b"BINARY[HEADER.FIELDS (SUBJECT)] {16}\r\nSubject: uue\r\n\r\n)"])

    def test_whole_message_of_a_large_one(self):
        w = self.session()
        resp = self.fetch1(w, "FETCH 3 (BINARY.SIZE[] BINARY.PEEK[]<10.20> BINARY.PEEK[1]<0.4>)")
        self.assertEqual(resp, b"* 3 FETCH (BINARY.SIZE[] %d BINARY[]<10> {20}\r\n%s BINARY[1]<0> %s\r\n%s)"
                         % (len(WHOLE_BINARY), WHOLE_BINARY[10:30],
                            b"~{4}" if b"\x00" in SMALL_RAW[:4] else b"{4}", SMALL_RAW[:4]))
        resp = self.fetch1(w, "FETCH 3 BINARY.PEEK[]")
        self.assertEqual(fetch_items(resp)[1]["BINARY[]"], WHOLE_BINARY)

    # ---- BINARY[TEXT], [HEADER], [n.MIME], [n.HEADER], [n.TEXT] -----------
    # cuts of BINARY[] / BINARY[n] (mime_binary_section_plan): the model's
    # answers with the header left off, or the header as shown.

    def media_sections(self, msg, part4):
        """The sections of msg (MEDIA or MEDIA_SMALL; part4: its BINARY[4])
        and what BINARY answers for each."""
        h = msg.bin.index(b"\r\n\r\n") + 4
        h4 = part4.index(b"\r\n\r\n") + 4
        return [("TEXT", msg.bin[h:]), ("HEADER", msg.enc[:h]),
                ("HEADER.FIELDS (SUBJECT)", b"Subject: media\r\n\r\n"),
                ("4.TEXT", part4[h4:]), ("4.HEADER", part4[:h4]),
                ("4.HEADER.FIELDS.NOT (FROM MIME-VERSION CONTENT-TYPE)", b"Subject: forwarded\r\n\r\n"),
                ("1.MIME", b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
                           b"X-Part: 1\r\n\r\n"),
                ("2.MIME", b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
                           b"X-Part: 1\r\n\r\n"),
                ("4.1.MIME", b"Content-Type: image/jpeg\r\nContent-Transfer-Encoding: binary\r\nX-Part: 1\r\n\r\n"),
                ("5.MIME", b"Content-Type: multipart/alternative; boundary=AA\r\n\r\n"),
                ("2.TEXT", b""), ("9.MIME", b"")]

    def test_media_sections(self):
        """BINARY.SIZE and BINARY of every section kind of the ~25 MB
        message (piece by piece) and of the same structure built small (the
        whole-message path) against the model."""
        w = self.session()
        for uid, msg, part4 in ((5, MEDIA_SMALL, SMALL_4_BIN), (4, MEDIA, MEDIA_4_BIN)):
            for spec, want in self.media_sections(msg, part4):
                self.assertEqual(self.fetch1(w, "UID FETCH %d (BINARY.SIZE[%s])" % (uid, spec)),
                                 b"* %d FETCH (UID %d BINARY.SIZE[%s] %d)" % (uid, uid, spec.encode(), len(want)))
                if len(want) > 2 * MB:
                    continue  # TEXT: test_media_text_in_bounded_memory
                resp = self.fetch1(w, "UID FETCH %d (BINARY.PEEK[%s])" % (uid, spec))
                lit = b"~{%d}" % len(want) if b"\x00" in want else b"{%d}" % len(want)
                head = b"* %d FETCH (UID %d BINARY[%s] %s\r\n" % (uid, uid, spec.encode(), lit)
                self.assertEqual(resp[:len(head)], head, (uid, spec, resp[:100]))
                self.assertTrue(resp[len(head):] == want + b")", (uid, spec))

    def test_media_text_partials(self):
        """Partials of BINARY[TEXT] and BINARY[4.TEXT] of the large message
        around the piece boundaries of the cut answer, and past its end."""
        w = self.session()
        h = MEDIA.bin.index(b"\r\n\r\n") + 4
        text = MEDIA.bin[h:]
        cases = [(0, 40), (len(text) - 9, 100), (len(text), 4)]
        for m in MEDIA.marks[:8]:
            cases += [(m - h - 1, 2), (m - h - 3, 7)]
        for origin, count in cases:
            want = text[origin:origin + count]
            resp = self.fetch1(w, "UID FETCH 4 (BINARY.PEEK[TEXT]<%d.%d>)" % (origin, count))
            lit = b"~{%d}" % len(want) if b"\x00" in want else b"{%d}" % len(want)
            self.assertEqual(resp, b"* 4 FETCH (UID 4 BINARY[TEXT]<%d> %s\r\n%s)" % (origin, lit, want),
                             "<%d.%d>" % (origin, count))
        h4 = MEDIA_4_BIN.index(b"\r\n\r\n") + 4
        inner = MEDIA_4_BIN[h4:]
        for origin, count in ((0, 30), (len(inner) - 20, 50), (200, MB)):
            want = inner[origin:origin + count]
            resp = self.fetch1(w, "UID FETCH 4 (BINARY.PEEK[4.TEXT]<%d.%d>)" % (origin, count))
            lit = b"~{%d}" % len(want) if b"\x00" in want else b"{%d}" % len(want)
            self.assertTrue(resp == b"* 4 FETCH (UID 4 BINARY[4.TEXT]<%d> %s\r\n%s)" % (origin, lit, want),
                            "<%d.%d>: %r" % (origin, count, resp[:80]))

    def test_media_text_in_bounded_memory(self):
        """BINARY.PEEK[TEXT] of the ~25 MB message read slowly: BINARY[]
        without its header (sha256), and neither process grows by anything
        like the message."""
        h = MEDIA.bin.index(b"\r\n\r\n") + 4
        grown = self.stream_measured(b"UID FETCH 4 (UID BINARY.PEEK[TEXT])",
                                     b"* 4 FETCH (UID 4 BINARY[TEXT] ~{%d}\r\n" % (len(MEDIA.bin) - h),
                                     MEDIA.bin[h:])
        self.assert_bounded(grown)
