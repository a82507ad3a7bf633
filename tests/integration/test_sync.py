"""Untagged updates (RFC 3501 7.3.1, 7.4.1, 7.4.2): a session learns, on NOOP
or CHECK, what other sessions on any front-end changed in its selected
folder — EXISTS for new messages, FETCH (FLAGS) for flag changes, EXPUNGE
for removed ones — with sequence numbers kept consistent."""

import re

import cluster
from cluster import ClusterTest
from imapwire import status

cluster.module_fixtures(globals())

PW = "sync-pw"


def populate(c):
    c.add_user("syn", PW)


def append(w, box, i):
    _, tagged = w.cmd_literal(("APPEND %s" % box).encode(), b"Subject: s%d\r\n\r\nx\r\n" % i)
    assert status(tagged) == "OK", tagged
    return int(re.search(rb"APPENDUID \d+ (\d+)", tagged).group(1))


class Sync(ClusterTest):
    def test_other_frontend_changes_reach_noop(self):
        a = self.cluster.login_raw("syn", fe=0)
        b = self.cluster.login_raw("syn", fe=1)
        a.cmd("CREATE Live")
        u1 = append(b, "Live", 1)
        a.cmd("SELECT Live")
        untagged, tagged = a.cmd("NOOP")
        self.assertEqual((untagged, status(tagged)), ([], "OK"))
        # New messages: one EXISTS with the new count.
        u2 = append(b, "Live", 2)
        u3 = append(b, "Live", 3)
        untagged, _ = a.cmd("NOOP")
        self.assertEqual(untagged, [b"* 3 EXISTS", b"* 3 RECENT"])  # the first session told claims \Recent
        untagged, _ = a.cmd("FETCH 2:3 UID")
        self.assertEqual(untagged, [b"* 2 FETCH (UID %d)" % u2, b"* 3 FETCH (UID %d)" % u3])
        # Flags changed elsewhere: FETCH (FLAGS ...) with the sequence number.
        b.cmd("SELECT Live")
        b.cmd("STORE 2 +FLAGS.SILENT (\\Flagged)")
        untagged, _ = a.cmd("NOOP")
        self.assertEqual(len(untagged), 1, untagged)
        self.assertRegex(untagged[0], rb"^\* 2 FETCH \(FLAGS \([^)]*\\Flagged[^)]*\)\)$")
        # Expunged elsewhere: EXPUNGE renumbers; then CHECK reports the next.
        b.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
        b.cmd("EXPUNGE")
        untagged, _ = a.cmd("CHECK")
        self.assertEqual(untagged, [b"* 1 EXPUNGE"])
        untagged, _ = a.cmd("FETCH 1:* UID")
        self.assertEqual(untagged, [b"* 1 FETCH (UID %d)" % u2, b"* 2 FETCH (UID %d)" % u3])
        untagged, _ = a.cmd("NOOP")
        self.assertEqual(untagged, [])
        self.assertTrue(u1)
        b.close()
        a.close()
