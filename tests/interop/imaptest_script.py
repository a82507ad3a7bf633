"""imaptest_script: runs IMAP test scripts written in the format of Dovecot's
imaptest ("scripted tests", documented in imaptest's docs/scripted_test.md)
against any IMAP server, so that a suite of scripts that is not ours can judge
our answers, and Dovecot's, by the same rules.

This is our own interpreter of that documented format; the scripts themselves
stay outside this repository (test_imaptest_suite.py reads them from
$CPM_IMAPTEST_DIR). What it implements:

- the header (`capabilities`, `connections`, `messages`, `state`,
  `ignore_extra_untagged`, `user N`), `#` comments, `!ifenv`/`!ifnenv`/
  `!else`/`!endif`, `!sleep`, `!ordered`, `!output`, `{{{ ... }}}` and
  `~{{{ ... }}}` multi-line literals;
- the three command forms (reply first, reply last, explicit `tagN` tags for
  pipelining), one connection index per command group, `""` for any reply;
- start-up states: auth (every `$mailbox*` folder deleted and unsubscribed),
  created, appended (the messages of NAME.mbox or default.mbox, LF lines sent
  as CRLF, the From-line date and zone as internal date; Test.derive_mbox()
  can stand in for a missing NAME.mbox), selected (on every connection);
- `append` / `append ARGS` taking the next message of the mbox;
- matching: case-insensitive, `$var` / `${var}` captured on first use and
  compared after, `$` for any value (a list too), `$]` up to a `]`,
  `${case:...}`, `$N` for the current sequence number of initial sequence N
  (EXPUNGEs tracked), `$modseqN` ordering, `$tag`, `*` must / `!` must not /
  `?` may exist, the `$!` list directives and their defaults (FETCH items and
  STATUS items unordered in pairs, LIST/LSUB attributes and FETCH FLAGS
  unordered, FLAGS without extras but \\Recent), OK/NO/BAD/BYE text matched
  as a prefix, BYE ending a connection.

What imaptest does besides and this does not: its model of each mailbox that
catches inconsistent server state (duplicate \\Recent, flags changing without
a FETCH) outside what a script states; the random stress mode.

Usage: run(test, connect) where test = parse(path) and connect(index, user)
returns a logged-in imapwire.RawIMAP (index 0..n-1; the greeting already read
and returned as its .greeting_line). Returns a Result."""

import os
import re
import socket
import time

CRLF = "\r\n"
VAR_CHARS = re.compile(r"[A-Za-z0-9_]*")
STATES = ("nonauth", "auth", "created", "appended", "selected")
GROUP_TIMEOUT = 15.0


class ScriptError(Exception):
    """The script itself is malformed."""


# --- IMAP argument parsing (scripts and server responses alike) ------------
# An argument is ("atom", s) / ("string", s) / ("nil", None) / ("list", [args]).
# Literals become strings. Text is handled as latin-1 so bytes map 1:1.

def parse_args(text):
    pos = 0
    n = len(text)
    stack = [[]]
    while pos < n:
        c = text[pos]
        if c == " ":
            pos += 1
        elif c in "\r\n":
            pos += 1
        elif c == "(":
            stack.append([])
            pos += 1
        elif c == ")":
            if len(stack) == 1:
                raise ScriptError("unbalanced ')' in %r" % text[:200])
            lst = stack.pop()
            stack[-1].append(("list", lst))
            pos += 1
        elif c == '"':
            pos += 1
            out = []
            while pos < n and text[pos] != '"':
                if text[pos] == "\\" and pos + 1 < n:
                    pos += 1
                out.append(text[pos])
                pos += 1
            if pos >= n:
                raise ScriptError("unterminated string in %r" % text[:200])
            pos += 1
            stack[-1].append(("string", "".join(out)))
        elif c == "{" or (c == "~" and text.startswith("{", pos + 1)):
            m = re.compile(r"~?\{(\d+)\+?\}\r\n").match(text, pos)
            if not m:
                raise ScriptError("bad literal at %r" % text[pos:pos + 40])
            size = int(m.group(1))
            start = m.end()
            if start + size > n:
                raise ScriptError("literal runs past the end")
            stack[-1].append(("string", text[start:start + size]))
            pos = start + size
        else:
            end = pos
            while end < n and text[end] not in " \r\n" and not (text[end] == ")"):
                end += 1
            atom = text[pos:end]
            pos = end
            stack[-1].append(("nil", None) if atom.upper() == "NIL" else ("atom", atom))
    if len(stack) != 1:
        raise ScriptError("unbalanced '(' in %r" % text[:200])
    return stack[0]


