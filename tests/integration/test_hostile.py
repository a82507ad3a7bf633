"""Hostile input on raw sockets: every bad command gets a tagged BAD/NO (or a
`* BYE` with a reason and a close), never a crash, a hang or an unbounded
buffer; and afterwards the same front-end still serves a second connection
and a session that was open all along (workers=1: a crash would show).

Random bytes come from a fixed seed so a failure can be replayed."""

import random
import socket
import ssl
import threading
import time

import cluster
from cluster import ClusterTest
from checks import append, check_select, fetch
from imapwire import RawIMAP, ServerClosed, status

cluster.module_fixtures(globals())

PW = "hostile-pw"
GIB100 = 107374182400


def populate(c):
    c.add_user("victim", PW)
    c.add_user("bystander", PW)
    c.add_user("attacker", PW)


class Hostile(ClusterTest):
    def setUp(self):
        super().setUp()
        self.fe = 0
        self.bystander = self.cluster.login_raw("bystander", fe=self.fe)
        _, tagged = self.bystander.cmd("SELECT INBOX")
        self.assertEqual(status(tagged), "OK")

    def tearDown(self):
        try:
            self.assert_frontend_healthy()
        finally:
            self.bystander.close()
            super().tearDown()

    def assert_frontend_healthy(self):
        # The session that was open during the attack still works ...
        _, tagged = self.bystander.cmd("NOOP")
        self.assertEqual(status(tagged), "OK", "bystander session broken: %r" % tagged)
        # ... and a second connection logs in and works.
        w = self.cluster.login_raw("victim", fe=self.fe)
        v, uid, _ = append(self, w, "INBOX", b"Subject: after attack\r\n\r\nstill here\r\n")
        untagged, tagged = w.cmd("SELECT INBOX")
        n = int(check_select(self, untagged, tagged)["EXISTS"])
        (_, it), = fetch(self, w, n, "(UID BODY.PEEK[])")
        self.assertEqual(int(it["UID"]), uid)
        self.assertEqual(it["BODY[]"], b"Subject: after attack\r\n\r\nstill here\r\n")
        w.close()

    def raw(self, login=None, timeout=20):
        w = self.cluster.raw(self.fe, timeout=timeout)
        if login:
            w.login(login, PW)
        return w

    def blast(self, w, payload, final):
        """Send payload then `final` (a NOOP with tag z9) from a thread while reading
        responses here. Returns (responses, closed)."""
        send_error = []

        def sender():
            try:
                view = memoryview(payload)
                for i in range(0, len(view), 256 * 1024):
                    w.sock.sendall(view[i:i + 256 * 1024])
                w.sock.sendall(final)
            except OSError as e:
                send_error.append(e)

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        got = []
        closed = False
        total = 0
        while True:
            try:
                r = w.read_response()
            except ServerClosed as e:
                if e.data:
                    got.append(e.data)
                closed = True
                break
            except ConnectionResetError:
                closed = True
                break
            got.append(r)
            total += len(r)
            self.assertLess(total, 32 * 1024 * 1024, "server answered with more than 32 MB")
            if r.startswith(b"z9 "):
                break
        t.join(30)
        self.assertFalse(t.is_alive(), "sender blocked: the server stopped reading without closing")
        return got, closed

    def judge(self, got, closed, note=""):
        """Only rejections (BAD/NO), BYE, or the final z9 OK are acceptable; a
        close must come with a BYE; an open connection must answer z9 OK."""
        rejected = False
        for r in got:
            line = r.split(b"\r\n", 1)[0]
            if line.startswith(b"z9 "):
                self.assertEqual(status(line), "OK", "final NOOP: %r" % line)
                continue
            if line.startswith(b"* BYE ") or line.startswith(b"* BAD ") or line == b"* BAD":
                rejected = True
                continue
            tag, _, rest = line.partition(b" ")
            self.assertTrue(rest.startswith(b"BAD") or rest.startswith(b"NO"),
                            "hostile input accepted or odd answer: %r %s" % (line[:200], note))
            rejected = True
        self.assertTrue(rejected, "no BAD/NO/BYE for hostile input: %r" % [g[:100] for g in got])
        if closed:
            self.assertTrue(any(r.startswith(b"* BYE ") for r in got),
                            "connection closed without a BYE reason: %r" % [g[:100] for g in got])
        else:
            self.assertTrue(got and got[-1].startswith(b"z9 OK"), got[-3:])

    # --- the cases the issue lists ---------------------------------------------
    def test_unknown_command(self):
        w = self.raw()
        untagged, tagged = w.cmd("FOOBAR baz", tag="a1")
        self.assertRegex(tagged, rb"^a1 BAD [\x20-\x7e]+$")
        self.assertEqual(untagged, [])
        _, tagged = w.cmd("NOOP")
        self.assertEqual(status(tagged), "OK")
        w.login("victim", PW)
        _, tagged = w.cmd("XYZZY")
        self.assertRegex(tagged, rb"^a\d+ BAD ")
        w.close()

    def test_bad_literal_syntax(self):
        for bad in (b"a1 LOGIN {abc}\r\n", b"a1 LOGIN victim {12\r\n", b"a1 LOGIN victim {-5}\r\n",
                    b"a1 LOGIN victim {5}x\r\n", b"a1 LOGIN victim {}\r\n", b"a1 LOGIN victim {5+5}\r\n",
                    b"a1 LOGIN victim {99999999999999999999999999}\r\n"):
            w = self.raw()
            w.send(bad)
            r = w.read_response()
            self.assertFalse(r.startswith(b"+"), "continuation for %r" % bad)
            self.assertRegex(r, rb"^a1 (BAD|NO) [\x20-\x7e]+\r\n$", "answer to %r" % bad)
            _, tagged = w.cmd("NOOP")
            self.assertEqual(status(tagged), "OK", "connection unusable after %r" % bad)
            w.close()

    def test_literal_100gb_refused_before_continuation(self):
        cases = [(None, b"a1 LOGIN victim {%d}\r\n" % GIB100),
                 ("attacker", b"a1 APPEND INBOX {%d}\r\n" % GIB100),
                 ("attacker", b'a1 APPEND INBOX (\\Seen) "14-Jul-2023 02:44:25 +0200" {%d}\r\n' % GIB100),
                 ("attacker", b"a1 APPEND INBOX {67108865}\r\n")]   # max_literal + 1
        for login, line in cases:
            w = self.raw(login)
            w.send(line)
            r = w.read_response()
            self.assertFalse(r.startswith(b"+"), "server invited a huge literal: %r" % line)
            self.assertRegex(r, rb"^a1 (BAD|NO)( \[[A-Z]+\])? [\x20-\x7e]+\r\n$")
            _, tagged = w.cmd("NOOP")
            self.assertEqual(status(tagged), "OK")
            w.close()

    def test_literal_plus_100gb(self):
        # With LITERAL+ the client sends without waiting: the server must refuse
        # (tagged BAD/NO and/or BYE + close), not try to swallow 100 GB.
        w = self.raw("attacker", timeout=15)
        got, closed = self.blast(w, b"a1 APPEND INBOX {%d+}\r\n" % GIB100 + b"x" * 65536, b"")
        self.assertTrue(got, "no answer to a 100 GB LITERAL+")
        line = got[0].split(b"\r\n", 1)[0]
        self.assertRegex(line, rb"^(a1 (BAD|NO)|\* BYE) ")
        if not closed:
            self.judge(got, closed)
        w.close()

    def test_10mb_line(self):
        w = self.raw()
        payload = b"a1 NOOP " + b"x" * (10 * 1024 * 1024) + b"\r\n"
        got, closed = self.blast(w, payload, b"z9 NOOP\r\n")
        self.judge(got, closed)
        w.close()

    def test_10mb_line_authenticated(self):
        w = self.raw("attacker")
        payload = b"a1 CREATE " + b"y" * (10 * 1024 * 1024) + b"\r\n"
        got, closed = self.blast(w, payload, b"z9 NOOP\r\n")
        self.judge(got, closed)
        w.close()

    def test_1mb_random_bytes(self):
        seed = 0xC0FFEE
        payload = random.Random(seed).randbytes(1024 * 1024)
        w = self.raw()
        got, closed = self.blast(w, payload, b"\r\nz9 NOOP\r\n")
        self.judge(got, closed, "seed %#x" % seed)
        w.close()

    def test_1mb_random_bytes_authenticated(self):
        seed = 0xBADF00D
        payload = b"\r\n" + random.Random(seed).randbytes(1024 * 1024)
        w = self.raw("attacker")
        w.cmd("SELECT INBOX")
        got, closed = self.blast(w, payload, b"\r\nz9 NOOP\r\n")
        self.judge(got, closed, "seed %#x" % seed)
        w.close()

    def test_random_bytes_on_tls_port(self):
        s = socket.create_connection((cluster.HOST, self.cluster.port(self.fe, tls=True)), timeout=10)
        try:
            s.sendall(random.Random(7).randbytes(256 * 1024))
        except OSError:
            pass
        s.settimeout(10)
        try:
            while s.recv(65536):
                pass
        except (ConnectionResetError, socket.timeout) as e:
            self.assertIsInstance(e, ConnectionResetError, "TLS port did not close on garbage")
        s.close()
        w = self.cluster.raw(self.fe, tls=True)
        w.login("victim", PW)
        w.close()

    # --- more parser limits ----------------------------------------------------
    def test_deep_nesting(self):
        w = self.raw("attacker")
        w.cmd("SELECT INBOX")
        got, closed = self.blast(w, b"a1 FETCH 1 " + b"(" * 20000 + b"FLAGS" + b")" * 20000 + b"\r\n",
                                 b"z9 NOOP\r\n")
        self.judge(got, closed)
        w.close()

    def test_many_arguments(self):
        w = self.raw()
        got, closed = self.blast(w, b"a1 ID (" + b'"k" "v" ' * 6000 + b")\r\n", b"z9 NOOP\r\n")
        self.judge(got, closed)
        w.close()

    def test_nul_byte(self):
        w = self.raw()
        w.send(b"a1 NOOP\x00junk\r\n")
        r = w.read_response()
        self.assertRegex(r, rb"^(a1|\*) BAD ")
        _, tagged = w.cmd("NOOP")
        self.assertEqual(status(tagged), "OK")
        w.close()

    def test_empty_and_tagless_lines(self):
        w = self.raw()
        # Each malformed line gets one BAD (tagged when a tag could be read).
        for junk in (b"a1\r\n", b"a1 \r\n", b"(\r\n", b"+ x\r\n", b"* NOOP\r\n", b"   \r\n", b")))\r\n"):
            w.send(junk + b"z9 NOOP\r\n")
            untagged, tagged = w.read_until_tagged("z9")
            self.assertEqual(status(tagged), "OK")
            self.assertEqual(len(untagged), 1, "answer to %r: %r" % (junk, untagged))
            self.assertRegex(untagged[0], rb"^(a1|\*) BAD [\x20-\x7e]+$", "answer to %r" % junk)
        # An empty line may be ignored or refused, but nothing else.
        w.send(b"\r\nz9 NOOP\r\n")
        untagged, tagged = w.read_until_tagged("z9")
        self.assertEqual(status(tagged), "OK")
        for r in untagged:
            self.assertRegex(r, rb"^\* BAD ")
        w.close()

    def test_literal_then_disconnect(self):
        w = self.raw("attacker")
        w.send(b"a1 APPEND INBOX {1000000}\r\n")
        r = w.read_response()
        self.assertTrue(r.startswith(b"+"), r)
        w.send(b"z" * 5000)
        w.close()
        time.sleep(0.3)

    def test_pipelined_commands_answered_in_order(self):
        w = self.raw("attacker", timeout=30)
        n = 500
        w.send(b"".join(b"p%d NOOP\r\n" % i for i in range(n)))
        for i in range(n):
            _, tagged = w.read_until_tagged("p%d" % i)
            self.assertEqual(status(tagged), "OK")
        w.close()

    def test_byte_at_a_time(self):
        w = self.raw()
        for b in b"a1 LOGIN victim \"hostile-pw\"\r\n":
            w.send(bytes([b]))
            time.sleep(0.002)
        _, tagged = w.read_until_tagged("a1")
        self.assertEqual(status(tagged), "OK", tagged)
        w.close()

    def test_many_idle_connections(self):
        conns = []
        try:
            for _ in range(100):
                conns.append(RawIMAP(cluster.HOST, self.cluster.port(self.fe), timeout=10))
            for c in conns:
                self.assertTrue(c.greeting().startswith(b"* OK"))
        finally:
            for c in conns:
                c.close()

    def test_tls_handshake_abandoned(self):
        out = ssl.MemoryBIO()
        obj = self.cluster.ssl_context().wrap_bio(ssl.MemoryBIO(), out, server_hostname="localhost")
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = out.read()
        self.assertGreater(len(hello), 40)
        for port in (self.cluster.port(self.fe, tls=True), None):
            s = socket.create_connection((cluster.HOST, port or self.cluster.port(self.fe)), timeout=10)
            if port is None:  # the same, after STARTTLS
                s.recv(4096)
                s.sendall(b"a1 STARTTLS\r\n")
                self.assertTrue(s.recv(4096).startswith(b"a1 OK"))
            s.sendall(hello[: len(hello) // 2])
            s.close()
        time.sleep(0.2)

    def test_garbage_instead_of_tls_after_starttls(self):
        w = self.raw()
        _, tagged = w.cmd("STARTTLS")
        self.assertEqual(status(tagged), "OK")
        try:
            w.sock.sendall(b"a2 LOGIN victim hostile-pw\r\n" + random.Random(3).randbytes(4096))
        except OSError:
            pass
        data = w.expect_eof(timeout=10)
        self.assertNotIn(b"a2 OK", data, "plaintext accepted where a TLS handshake was due")
        w.close()
