"""Randomised model test of QRESYNC (RFC 7162): several sessions on both
front-ends append, change flags, expunge and move messages at random while
a mobile client is offline; the client then resynchronises its cache with
one SELECT (QRESYNC ...) — or, in the CONDSTORE-only variant, with FETCH
(CHANGEDSINCE) plus UID SEARCH — and its cache must equal the server's state
exactly, every round. The seed is printed on failure so a run can be
replayed (CPM_MODEL_SEED=n)."""

import os
import random
import re

import cluster
from cluster import ClusterTest
from imapwire import expand_set, status

cluster.module_fixtures(globals())

PW = "model-pw"
ROUNDS = 20
OPS_PER_ROUND = 25
FLAGS = ["\\Seen", "\\Flagged", "\\Answered", "\\Draft", "$Work", "$Later"]


def populate(c):
    c.add_user("mq", PW)
    c.add_user("mc", PW)


def flagset(text):
    return frozenset(f for f in text.split() if f != "\\Recent")


def parse_fetch(line):
    """(uid, flags, modseq) of a FETCH line; missing parts are None."""
    u = re.search(rb"UID (\d+)", line)
    f = re.search(rb"FLAGS \(([^)]*)\)", line)
    m = re.search(rb"MODSEQ \((\d+)\)", line)
    return (int(u.group(1)) if u else None, flagset(f.group(1).decode()) if f else None,
            int(m.group(1)) if m else None)



def server_state(w, box):
    """{uid: flags} as a fresh session sees it."""
    w.cmd("EXAMINE %s" % box)
    untagged, tagged = w.cmd("UID FETCH 1:* (FLAGS)")
    assert status(tagged) == "OK", tagged
    state = {}
    for ln in untagged:
        if b" FETCH " in ln:
            uid, flags, _ = parse_fetch(ln)
            state[uid] = flags
    w.cmd("UNSELECT")
    return state


class Writer:
    """Random changes through one session."""

    def __init__(self, conn, box, other, rnd):
        self.c, self.box, self.other, self.rnd = conn, box, other, rnd
        self.c.cmd("SELECT %s" % box)

    def step(self):
        r = self.rnd
        op = r.choice(["append"] * 3 + ["store"] * 4 + ["expunge", "move", "noop"])
        if op == "append":
            for _ in range(r.randint(1, 3)):
                flags = " ".join(r.sample(FLAGS, r.randint(0, 2)))
                body = b"Subject: r%d\r\n\r\n%s\r\n" % (r.randint(0, 1 << 30), os.urandom(8).hex().encode())
                _, tagged = self.c.cmd_literal(("APPEND %s (%s)" % (self.box, flags)).encode(), body)
                assert status(tagged) == "OK", tagged
            self.c.cmd("NOOP")
            return
        untagged, _ = self.c.cmd("UID SEARCH ALL")
        uids = [int(x) for x in untagged[0].split()[2:]] if untagged else []
        if not uids:
            return
        pick = r.sample(uids, r.randint(1, min(3, len(uids))))
        uidset = ",".join(str(u) for u in pick)
        if op == "store":
            mode = r.choice(["+", "-", ""])
            flags = " ".join(r.sample(FLAGS, r.randint(0, 3)))
            _, tagged = self.c.cmd("UID STORE %s %sFLAGS.SILENT (%s)" % (uidset, mode, flags))
        elif op == "expunge":
            self.c.cmd("UID STORE %s +FLAGS.SILENT (\\Deleted)" % uidset)
            _, tagged = self.c.cmd("UID EXPUNGE %s" % uidset)
        elif op == "move":
            _, tagged = self.c.cmd("UID MOVE %s %s" % (uidset, self.other))
        else:
            _, tagged = self.c.cmd("NOOP")
        assert status(tagged) == "OK", tagged


