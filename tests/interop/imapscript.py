"""imapscript: run an IMAP command script (tests/interop/scripts/*.imap) against
a server and collect each command's responses, normalised, for the Dovecot
differential test (test_dovecot_diff.py). Standard library only.

Script format, one client line per script line (sent with CRLF):
  - `#` starts a comment line; blank lines are skipped.
  - the first word of a line is its tag; the runner reads until that tag's
    tagged response. Every response line on the way is that command's output.
  - a line ending in `{+}` carries a literal: the lines that follow, up to a
    line that is exactly `.`, each end in CRLF and form the literal, sent as a
    LITERAL+ `{N+}`. A line right after the `.` that starts with `&` continues
    the same command (the `&` and one space dropped), e.g. MULTIAPPEND's
    second message; a line `&` alone ends the command.
  - `IDLE` waits for the `+` continuation; the next script line (`DONE`) ends it.
  - Values differ between servers (UIDVALIDITY, MODSEQ): each run keeps the
    last `UIDVALIDITY n` and `HIGHESTMODSEQ n` it saw (response codes and
    STATUS items) and the last `MODSEQ (n)` of a FETCH; a comment line
    `#save NAME WHAT` copies one of them (WHAT: UIDVALIDITY, HIGHESTMODSEQ
    or MODSEQ) into NAME, and `${NAME}` in a later command line is replaced
    by that run's value.

normalise() keeps what a conformance comparison needs and drops what is
legitimately volatile: UIDVALIDITY values (in codes, STATUS, APPENDUID,
COPYUID), MODSEQ and HIGHESTMODSEQ values, capability lists, the ID
response, and the human-readable text after OK/NO/BAD/BYE/PREAUTH and
continuations (response codes are kept).
"""

import re

import imapwire


class Command:
    def __init__(self, tag, data, lineno, idle=False, save=None):
        self.tag = tag
        self.data = data        # bytes to send, CRLF included, literals inline
        self.lineno = lineno
        self.idle = idle        # IDLE: then `DONE`
        self.save = save        # (NAME, WHAT): a `#save` directive, nothing to send


def parse_script(text):
    """[Command] from a script's text (str)."""
    lines = text.split("\n")
    cmds = []
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r")
        lineno = i + 1
        i += 1
        if line.startswith("#save "):
            parts = line.split()
            if len(parts) != 3 or parts[2] not in ("UIDVALIDITY", "HIGHESTMODSEQ", "MODSEQ"):
                raise ValueError("line %d: #save NAME UIDVALIDITY|HIGHESTMODSEQ|MODSEQ" % lineno)
            cmds.append(Command(None, None, lineno, save=(parts[1], parts[2])))
            continue
        if not line.strip() or line.startswith("#"):
            continue
        tag = line.split(" ", 1)[0]
        data = b""
        while True:
            if line.endswith("{+}"):
                lit = []
                while i < len(lines) and lines[i].rstrip("\r") != ".":
                    lit.append(lines[i].rstrip("\r").encode() + b"\r\n")
                    i += 1
                if i >= len(lines):
                    raise ValueError("line %d: literal without a closing `.`" % lineno)
                i += 1
                body = b"".join(lit)
                data += line[:-3].encode() + b"{%d+}\r\n" % len(body) + body
                if i < len(lines) and lines[i].startswith("&"):
                    rest = lines[i].rstrip("\r")[1:]
                    line = rest if rest.strip() else ""
                    i += 1
                    continue
                data += b"\r\n"
                break
            data += line.encode() + b"\r\n"
            break
        idle = re.match(r"^\S+ IDLE$", line or "", re.I) is not None
        if idle:
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("#")):
                i += 1
            if i >= len(lines) or lines[i].strip().upper() != "DONE":
                raise ValueError("line %d: IDLE must be followed by DONE" % lineno)
            i += 1
        cmds.append(Command(tag, data, lineno, idle))
    return cmds


STATUS_TEXT = re.compile(rb"^((?:\*|\S+) (?:OK|NO|BAD|BYE|PREAUTH))(?: (\[(?:[^\]\"]|\"(?:[^\"\\]|\\.)*\")*\]))?(?: .*)?$",
                         re.I | re.S)


MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DATE_TIME = re.compile(rb'"([ \d]\d)-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"')


def _utc(m):
    """An IMAP date-time as the same instant in +0000 (servers may keep the
    APPEND's zone or convert to their own: both are RFC 3501)."""
    import calendar
    import time as _time
    d, mon, y, hh, mm, ss, sign, zh, zm = m.groups()
    t = calendar.timegm((int(y), MONTHS.index(mon.decode()) + 1, int(d), int(hh), int(mm), int(ss)))
    off = (int(zh) * 3600 + int(zm) * 60) * (1 if sign == b"+" else -1)
    return _time.strftime('"%d-%b-%Y %H:%M:%S +0000"', _time.gmtime(t - off)).encode()


def _tokens(r):
    """Splits a response into tokens: strings (quoted, literal or literal8,
    all returned as ("s", bytes)), "(" and ")", and atoms (("a", bytes), an atom
    keeps a [...] section with its spaces, e.g. BODY[HEADER.FIELDS (A B)]<0>)."""
    out = []
    i, n = 0, len(r)
    while i < n:
        c = r[i:i + 1]
        if c == b" ":
            i += 1
        elif c in (b"(", b")"):
            out.append((c.decode(), None))
            i += 1
        elif c == b'"':
            j, val = i + 1, b""
            while j < n and r[j:j + 1] != b'"':
                if r[j:j + 1] == b"\\":
                    j += 1
                val += r[j:j + 1]
                j += 1
            out.append(("s", val))
            i = j + 1
        elif c == b"{" or r[i:i + 2] == b"~{":
            # a literal8 too: RFC 3516 4.3 leaves literal8 or literal for
            # bytes without a NUL to the server (Dovecot: literal8 for any
            # decoded content; ours: only when a NUL is sent)
            m = re.match(rb"~?\{(\d+)\+?\}\r\n", r[i:])
            if not m:
                out.append(("a", r[i:]))
                break
            start = i + m.end()
            out.append(("s", r[start:start + int(m.group(1))]))
            i = start + int(m.group(1))
        else:
            j, depth = i, 0
            while j < n:
                ch = r[j:j + 1]
                if ch == b"[":
                    depth += 1
                elif ch == b"]":
                    depth -= 1
                elif depth == 0 and ch in (b" ", b"(", b")"):
                    break
                j += 1
            out.append(("a", r[i:j]))
            i = j
    return out


def _render(toks):
    parts = []
    for kind, val in toks:
        if kind == "s":
            parts.append(" " + repr_string(val))
        elif kind == "a":
            parts.append(" " + val.decode("utf-8", "replace"))
        elif kind == "(":
            parts.append(" (")
        else:
            parts.append(")")
    return "".join(parts).replace("( ", "(").strip()


def repr_string(val):
    """One canonical form for a string whether the server sent it quoted or as
    a literal (the choice is the server's)."""
    return '"' + val.decode("utf-8", "replace").replace("\\", "\\\\").replace('"', '\\"') \
        .replace("\r", "\\r").replace("\n", "\\n") + '"'


def _groups(toks):
    """Top-level items of a token list: each a token or a parenthesised run."""
    items, depth, cur = [], 0, []
    for t in toks:
        cur.append(t)
        if t[0] == "(":
            depth += 1
        elif t[0] == ")":
            depth -= 1
        if depth == 0:
            items.append(cur)
            cur = []
    return items


def _sort_flags(toks):
    """FLAGS (...) and PERMANENTFLAGS/FLAGS lists are sets: sort them."""
    out = list(toks)
    for i in range(len(out) - 1):
        if out[i][0] == "a" and out[i][1].upper() in (b"FLAGS", b"[PERMANENTFLAGS") and out[i + 1][0] == "(":
            j = i + 2
            while j < len(out) and out[j][0] != ")":
                j += 1
            out[i + 2:j] = sorted(out[i + 2:j], key=lambda t: (t[1] or b"").lower())
    return out


