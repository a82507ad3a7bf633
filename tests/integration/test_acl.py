"""Access control lists (RFC 4314) and the other-users namespace, through two
front-ends and two shards.

Another user's folder F is reached as "Other Users/<owner>/<F>". Rights
letters are printed in the order l r w s t i p e k x a (as Dovecot), then c (k or x held)
and d (t or e held); in SETACL c stands for k x and d for t e. Without l a
folder does not exist for the user (NO [NONEXISTENT]); with l but without the
right a command needs, the answer is NO [NOPERM]. Each test makes its own
users (an owner on s1, a grantee on s1 and one on s2, a bystander on s2), so
no test depends on another's grants."""

import itertools
import re
import time

import cluster
from cluster import ClusterTest
from checks import append, binary_message, check_select, copyuid, fetch, list_names
from imapwire import capabilities, fetch_items, parse, status

cluster.module_fixtures(globals())

PW = "acl-pw"
ALL = "lrwstipekxacd"
NOT_THERE = rb"^a\d+ NO \[NONEXISTENT\]"
NOPERM = rb"^a\d+ NO \[NOPERM\]"
_serial = itertools.count()


def people(c, prefix):
    """Fresh users: owner and near on shard s1, far and third on s2."""
    by_shard = c.users_on_each_shard("%s%dx" % (prefix, next(_serial)), password=PW, per_shard=2)
    return {"owner": by_shard["s1"][0], "near": by_shard["s1"][1],
            "far": by_shard["s2"][0], "third": by_shard["s2"][1]}


def other(owner, folder="INBOX"):
    """The quoted name of owner's folder as another user sees it."""
    return '"Other Users/%s/%s"' % (owner, folder)


def note(i, who=b"x"):
    return (b"From: " + who + b"@example.org\r\nSubject: acl note %d\r\n\r\nline \xe9\xff %d\r\n" % (i, i))


def text(v):
    return v.decode() if isinstance(v, bytes) else v


def flag_set(items):
    return {f for f in items["FLAGS"] if f != "\\Recent"}


def permanent_flags(untagged):
    for r in untagged:
        m = re.match(rb"^\* OK \[PERMANENTFLAGS \(([^)]*)\)\]", r)
        if m:
            return set(m.group(1).decode().split())
    raise AssertionError("no PERMANENTFLAGS in %r" % untagged)


def without_updates(untagged):
    """untagged minus the mailbox updates a selected session may be sent at any time."""
    update = re.compile(rb"^\* (\d+ (EXISTS|RECENT|EXPUNGE|FETCH)\b|VANISHED |FLAGS |OK \[PERMANENTFLAGS)")
    return [r for r in untagged if not update.match(r)]


def noselect(attrs):
    return bool(attrs & {"\\Noselect", "\\NonExistent"})


