"""TLS and SASL: STARTTLS (RFC 3501 6.2.1, RFC 2595), implicit TLS (RFC 8314),
AUTHENTICATE (RFC 3501 6.2.2) with PLAIN (RFC 4616) and SCRAM-SHA-256
(RFC 5802, RFC 7677), with and without SASL-IR (RFC 4959)."""

import ssl
import time

import cluster
from cluster import ClusterTest
from imapwire import CRLF, capabilities, status
from scram import ScramClient, b64, unb64

cluster.module_fixtures(globals())

PW = "tls-password-1"


def populate(c):
    c.add_user("tina", PW)
    c.add_user("sam", "scram pass")
    c.add_user("user,with=odd", "odd-pw")


def plain(authz, user, pw):
    return b64(authz.encode() + b"\0" + user.encode() + b"\0" + pw.encode())


class StartTls(ClusterTest):
    def _starttls(self, fe=0):
        w = self.cluster.raw(fe)
        untagged, tagged = w.cmd("STARTTLS")
        self.assertEqual(untagged, [])
        self.assertRegex(tagged, rb"^a1 OK [\x20-\x7e]+$")
        w.starttls(self.cluster.ssl_context())
        return w

    def test_starttls_capabilities(self):
        w = self._starttls()
        self.assertGreaterEqual(w.sock.version(), "TLSv1.2")
        untagged, tagged = w.cmd("CAPABILITY")
        self.assertEqual(status(tagged), "OK")
        caps = capabilities(untagged[0])
        self.assertIn("IMAP4rev1", caps)
        self.assertIn("AUTH=PLAIN", caps)
        self.assertIn("AUTH=SCRAM-SHA-256", caps)
        self.assertNotIn("STARTTLS", caps, "STARTTLS must not be offered again inside TLS")
        self.assertNotIn("LOGINDISABLED", caps)
        w.close()

    def test_starttls_presents_configured_certificate(self):
        w = self._starttls(1)
        der = w.sock.getpeercert(binary_form=True)
        with open(self.cluster.cert) as f:
            self.assertEqual(der, ssl.PEM_cert_to_DER_cert(f.read()))
        w.close()

    def test_starttls_then_login(self):
        w = self._starttls()
        _, tagged = w.cmd('LOGIN tina "%s"' % PW)
        self.assertRegex(tagged, rb"^a2 OK \[CAPABILITY ")
        _, tagged = w.cmd("SELECT INBOX")
        self.assertEqual(status(tagged), "OK", tagged)
        w.close()

    def test_starttls_then_authenticate_plain_sasl_ir(self):
        w = self._starttls()
        _, tagged = w.cmd(b"AUTHENTICATE PLAIN " + plain("", "tina", PW))
        self.assertRegex(tagged, rb"^a2 OK \[CAPABILITY [^\]]+\] [\x20-\x7e]+$")
        self.assertIn("IMAP4rev1", capabilities(tagged))
        _, tagged = w.cmd("SELECT INBOX")
        self.assertEqual(status(tagged), "OK", tagged)
        w.close()

    def test_starttls_then_authenticate_plain_continuation(self):
        w = self._starttls(1)
        w.send(b"a2 AUTHENTICATE PLAIN\r\n")
        self.assertEqual(w.read_response(), b"+ \r\n")
        w.send(plain("tina", "tina", PW) + CRLF)
        _, tagged = w.read_until_tagged("a2")
        self.assertRegex(tagged, rb"^a2 OK \[CAPABILITY ")
        w.close()

    def test_starttls_then_scram(self):
        w = self._starttls()
        tagged, _ = scram_exchange(self, w, "sam", "scram pass", ir=True)
        self.assertRegex(tagged, rb"^a\d+ OK \[CAPABILITY ")
        w.close()

    def test_starttls_command_injection_is_discarded(self):
        # Bytes pipelined after STARTTLS in the clear must not be executed inside TLS.
        w = self.cluster.raw(0)
        w.send(b"a1 STARTTLS\r\na2 NOOP\r\n")
        r = w.read_response()
        self.assertTrue(r.startswith(b"a1 OK"), r)
        try:
            w.starttls(self.cluster.ssl_context())
        except (ssl.SSLError, OSError):
            w.close()
            return  # refusing the handshake is also safe
        w.send(b"a3 NOOP\r\n")
        r = w.read_response()
        self.assertTrue(r.startswith(b"a3 "), "pipelined plaintext command was executed: %r" % r)
        w.close()

    def test_starttls_twice_rejected(self):
        w = self._starttls()
        _, tagged = w.cmd("STARTTLS")
        self.assertIn(status(tagged), ("BAD", "NO"), tagged)
        _, tagged = w.cmd("NOOP")
        self.assertEqual(status(tagged), "OK")
        w.close()

    def test_starttls_after_login_is_bad(self):
        w = self.cluster.raw(0)
        w.login("tina", PW)
        _, tagged = w.cmd("STARTTLS")
        self.assertEqual(status(tagged), "BAD", tagged)
        w.close()

    def test_starttls_on_implicit_tls_port_rejected(self):
        w = self.cluster.raw(0, tls=True)
        _, tagged = w.cmd("STARTTLS")
        self.assertIn(status(tagged), ("BAD", "NO"), tagged)
        w.close()

    def test_imaplib_starttls_login(self):
        m = self.cluster.imap(1)
        typ, _ = m.starttls(ssl_context=self.cluster.ssl_context())
        self.assertEqual(typ, "OK")
        typ, _ = m.login("tina", PW)
        self.assertEqual(typ, "OK")
        m.logout()


