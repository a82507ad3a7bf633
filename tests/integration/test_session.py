"""Session basics over a raw socket (RFC 3501 6.1, 6.2.3; RFC 2971 ID; RFC 5161 ENABLE):
greeting, CAPABILITY, NOOP, LOGOUT, LOGIN (ok / bad password / unknown user /
literals / quoted escapes), ID, ENABLE, state checks."""

import time

import cluster
from cluster import ClusterTest
from imapwire import capabilities, status, parse

cluster.module_fixtures(globals())

PASSWORD = "correct horse"
REQUIRED_CAPS = {"IMAP4rev1", "STARTTLS", "AUTH=PLAIN", "AUTH=SCRAM-SHA-256", "SASL-IR", "LITERAL+",
                 "ID", "ENABLE"}


def populate(c):
    c.add_user("alice", PASSWORD)
    c.add_user("quoter", 'pa ss"w\\d')


TEXT_RE = rb" [\x20-\x7e]+$"   # RFC 3501 resp-text: a text after the code, printable


class Greeting(ClusterTest):
    def test_greeting_has_capability_code(self):
        for fe in (0, 1):
            w = self.cluster.raw(fe)
            g = w.greeting_line
            self.assertRegex(g, rb"^\* OK \[CAPABILITY [^\]]+\]" + TEXT_RE)
            caps = capabilities(g)
            self.assertEqual(len(caps), len(set(caps)), "duplicate capabilities: %r" % caps)
            missing = REQUIRED_CAPS - set(caps)
            self.assertFalse(missing, "greeting lacks %s: %r" % (missing, g))
            self.assertNotIn("LOGINDISABLED", caps, "loopback peers may log in before TLS")
            w.close()

    def test_capability_command(self):
        w = self.cluster.raw(0)
        untagged, tagged = w.cmd("CAPABILITY")
        self.assertRegex(tagged, rb"^a1 OK" + TEXT_RE)
        self.assertEqual(len(untagged), 1, untagged)
        self.assertRegex(untagged[0], rb"^\* CAPABILITY IMAP4rev1( [!-~]+)*$")
        self.assertEqual(set(capabilities(untagged[0])), set(capabilities(w.greeting_line)))
        w.close()

    def test_commands_are_case_insensitive(self):
        w = self.cluster.raw(0)
        untagged, tagged = w.cmd("capability")
        self.assertTrue(untagged and untagged[0].startswith(b"* CAPABILITY "), untagged)
        self.assertEqual(status(tagged), "OK")
        _, tagged = w.cmd("nOoP")
        self.assertEqual(status(tagged), "OK")
        w.close()

    def test_capability_with_argument_is_bad(self):
        w = self.cluster.raw(0)
        _, tagged = w.cmd("CAPABILITY extra")
        self.assertRegex(tagged, rb"^a1 BAD" + TEXT_RE)
        w.close()


class NoopLogout(ClusterTest):
    def test_noop(self):
        w = self.cluster.raw(0)
        untagged, tagged = w.cmd("NOOP")
        self.assertEqual(untagged, [])
        self.assertRegex(tagged, rb"^a1 OK" + TEXT_RE)
        w.close()

    def test_logout_not_authenticated(self):
        w = self.cluster.raw(0)
        untagged, tagged = w.cmd("LOGOUT")
        self.assertEqual(len(untagged), 1, untagged)
        self.assertRegex(untagged[0], rb"^\* BYE" + TEXT_RE)
        self.assertRegex(tagged, rb"^a1 OK" + TEXT_RE)
        self.assertEqual(w.expect_eof(), b"", "server must close after LOGOUT")
        w.close()

    def test_logout_authenticated(self):
        w = self.cluster.raw(1)
        w.login("alice", PASSWORD)
        untagged, tagged = w.cmd("LOGOUT")
        self.assertEqual(len(untagged), 1, untagged)
        self.assertTrue(untagged[0].startswith(b"* BYE "), untagged)
        self.assertEqual(status(tagged), "OK")
        self.assertEqual(w.expect_eof(), b"")
        w.close()


