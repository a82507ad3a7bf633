"""Folder management: DELETE, RENAME, SUBSCRIBE/UNSUBSCRIBE, LSUB, STATUS
(RFC 3501 6.3.4-6.3.10), through both front-ends."""

import re

import cluster
from cluster import ClusterTest
from checks import check_select, list_names
from imapwire import status

cluster.module_fixtures(globals())

PW = "fold-pw"
MSG = b"From: a@example.org\r\nSubject: t\r\n\r\nhello\r\n"


def populate(c):
    for name in ("del", "ren", "sub", "stat", "inboxren", "kids", "lext", "rmatch"):
        c.add_user(name, PW)


def names(w, pattern="*", cmd="LIST"):
    untagged, tagged = w.cmd('%s "" "%s"' % (cmd, pattern))
    assert status(tagged) == "OK", tagged
    rows = [r.replace(b"* LSUB ", b"* LIST ", 1) for r in untagged]
    return {n: attrs for attrs, _, n in list_names(rows)}


def append(w, box, msg=MSG, flags=""):
    _, tagged = w.cmd_literal(("APPEND %s %s" % (box, flags)).encode(), msg)
    assert status(tagged) == "OK", tagged
    return int(re.search(rb"APPENDUID \d+ (\d+)", tagged).group(1))


def select(test, w, box):
    untagged, tagged = w.cmd("SELECT %s" % box)
    test.assertEqual(status(tagged), "OK", tagged)
    return check_select(test, untagged, tagged)


class Delete(ClusterTest):
    def test_delete(self):
        w = self.cluster.login_raw("del")
        w.cmd("CREATE Gone")
        append(w, "Gone")
        _, tagged = w.cmd("DELETE Gone")
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertNotIn("Gone", names(w))
        _, tagged = w.cmd("DELETE Gone")
        self.assertRegex(tagged, rb"^a\d+ NO \[NONEXISTENT\] ")
        _, tagged = w.cmd("DELETE INBOX")
        self.assertEqual(status(tagged), "NO", tagged)
        _, tagged = w.cmd("DELETE")
        self.assertEqual(status(tagged), "BAD", tagged)
        w.close()

    def test_delete_with_children_then_recreate_gets_new_uidvalidity(self):
        w = self.cluster.login_raw("del", fe=1)
        w.cmd("CREATE P/C")
        old = select(self, w, "P")["UIDVALIDITY"]
        _, tagged = w.cmd("DELETE P")
        self.assertEqual(status(tagged), "NO", "a folder with children stays: %r" % tagged)
        self.assertEqual(status(w.cmd("DELETE P/C")[1]), "OK")
        # Deleting the selected folder leaves the selected state.
        self.assertEqual(status(w.cmd("DELETE P")[1]), "OK")
        self.assertEqual(status(w.cmd("FETCH 1 FLAGS")[1]), "BAD")
        w.cmd("CREATE P")
        new = select(self, w, "P")["UIDVALIDITY"]
        self.assertGreater(int(new), int(old))
        w.close()


class Rename(ClusterTest):
    def test_rename_keeps_uids_and_moves_children(self):
        w = self.cluster.login_raw("ren")
        w.cmd("CREATE A/B")
        uid = append(w, "A")
        before = select(self, w, "A")
        _, tagged = w.cmd("RENAME A Z/New")
        self.assertEqual(status(tagged), "OK", tagged)
        got = names(w)
        for n in ("Z", "Z/New", "Z/New/B"):
            self.assertIn(n, got)
        for n in ("A", "A/B"):
            self.assertNotIn(n, got)
        # The selected folder followed its new name; on the other front-end
        # the same folder has the same UIDVALIDITY and UID.
        untagged, tagged = w.cmd("UID FETCH %d FLAGS" % uid)
        self.assertEqual(status(tagged), "OK", tagged)
        w2 = self.cluster.login_raw("ren", fe=1)
        after = select(self, w2, "Z/New")
        self.assertEqual(after["UIDVALIDITY"], before["UIDVALIDITY"])
        self.assertEqual(after["EXISTS"], "1")
        untagged, _ = w2.cmd("UID FETCH %d RFC822.SIZE" % uid)
        self.assertEqual(untagged, [b"* 1 FETCH (UID %d RFC822.SIZE %d)" % (uid, len(MSG))])
        w2.close()
        w.close()

    def test_rename_errors(self):
        w = self.cluster.login_raw("ren", fe=1)
        w.cmd("CREATE R1")
        w.cmd("CREATE R2")
        self.assertRegex(w.cmd("RENAME R1 R2")[1], rb"^a\d+ NO ")
        self.assertRegex(w.cmd("RENAME Missing R3")[1], rb"^a\d+ NO \[NONEXISTENT\] ")
        self.assertEqual(status(w.cmd("RENAME R1 R1/Sub")[1]), "NO")
        self.assertEqual(status(w.cmd("RENAME R1")[1]), "BAD")
        w.close()

    def test_rename_inbox_moves_messages(self):
        w = self.cluster.login_raw("inboxren")
        append(w, "INBOX")
        append(w, "INBOX")
        _, tagged = w.cmd("RENAME INBOX Old-Inbox")
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertEqual(select(self, w, "Old-Inbox")["EXISTS"], "2")
        self.assertEqual(select(self, w, "INBOX")["EXISTS"], "0")
        w.close()


