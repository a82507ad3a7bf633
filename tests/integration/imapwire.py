"""imapwire: a small raw IMAP client for transcript tests (standard library only).

It does not interpret anything it is not asked to: it sends the exact bytes a
test gives it and hands back the exact bytes the server sent, split into
responses (a response is one line plus any literals it announces, with the
literal bytes kept inline, so `{5}\\r\\nhello` stays as sent).

Every read has a deadline (socket timeout), so a silent server makes a test
fail with socket.timeout instead of hanging the suite.

    w = RawIMAP("127.0.0.1", port)
    greeting = w.greeting()                       # b"* OK [CAPABILITY ...] ..."
    untagged, tagged = w.cmd("LOGIN alice secret")  # tagged: b"a1 OK ..."
    w.starttls(ctx)                                 # after a tagged OK to STARTTLS

parse() turns one response (or a part of it) into Python values:
atoms -> str, quoted strings -> bytes, literals -> bytes, NIL -> None,
parenthesised lists -> list. fetch_items() turns `* n FETCH (...)` into a dict.
"""

import re
import socket
import ssl

CRLF = b"\r\n"
MAX_LINE = 16 * 1024 * 1024
MAX_LITERAL = 256 * 1024 * 1024
LITERAL_AT_END = re.compile(rb"\{(\d+)\}\r\n$")


class ServerClosed(Exception):
    """The server closed the connection; .data holds bytes read before EOF."""

    def __init__(self, data=b""):
        super().__init__("server closed the connection (last bytes: %r)" % data[-200:])
        self.data = data


class RawIMAP:
    def __init__(self, host, port, timeout=10.0, tls_context=None, server_hostname="localhost", connect=True):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.buf = b""
        self.tagnum = 0
        self.sock = None
        self.transcript = []  # (direction, bytes) pairs, for failure messages
        if connect:
            s = socket.create_connection((host, port), timeout=timeout)
            if tls_context is not None:
                s = tls_context.wrap_socket(s, server_hostname=server_hostname)
            self.sock = s

    # --- plumbing -------------------------------------------------------
    def settimeout(self, t):
        self.timeout = t
        self.sock.settimeout(t)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.transcript.append((">", data[:300]))
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ServerClosed(self.buf)
        self.buf += chunk

    def readline(self, limit=MAX_LINE):
        """One line including its CRLF (a bare LF also ends it)."""
        start = 0
        while True:
            i = self.buf.find(b"\n", start)
            if i >= 0:
                line, self.buf = self.buf[: i + 1], self.buf[i + 1:]
                self.transcript.append(("<", line[:300]))
                return line
            if len(self.buf) > limit:
                raise AssertionError("server line longer than %d bytes" % limit)
            start = len(self.buf)
            self._fill()

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self):
        """One whole response: a line plus any literals (inline) it announces."""
        out = b""
        while True:
            line = self.readline()
            out += line
            m = LITERAL_AT_END.search(line)
            if not m:
                return out
            n = int(m.group(1))
            if n > MAX_LITERAL:
                raise AssertionError("server literal of %d bytes" % n)
            out += self.read_exact(n)

    def expect_eof(self, timeout=5.0):
        """Wait for the server to close; returns bytes received meanwhile."""
        old = self.sock.gettimeout()
        self.sock.settimeout(timeout)
        got = self.buf
        self.buf = b""
        try:
            while True:
                try:
                    chunk = self.sock.recv(65536)
                except (ConnectionResetError, BrokenPipeError):
                    return got
                except ssl.SSLError:
                    return got
                if not chunk:
                    return got
                got += chunk
                if len(got) > MAX_LINE:
                    raise AssertionError("server kept sending (%d bytes) instead of closing" % len(got))
        finally:
            try:
                self.sock.settimeout(old)
            except OSError:
                pass

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def dump(self):
        return "\n".join("%s %r" % (d, b) for d, b in self.transcript[-40:])

    # --- IMAP level -----------------------------------------------------
    def greeting(self):
        return self.read_response().rstrip(b"\r\n")

    def next_tag(self):
        self.tagnum += 1
        return "a%d" % self.tagnum

    def read_until_tagged(self, tag):
        """(untagged responses without CRLF, tagged line without CRLF)."""
        tagb = tag.encode() + b" "
        untagged = []
        while True:
            r = self.read_response()
            if r.startswith(tagb):
                return untagged, r.rstrip(b"\r\n")
            if r.startswith(b"+"):
                raise AssertionError("unexpected continuation %r while waiting for %s" % (r, tag))
            untagged.append(r[:-2] if r.endswith(CRLF) else r)

    def cmd(self, text, tag=None):
        """Send `tag text CRLF`; return (untagged, tagged). text: str or bytes."""
        if tag is None:
            tag = self.next_tag()
        self.last_tag = tag
        if isinstance(text, str):
            text = text.encode()
        self.send(tag.encode() + b" " + text + CRLF)
        return self.read_until_tagged(tag)

    def cmd_literal(self, head, literal, tail=b"", tag=None, plus=False):
        """Send `tag head {N}`, wait for '+', then literal + tail + CRLF.

        With plus=True uses a LITERAL+ `{N+}` and sends without waiting.
        Returns (untagged, tagged) like cmd().
        """
        if tag is None:
            tag = self.next_tag()
        self.last_tag = tag
        if isinstance(head, str):
            head = head.encode()
        if isinstance(tail, str):
            tail = tail.encode()
        marker = b"{%d+}" % len(literal) if plus else b"{%d}" % len(literal)
        self.send(tag.encode() + b" " + head + b" " + marker + CRLF)
        if not plus:
            r = self.read_response()
            if not r.startswith(b"+"):
                raise AssertionError("expected continuation for literal, got %r" % r)
        self.send(literal + tail + CRLF)
        return self.read_until_tagged(tag)

    def starttls(self, ctx, server_hostname="localhost"):
        assert not self.buf, "bytes pending before TLS: %r" % self.buf
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)

    def login(self, user, password):
        untagged, tagged = self.cmd(b"LOGIN " + astring(user) + b" " + astring(password))
        if not ok(tagged):
            raise AssertionError("LOGIN %s failed: %r" % (user, tagged))
        return tagged


