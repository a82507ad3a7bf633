"""QUOTA (RFC 9208, STORAGE): per-user limit set with cpm-admin; APPEND and
COPY beyond it get NO [OVERQUOTA]; EXPUNGE gives the space back."""

import re

import cluster
from cluster import ClusterTest
from imapwire import status

cluster.module_fixtures(globals())

PW = "quota-pw"
BIG = b"Subject: big\r\n\r\n" + b"q" * (600 * 1024) + b"\r\n"


def populate(c):
    c.add_user("quo", PW)
    c.add_user("free", PW)
    r = c.admin("user", "quota", "quo", "1")
    assert r.returncode == 0, r.stderr


class Quota(ClusterTest):
    def test_limit_enforced_and_released(self):
        w = self.cluster.login_raw("quo")
        untagged, tagged = w.cmd("GETQUOTAROOT INBOX")
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertEqual(untagged, [b'* QUOTAROOT INBOX ""', b'* QUOTA "" (STORAGE 0 1024)'])
        _, tagged = w.cmd_literal(b"APPEND INBOX", BIG)
        self.assertEqual(status(tagged), "OK", tagged)
        used = (len(BIG) + 1023) // 1024
        untagged, _ = w.cmd('GETQUOTA ""')
        self.assertEqual(untagged, [b'* QUOTA "" (STORAGE %d 1024)' % used])
        _, tagged = w.cmd_literal(b"APPEND INBOX", BIG)
        self.assertRegex(tagged, rb"^a\d+ NO \[OVERQUOTA\] ")
        w.cmd("CREATE Other")
        w.cmd("SELECT INBOX")
        self.assertRegex(w.cmd("COPY 1 Other")[1], rb"^a\d+ NO \[OVERQUOTA\] ")
        # MOVE needs no extra space.
        self.assertEqual(status(w.cmd("MOVE 1 Other")[1]), "OK")
        w.cmd("SELECT Other")
        w.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
        w.cmd("EXPUNGE")
        untagged, _ = w.cmd('GETQUOTA ""')
        self.assertEqual(untagged, [b'* QUOTA "" (STORAGE 0 1024)'])
        _, tagged = w.cmd_literal(b"APPEND INBOX", BIG)
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertRegex(w.cmd('SETQUOTA "" (STORAGE 10)')[1], rb"^a\d+ NO ")
        self.assertRegex(w.cmd('GETQUOTA "nope"')[1], rb"^a\d+ NO ")
        # A new password keeps the accounting.
        r = self.cluster.admin("user", "passwd", "quo", input=PW + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        untagged, _ = w.cmd('GETQUOTA ""')
        self.assertEqual(untagged, [b'* QUOTA "" (STORAGE %d 1024)' % used])
        w.close()

    def test_unlimited(self):
        w = self.cluster.login_raw("free", fe=1)
        untagged, tagged = w.cmd("GETQUOTAROOT INBOX")
        self.assertEqual((untagged, status(tagged)), ([b"* QUOTAROOT INBOX"], "OK"))
        _, tagged = w.cmd_literal(b"APPEND INBOX", BIG)
        self.assertEqual(status(tagged), "OK", tagged)
        w.close()
