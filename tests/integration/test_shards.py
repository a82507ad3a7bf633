"""Routing: users on both shards work through both front-ends, every front-end
routes a user to the same shard (rendezvous hashing, common/shard-map.h), and
many sessions at once on both front-ends get unique, ascending UIDs."""

import threading

import cluster
from cluster import ClusterTest
from checks import append, check_select, fetch
from imapwire import status

cluster.module_fixtures(globals())

PW = "shard-pw"
USERS = {}


def populate(c):
    USERS.update(c.users_on_each_shard("sharded", password=PW, per_shard=2))


class Routing(ClusterTest):
    def test_users_exist_on_both_shards(self):
        self.assertEqual(sorted(USERS), ["s1", "s2"])
        for sid, names in USERS.items():
            self.assertEqual(len(names), 2)

    def test_admin_where_agrees_with_shard_map(self):
        for sid, names in USERS.items():
            for name in names:
                r = self.cluster.admin("user", "where", name)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout.strip(), sid, "cpm-admin user where %s" % name)

    def test_backend_logs_agree_with_shard_map(self):
        seen = 0
        for sid, names in USERS.items():
            for name in names:
                logged = self.cluster.shard_of_from_logs(name)
                if logged is not None:
                    seen += 1
                    self.assertEqual(logged, sid, name)
        if seen == 0:
            self.skipTest("back-ends do not log event=user_put")

    def test_each_user_through_each_frontend(self):
        appended = {}
        for sid, names in USERS.items():
            for name in names:
                for fe in (0, 1):
                    for tls in (False, True):
                        w = self.cluster.login_raw(name, fe=fe, tls=tls)
                        msg = ("Subject: %s via fe%d tls=%s\r\n\r\nshard %s\r\n" % (name, fe, tls, sid)).encode()
                        v, uid, _ = append(self, w, "INBOX", msg)
                        appended.setdefault(name, []).append((uid, msg))
                        w.close()
        for name, msgs in appended.items():
            for fe in (0, 1):
                w = self.cluster.login_raw(name, fe=fe)
                untagged, tagged = w.cmd("EXAMINE INBOX")
                check_select(self, untagged, tagged, readonly=True, exists=len(msgs))
                res = fetch(self, w, "1:*", "(UID BODY.PEEK[])")
                self.assertEqual([(int(it["UID"]), it["BODY[]"]) for _, it in res], msgs,
                                 "%s sees exactly its own messages in order" % name)
                w.close()

    def test_users_are_isolated(self):
        a = USERS["s1"][0]
        b = USERS["s2"][0]
        w = self.cluster.login_raw(a, fe=0)
        _, tagged = w.cmd("CREATE Private-%s" % a)
        self.assertEqual(status(tagged), "OK", tagged)
        w.close()
        w = self.cluster.login_raw(b, fe=1)
        untagged, _ = w.cmd('LIST "" "Private-*"')
        self.assertEqual(untagged, [])
        _, tagged = w.cmd("SELECT Private-%s" % a)
        self.assertEqual(status(tagged), "NO", tagged)
        w.close()

    def test_concurrent_sessions_on_both_frontends(self):
        target = USERS["s2"][1]
        other = USERS["s1"][1]
        errors = []
        results = {target: [], other: []}
        lock = threading.Lock()

        def worker(user, fe, n):
            try:
                w = self.cluster.login_raw(user, fe=fe)
                for i in range(n):
                    msg = b"Subject: burst %d fe%d\r\n\r\nx\r\n" % (i, fe)
                    untagged, tagged = w.cmd_literal("APPEND Default", msg)
                    if not tagged.split(b" ")[1] == b"OK":
                        raise AssertionError(tagged)
                    uid = int(tagged.split(b"[APPENDUID ")[1].split(b"]")[0].split()[1])
                    with lock:
                        results[user].append(uid)
                w.close()
            except Exception as e:  # reported below
                errors.append("%s fe%d: %r" % (user, fe, e))

        threads = [threading.Thread(target=worker, args=(u, fe, 15)) for u in (target, other) for fe in (0, 1)
                   for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertFalse([t for t in threads if t.is_alive()], "sessions hung")
        self.assertEqual(errors, [])
        for user, uids in results.items():
            self.assertEqual(len(uids), 60)
            self.assertEqual(len(set(uids)), 60, "duplicate UIDs for %s" % user)
            w = self.cluster.login_raw(user, fe=1)
            untagged, tagged = w.cmd("EXAMINE Default")
            sel = check_select(self, untagged, tagged, readonly=True, exists=60)
            self.assertGreater(int(sel["UIDNEXT"]), max(uids))
            res = fetch(self, w, "1:*", "UID")
            self.assertEqual([int(it["UID"]) for _, it in res], sorted(uids))
            w.close()
