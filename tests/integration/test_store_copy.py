"""STORE (RFC 3501 6.4.6), EXPUNGE/CLOSE (6.4.3, 6.4.2), COPY (6.4.7), MOVE
(RFC 6851) and UIDPLUS (RFC 4315: UID EXPUNGE, COPYUID)."""

import re

import cluster
from cluster import ClusterTest
from checks import check_select
from imapwire import status

cluster.module_fixtures(globals())

PW = "store-pw"


def populate(c):
    for name in ("st", "ex", "cp", "mv"):
        c.add_user(name, PW)


def msg(i):
    return b"From: a@example.org\r\nSubject: m%d\r\n\r\nbody %d \xff\r\n" % (i, i)


def fill(w, box, n):
    uids = []
    for i in range(n):
        _, tagged = w.cmd_literal(("APPEND %s" % box).encode(), msg(i))
        assert status(tagged) == "OK", tagged
        uids.append(int(re.search(rb"APPENDUID \d+ (\d+)", tagged).group(1)))
    return uids


def flags_of(line):
    m = re.search(rb"FLAGS \(([^)]*)\)", line)
    return set(m.group(1).decode().split()) if m else None


class Store(ClusterTest):
    def test_store_modes(self):
        w = self.cluster.login_raw("st")
        w.cmd("CREATE S")
        fill(w, "S", 3)
        w.cmd("SELECT S")
        untagged, tagged = w.cmd("STORE 1 +FLAGS (\\Flagged $Work)")
        self.assertEqual(status(tagged), "OK", tagged)
        # A new keyword: the folder's FLAGS and PERMANENTFLAGS first (RFC 3501 7.2.6).
        self.assertEqual(untagged[:2], [b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)",
                                        b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft "
                                        b"$Work \\*)] Flags permitted."])
        self.assertEqual(len(untagged), 3)
        self.assertTrue(untagged[2].startswith(b"* 1 FETCH (FLAGS ("), untagged)
        self.assertTrue({"\\Flagged", "$Work"} <= flags_of(untagged[2]))
        untagged, _ = w.cmd("STORE 1 -FLAGS ($Work)")
        self.assertNotIn("$Work", flags_of(untagged[0]))
        self.assertIn("\\Flagged", flags_of(untagged[0]))
        untagged, _ = w.cmd("STORE 1:* FLAGS \\Seen \\Answered")
        self.assertEqual(len(untagged), 3)
        for line in untagged:
            self.assertEqual(flags_of(line) - {"\\Recent"}, {"\\Seen", "\\Answered"})
        untagged, tagged = w.cmd("STORE 2 +FLAGS.SILENT (\\Draft)")
        self.assertEqual((untagged, status(tagged)), ([], "OK"))
        untagged, _ = w.cmd("FETCH 2 FLAGS")
        self.assertIn("\\Draft", flags_of(untagged[0]))
        untagged, tagged = w.cmd("UID STORE 1:* +FLAGS (\\Flagged)")
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertEqual(len(untagged), 3, untagged)
        self.assertRegex(untagged[0], rb"^\* 1 FETCH \(UID \d+ FLAGS \(")
        # A STORE that changes nothing reports nothing (as Dovecot).
        untagged, tagged = w.cmd("STORE 1 +FLAGS (\\Flagged)")
        self.assertEqual((untagged, status(tagged)), ([], "OK"))
        self.assertEqual(status(w.cmd("STORE 1 FLAGS (\\Recent)")[1]), "BAD")
        self.assertEqual(status(w.cmd("STORE 1 BOGUS (\\Seen)")[1]), "BAD")
        self.assertEqual(status(w.cmd("STORE 9 FLAGS (\\Seen)")[1]), "BAD")
        # Another session sees the stored flags.
        w2 = self.cluster.login_raw("st", fe=1)
        w2.cmd("EXAMINE S")
        untagged, _ = w2.cmd("FETCH 2 FLAGS")
        self.assertTrue({"\\Seen", "\\Answered", "\\Draft", "\\Flagged"} <= flags_of(untagged[0]))
        self.assertRegex(w2.cmd("STORE 1 +FLAGS (\\Seen)")[1], rb"^a\d+ NO \[READ-ONLY\]")
        w2.close()
        w.close()


