"""Back-end failures: an acknowledged APPEND survives `kill -9` of its back-end;
a shard that is down gives a tagged NO [UNAVAILABLE] within the RPC deadline
(rpc_timeout_ms=1500) while the other shard keeps working; a restarted
back-end is picked up by the running front-ends without restarting them."""

import threading
import time

import cluster
from cluster import ClusterTest
from checks import append, binary_message, check_select, fetch
from imapwire import ServerClosed, resp_code, status

cluster.module_fixtures(globals())

PW = "failover-pw"
USERS = {}
RPC_TIMEOUT = 1.5
SLACK = 2.5


def populate(c):
    USERS.update(c.users_on_each_shard("fo", password=PW, per_shard=3))


class Durability(ClusterTest):
    def test_kill9_right_after_append_ok(self):
        user = USERS["s1"][0]
        w = self.cluster.login_raw(user)
        w.cmd("CREATE Durable")
        acked = []
        for i in range(5):
            msg = binary_message(b"durable %d" % i)
            v, uid, _ = append(self, w, "Durable", msg)
            acked.append((uid, msg))
        self.cluster.kill_backend("s1")  # immediately after the last tagged OK
        w.close()
        self.cluster.start_backend("s1")
        w = self.retry_login(user)
        untagged, tagged = w.cmd("SELECT Durable")
        sel = check_select(self, untagged, tagged, exists=5)
        self.assertEqual(int(sel["UIDVALIDITY"]), v)
        res = fetch(self, w, "1:*", "(UID BODY.PEEK[])")
        self.assertEqual([(int(it["UID"]), it["BODY[]"]) for _, it in res], acked)
        w.close()

    def test_kill9_during_concurrent_appends(self):
        """Every APPEND acknowledged before the kill is there afterwards."""
        user = USERS["s2"][0]
        acked = []
        lock = threading.Lock()
        stop = threading.Event()
        enough = threading.Event()

        def writer(k):
            try:
                w = self.cluster.login_raw(user, fe=k % 2)
            except Exception:
                return
            i = 0
            while not stop.is_set():
                msg = b"Subject: w%d n%d\r\n\r\n" % (k, i) + bytes(range(0x80, 0x100)) * 4
                i += 1
                try:
                    _, tagged = w.cmd_literal("APPEND INBOX", msg)
                except (ServerClosed, OSError, AssertionError):
                    break
                if status(tagged) != "OK":
                    break
                uid = int(tagged.split(b"[APPENDUID ")[1].split(b"]")[0].split()[1])
                with lock:
                    acked.append((uid, msg))
                    if len(acked) >= 40:
                        enough.set()
            w.close()

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        self.assertTrue(enough.wait(30), "appends too slow: %d acked" % len(acked))
        self.cluster.kill_backend("s2")
        with lock:
            snapshot = list(acked)
        stop.set()
        for t in threads:
            t.join(20)
        self.assertFalse([t for t in threads if t.is_alive()], "writers hung after the kill")
        self.cluster.start_backend("s2")
        w = self.retry_login(user, fe=1)
        untagged, tagged = w.cmd("EXAMINE INBOX")
        check_select(self, untagged, tagged, readonly=True)
        res = fetch(self, w, "1:*", "(UID BODY.PEEK[])")
        stored = {int(it["UID"]): it["BODY[]"] for _, it in res}
        for uid, msg in snapshot:
            self.assertIn(uid, stored, "acknowledged APPEND uid %d lost after kill -9" % uid)
            self.assertTrue(stored[uid] == msg, "uid %d body changed" % uid)
        w.close()

    def test_sigterm_is_clean_and_data_persists(self):
        user = USERS["s1"][1]
        w = self.cluster.login_raw(user)
        v, uid, _ = append(self, w, "Default", b"Subject: persist\r\n\r\nkept\r\n")
        w.close()
        problems = self.cluster.backends["s1"].stop()
        self.assertEqual(problems, [], "back-end did not stop cleanly on SIGTERM")
        self.cluster.start_backend("s1")
        w = self.retry_login(user)
        untagged, tagged = w.cmd("EXAMINE Default")
        check_select(self, untagged, tagged, readonly=True, exists=1)
        (_, it), = fetch(self, w, 1, "(UID BODY.PEEK[])")
        self.assertEqual((int(it["UID"]), it["BODY[]"]), (uid, b"Subject: persist\r\n\r\nkept\r\n"))
        w.close()

    def retry_login(self, user, fe=0, within=10.0):
        """Log in, retrying NO [UNAVAILABLE] while the front-end reconnects."""
        deadline = time.monotonic() + within
        last = None
        while time.monotonic() < deadline:
            w = self.cluster.raw(fe)
            _, tagged = w.cmd('LOGIN "%s" "%s"' % (user, PW))
            if status(tagged) == "OK":
                return w
            last = tagged
            w.close()
            self.assertEqual(resp_code(tagged), "UNAVAILABLE", tagged)
            time.sleep(0.2)
        self.fail("login of %s did not succeed within %.0f s after restart: %r" % (user, within, last))