class AclCase(ClusterTest):
    def login(self, user, fe=0):
        return self.cluster.login_raw(user, fe=fe)

    def ok(self, w, command):
        untagged, tagged = w.cmd(command)
        self.assertEqual(status(tagged), "OK", "%s -> %r" % (command, tagged))
        return untagged

    def grant(self, w, folder, ident, rights):
        untagged = self.ok(w, "SETACL %s %s %s" % (folder, ident, rights))
        self.assertEqual(without_updates(untagged), [])

    def refused(self, w, command, code):
        untagged, tagged = w.cmd(command)
        self.assertRegex(tagged, code, command)
        return untagged

    def acl(self, w, folder, shown_as=None):
        """GETACL folder -> {identifier: rights}; checks the one ACL line."""
        untagged = without_updates(self.ok(w, "GETACL %s" % folder))
        self.assertEqual(len(untagged), 1, untagged)
        self.assertTrue(untagged[0].startswith(b"* ACL "), untagged)
        vals, _ = parse(untagged[0][len(b"* ACL "):])
        self.assertEqual(text(vals[0]), shown_as or folder.strip('"'))
        rest = [text(v) for v in vals[1:]]
        self.assertEqual(len(rest) % 2, 0, untagged)
        ids = rest[0::2]
        self.assertEqual(len(ids), len(set(ids)), "identifier twice: %r" % untagged)
        return dict(zip(ids, rest[1::2]))

    def myrights(self, w, folder):
        untagged = self.ok(w, "MYRIGHTS %s" % folder)
        self.assertEqual(len(untagged), 1, untagged)
        return untagged[0]

    def select_answer(self, w, folder, command="SELECT"):
        """(untagged, READ-WRITE|READ-ONLY) of a successful SELECT/EXAMINE."""
        untagged, tagged = w.cmd("%s %s" % (command, folder))
        m = re.match(rb"^a\d+ OK \[(READ-WRITE|READ-ONLY)\] ", tagged)
        self.assertTrue(m, "%s %s -> %r" % (command, folder, tagged))
        return untagged, m.group(1).decode()

    def status_item(self, w, folder, item):
        untagged = [r for r in self.ok(w, "STATUS %s (%s)" % (folder, item)) if r.startswith(b"* STATUS ")]
        self.assertEqual(len(untagged), 1, untagged)
        m = re.match(rb"^\* STATUS .* \(" + item.encode() + rb" (\d+)\)$", untagged[0])
        self.assertTrue(m, untagged)
        return int(m.group(1))

    def uidvalidity(self, w, folder):
        return self.status_item(w, folder, "UIDVALIDITY")

    def messages(self, w, folder):
        return self.status_item(w, folder, "MESSAGES")

    def uid_fetch(self, w, uid, items="(FLAGS BODY.PEEK[])"):
        untagged = self.ok(w, "UID FETCH %d %s" % (uid, items))
        got = [r for r in untagged if re.match(rb"^\* \d+ FETCH ", r)]
        self.assertEqual(len(got), 1, untagged)
        return fetch_items(got[0])[1]

    def wait_noop(self, w, wanted, timeout=5.0):
        """NOOP until the untagged response wanted arrives."""
        seen = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            seen += self.ok(w, "NOOP")
            if wanted in seen:
                return seen
            time.sleep(0.05)
        self.fail("%r never came after NOOP; saw %r" % (wanted, seen))


class Advertised(AclCase):
    def test_capability_and_namespace(self):
        p = people(self.cluster, "cap")
        for fe in (0, 1):
            w = self.login(p["owner"], fe=fe)
            caps = capabilities(self.ok(w, "CAPABILITY")[0])
            self.assertIn("ACL", caps)
            self.assertIn("RIGHTS=texk", caps)
            self.assertEqual(self.ok(w, "NAMESPACE"), [b'* NAMESPACE (("" "/")) (("Other Users/" "/")) NIL'])
            w.close()


