"""CONDSTORE and QRESYNC (RFC 7162) through the cluster: enabling rules,
HIGHESTMODSEQ in SELECT/STATUS, FETCH MODSEQ and CHANGEDSINCE, STORE
UNCHANGEDSINCE with [MODIFIED], SEARCH MODSEQ, SELECT (QRESYNC ...) with
VANISHED (EARLIER), VANISHED instead of EXPUNGE, UID FETCH (CHANGEDSINCE n
VANISHED) and [CLOSED]. Expected answers follow the RFC and what Dovecot 2.3
answers to the same commands."""

import re

import cluster
from cluster import ClusterTest
from imapwire import expand_set, status

cluster.module_fixtures(globals())

PW = "cs-pw"


def populate(c):
    for u in ("cs1", "cs2", "cs3", "cs4", "cs5", "cs6"):
        c.add_user(u, PW)


def append(w, box, i, flags=""):
    head = ("APPEND %s %s" % (box, "(%s)" % flags if flags else "")).strip().encode()
    _, tagged = w.cmd_literal(head, b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i))
    assert status(tagged) == "OK", tagged
    return int(re.search(rb"APPENDUID \d+ (\d+)", tagged).group(1))


def highestmodseq(lines):
    for ln in lines:
        m = re.match(rb"\* OK \[HIGHESTMODSEQ (\d+)\]", ln)
        if m:
            return int(m.group(1))
    return None


def uidvalidity(lines):
    for ln in lines:
        m = re.match(rb"\* OK \[UIDVALIDITY (\d+)\]", ln)
        if m:
            return int(m.group(1))
    return None


def modseqs(lines):
    """{uid: modseq} from FETCH responses carrying UID and MODSEQ."""
    out = {}
    for ln in lines:
        u = re.search(rb"UID (\d+)", ln)
        m = re.search(rb"MODSEQ \((\d+)\)", ln)
        if u and m:
            out[int(u.group(1))] = int(m.group(1))
    return out


