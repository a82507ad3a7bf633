"""Differential conformance: the same IMAP command scripts (scripts/*.imap,
format in imapscript.py) run against Dovecot 2.3 and against our cluster, and
each command's responses, normalised for legitimately volatile values
(imapscript.normalise), are compared line by line.

Dovecot runs as Debian installs it, pre-authenticated on a socket pair
(`/usr/lib/dovecot/imap` on stdin/stdout, a minimal config, a fresh Maildir
in a temp dir per script, TZ=UTC). Our side: a fresh user per script on a
2-back-end / 2-front-end cluster whose new users get only INBOX (as
Dovecot's do).

A difference fails the test unless an ALLOW entry explains it: each entry
names the script and tag (fnmatch patterns), the side the extra line is on
("ours": a line only we send, "dovecot": a line only Dovecot sends, "order":
same lines in another order) and a regex for the line, with the reason (an
RFC deviation of Dovecot's, or a choice the RFC leaves open). An entry for
one script that no longer matches anything fails too, so the list stays
true. Skipped when Dovecot's imap binary is not installed.

Run: python3 tests/run_tests.py --build build -k test_dovecot_diff
Set CPM_DIFF_SHOW=1 to print every command's two transcripts."""

import collections
import fnmatch
import glob
import os
import re
import unittest

import cluster
import imapscript
from dovecot import HAVE_DOVECOT, Dovecot
from cluster import ClusterTest

cluster.module_fixtures(globals(), shards=2, frontends=2, cluster_options={"default_folders": "INBOX"})

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = sorted(glob.glob(os.path.join(HERE, "scripts", "*.imap")))
PW = "diff-pw"