class AclCommands(AclCase):
    def test_owner_has_every_right(self):
        p = people(self.cluster, "dflt")
        alice, bob = p["owner"], p["far"]
        w = self.login(alice, fe=0)
        self.assertEqual(self.ok(w, "GETACL INBOX"), [b"* ACL INBOX %s %s" % (alice.encode(), ALL.encode())])
        self.assertEqual(self.ok(w, "MYRIGHTS INBOX"), [b"* MYRIGHTS INBOX " + ALL.encode()])
        self.assertEqual(self.ok(w, "LISTRIGHTS INBOX %s" % bob),
                         [b'* LISTRIGHTS INBOX %s "" l r w s t p i e k x a c d' % bob.encode()])
        self.ok(w, "CREATE Fresh")
        self.assertEqual(self.acl(w, "Fresh"), {alice: ALL})
        w.close()
        w = self.login(alice, fe=1)
        self.assertEqual(self.ok(w, "MYRIGHTS Fresh"), [b"* MYRIGHTS Fresh " + ALL.encode()])
        w.close()

    def test_setacl_replace_add_remove_and_obsolete_letters(self):
        p = people(self.cluster, "mods")
        alice, bob = p["owner"], p["far"]
        w = self.login(alice, fe=0)
        b = self.login(bob, fe=1)
        self.grant(w, "INBOX", bob, "lr")
        self.assertEqual(self.ok(w, "GETACL INBOX"),
                         [b"* ACL INBOX %s %s %s lr" % (alice.encode(), ALL.encode(), bob.encode())])
        self.assertEqual(self.myrights(b, other(alice)), b'* MYRIGHTS "Other Users/%s/INBOX" lr' % alice.encode())
        steps = [("+i", "lri"), ("-r", "li"), ("c", "kxc"), ("d", "ted"), ("lrd", "lrted"), ("+c", "lrtekxcd"),
                 ("-x", "lrtekcd"), ("-d", "lrkc"), ("wsl", "lws"), ("+pa", "lwspa")]
        for rights, shown in steps:
            self.grant(w, "INBOX", bob, rights)
            self.assertEqual(self.acl(w, "INBOX"), {alice: ALL, bob: shown}, "after SETACL %s" % rights)
        self.assertEqual(self.myrights(b, other(alice)), b'* MYRIGHTS "Other Users/%s/INBOX" lwspa' % alice.encode())
        self.assertEqual(self.ok(w, "DELETEACL INBOX %s" % bob), [])
        self.assertEqual(self.acl(w, "INBOX"), {alice: ALL})
        self.refused(b, "MYRIGHTS %s" % other(alice), NOT_THERE)
        self.refused(b, "SELECT %s" % other(alice), NOT_THERE)
        w.close()
        b.close()

    def test_empty_rights_take_everything(self):
        p = people(self.cluster, "empt")
        alice, bob = p["owner"], p["near"]
        w = self.login(alice, fe=1)
        self.grant(w, "INBOX", bob, "lrs")
        self.grant(w, "INBOX", bob, '""')
        self.assertEqual(self.acl(w, "INBOX").get(bob, ""), "")
        b = self.login(bob, fe=0)
        self.refused(b, "MYRIGHTS %s" % other(alice), NOT_THERE)
        self.refused(b, "EXAMINE %s" % other(alice), NOT_THERE)
        w.close()
        b.close()

    def test_owner_keeps_lookup_and_administer(self):
        p = people(self.cluster, "keep")
        alice = p["owner"]
        w = self.login(alice, fe=0)
        self.grant(w, "INBOX", alice, "lr")
        self.assertEqual(self.myrights(w, "INBOX"), b"* MYRIGHTS INBOX lra")
        self.grant(w, "INBOX", alice, '""')
        self.assertEqual(self.myrights(w, "INBOX"), b"* MYRIGHTS INBOX la")
        self.grant(w, "INBOX", alice, ALL)  # still allowed: a is kept
        self.assertEqual(self.myrights(w, "INBOX"), b"* MYRIGHTS INBOX " + ALL.encode())
        w.close()

    def test_unknown_rights_letter_is_bad(self):
        p = people(self.cluster, "ltr")
        alice, bob = p["owner"], p["far"]
        w = self.login(alice)
        self.grant(w, "INBOX", bob, "lr")
        for rights in ("lrz", "+q", "-y", "LR", "l r", "lr1", "++l"):
            untagged, tagged = w.cmd('SETACL INBOX %s "%s"' % (bob, rights))
            self.assertEqual(status(tagged), "BAD", "rights %r: %r" % (rights, tagged))
        self.assertEqual(self.acl(w, "INBOX"), {alice: ALL, bob: "lr"}, "a refused SETACL changed nothing")
        w.close()

    def test_grantee_with_administer_right(self):
        p = people(self.cluster, "adm")
        alice, bob, carol = p["owner"], p["far"], p["near"]
        w = self.login(alice, fe=0)
        self.ok(w, "CREATE Team")
        self.grant(w, "Team", bob, "lra")
        w.close()
        b = self.login(bob, fe=1)
        team = other(alice, "Team")
        self.assertEqual(self.acl(b, team), {alice: ALL, bob: "lra"})
        self.assertEqual(self.ok(b, "LISTRIGHTS %s %s" % (team, carol)),
                         [b'* LISTRIGHTS "Other Users/%s/Team" %s "" l r w s t p i e k x a c d'
                          % (alice.encode(), carol.encode())])
        self.grant(b, team, carol, "lr")
        cw = self.login(carol, fe=0)
        _, mode = self.select_answer(cw, team)
        self.assertEqual(mode, "READ-ONLY")
        self.assertEqual(self.ok(b, "DELETEACL %s %s" % (team, carol)), [])
        self.refused(cw, "SELECT %s" % team, NOT_THERE)
        w = self.login(alice, fe=1)
        self.assertEqual(self.acl(w, "Team"), {alice: ALL, bob: "lra"})
        for c in (w, b, cw):
            c.close()