class Subscriptions(ClusterTest):
    def test_subscribe_lsub_unsubscribe(self):
        w = self.cluster.login_raw("sub")
        w.cmd("CREATE Top/Leaf")
        self.assertEqual(status(w.cmd("SUBSCRIBE Top/Leaf")[1]), "OK")
        self.assertEqual(status(w.cmd("SUBSCRIBE INBOX")[1]), "OK")
        self.assertEqual(names(w, "*", "LSUB"), {"Top/Leaf": set(), "INBOX": set()})
        # "%" shows the unsubscribed parent of a subscribed child as \Noselect.
        self.assertEqual(names(w, "%", "LSUB"), {"Top": {"\\Noselect"}, "INBOX": set()})
        self.assertRegex(w.cmd("SUBSCRIBE Nope")[1], rb"^a\d+ NO \[NONEXISTENT\] ")
        w2 = self.cluster.login_raw("sub", fe=1)
        self.assertEqual(status(w2.cmd("UNSUBSCRIBE Top/Leaf")[1]), "OK")
        self.assertEqual(names(w2, "*", "LSUB"), {"INBOX": set()})
        w2.close()
        w.close()


class Status(ClusterTest):
    def test_status_values(self):
        w = self.cluster.login_raw("stat")
        w.cmd("CREATE S")
        append(w, "S", flags="(\\Seen)")
        append(w, "S")
        sel = select(self, w, "INBOX")
        untagged, tagged = w.cmd("STATUS S (MESSAGES UIDNEXT UNSEEN RECENT UIDVALIDITY SIZE)")
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertEqual(len(untagged), 1, untagged)
        m = re.match(rb"^\* STATUS S \(MESSAGES 2 UIDNEXT 3 UNSEEN 1 RECENT 2 UIDVALIDITY (\d+) SIZE (\d+)\)$",
                     untagged[0])
        self.assertTrue(m, untagged[0])
        self.assertEqual(int(m.group(2)), 2 * len(MSG))
        # SELECT claims \Recent: RECENT drops to 0 for later STATUS.
        select(self, w, "S")
        untagged, _ = w.cmd("STATUS S (RECENT MESSAGES)")
        self.assertEqual(untagged, [b"* STATUS S (RECENT 0 MESSAGES 2)"])
        self.assertRegex(w.cmd("STATUS Nope (MESSAGES)")[1], rb"^a\d+ NO \[NONEXISTENT\] ")
        self.assertEqual(status(w.cmd("STATUS S (BOGUS)")[1]), "BAD")
        self.assertEqual(status(w.cmd("STATUS S")[1]), "BAD")
        self.assertTrue(sel)
        w.close()


class LongNames(ClusterTest):
    def test_name_length_limits(self):
        w = self.cluster.login_raw("del")
        ok = "L" * 400
        self.assertEqual(status(w.cmd("CREATE " + ok)[1]), "OK")
        self.assertEqual(status(w.cmd("SELECT " + ok)[1]), "OK")
        # Beyond what the store's keys can hold: a clean NO, never SERVERBUG.
        for name in ("M" * 600, "N" * 1000):
            _, tagged = w.cmd("CREATE " + name)
            self.assertRegex(tagged, rb"^a\d+ NO \[CANNOT\] ", tagged)
            self.assertRegex(w.cmd("SELECT " + name)[1], rb"^a\d+ NO \[NONEXISTENT\] ")
        self.assertRegex(w.cmd("RENAME %s %s" % (ok, "R" * 700))[1], rb"^a\d+ NO \[CANNOT\] ")
        w.close()


class Children(ClusterTest):
    def test_list_children_attributes(self):
        w = self.cluster.login_raw("kids", fe=1)
        w.cmd("CREATE Fam/Kid")
        w.cmd("CREATE Fam-ily")
        got = names(w)
        self.assertEqual(got["Fam"], {"\\HasChildren"})
        self.assertEqual(got["Fam/Kid"], {"\\HasNoChildren"})
        self.assertEqual(got["Fam-ily"], {"\\HasNoChildren"})
        # LSUB carries no child attributes.
        w.cmd("SUBSCRIBE Fam")
        self.assertEqual(names(w, "Fam", "LSUB"), {"Fam": set()})
        untagged, _ = w.cmd("CAPABILITY")
        self.assertIn(b"CHILDREN", untagged[0].split())
        w.close()


