"""Mailboxes: CREATE, LIST (basic), SELECT, EXAMINE (RFC 3501 6.3.1, 6.3.2, 6.3.3, 6.3.8)."""

import re

import cluster
from cluster import ClusterTest
from checks import SYSTEM_FLAGS, check_select, list_names
from imapwire import status

cluster.module_fixtures(globals())

PW = "mbox-pw"


def populate(c):
    for name in ("mia", "lister", "selma", "newbie"):
        c.add_user(name, PW)


class Create(ClusterTest):
    def test_create_and_list(self):
        w = self.cluster.login_raw("mia")
        for name in ("Work", "Work/Projects", "Default/tel:+15551234567", "Chat@group"):
            untagged, tagged = w.cmd('CREATE "%s"' % name)
            self.assertRegex(tagged, rb"^a\d+ OK [\x20-\x7e]+$", name)
        untagged, tagged = w.cmd('LIST "" "*"')
        self.assertEqual(status(tagged), "OK")
        names = {n for _, _, n in list_names(untagged)}
        self.assertEqual(names, {"INBOX", "Default", "Work", "Work/Projects", "Default/tel:+15551234567",
                                 "Chat@group"})
        for _, delim, _ in list_names(untagged):
            self.assertEqual(delim, "/")
        w.close()

    def test_create_existing_is_no(self):
        w = self.cluster.login_raw("mia", fe=1)
        w.cmd("CREATE Dup")
        _, tagged = w.cmd("CREATE Dup")
        self.assertRegex(tagged, rb"^a\d+ NO [\x20-\x7e]+$")
        w.close()

    def test_create_inbox_is_no(self):
        w = self.cluster.login_raw("mia")
        _, tagged = w.cmd("CREATE INBOX")
        self.assertEqual(status(tagged), "NO", tagged)
        _, tagged = w.cmd("CREATE inbox")
        self.assertEqual(status(tagged), "NO", "INBOX is case-insensitive: %r" % tagged)
        w.close()

    def test_create_without_name_is_bad(self):
        w = self.cluster.login_raw("mia")
        _, tagged = w.cmd("CREATE")
        self.assertEqual(status(tagged), "BAD", tagged)
        w.close()

    def test_create_visible_on_other_frontend(self):
        w = self.cluster.login_raw("mia", fe=0)
        _, tagged = w.cmd("CREATE Shared-Between-FEs")
        self.assertEqual(status(tagged), "OK", tagged)
        w.close()
        w = self.cluster.login_raw("mia", fe=1)
        untagged, _ = w.cmd('LIST "" "Shared-Between-FEs"')
        self.assertEqual([n for _, _, n in list_names(untagged)], ["Shared-Between-FEs"])
        w.close()

    def test_new_user_has_default_folders(self):
        w = self.cluster.login_raw("newbie")
        untagged, tagged = w.cmd('LIST "" "*"')
        self.assertEqual(status(tagged), "OK")
        self.assertEqual(sorted(n for _, _, n in list_names(untagged)), ["Default", "INBOX"])
        w.close()


class List(ClusterTest):
    @classmethod
    def setUpClass(cls):
        w = cls.cluster.login_raw("lister")
        for name in ("A", "A/B", "A/B/C", "Zeta"):
            _, tagged = w.cmd("CREATE %s" % name)
            assert status(tagged) == "OK", tagged
        w.close()

    def _list(self, ref, pattern):
        w = self.cluster.login_raw("lister")
        untagged, tagged = w.cmd('LIST "%s" "%s"' % (ref, pattern))
        w.close()
        self.assertRegex(tagged, rb"^a\d+ OK [\x20-\x7e]+$")
        return list_names(untagged)

    def test_list_star(self):
        names = sorted(n for _, _, n in self._list("", "*"))
        self.assertEqual(names, ["A", "A/B", "A/B/C", "Default", "INBOX", "Zeta"])

    def test_list_percent_top_level(self):
        names = sorted(n for _, _, n in self._list("", "%"))
        self.assertEqual(names, ["A", "Default", "INBOX", "Zeta"])

    def test_list_percent_one_level_down(self):
        names = sorted(n for _, _, n in self._list("", "A/%"))
        self.assertEqual(names, ["A/B"])

    def test_list_exact_and_inbox_case(self):
        self.assertEqual([n for _, _, n in self._list("", "Zeta")], ["Zeta"])
        self.assertEqual([n for _, _, n in self._list("", "inbox")], ["INBOX"])

    def test_list_no_match(self):
        self.assertEqual(self._list("", "NoSuch*"), [])

    def test_list_empty_pattern_gives_delimiter(self):
        # RFC 3501 6.3.8: an empty mailbox name returns the hierarchy delimiter.
        entries = self._list("", "")
        self.assertEqual(len(entries), 1, entries)
        attrs, delim, name = entries[0]
        self.assertEqual(delim, "/")
        self.assertEqual(name, "")
        self.assertIn("\\Noselect", attrs)

    def test_list_attributes_of_real_mailboxes(self):
        for attrs, _, name in self._list("", "*"):
            self.assertNotIn("\\Noselect", attrs, name)
            self.assertNotIn("\\NonExistent", attrs, name)

    def test_list_is_per_user(self):
        names = {n for _, _, n in self._list("", "*")}
        self.assertNotIn("Work", names, "another user's folders leaked")