class Access(AclCase):
    def test_without_lookup_the_folder_does_not_exist(self):
        p = people(self.cluster, "nol")
        alice, bob = p["owner"], p["far"]
        w = self.login(alice, fe=0)
        self.ok(w, "CREATE Secret")
        append(self, w, "Secret", note(1))
        self.ok(w, "CREATE Partial")
        self.grant(w, "Partial", bob, "rsi")  # everything but l: still invisible
        b = self.login(bob, fe=1)
        answers = []
        for folder in ("Secret", "Partial", "Nope"):
            name = other(alice, folder)
            commands = ["SELECT %s" % name, "EXAMINE %s" % name, "STATUS %s (MESSAGES)" % name,
                        "GETACL %s" % name, "LISTRIGHTS %s %s" % (name, bob), "SETACL %s %s lr" % (name, bob),
                        "DELETEACL %s %s" % (name, bob), "DELETE %s" % name]
            if folder != "Partial":  # MYRIGHTS with rights but no l: left open
                commands.append("MYRIGHTS %s" % name)
            for command in commands:
                self.refused(b, command, NOT_THERE)
            _, tagged = b.cmd_literal("APPEND %s" % name, note(2))
            answers.append(tagged.split(b" ")[1:3])
        # APPEND: no l answers as a folder that is not there (RFC 3501: TRYCREATE).
        self.assertEqual(answers[0], [b"NO", b"[TRYCREATE]"])
        self.assertEqual(answers, [answers[0]] * 3)
        self.assertEqual(self.messages(w, "Secret"), 1)
        self.assertEqual(self.messages(w, "Partial"), 0)
        self.assertEqual(self.acl(w, "Secret"), {alice: ALL})
        w.close()
        b.close()

    def test_lookup_only_is_noperm(self):
        p = people(self.cluster, "lon")
        alice, bob = p["owner"], p["near"]
        w = self.login(alice, fe=1)
        self.ok(w, "CREATE Peek")
        append(self, w, "Peek", note(1))
        self.grant(w, "Peek", bob, "l")
        b = self.login(bob, fe=0)
        name = other(alice, "Peek")
        self.assertEqual(self.myrights(b, name), b'* MYRIGHTS "Other Users/%s/Peek" l' % alice.encode())
        for command in ("SELECT %s" % name, "EXAMINE %s" % name, "STATUS %s (MESSAGES)" % name,
                        "GETACL %s" % name, "LISTRIGHTS %s %s" % (name, bob), "SETACL %s %s lr" % (name, bob),
                        "DELETEACL %s %s" % (name, bob), "DELETE %s" % name,
                        'CREATE "Other Users/%s/Peek/sub"' % alice):
            self.refused(b, command, NOPERM)
        _, tagged = b.cmd_literal("APPEND %s" % name, note(2))
        self.assertRegex(tagged, NOPERM)
        self.assertEqual(self.messages(w, "Peek"), 1)
        self.assertEqual(self.acl(w, "Peek"), {alice: ALL, bob: "l"})
        self.assertEqual(self.ok(w, 'LIST "" "Peek/*"'), [])
        w.close()
        b.close()

    def test_reader_selects_fetches_and_sees_owner_appends(self):
        for kind in ("near", "far"):
            with self.subTest(grantee=kind):
                p = people(self.cluster, "live")
                alice, bob = p["owner"], p[kind]
                w = self.login(alice, fe=0)
                self.ok(w, "CREATE Feed")
                first = binary_message(b"one")
                append(self, w, "Feed", first)
                self.grant(w, "Feed", bob, "lr")
                b = self.login(bob, fe=1)
                name = other(alice, "Feed")
                untagged, tagged = b.cmd("SELECT %s" % name)
                check_select(self, untagged, tagged, readonly=True, exists=1)
                self.assertEqual(permanent_flags(untagged), set())
                res = fetch(self, b, "1", "BODY[]")
                self.assertEqual(len(res), 1)
                self.assertEqual(res[0][1]["BODY[]"], first)
                second = binary_message(b"two")
                append(self, w, "Feed", second)
                self.wait_noop(b, b"* 2 EXISTS")
                res = fetch(self, b, "2", "BODY.PEEK[]")
                self.assertEqual(res[0][1]["BODY[]"], second)
                self.assertEqual(self.ok(b, "SEARCH ALL"), [b"* SEARCH 1 2"])
                self.assertEqual(self.ok(b, "STATUS %s (MESSAGES)" % name),
                                 [b'* STATUS "Other Users/%s/Feed" (MESSAGES 2)' % alice.encode()])
                self.assertEqual(status(b.cmd("EXPUNGE")[1]), "NO")
                w.close()
                b.close()

    def test_flag_rights_and_expunge(self):
        p = people(self.cluster, "flg")
        alice, bob = p["owner"], p["far"]
        w = self.login(alice, fe=0)
        self.ok(w, "CREATE Flags")
        for i in range(3):
            append(self, w, "Flags", note(i))
        name = other(alice, "Flags")
        b = self.login(bob, fe=1)

        self.grant(w, "Flags", bob, "lrsw")
        untagged, mode = self.select_answer(b, name)
        self.assertEqual(mode, "READ-WRITE")
        self.assertEqual(permanent_flags(untagged), {"\\Seen", "\\Answered", "\\Flagged", "\\Draft", "\\*"})
        self.ok(b, "STORE 1 +FLAGS.SILENT (\\Seen \\Deleted \\Flagged $Mark)")
        self.assertEqual(flag_set(fetch(self, b, "1", "FLAGS")[0][1]), {"\\Seen", "\\Flagged", "$Mark"})
        self.refused(b, "EXPUNGE", NOPERM)
        self.ok(w, "EXAMINE Flags")
        owner_view = flag_set(fetch(self, w, "1", "FLAGS")[0][1])
        self.assertTrue({"\\Flagged", "$Mark"} <= owner_view, owner_view)
        self.assertNotIn("\\Deleted", owner_view)
        self.ok(w, "UNSELECT")

        self.grant(w, "Flags", bob, "lrt")
        untagged, mode = self.select_answer(b, name)
        self.assertEqual(mode, "READ-WRITE")
        self.assertEqual(permanent_flags(untagged), {"\\Deleted"})
        self.ok(b, "STORE 2 +FLAGS.SILENT (\\Deleted \\Answered \\Seen $Other)")
        self.assertEqual(flag_set(fetch(self, b, "2", "FLAGS")[0][1]), {"\\Deleted"})
        self.refused(b, "EXPUNGE", NOPERM)

        self.grant(w, "Flags", bob, "lrte")
        self.select_answer(b, name)
        self.assertEqual(self.ok(b, "EXPUNGE"), [b"* 2 EXPUNGE"])
        self.assertEqual(self.messages(w, "Flags"), 2)

        self.grant(w, "Flags", bob, "lri")
        untagged, mode = self.select_answer(b, name)
        self.assertEqual(mode, "READ-WRITE")
        self.assertEqual(permanent_flags(untagged), set())
        self.grant(w, "Flags", bob, "lr")
        untagged, mode = self.select_answer(b, name)
        self.assertEqual(mode, "READ-ONLY")
        self.assertEqual(permanent_flags(untagged), set())
        w.close()
        b.close()

    def test_create_needs_k_and_delete_needs_x(self):
        p = people(self.cluster, "crd")
        alice, bob = p["owner"], p["near"]
        w = self.login(alice, fe=0)
        self.ok(w, "CREATE Old")
        self.grant(w, "INBOX", bob, "lr")
        self.grant(w, "Old", bob, "lr")
        b = self.login(bob, fe=1)
        sub = '"Other Users/%s/INBOX/sub"' % alice
        self.refused(b, "CREATE %s" % sub, NOPERM)
        self.grant(w, "INBOX", bob, "+k")
        self.ok(b, "CREATE %s" % sub)
        self.assertEqual([n for _, _, n in list_names(self.ok(w, 'LIST "" "INBOX/*"'))], ["INBOX/sub"])
        # The new folder starts with its parent's list (as Dovecot does), so
        # its creator can use it.
        self.assertEqual(self.acl(w, "INBOX/sub"), {alice: ALL, bob: "lrkc"})
        self.ok(b, "SELECT %s" % sub)
        self.refused(b, "DELETE %s" % other(alice, "Old"), NOPERM)
        self.assertEqual(len(self.ok(w, 'LIST "" "Old"')), 1)
        self.grant(w, "Old", bob, "lrx")
        self.ok(b, "DELETE %s" % other(alice, "Old"))
        self.assertEqual(self.ok(w, 'LIST "" "Old"'), [])
        self.refused(w, "SELECT Old", rb"^a\d+ NO ")
        w.close()
        b.close()


