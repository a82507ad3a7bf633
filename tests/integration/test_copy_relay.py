"""COPY and MOVE into another user's folder on another shard (frontend/copy-relay.c).

The front-end reads the messages from the source shard and writes them to the
destination shard in one MultiAppend (all or none); bodies from
append_stream_kb on are staged on the destination in append_chunk_kb windows.
The owner (alice) is on shard s1, the grantee (bob) on s2. The front-ends
stream from 64 KiB in 256 KiB windows, and a command stages at most 3 bodies
(append_staging_max), so the limit is reachable with small messages."""

import itertools
import os
import re
import time

import cluster
from cluster import ClusterTest
from checks import append, copyuid, fetch
from imapwire import fetch_items, status

FE = {"append_stream_kb": "64", "append_chunk_kb": "256"}
cluster.module_fixtures(globals(), frontend_options=[dict(FE), dict(FE)],
                        cluster_options={"append_staging_max": "3"})

PW = "relay-pw"
_serial = itertools.count()


def pair(c, prefix):
    """(alice on s1, bob on s2), fresh."""
    by_shard = c.users_on_each_shard("%s%dx" % (prefix, next(_serial)), password=PW, per_shard=1)
    return by_shard["s1"][0], by_shard["s2"][0]


def other(owner, folder="INBOX"):
    return '"Other Users/%s/%s"' % (owner, folder)