class ListExtended(ClusterTest):
    def test_list_status_and_selection(self):
        w = self.cluster.login_raw("lext")
        w.cmd("CREATE Work/Chat")
        append(w, "Work", flags="(\\Seen)")
        append(w, "Work")
        w.cmd("SUBSCRIBE Work")
        untagged, tagged = w.cmd('LIST "" "Work*" RETURN (STATUS (MESSAGES UNSEEN UIDNEXT))')
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertEqual(untagged, [b'* LIST (\\HasChildren) "/" Work',
                                    b"* STATUS Work (MESSAGES 2 UNSEEN 1 UIDNEXT 3)",
                                    b'* LIST (\\HasNoChildren) "/" Work/Chat',
                                    b"* STATUS Work/Chat (MESSAGES 0 UNSEEN 0 UIDNEXT 1)"])
        untagged, _ = w.cmd('LIST (SUBSCRIBED) "" "*"')
        self.assertEqual(untagged, [b'* LIST (\\HasChildren \\Subscribed) "/" Work'])
        untagged, _ = w.cmd('LIST "" ("INBOX" "Work/%") RETURN (SUBSCRIBED CHILDREN)')
        self.assertEqual(untagged, [b'* LIST (\\HasNoChildren) "/" INBOX',
                                    b'* LIST (\\HasNoChildren) "/" Work/Chat'])
        self.assertEqual(status(w.cmd('LIST (BOGUS) "" "*"')[1]), "BAD")
        self.assertEqual(status(w.cmd('LIST "" "*" RETURN (STATUS (NOPE))')[1]), "BAD")
        w.close()


class SpecialUse(ClusterTest):
    def test_create_special_use_and_list(self):
        w = self.cluster.login_raw("lext", fe=1)
        self.assertEqual(status(w.cmd("CREATE Sent (USE (\\Sent))")[1]), "OK")
        self.assertEqual(status(w.cmd("CREATE Bin (USE (\\trash))")[1]), "OK")
        got = names(w)
        self.assertEqual(got["Sent"], {"\\HasNoChildren", "\\Sent"})
        self.assertEqual(got["Bin"], {"\\HasNoChildren", "\\Trash"})
        untagged, _ = w.cmd('LIST (SPECIAL-USE) "" "*"')
        self.assertEqual(untagged, [b'* LIST (\\HasNoChildren \\Trash) "/" Bin',
                                    b'* LIST (\\HasNoChildren \\Sent) "/" Sent'])
        self.assertRegex(w.cmd("CREATE X (USE (\\Bogus))")[1], rb"^a\d+ NO \[USEATTR\] ")
        self.assertEqual(status(w.cmd("CREATE X (USE)")[1]), "BAD")
        untagged, _ = w.cmd('LIST "" "*" RETURN (SPECIAL-USE)')
        self.assertIn(b'* LIST (\\HasNoChildren \\Sent) "/" Sent', untagged)
        w.close()


class RecursiveMatch(ClusterTest):
    def test_childinfo(self):
        """RFC 5258 3.5: LIST (SUBSCRIBED RECURSIVEMATCH) names a parent the
        pattern matches whose subscribed child the pattern does not."""
        w = self.cluster.login_raw("rmatch")
        for box in ("Par", "Par/Kid", "Sub", "Sub/Kid", "Lone"):
            w.cmd("CREATE %s" % box)
        w.cmd("SUBSCRIBE Par/Kid")
        w.cmd("SUBSCRIBE Sub")
        w.cmd("SUBSCRIBE Sub/Kid")
        untagged, tagged = w.cmd('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
        self.assertEqual(status(tagged), "OK")
        self.assertIn(b'* LIST (\\HasChildren) "/" Par (CHILDINFO ("SUBSCRIBED"))', untagged)
        self.assertIn(b'* LIST (\\HasChildren \\Subscribed) "/" Sub (CHILDINFO ("SUBSCRIBED"))', untagged)
        self.assertFalse(any(b" Lone" in ln for ln in untagged), untagged)
        # Without RECURSIVEMATCH only subscribed names come back.
        untagged, _ = w.cmd('LIST (SUBSCRIBED) "" "%"')
        self.assertFalse(any(b"CHILDINFO" in ln or b" Par" in ln for ln in untagged), untagged)
        _, tagged = w.cmd('LIST (RECURSIVEMATCH) "" "%"')
        self.assertEqual(status(tagged), "BAD")
        w.close()