class FrontendLoss(ClusterTest):
    def test_kill9_frontend_loses_only_its_connections(self):
        user = USERS["s1"][2]
        survivor = self.cluster.login_raw(user, fe=1)
        _, tagged = survivor.cmd("SELECT INBOX")
        self.assertEqual(status(tagged), "OK")
        victim = self.cluster.login_raw(user, fe=0)
        self.cluster.kill_frontend(0)
        self.assertEqual(victim.expect_eof(timeout=5), b"", "connection to the killed front-end stays open")
        victim.close()
        append(self, survivor, "INBOX", b"Subject: survivor\r\n\r\nok\r\n")
        self.cluster.start_frontend(0)
        w = self.cluster.login_raw(user, fe=0)
        untagged, tagged = w.cmd("EXAMINE INBOX")
        self.assertEqual(status(tagged), "OK", tagged)
        w.close()
        survivor.close()


class Unavailable(ClusterTest):
    def test_down_shard_unavailable_then_recovered(self):
        down_user = USERS["s2"][1]
        up_user = USERS["s1"][2]
        sessions = [self.cluster.login_raw(down_user, fe=fe) for fe in (0, 1)]
        for w in sessions:
            _, tagged = w.cmd("SELECT INBOX")
            self.assertEqual(status(tagged), "OK", tagged)
        self.cluster.kill_backend("s2")

        # Commands of the down shard's users: a tagged NO [UNAVAILABLE] within the deadline.
        for w in sessions:
            t0 = time.monotonic()
            _, tagged = w.cmd("SELECT Default")
            took = time.monotonic() - t0
            self.assertRegex(tagged, rb"^a\d+ NO \[UNAVAILABLE\] [\x20-\x7e]+$")
            self.assertLess(took, RPC_TIMEOUT + SLACK, "NO [UNAVAILABLE] took %.1f s" % took)
            t0 = time.monotonic()
            _, tagged = w.cmd_literal("APPEND INBOX", b"Subject: while down\r\n\r\nx\r\n")
            self.assertRegex(tagged, rb"^a\d+ NO \[UNAVAILABLE\] [\x20-\x7e]+$")
            self.assertLess(time.monotonic() - t0, RPC_TIMEOUT + SLACK)
        # A login of such a user is UNAVAILABLE, not AUTHENTICATIONFAILED.
        for fe in (0, 1):
            w = self.cluster.raw(fe)
            t0 = time.monotonic()
            _, tagged = w.cmd('LOGIN "%s" "%s"' % (down_user, PW))
            self.assertRegex(tagged, rb"^a1 NO \[UNAVAILABLE\] [\x20-\x7e]+$")
            self.assertLess(time.monotonic() - t0, RPC_TIMEOUT + SLACK)
            w.close()
        # The other shard is unaffected, through both front-ends.
        for fe in (0, 1):
            w = self.cluster.login_raw(up_user, fe=fe)
            append(self, w, "INBOX", b"Subject: other shard\r\n\r\nfine\r\n")
            w.close()
        r = self.cluster.admin("ping", timeout=30)
        self.assertEqual(r.returncode, 1, "ping must fail while s2 is down: %r" % (r.stdout,))
        lines = r.stdout.strip().splitlines()
        self.assertEqual(len(lines), 2, r.stdout)

        # Restart; the running front-ends pick it up (the same sessions recover).
        self.cluster.start_backend("s2")
        for w in sessions:
            deadline = time.monotonic() + 10
            while True:
                _, tagged = w.cmd("SELECT INBOX")
                if status(tagged) == "OK" or time.monotonic() > deadline:
                    break
                self.assertEqual(resp_code(tagged), "UNAVAILABLE", tagged)
                time.sleep(0.2)
            self.assertEqual(status(tagged), "OK", "front-end did not reconnect to the restarted back-end")
            append(self, w, "INBOX", b"Subject: after restart\r\n\r\nback\r\n")
            w.close()
        for fe in (0, 1):
            w = self.cluster.login_raw(down_user, fe=fe)
            _, tagged = w.cmd("NOOP")
            self.assertEqual(status(tagged), "OK")
            w.close()
        r = self.cluster.admin("ping")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_login_unavailable_is_not_auth_failure_for_unknown_user_either(self):
        # While a shard is down, no login routed to it may claim bad credentials.
        self.cluster.kill_backend("s1")
        try:
            w = self.cluster.raw(0)
            _, tagged = w.cmd('LOGIN "%s" "%s"' % (USERS["s1"][2], "wrong password"))
            self.assertRegex(tagged, rb"^a1 NO \[UNAVAILABLE\] ")
            w.close()
        finally:
            self.cluster.start_backend("s1")

    def test_ping_all_up(self):
        r = self.cluster.admin("ping")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.strip().splitlines()), 2, r.stdout)
        for sid in ("s1", "s2"):
            self.assertIn(sid, r.stdout)



class OneWriterPerShard(ClusterTest):
    def test_second_backend_on_same_data_dir_refused(self):
        import subprocess
        r = subprocess.run([cluster.binary("cpm-backend"), "-c", self.cluster.configs[0], "-s", "s1"],
                           cwd=self.cluster.dir, capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("in use by another cpm-backend", r.stderr)
        # The running back-end still serves.
        self.assertEqual(self.cluster.admin("ping").returncode, 0)
