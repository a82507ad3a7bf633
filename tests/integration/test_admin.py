"""cpm-admin against a running cluster: user add / list / passwd / del / where, ping.
Exit 0 on success, 1 with a message on stderr otherwise."""

import cluster
from cluster import ClusterTest
from imapwire import status

cluster.module_fixtures(globals())


def populate(c):
    c.add_user("admin-a", "first-a")
    c.add_user("admin-b", "first-b")


def login_status(c, user, pw, fe=0):
    w = c.raw(fe)
    _, tagged = w.cmd('LOGIN "%s" "%s"' % (user, pw))
    w.close()
    return tagged


class Admin(ClusterTest):
    def test_user_list(self):
        names = ["list-%d" % i for i in range(6)]
        for n in names:
            self.cluster.add_user(n, "pw")
        r = self.cluster.admin("user", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        listed = r.stdout.splitlines()
        self.assertEqual(len(listed), len(set(listed)), "duplicates in user list")
        for n in names + ["admin-a", "admin-b"]:
            self.assertIn(n, listed)
        self.assertEqual(set(listed), set(self.cluster.users), "list is exactly the users created")

    def test_user_add_existing_fails(self):
        r = self.cluster.admin("user", "add", "admin-a", input="other\n")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.strip(), "a failure must say why on stderr")
        self.assertEqual(status(login_status(self.cluster, "admin-a", "first-a")), "OK",
                         "a refused add must not change the password")

    def test_passwd(self):
        self.cluster.add_user("pw-changer", "old-password")
        self.assertEqual(status(login_status(self.cluster, "pw-changer", "old-password")), "OK")
        r = self.cluster.admin("user", "passwd", "pw-changer", input="new password\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        for fe in (0, 1):
            self.assertRegex(login_status(self.cluster, "pw-changer", "old-password", fe),
                             rb"^a1 NO \[AUTHENTICATIONFAILED\] ")
            self.assertEqual(status(login_status(self.cluster, "pw-changer", "new password", fe)), "OK")

    def test_passwd_unknown_user_fails(self):
        r = self.cluster.admin("user", "passwd", "no-such-admin-user", input="x\n")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.strip())

    def test_del(self):
        self.cluster.add_user("doomed", "doomed-pw")
        w = self.cluster.login_raw("doomed")
        w.close()
        r = self.cluster.admin("user", "del", "doomed")
        self.assertEqual(r.returncode, 0, r.stderr)
        del self.cluster.users["doomed"]
        self.assertRegex(login_status(self.cluster, "doomed", "doomed-pw"), rb"^a1 NO \[AUTHENTICATIONFAILED\] ")
        r = self.cluster.admin("user", "list")
        self.assertNotIn("doomed", r.stdout.splitlines())
        # Deleting again fails; re-adding gives a fresh account with only the default folders.
        r = self.cluster.admin("user", "del", "doomed")
        self.assertEqual(r.returncode, 1)
        self.cluster.add_user("doomed", "reborn")
        w = self.cluster.login_raw("doomed")
        untagged, tagged = w.cmd('LIST "" "*"')
        self.assertEqual(status(tagged), "OK")
        self.assertEqual(len(untagged), 2, untagged)
        w.close()

    def test_where(self):
        for name in ("admin-a", "admin-b", "someone-not-created"):
            r = self.cluster.admin("user", "where", name)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.strip(), self.cluster.shard_of(name))

    def test_ping(self):
        r = self.cluster.admin("ping")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.strip().splitlines()
        self.assertEqual(len(lines), 2, r.stdout)
        self.assertTrue(any("s1" in ln for ln in lines) and any("s2" in ln for ln in lines), r.stdout)

    def test_usage_errors(self):
        for args in (("user",), ("user", "add"), ("frobnicate",), ("user", "explode", "x")):
            r = self.cluster.admin(*args)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertTrue(r.stderr.strip(), args)

    def test_password_from_first_line_only(self):
        self.cluster.add_user("firstline", "line one")
        r = self.cluster.admin("user", "passwd", "firstline", input="line two\nline three\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(status(login_status(self.cluster, "firstline", "line two")), "OK")