def render(args):
    out = []
    for kind, v in args:
        if kind == "list":
            out.append("(" + render(v) + ")")
        elif kind == "nil":
            out.append("NIL")
        elif kind == "string":
            out.append('"%s"' % v.replace("\\", "\\\\").replace('"', '\\"')[:200])
        else:
            out.append(v)
    return " ".join(out)


def _astring(arg):
    return arg[1] if arg[0] in ("atom", "string") else None


# --- the script ------------------------------------------------------------

class Command:
    def __init__(self, text, reply, tag, lineno):
        self.text = text        # the command, variables unexpanded
        self.reply = reply      # expected tagged reply args, or None until given
        self.tag = tag          # the script's tagN number, 0 when none
        self.lineno = lineno


class Group:
    def __init__(self, conn):
        self.conn = conn
        self.commands = []
        self.untagged = []      # (existence "*"/"!"/"?", args)
        self.ordered = False
        self.sleep = 0.0
        self.output = []
        self.has_bye = False

    def pending(self):
        return sum(1 for c in self.commands if c.reply is None)


class Test:
    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)
        self.capabilities = []
        self.connections = 1
        self.messages = None    # None: all
        self.state = "selected"
        self.ignore_extra = True
        self.users = {}
        self.groups = []
        mbox = path + ".mbox"
        self.mbox = mbox if os.path.exists(mbox) else os.path.join(os.path.dirname(path), "default.mbox")
        self.mbox_text = None   # set by derive_mbox()

    def derive_mbox(self):
        """When NAME.mbox is missing (a partial copy of the suite) and the
        script's first `body[] {{{`/`binary[] {{{` expectation shows one whole
        message ending in CRLF, that message becomes the test's mbox (an
        option of ours, not imaptest's: it makes such scripts meaningful).
        Returns True when it did."""
        if os.path.exists(self.path + ".mbox"):
            return False
        with open(self.path, encoding="latin-1") as f:
            lines = f.read().split("\n")
        start = next((i for i, ln in enumerate(lines)
                      if "body[] {{{" in ln.lower() or "binary[] {{{" in ln.lower()), None)
        if start is None:
            return False
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("}}}")), None)
        if end is None or end == start + 1 or lines[end - 1] != "":
            return False
        msg = lines[start + 1:end - 1]
        if any(ln.startswith("From ") for ln in msg):
            return False
        self.mbox_text = "From user@domain  Fri Feb 22 17:06:23 2008\n" + "\n".join(msg) + "\n"
        return True


REPLY_WORDS = {"ok": "ok", "no": "no", "bad": "bad", '""': ""}


def _take_reply(line):
    """(tag number, reply args or None, rest of line) for "[tagN] ok|no|bad|"" rest"."""
    tag = 0
    word, _, rest = line.partition(" ")
    m = re.fullmatch(r"(?i)tag(\d+)", word)
    if m and int(m.group(1)) > 0 and rest:
        tag = int(m.group(1))
        line = rest
        word, _, rest = line.partition(" ")
    if word.lower() in REPLY_WORDS:
        return tag, [("atom", REPLY_WORDS[word.lower()])], rest
    return tag, None, line


