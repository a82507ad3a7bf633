"""Large media (issue 3): bodies above blob_file_threshold_kb are
content-addressed files under the shard's data_dir/blobs/ab/cd/<sha256>,
synced before their commit; COPY shares the file, the EXPUNGE of the last
reference removes it, a restart keeps everything and sweeps orphans; FETCH
of a large body streams it in chunks in bounded memory on both processes."""

import base64
import glob
import hashlib
import os
import time

import cluster
from cluster import ClusterTest, group_pids
from imapwire import fetch_items, status

cluster.module_fixtures(globals())

PW = "large-pw"
MB = 1024 * 1024


def big_message(size, tag):
    """A multipart message of about `size` bytes: a text part, then a base64
    attachment of deterministic pseudo-random bytes; tag makes it unique."""
    head = (b"From: media@example.org\r\n"
            b"To: u@example.org\r\n"
            b"Subject: large " + tag + b"\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=BB\r\n"
            b"\r\n"
            b"--BB\r\n"
            b"Content-Type: text/plain\r\n"
            b"\r\n"
            b"see the attachment needle-" + tag + b"\r\n"
            b"--BB\r\n"
            b"Content-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"\r\n")
    tail = b"\r\n--BB--\r\n"
    raw_len = (size - len(head) - len(tail)) * 57 // 78
    seed = hashlib.sha256(tag).digest()
    chunks, n = [], 0
    while n < raw_len:
        seed = hashlib.sha256(seed).digest()
        chunks.append(seed)
        n += len(seed)
    raw = b"".join(chunks)[:raw_len]
    b64 = base64.encodebytes(raw).replace(b"\n", b"\r\n").rstrip(b"\r\n")
    return head + b64 + tail


def blob_files(c, user):
    d = os.path.join(c.dir, "data-" + c.shard_of(user), "blobs")
    return sorted(p for p in glob.glob(os.path.join(d, "*", "*", "*")))


def blob_path(c, user, body):
    h = hashlib.sha256(body).hexdigest()
    return os.path.join(c.dir, "data-" + c.shard_of(user), "blobs", h[:2], h[2:4], h)


def fetch_body(w, cmd):
    """The literal of the only FETCH response of `cmd`, and the tagged line."""
    untagged, tagged = w.cmd(cmd)
    assert status(tagged) == "OK", tagged
    assert len(untagged) == 1, [u[:100] for u in untagged]
    _, items = fetch_items(untagged[0])
    assert items, untagged[0][:300]
    return items, tagged


def populate(c):
    for u in ("big", "copy", "restart", "slow", "small"):
        c.add_user(u, PW)


class Storage(ClusterTest):
    def test_roundtrip_in_a_file(self):
        c = self.cluster
        body = big_message(20 * MB, b"rt")
        w = c.login_raw("big")
        _, tagged = w.cmd_literal(b"APPEND INBOX (\\Seen)", body)
        self.assertRegex(tagged, rb"^a\d+ OK \[APPENDUID \d+ 1\] ")
        path = blob_path(c, "big", body)
        self.assertEqual(blob_files(c, "big"), [path])
        self.assertEqual(os.path.getsize(path), len(body))
        # The body is not in LMDB: the environment stays small.
        mdb = os.path.join(c.dir, "data-" + c.shard_of("big"), "data.mdb")
        self.assertLess(os.path.getsize(mdb), 4 * MB)
        w.cmd("SELECT INBOX")
        items, _ = fetch_body(w, "FETCH 1 (RFC822.SIZE BODY.PEEK[])")
        self.assertEqual(items["RFC822.SIZE"], str(len(body)))
        self.assertEqual(hashlib.sha256(items["BODY[]"]).hexdigest(), hashlib.sha256(body).hexdigest())
        items, _ = fetch_body(w, "FETCH 1 (BODY.PEEK[2]<1000.5000>)")
        start = body.index(b"\r\n\r\n", body.index(b"application/octet-stream")) + 4
        self.assertEqual(items["BODY[2]<1000>"], body[start + 1000:start + 6000])
        items, _ = fetch_body(w, "FETCH 1 (BODY.PEEK[1] BODYSTRUCTURE)")
        self.assertEqual(items["BODY[1]"], b"see the attachment needle-rt")
        self.assertEqual(items["BODYSTRUCTURE"][1][1].upper(), b"OCTET-STREAM")
        # SEARCH reads the file too.
        untagged, tagged = w.cmd('SEARCH BODY "needle-rt"')
        self.assertEqual((untagged, status(tagged)), ([b"* SEARCH 1"], "OK"))
        w.close()

    def test_small_bodies_stay_inline(self):
        c = self.cluster
        w = c.login_raw("small")
        before = blob_files(c, "small")
        _, tagged = w.cmd_literal(b"APPEND INBOX", b"Subject: s\r\n\r\n" + b"x" * 1000 + b"\r\n")
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertEqual(blob_files(c, "small"), before)
        w.cmd("SELECT INBOX")
        items, _ = fetch_body(w, "FETCH 1 BODY.PEEK[]")
        self.assertEqual(items["BODY[]"], b"Subject: s\r\n\r\n" + b"x" * 1000 + b"\r\n")
        w.close()

    def test_copy_shares_expunge_of_last_removes(self):
        c = self.cluster
        body = big_message(3 * MB, b"copy")
        path = blob_path(c, "copy", body)
        w = c.login_raw("copy")
        w.cmd("CREATE Other")
        self.assertEqual(status(w.cmd_literal(b"APPEND INBOX", body)[1]), "OK")
        # The same bytes appended again share the file too.
        self.assertEqual(status(w.cmd_literal(b"APPEND Other", body)[1]), "OK")
        w.cmd("SELECT INBOX")
        self.assertEqual(status(w.cmd("COPY 1 Other")[1]), "OK")
        self.assertEqual([p for p in blob_files(c, "copy") if p == path], [path])
        self.assertEqual(status(w.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")[1]), "OK")
        self.assertEqual(w.cmd("EXPUNGE")[0], [b"* 1 EXPUNGE"])
        self.assertTrue(os.path.exists(path))
        w.cmd("SELECT Other")
        items, _ = fetch_body(w, "FETCH 2 BODY.PEEK[]")
        self.assertEqual(items["BODY[]"], body)
        w.cmd("STORE 1:2 +FLAGS.SILENT (\\Deleted)")
        self.assertEqual(w.cmd("EXPUNGE")[0], [b"* 1 EXPUNGE", b"* 1 EXPUNGE"])
        self.assertFalse(os.path.exists(path))
        # A folder DELETE drops references the same way.
        self.assertEqual(status(w.cmd_literal(b"APPEND Other", body)[1]), "OK")
        self.assertTrue(os.path.exists(path))
        w.cmd("UNSELECT")
        self.assertEqual(status(w.cmd("DELETE Other")[1]), "OK")
        self.assertFalse(os.path.exists(path))
        w.close()

    def test_restart_keeps_files_and_sweeps_orphans(self):
        c = self.cluster
        body = big_message(2 * MB, b"restart")
        path = blob_path(c, "restart", body)
        w = c.login_raw("restart")
        self.assertEqual(status(w.cmd_literal(b"APPEND INBOX", body)[1]), "OK")
        w.close()
        sid = c.shard_of("restart")
        d = os.path.join(c.dir, "data-" + sid, "blobs")
        orphan = os.path.join(d, "ee", "ee", "ee" * 32)
        tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp.1.1")
        os.makedirs(os.path.dirname(orphan), exist_ok=True)
        for p in (orphan, tmp):
            with open(p, "wb") as f:
                f.write(b"left by a crash")
        c.restart_backend(sid)  # SIGKILL, then start: the sweep runs
        self.assertFalse(os.path.exists(orphan))
        self.assertFalse(os.path.exists(tmp))
        self.assertTrue(os.path.exists(path))
        w = c.login_raw("restart", fe=1)
        w.cmd("SELECT INBOX")
        items, _ = fetch_body(w, "FETCH 1 BODY.PEEK[]")
        self.assertEqual(items["BODY[]"], body)
        w.close()


class Streaming(ClusterTest):
    def test_mixed_page_byte_exact(self):
        """A large message among small ones: each answered whole and in order;
        sections and partials of the large one are its exact bytes; a
        non-PEEK fetch sets \\Seen and reports FLAGS."""
        c = self.cluster
        big = big_message(5 * MB, b"mixed")
        small = b"Subject: small\r\n\r\nhello\r\n"
        w = c.login_raw("copy", fe=1)
        w.cmd("CREATE Mixed")
        for m in (small, big, small + b"2"):
            self.assertEqual(status(w.cmd_literal(b"APPEND Mixed", m)[1]), "OK")
        w.cmd("SELECT Mixed")
        untagged, tagged = w.cmd("FETCH 1:3 (UID BODY.PEEK[])")
        self.assertEqual(status(tagged), "OK", tagged)
        got = [fetch_items(u) for u in untagged]
        self.assertEqual([(n, it["UID"]) for n, it in got], [(1, "1"), (2, "2"), (3, "3")])
        self.assertEqual([it["BODY[]"] for _, it in got], [small, big, small + b"2"])
        start = big.index(b"\r\n\r\n") + 4
        untagged, tagged = w.cmd("FETCH 2 (BODY.PEEK[TEXT]<10.2000000> RFC822.SIZE BODY.PEEK[HEADER] BODY.PEEK[2.MIME])")
        self.assertEqual(status(tagged), "OK", tagged)
        _, it = fetch_items(untagged[0])
        self.assertEqual(it["BODY[TEXT]<10>"], big[start + 10:start + 2000010])
        self.assertEqual(it["BODY[HEADER]"], big[:start])
        self.assertEqual(it["BODY[2.MIME]"], b"Content-Type: application/octet-stream\r\n"
                                             b"Content-Transfer-Encoding: base64\r\n\r\n")
        self.assertEqual(it["RFC822.SIZE"], str(len(big)))
        untagged, tagged = w.cmd("FETCH 2 (FLAGS BODY[TEXT])")
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertTrue(untagged[0].startswith(b"* 2 FETCH (FLAGS (\\Seen \\Recent) BODY[TEXT] {%d}\r\n"
                                               % (len(big) - start)), untagged[0][:100])
        self.assertEqual(fetch_items(untagged[0])[1]["BODY[TEXT]"], big[start:])
        # Header filters of a large message: its header is read, not its body.
        untagged, tagged = w.cmd("FETCH 2 (BODY.PEEK[HEADER.FIELDS (Subject From)] UID "
                                 "BODY.PEEK[HEADER.FIELDS.NOT (To Content-Type)] BODY.PEEK[HEADER.FIELDS (From)]<0.4>)")
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertEqual(untagged, [
            b"* 2 FETCH (UID 2 BODY[HEADER.FIELDS (SUBJECT FROM)] {49}\r\n"
            b"From: media@example.org\r\nSubject: large mixed\r\n\r\n"
            b" BODY[HEADER.FIELDS.NOT (TO CONTENT-TYPE)] {68}\r\n"
            b"From: media@example.org\r\nSubject: large mixed\r\nMIME-Version: 1.0\r\n\r\n"
            b" BODY[HEADER.FIELDS (FROM)]<0> {4}\r\nFrom)"])
        # BINARY still answers (whole-body path), decoded.
        it, _ = fetch_body(w, "FETCH 2 (BINARY.PEEK[1])")
        self.assertEqual(it["BINARY[1]"], b"see the attachment needle-mixed")
        w.close()

    def test_fetch_40mb_in_bounded_memory(self):
        c = self.cluster
        body = big_message(40 * MB, b"slow")
        # APPEND through front-end 1, FETCH through front-end 0 (whose
        # memory never held the message).
        a = c.login_raw("slow", fe=1)
        a.settimeout(120)
        self.assertEqual(status(a.cmd_literal(b"APPEND INBOX", body)[1]), "OK")
        a.close()
        w = c.login_raw("slow")
        w.settimeout(120)
        w.cmd("SELECT INBOX")
        time.sleep(0.5)
        be = c.backends[c.shard_of("slow")].pid
        fe = group_pids(c.frontends[0].pid)
        head = b"* 1 FETCH (BODY[] {%d}\r\n" % len(body)
        digest, tail, grown = cluster.read_literal_measured(w, b"FETCH 1 BODY.PEEK[]", head, len(body), fe + [be])
        self.assertEqual(digest, hashlib.sha256(body).hexdigest())
        self.assertEqual(tail, b")\r\ns1 OK Fetch completed.\r\n")
        # Far below the message's 40 MB on either process (not measurable
        # under AddressSanitizer: its quarantine keeps freed memory resident).
        if "asan" in os.path.basename(cluster.build_dir().rstrip("/")):
            return
        for p, mb in grown.items():
            self.assertLess(mb, 12, "pid %d grew by %d MB (back-end %d): %r" % (p, mb, be, grown))
        w.close()