class Expunge(ClusterTest):
    def test_expunge_reports_and_renumbers(self):
        w = self.cluster.login_raw("ex")
        w.cmd("CREATE E")
        uids = fill(w, "E", 4)
        w.cmd("SELECT E")
        w.cmd("STORE 1,3 +FLAGS.SILENT (\\Deleted)")
        untagged, tagged = w.cmd("EXPUNGE")
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertEqual(untagged, [b"* 1 EXPUNGE", b"* 2 EXPUNGE"])
        untagged, _ = w.cmd("FETCH 1:* UID")
        self.assertEqual(untagged, [b"* 1 FETCH (UID %d)" % uids[1], b"* 2 FETCH (UID %d)" % uids[3]])
        # UID EXPUNGE removes only the named \Deleted messages.
        w.cmd("STORE 1:2 +FLAGS.SILENT (\\Deleted)")
        untagged, tagged = w.cmd("UID EXPUNGE %d" % uids[3])
        self.assertEqual((untagged, status(tagged)), ([b"* 2 EXPUNGE"], "OK"))
        # CLOSE expunges the rest silently and leaves the selected state.
        untagged, tagged = w.cmd("CLOSE")
        self.assertEqual((untagged, status(tagged)), ([], "OK"))
        self.assertEqual(status(w.cmd("FETCH 1 UID")[1]), "BAD")
        untagged, _ = w.cmd("STATUS E (MESSAGES UIDNEXT)")
        self.assertEqual(untagged, [b"* STATUS E (MESSAGES 0 UIDNEXT %d)" % (uids[3] + 1)])
        # EXAMINE is read-only: EXPUNGE refused, CLOSE expunges nothing.
        fill(w, "E", 1)
        w.cmd("SELECT E")
        w.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
        w.cmd("EXAMINE E")
        self.assertRegex(w.cmd("EXPUNGE")[1], rb"^a\d+ NO \[READ-ONLY\]")
        self.assertEqual(status(w.cmd("CLOSE")[1]), "OK")
        untagged, _ = w.cmd("STATUS E (MESSAGES)")
        self.assertEqual(untagged, [b"* STATUS E (MESSAGES 1)"])
        w.close()


class CopyMove(ClusterTest):
    def test_copy_with_copyuid(self):
        w = self.cluster.login_raw("cp")
        w.cmd("CREATE From")
        w.cmd("CREATE To")
        src = fill(w, "From", 3)
        sel = check_select(self, *w.cmd("SELECT To"))
        w.cmd("SELECT From")
        w.cmd("STORE 2 +FLAGS.SILENT (\\Flagged)")
        untagged, tagged = w.cmd("COPY 2:3 To")
        m = re.match(rb"^a\d+ OK \[COPYUID (\d+) (\S+) (\S+)\] ", tagged)
        self.assertTrue(m, tagged)
        self.assertEqual(m.group(1).decode(), sel["UIDVALIDITY"])
        self.assertEqual(m.group(2), b"%d:%d" % (src[1], src[2]))
        self.assertEqual(m.group(3), b"1:2")
        w2 = self.cluster.login_raw("cp", fe=1)
        w2.cmd("EXAMINE To")
        untagged, _ = w2.cmd("FETCH 1:2 (FLAGS BODY.PEEK[])")
        self.assertIn(msg(1), b"".join(untagged))
        self.assertIn("\\Flagged", flags_of(untagged[0]))
        w2.close()
        self.assertRegex(w.cmd("COPY 1 Nowhere")[1], rb"^a\d+ NO \[TRYCREATE\] ")
        untagged, tagged = w.cmd("UID COPY %d To" % src[0])
        self.assertRegex(tagged, rb"^a\d+ OK \[COPYUID \d+ %d 3\] " % src[0])
        w.close()

    def test_move(self):
        w = self.cluster.login_raw("mv")
        w.cmd("CREATE Src")
        w.cmd("CREATE Dst")
        src = fill(w, "Src", 3)
        w.cmd("SELECT Src")
        untagged, tagged = w.cmd("MOVE 1,3 Dst")
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertRegex(untagged[0], rb"^\* OK \[COPYUID \d+ %d,%d 1:2\] " % (src[0], src[2]))
        self.assertEqual(untagged[1:], [b"* 1 EXPUNGE", b"* 2 EXPUNGE"])
        untagged, _ = w.cmd("FETCH 1:* UID")
        self.assertEqual(untagged, [b"* 1 FETCH (UID %d)" % src[1]])
        untagged, tagged = w.cmd("UID MOVE %d Dst" % src[1])
        self.assertEqual(untagged[1:], [b"* 1 EXPUNGE"])
        untagged, _ = w.cmd("STATUS Dst (MESSAGES)")
        self.assertEqual(untagged, [b"* STATUS Dst (MESSAGES 3)"])
        self.assertEqual(status(w.cmd("MOVE 1 Dst")[1]), "BAD")  # no message 1 any more
        self.assertEqual(status(w.cmd("UID MOVE 1:* Dst")[1]), "OK")  # nothing to move
        w.cmd("SELECT Dst")
        self.assertEqual(status(w.cmd("MOVE 1 Dst")[1]), "OK")  # within one mailbox: a new UID, as Dovecot
        w.close()

    def test_copy_into_selected_folder_reports_exists(self):
        # RFC 3501 7.3.1: the new size comes before the tagged OK, as after
        # APPEND (found by tests/interop/test_dovecot_diff.py, copymove.imap).
        w = self.cluster.login_raw("cp")
        w.cmd("CREATE Self")
        fill(w, "Self", 2)
        w.cmd("SELECT Self")
        untagged, tagged = w.cmd("COPY 1:2 Self")
        self.assertRegex(tagged, rb"^a\d+ OK \[COPYUID \d+ 1:2 3:4\] ")
        self.assertEqual(untagged, [b"* 4 EXISTS", b"* 4 RECENT"])  # the first session told claims \Recent
        untagged, tagged = w.cmd("UID COPY 9 Self")  # nothing copied: nothing to report
        self.assertEqual(untagged, [])
        untagged, _ = w.cmd("FETCH 3:4 UID")
        self.assertEqual(untagged, [b"* 3 FETCH (UID 3)", b"* 4 FETCH (UID 4)"])
        w.close()
