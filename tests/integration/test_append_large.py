"""Large media APPEND in bounded memory (issue 3): a literal of
append_stream_kb or more is offered by the parser before its "+", checked
by the user's shard (AppendBegin: folder, quota, size), streamed in
AppendChunk pieces into data_dir/blobs/staging/<id>, and committed by the
AppendReq / MultiAppendReq that names it, which fsyncs, hashes, parses and
links it into its content-addressed place before the writer commits. An
abandoned staging file is removed (AppendAbort, the idle deadline, the
start-up sweep)."""

import hashlib
import os
import time

import cluster
from cluster import ClusterTest, group_pids, rss_kb
from imapwire import fetch_items, status
from test_large import big_message, blob_files, blob_path

# 2 front-ends, 2 back-ends; a short idle deadline for the expiry test.
cluster.module_fixtures(globals(), cluster_options={"append_staging_idle_s": "3"})

PW = "append-pw"
MB = 1024 * 1024
USERS = ("big", "cut", "garbage", "multi", "same", "quota", "idle", "slow", "bin", "watch", "sweep", "tls", "many")


def populate(c):
    for u in USERS:
        c.add_user(u, PW)


def staging_files(c, user):
    d = os.path.join(c.dir, "data-" + c.shard_of(user), "blobs", "staging")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def wait_no_staging(c, user, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if not staging_files(c, user):
            return []
        time.sleep(0.05)
    return staging_files(c, user)


def fetch_body(w, cmd):
    untagged, tagged = w.cmd(cmd)
    assert status(tagged) == "OK", tagged
    assert len(untagged) == 1, [u[:100] for u in untagged]
    _, items = fetch_items(untagged[0])
    return items


def send_head(w, head, n, plus=False, binary=False):
    """Sends `tag head {n}` (or ~{n}, {n+}); returns the tag. With a
    synchronising literal, the caller reads the continuation."""
    tag = w.next_tag()
    w.last_tag = tag
    marker = b"%s{%d%s}" % (b"~" if binary else b"", n, b"+" if plus else b"")
    w.send(tag.encode() + b" " + head + b" " + marker + b"\r\n")
    return tag


class Streamed(ClusterTest):
    def test_40mb_bounded_memory_byte_exact(self):
        """40 MB through front-end 1 (sent slowly enough to sample), fetched
        back through front-end 0: byte-exact, and neither the front-end nor
        the back-end grew anywhere near the message size."""
        c = self.cluster
        body = big_message(40 * MB, b"append40")
        w = c.login_raw("big", fe=1)
        w.settimeout(120)
        be = c.backends[c.shard_of("big")].pid
        fe = group_pids(c.frontends[1].pid)
        time.sleep(0.3)
        base = {p: rss_kb(p) for p in fe + [be]}
        dbase = {p: rss_kb(p, "VmData") for p in base}
        peak, dpeak = dict(base), dict(dbase)
        for p in base:
            with open("/proc/%d/clear_refs" % p, "w") as f:
                f.write("5")  # VmHWM := VmRSS
        tag = send_head(w, b"APPEND INBOX (\\Seen $Media)", len(body))
        self.assertTrue(w.read_response().startswith(b"+ "))
        step = 1 * MB
        for off in range(0, len(body), step):
            w.sock.sendall(body[off:off + step])
            for p in base:
                peak[p] = max(peak[p], rss_kb(p))
                dpeak[p] = max(dpeak[p], rss_kb(p, "VmData"))
        w.send(b"\r\n")
        _, tagged = w.read_until_tagged(tag)
        self.assertRegex(tagged, rb"^a\d+ OK \[APPENDUID \d+ 1\] ")
        for p in base:
            peak[p] = max(peak[p], rss_kb(p), rss_kb(p, "VmHWM"))
            dpeak[p] = max(dpeak[p], rss_kb(p, "VmData"))
        grown = {p: max(peak[p] - base[p], dpeak[p] - dbase[p]) // 1024 for p in base}
        # The file is in its content-addressed place, the staging one gone.
        path = blob_path(c, "big", body)
        self.assertIn(path, blob_files(c, "big"))
        self.assertEqual(os.path.getsize(path), len(body))
        self.assertEqual(wait_no_staging(c, "big"), [])
        w.close()
        r = c.login_raw("big", fe=0)
        r.settimeout(120)
        r.cmd("SELECT INBOX")
        items = fetch_body(r, "FETCH 1 (FLAGS RFC822.SIZE BODY.PEEK[] BODY.PEEK[1] BODYSTRUCTURE)")
        self.assertEqual(items["RFC822.SIZE"], str(len(body)))
        self.assertEqual(hashlib.sha256(items["BODY[]"]).hexdigest(), hashlib.sha256(body).hexdigest())
        self.assertEqual(items["BODY[1]"], b"see the attachment needle-append40")
        self.assertEqual(items["BODYSTRUCTURE"][1][1].upper(), b"OCTET-STREAM")
        self.assertIn("$Media", items["FLAGS"])
        untagged, tagged = r.cmd('SEARCH BODY "needle-append40"')
        self.assertEqual(untagged, [b"* SEARCH 1"])
        r.close()
        if cluster.sanitized():  # ASan's quarantine keeps freed memory resident
            return
        for p, mb in grown.items():
            self.assertLess(mb, 12, "pid %d grew by %d MB (back-end %d): %r" % (p, mb, be, grown))

    def test_literal_plus_and_selected_exists(self):
        """LITERAL+ streams without a continuation; the selected session
        gets EXISTS; an IDLE session on the other front-end hears of it."""
        c = self.cluster
        body = big_message(3 * MB, b"watch")
        idler = c.login_raw("watch", fe=0)
        idler.cmd("SELECT INBOX")
        idler.send(b"i1 IDLE\r\n")
        self.assertTrue(idler.read_response().startswith(b"+ "))
        w = c.login_raw("watch", fe=1)
        w.cmd("SELECT INBOX")
        untagged, tagged = w.cmd_literal(b"APPEND INBOX", body, plus=True)
        self.assertRegex(tagged, rb"OK \[APPENDUID \d+ 1\]")
        self.assertIn(b"* 1 EXISTS", untagged)
        self.assertEqual(idler.read_response(), b"* 1 EXISTS\r\n")
        idler.send(b"DONE\r\n")
        _, tagged = idler.read_until_tagged("i1")
        self.assertEqual(status(tagged), "OK")
        items = fetch_body(w, "FETCH 1 BODY.PEEK[]")
        self.assertEqual(items["BODY[]"], body)
        self.assertEqual(wait_no_staging(c, "watch"), [])
        w.close()
        idler.close()

    def test_over_tls(self):
        c = self.cluster
        body = big_message(6 * MB, b"tls")
        w = c.login_raw("tls", fe=1, tls=True)
        w.settimeout(60)
        _, tagged = w.cmd_literal(b"APPEND INBOX", body)
        self.assertRegex(tagged, rb"OK \[APPENDUID \d+ 1\]")
        w.cmd("SELECT INBOX")
        self.assertEqual(fetch_body(w, "FETCH 1 BODY.PEEK[]")["BODY[]"], body)
        self.assertEqual(wait_no_staging(c, "tls"), [])
        w.close()

    def test_binary_literal8(self):
        c = self.cluster
        blob = bytes(range(256)) * (8 * 4096)  # 8 MB holding NULs
        body = (b"Subject: bin\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Transfer-Encoding: binary\r\n\r\n" + blob)
        w = c.login_raw("bin")
        tag = send_head(w, b"APPEND INBOX", len(body), binary=True)
        self.assertTrue(w.read_response().startswith(b"+ "))
        w.send(body + b"\r\n")
        _, tagged = w.read_until_tagged(tag)
        self.assertEqual(status(tagged), "OK", tagged)
        w.cmd("SELECT INBOX")
        items = fetch_body(w, "FETCH 1 BODY.PEEK[]")
        self.assertEqual(items["BODY[]"], body)
        # The same bytes as a plain literal: NUL is refused (literal8 named),
        # the rest of the literal discarded, the connection fine.
        tag = send_head(w, b"APPEND INBOX", len(body))
        self.assertTrue(w.read_response().startswith(b"+ "))
        w.send(body + b"\r\n")
        _, tagged = w.read_until_tagged(tag)
        self.assertRegex(tagged, rb"BAD .*literal8")
        self.assertEqual(status(w.cmd("NOOP")[1]), "OK")
        self.assertEqual(wait_no_staging(c, "bin"), [])
        w.close()

    def test_identical_bodies_share_one_file(self):
        c = self.cluster
        body = big_message(4 * MB, b"same")
        path = blob_path(c, "same", body)
        w = c.login_raw("same")
        w.cmd("CREATE Other")
        self.assertEqual(status(w.cmd_literal(b"APPEND INBOX", body)[1]), "OK")
        self.assertEqual(status(w.cmd_literal(b"APPEND Other", body, plus=True)[1]), "OK")
        self.assertIn(path, blob_files(c, "same"))
        self.assertEqual(os.stat(path).st_nlink, 1)  # the staging names are gone
        w.cmd("SELECT INBOX")
        w.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
        self.assertEqual(w.cmd("EXPUNGE")[0], [b"* 1 EXPUNGE"])
        self.assertTrue(os.path.exists(path))  # still referenced by Other
        w.cmd("SELECT Other")
        self.assertEqual(fetch_body(w, "FETCH 1 BODY.PEEK[]")["BODY[]"], body)
        w.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
        w.cmd("EXPUNGE")
        self.assertFalse(os.path.exists(path))
        w.close()


class Multi(ClusterTest):
    def test_multiappend_large_and_small(self):
        c = self.cluster
        small1 = b"Subject: s1\r\n\r\none\r\n"
        big = big_message(3 * MB, b"multi")
        small2 = b"Subject: s2\r\n\r\ntwo\r\n"
        w = c.login_raw("multi")
        w.cmd("CREATE M")
        tag = send_head(w, b"APPEND M", len(small1))
        self.assertTrue(w.read_response().startswith(b"+ "))
        w.send(small1 + b" (\\Flagged) {%d}\r\n" % len(big))
        self.assertTrue(w.read_response().startswith(b"+ "))
        w.send(big + b" {%d+}\r\n" % len(small2) + small2 + b"\r\n")
        _, tagged = w.read_until_tagged(tag)
        self.assertRegex(tagged, rb"OK \[APPENDUID \d+ 1:3\]")
        w.cmd("SELECT M")
        untagged, _ = w.cmd("FETCH 1:3 (FLAGS BODY.PEEK[])")
        got = [fetch_items(u)[1] for u in untagged]
        self.assertEqual([g["BODY[]"] for g in got], [small1, big, small2])
        self.assertIn("\\Flagged", got[1]["FLAGS"])
        self.assertEqual(wait_no_staging(c, "multi"), [])
        w.close()

    def test_too_many_large_messages_in_one_command(self):
        """append_staging_max (8) large literals in one MULTIAPPEND: the
        ninth is refused before its "+", and none is stored."""
        c = self.cluster
        body = big_message(MB + 4096, b"many")
        w = c.login_raw("many")
        tag = send_head(w, b"APPEND INBOX", len(body))
        for i in range(9):
            line = w.read_response()
            if i == 8:
                self.assertRegex(line, (r"^%s NO \[LIMIT\] " % tag).encode())
                break
            self.assertTrue(line.startswith(b"+ "), line)
            w.send(body + b" {%d}\r\n" % len(body))
        self.assertEqual(status(w.cmd("NOOP")[1]), "OK")
        self.assertEqual(w.cmd("STATUS INBOX (MESSAGES)")[0], [b"* STATUS INBOX (MESSAGES 0)"])
        self.assertEqual(wait_no_staging(c, "many"), [])
        w.close()

    def test_multiappend_failure_commits_none(self):
        """A MULTIAPPEND whose last (small) message passes the quota at
        commit stores none of its messages, the large one included; a bad
        argument after a large literal stores none and leaves no staging."""
        c = self.cluster
        big = big_message(3 * MB, b"multi-fail")
        small = b"Subject: s\r\n\r\n" + b"x" * (600 * 1024) + b"\r\n"
        w = c.login_raw("quota")
        w.cmd("CREATE Q")
        r = c.admin("user", "quota", "quota", "4")
        self.assertEqual(r.returncode, 0, r.stderr)
        try:
            tag = send_head(w, b"APPEND Q", len(big))
            self.assertTrue(w.read_response().startswith(b"+ "))
            # big (3 MB) + small + small: over 4 MB only with the third.
            w.send(big + b" {%d+}\r\n" % len(small) + small + b" {%d+}\r\n" % len(small) + small + b"\r\n")
            _, tagged = w.read_until_tagged(tag)
            self.assertRegex(tagged, rb"NO \[OVERQUOTA\]")
            self.assertEqual(w.cmd("STATUS Q (MESSAGES)")[0], [b"* STATUS Q (MESSAGES 0)"])
            self.assertEqual(wait_no_staging(c, "quota"), [])
            self.assertFalse(os.path.exists(blob_path(c, "quota", big)))
            # A bad flag after the large literal: BAD, nothing stored.
            tag = send_head(w, b"APPEND Q", len(big))
            self.assertTrue(w.read_response().startswith(b"+ "))
            w.send(big + b" (\\Bogus) {5+}\r\nhello\r\n")
            _, tagged = w.read_until_tagged(tag)
            self.assertEqual(status(tagged), "BAD", tagged)
            self.assertEqual(w.cmd("STATUS Q (MESSAGES)")[0], [b"* STATUS Q (MESSAGES 0)"])
            self.assertEqual(wait_no_staging(c, "quota"), [])
        finally:
            c.admin("user", "quota", "quota", "0")
        w.close()

    def test_quota_and_trycreate_refused_before_the_literal(self):
        c = self.cluster
        w = c.login_raw("quota", fe=1)
        r = c.admin("user", "quota", "quota", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        try:
            tag = send_head(w, b"APPEND INBOX", 50 * MB)
            line = w.read_response()  # no "+": the client never sends 50 MB
            self.assertRegex(line, (r"^%s NO \[OVERQUOTA\] " % tag).encode())
            tag = send_head(w, b"APPEND Nowhere", 5 * MB)
            self.assertRegex(w.read_response(), (r"^%s NO \[TRYCREATE\] " % tag).encode())
            # LITERAL+: refused, the bytes that come anyway are discarded.
            tag = send_head(w, b"APPEND INBOX", 3 * MB, plus=True)
            w.send(b"y" * (3 * MB) + b"\r\n")
            _, tagged = w.read_until_tagged(tag)
            self.assertRegex(tagged, rb"NO \[OVERQUOTA\]")
            self.assertEqual(status(w.cmd("NOOP")[1]), "OK")
            self.assertEqual(staging_files(c, "quota"), [])
        finally:
            c.admin("user", "quota", "quota", "0")
        w.close()


class Hostile(ClusterTest):
    def test_disconnect_mid_literal_leaves_nothing(self):
        c = self.cluster
        body = big_message(20 * MB, b"cut")
        for fe in (0, 1):
            w = c.login_raw("cut", fe=fe)
            send_head(w, b"APPEND INBOX", len(body))
            self.assertTrue(w.read_response().startswith(b"+ "))
            w.sock.sendall(body[:7 * MB])
            time.sleep(0.3)
            self.assertEqual(len(staging_files(c, "cut")), 1)
            w.sock.close()
            self.assertEqual(wait_no_staging(c, "cut"), [])
        w = c.login_raw("cut")
        self.assertEqual(w.cmd("STATUS INBOX (MESSAGES)")[0], [b"* STATUS INBOX (MESSAGES 0)"])
        self.assertEqual(status(w.cmd_literal(b"APPEND INBOX", body)[1]), "OK")
        w.close()

    def test_garbage_after_the_literal(self):
        c = self.cluster
        body = big_message(2 * MB, b"garbage")
        w = c.login_raw("garbage")
        tag = send_head(w, b"APPEND INBOX", len(body))
        self.assertTrue(w.read_response().startswith(b"+ "))
        w.send(body + b"\x00garbage {99999999999}\r\n")
        _, tagged = w.read_until_tagged(tag)
        self.assertEqual(status(tagged), "BAD", tagged)
        self.assertEqual(status(w.cmd("NOOP")[1]), "OK")
        self.assertEqual(wait_no_staging(c, "garbage"), [])
        self.assertEqual(w.cmd("STATUS INBOX (MESSAGES)")[0], [b"* STATUS INBOX (MESSAGES 0)"])
        # Before login, a large literal is refused outright.
        r = c.raw()
        r.send(b"x1 LOGIN {%d}\r\n" % (5 * MB))
        self.assertRegex(r.read_response(), rb"^x1 BAD \[TOOBIG\] ")
        self.assertEqual(status(r.cmd("NOOP")[1]), "OK")
        r.close()
        w.close()

    def test_stalled_literal_expires(self):
        """A client that stops in the middle: after append_staging_idle_s the
        back-end drops the staging file; the rest of the literal is then
        refused and discarded, and the connection goes on."""
        c = self.cluster
        body = big_message(6 * MB, b"idle")
        w = c.login_raw("idle")
        w.settimeout(30)
        tag = send_head(w, b"APPEND INBOX", len(body))
        self.assertTrue(w.read_response().startswith(b"+ "))
        w.sock.sendall(body[:3 * MB])
        time.sleep(0.5)
        self.assertEqual(len(staging_files(c, "idle")), 1)
        end = time.time() + 15
        while staging_files(c, "idle") and time.time() < end:
            time.sleep(0.2)
        self.assertEqual(staging_files(c, "idle"), [])
        w.sock.sendall(body[3 * MB:] + b"\r\n")
        _, tagged = w.read_until_tagged(tag)
        self.assertRegex(tagged, rb"^a\d+ NO APPEND: the literal stalled")
        self.assertEqual(status(w.cmd("NOOP")[1]), "OK")
        self.assertEqual(w.cmd("STATUS INBOX (MESSAGES)")[0], [b"* STATUS INBOX (MESSAGES 0)"])
        w.close()

    def test_slow_client_outlives_idle_deadline(self):
        """A client trickling its literal (64 KB every 0.3 s, for longer than
        the 3 s idle deadline before a 1 MiB piece fills) is not mistaken for
        an abandoned one: partial pieces go on before the deadline."""
        c = self.cluster
        body = big_message(1536 * 1024, b"slowly")
        w = c.login_raw("slow", fe=1)
        w.settimeout(30)
        tag = send_head(w, b"APPEND INBOX", len(body))
        self.assertTrue(w.read_response().startswith(b"+ "))
        step = 64 * 1024
        for off in range(0, len(body), step):
            w.sock.sendall(body[off:off + step])
            time.sleep(0.3)
        w.send(b"\r\n")
        _, tagged = w.read_until_tagged(tag)
        self.assertEqual(status(tagged), "OK", tagged)
        w.cmd("SELECT INBOX")
        untagged, _ = w.cmd("UID SEARCH ALL")
        n = len(untagged[0].split()) - 2
        self.assertEqual(fetch_body(w, "FETCH %d BODY.PEEK[]" % n)["BODY[]"], body)
        w.close()

    def test_restart_sweeps_staging(self):
        c = self.cluster
        sid = c.shard_of("sweep")
        d = os.path.join(c.dir, "data-" + sid, "blobs", "staging")
        os.makedirs(d, exist_ok=True)
        left = os.path.join(d, "00000000deadbeef")
        with open(left, "wb") as f:
            f.write(b"x" * 4096)
        c.restart_backend(sid)
        self.assertFalse(os.path.exists(left))
        w = c.login_raw("sweep")
        self.assertEqual(status(w.cmd_literal(b"APPEND INBOX", big_message(2 * MB, b"sweep"))[1]), "OK")
        w.close()