def message(tag, size):
    """A message of about size bytes: 8-bit body lines, CRLF, tag in Subject."""
    head = b"From: bob@example.org\r\nSubject: relay " + tag + b"\r\nContent-Type: text/plain\r\n\r\n"
    line = bytes(range(0x21, 0x7f)) + bytes(range(0x80, 0x100)) + b"\r\n"
    body = (line * (size // len(line) + 1))[:max(size - len(head) - 2, 0)]
    return head + body + b"\r\n"


def flags_of(items):
    return {f for f in items["FLAGS"] if f != "\\Recent"}


class Relay(ClusterTest):
    def login(self, user, fe):
        return self.cluster.login_raw(user, fe=fe)

    def ok(self, w, command):
        untagged, tagged = w.cmd(command)
        self.assertEqual(status(tagged), "OK", "%s -> %r" % (command, tagged))
        return untagged

    def uidvalidity(self, w, folder):
        for r in self.ok(w, "STATUS %s (UIDVALIDITY)" % folder):
            m = re.match(rb"^\* STATUS .* \(UIDVALIDITY (\d+)\)$", r)
            if m:
                return int(m.group(1))
        self.fail("no STATUS")

    def count(self, w, folder):
        for r in self.ok(w, "STATUS %s (MESSAGES)" % folder):
            m = re.match(rb"^\* STATUS .* \(MESSAGES (\d+)\)$", r)
            if m:
                return int(m.group(1))
        self.fail("no STATUS")

    def by_uid(self, w, uid):
        untagged = self.ok(w, "UID FETCH %d (FLAGS INTERNALDATE BODY.PEEK[])" % uid)
        got = [fetch_items(r)[1] for r in untagged if re.match(rb"^\* \d+ FETCH ", r)]
        self.assertEqual(len(got), 1, [r[:200] for r in untagged])
        return got[0]

    def bob_inbox(self, b, msgs):
        """Appends msgs [(bytes, flags, date)] to bob's INBOX, selects it; the UIDs."""
        uids = []
        for body, flags, date in msgs:
            _, uid, _ = append(self, b, "INBOX", body, flags=flags, date=date)
            uids.append(uid)
        self.ok(b, "SELECT INBOX")
        return uids

    def test_copy_then_move_with_a_large_message(self):
        alice, bob = pair(self.cluster, "big")
        w = self.login(alice, fe=0)
        self.ok(w, "SETACL INBOX %s lrswi" % bob)
        validity = self.uidvalidity(w, "INBOX")
        b = self.login(bob, fe=1)
        msgs = [(message(b"small", 2000), ["\\Seen", "$Work"], "01-Feb-2024 10:00:00 +0530"),
                (message(b"large", 3 * 1024 * 1024 + 17), ["\\Flagged"], "29-Feb-2024 23:59:59 -0800"),
                (message(b"medium", 100 * 1024), [], "02-Mar-2024 00:00:01 +0000")]
        uids = self.bob_inbox(b, msgs)
        before = [self.by_uid(b, u) for u in uids]

        _, tagged = b.cmd("UID COPY 1:* %s" % other(alice))
        self.assertRegex(tagged, rb"^a\d+ OK \[COPYUID %d \S+ \S+\] " % validity)
        src, dst = copyuid(self, [tagged], validity)
        self.assertEqual(src, uids)
        self.assertEqual(len(dst), 3)
        self.assertEqual(dst, sorted(dst))
        self.ok(w, "EXAMINE INBOX")
        for i, d in enumerate(dst):
            got = self.by_uid(w, d)
            self.assertEqual(got["BODY[]"], msgs[i][0], "message %d" % i)
            self.assertEqual(flags_of(got), flags_of(before[i]))
            self.assertEqual(got["INTERNALDATE"], before[i]["INTERNALDATE"])
        self.assertEqual(self.count(b, "INBOX"), 3)  # a COPY leaves the originals

        untagged, tagged = b.cmd("UID MOVE 1:* %s" % other(alice))
        self.assertEqual(status(tagged), "OK", tagged)
        src, dst2 = copyuid(self, untagged, validity)
        self.assertEqual(src, uids)
        self.assertTrue(min(dst2) > max(dst), (dst, dst2))
        gone = [r for r in untagged if re.match(rb"^\* \d+ EXPUNGE$", r)]
        vanished = [r for r in untagged if r.startswith(b"* VANISHED")]
        self.assertTrue(len(gone) == 3 or vanished, untagged)
        self.assertEqual(fetch(self, b, "1:*", "UID"), [])
        self.assertEqual(self.count(w, "INBOX"), 6)
        self.ok(w, "EXAMINE INBOX")
        for i, d in enumerate(dst2):
            got = self.by_uid(w, d)
            self.assertEqual(got["BODY[]"], msgs[i][0], "moved message %d" % i)
            self.assertEqual(flags_of(got), flags_of(before[i]))
        w.close()
        b.close()

    def test_without_insert_right_nothing_changes(self):
        alice, bob = pair(self.cluster, "noi")
        w = self.login(alice, fe=0)
        self.ok(w, "SETACL INBOX %s lr" % bob)
        b = self.login(bob, fe=1)
        uids = self.bob_inbox(b, [(message(b"a", 500), None, None), (message(b"b", 200 * 1024), None, None)])
        for cmd in ("UID COPY 1:* %s", "UID MOVE 1:* %s", "COPY 1 %s"):
            _, tagged = b.cmd(cmd % other(alice))
            self.assertRegex(tagged, rb"^a\d+ NO \[NOPERM\] ", cmd)
        self.assertEqual(self.count(w, "INBOX"), 0)
        self.assertEqual([int(it["UID"]) for _, it in fetch(self, b, "1:*", "UID")], uids)
        w.close()
        b.close()

    def test_nonexistent_destination_is_trycreate(self):
        alice, bob = pair(self.cluster, "nope")
        w = self.login(alice, fe=0)
        self.ok(w, "SETACL INBOX %s lrswi" % bob)
        b = self.login(bob, fe=1)
        self.bob_inbox(b, [(message(b"a", 500), None, None), (message(b"b", 200 * 1024), None, None)])
        for cmd in ("UID COPY 1:* %s", "UID MOVE 1:* %s"):
            _, tagged = b.cmd(cmd % other(alice, "Nope"))
            self.assertRegex(tagged, rb"^a\d+ NO \[TRYCREATE\] ", cmd)
        self.assertEqual(len(fetch(self, b, "1:*", "UID")), 2)
        # Nothing to copy: the destination is still checked.
        self.ok(b, "SELECT Default")
        _, tagged = b.cmd("UID COPY 1:* %s" % other(alice, "Nope"))
        self.assertRegex(tagged, rb"^a\d+ NO \[TRYCREATE\] ")
        _, tagged = b.cmd("UID COPY 1:* %s" % other(alice))
        self.assertRegex(tagged, rb"^a\d+ OK ")
        self.assertNotIn(b"COPYUID", tagged)
        self.assertEqual(self.count(w, "INBOX"), 0)
        w.close()
        b.close()

    def test_too_many_large_messages_is_limit(self):
        alice, bob = pair(self.cluster, "lim")
        w = self.login(alice, fe=0)
        self.ok(w, "SETACL INBOX %s lrswi" % bob)
        b = self.login(bob, fe=1)
        self.bob_inbox(b, [(message(b"%d" % i, 100 * 1024), None, None) for i in range(4)])
        _, tagged = b.cmd("UID COPY 1:* %s" % other(alice))
        self.assertRegex(tagged, rb"^a\d+ NO \[LIMIT\] ")
        self.assertEqual(self.count(w, "INBOX"), 0)
        # Three staged bodies fit.
        _, tagged = b.cmd("UID COPY 2:4 %s" % other(alice))
        self.assertRegex(tagged, rb"^a\d+ OK \[COPYUID ")
        self.assertEqual(self.count(w, "INBOX"), 3)
        w.close()
        b.close()

    def test_copy_out_of_the_owners_folder(self):
        alice, bob = pair(self.cluster, "out")
        w = self.login(alice, fe=0)
        big = message(b"shared", 1024 * 1024 + 5)
        _, auid, _ = append(self, w, "INBOX", big, flags=["\\Flagged"])
        self.ok(w, "SETACL INBOX %s lr" % bob)
        b = self.login(bob, fe=1)
        own = self.uidvalidity(b, "INBOX")
        self.ok(b, "EXAMINE %s" % other(alice))
        _, tagged = b.cmd("UID COPY %d INBOX" % auid)
        self.assertRegex(tagged, rb"^a\d+ OK \[COPYUID %d %d \d+\] " % (own, auid))
        _, (dest,) = copyuid(self, [tagged], own)
        self.ok(b, "EXAMINE INBOX")
        got = self.by_uid(b, dest)
        self.assertEqual(got["BODY[]"], big)
        self.assertEqual(flags_of(got), {"\\Flagged"})
        w.close()
        b.close()

    def test_failed_commit_leaves_nothing(self):
        """The commit fails after a body was staged (the owner's folder has
        no room for another keyword): nothing is added, no staging file is
        left."""
        alice, bob = pair(self.cluster, "atom")
        w = self.login(alice, fe=0)
        for part in (range(0, 128), range(128, 255)):
            append(self, w, "INBOX", message(b"kw", 300), flags=["k%d" % i for i in part])
        self.ok(w, "SETACL INBOX %s lrswi" % bob)
        b = self.login(bob, fe=1)
        self.bob_inbox(b, [(message(b"large", 300 * 1024), None, None),
                           (message(b"tagged", 300), ["$new1", "$new2"], None)])
        _, tagged = b.cmd("UID COPY 1:* %s" % other(alice))
        self.assertRegex(tagged, rb"^a\d+ NO \[CANNOT\] COPY: too many keywords")
        self.assertEqual(self.count(w, "INBOX"), 2)
        staging = os.path.join(self.cluster.dir, "data-s1", "blobs", "staging")
        deadline = time.time() + 5
        while os.listdir(staging) and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(os.listdir(staging), [])
        w.close()
        b.close()

    def test_client_gone_midway_leaves_nothing(self):
        """The client disconnects while a large body is being relayed: the
        command is dropped, its staging files are aborted, the owner's folder
        is unchanged, and the front-end serves on."""
        alice, bob = pair(self.cluster, "gone")
        w = self.login(alice, fe=0)
        self.ok(w, "SETACL INBOX %s lrswi" % bob)
        b = self.login(bob, fe=1)
        self.bob_inbox(b, [(message(b"large", 12 * 1024 * 1024), None, None)])
        b.send(b"x1 UID COPY 1:* %s\r\n" % other(alice).encode())
        time.sleep(0.05)
        b.close()
        staging = os.path.join(self.cluster.dir, "data-s1", "blobs", "staging")
        deadline = time.time() + 10
        while os.listdir(staging) and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(os.listdir(staging), [])
        # The relay was cut off (the usual case: 48 windows take longer than
        # the client stays), or, on a fast machine, it had committed whole:
        # never a part of it.
        self.assertIn(self.count(w, "INBOX"), (0, 1))
        b = self.login(bob, fe=1)
        self.ok(b, "NOOP")
        w.close()
        b.close()