def _apply_directives(args, reply_name):
    """Adds default directives in place to the lists of one untagged pattern."""
    def has_directives(lst):
        return bool(lst) and lst[0][0] == "atom" and lst[0][1].startswith("$!")

    def chain_of(lst):
        n = 1
        for kind, v in lst:
            if kind == "atom" and v.startswith("$!unordered="):
                n = int(v.split("=", 1)[1])
        return n

    def check(lst):
        body = [a for a in lst if not (a[0] == "atom" and a[1].startswith("$!"))]
        c = chain_of(lst)
        if len(body) % c:
            raise ScriptError("list argument count not a multiple of the chain size %d" % c)

    name = reply_name.lower()
    for i, (kind, v) in enumerate(args):
        if kind != "list":
            continue
        if not has_directives(v):
            if name in ("list", "lsub") and i == 1:
                v.insert(0, ("atom", "$!unordered"))
            elif name in ("status", "fetch") and i == 2:
                v.insert(0, ("atom", "$!unordered=2"))
                if name == "fetch":
                    prev = None
                    for sk, sv in v:
                        if sk == "list" and prev == "flags" and not has_directives(sv):
                            sv[0:0] = [("atom", d) for d in ("$!unordered", "$!noextra", "$!ignore=\\recent",
                                                              "$!ignore=$HasAttachment",
                                                              "$!ignore=$HasNoAttachment")]
                        prev = sv.lower() if sk == "atom" else None
        _check_all(v, check)


def _check_all(lst, check):
    check(lst)
    for kind, v in lst:
        if kind == "list":
            _check_all(v, check)


def _untagged(group, line, lineno):
    existence = line[0]
    args = parse_args(line[2:])
    name = ""
    if args and args[0][0] == "atom":
        name = args[0][1]
        if (name.startswith("$") or name[:1].isdigit()) and len(args) > 1 and args[1][0] == "atom":
            name = args[1][1]
    _apply_directives(args, name)
    if name.upper().startswith("BYE") and existence == "*":
        group.has_bye = True
    group.untagged.append((existence, args))