# --- helpers --------------------------------------------------------------

def astring(s):
    """A quoted string for simple text (tests use ASCII without controls)."""
    if isinstance(s, str):
        s = s.encode()
    return b'"' + s.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def status(tagged):
    """'OK' / 'NO' / 'BAD' from a tagged line."""
    parts = tagged.split(b" ", 2)
    return parts[1].decode() if len(parts) > 1 else ""


def ok(tagged):
    return status(tagged) == "OK"


def resp_code(line):
    """The text of the [CODE ...] after OK/NO/BAD/BYE, or None."""
    m = re.match(rb"^\S+ (?:OK|NO|BAD|BYE|PREAUTH) \[([^\]]*)\]", line)
    return m.group(1).decode() if m else None


def capabilities(line):
    """The capability names in `* CAPABILITY ...` or an `[CAPABILITY ...]` code."""
    m = re.search(rb"\[CAPABILITY ([^\]]*)\]", line)
    if m:
        text = m.group(1)
    elif line.startswith(b"* CAPABILITY "):
        text = line[len(b"* CAPABILITY "):]
    else:
        raise AssertionError("no capability list in %r" % line)
    return [c.decode() for c in text.split()]


class ParseError(Exception):
    pass


def parse(data, pos=0):
    """Parse a sequence of IMAP values from data[pos:] up to the end or a ')'.

    Returns (values, pos). Atoms may contain [...] sections (BODY[HEADER.FIELDS (A)])
    and <origin> partials, which are kept in the atom text.
    """
    out = []
    n = len(data)
    while pos < n:
        c = data[pos:pos + 1]
        if c in (b" ", b"\r", b"\n"):
            pos += 1
        elif c == b"(":
            sub, pos = parse(data, pos + 1)
            if data[pos:pos + 1] != b")":
                raise ParseError("unclosed list")
            out.append(sub)
            pos += 1
        elif c == b")":
            return out, pos
        elif c == b'"':
            pos += 1
            s = bytearray()
            while True:
                if pos >= n:
                    raise ParseError("unterminated quoted string")
                ch = data[pos]
                if ch == 0x5C:
                    s.append(data[pos + 1])
                    pos += 2
                elif ch == 0x22:
                    pos += 1
                    break
                else:
                    s.append(ch)
                    pos += 1
            out.append(bytes(s))
        elif c == b"{" or data[pos:pos + 2] == b"~{":  # literal, or literal8 (RFC 3516)
            m = re.compile(rb"~?\{(\d+)\}\r\n").match(data, pos)
            if not m:
                raise ParseError("bad literal at %d: %r" % (pos, data[pos:pos + 20]))
            ln = int(m.group(1))
            start = m.end()
            if start + ln > n:
                raise ParseError("short literal")
            out.append(data[start:start + ln])
            pos = start + ln
        else:
            start = pos
            depth = 0
            while pos < n:
                ch = data[pos:pos + 1]
                if ch == b"[":
                    depth += 1
                elif ch == b"]":
                    depth -= 1
                elif depth == 0 and ch in (b" ", b"(", b")", b"\r", b"\n"):
                    break
                pos += 1
            atom = data[start:pos].decode("latin-1")
            out.append(None if atom == "NIL" else atom)
    return out, pos


def fetch_items(response):
    """`* n FETCH (k v k v ...)` -> (n, {K: v}) with upper-case item names."""
    m = re.match(rb"^\* (\d+) FETCH \(", response)
    if not m:
        raise AssertionError("not a FETCH response: %r" % response[:200])
    vals, pos = parse(response, m.end())
    if response[pos:pos + 1] != b")" or response[pos + 1:].strip() != b"":
        raise AssertionError("junk after FETCH list: %r" % response[pos:pos + 100])
    if len(vals) % 2:
        raise AssertionError("odd number of FETCH items: %r" % vals)
    items = {}
    for i in range(0, len(vals), 2):
        key = vals[i].upper()
        if key in items:
            raise AssertionError("FETCH item %s twice" % key)
        items[key] = vals[i + 1]
    return int(m.group(1)), items


def recv_all_until_closed_or(sock_reader, predicate, limit_bytes=64 * 1024 * 1024):
    """Read responses until predicate(resp) is true or EOF; returns (list, closed)."""
    got = []
    total = 0
    while True:
        try:
            r = sock_reader.read_response()
        except ServerClosed as e:
            if e.data:
                got.append(e.data)
            return got, True
        except (ConnectionResetError, BrokenPipeError):
            return got, True
        got.append(r)
        total += len(r)
        if total > limit_bytes:
            raise AssertionError("server sent more than %d bytes" % limit_bytes)
        if predicate(r):
            return got, False


def expand_set(seqset):
    """The numbers of a sequence set without "*" (b"1:3,7" -> [1, 2, 3, 7])."""
    out = []
    for part in seqset.split(b","):
        if b":" in part:
            lo, hi = part.split(b":")
            out.extend(range(int(lo), int(hi) + 1))
        else:
            out.append(int(part))
    return out