class Listing(AclCase):
    def test_list_shows_what_may_be_looked_up(self):
        p = people(self.cluster, "lst")
        alice, bob, carol = p["owner"], p["far"], p["near"]
        w = self.login(alice, fe=0)
        self.ok(w, "CREATE Hidden")
        self.ok(w, "CREATE Glimpse")
        self.grant(w, "INBOX", bob, "lr")
        self.grant(w, "Glimpse", bob, "l")
        w.close()
        prefix = "Other Users/%s" % alice
        b = self.login(bob, fe=1)
        for pattern in ("Other Users/*", "*"):
            entries = list_names(self.ok(b, 'LIST "" "%s"' % pattern))
            found = {n: attrs for attrs, _, n in entries}
            for attrs, delim, n in entries:
                self.assertEqual(delim, "/", n)
            self.assertIn(prefix + "/INBOX", found, pattern)
            self.assertFalse(noselect(found[prefix + "/INBOX"]), found)
            self.assertIn(prefix + "/Glimpse", found, pattern)
            self.assertIn(prefix, found, pattern)
            self.assertTrue(noselect(found[prefix]), found)
            if pattern == "*":
                self.assertIn("Other Users", found)
                self.assertIn("INBOX", found)
                self.assertIn("Default", found)
            if "Other Users" in found:
                self.assertTrue(noselect(found["Other Users"]), found)
            mine = sorted(n for n in found if n.startswith(prefix + "/"))
            self.assertEqual(mine, [prefix + "/Glimpse", prefix + "/INBOX"], pattern)
        # LIST-STATUS answers STATUS only where STATUS would (the r right).
        untagged = self.ok(b, 'LIST "" "%s/*" RETURN (STATUS (MESSAGES))' % prefix)
        statuses = [l for l in untagged if l.startswith(b"* STATUS ")]
        self.assertEqual(statuses, [b'* STATUS "%s/INBOX" (MESSAGES 0)' % prefix.encode()], untagged)
        b.close()
        c = self.login(carol, fe=0)
        for pattern in ("Other Users/*", "*"):
            names = [n for _, _, n in list_names(self.ok(c, 'LIST "" "%s"' % pattern))]
            leaked = [n for n in names if n == prefix or n.startswith(prefix + "/")]
            self.assertEqual(leaked, [], "%s: %r" % (pattern, names))
        c.close()


