"""NAMESPACE (RFC 2342), CHECK (RFC 3501 6.4.1), UNSELECT (RFC 3958)."""

import cluster
from cluster import ClusterTest
from imapwire import status

cluster.module_fixtures(globals())

PW = "sel-pw"


def populate(c):
    c.add_user("nora", PW)


class Namespace(ClusterTest):
    def test_namespace_personal_and_other_users(self):
        w = self.cluster.login_raw("nora")
        untagged, tagged = w.cmd("NAMESPACE")
        self.assertEqual(untagged, [b'* NAMESPACE (("" "/")) (("Other Users/" "/")) NIL'])
        self.assertEqual(status(tagged), "OK", tagged)
        _, tagged = w.cmd("NAMESPACE extra")
        self.assertEqual(status(tagged), "BAD", tagged)
        w.close()

    def test_namespace_needs_login(self):
        w = self.cluster.raw(0)
        _, tagged = w.cmd("NAMESPACE")
        self.assertEqual(status(tagged), "BAD", tagged)
        w.close()

    def test_capabilities_advertise_what_works(self):
        w = self.cluster.login_raw("nora")
        untagged, _ = w.cmd("CAPABILITY")
        caps = untagged[0].split()[2:]
        for c in (b"NAMESPACE", b"UNSELECT"):
            self.assertIn(c, caps)
        w.close()


class Selected(ClusterTest):
    def test_check_and_unselect(self):
        w = self.cluster.login_raw("nora")
        _, tagged = w.cmd("CHECK")
        self.assertEqual(status(tagged), "BAD", "CHECK needs a selected mailbox: %r" % tagged)
        _, tagged = w.cmd("SELECT INBOX")
        self.assertEqual(status(tagged), "OK", tagged)
        untagged, tagged = w.cmd("CHECK")
        self.assertEqual((untagged, status(tagged)), ([], "OK"))
        untagged, tagged = w.cmd("UNSELECT")
        self.assertEqual((untagged, status(tagged)), ([], "OK"))
        # Back in the authenticated state: FETCH is not allowed, UNSELECT neither.
        _, tagged = w.cmd("FETCH 1 FLAGS")
        self.assertEqual(status(tagged), "BAD", tagged)
        _, tagged = w.cmd("UNSELECT")
        self.assertEqual(status(tagged), "BAD", tagged)
        w.close()