class Mobile:
    """A client cache: UIDVALIDITY, HIGHESTMODSEQ and {uid: flags}."""

    def __init__(self):
        self.uidvalidity = None
        self.modseq = 0
        self.cache = {}

    def apply_fetches(self, untagged):
        for ln in untagged:
            if re.match(rb"\* \d+ FETCH ", ln):
                uid, flags, _ = parse_fetch(ln)
                assert uid is not None, ln
                if flags is not None:
                    self.cache[uid] = flags

    def note_select(self, untagged):
        uv = hm = None
        for ln in untagged:
            m = re.match(rb"\* OK \[UIDVALIDITY (\d+)\]", ln)
            uv = int(m.group(1)) if m else uv
            m = re.match(rb"\* OK \[HIGHESTMODSEQ (\d+)\]", ln)
            hm = int(m.group(1)) if m else hm
        assert uv is not None and hm is not None, untagged
        return uv, hm

    def qresync(self, conn, box):
        if self.uidvalidity is None:
            untagged, tagged = conn.cmd("SELECT %s" % box)
        else:
            known = ",".join(str(u) for u in sorted(self.cache)) or "1"
            untagged, tagged = conn.cmd("SELECT %s (QRESYNC (%d %d %s))" % (box, self.uidvalidity, self.modseq, known))
        assert status(tagged) == "OK", tagged
        uv, hm = self.note_select(untagged)
        if uv != self.uidvalidity:
            self.cache = {}
            untagged, _ = conn.cmd("UID FETCH 1:* (FLAGS)")
        for ln in untagged:
            if ln.startswith(b"* VANISHED (EARLIER) "):
                for u in expand_set(ln[len(b"* VANISHED (EARLIER) "):]):
                    self.cache.pop(u, None)
        self.apply_fetches(untagged)
        self.uidvalidity, self.modseq = uv, hm
        conn.cmd("UNSELECT")

    def condstore(self, conn, box):
        untagged, tagged = conn.cmd("SELECT %s (CONDSTORE)" % box)
        assert status(tagged) == "OK", tagged
        uv, hm = self.note_select(untagged)
        if uv != self.uidvalidity:
            self.cache = {}
            self.modseq = 0
        untagged, _ = conn.cmd("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % self.modseq)
        self.apply_fetches(untagged)
        untagged, _ = conn.cmd("UID SEARCH ALL")
        present = set(int(x) for x in untagged[0].split()[2:])
        self.cache = {u: f for u, f in self.cache.items() if u in present}
        self.uidvalidity, self.modseq = uv, hm
        conn.cmd("UNSELECT")


class ResyncModel(ClusterTest):
    def run_model(self, user, qresync):
        seed = int(os.environ.get("CPM_MODEL_SEED", random.randrange(1 << 30)))
        rnd = random.Random(seed)
        setup = self.cluster.login_raw(user, fe=0)
        setup.cmd("CREATE Chat")
        setup.cmd("CREATE Archive")
        writers = [Writer(self.cluster.login_raw(user, fe=i % 2), "Chat", "Archive", rnd) for i in range(3)]
        mobile = Mobile()
        grown = 0
        for rnd_no in range(ROUNDS):
            for _ in range(rnd.randint(0, OPS_PER_ROUND)):
                rnd.choice(writers).step()
            # The phone reconnects through either front-end.
            phone = self.cluster.login_raw(user, fe=rnd.randint(0, 1))
            if qresync:
                phone.cmd("ENABLE QRESYNC")
                mobile.qresync(phone, "Chat")
            else:
                mobile.condstore(phone, "Chat")
            phone.close()
            truth = server_state(setup, "Chat")
            self.assertEqual(mobile.cache, truth, "seed %d round %d" % (seed, rnd_no))
            grown = max(grown, len(truth))
        self.assertGreater(grown, 10, "seed %d: the folder never grew; the model tested little" % seed)
        for w in writers:
            w.c.close()
        setup.close()

    def test_qresync_model(self):
        self.run_model("mq", qresync=True)

    def test_condstore_model(self):
        self.run_model("mc", qresync=False)
