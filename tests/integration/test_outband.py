"""Outband notifications (specification 5.4.2, docs/outband.md): a network
element subscribes on front-end 0's operator endpoint and receives, from the
shards' durable notification logs, exactly the changes made through IMAP on
front-end 1 — appends, flag changes, expunges, folder events — in order;
after a disconnect it resumes from its cursor and misses nothing and gets
nothing twice; the user filter and the folder filter hold; a cursor older
than the retained log gets ResyncNeeded; bad credentials and bad frames get
Closing. The subscriber speaks the protobuf wire format through pbwire.py
(written from the encoding specification, not from our code)."""

import atexit
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import time

import cluster
import pbwire
from cluster import ClusterTest
from imapwire import status

SECRET = "outband-operator-secret-0123456789"
OUTBAND_PORT, OUTBAND_TLS_PORT = cluster.free_ports(2)
RETENTION_MAX = 40
PKI = tempfile.mkdtemp(prefix="cpm-outband-pki-")
atexit.register(shutil.rmtree, PKI, True)


def make_pki(d):
    """A CA and a client certificate it signed (a network element's identity)."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, cwd=d, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run("req", "-x509", *ec, "-days", "30", "-subj", "/CN=Outband Test CA", "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-new", *ec, "-subj", "/CN=push-gateway-1", "-keyout", "client.key", "-out", "client.csr")
    run("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "30", "-out", "client.pem")


make_pki(PKI)
cluster.module_fixtures(
    globals(),
    frontend_options=[{"outband_listen": "127.0.0.1:%d" % OUTBAND_PORT, "outband_secret": SECRET,
                       "outband_heartbeat_s": "1"},
                      {"outband_listen": "127.0.0.1:%d" % OUTBAND_TLS_PORT, "outband_tls": "yes",
                       "outband_client_ca": os.path.join(PKI, "ca.pem")}],
    cluster_options={"outband_retention_max": str(RETENTION_MAX)})

PW = "outband-pw"
KINDS = {1: "APPEND", 2: "FLAGS", 3: "EXPUNGE", 10: "FOLDER_CREATE", 11: "FOLDER_DELETE",
         12: "FOLDER_RENAME", 13: "FOLDER_SUBSCRIBE", 14: "FOLDER_UNSUBSCRIBE"}


def populate(c):
    c.add_user("obalice", PW)
    c.add_user("obexp", PW)
    spread = c.users_on_each_shard("obf", password=PW)
    c.filter_users = [spread[sid][0] for sid in c.shard_ids]


def one(fields, num, default=None):
    return fields.get(num, [default])[0]


def text(fields, num):
    return one(fields, num, b"").decode()


def position(b):
    f = pbwire.decode(b)
    return (text(f, 1), one(f, 2, 0), one(f, 3, 0))


def parse_server_frame(payload):
    f = pbwire.decode(payload)
    assert one(f, 1) == 1, "schema_version %r" % one(f, 1)
    if 10 in f:
        e = pbwire.decode(f[10][0])
        return {"type": "event", "user": text(e, 1), "log_id": one(e, 2, 0), "cursor": one(e, 3, 0),
                "folder": text(e, 4), "folder_id": one(e, 5, 0), "uidvalidity": one(e, 6, 0),
                "modseq": one(e, 7, 0), "kind": KINDS.get(one(e, 8, 0), one(e, 8, 0)),
                "uids": [u for b in e.get(9, []) for u in pbwire.packed_varints(b)],
                "old_folder": text(e, 10), "time_ms": one(e, 11, 0)}
    if 11 in f:
        h = pbwire.decode(f[11][0])
        return {"type": "heartbeat", "positions": [position(p) for p in h.get(1, [])],
                "caught_up": bool(one(h, 3, 0))}
    if 12 in f:
        r = pbwire.decode(f[12][0])
        return {"type": "resync", "position": position(one(r, 1, b"")), "reason": text(r, 2)}
    if 13 in f:
        c = pbwire.decode(f[13][0])
        return {"type": "closing", "reason": text(c, 1), "detail": text(c, 2)}
    return {"type": "unknown", "fields": f}


class Subscriber:
    def __init__(self, port=OUTBAND_PORT, timeout=5.0, tls=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname="localhost")
        self.buf = b""

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_frame(self, payload):
        self.sock.sendall(struct.pack(">I", len(payload)) + payload)

    def subscribe(self, users, secret=SECRET, folders=(), resume=()):
        sub = [(1, "string", secret)] + [(2, "string", u) for u in users] + [(3, "string", f) for f in folders]
        for user, log_id, cursor in resume:
            sub.append((4, "bytes", pbwire.encode([(1, "string", user), (2, "fixed64", log_id),
                                                   (3, "varint", cursor)])))
        self.send_frame(pbwire.encode([(1, "varint", 1), (10, "bytes", pbwire.encode(sub))]))

    def _fill(self, deadline):
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def frame(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while len(self.buf) < 4:
            self._fill(deadline)
        n = struct.unpack(">I", self.buf[:4])[0]
        while len(self.buf) < 4 + n:
            self._fill(deadline)
        payload, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
        return parse_server_frame(payload)

    def until_caught_up(self, timeout=10.0):
        """Frames up to the next caught-up Heartbeat: (events and resyncs, that heartbeat)."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            f = self.frame(max(0.01, deadline - time.monotonic()))
            if f["type"] == "heartbeat" and f["caught_up"]:
                return seen, f
            if f["type"] != "heartbeat":
                seen.append(f)

    def events(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < n:
            f = self.frame(max(0.01, deadline - time.monotonic()))
            if f["type"] == "closing":
                raise AssertionError("closed: %r" % f)
            if f["type"] != "heartbeat":
                out.append(f)
        return out

    def quiet(self, seconds=1.5):
        """Frames other than heartbeats within seconds (there should be none)."""
        deadline = time.monotonic() + seconds
        extra = []
        try:
            while time.monotonic() < deadline:
                f = self.frame(max(0.01, deadline - time.monotonic()))
                if f["type"] != "heartbeat":
                    extra.append(f)
        except socket.timeout:
            pass
        return extra

    def close(self):
        self.sock.close()


def append(w, box, body=b"Subject: ob\r\n\r\nhello\r\n"):
    _, tagged = w.cmd_literal(("APPEND %s" % box).encode(), body)
    assert status(tagged) == "OK", tagged
    m = re.search(rb"APPENDUID (\d+) (\d+)", tagged)
    return int(m.group(1)), int(m.group(2))


def ok(w, command):
    untagged, tagged = w.cmd(command)
    assert status(tagged) == "OK", (command, tagged)
    return untagged


def brief(events):
    return [(e["kind"], e["folder"], e["uids"], e["old_folder"]) for e in events]


class Outband(ClusterTest):
    def subscriber(self, users, **kw):
        s = Subscriber()
        self.addCleanup(s.close)
        s.subscribe(users, **kw)
        return s

    def test_stream_disconnect_resume(self):
        s = self.subscriber(["obalice"])
        before, hb = s.until_caught_up()
        self.assertEqual(before, [])
        (user, log_id, start), = hb["positions"]
        self.assertEqual(user, "obalice")
        self.assertNotEqual(log_id, 0)

        w = self.cluster.login_raw("obalice", fe=1)
        ok(w, "CREATE Work")
        uv, u1 = append(w, "Work")
        _, u2 = append(w, "Work")
        ok(w, "SELECT Work")
        ok(w, "STORE 1 +FLAGS (\\Seen)")
        ok(w, "STORE 2 +FLAGS (\\Deleted)")
        ok(w, "EXPUNGE")
        ok(w, "SUBSCRIBE Work")
        ok(w, "UNSELECT")
        ok(w, "RENAME Work Job")
        got = s.events(8)
        self.assertEqual(brief(got), [
            ("FOLDER_CREATE", "Work", [], ""),
            ("APPEND", "Work", [u1], ""),
            ("APPEND", "Work", [u2], ""),
            ("FLAGS", "Work", [u1], ""),
            ("FLAGS", "Work", [u2], ""),
            ("EXPUNGE", "Work", [u2], ""),
            ("FOLDER_SUBSCRIBE", "Work", [], ""),
            ("FOLDER_RENAME", "Job", [], "Work"),
        ])
        for e in got:
            self.assertEqual((e["user"], e["log_id"]), ("obalice", log_id))
            self.assertNotEqual(e["folder_id"], 0)
            self.assertGreater(e["time_ms"], 0)
        self.assertTrue(all(e["uidvalidity"] == uv for e in got), [e["uidvalidity"] for e in got])
        cursors = [e["cursor"] for e in got]
        self.assertEqual(cursors, sorted(set(cursors)))
        self.assertGreater(cursors[0], start)
        modseqs = [e["modseq"] for e in got[1:6]]
        self.assertEqual(modseqs, sorted(set(modseqs)))  # one MODSEQ per change, ascending
        self.assertEqual(s.quiet(1.2), [])
        last = cursors[-1]
        s.close()

        # Offline: more changes happen.
        _, u3 = append(w, "Job")
        ok(w, "UNSUBSCRIBE Work")
        ok(w, "DELETE Job")
        ok(w, "CREATE Later")

        r = self.subscriber(["obalice"], resume=[("obalice", log_id, last)])
        replay, hb = r.until_caught_up()
        self.assertEqual(brief(replay), [
            ("APPEND", "Job", [u3], ""),
            ("FOLDER_UNSUBSCRIBE", "Work", [], ""),
            ("FOLDER_DELETE", "Job", [], ""),
            ("FOLDER_CREATE", "Later", [], ""),
        ])
        self.assertTrue(all(e["cursor"] > last for e in replay))
        self.assertEqual(replay[2]["uidvalidity"], uv)
        self.assertEqual(hb["positions"], [("obalice", log_id, replay[-1]["cursor"])])
        # Live after the replay, through the other front-end again.
        uv2, u4 = append(w, "Later")
        (live,) = r.events(1)
        self.assertEqual(brief([live]), [("APPEND", "Later", [u4], "")])
        self.assertEqual(live["uidvalidity"], uv2)
        self.assertEqual(r.quiet(1.2), [])
        r.close()

        # Resuming from the last position again gives nothing twice.
        again = self.subscriber(["obalice"], resume=[("obalice", log_id, live["cursor"])])
        replay, hb = again.until_caught_up()
        self.assertEqual(replay, [])
        self.assertEqual(hb["positions"], [("obalice", log_id, live["cursor"])])
        w.close()

    def test_filter_by_user_and_folder(self):
        a, b = self.cluster.filter_users  # on different shards
        only_a = self.subscriber([a])
        both = self.subscriber([a, b])
        sub_tree = self.subscriber([a, b], folders=["Default/*"])
        for s in (only_a, both, sub_tree):
            s.until_caught_up()
        wa = self.cluster.login_raw(a, fe=1)
        wb = self.cluster.login_raw(b, fe=1)
        _, ua = append(wa, "INBOX")
        _, ub = append(wb, "INBOX")
        ok(wb, "CREATE Default/tel:+15551234567")
        _, uc = append(wb, "Default/tel:+15551234567")
        ok(wa, "CREATE Defaults")  # not in Default's subtree
        self.assertEqual([(e["user"], e["kind"], e["folder"], e["uids"]) for e in only_a.events(2)],
                         [(a, "APPEND", "INBOX", [ua]), (a, "FOLDER_CREATE", "Defaults", [])])
        self.assertEqual(only_a.quiet(1.2), [])
        got = both.events(5)
        self.assertEqual([(e["user"], e["kind"], e["folder"]) for e in got if e["user"] == a],
                         [(a, "APPEND", "INBOX"), (a, "FOLDER_CREATE", "Defaults")])
        self.assertEqual([(e["user"], e["kind"], e["folder"], e["uids"]) for e in got if e["user"] == b],
                         [(b, "APPEND", "INBOX", [ub]), (b, "FOLDER_CREATE", "Default/tel:+15551234567", []),
                          (b, "APPEND", "Default/tel:+15551234567", [uc])])
        self.assertEqual(both.quiet(1.2), [])
        self.assertEqual([(e["user"], e["kind"], e["folder"]) for e in sub_tree.events(2)],
                         [(b, "FOLDER_CREATE", "Default/tel:+15551234567"),
                          (b, "APPEND", "Default/tel:+15551234567")])
        self.assertEqual(sub_tree.quiet(1.2), [])
        wa.close()
        wb.close()

    def test_expired_cursor_gets_resync_needed(self):
        s = self.subscriber(["obexp"])
        _, hb = s.until_caught_up()
        (_, log_id, _), = hb["positions"]
        w = self.cluster.login_raw("obexp", fe=1)
        ok(w, "CREATE Bulk")
        (first,) = s.events(1)
        s.close()
        # More than the retained log holds (outband_retention_max per shard).
        for _ in range(RETENTION_MAX + 10):
            append(w, "Bulk")
        r = self.subscriber(["obexp"], resume=[("obexp", log_id, first["cursor"])])
        seen, hb = r.until_caught_up()
        self.assertEqual([f["type"] for f in seen], ["resync"], seen)
        user, lid, cursor = seen[0]["position"]
        self.assertEqual((user, lid), ("obexp", log_id))
        self.assertGreater(cursor, first["cursor"] + RETENTION_MAX)
        self.assertEqual(seen[0]["reason"], "the cursor is older than the retained log")
        self.assertEqual(hb["positions"], [("obexp", log_id, cursor)])
        # The stream goes on from the present.
        _, uid = append(w, "Bulk")
        (live,) = r.events(1)
        self.assertEqual((live["kind"], live["folder"], live["uids"]), ("APPEND", "Bulk", [uid]))
        self.assertGreater(live["cursor"], cursor)
        # A cursor of another log: also resync.
        other = self.subscriber(["obexp"], resume=[("obexp", log_id ^ 1, live["cursor"])])
        seen, _ = other.until_caught_up()
        self.assertEqual([(f["type"], f["reason"]) for f in seen],
                         [("resync", "the cursor belongs to another log")])
        w.close()

    def closing(self, s):
        frames = []
        while True:
            f = s.frame()
            if f["type"] == "closing":
                break
            frames.append(f)
        self.assertEqual(frames, [])
        with self.assertRaises(EOFError):
            s.frame()
        return f["reason"], f["detail"]

    def test_authentication_and_bad_frames(self):
        s = self.subscriber(["obalice"], secret="wrong-secret-0123456789")
        self.assertEqual(self.closing(s),
                         ("auth", "authenticate with a client certificate or the operator secret"))
        s = self.subscriber(["obalice"], secret="")
        self.assertEqual(self.closing(s)[0], "auth")
        s = Subscriber()
        self.addCleanup(s.close)
        s.send_frame(pbwire.encode([(1, "varint", 1), (11, "bytes", b"")]))  # Ping before Subscribe
        self.assertEqual(self.closing(s), ("protocol", "the first frame must be a Subscribe"))
        s = Subscriber()
        self.addCleanup(s.close)
        s.send_raw(b"\xff\xff\xff\xff")
        self.assertEqual(self.closing(s), ("protocol", "bad frame length"))
        s = Subscriber()
        self.addCleanup(s.close)
        s.send_frame(b"\xff\xff\xff")
        self.assertEqual(self.closing(s), ("protocol", "undecodable frame"))
        s = self.subscriber([])
        self.assertEqual(self.closing(s), ("protocol", "1 to 1000 users per subscription"))
        s = self.subscriber(["bad user"])
        self.assertEqual(self.closing(s), ("protocol", "invalid user name (entry 1)"))
        # A Ping after Subscribe is answered by a Heartbeat; a second Subscribe closes.
        s = self.subscriber(["obalice"])
        s.until_caught_up()
        s.send_frame(pbwire.encode([(1, "varint", 1), (11, "bytes", b"")]))
        self.assertEqual(s.frame()["type"], "heartbeat")
        s.subscribe(["obalice"])
        self.assertEqual(self.closing(s), ("protocol", "one Subscribe per connection"))

    def tls_context(self, client_cert):
        ctx = ssl.create_default_context(cafile=self.cluster.cert)
        if client_cert:
            ctx.load_cert_chain(os.path.join(PKI, "client.pem"), os.path.join(PKI, "client.key"))
        return ctx

    def test_tls_client_certificate(self):
        # Front-end 1's endpoint: TLS, authenticated by client certificate only.
        s = Subscriber(port=OUTBAND_TLS_PORT, tls=self.tls_context(True))
        self.addCleanup(s.close)
        s.subscribe(["obalice"], secret="")
        _, hb = s.until_caught_up()
        self.assertEqual([p[0] for p in hb["positions"]], ["obalice"])
        w = self.cluster.login_raw("obalice", fe=0)
        ok(w, "CREATE Tls")
        self.assertEqual(brief(s.events(1)), [("FOLDER_CREATE", "Tls", [], "")])
        w.close()
        # Without a certificate there is no other way in on this endpoint.
        n = Subscriber(port=OUTBAND_TLS_PORT, tls=self.tls_context(False))
        self.addCleanup(n.close)
        n.subscribe(["obalice"], secret=SECRET)
        self.assertEqual(self.closing(n)[0], "auth")