class Condstore(ClusterTest):
    def test_capability_and_enable(self):
        a = self.cluster.login_raw("cs1")
        untagged, tagged = a.cmd("CAPABILITY")
        caps = untagged[0].split()
        self.assertIn(b"CONDSTORE", caps)
        self.assertIn(b"QRESYNC", caps)
        untagged, tagged = a.cmd("ENABLE CONDSTORE")
        self.assertEqual((untagged, status(tagged)), ([b"* ENABLED CONDSTORE"], "OK"))
        untagged, _ = a.cmd("ENABLE QRESYNC X-UNKNOWN")
        self.assertEqual(untagged, [b"* ENABLED QRESYNC"])
        a.close()

    def test_select_status_fetch_store_search(self):
        a = self.cluster.login_raw("cs2", fe=0)
        a.cmd("CREATE Box")
        u1 = append(a, "Box", 1)
        u2 = append(a, "Box", 2, "\\Seen")
        # Without CONDSTORE: no HIGHESTMODSEQ, no MODSEQ in FETCH.
        untagged, _ = a.cmd("SELECT Box")
        self.assertIsNone(highestmodseq(untagged))
        untagged, _ = a.cmd("FETCH 1:* (FLAGS)")
        self.assertFalse(any(b"MODSEQ" in ln for ln in untagged), untagged)
        # FETCH MODSEQ enables CONDSTORE in the selected state: HIGHESTMODSEQ first.
        untagged, tagged = a.cmd("FETCH 1:* (UID MODSEQ)")
        self.assertEqual(status(tagged), "OK")
        hms = highestmodseq(untagged)
        self.assertIsNotNone(hms, untagged)
        self.assertTrue(untagged[0].startswith(b"* OK [HIGHESTMODSEQ "), untagged)
        ms = modseqs(untagged)
        self.assertEqual(sorted(ms), [u1, u2])
        self.assertEqual(max(ms.values()), hms)
        # STATUS HIGHESTMODSEQ agrees.
        untagged, _ = a.cmd("STATUS Box (MESSAGES HIGHESTMODSEQ)")
        self.assertEqual(untagged, [b"* STATUS Box (MESSAGES 2 HIGHESTMODSEQ %d)" % hms])
        # A STORE gives the message a new, higher MODSEQ, reported with FLAGS.
        untagged, tagged = a.cmd("STORE 1 +FLAGS (\\Flagged)")
        self.assertEqual(status(tagged), "OK")
        self.assertEqual(len(untagged), 1, untagged)
        m = re.match(rb"\* 1 FETCH \(FLAGS \(\\Flagged \\Recent\) MODSEQ \((\d+)\)\)$", untagged[0])
        self.assertTrue(m, untagged)
        new = int(m.group(1))
        self.assertGreater(new, hms)
        # .SILENT still tells the new MODSEQ once CONDSTORE is on.
        untagged, _ = a.cmd("UID STORE %d +FLAGS.SILENT (\\Answered)" % u2)
        self.assertEqual(len(untagged), 1, untagged)
        self.assertRegex(untagged[0], rb"^\* 2 FETCH \(UID %d MODSEQ \(\d+\)\)$" % u2)
        top = int(re.search(rb"MODSEQ \((\d+)\)", untagged[0]).group(1))
        # CHANGEDSINCE: only what changed after the value; MODSEQ is implied.
        untagged, _ = a.cmd("FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % new)
        self.assertEqual(untagged, [b"* 2 FETCH (FLAGS (\\Seen \\Answered \\Recent) MODSEQ (%d))" % top])
        untagged, _ = a.cmd("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % top)
        self.assertEqual(untagged, [])
        # A bare PREVIEW followed by the modifier list (not PREVIEW's own "(LAZY)").
        untagged, tagged = a.cmd("FETCH 1:* PREVIEW (CHANGEDSINCE %d)" % new)
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertEqual(untagged, [b'* 2 FETCH (MODSEQ (%d) PREVIEW "body 2")' % top])
        # UNCHANGEDSINCE: both messages changed after hms, so both are left
        # alone and named in [MODIFIED].
        untagged, tagged = a.cmd("STORE 1:2 (UNCHANGEDSINCE %d) +FLAGS (\\Draft)" % hms)
        self.assertEqual(untagged, [])
        self.assertRegex(tagged, rb"^\S+ OK \[MODIFIED 1:2\]")
        untagged, tagged = a.cmd("UID STORE %d,%d (UNCHANGEDSINCE %d) +FLAGS (\\Draft)" % (u1, u2, new))
        self.assertRegex(tagged, rb"^\S+ OK \[MODIFIED %d\]" % u2)
        self.assertEqual(len(untagged), 1, untagged)
        self.assertRegex(untagged[0], rb"^\* 1 FETCH \(UID %d FLAGS \(\\Flagged \\Draft \\Recent\) MODSEQ \(\d+\)\)$" % u1)
        draft_ms = int(re.search(rb"MODSEQ \((\d+)\)", untagged[0]).group(1))
        # A passing UNCHANGEDSINCE at the current value changes the message.
        untagged, tagged = a.cmd("STORE 2 (UNCHANGEDSINCE %d) -FLAGS (\\Answered)" % top)
        self.assertEqual(status(tagged), "OK")
        self.assertNotIn(b"MODIFIED", tagged)
        self.assertEqual(len(untagged), 1)
        # SEARCH MODSEQ: the matches and their highest MODSEQ.
        untagged, _ = a.cmd("SEARCH MODSEQ %d" % draft_ms)
        self.assertRegex(untagged[0], rb"^\* SEARCH 1 2 \(MODSEQ \d+\)$")
        untagged, _ = a.cmd('UID SEARCH MODSEQ "/flags/\\\\draft" all %d' % (draft_ms + 1))
        self.assertRegex(untagged[0], rb"^\* SEARCH %d \(MODSEQ \d+\)$" % u2)
        untagged, _ = a.cmd("SEARCH RETURN (COUNT) MODSEQ 1")
        self.assertRegex(untagged[0], rb'^\* ESEARCH \(TAG "\S+"\) COUNT 2 MODSEQ \d+$')
        untagged, _ = a.cmd("SEARCH MODSEQ 999999999")
        self.assertEqual(untagged, [b"* SEARCH"])
        untagged, tagged = a.cmd("SEARCH MODSEQ x")
        self.assertEqual(status(tagged), "BAD")
        a.close()

    def test_select_condstore_and_closed(self):
        a = self.cluster.login_raw("cs3")
        a.cmd("CREATE One")
        append(a, "One", 1)
        untagged, _ = a.cmd("SELECT One (CONDSTORE)")
        self.assertIsNotNone(highestmodseq(untagged))
        # Another SELECT closes the first: [CLOSED] comes first.
        untagged, tagged = a.cmd("EXAMINE INBOX")
        self.assertEqual(untagged[0], b"* OK [CLOSED] Previous mailbox closed.")
        self.assertIsNotNone(highestmodseq(untagged))  # CONDSTORE stays on
        # Bad parameters are a BAD and keep the selection.
        _, tagged = a.cmd("SELECT One (BOGUS)")
        self.assertEqual(status(tagged), "BAD")
        _, tagged = a.cmd("SELECT One (QRESYNC (1 1))")
        self.assertEqual(status(tagged), "BAD")  # QRESYNC not enabled
        _, tagged = a.cmd("UNSELECT")
        self.assertEqual(status(tagged), "OK")  # still selected
        a.close()

    def test_qresync_select_and_vanished(self):
        w = self.cluster.login_raw("cs4", fe=1)
        w.cmd("CREATE Q")
        uids = [append(w, "Q", i) for i in range(1, 7)]
        a = self.cluster.login_raw("cs4", fe=0)
        a.cmd("ENABLE QRESYNC")
        untagged, _ = a.cmd("SELECT Q")
        uv, hms = uidvalidity(untagged), highestmodseq(untagged)
        a.cmd("UNSELECT")
        # Offline: the writer (other front-end) flags, expunges and appends.
        w.cmd("SELECT Q")
        w.cmd("UID STORE %d +FLAGS.SILENT (\\Flagged)" % uids[1])
        w.cmd("UID STORE %d,%d +FLAGS.SILENT (\\Deleted)" % (uids[2], uids[4]))
        w.cmd("EXPUNGE")
        u7 = append(w, "Q", 7)
        # One round trip resyncs: VANISHED (EARLIER) then the changed messages.
        untagged, tagged = a.cmd("SELECT Q (QRESYNC (%d %d))" % (uv, hms))
        self.assertEqual(status(tagged), "OK")
        self.assertIn(b"* VANISHED (EARLIER) %d,%d" % (uids[2], uids[4]), untagged)
        fetches = [ln for ln in untagged if b" FETCH " in ln]
        self.assertEqual(sorted(modseqs(fetches)), [uids[1], u7])
        self.assertRegex(fetches[0], rb"^\* 2 FETCH \(UID %d FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$" % uids[1])
        self.assertTrue(all(ln.startswith(b"* ") for ln in untagged))
        self.assertLess(untagged.index(b"* VANISHED (EARLIER) %d,%d" % (uids[2], uids[4])),
                        untagged.index(fetches[0]))
        hms2 = highestmodseq(untagged)
        # known-uids limits VANISHED; [CLOSED] since a folder was selected.
        untagged, _ = a.cmd("EXAMINE Q (QRESYNC (%d %d %d:%d))" % (uv, hms, uids[0], uids[3]))
        self.assertEqual(untagged[0], b"* OK [CLOSED] Previous mailbox closed.")
        self.assertIn(b"* VANISHED (EARLIER) %d" % uids[2], untagged)
        # Up to date: nothing but the usual responses.
        untagged, _ = a.cmd("SELECT Q (QRESYNC (%d %d))" % (uv, hms2))
        self.assertFalse(any(b"VANISHED" in ln or b"FETCH" in ln for ln in untagged), untagged)
        # Wrong UIDVALIDITY: a plain SELECT.
        untagged, tagged = a.cmd("SELECT Q (QRESYNC (%d 1 1:100 (1:2 %d,%d)))" % (uv + 1, uids[0], uids[1]))
        self.assertEqual(status(tagged), "OK")
        self.assertFalse(any(b"VANISHED" in ln for ln in untagged), untagged)
        _, tagged = a.cmd("SELECT Q (QRESYNC (%d 1 1:100 (1:3 1)))" % uv)
        self.assertEqual(status(tagged), "BAD")  # seq-match-data of unequal sizes
        a.cmd("SELECT Q")
        # Expunges made elsewhere arrive as VANISHED, not EXPUNGE.
        w.cmd("UID STORE %d +FLAGS.SILENT (\\Deleted)" % uids[0])
        w.cmd("EXPUNGE")
        untagged, _ = a.cmd("NOOP")
        self.assertIn(b"* VANISHED %d" % uids[0], untagged)
        self.assertFalse(any(b"EXPUNGE" in ln for ln in untagged), untagged)
        # Our own EXPUNGE: VANISHED, and HIGHESTMODSEQ in the tagged OK.
        a.cmd("UID STORE %d +FLAGS.SILENT (\\Deleted)" % uids[5])
        untagged, tagged = a.cmd("EXPUNGE")
        self.assertEqual(untagged, [b"* VANISHED %d" % uids[5]])
        self.assertRegex(tagged, rb"^\S+ OK \[HIGHESTMODSEQ \d+\] Expunge completed")
        # UID FETCH (CHANGEDSINCE n VANISHED): VANISHED (EARLIER) first.
        untagged, tagged = a.cmd("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % hms)
        self.assertEqual(status(tagged), "OK")
        gone = [uids[0], uids[2], uids[4], uids[5]]
        self.assertTrue(untagged[0].startswith(b"* VANISHED (EARLIER) "), untagged)
        vanished = untagged[0][len(b"* VANISHED (EARLIER) "):]
        self.assertEqual(expand_set(vanished), gone)
        self.assertEqual(sorted(modseqs(untagged[1:])), [uids[1], u7])
        _, tagged = a.cmd("FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
        self.assertEqual(status(tagged), "BAD")
        _, tagged = a.cmd("UID FETCH 1:* (FLAGS) (VANISHED)")
        self.assertEqual(status(tagged), "BAD")
        w.close()
        a.close()

    def test_idle_push_carries_modseq(self):
        a = self.cluster.login_raw("cs5", fe=0)
        b = self.cluster.login_raw("cs5", fe=1)
        a.cmd("CREATE I")
        append(b, "I", 1)
        a.cmd("ENABLE CONDSTORE")
        a.cmd("SELECT I")
        b.cmd("SELECT I")
        b.cmd("STORE 1 +FLAGS.SILENT (\\Seen)")
        untagged, _ = a.cmd("NOOP")
        self.assertEqual(len(untagged), 1, untagged)
        self.assertRegex(untagged[0], rb"^\* 1 FETCH \(FLAGS \(\\Seen \\Recent\) MODSEQ \(\d+\)\)$")
        a.close()
        b.close()

    def test_list_status_highestmodseq(self):
        a = self.cluster.login_raw("cs6")
        a.cmd("CREATE L")
        append(a, "L", 1)
        untagged, tagged = a.cmd('LIST "" "L" RETURN (STATUS (HIGHESTMODSEQ))')
        self.assertEqual(status(tagged), "OK")
        self.assertRegex(untagged[-1], rb"^\* STATUS L \(HIGHESTMODSEQ [1-9]\d*\)$")
        a.close()