def _canonical_fetch(r):
    """`* n FETCH (items)`: strings in one form, flags sorted, items sorted by
    name (RFC 3501 fixes no order for FETCH items)."""
    toks = _tokens(r)
    if len(toks) < 4 or toks[3][0] != "(" or toks[-1][0] != ")":
        return None
    inner = toks[4:-1]
    groups = _groups(inner)
    pairs = [groups[k] + (groups[k + 1] if k + 1 < len(groups) else []) for k in range(0, len(groups), 2)]
    pairs = [_sort_flags(p) for p in pairs]
    pairs.sort(key=lambda p: (p[0][1] or b"").upper())
    return "* %s FETCH (%s)" % (toks[1][1].decode(), " ".join(_render(p) for p in pairs))


def normalise(resp):
    """One response (bytes, CRLF stripped, literals inline) -> str."""
    r = DATE_TIME.sub(_utc, resp)
    # MODSEQ values are each server's own counter: compared as present, not by value.
    r = re.sub(rb"\b(HIGHESTMODSEQ|MODSEQ) (\(?)\d+(\)?)", rb"\1 \2*\3", r)
    if re.match(rb"^\* \d+ FETCH \(", r):
        c = _canonical_fetch(r)
        if c is not None:
            return c
    if re.match(rb"^\* (FLAGS|OK \[PERMANENTFLAGS) ", r):
        r = re.sub(rb"\(([^)]*)\)", lambda m: b"(" + b" ".join(sorted(m.group(1).split(), key=bytes.lower)) + b")",
                   r, count=1)
    if r.startswith(b"+"):
        return "+"
    m = STATUS_TEXT.match(r)
    if m:
        r = m.group(1) + (b" " + m.group(2) if m.group(2) else b"")
    r = re.sub(rb"^\* CAPABILITY .*", b"* CAPABILITY *", r, flags=re.S)
    r = re.sub(rb"\[CAPABILITY [^\]]*\]", b"[CAPABILITY *]", r)
    r = re.sub(rb"^\* ID .*", b"* ID *", r, flags=re.S)
    r = re.sub(rb"UIDVALIDITY \d+", b"UIDVALIDITY *", r)
    r = re.sub(rb"\[(APPENDUID|COPYUID) \d+ ", rb"[\1 * ", r)
    return r.decode("utf-8", "replace")


VALUE_PATTERNS = {
    "UIDVALIDITY": re.compile(rb"UIDVALIDITY (\d+)"),
    "HIGHESTMODSEQ": re.compile(rb"HIGHESTMODSEQ (\d+)"),
    "MODSEQ": re.compile(rb"\bMODSEQ \((\d+)\)"),
}


def _remember(values, line):
    for what, pat in VALUE_PATTERNS.items():
        m = pat.search(line)
        if m:
            values[what] = m.group(1)


def _substitute(data, saved, c):
    def value(m):
        name = m.group(1).decode()
        if name not in saved:
            raise ValueError("line %d: ${%s} was never saved" % (c.lineno, name))
        return saved[name]
    return re.sub(rb"\$\{(\w+)\}", value, data)


def run_script(w, cmds, timeout=10):
    """Run cmds on RawIMAP w. Returns [(Command, [normalised lines])]."""
    out = []
    values, saved = {}, {}
    for c in cmds:
        if c.save is not None:
            name, what = c.save
            if what not in values:
                raise ValueError("line %d: no %s seen yet to save" % (c.lineno, what))
            saved[name] = values[what]
            continue
        w.send(_substitute(c.data, saved, c))
        got = []
        if c.idle:
            r = w.read_response()
            got.append(normalise(r.rstrip(b"\r\n")))
            if r.startswith(b"+"):
                w.send(b"DONE\r\n")
        tagb = c.tag.encode() + b" "
        while True:
            r = w.read_response()
            line = r[:-2] if r.endswith(b"\r\n") else r
            _remember(values, line)
            got.append(normalise(line))
            if r.startswith(tagb):
                break
            if r.startswith(b"* BYE") and not c.data.upper().startswith(tagb + b"LOGOUT"):
                break  # the server is closing the connection
        out.append((c, got))
    return out