class Login(ClusterTest):
    def test_login_ok_has_capability_code(self):
        for fe in (0, 1):
            w = self.cluster.raw(fe)
            untagged, tagged = w.cmd('LOGIN alice "correct horse"')
            self.assertRegex(tagged, rb"^a1 OK \[CAPABILITY [^\]]+\]" + TEXT_RE)
            caps = capabilities(tagged)
            self.assertIn("IMAP4rev1", caps)
            self.assertEqual(untagged, [])
            _, tagged = w.cmd("NOOP")
            self.assertEqual(status(tagged), "OK")
            w.close()

    def _failed_login(self, user, password):
        w = self.cluster.raw(0)
        t0 = time.monotonic()
        untagged, tagged = w.cmd(b"LOGIN " + user + b" " + password)
        took = time.monotonic() - t0
        self.assertEqual(untagged, [])
        self.assertRegex(tagged, rb"^a1 NO \[AUTHENTICATIONFAILED\]" + TEXT_RE)
        self.assertGreaterEqual(took, 0.09, "failed login must be delayed (login_fail_delay_ms=100)")
        # The connection stays usable: a correct login afterwards works.
        _, tagged2 = w.cmd('LOGIN alice "correct horse"')
        self.assertEqual(status(tagged2), "OK", tagged2)
        w.close()
        return tagged.split(b" ", 3)[3]

    def test_bad_password_and_unknown_user_look_the_same(self):
        text_bad = self._failed_login(b"alice", b'"wrong horse"')
        text_unknown = self._failed_login(b"nosuchuser", b'"correct horse"')
        self.assertEqual(text_bad, text_unknown, "failure text must not reveal whether the user exists")

    def test_login_password_as_literal(self):
        w = self.cluster.raw(0)
        _, tagged = w.cmd_literal("LOGIN alice", PASSWORD.encode())
        self.assertRegex(tagged, rb"^a1 OK \[CAPABILITY ")
        w.close()

    def test_login_user_and_password_as_literals(self):
        w = self.cluster.raw(0)
        w.send(b"a1 LOGIN {5}\r\n")
        cont = w.read_response()
        self.assertRegex(cont, rb"^\+( .*)?\r\n$")
        w.send(b"alice {%d}\r\n" % len(PASSWORD))
        cont = w.read_response()
        self.assertRegex(cont, rb"^\+( .*)?\r\n$")
        w.send(PASSWORD.encode() + b"\r\n")
        _, tagged = w.read_until_tagged("a1")
        self.assertEqual(status(tagged), "OK", tagged)
        w.close()

    def test_login_password_as_literal_plus(self):
        w = self.cluster.raw(0)
        _, tagged = w.cmd_literal("LOGIN alice", PASSWORD.encode(), plus=True)
        self.assertEqual(status(tagged), "OK", tagged)
        w.close()

    def test_login_quoted_escapes(self):
        w = self.cluster.raw(0)
        _, tagged = w.cmd(b'LOGIN "quoter" "pa ss\\"w\\\\d"')
        self.assertEqual(status(tagged), "OK", tagged)
        w.close()

    def test_login_atoms(self):
        self.cluster.add_user("atomuser", "s3cr3t!x")
        w = self.cluster.raw(1)
        _, tagged = w.cmd("LOGIN atomuser s3cr3t!x")
        self.assertEqual(status(tagged), "OK", tagged)
        w.close()

    def test_login_twice_is_bad(self):
        w = self.cluster.raw(0)
        w.login("alice", PASSWORD)
        _, tagged = w.cmd('LOGIN alice "correct horse"')
        self.assertRegex(tagged, rb"^a2 BAD" + TEXT_RE)
        w.close()

    def test_login_missing_argument_is_bad(self):
        w = self.cluster.raw(0)
        _, tagged = w.cmd("LOGIN alice")
        self.assertRegex(tagged, rb"^a1 BAD" + TEXT_RE)
        w.close()

    def test_imaplib_login(self):
        m = self.cluster.imap(1)
        typ, data = m.login("alice", PASSWORD)
        self.assertEqual(typ, "OK")
        m.logout()

    def test_select_before_login_is_bad(self):
        w = self.cluster.raw(0)
        _, tagged = w.cmd("SELECT INBOX")
        self.assertEqual(status(tagged), "BAD", tagged)
        w.close()


class Id(ClusterTest):
    def _check_id(self, w, args):
        untagged, tagged = w.cmd("ID " + args)
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertEqual(len(untagged), 1, untagged)
        self.assertRegex(untagged[0], rb"^\* ID (NIL|\(.*\))$")
        if untagged[0] != b"* ID NIL":
            vals, _ = parse(untagged[0], len(b"* ID "))
            self.assertEqual(len(vals), 1)
            self.assertEqual(len(vals[0]) % 2, 0, "ID list is field/value pairs")
            for i, v in enumerate(vals[0]):
                if i % 2 == 0:
                    self.assertIsInstance(v, bytes, "ID field names are strings")

    def test_id_before_login(self):
        w = self.cluster.raw(0)
        self._check_id(w, '("name" "cpm-tests" "version" "1.0")')
        self._check_id(w, "NIL")
        w.close()

    def test_id_after_login(self):
        w = self.cluster.raw(1)
        w.login("alice", PASSWORD)
        self._check_id(w, '("name" "cpm-tests" "os" NIL)')
        w.close()

    def test_id_malformed_is_bad(self):
        w = self.cluster.raw(0)
        _, tagged = w.cmd('ID ("name")')
        self.assertEqual(status(tagged), "BAD", tagged)
        _, tagged = w.cmd("ID")
        self.assertEqual(status(tagged), "BAD", tagged)
        w.close()


class Enable(ClusterTest):
    def test_enable_before_login_is_rejected(self):
        w = self.cluster.raw(0)
        _, tagged = w.cmd("ENABLE CONDSTORE")
        self.assertIn(status(tagged), ("BAD", "NO"), tagged)
        w.close()

    def test_enable_unknown_extension(self):
        w = self.cluster.raw(0)
        w.login("alice", PASSWORD)
        untagged, tagged = w.cmd("ENABLE X-NO-SUCH-EXTENSION")
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertEqual(untagged, [b"* ENABLED"])
        w.close()

    def test_enable_reports_only_advertised(self):
        w = self.cluster.raw(0)
        untagged, _ = w.cmd("CAPABILITY")
        caps = set(capabilities(untagged[0]))
        w.login("alice", PASSWORD)
        untagged, tagged = w.cmd("ENABLE CONDSTORE QRESYNC UTF8=ACCEPT")
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertEqual(len(untagged), 1, untagged)
        self.assertRegex(untagged[0], rb"^\* ENABLED( [!-~]+)*$")
        for name in untagged[0].split()[2:]:
            self.assertIn(name.decode(), caps, "ENABLED a capability that is not advertised")
        w.close()

    def test_enable_without_argument_is_bad(self):
        w = self.cluster.raw(0)
        w.login("alice", PASSWORD)
        _, tagged = w.cmd("ENABLE")
        self.assertEqual(status(tagged), "BAD", tagged)
        w.close()