class ImplicitTls(ClusterTest):
    def test_implicit_tls_greeting(self):
        for fe in (0, 1):
            w = self.cluster.raw(fe, tls=True)
            self.assertRegex(w.greeting_line, rb"^\* OK \[CAPABILITY [^\]]+\] [\x20-\x7e]+$")
            caps = capabilities(w.greeting_line)
            self.assertIn("IMAP4rev1", caps)
            self.assertIn("AUTH=PLAIN", caps)
            self.assertNotIn("STARTTLS", caps)
            self.assertNotIn("LOGINDISABLED", caps)
            self.assertGreaterEqual(w.sock.version(), "TLSv1.2")
            w.close()

    def test_imaplib_ssl_verified_login(self):
        # imaplib checks the certificate against the test CA and the name 127.0.0.1.
        for fe in (0, 1):
            m = self.cluster.imaps(fe)
            typ, _ = m.login("tina", PW)
            self.assertEqual(typ, "OK")
            typ, data = m.select("INBOX")
            self.assertEqual(typ, "OK")
            m.logout()

    def test_implicit_tls_scram(self):
        w = self.cluster.raw(1, tls=True)
        tagged, _ = scram_exchange(self, w, "sam", "scram pass", ir=False)
        self.assertEqual(status(tagged), "OK", tagged)
        w.close()


class AuthPlain(ClusterTest):
    def test_plain_sasl_ir_cleartext_loopback(self):
        w = self.cluster.raw(0)
        _, tagged = w.cmd(b"AUTHENTICATE PLAIN " + plain("", "tina", PW))
        self.assertRegex(tagged, rb"^a1 OK \[CAPABILITY ")
        w.close()

    def test_plain_wrong_password(self):
        w = self.cluster.raw(0)
        t0 = time.monotonic()
        _, tagged = w.cmd(b"AUTHENTICATE PLAIN " + plain("", "tina", "nope"))
        self.assertRegex(tagged, rb"^a1 NO \[AUTHENTICATIONFAILED\] [\x20-\x7e]+$")
        self.assertGreaterEqual(time.monotonic() - t0, 0.09)
        w.close()

    def test_plain_unknown_user(self):
        w = self.cluster.raw(0)
        _, tagged = w.cmd(b"AUTHENTICATE PLAIN " + plain("", "nobody-here", PW))
        self.assertRegex(tagged, rb"^a1 NO \[AUTHENTICATIONFAILED\] [\x20-\x7e]+$")
        w.close()

    def test_plain_other_authzid_refused(self):
        w = self.cluster.raw(0)
        _, tagged = w.cmd(b"AUTHENTICATE PLAIN " + plain("sam", "tina", PW))
        self.assertEqual(status(tagged), "NO", tagged)
        w.close()

    def test_cancel_with_star_is_bad(self):
        w = self.cluster.raw(0)
        w.send(b"a1 AUTHENTICATE PLAIN\r\n")
        self.assertEqual(w.read_response(), b"+ \r\n")
        w.send(b"*\r\n")
        _, tagged = w.read_until_tagged("a1")
        self.assertRegex(tagged, rb"^a1 BAD [\x20-\x7e]+$")
        _, tagged = w.cmd('LOGIN tina "%s"' % PW)
        self.assertEqual(status(tagged), "OK", tagged)
        w.close()

    def test_invalid_base64_is_bad(self):
        w = self.cluster.raw(0)
        w.send(b"a1 AUTHENTICATE PLAIN\r\n")
        self.assertEqual(w.read_response(), b"+ \r\n")
        w.send(b"%%%not-base64%%%\r\n")
        _, tagged = w.read_until_tagged("a1")
        self.assertEqual(status(tagged), "BAD", tagged)
        w.close()

    def test_unknown_mechanism_is_no(self):
        w = self.cluster.raw(0)
        _, tagged = w.cmd("AUTHENTICATE X-NO-SUCH-MECH")
        self.assertEqual(status(tagged), "NO", tagged)
        w.close()

    def test_authenticate_after_login_is_bad(self):
        w = self.cluster.raw(0)
        w.login("tina", PW)
        _, tagged = w.cmd(b"AUTHENTICATE PLAIN " + plain("", "tina", PW))
        self.assertEqual(status(tagged), "BAD", tagged)
        w.close()


