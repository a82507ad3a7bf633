"""PROXY protocol listeners (HAProxy v1/v2) and what they make testable on
loopback: a client whose address (as the load balancer reports it) is not
loopback sees LOGINDISABLED and cannot LOGIN before TLS (RFC 3501 6.2.3,
7.2.1), unless allow_plaintext_auth is set; after STARTTLS it can."""

import base64
import socket
import struct

import cluster
from cluster import ClusterTest
from imapwire import RawIMAP, capabilities, status

PW = "proxy-pw"

cluster.module_fixtures(globals(), shards=1, frontends=2, frontend_options=[
    {"imap_proxy": "any", "imaps_proxy": "v2"},
    {"imap_proxy": "v1", "imaps_proxy": "off", "allow_plaintext_auth": "yes"},
])


def populate(c):
    c.add_user("remote", PW)


def v1(src="192.0.2.10", dst="198.51.100.1", sport=40000, dport=143):
    return ("PROXY TCP4 %s %s %d %d\r\n" % (src, dst, sport, dport)).encode()


def v2(src="192.0.2.10", dst="198.51.100.1", sport=40000, dport=993):
    addr = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(addr)) + addr


class Proxy(ClusterTest):
    def connect(self, fe, header, tls=False):
        w = RawIMAP(cluster.HOST, self.cluster.port(fe, tls=tls), timeout=10)
        w.send(header)
        if tls:
            w.starttls(self.cluster.ssl_context())
        w.greeting_line = w.greeting()
        self.assertRegex(w.greeting_line, rb"^\* OK \[CAPABILITY ")
        return w

    def test_remote_client_sees_logindisabled(self):
        for header in (v1(), v2(dport=143)):
            w = self.connect(0, header)
            caps = capabilities(w.greeting_line)
            self.assertIn("LOGINDISABLED", caps)
            self.assertIn("STARTTLS", caps)
            _, tagged = w.cmd('LOGIN remote "%s"' % PW)
            self.assertRegex(tagged, rb"^a1 NO [\x20-\x7e]+$")
            _, tagged = w.cmd(b"AUTHENTICATE PLAIN " + base64.b64encode(b"\0remote\0" + PW.encode()))
            self.assertEqual(status(tagged), "NO", "PLAIN in the clear from a remote peer: %r" % tagged)
            _, tagged = w.cmd("SELECT INBOX")
            self.assertEqual(status(tagged), "BAD", "still not authenticated")
            w.close()

    def test_remote_client_after_starttls(self):
        w = self.connect(0, v1())
        _, tagged = w.cmd("STARTTLS")
        self.assertEqual(status(tagged), "OK")
        w.starttls(self.cluster.ssl_context())
        untagged, _ = w.cmd("CAPABILITY")
        self.assertNotIn("LOGINDISABLED", capabilities(untagged[0]))
        _, tagged = w.cmd('LOGIN remote "%s"' % PW)
        self.assertEqual(status(tagged), "OK", tagged)
        w.close()

    def test_loopback_source_via_proxy_may_login(self):
        w = self.connect(0, v1(src="127.0.0.1"))
        self.assertNotIn("LOGINDISABLED", capabilities(w.greeting_line))
        _, tagged = w.cmd('LOGIN remote "%s"' % PW)
        self.assertEqual(status(tagged), "OK", tagged)
        w.close()

    def test_v2_then_implicit_tls(self):
        w = self.connect(0, v2(), tls=True)
        caps = capabilities(w.greeting_line)
        self.assertNotIn("LOGINDISABLED", caps)
        self.assertNotIn("STARTTLS", caps)
        _, tagged = w.cmd('LOGIN remote "%s"' % PW)
        self.assertEqual(status(tagged), "OK", tagged)
        w.close()

    def test_allow_plaintext_auth(self):
        w = self.connect(1, v1())
        self.assertNotIn("LOGINDISABLED", capabilities(w.greeting_line))
        _, tagged = w.cmd('LOGIN remote "%s"' % PW)
        self.assertEqual(status(tagged), "OK", tagged)
        w.close()

    def test_missing_or_bad_header_closes(self):
        for fe, tls, data in ((0, False, b"a1 LOGIN remote x\r\n"), (0, False, b"PROXY TCP4 nonsense\r\n"),
                              (1, False, v2()), (0, True, v1())):
            w = RawIMAP(cluster.HOST, self.cluster.port(fe, tls=tls), timeout=10)
            try:
                w.send(data)
            except OSError:
                pass
            got = w.expect_eof(timeout=10)
            self.assertFalse(got.startswith(b"* OK"), "greeting without a valid PROXY header: %r" % got[:80])
            w.close()