class Anyone(AclCase):
    def test_anyone_and_negative_rights(self):
        p = people(self.cluster, "any")
        alice, carol, dave = p["owner"], p["third"], p["near"]
        w = self.login(alice, fe=0)
        self.ok(w, "CREATE Shared")
        append(self, w, "Shared", note(7))
        self.grant(w, "Shared", "anyone", "lr")
        name = other(alice, "Shared")
        c = self.login(carol, fe=1)
        untagged, tagged = c.cmd("SELECT %s" % name)
        check_select(self, untagged, tagged, readonly=True, exists=1)
        self.assertEqual(self.myrights(c, name), b'* MYRIGHTS "Other Users/%s/Shared" lr' % alice.encode())

        self.grant(w, "Shared", "-%s" % carol, "r")
        self.assertEqual(self.acl(w, "Shared"), {alice: ALL, "anyone": "lr", "-" + carol: "r"})
        self.refused(c, "SELECT %s" % name, NOPERM)
        self.assertEqual(self.myrights(c, name), b'* MYRIGHTS "Other Users/%s/Shared" l' % alice.encode())
        d = self.login(dave, fe=0)
        _, mode = self.select_answer(d, name)
        self.assertEqual(mode, "READ-ONLY")

        self.grant(w, "Shared", "-anyone", "r")
        self.refused(d, "EXAMINE %s" % name, NOPERM)
        self.assertEqual(self.ok(w, "DELETEACL Shared -anyone"), [])
        self.assertEqual(self.ok(w, "DELETEACL Shared -%s" % carol), [])
        self.select_answer(d, name, "EXAMINE")
        self.select_answer(c, name, "EXAMINE")
        self.assertEqual(self.ok(w, "DELETEACL Shared anyone"), [])
        self.refused(c, "EXAMINE %s" % name, NOT_THERE)
        for x in (w, c, d):
            x.close()