def scram_exchange(test, w, user, password, ir=True, client_password=None, tamper_nonce=False):
    """Run AUTHENTICATE SCRAM-SHA-256 by hand. Returns (tagged line, info dict).

    info: server_first, server_final (when the server sent one), verified (bool).
    Asserts the wire format (continuations, base64) along the way.
    """
    c = ScramClient(user, password)
    tag = w.next_tag()
    info = {"server_first": None, "server_final": None, "verified": False}
    if ir:
        w.send(tag.encode() + b" AUTHENTICATE SCRAM-SHA-256 " + b64(c.client_first()) + CRLF)
    else:
        w.send(tag.encode() + b" AUTHENTICATE SCRAM-SHA-256" + CRLF)
        test.assertEqual(w.read_response(), b"+ \r\n", "empty initial challenge expected")
        w.send(b64(c.client_first()) + CRLF)
    r = w.read_response()
    if r.startswith(tag.encode() + b" "):
        return r.rstrip(b"\r\n"), info
    test.assertTrue(r.startswith(b"+ ") and r.endswith(b"\r\n"), r)
    server_first = unb64(r[2:-2])
    info["server_first"] = server_first
    final = c.client_final(server_first, password=client_password, tamper_nonce=tamper_nonce)
    w.send(b64(final) + CRLF)
    r = w.read_response()
    if r.startswith(b"+ "):
        server_final = unb64(r[2:-2])
        info["server_final"] = server_final
        if server_final.startswith(b"v="):
            c.verify_server_final(server_final)
            info["verified"] = True
        w.send(CRLF)  # IMAP carries no success data: the client answers the last challenge empty
        _, tagged = w.read_until_tagged(tag)
        return tagged, info
    test.assertTrue(r.startswith(tag.encode() + b" "), r)
    return r.rstrip(b"\r\n"), info


class Scram(ClusterTest):
    def test_scram_sasl_ir(self):
        w = self.cluster.raw(0)
        tagged, info = scram_exchange(self, w, "sam", "scram pass", ir=True)
        self.assertTrue(info["verified"], "server must send v=<ServerSignature> as a final challenge")
        self.assertRegex(tagged, rb"^a1 OK \[CAPABILITY [^\]]+\] [\x20-\x7e]+$")
        _, tagged = w.cmd("SELECT INBOX")
        self.assertEqual(status(tagged), "OK", tagged)
        w.close()

    def test_scram_without_sasl_ir(self):
        w = self.cluster.raw(1)
        tagged, info = scram_exchange(self, w, "sam", "scram pass", ir=False)
        self.assertTrue(info["verified"])
        self.assertEqual(status(tagged), "OK", tagged)
        w.close()

    def test_scram_server_first_format(self):
        w = self.cluster.raw(0)
        tagged, info = scram_exchange(self, w, "sam", "scram pass")
        sf = info["server_first"]
        self.assertRegex(sf, rb"^r=[!-+\--~]+,s=[A-Za-z0-9+/=]+,i=\d+$")
        self.assertEqual(status(tagged), "OK")
        w.close()

    def test_scram_username_escaping(self):
        w = self.cluster.raw(0)
        tagged, info = scram_exchange(self, w, "user,with=odd", "odd-pw")
        self.assertTrue(info["verified"])
        self.assertEqual(status(tagged), "OK", tagged)
        w.close()

    def test_scram_wrong_password(self):
        w = self.cluster.raw(0)
        t0 = time.monotonic()
        tagged, info = scram_exchange(self, w, "sam", "scram pass", client_password="not it")
        self.assertFalse(info["verified"])
        if info["server_final"] is not None:
            self.assertTrue(info["server_final"].startswith(b"e="), info["server_final"])
        self.assertRegex(tagged, rb"^a1 NO \[AUTHENTICATIONFAILED\] [\x20-\x7e]+$")
        self.assertGreaterEqual(time.monotonic() - t0, 0.09)
        _, tagged = w.cmd("SELECT INBOX")
        self.assertEqual(status(tagged), "BAD", "still not authenticated: %r" % tagged)
        w.close()

    def test_scram_unknown_user(self):
        w = self.cluster.raw(0)
        tagged, info = scram_exchange(self, w, "ghost-user", "whatever")
        self.assertFalse(info["verified"])
        self.assertRegex(tagged, rb"^a1 NO \[AUTHENTICATIONFAILED\] [\x20-\x7e]+$")
        w.close()

    def test_scram_tampered_nonce(self):
        w = self.cluster.raw(0)
        tagged, info = scram_exchange(self, w, "sam", "scram pass", tamper_nonce=True)
        self.assertFalse(info["verified"])
        self.assertIn(status(tagged), ("NO", "BAD"), tagged)
        w.close()

    def test_scram_cancel(self):
        w = self.cluster.raw(0)
        c = ScramClient("sam", "scram pass")
        w.send(b"a1 AUTHENTICATE SCRAM-SHA-256 " + b64(c.client_first()) + CRLF)
        r = w.read_response()
        self.assertTrue(r.startswith(b"+ "), r)
        w.send(b"*\r\n")
        _, tagged = w.read_until_tagged("a1")
        self.assertEqual(status(tagged), "BAD", tagged)
        w.close()