class Select(ClusterTest):
    def test_select_inbox_exact(self):
        w = self.cluster.login_raw("selma")
        untagged, tagged = w.cmd("SELECT INBOX")
        got = check_select(self, untagged, tagged, exists=0)
        self.assertEqual(set(got["FLAGS"].split()), SYSTEM_FLAGS)
        self.assertEqual(got["RECENT"], "0")
        extra = [r for r in untagged if not re.match(
            rb"^\* (FLAGS |\d+ EXISTS$|\d+ RECENT$|OK \[(UIDVALIDITY|UIDNEXT|PERMANENTFLAGS) )", r)]
        for r in extra:
            self.assertRegex(r, rb"^\* OK \[[A-Z]", "unexpected untagged line in SELECT: %r" % r)
            self.assertNotRegex(r, rb"^\* OK \[UNSEEN", "UNSEEN in an empty mailbox")
        w.close()

    def test_select_is_case_insensitive_for_inbox(self):
        w = self.cluster.login_raw("selma")
        untagged, tagged = w.cmd("SELECT inbox")
        check_select(self, untagged, tagged)
        w.close()

    def test_examine_read_only(self):
        w = self.cluster.login_raw("selma", fe=1)
        untagged, tagged = w.cmd("EXAMINE Default")
        check_select(self, untagged, tagged, readonly=True, exists=0)
        w.close()

    def test_examine_reports_recent_without_claiming(self):
        # EXAMINE shows the \Recent messages (RECENT, FETCH FLAGS) and leaves
        # them for the next SELECT, as Dovecot does (found by
        # tests/interop/test_dovecot_diff.py, expunge.imap).
        w = self.cluster.login_raw("selma", fe=0)
        w.cmd("CREATE Rec")
        for i in range(2):
            _, t = w.cmd_literal("APPEND Rec", b"Subject: r%d\r\n\r\nx\r\n" % i)
            self.assertIn(b" OK [APPENDUID", t)
        untagged, tagged = w.cmd("EXAMINE Rec")
        self.assertIn(b"* 2 RECENT", untagged)
        untagged, _ = w.cmd("FETCH 1 FLAGS")
        self.assertEqual(untagged, [b"* 1 FETCH (FLAGS (\\Recent))"])
        untagged, _ = w.cmd("STATUS Rec (RECENT)")
        self.assertEqual(untagged, [b"* STATUS Rec (RECENT 2)"])
        untagged, _ = w.cmd("SELECT Rec")
        self.assertIn(b"* 2 RECENT", untagged)
        untagged, _ = w.cmd("EXAMINE Rec")
        self.assertIn(b"* 0 RECENT", untagged)
        w.close()

    def test_uidvalidity_stable_across_frontends(self):
        vals = []
        for fe in (0, 1):
            w = self.cluster.login_raw("selma", fe=fe)
            untagged, tagged = w.cmd("SELECT Default")
            vals.append(check_select(self, untagged, tagged))
            w.close()
        self.assertEqual(vals[0]["UIDVALIDITY"], vals[1]["UIDVALIDITY"])
        self.assertEqual(vals[0]["UIDNEXT"], vals[1]["UIDNEXT"])

    def test_select_new_folder(self):
        w = self.cluster.login_raw("selma")
        w.cmd("CREATE Fresh")
        untagged, tagged = w.cmd("SELECT Fresh")
        got = check_select(self, untagged, tagged, exists=0)
        self.assertGreaterEqual(int(got["UIDNEXT"]), 1)
        w.close()

    def test_select_nonexistent_is_no_and_deselects(self):
        w = self.cluster.login_raw("selma")
        untagged, tagged = w.cmd("SELECT INBOX")
        self.assertEqual(status(tagged), "OK")
        untagged, tagged = w.cmd("SELECT NoSuchFolder")
        self.assertRegex(tagged, rb"^a\d+ NO [\x20-\x7e]+$")
        # RFC 3501 6.3.1: a failed SELECT leaves no mailbox selected.
        _, tagged = w.cmd("FETCH 1 FLAGS")
        self.assertEqual(status(tagged), "BAD", tagged)
        w.close()

    def test_reselect_switches_mailbox(self):
        w = self.cluster.login_raw("selma")
        untagged, tagged = w.cmd("SELECT INBOX")
        check_select(self, untagged, tagged)
        untagged, tagged = w.cmd("EXAMINE INBOX")
        check_select(self, untagged, tagged, readonly=True)
        untagged, tagged = w.cmd("SELECT Default")
        check_select(self, untagged, tagged)
        w.close()

    def test_select_without_name_is_bad(self):
        w = self.cluster.login_raw("selma")
        _, tagged = w.cmd("SELECT")
        self.assertEqual(status(tagged), "BAD", tagged)
        w.close()