def parse(path):
    test = Test(path)
    with open(path, encoding="latin-1") as f:
        raw_lines = f.read().split("\n")
    if raw_lines and raw_lines[-1] == "":
        raw_lines.pop()
    # join {{{ ... }}} multi-line literals into single logical lines
    lines = []
    i = 0
    while i < len(raw_lines):
        line = raw_lines[i]
        start = i + 1
        if line.endswith("{{{") and not line.startswith("#") and line != "":
            text = ""
            while line.endswith("{{{"):
                binary = line.endswith("~{{{")
                text += line[:-4] if binary else line[:-3]
                body = []
                i += 1
                while i < len(raw_lines) and not raw_lines[i].startswith("}}}"):
                    body.append(raw_lines[i])
                    i += 1
                if i >= len(raw_lines):
                    raise ScriptError("%s:%d: multi-line literal not ended" % (path, start))
                data = CRLF.join(body)
                text += "%s{%d}\r\n%s" % ("~" if binary else "", len(data), data)
                line = raw_lines[i][3:]
            text += line
            lines.append((start, text))
        else:
            lines.append((start, line))
        i += 1

    header = True
    skip = []
    skipping = False
    group = None
    for lineno, line in lines:
        if header:
            if line == "":
                header = False
                continue
            if line.startswith("#"):
                continue
            key, sep, value = line.partition(":")
            if not sep:
                raise ScriptError("%s:%d: header line without ':'" % (path, lineno))
            key, value = key.strip().lower(), value.strip()
            if key == "capabilities":
                test.capabilities = value.split()
            elif key == "connections":
                test.connections = int(value)
            elif key == "ignore_extra_untagged":
                test.ignore_extra = value[:1].lower() == "y"
            elif key == "messages":
                test.messages = None if value == "all" else int(value)
            elif key == "state":
                if value.lower() not in STATES:
                    raise ScriptError("%s:%d: unknown state %r" % (path, lineno, value))
                test.state = value.lower()
            elif key.startswith("user "):
                test.users[int(key[5:])] = value
            else:
                raise ScriptError("%s:%d: unknown header %r" % (path, lineno, key))
            continue
        if line == "" or line.startswith("#"):
            continue
        if line.startswith("!ifenv ") or line.startswith("!ifnenv "):
            var = line.split(" ", 1)[1]
            have = var in os.environ
            if line.startswith("!ifnenv "):
                have = not have
            skip.append(skipping)
            skipping = skipping or not have
            continue
        if line == "!else":
            if not skip:
                raise ScriptError("%s:%d: !else without !ifenv" % (path, lineno))
            if not skip[-1]:
                skipping = not skipping
            continue
        if line == "!endif":
            if not skip:
                raise ScriptError("%s:%d: !endif without !ifenv" % (path, lineno))
            skipping = skip.pop()
            continue
        if skipping:
            continue
        if group is not None:
            if line.startswith("!sleep "):
                group.sleep = _interval(line[7:])
                continue
            if line.startswith("!output "):
                group.output.append(line[8:])
                continue
            if line == "!ordered":
                group.ordered = True
                continue
            if line[:2] in ("* ", "! ", "? "):
                _untagged(group, line, lineno)
                continue
            if group.pending() > 0:
                rest = line
                conn = None
                if test.connections > 1:
                    first, _, after = rest.partition(" ")
                    if first.isdigit() and int(first) > 0:
                        conn = int(first) - 1
                        rest = after
                tag, reply, after = _take_reply(rest)
                if reply is not None:
                    if test.connections > 1 and conn != group.conn:
                        raise ScriptError("%s:%d: reply for another connection" % (path, lineno))
                    cmd = next((c for c in group.commands if c.tag == tag), None)
                    if cmd is None or cmd.reply is not None:
                        raise ScriptError("%s:%d: reply for unknown or answered tag" % (path, lineno))
                    cmd.reply = reply + parse_args(after)
                    continue
        # a new command (possibly joining a pipelined group)
        conn = 0
        rest = line
        if test.connections > 1:
            first, _, after = rest.partition(" ")
            if not first.isdigit() or int(first) == 0:
                raise ScriptError("%s:%d: missing connection index" % (path, lineno))
            conn = int(first) - 1
            rest = after
        tag, reply, text = _take_reply(rest)
        if group is None or group.pending() == 0 or tag == 0:
            if group is not None and group.pending() > 0:
                raise ScriptError("%s:%d: missing reply for the previous command" % (path, lineno))
            if tag == 0 or group is None or group.pending() == 0:
                group = Group(conn)
                test.groups.append(group)
        elif group.conn != conn:
            raise ScriptError("%s:%d: pipelined commands on different connections" % (path, lineno))
        if not group.commands and text[:2] in ("* ", "! ", "? "):
            _untagged(group, text, lineno)   # a greeting check
            continue
        group.commands.append(Command(text, reply, tag, lineno))
    if group is not None and group.pending() > 0:
        raise ScriptError("%s: the last command has no reply" % path)
    if skip:
        raise ScriptError("%s: !ifenv not closed" % path)
    if not any(c.text.lower() == "logout" for g in test.groups for c in g.commands) and \
            not any(g.has_bye for g in test.groups):
        g = Group(0)
        g.commands.append(Command("logout", [("atom", "ok")], 0, 0))
        test.groups.append(g)
    test.connections = max([test.connections] + [g.conn + 1 for g in test.groups])
    return test


def _interval(text):
    m = re.fullmatch(r"\s*(\d+)\s*(ms|msecs?|s|secs?)?\s*", text)
    if not m:
        raise ScriptError("bad !sleep %r" % text)
    n = int(m.group(1))
    return n / 1000.0 if (m.group(2) or "").startswith("m") else float(n)


# --- mbox source -----------------------------------------------------------

FROM_LINE = re.compile(r"From \S+\s+(?:\w{3} )?(\w{3}) +(\d+) (\d\d):(\d\d):(\d\d) (\d{4})(?: ([+-]\d{4}))?")


class Mbox:
    """The messages of an mbox file in order, wrapping around at the end."""

    def __init__(self, path, text=None):
        if text is None:
            with open(path, encoding="latin-1") as f:
                text = f.read()
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        self.messages = []
        cur = None
        for line in lines:
            m = FROM_LINE.match(line)
            if m and (cur is None or cur[1]):
                cur = [self._date(m), []]
                self.messages.append(cur)
            elif m and cur is not None and not cur[1]:
                cur[0] = self._date(m)      # a From line after an empty body
            elif cur is not None:
                cur[1].append(line.rstrip("\r"))
        if not self.messages:
            raise ScriptError("%s: not an mbox file" % path)
        self.next = 0

    @staticmethod
    def _date(m):
        mon, day, hh, mm, ss, year, zone = m.groups()
        return "%02d-%s-%s %s:%s:%s %s" % (int(day), mon, year, hh, mm, ss, zone or "+0000")

    def eof(self):
        return self.next >= len(self.messages)

    def take(self):
        date, lines = self.messages[self.next % len(self.messages)]
        self.next += 1
        return date, "".join(x + CRLF for x in lines)


