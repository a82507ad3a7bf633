"""checks: assertion helpers shared by the integration tests: the exact shape of
SELECT/EXAMINE, LIST, APPEND (APPENDUID) and FETCH responses (RFC 3501, RFC 4315),
and a binary-safe test message."""

import datetime
import re

from imapwire import expand_set, fetch_items, parse

DATE = "14-Jul-2023 02:44:25 +0200"
SYSTEM_FLAGS = {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"}


def list_names(untagged):
    """[(attrs, delim, name)] from LIST responses; names decoded (quoted or atom)."""
    out = []
    for r in untagged:
        m = re.match(rb"^\* LIST \(([^)]*)\) (NIL|\"(?:[^\"\\]|\\.)\") (.+)$", r, re.S)
        if not m:
            raise AssertionError("malformed LIST response %r" % r)
        attrs = set(m.group(1).decode().split())
        delim = None if m.group(2) == b"NIL" else parse(m.group(2))[0][0].decode()
        vals, _ = parse(m.group(3))
        if len(vals) != 1:
            raise AssertionError("LIST mailbox is not one value: %r" % r)
        name = vals[0]
        out.append((attrs, delim, name.decode() if isinstance(name, bytes) else name))
    return out


def check_select(test, untagged, tagged, readonly=False, exists=None):
    """Assert the RFC 3501 6.3.1 untagged set; returns dict of values."""
    got = {}
    for r in untagged:
        for key, rx in (("FLAGS", rb"^\* FLAGS \(([^)]*)\)$"),
                        ("EXISTS", rb"^\* (\d+) EXISTS$"),
                        ("RECENT", rb"^\* (\d+) RECENT$"),
                        ("UIDVALIDITY", rb"^\* OK \[UIDVALIDITY ([1-9]\d*)\] [\x20-\x7e]+$"),
                        ("UIDNEXT", rb"^\* OK \[UIDNEXT ([1-9]\d*)\] [\x20-\x7e]+$"),
                        ("PERMANENTFLAGS", rb"^\* OK \[PERMANENTFLAGS \(([^)]*)\)\] [\x20-\x7e]+$")):
            m = re.match(rx, r)
            if m:
                test.assertNotIn(key, got, "%s twice in %r" % (key, untagged))
                got[key] = m.group(1).decode()
                break
    for key in ("FLAGS", "EXISTS", "RECENT", "UIDVALIDITY", "UIDNEXT", "PERMANENTFLAGS"):
        test.assertIn(key, got, "SELECT/EXAMINE lacks %s: %r" % (key, untagged))
    flags = set(got["FLAGS"].split())
    test.assertTrue(SYSTEM_FLAGS <= flags, "FLAGS lacks system flags: %r" % got["FLAGS"])
    test.assertNotIn("\\Recent", set(got["PERMANENTFLAGS"].split()))
    pflags = set(got["PERMANENTFLAGS"].split())
    if not readonly:
        test.assertTrue(SYSTEM_FLAGS <= pflags, "PERMANENTFLAGS lacks system flags: %r" % got["PERMANENTFLAGS"])
    test.assertLessEqual(int(got["RECENT"]), int(got["EXISTS"]))
    if exists is not None:
        test.assertEqual(int(got["EXISTS"]), exists)
    code = "READ-ONLY" if readonly else "READ-WRITE"
    test.assertRegex(tagged, rb"^\S+ OK \[" + code.encode() + rb"\] [\x20-\x7e]+$")
    return got


def binary_message(tag=b""):
    head = (b"From: Alice <alice@example.com>\r\n"
            b"To: Bob <bob@example.com>\r\n"
            b"Subject: 8-bit clean " + tag + b"\r\n"
            b"Date: Fri, 14 Jul 2023 02:44:25 +0200\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n")
    body = (bytes(range(0x80, 0x100)) + b"\r\n" +
            bytes(range(1, 0x100)) + b"\r\n" +          # every byte but NUL, bare CR and LF included
            b"L" * 30000 + b"\r\n" +                     # a line far longer than 998
            "h\u00e9llo w\u00f6rld \u2713 \U0001F600".encode() + b"\r\n"
            b"{5}\r\nnot a literal\r\n"
            b"a1 NOOP\r\n"
            b"end without newline")
    return head + body


def parse_internaldate(s):
    if isinstance(s, bytes):
        s = s.decode()
    m = re.match(r"^([ \d]\d)-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-(\d{4}) "
                 r"(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$", s)
    if not m:
        raise AssertionError("malformed INTERNALDATE %r" % s)
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    tz = datetime.timedelta(hours=int(m.group(8)), minutes=int(m.group(9)))
    if m.group(7) == "-":
        tz = -tz
    return datetime.datetime(int(m.group(3)), months.index(m.group(2)) + 1, int(m.group(1)), int(m.group(4)),
                             int(m.group(5)), int(m.group(6)), tzinfo=datetime.timezone(tz))


def append(test, w, mailbox, msg, flags=None, date=None, plus=False):
    head = "APPEND %s" % mailbox
    if flags is not None:
        head += " (%s)" % " ".join(flags)
    if date is not None:
        head += ' "%s"' % date
    untagged, tagged = w.cmd_literal(head, msg, plus=plus)
    m = re.match(rb"^a\d+ OK \[APPENDUID ([1-9]\d*) ([1-9]\d*)\] [\x20-\x7e]+$", tagged)
    test.assertTrue(m, "APPEND answer %r" % tagged)
    return int(m.group(1)), int(m.group(2)), untagged


def fetch(test, w, seq, items):
    """FETCH; returns list of (seq, items dict) and asserts a tagged OK."""
    untagged, tagged = w.cmd("FETCH %s %s" % (seq, items))
    test.assertRegex(tagged, rb"^a\d+ OK [\x20-\x7e]+$")
    out = []
    for r in untagged:
        if re.match(rb"^\* \d+ FETCH ", r):
            out.append(fetch_items(r))
        else:
            test.assertRegex(r, rb"^\* (\d+ (EXISTS|RECENT|EXPUNGE)|OK |FLAGS )", "unexpected %r" % r)
    return out


def flagset(v):
    return {f for f in v if f != "\\Recent"}


def copyuid(test, lines, validity):
    """The (source UIDs, destination UIDs) of the COPYUID code in lines,
    whose UIDVALIDITY must be validity."""
    for line in lines:
        m = re.search(rb"\[COPYUID (\d+) (\S+) (\S+)\]", line)
        if m:
            test.assertEqual(int(m.group(1)), validity, line)
            return expand_set(m.group(2)), expand_set(m.group(3))
    test.fail("no COPYUID in %r" % lines)