# (script, tag, kind, what, reason); script and tag are fnmatch patterns.
# kind "ours" / "dovecot": `what` is a regex for a line only that side sends;
# kind "order": the same lines come in another order (`what` matches one);
# kind "rewrite": `what` is (regex, replacement) applied to both sides' lines
# of the command before comparing (for a part of a line that may differ).
# Entries whose script is "*" are global and exempt from the "still needed" check.
ALLOW = [
    # --- everywhere -------------------------------------------------------------
    ("*", "*", "dovecot", r"^\* \d+ RECENT$",
     "RECENT updates: both servers give a new message's \\Recent to the first session told of it "
     "(RFC 3501 2.3.2; ours: frontend/recent.h); Dovecot also repeats RECENT where this session's "
     "count did not change"),
    ("*", "*", "ours", r"^\S+ NO \[NONEXISTENT\]$",
     "RFC 5530 NONEXISTENT code for a missing mailbox (SELECT/EXAMINE/STATUS): Dovecot 2.3 sends a bare "
     "NO there; the code is optional and ours is the more precise answer"),
    ("*", "*", "dovecot", r"^\S+ NO$", "the bare NO that goes with the NONEXISTENT entry above"),
    # --- ACL ----------------------------------------------------------------------
    ("acl.imap", "*", "rewrite", (r"\bdiff\d*\b", "OWNER"),
     "the owner's identifier is the user's name: Dovecot's pre-authenticated user is diff, ours diffN"),
    ("acl.imap", "a17", "dovecot", r"^(\* MYRIGHTS Nope lrwstipekxacd|a17 OK)$",
     "MYRIGHTS of a mailbox that does not exist: Dovecot answers the default rights without looking; "
     "ours answers NO [NONEXISTENT] (the global entry above) as for every other command on it"),
    ("acl.imap", "a20", "dovecot", r"^(\* MYRIGHTS INBOX lrwstipekxacd|a20 OK)$",
     "MYRIGHTS with an extra argument: Dovecot ignores it; the RFC 4314 grammar has one argument (ours: BAD)"),
    ("acl.imap", "a20", "ours", r"^a20 BAD$", "as above"),
    # --- SELECT / STATUS ------------------------------------------------------
    ("status.imap", "t11", "ours", r"^\* STATUS INBOX \(MESSAGES 2 RECENT 0 UNSEEN 1\)$",
     "STATUS of the selected folder: our RECENT counts messages no session has claimed (this session "
     "claimed both at SELECT); Dovecot counts this session's \\Recent"),
    ("status.imap", "t11", "dovecot", r"^\* STATUS INBOX \(MESSAGES 2 RECENT 2 UNSEEN 1\)$", "see above"),
    ("status.imap", "t11", "dovecot", r"^t11 OK \[CLIENTBUG\]$",
     "Dovecot-only hint (STATUS on the selected mailbox); ours: plain OK"),
    ("status.imap", "t11", "ours", r"^t11 OK$", "see above"),
    ("condstore.imap", "c7", "dovecot", r"^c7 OK \[CLIENTBUG\]$", "as status.imap t11"),
    ("condstore.imap", "c7", "ours", r"^c7 OK$", "see above"),
    # --- QRESYNC / NOTIFY -------------------------------------------------------
    ("qresync.imap", "q22", "dovecot", r"^\* OK \[CLOSED\]$",
     "SELECT with a malformed QRESYNC parameter: both answer BAD; Dovecot closes the selected mailbox "
     "first, we keep it (a BAD command is not executed, RFC 3501 2.2.2 / 7.1.5)"),
    ("notify.imap", "n8", "ours", r"^n8 BAD$",
     "NOTIFY SET (personal (FlagChange)): RFC 5465 section 5.2 requires MessageNew and MessageExpunge "
     "with FlagChange and a BAD otherwise; Dovecot accepts it"),
    ("notify.imap", "n8", "dovecot", r"^n8 OK$", "see above"),
    ("notify.imap", "n11", "ours", r"^n11 BAD$",
     "NOTIFY SET without an event group: the RFC 5465 grammar needs at least one (event-groups); "
     "Dovecot accepts it"),
    ("notify.imap", "n11", "dovecot", r"^n11 OK$", "see above"),
    # --- read-only mailboxes ----------------------------------------------------
    ("expunge.imap", "e8", "ours", r"^e8 NO \[READ-ONLY\]$",
     "EXPUNGE in an EXAMINEd mailbox: RFC 3501 6.4.3 'NO - can't expunge'; Dovecot answers OK and "
     "expunges nothing"),
    ("expunge.imap", "e8", "dovecot", r"^e8 OK$", "see above"),
    ("store.imap", "r25", "ours", r"^r25 NO \[READ-ONLY\]$",
     "STORE in an EXAMINEd mailbox: RFC 3501 6.4.6 'NO - can't store that data'; Dovecot answers OK "
     "and changes nothing"),
    ("store.imap", "r25", "dovecot", r"^r25 OK$", "see above"),
    ("copymove.imap", "c22", "ours", r"^c22 NO \[READ-ONLY\]$",
     "MOVE from an EXAMINEd mailbox must not expunge (RFC 6851 3.3 needs the expunge right; RFC 3501 "
     "EXAMINE is read-only): Dovecot 2.3 moves the message anyway, a Dovecot bug"),
    ("copymove.imap", "c22", "dovecot", r"^(\* OK \[COPYUID \* 1 5\]|\* 1 EXPUNGE|c22 OK)$", "see above"),
    ("copymove.imap", "c23", "ours", r"^c23 OK \[COPYUID \* 1 5\]$",
     "follows from c22: Dovecot moved message 1 away, so its COPY copies another message"),
    ("copymove.imap", "c23", "dovecot", r"^c23 OK \[COPYUID \* 2 6\]$", "see above"),
    # --- EXPUNGE numbering --------------------------------------------------------
    ("copymove.imap", "c13", "ours", r"^\* 2 EXPUNGE$",
     "several EXPUNGE responses in one command: we send them ascending (each number counted after the "
     "previous removal: 2, 2), Dovecot descending (3, 2); RFC 3501 7.4.1 allows both"),
    ("copymove.imap", "c13", "dovecot", r"^\* 3 EXPUNGE$", "see above"),
    ("expunge.imap", "e12", "ours", r"^\* 3 EXPUNGE$", "EXPUNGE order, as copymove.imap c13"),
    ("expunge.imap", "e12", "dovecot", r"^\* 4 EXPUNGE$", "see above"),
    # --- sequence sets ----------------------------------------------------------
    ("errors.imap", "x1[34]", "ours", r"^x1[34] OK$",
     "FETCH 1:* / FETCH * in an empty mailbox: RFC 3501 9 defines * only for a non-empty mailbox; "
     "Dovecot answers BAD, we answer OK with nothing (as both do for UID FETCH 1:*), which sync "
     "clients expect"),
    ("errors.imap", "x1[34]", "dovecot", r"^x1[34] BAD$", "see above"),
    ("expunge.imap", "e19", "ours", r"^e19 OK$", "as errors.imap x13"),
    ("expunge.imap", "e19", "dovecot", r"^e19 BAD$", "see above"),
    ("errors.imap", "x24", "ours", r"^x24 BAD$",
     "'1,' is not a sequence-set (RFC 3501 9 grammar): BAD is right; Dovecot accepts it"),
    ("errors.imap", "x24", "dovecot", r"^(\* SEARCH|x24 OK)$", "see above"),
    # --- SEARCH -------------------------------------------------------------------
    ("search.imap", "q38", "ours", r"^q38 NO \[BADCHARSET \(UTF-8 US-ASCII\)\]$",
     "RFC 3501 7.1: BADCHARSET may list the supported charsets; we do"),
    ("search.imap", "q38", "dovecot", r"^q38 NO \[BADCHARSET\]$", "see above"),
    ("search.imap", "q43", "dovecot", r"^\* (FLAGS|OK \[PERMANENTFLAGS) ",
     "Dovecot registers a keyword that is only searched for (SEARCH KEYWORD nothing) and announces it; "
     "a search does not define a keyword"),
    # --- STORE ---------------------------------------------------------------------
    # --- ENABLE / NOOP ---------------------------------------------------------------
    ("misc.imap", "m4", "ours", r"^\* ENABLED$",
     "ENABLE with nothing enabled: RFC 5161's grammar allows an empty ENABLED response; Dovecot omits it"),
    ("errors.imap", "x33", "ours", r"^x33 BAD$", "NOOP takes no arguments (RFC 3501 grammar); Dovecot "
     "ignores them"),
    ("errors.imap", "x33", "dovecot", r"^x33 OK$", "see above"),
    # --- FETCH BINARY -----------------------------------------------------------------
    ("fetch.imap", "f3[59]", "rewrite", (r"Content-Transfer-Encoding: binary\\r\\n", ""),
     "BINARY[TEXT] (as BINARY[]): a decoded leaf's Content-Transfer-Encoding field says binary in both; "
     "we rewrite it where it stands, Dovecot removes it and appends it as the header's last field "
     "(field order carries no meaning, RFC 5322 3.6); every other byte is compared"),
    ("fetch.imap", "f37", "ours", r"^\* 1 FETCH \(BINARY\.SIZE\[3\.MIME\] 296 BINARY\[1\.1\.MIME\] "
     r"\"[^\"]*Content-Transfer-Encoding: binary\\r\\n\\r\\n\" BINARY\[3\.MIME\] \".*"
     r"Content-Transfer-Encoding: binary\\r\\n",
     "BINARY[n.MIME] of a leaf BINARY decodes: we show its header as BINARY[] does (Content-Transfer-Encoding "
     "binary, in place: the header describes the bytes BINARY[n] gives); Dovecot 2.3 answers BODY[n.MIME] "
     "unchanged (base64 / quoted-printable over decoded bytes)"),
    ("fetch.imap", "f37", "dovecot", r"^\* 1 FETCH \(BINARY\.SIZE\[3\.MIME\] 296 BINARY\[1\.1\.MIME\] "
     r"\"[^\"]*Content-Transfer-Encoding: quoted-printable\\r\\n\\r\\n\" BINARY\[3\.MIME\] \".*"
     r"Content-Transfer-Encoding: base64\\r\\n", "see above"),
    # --- LIST ------------------------------------------------------------------------
    ("list.imap", "*", "order", r"^\* (LIST|STATUS) ",
     "LIST order is the server's (RFC 3501 6.3.8): we sort names, Dovecot lists INBOX last"),
    ("list.imap", "l*", "rewrite", (r"(?<=\()\\Noselect ?| \\Noselect(?=\))", ""),
     "superior names a CREATE needs (RFC 3501 6.3.3 SHOULD create them) are real folders with us (as "
     "in Cyrus); Dovecot's fs layout makes them \\Noselect directories, also after their last child "
     "is deleted"),
    ("list.imap", "l1[89]", "rewrite", (r"\\Has(No)?Children ?", ""),
     "extended LIST (RFC 5258) without RETURN (CHILDREN): Dovecot sends no child attributes, we always "
     "send them (RFC 5258 4 allows it)"),
    ("list.imap", "l2[023]", "rewrite", (r"\\Has(No)?Children ?", ""), "as above"),
    ("list.imap", "l41", "rewrite", (r"\\Has(No)?Children ?", ""), "as above"),
]


