"""Interop: Perl's Mail::IMAPClient (Debian libmail-imapclient-perl), a client
library we did not write, does a library user's normal work against a real
cluster over implicit TLS: login, create/list/subscribe folders, APPEND with
flags and dates (APPENDUID), SELECT, SEARCH, FETCH of headers/bodies/
structure/envelope, STORE, COPY (COPYUID), move, EXPUNGE, RENAME, DELETE,
STATUS. The script (clients/imapclient.pl) prints one line per step; the test
compares the whole output exactly, then checks the server's state with our
own raw client. Skipped when the Perl modules are not installed."""

import os
import subprocess
import unittest

import cluster
from cluster import ClusterTest

cluster.module_fixtures(globals(), shards=2, frontends=2)

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "clients", "imapclient.pl")
PW = "perl-pw"


def have_perl_modules():
    try:
        r = subprocess.run(["perl", "-MMail::IMAPClient", "-MIO::Socket::SSL", "-e", "1"],
                           capture_output=True, timeout=30)
        return r.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


HAVE = have_perl_modules()


def populate(c):
    c.add_user("perly", PW)


EXPECTED = r"""authenticated: yes
has UIDPLUS: yes
has MOVE: yes
separator: /
folders: Archive,Default,INBOX,Projects,Projects/2024
exists Projects/2024: yes
exists Nowhere: no
subscribed: Projects
appended uids: 1,2,3
message_count: 3
uidnext: 4
search all: 1,2,3
search flagged: 2
search subject: 3
search body: 1
search or: 2,3
unseen: 1,2,3
subject 2: perl message 2
size 1: 197
date 3: 04-Mar-2024 10:03:00 +0000
headers 1: perl@example.com <perl1@example.com>
body 3: body number 3 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
message 1 bytes: 197
bodystructure 1: text/plain
envelope 2 subject: perl message 2
flags 1 after body fetch: \Recent \Seen
flags 1: \Answered \Recent \Seen
flags 2: \Flagged \Recent \Seen
flags 3: $Label1 \Recent \Seen
flags 2 unset: \Recent \Seen
copy uid: 1
move uid: 2
after move: 1,2,3
after expunge: 1
archive count: 2
archive subjects: perl message 1|perl message 2
archive flags: \Answered \Recent \Seen|\Recent \Seen
folders end: Archive,Default,INBOX,Projects
status Archive: * STATUS Archive (MESSAGES 2 UIDNEXT 3 UNSEEN 0)
select missing: refused
done: yes
"""


@unittest.skipUnless(HAVE, "perl Mail::IMAPClient / IO::Socket::SSL not installed (deploy/deps.sh installs them)")
class MailIMAPClient(ClusterTest):
    maxDiff = None

    def test_library_workflow(self):
        c = self.cluster
        r = subprocess.run(["perl", SCRIPT, "localhost", str(c.port(1, tls=True)), c.cert, "perly", PW],
                           capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        out = r.stdout.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, "imapclient.pl failed:\n%s\n%s" % (out, r.stderr.decode()))
        self.assertEqual(out.splitlines(), EXPECTED.splitlines())

        # What the library left behind, seen by our own raw client on the other front-end.
        w = c.login_raw("perly", fe=0)
        try:
            _, t = w.cmd("EXAMINE Projects")
            self.assertTrue(t.startswith(b"a") and b" OK [READ-ONLY]" in t, t)
            u, t = w.cmd("UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            self.assertEqual(u, [b"* 1 FETCH (UID 1 FLAGS (\\Seen \\Answered) "
                                 b"BODY[HEADER.FIELDS (SUBJECT)] {27}\r\nSubject: perl message 1\r\n\r\n)"])
            u, t = w.cmd("LIST \"\" \"Projects*\"")
            self.assertEqual(u, [b"* LIST (\\HasNoChildren) \"/\" Projects"])
        finally:
            w.close()


if __name__ == "__main__":
    unittest.main()