class CrossUser(AclCase):
    def fill_own_inbox(self, b, n):
        msgs, uids = [], []
        for i in range(n):
            m = binary_message(b"bob %d" % i)
            flags = ["\\Seen", "\\Flagged", "\\Deleted", "$Tag"] if i == 0 else None
            _, uid, _ = append(self, b, "INBOX", m, flags=flags)
            msgs.append(m)
            uids.append(uid)
        return msgs, uids

    def test_copy_and_move_into_owner_folder(self):
        cases = (("near", "lri", set()), ("far", "lrisw", {"\\Seen", "\\Flagged", "$Tag"}))
        for kind, rights, kept in cases:
            with self.subTest(grantee=kind, rights=rights):
                p = people(self.cluster, "cpy")
                alice, bob = p["owner"], p[kind]
                w = self.login(alice, fe=0)
                self.grant(w, "INBOX", bob, rights)
                validity = self.uidvalidity(w, "INBOX")
                b = self.login(bob, fe=1)
                msgs, uids = self.fill_own_inbox(b, 6)
                self.select_answer(b, "INBOX")
                dest = other(alice)
                w_sel, _ = self.select_answer(w, "INBOX")
                self.assertIn(b"* 0 EXISTS", w_sel)

                untagged, tagged = b.cmd("UID COPY %d %s" % (uids[0], dest))
                self.assertRegex(tagged, rb"^a\d+ OK \[COPYUID %d %d \d+\] " % (validity, uids[0]))
                _, (d0,) = copyuid(self, [tagged], validity)
                self.wait_noop(w, b"* 1 EXISTS")  # the owner's selected session learns of it
                got = self.uid_fetch(w, d0)
                self.assertEqual(got["BODY[]"], msgs[0])
                self.assertEqual(flag_set(got), kept)

                untagged, tagged = b.cmd("UID COPY %d:%d %s" % (uids[1], uids[3], dest))
                self.assertEqual(status(tagged), "OK", tagged)
                src, dst = copyuid(self, [tagged], validity)
                self.assertEqual(src, uids[1:4])
                self.assertEqual(len(dst), 3)
                self.assertEqual(len(set(dst)), 3)
                self.assertTrue(min(dst) > d0, dst)
                self.wait_noop(w, b"* 4 EXISTS")
                for s, d in zip(src, dst):
                    self.assertEqual(self.uid_fetch(w, d)["BODY[]"], msgs[uids.index(s)])

                untagged, tagged = b.cmd("UID MOVE %d %s" % (uids[4], dest))
                self.assertEqual(status(tagged), "OK", tagged)
                src, (dm,) = copyuid(self, untagged + [tagged], validity)
                self.assertEqual(src, [uids[4]])
                self.assertTrue(b"* 5 EXPUNGE" in untagged or any(r.startswith(b"* VANISHED") for r in untagged),
                                untagged)
                self.wait_noop(w, b"* 5 EXISTS")
                self.assertEqual(self.uid_fetch(w, dm)["BODY[]"], msgs[4])

                moved = [uids[1], uids[3], uids[5]]
                untagged, tagged = b.cmd("UID MOVE %s %s" % (",".join(map(str, moved)), dest))
                self.assertEqual(status(tagged), "OK", tagged)
                src, dst = copyuid(self, untagged + [tagged], validity)
                self.assertEqual(src, moved)
                self.assertEqual(len(dst), 3)
                self.wait_noop(w, b"* 8 EXISTS")
                for s, d in zip(src, dst):
                    self.assertEqual(self.uid_fetch(w, d)["BODY[]"], msgs[uids.index(s)])
                expunges = [r for r in untagged if re.match(rb"^\* \d+ EXPUNGE$", r)]
                vanished = [r for r in untagged if r.startswith(b"* VANISHED")]
                self.assertTrue(len(expunges) == 3 or vanished, untagged)

                left = [int(it["UID"]) for _, it in fetch(self, b, "1:*", "UID")]
                self.assertEqual(left, [uids[0], uids[2]])
                self.assertEqual(self.messages(w, "INBOX"), 1 + 3 + 1 + 3)
                w.close()
                b.close()

    def test_copy_without_insert_right_is_noperm(self):
        p = people(self.cluster, "noi")
        alice, bob = p["owner"], p["far"]
        w = self.login(alice, fe=0)
        self.grant(w, "INBOX", bob, "lr")
        b = self.login(bob, fe=1)
        _, uid, _ = append(self, b, "INBOX", note(3, b"bob"))
        self.select_answer(b, "INBOX")
        self.refused(b, "UID COPY %d %s" % (uid, other(alice)), NOPERM)
        self.refused(b, "UID MOVE %d %s" % (uid, other(alice)), NOPERM)
        self.refused(b, "COPY 1 %s" % other(alice), NOPERM)
        self.assertEqual(self.ok(b, "FETCH 1 UID"), [b"* 1 FETCH (UID %d)" % uid])
        _, tagged = b.cmd_literal("APPEND %s" % other(alice), note(4, b"bob"))
        self.assertRegex(tagged, NOPERM)
        self.assertEqual(self.messages(w, "INBOX"), 0)
        w.close()
        b.close()

    def test_copy_out_of_owner_folder(self):
        p = people(self.cluster, "rev")
        alice, bob = p["owner"], p["far"]
        w = self.login(alice, fe=0)
        original = binary_message(b"shared")
        _, auid, _ = append(self, w, "INBOX", original, flags=["\\Flagged"])
        self.grant(w, "INBOX", bob, "lr")
        b = self.login(bob, fe=1)
        own = self.uidvalidity(b, "INBOX")
        _, mode = self.select_answer(b, other(alice))
        self.assertEqual(mode, "READ-ONLY")
        untagged, tagged = b.cmd("UID COPY %d INBOX" % auid)
        self.assertRegex(tagged, rb"^a\d+ OK \[COPYUID %d %d \d+\] " % (own, auid))
        _, (dest,) = copyuid(self, [tagged], own)
        self.select_answer(b, "INBOX", "EXAMINE")
        got = self.uid_fetch(b, dest)
        self.assertEqual(got["BODY[]"], original)
        self.assertIn("\\Flagged", flag_set(got))
        self.assertEqual(self.messages(w, "INBOX"), 1)
        w.close()
        b.close()

    def test_append_into_owner_folder(self):
        p = people(self.cluster, "apd")
        alice = p["owner"]
        r = self.cluster.admin("user", "quota", alice, "10")
        self.assertEqual(r.returncode, 0, r.stderr)
        w = self.login(alice, fe=0)
        validity = self.uidvalidity(w, "INBOX")

        def used():
            q = [l for l in self.ok(w, 'GETQUOTA ""') if l.startswith(b"* QUOTA ")]
            return int(re.search(rb"STORAGE (\d+) ", q[0]).group(1))

        before = used()
        sent = {}
        for kind, fe in (("near", 0), ("far", 1)):
            self.grant(w, "INBOX", p[kind], "lri")
            b = self.login(p[kind], fe=fe)
            m = binary_message(kind.encode() * 3000)
            v, uid, _ = append(self, b, other(alice), m)
            self.assertEqual(v, validity)
            sent[uid] = m
            # The owner's quota is not the grantee's to see: no root.
            self.assertEqual(self.ok(b, "GETQUOTAROOT %s" % other(alice)),
                             [b'* QUOTAROOT "Other Users/%s/INBOX"' % alice.encode()])
            b.close()
        # What grantees add counts against the owner.
        self.assertGreaterEqual(used() - before, sum(len(m) for m in sent.values()) // 1024)
        self.select_answer(w, "INBOX", "EXAMINE")
        for uid, m in sent.items():
            self.assertEqual(self.uid_fetch(w, uid)["BODY[]"], m)
        self.assertEqual(self.messages(w, "INBOX"), 2)
        w.close()


class Hostile(AclCase):
    def test_malformed_and_out_of_namespace(self):
        p = people(self.cluster, "hos")
        alice, bob = p["owner"], p["far"]
        w = self.login(alice, fe=1)
        for command in ("SETACL INBOX %s" % bob, "SETACL INBOX", "SETACL", "GETACL", "MYRIGHTS",
                        "DELETEACL INBOX", "DELETEACL", "LISTRIGHTS INBOX", "LISTRIGHTS",
                        "SETACL INBOX %s lr extra" % bob, "GETACL INBOX extra"):
            _, tagged = w.cmd(command)
            self.assertEqual(status(tagged), "BAD", "%s -> %r" % (command, tagged))
        _, tagged = w.cmd("SETACL INBOX %s lr" % ("u" * 300))
        self.assertIn(status(tagged), ("BAD", "NO"), tagged)
        self.refused(w, "SETACL NoSuchFolder %s lr" % bob, NOT_THERE)
        self.refused(w, "GETACL NoSuchFolder", NOT_THERE)
        self.refused(w, "MYRIGHTS NoSuchFolder", NOT_THERE)
        self.refused(w, 'SELECT "Other Users/"', NOT_THERE)
        self.refused(w, 'SELECT "Other Users/nobody-such/INBOX"', NOT_THERE)
        self.refused(w, 'GETACL "Other Users/nobody-such/INBOX"', NOT_THERE)
        self.assertEqual(status(w.cmd('CREATE "Other Users"')[1]), "NO")
        self.assertEqual(status(w.cmd('CREATE "Other Users/%s/INBOX"' % alice)[1]), "NO")
        self.assertEqual(self.acl(w, "INBOX"), {alice: ALL})
        self.assertEqual(self.ok(w, "NOOP"), [])
        w.close()