def _without(lines, extra):
    """lines minus one occurrence per count in the Counter extra, in order."""
    left = collections.Counter(extra)
    out = []
    for x in lines:
        if left[x] > 0:
            left[x] -= 1
        else:
            out.append(x)
    return out


def compare(script, ours, theirs):
    """([(Command, kind, line)] unexplained differences, {indexes of the
    ALLOW entries that explained something})."""
    used = set()
    problems = []
    for (cmd, mine), (_, dov) in zip(ours, theirs):
        if mine == dov:
            continue
        entries = [(i, e) for i, e in enumerate(ALLOW)
                   if fnmatch.fnmatchcase(script, e[0]) and fnmatch.fnmatchcase(cmd.tag, e[1])]
        for i, e in entries:
            if e[2] == "rewrite":
                pat, repl = e[3]
                m2 = [re.sub(pat, repl, x) for x in mine]
                d2 = [re.sub(pat, repl, x) for x in dov]
                if m2 != mine or d2 != dov:
                    used.add(i)
                mine, dov = m2, d2
        if mine == dov:
            continue

        def explained(side, line):
            for i, e in entries:
                if e[2] == side and re.search(e[3], line):
                    used.add(i)
                    return True
            return False

        only_mine = collections.Counter(mine) - collections.Counter(dov)
        only_dov = collections.Counter(dov) - collections.Counter(mine)
        for line in only_mine.elements():
            if not explained("ours", line):
                problems.append((cmd, "only ours", line))
        for line in only_dov.elements():
            if not explained("dovecot", line):
                problems.append((cmd, "only Dovecot", line))
        common_m = _without(mine, only_mine)
        common_d = _without(dov, only_dov)
        if common_m != common_d and not any(explained("order", x) for x in common_m):
            problems.append((cmd, "order", "ours %r / Dovecot %r" % (common_m, common_d)))
    return problems, used