# --- running ---------------------------------------------------------------

class Failed(Exception):
    pass


class Result:
    def __init__(self, name):
        self.name = name
        self.status = "pass"     # pass / fail / skip / error
        self.failures = []       # (script line, message)
        self.commands = 0

    def __repr__(self):
        return "<%s %s %s>" % (self.name, self.status, self.failures[:1])


class Conn:
    """One connection's state: its RawIMAP, message count, closed flag."""

    def __init__(self, w):
        self.w = w
        self.exists = 0
        self.closed = False
        self.tagn = 0
        self.caps = []

    def next_tag(self):
        self.tagn += 1
        return "t%d" % self.tagn


class Runner:
    def __init__(self, test, connect, mailbox="imaptest"):
        self.test = test
        self.connect = connect
        self.mailbox = mailbox
        self.vars = {"mailbox": mailbox, "mailbox_url": mailbox}
        self.modseq = (0, 0)     # highest seen $modseqN index, value
        self.seqmap = []
        self.conns = []
        self.mbox = Mbox(test.mbox, test.mbox_text)
        self.result = Result(test.name)

    # --- variables ----------------------------------------------------------
    def _relative_seq(self, n):
        if n == 0 or n > len(self.seqmap):
            return "<out of range>"
        return "<expunged>" if self.seqmap[n - 1] == 0 else str(self.seqmap[n - 1])

    def expand_command(self, text):
        out = []
        i = 0
        while i < len(text):
            c = text[i]
            if c != "$" or i + 1 == len(text):
                out.append(c)
                i += 1
                continue
            i += 1
            if text[i] == "$":
                out.append("$")
                i += 1
                continue
            if text[i] == "!":
                while i < len(text) and text[i] != " ":
                    i += 1
                i += 1
                continue
            if text[i] == "{":
                end = text.find("}", i)
                if end < 0:
                    raise Failed("missing '}' in %r" % text)
                name = text[i + 1:end]
                i = end + 1
            else:
                name = VAR_CHARS.match(text, i).group(0)
                i += len(name)
            if name.isdigit():
                out.append(self._relative_seq(int(name)))
            elif name in self.vars:
                out.append(self.vars[name])
            else:
                raise Failed("uninitialised variable $%s in command %r" % (name, text))
        return "".join(out)

    def expand_input(self, pat, inp):
        """imaptest's per-string match: None on mismatch, else (expanded, icase).
        Unset variables are captured from inp up to the next pattern character."""
        out = []
        icase = True
        i = j = 0
        while i < len(pat):
            if pat[i] != "$" or pat[i + 1:i + 2] == "$":
                if pat[i] == "$":
                    i += 1
                if j >= len(inp) or pat[i].upper() != inp[j].upper():
                    return None
                out.append(pat[i])
                i += 1
                j += 1
                continue
            i += 1
            if pat[i:i + 1] == "{":
                end = pat.find("}", i)
                if end < 0:
                    return ("", icase)
                name = pat[i + 1:end]
                i = end + 1
            else:
                name = VAR_CHARS.match(pat, i).group(0)
                i += len(name)
            if name.isdigit():
                value = self._relative_seq(int(name))
            elif name.startswith("case:"):
                icase = False
                value = name[5:]
            else:
                value = self.vars.get(name) if name else None
                if value is None:
                    stop = pat[i:i + 1]
                    k = j
                    while k < len(inp) and (stop == "" or inp[k].upper() != stop.upper()):
                        k += 1
                    value = inp[j:k]
                    m = re.fullmatch(r"modseq(\d+)", name)
                    if m:
                        value = self._modseq(int(m.group(1)), value)
                        self.vars[name] = value
                    elif name:
                        self.vars[name] = value
            out.append(value)
            if inp[j:j + len(value)] != value:
                return None
            j += len(value)
        return "".join(out), icase

    def _modseq(self, idx, text):
        if not text.isdigit():
            return "$modseq-not-number"
        hi_idx, hi_val = self.modseq
        if hi_idx > idx:
            return "$modseq-order-mismatch"
        least = hi_val + (idx - hi_idx)
        value = int(text)
        shown = text
        if value < least:
            shown = "$modseq-at-least-%d" % least
            value = least
        self.modseq = (idx, value)
        return shown

    # --- matching -----------------------------------------------------------
    def match_args(self, pat, args, limit=None, prefix=False):
        n = len(pat) if limit is None else min(limit, len(pat))
        ai = 0
        for pi in range(n):
            p = pat[pi]
            a = args[ai] if ai < len(args) else ("eol", None)
            if p[0] == "nil":
                if a[0] != "nil":
                    return False
            elif p[0] in ("atom", "string"):
                if p[1] == "$" and a[0] == "list":
                    ai += 1
                    continue
                if p[1] == "$]":
                    while a[0] == "atom" and "]" not in a[1]:
                        ai += 1
                        a = args[ai] if ai < len(args) else ("eol", None)
                    ai += 1
                    continue
                s = _astring(a)
                if s is None:
                    return False
                got = self.expand_input(p[1], s)
                if got is None:
                    return False
                m, icase = got
                last = pi == len(pat) - 1
                if prefix and last:
                    ok = s[:len(m)].lower() == m.lower() if icase else s.startswith(m)
                else:
                    ok = s.lower() == m.lower() if icase else s == m
                if not ok:
                    return False
            elif p[0] == "list":
                if a[0] != "list" or not self.match_list(p[1], a[1]):
                    return False
            ai += 1
        return prefix or ai >= len(args) or limit is not None

    def match_list(self, pat, args):
        unordered = False
        chain = 1
        noextra = None
        ignores, bans = [], []
        k = 0
        while k < len(pat) and pat[k][0] == "atom" and pat[k][1].startswith("$!"):
            d = pat[k][1][2:]
            if d.startswith("unordered"):
                unordered = True
                if noextra is None:
                    noextra = False
                if d.startswith("unordered="):
                    chain = int(d[10:])
            elif d == "ordered":
                unordered = False
            elif d == "extra":
                noextra = False
            elif d == "noextra":
                noextra = True
            elif d.startswith("ignore="):
                ignores.append(d[7:].lower())
            elif d.startswith("ban="):
                bans.append(d[4:].lower())
            else:
                raise ScriptError("unknown directive $!%s" % d)
            k += 1
        pat = pat[k:]
        if noextra is None:
            noextra = True
        if not unordered:
            return self.match_args(pat, args)
        if len(args) % chain:
            return False
        matched = set()
        for pi in range(0, len(pat), chain):
            for ai in range(0, len(args), chain):
                snap = dict(self.vars)
                if self.match_args(pat[pi:pi + chain], args[ai:], chain):
                    matched.add(ai)
                    break
                self._restore(snap)
            else:
                return False
        for ai in range(0, len(args), chain):
            if ai in matched:
                continue
            s = _astring(args[ai])
            if s is None:
                continue
            if noextra and s.lower() not in ignores:
                return False
            if not noextra and s.lower() in bans:
                return False
        return True

    def _restore(self, snap):
        for k in list(self.vars):
            if k not in snap and not k.startswith("modseq"):
                del self.vars[k]

    # --- protocol -----------------------------------------------------------
    def fail(self, lineno, msg):
        self.result.failures.append((lineno, msg))
        raise Failed(msg)

    def read_response(self, conn):
        try:
            data = conn.w.read_response()
        except Exception as e:  # closed or timed out
            conn.closed = True
            raise Failed("connection %d: %s" % (self.conns.index(conn) + 1, e))
        text = data.decode("latin-1").rstrip("\r\n")
        return text

    def track(self, conn, args):
        if len(args) >= 2 and args[0][0] == "atom" and args[0][1].isdigit() and args[1][0] == "atom":
            n = int(args[0][1])
            word = args[1][1].upper()
            if word == "EXISTS":
                conn.exists = n
            elif word == "EXPUNGE":
                conn.exists = max(0, conn.exists - 1)
                return n
        return None

    def send_command(self, conn, tag, text):
        # literals go as LITERAL+ (both servers under test announce it)
        data = re.sub(r"(~?)\{(\d+)\}\r\n", lambda m: "%s{%s+}\r\n" % (m.group(1), m.group(2)), text)
        conn.w.send((tag + " " + data + CRLF).encode("latin-1"))

    def send_append(self, conn, tag, args_text):
        date, msg = self.mbox.take()
        head = args_text if args_text is not None else '"%s" "%s"' % (self.mailbox, date)
        conn.w.send(("%s APPEND %s {%d+}\r\n" % (tag, head, len(msg)) + msg + CRLF).encode("latin-1"))

    def setup_command(self, conn, text=None, append=None):
        """Runs one start-up command; returns (untagged arg lists, tagged args)."""
        tag = conn.next_tag()
        if append is not None:
            self.send_append(conn, tag, None)
        else:
            self.send_command(conn, tag, text)
        untagged = []
        while True:
            line = self.read_response(conn)
            if line.startswith("* "):
                args = parse_args(line[2:])
                self.track(conn, args)
                untagged.append(args)
            elif line.startswith(tag + " "):
                return untagged, parse_args(line[len(tag) + 1:])

    def setup(self):
        t = self.test
        for i in range(t.connections):
            w = self.connect(i, t.users.get(i + 1))
            self.conns.append(Conn(w))
        c0 = self.conns[0]
        if t.state == "nonauth":
            return True
        untagged, tagged = self.setup_command(c0, "CAPABILITY")
        caps = [a[1].upper() for u in untagged if u and u[0][1].upper() == "CAPABILITY" for a in u[1:]]
        missing = [c for c in t.capabilities if c.upper() not in caps]
        if missing:
            self.result.status = "skip"
            self.result.failures.append((0, "server lacks " + " ".join(missing)))
            return False
        box = self.mailbox
        lists, _ = self.setup_command(c0, 'LIST "" "%s*"' % box)
        lsubs, _ = self.setup_command(c0, 'LSUB "" "%s*"' % box)
        names = sorted({_astring(u[3]) for u in lists if len(u) >= 4 and u[0][1].upper() == "LIST"}, reverse=True)
        for n in names:
            self.setup_command(c0, 'DELETE "%s"' % n)
        for n in sorted({_astring(u[3]) for u in lsubs if len(u) >= 4}, reverse=True):
            self.setup_command(c0, 'UNSUBSCRIBE "%s"' % n)
        if t.state == "auth":
            return True
        if box.upper() != "INBOX":
            _, tagged = self.setup_command(c0, 'CREATE "%s"' % box)
            if tagged[0][1].upper() != "OK":
                self.fail(0, "setup CREATE: %s" % render(tagged))
        if t.state == "created":
            return True
        count = 0
        while (t.messages is None and not self.mbox.eof()) or (t.messages is not None and count < t.messages):
            _, tagged = self.setup_command(c0, append=True)
            if tagged[0][1].upper() != "OK":
                self.fail(0, "setup APPEND: %s" % render(tagged))
            count += 1
        if t.state == "appended":
            return True
        for c in self.conns:
            _, tagged = self.setup_command(c, 'SELECT "%s"' % box)
            if tagged[0][1].upper() != "OK":
                self.fail(0, "setup SELECT: %s" % render(tagged))
        return True

    def run_group(self, g):
        conn = self.conns[g.conn]
        self.seqmap = list(range(1, conn.exists + 1))
        found = [False] * len(g.untagged)
        extras = []
        pending = {}
        first = g.commands[0].lineno if g.commands else 0
        if not g.commands:   # greeting check
            line = getattr(conn.w, "greeting_line", b"").decode("latin-1")
            self.match_untagged(g, found, parse_args(line[2:]), None, extras)
        for c in g.commands:
            tag = conn.next_tag()
            text = self.expand_command(c.text)
            low = text.lower()
            if low == "append":
                self.send_append(conn, tag, None)
            elif low.startswith("append ") and not _append_has_body(text[7:]):
                self.send_append(conn, tag, text[7:])
            else:
                self.send_command(conn, tag, text)
            pending[tag] = c
        deadline = time.time() + GROUP_TIMEOUT
        while pending:
            if time.time() > deadline:
                self.fail(first, "no tagged reply in %.0f s" % GROUP_TIMEOUT)
            try:
                line = self.read_response(conn)
            except Failed as e:
                if g.has_bye and conn.closed:
                    break
                self.fail(first, str(e))
            if line.startswith("* "):
                args = parse_args(line[2:])
                tag = next(iter(pending)) if len(pending) == 1 else None
                self.match_untagged(g, found, args, tag, extras)
                seq = self.track(conn, args)
                if seq is not None:
                    self._expunge(seq)
                continue
            if line.startswith("+"):
                continue
            tag, _, rest = line.partition(" ")
            if tag not in pending:
                self.fail(first, "reply for unknown tag: %s" % line[:200])
            c = pending.pop(tag)
            args = parse_args(rest)
            self.vars["tag"] = tag
            ok = self.match_args(c.reply, args, prefix=True)
            del self.vars["tag"]
            self.result.commands += 1
            if not ok:
                self.fail(c.lineno, "expected tagged %r, got %r (command %s)" %
                          (render(c.reply), line[:300], text[:120]))
        missing = [render(u[1]) for i, u in enumerate(g.untagged) if u[0] == "*" and not found[i]]
        if missing:
            self.fail(first, "missing untagged: %s%s" % (missing[0][:300], self._best(extras)))
        if extras and not self.test.ignore_extra:
            self.fail(first, "%d unexpected untagged, first: %s" % (len(extras), extras[0][:300]))
        if g.sleep:
            time.sleep(g.sleep)

    @staticmethod
    def _best(extras):
        return "\n   received: " + "\n   received: ".join(x[:300] for x in extras[:6]) if extras else ""

    def _expunge(self, seq):
        if seq > len(self.seqmap):
            return
        for i in range(seq - 1, len(self.seqmap)):
            if self.seqmap[i] == seq:
                self.seqmap[i] = 0
            elif self.seqmap[i] > seq:
                self.seqmap[i] -= 1

    def match_untagged(self, g, found, args, tag, extras):
        prefix = bool(args) and args[0][0] == "atom" and args[0][1].upper() in ("OK", "NO", "BAD", "BYE")
        hit = False
        for i, (existence, pat) in enumerate(g.untagged):
            if found[i]:
                continue
            snap = dict(self.vars)
            if tag is not None:
                self.vars["tag"] = tag
            ok = self.match_args(pat, args, prefix=prefix)
            self.vars.pop("tag", None)
            if ok:
                if existence == "!":
                    self.fail(g.commands[0].lineno if g.commands else 0,
                              "forbidden untagged matched: %s" % render(args)[:300])
                found[i] = True
                hit = True
                if g.ordered:
                    break
                continue
            self._restore(snap)
            if g.ordered and existence == "*":
                break
        if not hit:
            extras.append(render(args))

    def run(self):
        try:
            if not self.setup():
                return self.result
            for g in self.test.groups:
                self.run_group(g)
        except Failed:
            self.result.status = "fail"
        except (ScriptError, socket.error, OSError) as e:
            self.result.status = "error"
            self.result.failures.append((0, "%s: %s" % (type(e).__name__, e)))
        finally:
            for c in self.conns:
                try:
                    c.w.close()
                except OSError:
                    pass
        return self.result


def _append_has_body(args_text):
    """True when APPEND's arguments already carry the message (a literal or CATENATE)."""
    try:
        args = parse_args(args_text)
    except ScriptError:
        return False
    i = 1
    if i < len(args) and args[i][0] == "list":
        i += 1
    if i < len(args) and args[i][0] == "string" and not re.search(r"\{\d+\}", args_text):
        i += 1
    if i >= len(args):
        return False
    return bool(re.search(r"~?\{\d+\+?\}\r\n", args_text)) or (args[i][0] == "atom" and
                                                             args[i][1].upper() == "CATENATE")


def run(test, connect, mailbox="imaptest"):
    return Runner(test, connect, mailbox).run()