@unittest.skipUnless(HAVE_DOVECOT, "Dovecot (dovecot-imapd) is not installed")
class DovecotDiff(ClusterTest):
    maxDiff = None
    counter = 0

    def run_both(self, path):
        with open(path, encoding="utf-8") as f:
            cmds = imapscript.parse_script(f.read())
        name = os.path.basename(path)
        type(self).counter += 1
        user = "diff%d" % type(self).counter
        self.cluster.add_user(user, PW)
        w = self.cluster.login_raw(user, fe=type(self).counter % 2)
        try:
            ours = imapscript.run_script(w, cmds)
        finally:
            w.close()
        d = Dovecot()
        try:
            theirs = imapscript.run_script(d.w, cmds)
        except Exception as e:
            raise AssertionError("Dovecot: %s\n%s" % (e, d.log()))
        finally:
            d.close()
        return name, ours, theirs

    def check_script(self, path):
        name, ours, theirs = self.run_both(path)
        if os.environ.get("CPM_DIFF_SHOW"):
            for (c, m), (_, t) in zip(ours, theirs):
                print("\n== %s:%d %s" % (name, c.lineno, c.data[:200]))
                for x in m:
                    print("  ours  " + x[:int(os.environ.get("CPM_DIFF_SHOW_MAX", "300"))])
                for x in t:
                    print("  dove  " + x[:int(os.environ.get("CPM_DIFF_SHOW_MAX", "300"))])
        problems, used = compare(name, ours, theirs)
        stale = [e for i, e in enumerate(ALLOW) if e[0] == name and i not in used]
        report = []
        for cmd, kind, line in problems:
            report.append("%s:%d %s  %s: %s" % (name, cmd.lineno, cmd.data.split(b"\r\n", 1)[0][:120].decode(
                "utf-8", "replace"), kind, line[:400]))
        for e in stale:
            report.append("%s: ALLOW entry no longer needed: %r" % (name, e))
        self.assertEqual(report, [], "\n" + "\n".join(report))


def _make(path):
    def test(self):
        self.check_script(path)
    return test


for _p in SCRIPTS:
    setattr(DovecotDiff, "test_" + re.sub(r"\W", "_", os.path.basename(_p)[:-5]), _make(_p))


if __name__ == "__main__":
    unittest.main()
